//! Neutron's own HA router machinery on the shared test bed, with our agent as `keepalived`:
//! each simulated network node runs `tests/neutron/ha_node.py`, i.e. OpenStack Neutron's
//! (PyPI neutron==29.0.0) `HaRouter` with its `KeepalivedManager`, `ProcessMonitor` and
//! `neutron-keepalived-state-change`, and the L3 agent's state-change server with a handler that
//! records what it is told. Neutron writes the router's iptables rules itself (the bed's
//! fixture rules are removed first), writes keepalived.conf and starts `keepalived` as it does
//! (`ip netns exec <ns> env PROCESS_TAG=... keepalived -P -f ... -p ... -r ...`); the
//! `keepalived` it finds first on its PATH is our agent (a symlink), and each node's harness
//! has `VRRP_AGENT_SETTINGS` naming that node's settings file (its own node agent: socket, log,
//! pins), which reaches the `keepalived` processes through `ip netns exec ... env ...` because
//! the harness runs commands without a root helper (it is root; a real L3 agent's `sudo
//! neutron-rootwrap` drops the environment, so a deployment uses the default settings file).
//!
//! Neutron's configuration here: `ha_vrrp_advert_int = 1` (its minimum; default 2), auth_type
//! PASS with a password, `check_child_processes_interval = 1` (default 60: how soon the
//! process monitor respawns), and `use_random_fully` as Neutron's default has it (true).
//!
//! Steps, each followed by: exactly one node is primary, both as Neutron's state file
//! (`ha_confs/<id>/state`, written by the state-change monitor) and as the state-change
//! handler last heard it, and that holds for longer than the master-down interval; no node
//! flapped (at most one transition per node per step); no UDP probe (server -> floating IP,
//! every 1 ms) arrived twice; traffic flows again.
//!
//! 1. initial election (both nodes created together);
//! 2. a floating IP added and removed through Neutron's router update: keepalived.conf
//!    rewritten and SIGHUP (same process), the primary takes and drops the address, no state
//!    change at all;
//! 3. `KeepalivedManager.disable()` on the primary: the other node takes over; `enable` again:
//!    the returning node stays backup;
//! 4. kill -9 of the primary's `keepalived` process: the process monitor respawns it;
//! 5. kill -9 of the primary's node agent (our agent only): its `keepalived` processes exit,
//!    the process monitor respawns them, they start a new node agent;
//! 6. the router deleted on both nodes as `HaRouter.delete()` does (it removes the router's
//!    folder right after SIGTERM): no error, nothing left.
//!
//! With `ha_conntrackd_enabled` (Neutron 2025.1+: conntrackd per router, synced by the
//! state-change monitor on every transition), also: a TCP connection from the client's
//! address without a floating IP (so through the router's default SNAT, `--random-fully`)
//! opened before each failover of steps 3-5 keeps working after it. That variant runs with
//! Debian's keepalived as well, as the reference.

use std::{
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{self, Receiver},
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use serde_json::{Value, json};
use vrrp_tests::{
    agent,
    netns::NetNs,
    neutron_rules::{NeutronRouter, neutron_python},
    require_root,
    tempdir::TempDir,
    testbed::{
        CLIENT_IP, CLIENT_IP_NO_FIP, EXTERNAL_GATEWAY, FLOATING_IP, GATEWAY_IP, Options, QG_MAC,
        QR_MAC, ROUTER_EXTERNAL, SERVER_IP, Testbed,
    },
    topo::wait_for,
    traffic::{TcpStreamer, UdpSink, UdpSource, tcp_echo_server},
};

const ROUTER_ID: &str = "3f1c2b4a-9d8e-4f70-a1b2-c3d4e5f60718";
/// Port ids whose first 11 characters give the bed's interface names (`ha-0a1b2c3d-4e`, ...).
const QR_PORT: &str = "0a1b2c3d-4e02-4000-8000-000000000010";
const QG_PORT: &str = "0a1b2c3d-4e03-4000-8000-000000000020";
const ADVERT_INT: u64 = 1;
/// Longer than the master-down interval (3 x advert + skew): a takeover still coming would
/// have happened within it.
const SETTLE: Duration = Duration::from_secs(3 * ADVERT_INT + 2);
/// Bound for a step to converge (VRRP timers, the process monitor's 1 s period, Neutron's
/// 1.5 x advert throttle on reloads): generous.
const CONVERGE: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(30);
/// A second floating IP for the reload step (its fixed IP need not exist).
const FIP2: (&str, &str) = ("203.0.113.21", "10.0.10.7");
const KEEPALIVED: &str = "/usr/sbin/keepalived";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    /// Our agent as keepalived, the node process model (the default).
    Ours,
    /// Debian's keepalived.
    Keepalived,
}

/// What a node's harness reports.
#[derive(Debug, Clone)]
struct Status {
    state_file: Option<String>,
    notifications: Vec<String>,
    keepalived_pid: Option<i32>,
    keepalived_active: bool,
}

impl Status {
    fn from(v: &Value) -> Self {
        Self {
            state_file: v["state_file"].as_str().map(str::to_string),
            notifications: v["notifications"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n[1].as_str().map(str::to_string))
                .collect(),
            keepalived_pid: v["keepalived_pid"].as_i64().map(|p| p as i32),
            keepalived_active: v["keepalived_active"].as_bool().unwrap_or(false),
        }
    }

    fn last_notified(&self) -> Option<&str> {
        self.notifications.last().map(String::as_str)
    }
}

/// One simulated network node: Neutron's HA router code for the bed's router `i`.
struct Node {
    i: usize,
    ns: String,
    dir: PathBuf,
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    /// Notifications already attributed to earlier steps.
    seen: usize,
    quit: bool,
}

impl Node {
    fn start(base: &TempDir, bed: &Testbed, i: usize, which: Impl, conntrackd: bool) -> Self {
        let ns = bed.routers[i].name().to_string();
        let dir = base.path(&format!("n{}", i + 1));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).expect("node folder");
        let program = match which {
            Impl::Ours => agent::binary(),
            Impl::Keepalived => PathBuf::from(KEEPALIVED),
        };
        std::os::unix::fs::symlink(&program, bin.join("keepalived")).expect("keepalived link");
        let python = neutron_python();
        let venv_bin = python.parent().expect("venv bin").to_path_buf();
        let mut cmd = Command::new(&python);
        cmd.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("neutron/ha_node.py"))
            .arg("--state-path")
            .arg(dir.join("state"))
            .args(["--namespace", &ns, "--router-id", ROUTER_ID])
            .args(["--host", &format!("node{}", i + 1)])
            .args(["--ha-ip", &format!("169.254.192.{}", i + 1)])
            .args([
                "--ha-port-id",
                &format!("0a1b2c3d-4e01-4000-8000-00000000000{i}"),
            ])
            .args(["--ha-mac", &format!("fa:16:3e:00:30:0{}", i + 1)])
            .args(["--qr-port-id", QR_PORT, "--qr-mac", QR_MAC])
            .args(["--qr-cidr", &format!("{GATEWAY_IP}/24")])
            .args(["--qg-port-id", QG_PORT, "--qg-mac", QG_MAC])
            .args(["--qg-cidr", &format!("{ROUTER_EXTERNAL}/24")])
            .args(["--external-gateway", EXTERNAL_GATEWAY])
            .args(["--fip", &format!("{FLOATING_IP}={CLIENT_IP}")])
            .args(["--advert-int", &ADVERT_INT.to_string()])
            .args(["--auth-password", "vrrpxdp"])
            .args(["--check-interval", "1"])
            .env(
                "PATH",
                format!(
                    "{}:{}:/usr/sbin:/usr/bin:/sbin:/bin",
                    bin.display(),
                    venv_bin.display()
                ),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("harness.stderr")).expect("stderr file"));
        if conntrackd {
            cmd.arg("--conntrackd");
        }
        if which == Impl::Ours {
            let settings = dir.join("vrrp-agent-settings.toml");
            std::fs::write(
                &settings,
                format!(
                    "process_model = \"node\"\nnode_socket = \"{}\"\nnode_log = \"{}\"\n\
                     pin_dir = \"{}\"\n",
                    dir.join("node.ctl").display(),
                    dir.join("node.log").display(),
                    base.bpf_dir().join(format!("n{}", i + 1)).display()
                ),
            )
            .expect("settings");
            cmd.env("VRRP_AGENT_SETTINGS", settings);
        } else {
            cmd.env_remove("VRRP_AGENT_SETTINGS");
        }
        let mut child = cmd.spawn().expect("start tests/neutron/ha_node.py");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            i,
            ns,
            stdin: child.stdin.take(),
            child,
            dir,
            replies,
            seen: 0,
            quit: false,
        }
    }

    fn name(&self) -> String {
        format!("node{}", self.i + 1)
    }

    /// Sends a command, returns the reply; panics with Neutron's error if it failed.
    fn call(&mut self, cmd: Value) -> Value {
        let stdin = self.stdin.as_mut().expect("harness input open");
        writeln!(stdin, "{cmd}").expect("write to the harness");
        stdin.flush().expect("flush");
        let line = self
            .replies
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|e| {
                panic!("{}: no reply to {cmd} ({e})\n{}", self.name(), self.logs())
            });
        let reply: Value = serde_json::from_str(&line).expect("reply JSON");
        assert!(
            reply["ok"] == true,
            "{}: {cmd} failed in Neutron's code: {}\n{}",
            self.name(),
            reply["error"],
            reply["traceback"].as_str().unwrap_or_default()
        );
        reply
    }

    fn status(&mut self) -> Status {
        Status::from(&self.call(json!({"cmd": "status"})))
    }

    /// The node agent's pid (ours), from the pid file beside its socket.
    fn node_agent_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("node.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
            .filter(|p| alive(*p))
    }

    fn conf_dir(&self) -> PathBuf {
        self.dir.join("state/ha_confs").join(ROUTER_ID)
    }

    fn logs(&self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let tail = |s: String, n: usize| -> String {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        format!(
            "---- {n} Neutron's log (tail) ----\n{}\n---- {n} state-change monitor ----\n{}\n\
             ---- {n} keepalived / vrrp-agent.log ----\n{}\n---- {n} node agent (tail) ----\n{}\n\
             ---- {n} harness stderr (tail) ----\n{}",
            tail(read(self.dir.join("state/l3-agent.log")), 60),
            tail(
                read(self.conf_dir().join("neutron-keepalived-state-change.log")),
                30
            ),
            tail(read(self.conf_dir().join("vrrp-agent.log")), 30),
            tail(read(self.dir.join("node.log")), 60),
            tail(read(self.dir.join("harness.stderr")), 30),
            n = self.name(),
        )
    }

    /// Neutron's router deletion on this node (`HaRouter.delete()` without the namespace).
    fn delete(&mut self) {
        self.call(json!({"cmd": "quit"}));
        self.quit = true;
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // End of input: the harness stops what Neutron started (monitor, conntrackd,
        // keepalived) and exits.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(pid) = self.node_agent_pid() {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // Whatever is left of what this node started: every such process names this node's
        // folder or the bed's namespace of this node (unique to this test) on its command line.
        let dir = self.dir.to_string_lossy().into_owned();
        kill_matching(|cmdline| cmdline.contains(&dir) || cmdline.contains(&self.ns));
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit(')').next().unwrap_or_default().starts_with(" Z"))
}

fn kill_matching(pred: impl Fn(&str) -> bool) {
    let me = std::process::id() as i32;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if pred(&cmdline) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Whether router `ns` holds `ip` on one of its interfaces.
fn holds(ns: &NetNs, ip: &str) -> bool {
    let out = ns.exec("ip", &["-4", "-o", "addr", "show"]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .any(|w| w.split('/').next() == Some(ip))
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().expect("address")
}

/// The two nodes, the bed and the probes.
struct Scenario {
    /// Dropped first: Neutron's processes go before the namespaces.
    nodes: Vec<Node>,
    sink: UdpSink,
    probes: Option<UdpSource>,
    which: Impl,
    conntrackd: bool,
    /// What each step showed, for the report.
    report: Vec<String>,
    bed: Testbed,
    dir: TempDir,
}

impl Scenario {
    fn up(which: Impl, conntrackd: bool) -> Self {
        let bed = Testbed::up(Options::for_test(2));
        // Neutron's own code writes the rules: the bed's copy of them goes.
        for r in &bed.routers {
            NeutronRouter::remove(r);
        }
        let dir = TempDir::new("nha");
        let nodes = (0..2)
            .map(|i| Node::start(&dir, &bed, i, which, conntrackd))
            .collect();
        let sink = UdpSink::start(&bed.client, addr(CLIENT_IP, 9500));
        let probes = UdpSource::start(
            &bed.server,
            addr(FLOATING_IP, 9500),
            Duration::from_millis(1),
        );
        Self {
            nodes,
            sink,
            probes: Some(probes),
            which,
            conntrackd,
            report: Vec::new(),
            bed,
            dir,
        }
    }

    fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(Node::logs)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn statuses(&mut self) -> Vec<Status> {
        self.nodes.iter_mut().map(Node::status).collect()
    }

    /// The one primary node by both of Neutron's views, with every node in `active` running
    /// its keepalived; else why not.
    fn primary(st: &[Status], active: &[bool]) -> Result<usize, String> {
        let by_file: Vec<usize> = (0..st.len())
            .filter(|&i| st[i].state_file.as_deref() == Some("primary"))
            .collect();
        let by_handler: Vec<usize> = (0..st.len())
            .filter(|&i| st[i].last_notified() == Some("primary"))
            .collect();
        let down: Vec<usize> = (0..st.len())
            .filter(|&i| active[i] && !st[i].keepalived_active)
            .collect();
        if by_file.len() == 1 && by_handler == by_file && down.is_empty() {
            Ok(by_file[0])
        } else {
            Err(format!(
                "primary by state file {by_file:?}, by the handler {by_handler:?}, keepalived \
                 not running on {down:?}"
            ))
        }
    }

    /// Waits until exactly one node is primary (both views), `pre` holds and every node in
    /// `active` runs keepalived, continuously for [`SETTLE`]; returns the primary.
    fn settle(&mut self, step: &str, active: [bool; 2], pre: impl Fn(&[Status]) -> bool) -> usize {
        let deadline = Instant::now() + CONVERGE;
        let mut stable: Option<(usize, Instant)> = None;
        loop {
            let st = self.statuses();
            let now = Instant::now();
            match Self::primary(&st, &active) {
                Ok(p) if pre(&st) => match stable {
                    Some((q, since)) if q == p => {
                        if now - since >= SETTLE {
                            return p;
                        }
                    }
                    _ => stable = Some((p, now)),
                },
                Ok(_) => stable = None,
                Err(why) => {
                    stable = None;
                    if now > deadline {
                        panic!(
                            "{step}: not exactly one primary after {CONVERGE:?}: {why}\n\
                             {st:#?}\n{}",
                            self.logs()
                        );
                    }
                }
            }
            assert!(
                now < deadline + SETTLE,
                "{step}: did not settle within {CONVERGE:?}: {st:#?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The state changes each node's handler heard since the last step, repeated states
    /// folded (`ip monitor` reports a VIP added again as another add): at most one per node
    /// (no flap), and ending in the state the node is in.
    fn transitions(&mut self, step: &str, primary: usize) -> Vec<Vec<String>> {
        let st = self.statuses();
        let mut all = Vec::new();
        for (i, s) in st.iter().enumerate() {
            let node = &mut self.nodes[i];
            let before = node.seen.checked_sub(1).map(|k| s.notifications[k].clone());
            let mut prev = before.unwrap_or_else(|| "backup".into());
            let mut changes = Vec::new();
            for n in &s.notifications[node.seen..] {
                if *n != prev {
                    changes.push(n.clone());
                    prev = n.clone();
                }
            }
            node.seen = s.notifications.len();
            all.push(changes);
        }
        for (i, changes) in all.iter().enumerate() {
            let want = if i == primary { "primary" } else { "backup" };
            assert!(
                changes.len() <= 1 && changes.iter().all(|c| c == want),
                "{step}: node{} went through {changes:?} (a flap, or a state it is not in; \
                 it is {want})\n{}",
                i + 1,
                self.logs()
            );
        }
        all
    }

    /// No probe arrived twice so far, and probes flow through the router now.
    fn check_traffic(&self, step: &str) {
        let dups = self.sink.duplicates();
        assert!(
            dups.is_empty(),
            "{step}: {} probes arrived twice: two routers forwarded ({:?}...)\n{}",
            dups.len(),
            &dups[..dups.len().min(10)],
            self.logs()
        );
        let before = self.sink.count();
        let flowing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(WAIT, "probes through the router", || {
                (self.sink.count() >= before + 300).then_some(())
            });
        }));
        if flowing.is_err() {
            panic!("{step}: no probes through the router\n{}", self.logs());
        }
    }

    fn record(&mut self, step: &str, primary: usize, changes: &[Vec<String>], extra: &str) {
        let line = format!(
            "{step}: primary node{}; transitions node1 {:?}, node2 {:?}; {} probes, 0 \
             duplicated{extra}",
            primary + 1,
            changes[0],
            changes[1],
            self.sink.count()
        );
        eprintln!(
            "[{:?}{}] {line}",
            self.which,
            if self.conntrackd { " + conntrackd" } else { "" }
        );
        self.report.push(line);
    }

    /// A TCP connection from the client's address without a floating IP to the server
    /// (through the router's default SNAT), exchanging a line every 10 ms, running.
    fn tcp_through_snat(&self, port: u16) -> TcpStreamer {
        let _echo = tcp_echo_server(&self.bed.server, addr(SERVER_IP, port));
        let stream = TcpStreamer::start_from(
            &self.bed.client,
            CLIENT_IP_NO_FIP.parse().expect("address"),
            addr(SERVER_IP, port),
            Duration::from_millis(10),
            Duration::from_secs(60),
        );
        // conntrackd has seen the connection (it syncs each new entry at once).
        wait_for(WAIT, "the TCP connection through the SNAT to run", || {
            (stream.echoed() >= 100 || stream.ended()).then_some(())
        });
        stream
    }

    /// After a failover: the connection goes on (more echoes, no error).
    fn tcp_survives(&self, step: &str, stream: TcpStreamer) -> String {
        let before = stream.echoed();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(WAIT, "more echoes", || {
                (stream.echoed() >= before + 100 || stream.ended()).then_some(())
            });
        }));
        let report = stream.stop();
        assert!(
            report.error.is_none() && report.echoed >= before + 100,
            "{step}: the TCP connection through the router's default SNAT did not survive \
             the failover: {report:?}\n{}",
            self.logs()
        );
        format!(
            "; TCP via SNAT survived ({} lines, longest wait {:?})",
            report.echoed, report.longest_wait
        )
    }

    /// After a failover without conntrackd: the new primary has no conntrack entry for the
    /// connection, so its packets get a new random-fully SNAT port (or a reset) and the far
    /// end resets it.
    fn tcp_breaks(&self, step: &str, stream: TcpStreamer) -> String {
        let before = stream.echoed();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(CONVERGE, "the connection to end or go on", || {
                (stream.echoed() >= before + 500 || stream.ended()).then_some(())
            });
        }));
        let report = stream.stop();
        assert!(
            report.error.is_some(),
            "{step}: without conntrackd the TCP connection through the default SNAT should              not survive a failover, yet it did ({report:?}): the conntrackd variant would              prove nothing"
        );
        format!(
            "; TCP via SNAT broke without conntrackd, as expected ({})",
            report.error.unwrap_or_default()
        )
    }

    fn run(mut self) -> Vec<String> {
        // 1. Initial election: both nodes get the router at once, as from the server.
        for n in &mut self.nodes {
            n.call(json!({"cmd": "create"}));
        }
        let p = self.settle("initial election", [true, true], |_| true);
        let changes = self.transitions("initial election", p);
        self.check_traffic("initial election");
        self.record("initial election", p, &changes, "");

        // 2. A floating IP added and removed: keepalived.conf rewritten, SIGHUP.
        let pids: Vec<Option<i32>> = self.statuses().iter().map(|s| s.keepalived_pid).collect();
        let (primary_ns, other_ns) = (
            self.bed.routers[p].name().to_string(),
            self.bed.routers[1 - p].name().to_string(),
        );
        let with = json!([[FLOATING_IP, CLIENT_IP], [FIP2.0, FIP2.1]]);
        for n in &mut self.nodes {
            n.call(json!({"cmd": "set_fips", "fips": with}));
        }
        let (pr, ot) = (NetNs::existing(&primary_ns), NetNs::existing(&other_ns));
        self.wait_or_logs("the primary to take the new floating IP", || {
            (holds(&pr, FIP2.0) && !holds(&ot, FIP2.0)).then_some(())
        });
        let without = json!([[FLOATING_IP, CLIENT_IP]]);
        for n in &mut self.nodes {
            n.call(json!({"cmd": "set_fips", "fips": without}));
        }
        self.wait_or_logs("the primary to drop the floating IP", || {
            (!holds(&pr, FIP2.0) && !holds(&ot, FIP2.0)).then_some(())
        });
        let q = self.settle("reload", [true, true], |st| {
            st.iter().map(|s| s.keepalived_pid).collect::<Vec<_>>() == pids
        });
        assert_eq!(q, p, "reload: the primary stayed primary");
        let changes = self.transitions("reload", q);
        assert!(
            changes.iter().all(Vec::is_empty),
            "reload: no state change at all: {changes:?}"
        );
        self.check_traffic("reload");
        self.record("floating IP added and removed (SIGHUP)", q, &changes, "");

        // 3. disable() on the primary, then enable again. Without conntrackd, the connection
        // through the default SNAT is the control: it breaks (what conntrackd is for).
        let tcp = self.tcp_through_snat(7501);
        self.nodes[p].call(json!({"cmd": "disable"}));
        let mut active = [true, true];
        active[p] = false;
        let q = self.settle("disable", active, |st| !st[p].keepalived_active);
        assert_ne!(q, p, "disable: the other node took over");
        let changes = self.transitions("disable", q);
        self.check_traffic("disable");
        let extra = if self.conntrackd {
            self.tcp_survives("disable", tcp)
        } else {
            self.tcp_breaks("disable", tcp)
        };
        self.record("disable() on the primary", q, &changes, &extra);
        self.nodes[p].call(json!({"cmd": "enable"}));
        let r = self.settle("enable", [true, true], |_| true);
        assert_eq!(r, q, "enable: the returning node stays backup (nopreempt)");
        let changes = self.transitions("enable", r);
        self.check_traffic("enable");
        self.record("enable() again", r, &changes, "");

        // 4. kill -9 of the primary's keepalived process; the process monitor respawns it.
        let m = r;
        let tcp = self.conntrackd.then(|| self.tcp_through_snat(7502));
        let old = self.nodes[m]
            .status()
            .keepalived_pid
            .expect("keepalived pid");
        nix::sys::signal::kill(Pid::from_raw(old), Signal::SIGKILL).expect("kill -9");
        let r = self.settle("kill -9 of keepalived", [true, true], |st| {
            st[m].keepalived_pid.is_some_and(|p| p != old)
        });
        let changes = self.transitions("kill -9 of keepalived", r);
        self.check_traffic("kill -9 of keepalived");
        let extra = tcp
            .map(|t| self.tcp_survives("kill -9 of keepalived", t))
            .unwrap_or_default();
        self.record(
            &format!("kill -9 of node{}'s keepalived, respawned", m + 1),
            r,
            &changes,
            &extra,
        );

        // 5. kill -9 of the primary's node agent (ours): its keepalived processes exit, the
        // process monitor respawns them, and they start a node agent again.
        if self.which == Impl::Ours {
            let m = r;
            let tcp = self.conntrackd.then(|| self.tcp_through_snat(7503));
            let node_pid = self.nodes[m].node_agent_pid().expect("node agent runs");
            let client = self.nodes[m]
                .status()
                .keepalived_pid
                .expect("keepalived pid");
            nix::sys::signal::kill(Pid::from_raw(node_pid), Signal::SIGKILL).expect("kill -9");
            let dir = self.nodes[m].dir.clone();
            let r = self.settle("kill -9 of the node agent", [true, true], |st| {
                let new_node = std::fs::read_to_string(dir.join("node.pid"))
                    .ok()
                    .and_then(|p| p.trim().parse::<i32>().ok())
                    .is_some_and(|p| p != node_pid && alive(p));
                new_node && st[m].keepalived_pid.is_some_and(|p| p != client)
            });
            let changes = self.transitions("kill -9 of the node agent", r);
            self.check_traffic("kill -9 of the node agent");
            let extra = tcp
                .map(|t| self.tcp_survives("kill -9 of the node agent", t))
                .unwrap_or_default();
            self.record(
                &format!("kill -9 of node{}'s node agent, respawned", m + 1),
                r,
                &changes,
                &extra,
            );
        }

        // 6. The router deleted on both nodes (HaRouter.delete(): SIGTERM, then the router's
        // folder removed at once).
        let sent = self.probes.take().map(UdpSource::stop).unwrap_or(0);
        let dups = self.sink.duplicates();
        assert!(dups.is_empty(), "{} probes arrived twice", dups.len());
        for i in 0..2 {
            self.nodes[i].delete();
            let dir = self.nodes[i].conf_dir();
            assert!(
                !dir.exists(),
                "node{}: Neutron removed the router's folder {}",
                i + 1,
                dir.display()
            );
        }
        // Neutron does not wait for keepalived to exit: it releases the addresses on its own.
        let routers: Vec<NetNs> = self
            .bed
            .routers
            .iter()
            .map(|r| NetNs::existing(r.name()))
            .collect();
        self.wait_or_logs("both routers to give up every address", || {
            routers
                .iter()
                .all(|r| {
                    [GATEWAY_IP, ROUTER_EXTERNAL, FLOATING_IP, "169.254.0.1"]
                        .iter()
                        .all(|ip| !holds(r, ip))
                })
                .then_some(())
        });
        let line = format!(
            "router deleted on both nodes: no error, no address left; {} of {sent} probes \
             arrived, none twice",
            self.sink.count()
        );
        eprintln!("[{:?}] {line}", self.which);
        self.report.push(line);
        std::mem::take(&mut self.report)
    }

    fn wait_or_logs(&self, what: &str, cond: impl FnMut() -> Option<()>) {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(CONVERGE, what, cond);
        }));
        if r.is_err() {
            panic!("timed out waiting for {what}\n{}", self.logs());
        }
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("steps so far:\n  {}", self.report.join("\n  "));
        }
        // Nodes first (fields drop in order), then the bed's namespaces, then the folder.
        let _ = &self.dir;
    }
}

fn scenario(which: Impl, conntrackd: bool) {
    require_root();
    let started = Instant::now();
    let report = Scenario::up(which, conntrackd).run();
    eprintln!(
        "{which:?}{}: {} steps in {:?}:\n  {}",
        if conntrackd { " + conntrackd" } else { "" },
        report.len(),
        started.elapsed(),
        report.join("\n  ")
    );
}

#[test]
fn neutrons_ha_router_with_our_agent_keeps_one_primary_through_reload_handover_and_kills() {
    scenario(Impl::Ours, false);
}

#[test]
fn with_conntrackd_a_snat_connection_survives_every_failover_with_our_agent() {
    scenario(Impl::Ours, true);
}

#[test]
fn with_conntrackd_a_snat_connection_survives_every_failover_with_keepalived() {
    scenario(Impl::Keepalived, true);
}
