//! One measurement: a fresh topology of N routers, both nodes running one implementation at
//! one advert interval, started together; then the time until every router's VIP sits on
//! its expected master, a warm-up, and a window over which node A's (and B's) CPU, memory
//! and advert rates are taken. Everything started is stopped and removed before returning.

use std::time::{Duration, Instant};

use super::{
    agent_node::{AgentCounters, AgentNode},
    interrupt,
    keepalived_node::{DIR_LABEL, KeepalivedNode},
    layout::{Node, Router},
    probe::{Snapshot, Tally},
    procfs,
    topology::Topology,
    usage::{self, Usage},
};
use vrrp_tests::tempdir::TempDir;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Implementation {
    AgentXdp,
    AgentNoXdp,
    /// vrrp-agent as Neutron runs keepalived: one `keepalived` process per router (the node
    /// process model: small clients of one node agent with XDP).
    AgentNeutron,
    Keepalived,
}

impl Implementation {
    pub fn label(self) -> &'static str {
        match self {
            Self::AgentXdp => "vrrp-agent (XDP)",
            Self::AgentNoXdp => "vrrp-agent --no-xdp",
            Self::AgentNeutron => "vrrp-agent as keepalived (Neutron, XDP)",
            Self::Keepalived => "keepalived (Neutron)",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Self::AgentXdp => "agent-xdp",
            Self::AgentNoXdp => "agent-noxdp",
            Self::AgentNeutron => "agent-neutron",
            Self::Keepalived => "keepalived",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Scenario {
    pub implementation: Implementation,
    /// Seconds between adverts.
    pub interval: f64,
}

impl Scenario {
    pub fn interval_label(&self) -> String {
        if self.interval >= 1.0 {
            format!("{} s", self.interval)
        } else {
            format!("{} ms", (self.interval * 1000.0).round())
        }
    }

    pub fn id(&self) -> String {
        format!(
            "{}-{}",
            self.implementation.id(),
            self.interval_label().replace(' ', "")
        )
    }
}

/// How long each phase may take.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Timing {
    pub window: Duration,
    pub warmup: Duration,
    pub settle_timeout: Duration,
    /// Between placement checks during the window.
    pub check_every: Duration,
}

/// Everything measured in one scenario.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    pub scenario: Scenario,
    pub routers: usize,
    pub topology_s: f64,
    /// Until every process was started (for keepalived: every `ip netns exec` returned).
    pub launched_s: f64,
    /// Until both nodes had set every router up (agent: the status socket answers with every
    /// instance; keepalived: every pid file names a live parent and child).
    pub ready_s: f64,
    /// Until every VIP was on its expected master only; `None`: not within the timeout.
    pub settled_s: Option<f64>,
    pub settle_tally: Tally,
    pub window_s: f64,
    pub a: Usage,
    pub b: Usage,
    /// Packets per second received and sent on node A's HA ports (all VRRP adverts but for
    /// a few ARP/ND frames).
    pub a_ha_rx_per_s: f64,
    pub a_ha_tx_per_s: f64,
    pub b_ha_rx_per_s: f64,
    /// Adverts node A should receive per second: one per interval from each router B masters.
    pub expected_rx_per_s: f64,
    /// The agent's own counters (adverts handled by its state machines) over the window.
    pub a_agent: Option<AgentWindow>,
    pub checks: usize,
    /// Checks that found some router's VIP not (only) on its expected master.
    pub checks_misplaced: usize,
    /// The worst check.
    pub worst: Tally,
    /// Node A's orderly stop (SIGTERM until every process exited); `None`: had to be killed.
    pub stop_a_s: Option<f64>,
    /// Machine-wide busy CPU during the window, percent of all CPUs (everything running).
    pub machine_busy_percent: Option<f64>,
}

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct AgentWindow {
    pub adverts_rx_per_s: f64,
    pub adverts_tx_per_s: f64,
    pub transitions: u64,
    pub masters: usize,
}

enum Running {
    Agent(AgentNode),
    Keepalived(KeepalivedNode),
}

impl Running {
    fn pids(&self) -> Vec<i32> {
        match self {
            Running::Agent(a) => a.pids(),
            Running::Keepalived(k) => k.pids(),
        }
    }

    fn counters(&self) -> Option<AgentCounters> {
        match self {
            Running::Agent(a) => a.counters(),
            Running::Keepalived(_) => None,
        }
    }

    fn stop(&mut self) -> Option<Duration> {
        let t = Duration::from_secs(30);
        match self {
            Running::Agent(a) => a.stop(t),
            Running::Keepalived(k) => k.stop(t),
        }
    }
}

/// The processes, in the order they must go: before the namespaces and the folders.
struct Bench {
    nodes: Vec<Running>,
    _dir: TempDir,
    topo: Topology,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `f()` and the moment it started.
fn timed<T>(f: impl FnOnce() -> T) -> (Instant, T) {
    (Instant::now(), f())
}

/// The agents' logs, for looking into a run (`VXT_SCALE_LOGS=<dir>`).
fn save_logs(bench: &Bench, s: &Scenario, dir: &std::path::Path) {
    let _ = std::fs::create_dir_all(dir);
    for (n, node) in bench.nodes.iter().zip(["a", "b"]) {
        if let Running::Agent(a) = n {
            let _ = std::fs::write(
                dir.join(format!("{}-node-{node}.log", s.id())),
                a.agent.logs(),
            );
        }
    }
}

fn log(s: &Scenario, msg: &str) {
    println!("  [{}] {msg}", s.id());
}

pub fn run(s: Scenario, routers: usize, timing: Timing) -> anyhow::Result<Outcome> {
    let t0 = Instant::now();
    log(&s, &format!("building {routers} routers x 2 namespaces"));
    let topo = Topology::build(routers)?;
    let topology_s = secs(t0.elapsed());
    let mut bench = Bench {
        nodes: Vec::new(),
        _dir: TempDir::new(DIR_LABEL),
        topo,
    };
    let dir = &bench._dir;
    log(
        &s,
        &format!("starting both nodes ({:.0}s to build)", topology_s),
    );
    let start = Instant::now();
    for node in [Node::A, Node::B] {
        let names = bench.topo.names(node);
        let r = match s.implementation {
            Implementation::AgentXdp | Implementation::AgentNoXdp => {
                Running::Agent(AgentNode::start(
                    node,
                    &names,
                    dir,
                    s.interval,
                    s.implementation == Implementation::AgentXdp,
                ))
            }
            Implementation::Keepalived | Implementation::AgentNeutron => {
                let d = dir.path(&format!("node-{}", node.label()));
                let k = if s.implementation == Implementation::Keepalived {
                    KeepalivedNode::start_empty(&d)?
                } else {
                    KeepalivedNode::start_empty_ours(&d, &vrrp_tests::agent::binary())?
                };
                // Pushed as soon as it exists, so a failure halfway still stops what started.
                bench.nodes.push(Running::Keepalived(k));
                let Some(Running::Keepalived(k)) = bench.nodes.last_mut() else {
                    unreachable!()
                };
                k.launch(node, &names, s.interval)?;
                continue;
            }
        };
        bench.nodes.push(r);
    }
    let launched_s = secs(start.elapsed());
    let ready_timeout = timing.settle_timeout;
    for n in &mut bench.nodes {
        match n {
            Running::Agent(a) => a.wait_ready(routers, ready_timeout)?,
            Running::Keepalived(k) => k.wait_ready(ready_timeout)?,
        }
    }
    let ready_s = secs(start.elapsed());
    log(
        &s,
        &format!("ready after {ready_s:.1}s; waiting for every VIP on its master"),
    );

    let (settled_s, settle_tally) = loop {
        interrupt::check()?;
        let tally = Snapshot::take(&bench.topo)?.tally();
        if tally.misplaced() == 0 {
            break (Some(secs(start.elapsed())), tally);
        }
        if start.elapsed() > timing.settle_timeout {
            log(&s, &format!("not settled: {tally:?}"));
            break (None, tally);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if let Some(t) = settled_s {
        log(&s, &format!("settled after {t:.1}s"));
    }
    interrupt::sleep(timing.warmup)?;

    let tck = procfs::clk_tck();
    let pids_a = bench.nodes[0].pids();
    let pids_b = bench.nodes[1].pids();
    anyhow::ensure!(!pids_a.is_empty(), "node A has no running process");
    // Each quantity keeps the moment it was read: a snapshot of every namespace takes a
    // noticeable time, which must not count in the other rates.
    let before_a = timed(|| usage::cpu(&pids_a));
    let before_b = timed(|| usage::cpu(&pids_b));
    let agent0 = timed(|| bench.nodes[0].counters());
    let machine0 = timed(procfs::machine_cpu);
    let net0 = timed(|| Snapshot::take(&bench.topo));
    let net0 = (net0.0, net0.1?);
    let w0 = Instant::now();
    log(&s, &format!("measuring for {:?}", timing.window));

    let mut checks = 0;
    let mut checks_misplaced = 0;
    let mut worst = net0.1.tally();
    loop {
        let left = timing.window.saturating_sub(w0.elapsed());
        interrupt::sleep(left.min(timing.check_every))?;
        if w0.elapsed() >= timing.window {
            break;
        }
        let t = Snapshot::take(&bench.topo)?.tally();
        checks += 1;
        if t.misplaced() > 0 {
            checks_misplaced += 1;
        }
        if t.misplaced() > worst.misplaced() {
            worst = t;
        }
    }
    let after_a = timed(|| usage::cpu(&bench.nodes[0].pids()));
    let after_b = timed(|| usage::cpu(&bench.nodes[1].pids()));
    let agent1 = timed(|| bench.nodes[0].counters());
    let machine1 = timed(procfs::machine_cpu);
    let net1 = timed(|| Snapshot::take(&bench.topo));
    let net1 = (net1.0, net1.1?);
    let window_s = secs(w0.elapsed());
    let mut a = Usage::memory(&bench.nodes[0].pids());
    a.cpu_percent = usage::cpu_percent(&before_a.1, &after_a.1, secs(after_a.0 - before_a.0), tck);
    let mut b = Usage::memory(&bench.nodes[1].pids());
    b.cpu_percent = usage::cpu_percent(&before_b.1, &after_b.1, secs(after_b.0 - before_b.0), tck);
    let net_s = secs(net1.0 - net0.0);
    let per_s = |x1: u64, x0: u64, s: f64| x1.saturating_sub(x0) as f64 / s;
    let (rx0, tx0) = net0.1.packets(Node::A);
    let (rx1, tx1) = net1.1.packets(Node::A);
    let b_rx = per_s(net1.1.packets(Node::B).0, net0.1.packets(Node::B).0, net_s);
    let b_masters = (0..routers)
        .filter(|i| Router(*i).master() == Node::B)
        .count();
    let a_agent = match (agent0.1, agent1.1) {
        (Some(c0), Some(c1)) => {
            let d = secs(agent1.0 - agent0.0);
            Some(AgentWindow {
                adverts_rx_per_s: per_s(c1.adverts_rx, c0.adverts_rx, d),
                adverts_tx_per_s: per_s(c1.adverts_tx, c0.adverts_tx, d),
                transitions: c1.transitions.saturating_sub(c0.transitions),
                masters: c1.masters,
            })
        }
        _ => None,
    };
    let machine_busy_percent = match (machine0.1, machine1.1) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            Some((b1 - b0) as f64 / (t1 - t0) as f64 * 100.0)
        }
        _ => None,
    };
    let final_tally = net1.1.tally();
    if final_tally.misplaced() > worst.misplaced() {
        worst = final_tally;
    }
    if let Some(dir) = std::env::var_os("VXT_SCALE_LOGS") {
        save_logs(&bench, &s, std::path::Path::new(&dir));
    }
    log(&s, "stopping");
    let stop_a_s = bench.nodes[0].stop().map(secs);
    for n in bench.nodes.iter_mut().skip(1) {
        n.stop();
    }
    Ok(Outcome {
        scenario: s,
        routers,
        topology_s,
        launched_s,
        ready_s,
        settled_s,
        settle_tally,
        window_s,
        a,
        b,
        a_ha_rx_per_s: per_s(rx1, rx0, net_s),
        a_ha_tx_per_s: per_s(tx1, tx0, net_s),
        b_ha_rx_per_s: b_rx,
        expected_rx_per_s: b_masters as f64 / s.interval,
        a_agent,
        checks: checks + 1,
        checks_misplaced: checks_misplaced + usize::from(final_tally.misplaced() > 0),
        worst,
        stop_a_s,
        machine_busy_percent,
    })
}
