//! The agent's command line next to running agents, in namespaces this test creates: a second
//! `run` on a running agent's status socket is refused with the running agent's pid and
//! leaves it alone, and `status` into a closed pipe ends quietly; an explicit `--log-level` wins over RUST_LOG; `dataplane-stats` reads a
//! running agent's counters from its pinned maps (and says so clearly when no agent runs).
//! Needs root.

use std::{process::Command, time::Duration};

use nix::sys::signal::Signal;
use serde_json::Value;
use vrrp_tests::{
    agent::{self, Agent},
    netns::NetNs,
    require_root,
    tempdir::TempDir,
    topo::Segment,
};

const WAIT: Duration = Duration::from_secs(15);

/// One router namespace on an HA segment.
struct Bed {
    _ha: Segment,
    routers: Vec<NetNs>,
    dir: TempDir,
}

impl Bed {
    fn new(routers: usize) -> Self {
        let ha = Segment::new();
        let routers = (0..routers)
            .map(|i| {
                let r = NetNs::new();
                ha.attach_ha_node(&r, "ha", i + 1);
                r
            })
            .collect();
        Self {
            _ha: ha,
            routers,
            dir: TempDir::new("cli"),
        }
    }

    fn config(&self, i: usize, priority: u8) -> String {
        format!(
            r#"
[[instance]]
name = "VR_1"
netns = "{ns}"
interface = "ha"
vrid = 1
priority = {priority}
advert_interval = 0.1
preempt = false
virtual_addresses = ["169.254.0.1/24"]
"#,
            ns = self.routers[i].name()
        )
    }
}

/// Log lines at a level below WARN (tracing's format without colours: `<time>  INFO ...`).
fn chatty_lines(logs: &str) -> Vec<&str> {
    logs.lines()
        .filter(|l| {
            [" INFO ", " DEBUG ", " TRACE "]
                .iter()
                .any(|lvl| l.contains(lvl))
        })
        .collect()
}

#[test]
fn a_second_run_on_a_running_agents_socket_is_refused_and_the_first_keeps_answering() {
    require_root();
    let bed = Bed::new(1);
    let first = Agent::run("first", &bed.dir, &bed.config(0, 100));
    first.wait_state("VR_1", "MASTER", WAIT);
    let pid = first.status().expect("status").agent.pid;

    // The same socket (and so the same default pin folder: give it the first one's).
    let config = bed.dir.path("second.toml");
    std::fs::write(&config, bed.config(0, 100)).unwrap();
    let pins = Agent::pin_dir(&bed.dir, "first");
    let state = bed.dir.path("second-state");
    let mut second = Agent::spawn(
        "second",
        &[
            "run",
            "-c",
            config.to_str().unwrap(),
            "--status-socket",
            first.socket().to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--bpf-pin-dir",
            pins.to_str().unwrap(),
        ],
    );
    let status = second.wait_exit(WAIT);
    let logs = second.logs();
    assert!(!status.success(), "the second agent must not run:\n{logs}");
    assert!(
        logs.contains(&format!(
            "another agent (pid {pid}) already runs on {}",
            first.socket().display()
        )),
        "the error names the running agent's pid:\n{logs}"
    );

    // The first one still answers on its socket, as itself, and is still master.
    let out = Command::new(agent::binary())
        .args(["status", "--json", "--socket"])
        .arg(first.socket())
        .output()
        .expect("vrrp-agent status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(reports[0]["agent"]["pid"], pid);
    assert_eq!(reports[0]["instances"][0]["state"], "MASTER");
    assert_eq!(first.instance("VR_1").expect("status").state, "MASTER");

    // `status --json | head`: a reader that is gone ends the output quietly (the first
    // write meets a closed pipe here: its read end is closed before the command starts).
    for args in [&["status", "--json"][..], &["status"][..]] {
        let (read, write) = nix::unistd::pipe().expect("pipe");
        drop(read);
        let out = Command::new(agent::binary())
            .args(args)
            .arg("--socket")
            .arg(first.socket())
            .stdout(std::process::Stdio::from(write))
            .output()
            .expect("vrrp-agent status");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{args:?}: quiet, got: {stderr}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(Signal::SIGPIPE as i32),
            "{args:?}: ended by the broken pipe as `head`'s writers are: {:?}",
            out.status
        );
    }
}

#[test]
fn an_explicit_log_level_wins_over_rust_log() {
    require_root();
    let bed = Bed::new(1);
    let run = |label: &str, extra: &[&str]| {
        let mut agent = Agent::run_with(
            label,
            &bed.dir,
            &bed.config(0, 100),
            extra,
            &[("RUST_LOG", "trace")],
        );
        agent.wait_state("VR_1", "MASTER", WAIT);
        agent.signal(Signal::SIGTERM);
        assert!(agent.wait_exit(WAIT).success());
        agent.logs()
    };
    // RUST_LOG alone applies (so the check below can see chatty lines) ...
    let logs = run("env", &[]);
    assert!(!chatty_lines(&logs).is_empty(), "RUST_LOG=trace:\n{logs}");
    // ... but an explicit --log-level wins over it.
    let logs = run("flag", &["--log-level", "warn"]);
    let chatty = chatty_lines(&logs);
    assert!(
        chatty.is_empty(),
        "--log-level warn with RUST_LOG=trace logged {} lines below WARN, first: {:?}",
        chatty.len(),
        chatty.first()
    );
}

fn stat(v: &Value, name: &str) -> u64 {
    v["counters"]["stats"][name].as_u64().unwrap_or(0)
}

fn vrid1_adverts(v: &Value) -> u64 {
    v["counters"]["adverts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| c["vrid"] == 1)
                .filter_map(|c| c["count"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

/// One snapshot of `dataplane-stats args... --json --count 1`.
fn one_snapshot(label: &str, args: &[&str]) -> Value {
    let mut all = vec!["dataplane-stats", "--json", "--count", "1"];
    all.extend_from_slice(args);
    let mut stats = Agent::spawn(label, &all);
    let snap = stats.wait_json(WAIT, "a snapshot", |v| v["final"] == false);
    assert!(stats.wait_exit(WAIT).success(), "{}", stats.logs());
    snap
}

/// `dataplane-stats args...`, which must fail with `message`.
fn fails_with(label: &str, args: &[&str], message: &str) {
    let mut all = vec!["dataplane-stats"];
    all.extend_from_slice(args);
    let mut stats = Agent::spawn(label, &all);
    let status = stats.wait_exit(WAIT);
    let logs = stats.logs();
    assert!(!status.success(), "{args:?} succeeded:\n{logs}");
    assert!(
        logs.contains(message),
        "{args:?}: expected `{message}` in:\n{logs}"
    );
    assert!(!logs.contains("panicked"), "{logs}");
}

#[test]
fn dataplane_stats_reads_a_running_agents_counters_from_its_pins() {
    require_root();
    let bed = Bed::new(2);
    let master = Agent::run("r1", &bed.dir, &bed.config(0, 100));
    master.wait_state("VR_1", "MASTER", WAIT);
    let backup = Agent::run("r2", &bed.dir, &bed.config(1, 90));
    backup.wait_state("VR_1", "BACKUP", WAIT);
    let pid = backup.status().expect("status").agent.pid;
    // The backup's XDP program has passed some of the master's adverts by now.
    std::thread::sleep(Duration::from_millis(500));

    // Through its status socket.
    let snap = one_snapshot(
        "stats-socket",
        &["--status-socket", backup.socket().to_str().unwrap()],
    );
    assert_eq!(snap["agent"]["pid"], pid, "{snap}");
    let maps = snap["maps"].as_str().unwrap_or_default();
    assert!(
        maps.starts_with(Agent::pin_dir(&bed.dir, "r2").to_str().unwrap()),
        "{snap}"
    );
    assert!(stat(&snap, "adverts") > 0, "{snap}");
    assert!(vrid1_adverts(&snap) > 0, "{snap}");

    // Through its pin folder: the same counters, still counting.
    let pins = Agent::pin_dir(&bed.dir, "r2");
    let later = one_snapshot("stats-pins", &["--bpf-pin-dir", pins.to_str().unwrap()]);
    assert!(vrid1_adverts(&later) >= vrid1_adverts(&snap), "{later}");

    // The agent's program and interface were left alone.
    let report = backup.status().expect("the agent still answers");
    assert!(report.agent.dataplane.starts_with("xdp"), "{report:?}");
    assert_eq!(report.instances[0].state, "BACKUP");
    assert!(
        bed.routers[1]
            .ip(&["-d", "link", "show", "ha"])
            .contains("prog/xdp"),
        "the agent's XDP program is still attached"
    );

    // Attaching a program of its own there cannot work; the error says what to do.
    fails_with(
        "stats-attach",
        &["-i", "ha", "--netns", bed.routers[1].name()],
        "leave out -i",
    );
    // No agent: clear errors.
    let none = bed.dir.path("none.sock");
    fails_with(
        "stats-none",
        &["--status-socket", none.to_str().unwrap()],
        "no running agent found",
    );
    let empty = bed.dir.path("no-pins");
    fails_with(
        "stats-no-pins",
        &["--bpf-pin-dir", empty.to_str().unwrap()],
        "no XDP maps at",
    );
}
