//! Building simulated router sets.

use std::{net::IpAddr, time::Duration};

use vrrp_agent::{
    fsm::{InstanceConfig, State, TrackedObject},
    packet::Centisecs,
    sim::{NetConfig, Sim},
};

/// One router of a scenario.
#[derive(Clone, Copy)]
pub struct R {
    pub priority: u8,
    pub preempt: bool,
}

pub const fn r(priority: u8) -> R {
    R {
        priority,
        preempt: true,
    }
}

pub const fn nopreempt(priority: u8) -> R {
    R {
        priority,
        preempt: false,
    }
}

/// 10 cs adverts: fast scenarios.
pub const INTERVAL: Centisecs = Centisecs(10);

pub fn addr(node: usize) -> IpAddr {
    format!("10.0.0.{}", node + 1).parse().unwrap()
}

pub fn vr_config(vrid: u8, spec: R) -> InstanceConfig {
    let mut c = InstanceConfig::new(&format!("VR_{vrid}"), vrid, "10.0.0.100".parse().unwrap());
    c.priority = spec.priority;
    c.preempt = spec.preempt;
    c.advert_interval = INTERVAL;
    c.tracked = vec![TrackedObject {
        name: "ha-link".into(),
        weight: 0,
    }];
    c
}

/// One node per spec, each with one instance of VRID 1 on segment 0; instance i on node i.
pub fn routers(net: NetConfig, specs: &[R]) -> Sim {
    let mut sim = Sim::new(net);
    for (i, spec) in specs.iter().enumerate() {
        let node = sim.add_node(&format!("r{}", i + 1));
        sim.add_instance(node, 0, vr_config(1, *spec), addr(node));
    }
    sim
}

pub fn states(sim: &Sim) -> Vec<State> {
    (0..sim.instance_count()).map(|i| sim.state(i)).collect()
}

/// Runs until exactly one master exists for (0, 1), at most `max`.
pub fn until_one_master(sim: &mut Sim, max: Duration) -> Option<usize> {
    sim.run_until(max, |s| s.masters(0, 1).len() == 1)
        .then(|| sim.masters(0, 1)[0])
}

// ---- balancing ------------------------------------------------------------------------------

/// Neutron's shape with balancing on: priority 50, nopreempt, `balance`.
pub fn balanced_config(vrid: u8) -> InstanceConfig {
    let mut c = vr_config(vrid, nopreempt(50));
    c.balance = true;
    c
}

/// `nodes` nodes, each with one balanced instance of every router (VRIDs 1..=`routers` on
/// segment 0); instance `node * routers + vrid - 1`. Nothing started.
pub fn balanced_cluster(net: NetConfig, nodes: usize, routers: usize) -> Sim {
    let mut sim = Sim::new(net);
    for n in 0..nodes {
        let node = sim.add_node(&format!("n{n}"));
        for vrid in 1..=routers {
            sim.add_instance(node, 0, balanced_config(vrid as u8), addr(node));
        }
    }
    sim
}

/// The instances of `node` in a [`balanced_cluster`] of `routers` routers.
pub fn node_instances(node: usize, routers: usize) -> std::ops::Range<usize> {
    node * routers..(node + 1) * routers
}

/// How many routers each node is master for (dead nodes: 0).
pub fn masters_per_node(sim: &Sim) -> Vec<usize> {
    let mut per = vec![0; sim.node_count()];
    for i in 0..sim.instance_count() {
        let node = sim.node_of(i);
        if sim.node_alive(node) && sim.state(i) == State::Master {
            per[node] += 1;
        }
    }
    per
}

/// Every router of a [`balanced_cluster`] has exactly one live master.
pub fn one_master_each(sim: &Sim, routers: usize) -> bool {
    (1..=routers).all(|vrid| sim.masters(0, vrid as u8).len() == 1)
}

/// Masters within ±1 of even among the live nodes (max − min ≤ 1), one per router.
pub fn balanced(sim: &Sim, routers: usize) -> bool {
    let per = masters_per_node(sim);
    let alive: Vec<usize> = (0..sim.node_count())
        .filter(|n| sim.node_alive(*n))
        .map(|n| per[n])
        .collect();
    let (min, max) = (alive.iter().min(), alive.iter().max());
    one_master_each(sim, routers) && matches!((min, max), (Some(a), Some(b)) if b - a <= 1)
}
