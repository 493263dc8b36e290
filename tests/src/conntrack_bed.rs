//! Two routers of the shared test bed ([`crate::testbed`], Neutron's rules with
//! `--random-fully`) run by our agent, with or without `conntrack_sync`, and a long-lived TCP
//! connection from the client's address without a floating IP (10.0.10.6, so through the
//! router's default SNAT to 203.0.113.10) to the server, across a failover: `kill -9` of the
//! master's agent or SIGTERM. [`Pair::round`] runs one failover and restarts the agent it
//! stopped (it comes back as backup: nopreempt); a [`Wrapper`] puts a `conntrackd` of its own
//! first on the agents' PATH, which records every control command the agents run.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use nix::sys::signal::Signal;
use vrrp_agent::api::model::ConntrackdReport;

use crate::{
    agent::Agent,
    tempdir::TempDir,
    testbed::{CLIENT_IP_NO_FIP, Options, RouterConfig, SERVER_IP, Testbed},
    topo::wait_for,
    traffic::{StreamReport, TcpStreamer, tcp_echo_server},
};

/// The bed's instance.
pub const VR: &str = "router-1";
pub const WAIT: Duration = Duration::from_secs(20);
/// How long an echo may take: long enough for TCP's retransmissions across a takeover.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Echoes after the failover that count as "the connection goes on".
const MORE: u64 = 100;

/// How the master goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failover {
    /// `kill -9` of its agent (its XDP lease fences it).
    Kill,
    /// SIGTERM: it resigns (priority 0) and releases.
    Term,
}

/// What one failover did to the connection.
#[derive(Debug)]
pub struct Round {
    pub how: Failover,
    /// From router index to router index.
    pub from: usize,
    pub to: usize,
    pub echoed_before: u64,
    pub report: StreamReport,
}

impl Round {
    /// The connection went on: no error, and echoes after the failover.
    pub fn survived(&self) -> bool {
        self.report.error.is_none() && self.report.echoed >= self.echoed_before + MORE
    }
}

/// A `conntrackd` in front of the real one that appends `<namespace> <option>` for every
/// control command to its log; for the commit (`-c`), whether the router's external address
/// was on its interface when the commit started and after it ended (`before=N after=N`, N
/// counting the address), after `pause` more with the commit still unanswered, so a takeover
/// that did not wait for it would show. With `hang`, the commit never answers.
pub struct Wrapper {
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Wrapper {
    pub fn new(dir: &TempDir, pause: &str, hang: bool) -> Self {
        let bin = dir.path("wrapper-bin");
        std::fs::create_dir_all(&bin).expect("wrapper folder");
        let log = dir.path("conntrackd-calls.log");
        let has = format!(
            "$(ip -4 -o addr show dev {} | grep -c ' {}/')",
            crate::testbed::QG_IF,
            crate::testbed::ROUTER_EXTERNAL
        );
        let commit = if hang {
            "echo \"$ns -c started\" >> \"$log\"\n    exec sleep 5".to_string()
        } else {
            format!(
                "before={has}\n    /usr/sbin/conntrackd \"$@\"\n    rc=$?\n    sleep {pause}\n    \
                 after={has}\n    echo \"$ns -c before=$before after=$after rc=$rc\" >> \"$log\"\n    \
                 exit $rc"
            )
        };
        let script = format!(
            "#!/bin/sh\nlog='{log}'\nns=$(ip netns identify)\nlast=\"\"\nfor a in \"$@\"; do \
             last=\"$a\"; done\ncase \"$last\" in\n  -c)\n    {commit}\n    ;;\n  \
             -f|-R|-B|-t|-n)\n    echo \"$ns $last\" >> \"$log\"\n    exec /usr/sbin/conntrackd \
             \"$@\"\n    ;;\nesac\nexec /usr/sbin/conntrackd \"$@\"\n",
            log = log.display()
        );
        let path = bin.join("conntrackd");
        std::fs::write(&path, script).expect("wrapper");
        let mut perms = std::fs::metadata(&path).expect("wrapper").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).expect("chmod wrapper");
        Self { dir: bin, log }
    }

    /// The PATH for an agent that should find it first.
    pub fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.dir.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// The commands it saw, `(namespace, rest of the line)`.
    pub fn calls(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(ns, rest)| (ns.to_string(), rest.to_string()))
            .collect()
    }
}

/// Two routers run by our agent.
pub struct Pair {
    /// Dropped first: the agents (and their conntrackd) before the namespaces.
    pub agents: [Option<Agent>; 2],
    pub sync: bool,
    env: Vec<(String, String)>,
    pub bed: Testbed,
    pub dir: TempDir,
}

impl Pair {
    /// r1 (priority 100) master, r2 (90) backup, adverts every 100 ms, nopreempt; with
    /// `sync`, `conntrack_sync = true` in the instance. `env` goes to the agents.
    pub fn up(sync: bool, env: &[(&str, &str)]) -> Self {
        let bed = Testbed::up(Options::for_test(2));
        let dir = TempDir::new("ct");
        let mut pair = Self {
            agents: [None, None],
            sync,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            bed,
            dir,
        };
        pair.start(0);
        pair.agent(0).wait_state(VR, "MASTER", WAIT);
        pair.start(1);
        pair.agent(1).wait_state(VR, "BACKUP", WAIT);
        pair
    }

    fn label(i: usize) -> String {
        format!("r{}", i + 1)
    }

    pub fn config(&self, i: usize) -> String {
        self.bed.agent_config(
            i,
            &RouterConfig {
                priority: if i == 0 { 100 } else { 90 },
                instance_extra: if self.sync {
                    "conntrack_sync = true".into()
                } else {
                    String::new()
                },
                ..RouterConfig::default()
            },
        )
    }

    /// Starts router `i`'s agent (again).
    pub fn start(&mut self, i: usize) {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let config = self.config(i);
        self.agents[i] = Some(Agent::run_with(
            &Self::label(i),
            &self.dir,
            &config,
            &[],
            &env,
        ));
    }

    pub fn agent(&self, i: usize) -> &Agent {
        self.agents[i].as_ref().expect("agent runs")
    }

    /// The router whose agent reports MASTER (exactly one).
    pub fn master(&self) -> usize {
        wait_for(WAIT, "exactly one master", || {
            let m: Vec<usize> = (0..2)
                .filter(|&i| {
                    self.agents[i]
                        .as_ref()
                        .and_then(|a| a.instance(VR))
                        .is_some_and(|s| s.state == "MASTER")
                })
                .collect();
            (m.len() == 1).then(|| m[0])
        })
    }

    /// Router `i`'s conntrackd configuration file (in its agent's state folder).
    pub fn conntrackd_conf(&self, i: usize) -> PathBuf {
        self.dir
            .path(&format!("{}-state", Self::label(i)))
            .join("conntrackd")
            .join(self.bed.routers[i].name())
            .join("conntrackd.conf")
    }

    /// What router `i`'s conntrackd holds in its external cache (what the master synced).
    pub fn external_cache(&self, i: usize) -> String {
        let conf = self.conntrackd_conf(i);
        let out = self.bed.routers[i].exec(
            "/usr/sbin/conntrackd",
            &["-C", conf.to_str().expect("path"), "-e"],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Router `i`'s agent's conntrackd, as its status reports it.
    pub fn conntrackd(&self, i: usize) -> Vec<ConntrackdReport> {
        self.agent(i)
            .status()
            .map(|s| s.conntrackd)
            .unwrap_or_default()
    }

    /// A TCP connection 10.0.10.6 -> server:`port` (default SNAT), a line every 10 ms,
    /// running (100 echoes), and with `sync` known to the backup's conntrackd.
    pub fn connection(&self, port: u16, backup: usize) -> TcpStreamer {
        let to = SocketAddr::new(SERVER_IP.parse().expect("address"), port);
        let _echo = tcp_echo_server(&self.bed.server, to);
        let stream = TcpStreamer::start_from(
            &self.bed.client,
            CLIENT_IP_NO_FIP.parse().expect("address"),
            to,
            Duration::from_millis(10),
            READ_TIMEOUT,
        );
        wait_for(WAIT, "the connection through the SNAT to run", || {
            (stream.echoed() >= 100 || stream.ended()).then_some(())
        });
        assert!(!stream.ended(), "the connection did not even start");
        if self.sync {
            let want = format!("dport={port} ");
            wait_for(
                WAIT,
                "the backup's conntrackd to hold the connection",
                || self.external_cache(backup).contains(&want).then_some(()),
            );
        }
        stream
    }

    /// One failover of the master while a connection through the SNAT runs (on `port`);
    /// the stopped agent is started again and is backup afterwards.
    pub fn round(&mut self, port: u16, how: Failover) -> Round {
        let from = self.master();
        let to = 1 - from;
        let stream = self.connection(port, to);
        let echoed_before = stream.echoed();
        {
            let a = self.agents[from].as_mut().expect("agent runs");
            a.signal(match how {
                Failover::Kill => Signal::SIGKILL,
                Failover::Term => Signal::SIGTERM,
            });
            a.wait_exit(WAIT);
        }
        self.agent(to).wait_state(VR, "MASTER", WAIT);
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(
                READ_TIMEOUT + Duration::from_secs(10),
                "the connection to go on or end",
                || (stream.echoed() >= echoed_before + MORE || stream.ended()).then_some(()),
            );
        }));
        let report = stream.stop();
        self.start(from);
        self.agent(from).wait_state(VR, "BACKUP", WAIT);
        Round {
            how,
            from,
            to,
            echoed_before,
            report,
        }
    }
}

/// `Rss`, `Pss` and private (clean + dirty) memory of process `pid` in KiB
/// (`/proc/PID/smaps_rollup`).
pub fn memory_kib(pid: i32) -> (u64, u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        field("Rss:"),
        field("Pss:"),
        field("Private_Clean:") + field("Private_Dirty:"),
    )
}

/// Whether a process whose command line contains `needle` runs.
pub fn runs(needle: &Path) -> bool {
    let needle = needle.to_string_lossy();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|raw| {
                String::from_utf8_lossy(&raw)
                    .replace('\0', " ")
                    .contains(needle.as_ref())
            })
        })
}
