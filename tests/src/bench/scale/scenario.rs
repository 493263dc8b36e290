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
use crate::agents::TempDir;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Implementation {
    AgentXdp,
    AgentNoXdp,
    Keepalived,
}

impl Implementation {
    pub fn label(self) -> &'static str {
        match self {
            Self::AgentXdp => "vrrp-agent (XDP)",
            Self::AgentNoXdp => "vrrp-agent --no-xdp",
            Self::Keepalived => "keepalived (Neutron)",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Self::AgentXdp => "agent-xdp",
            Self::AgentNoXdp => "agent-noxdp",
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
            Implementation::Keepalived => {
                let d = dir.path(&format!("node-{}", node.label()));
                // Pushed as soon as it exists, so a failure halfway still stops what started.
                bench
                    .nodes
                    .push(Running::Keepalived(KeepalivedNode::start_empty(&d)?));
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
    let before_a = usage::ticks(&pids_a);
    let before_b = usage::ticks(&pids_b);
    let net0 = Snapshot::take(&bench.topo)?;
    let agent0 = bench.nodes[0].counters();
    let machine0 = procfs::machine_cpu();
    let w0 = Instant::now();
    log(&s, &format!("measuring for {:?}", timing.window));

    let mut checks = 0;
    let mut checks_misplaced = 0;
    let mut worst = net0.tally();
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
    let after_a = usage::ticks(&bench.nodes[0].pids());
    let after_b = usage::ticks(&bench.nodes[1].pids());
    let machine1 = procfs::machine_cpu();
    let net1 = Snapshot::take(&bench.topo)?;
    let agent1 = bench.nodes[0].counters();
    let window_s = secs(w0.elapsed());
    let mut a = Usage::memory(&bench.nodes[0].pids());
    a.cpu_percent = usage::cpu_percent(&before_a, &after_a, window_s, tck);
    let mut b = Usage::memory(&bench.nodes[1].pids());
    b.cpu_percent = usage::cpu_percent(&before_b, &after_b, window_s, tck);
    let rate = |x1: u64, x0: u64| x1.saturating_sub(x0) as f64 / window_s;
    let (rx0, tx0) = net0.packets(Node::A);
    let (rx1, tx1) = net1.packets(Node::A);
    let b_rx = rate(net1.packets(Node::B).0, net0.packets(Node::B).0);
    let b_masters = (0..routers)
        .filter(|i| Router(*i).master() == Node::B)
        .count();
    let a_agent = match (agent0, agent1) {
        (Some(c0), Some(c1)) => Some(AgentWindow {
            adverts_rx_per_s: rate(c1.adverts_rx, c0.adverts_rx),
            adverts_tx_per_s: rate(c1.adverts_tx, c0.adverts_tx),
            transitions: c1.transitions.saturating_sub(c0.transitions),
            masters: c1.masters,
        }),
        _ => None,
    };
    let machine_busy_percent = match (machine0, machine1) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            Some((b1 - b0) as f64 / (t1 - t0) as f64 * 100.0)
        }
        _ => None,
    };
    let final_tally = net1.tally();
    if final_tally.misplaced() > worst.misplaced() {
        worst = final_tally;
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
        a_ha_rx_per_s: rate(rx1, rx0),
        a_ha_tx_per_s: rate(tx1, tx0),
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
