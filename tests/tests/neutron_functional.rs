//! OpenStack Neutron's own functional keepalived tests
//! (`neutron/tests/functional/agent/linux/test_keepalived.py` from the neutron==29.0.0 wheel,
//! which ships `neutron/tests/`), run by `tests/neutron/functional_tests.py` with the venv
//! `cargo xtask setup` makes, once with Debian's keepalived and once with our agent as
//! `keepalived` (a `keepalived` symlink first on the PATH Neutron's `KeepalivedManager` passes
//! to `ip netns exec <ns> env PROCESS_TAG=... keepalived -P -f ... -p ... -r ... -D`).
//!
//! The tests build a `KeepalivedManager` for a router with two instances, spawn it and compare
//! the configuration on disk, kill the process with SIGTERM and with SIGKILL and wait for
//! Neutron's `ProcessMonitor` to respawn it; two more are skipped by Neutron itself
//! (bug 1921154). Every one of them configures `auth_type AH`.
//!
//! Checked: keepalived, run here, gives the outcomes recorded in
//! `tests/fixtures/neutron/functional_keepalived.json` (so a broken environment cannot make
//! both sides agree on nothing), and ours gives the same passes and skips with Neutron's `auth_type AH`, in both process
//! models (VRRPv2 IPsec AH as keepalived sends it, see `packet::ah`). The
//! same tests with `auth_type PASS` (a variant: only the authentication line differs) pass and
//! skip with ours exactly as keepalived's recorded run of the variant did, in both process
//! models. About 12 s per run of the tests.
//!
//! Our agent runs the default node process model: the `keepalived` processes Neutron starts
//! are clients of one node agent, started on demand with the settings file the test names in
//! `VRRP_AGENT_SETTINGS` (its own socket, log and pin folder); the environment reaches the
//! `keepalived` processes through Neutron's `ip netns exec ... env ...` unchanged.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use nix::{sys::signal::Signal, unistd::Pid};
use vrrp_tests::{agent, neutron_rules::neutron_python, require_root, tempdir::TempDir};

/// The reference keepalived (Debian's, as `cargo xtask setup` installs it).
const KEEPALIVED: &str = "/usr/sbin/keepalived";
const FIXTURE: &str = include_str!("../fixtures/neutron/functional_keepalived.json");
const AS_WRITTEN: &str = "as Neutron wrote them";
const PASS_VARIANT: &str = "auth_type PASS";
const MODULE: &str =
    "neutron.tests.functional.agent.linux.test_keepalived.KeepalivedManagerTestCase";

/// One test's outcome: `pass`, `fail`, `error`, or `skip: <reason>`, and the traceback of a
/// failure.
#[derive(Debug, Clone)]
struct Outcome {
    outcome: String,
    detail: String,
}

impl Outcome {
    /// As the fixture writes it.
    fn summary(&self) -> String {
        if self.outcome == "skip" {
            format!("skip: {}", self.detail)
        } else {
            self.outcome.clone()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Keepalived {
    /// Debian's keepalived.
    Reference,
    /// Our agent, in the node process model (the default).
    OursNode,
    /// Our agent, one whole agent per `keepalived` process.
    OursStandalone,
}

/// The node agent a run of ours started (killed on drop) and its files.
struct Run {
    dir: TempDir,
    kind: Keepalived,
}

impl Run {
    fn new(kind: Keepalived) -> Self {
        Self {
            dir: TempDir::new("neutron-functional"),
            kind,
        }
    }

    fn settings_path(&self) -> PathBuf {
        self.dir.path("vrrp-agent-settings.toml")
    }

    fn node_socket(&self) -> PathBuf {
        self.dir.path("node.ctl")
    }

    /// The settings file the `keepalived` processes of this run read: a node agent (or
    /// standalone processes) of their own, pinning in this run's bpf folder.
    fn write_settings(&self) {
        let model = match self.kind {
            Keepalived::OursStandalone => "standalone",
            _ => "node",
        };
        std::fs::write(
            self.settings_path(),
            format!(
                "process_model = \"{model}\"\nnode_socket = \"{}\"\nnode_log = \"{}\"\n\
                 pin_dir = \"{}\"\n",
                self.node_socket().display(),
                self.dir.path("node.log").display(),
                self.dir.bpf_dir().display()
            ),
        )
        .expect("write settings");
    }

    /// Runs Neutron's tests (the auth_type variant if given); returns the outcome of each test
    /// by its short name.
    fn run(&self, auth_type: Option<&str>) -> BTreeMap<String, Outcome> {
        let program = match self.kind {
            Keepalived::Reference => PathBuf::from(KEEPALIVED),
            _ => agent::binary(),
        };
        let out_file = self.dir.path("results.json");
        let mut cmd = Command::new(neutron_python());
        cmd.arg(script())
            .arg("--keepalived")
            .arg(&program)
            .arg("--out")
            .arg(&out_file)
            .arg("--work")
            .arg(self.dir.path("work"))
            .stdin(Stdio::null());
        if let Some(a) = auth_type {
            cmd.args(["--auth-type", a]);
        }
        if self.kind != Keepalived::Reference {
            self.write_settings();
            cmd.env("VRRP_AGENT_SETTINGS", self.settings_path());
        }
        let out = cmd.output().expect("run tests/neutron/functional_tests.py");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "functional_tests.py ({:?}) failed ({}):\n{stderr}",
            self.kind,
            out.status
        );
        let text = std::fs::read_to_string(&out_file).expect("results.json");
        let all: serde_json::Value = serde_json::from_str(&text).expect("results JSON");
        let meta = &all["_meta"];
        eprintln!(
            "{:?}{}: adapted: {}",
            self.kind,
            auth_type
                .map(|a| format!(" (auth_type {a})"))
                .unwrap_or_default(),
            meta["adapted"]
        );
        all.as_object()
            .expect("an object")
            .iter()
            .filter(|(k, _)| k.as_str() != "_meta")
            .map(|(k, v)| {
                let short = k
                    .strip_prefix(MODULE)
                    .and_then(|s| s.strip_prefix('.'))
                    .unwrap_or_else(|| panic!("a test outside {MODULE}: {k}"));
                (
                    short.to_string(),
                    Outcome {
                        outcome: v["outcome"].as_str().unwrap_or_default().to_string(),
                        detail: v["detail"].as_str().unwrap_or_default().to_string(),
                    },
                )
            })
            .collect()
    }

    fn node_log(&self) -> String {
        std::fs::read_to_string(self.dir.path("node.log")).unwrap_or_default()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // The node agent outlives the tests' `keepalived` processes (it is node-wide).
        let pid = std::fs::read_to_string(self.node_socket().with_extension("pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            for _ in 0..100 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        if std::thread::panicking() && self.kind != Keepalived::Reference {
            eprintln!("---- node agent log ----\n{}", self.node_log());
        }
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("neutron/functional_tests.py")
}

/// The recorded outcomes of keepalived's run `name` in the fixture.
fn fixture(name: &str) -> BTreeMap<String, String> {
    let all: serde_json::Value = serde_json::from_str(FIXTURE).expect("fixture JSON");
    all["runs"][name]
        .as_object()
        .unwrap_or_else(|| panic!("fixture has no run {name:?}"))
        .iter()
        .map(|(k, v)| {
            (
                k.strip_prefix(MODULE)
                    .and_then(|s| s.strip_prefix('.'))
                    .expect("a test of the module")
                    .to_string(),
                v.as_str().expect("a string").to_string(),
            )
        })
        .collect()
}

fn summaries(results: &BTreeMap<String, Outcome>) -> BTreeMap<String, String> {
    results
        .iter()
        .map(|(k, v)| (k.clone(), v.summary()))
        .collect()
}

/// keepalived's outcomes, checked against the fixture.
fn reference(auth_type: Option<&str>, name: &str) -> BTreeMap<String, String> {
    let run = Run::new(Keepalived::Reference);
    let got = summaries(&run.run(auth_type));
    let want = fixture(name);
    assert_eq!(
        got, want,
        "keepalived's outcomes differ from the recorded ones (fixture run {name:?}): the \
         environment changed, or keepalived did"
    );
    got
}

fn counts(results: &BTreeMap<String, String>) -> String {
    let mut c = BTreeMap::<&str, u32>::new();
    for v in results.values() {
        *c.entry(v.split(':').next().unwrap_or_default())
            .or_default() += 1;
    }
    format!("{c:?}")
}

#[test]
fn neutrons_keepalived_tests_pass_and_skip_as_with_keepalived() {
    require_root();
    let reference = reference(None, AS_WRITTEN);
    for kind in [Keepalived::OursNode, Keepalived::OursStandalone] {
        let run = Run::new(kind);
        let ours = run.run(None);
        let summary = summaries(&ours);
        eprintln!(
            "keepalived: {} / ours ({kind:?}): {}",
            counts(&reference),
            counts(&summary)
        );
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            reference.keys().collect::<Vec<_>>(),
            "the same tests ran"
        );
        for (name, want) in &reference {
            let got = &ours[name];
            assert_eq!(
                &got.summary(),
                want,
                "{name}: ours ({kind:?}) as keepalived, with Neutron's auth_type AH\n{}",
                got.detail
            );
        }
    }
}

#[test]
fn with_auth_type_pass_neutrons_keepalived_tests_pass_and_skip_as_with_keepalived() {
    require_root();
    // keepalived's outcomes for the variant as recorded (the live comparison with keepalived
    // is the test above; this one only changes the authentication line).
    let reference = fixture(PASS_VARIANT);
    for kind in [Keepalived::OursNode, Keepalived::OursStandalone] {
        let run = Run::new(kind);
        let ours = run.run(Some("PASS"));
        let summary = summaries(&ours);
        eprintln!(
            "auth_type PASS: keepalived {} / ours ({kind:?}) {}",
            counts(&reference),
            counts(&summary)
        );
        for (name, o) in &ours {
            if o.outcome != "pass" && o.outcome != "skip" {
                eprintln!("---- {name} ({kind:?}): {} ----\n{}", o.outcome, o.detail);
            }
        }
        assert_eq!(
            summary, reference,
            "Neutron's keepalived tests (auth_type PASS): ours ({kind:?}) as keepalived"
        );
    }
}
