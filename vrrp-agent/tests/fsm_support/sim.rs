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
