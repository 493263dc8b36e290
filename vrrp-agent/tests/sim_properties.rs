//! Property tests on the simulator: from any random sequence of faults and heals, once the
//! network is whole again and everything runs, there is exactly one master within a bounded
//! virtual time, and with preemption it is the one the RFC says (the highest priority); and
//! at no time, except while the network is not whole (or within one Master_Down_Interval of
//! it healing), do two routers own the addresses for longer than one delivery (plus the
//! jitter with which they saw the event that made them take over). Reloads that add, remove
//! and reorder tracked objects, and the objects flapping, never leave an instance in FAULT
//! without a reason or out of FAULT with one.

mod fsm_support;

use std::time::Duration;

use fsm_support::sim::*;
use proptest::prelude::*;
use vrrp_agent::{
    fsm::{State, TrackedObject},
    sim::{NetConfig, Sim},
};

#[derive(Clone, Debug)]
enum Op {
    Advance(u16),
    Kill(usize),
    Restart(usize),
    Shutdown(usize),
    Start(usize),
    Isolate(usize),
    Partition(usize, usize),
    Heal,
    Loss(u8),
    /// Object `.1` of node `.0` goes down (`.2` false) or up.
    Object(usize, usize, bool),
    /// Node `.0` reloads its instance tracking the objects in mask `.1` (SIGHUP).
    Reload(usize, u8),
}

/// The objects a node's instance may track: (name, weight). Weight 0 faults the instance
/// while down; the others move its priority.
const OBJECTS: [(&str, i32); 4] = [("ha-link", 0), ("uplink", 0), ("check", -30), ("bonus", 20)];

fn op(nodes: usize) -> impl Strategy<Value = Op> {
    let n = 0..nodes;
    prop_oneof![
        4 => (1u16..3000).prop_map(Op::Advance),
        1 => n.clone().prop_map(Op::Kill),
        1 => n.clone().prop_map(Op::Restart),
        1 => n.clone().prop_map(Op::Shutdown),
        1 => n.clone().prop_map(Op::Start),
        1 => n.clone().prop_map(Op::Isolate),
        1 => (n.clone(), n.clone()).prop_map(|(a, b)| Op::Partition(a, b)),
        1 => Just(Op::Heal),
        1 => (0u8..40).prop_map(Op::Loss),
        2 => (n.clone(), 0..OBJECTS.len(), any::<bool>()).prop_map(|(i, o, up)| Op::Object(i, o, up)),
        1 => (n, 0u8..16).prop_map(|(i, mask)| Op::Reload(i, mask)),
    ]
}

#[derive(Clone, Debug)]
struct Scenario {
    priorities: Vec<u8>,
    preempt: bool,
    seed: u64,
    jitter_us: u64,
    duplicate: f64,
    ops: Vec<Op>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..=4)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec(prop_oneof![1u8..=254, Just(100u8)], n),
                any::<bool>(),
                any::<u64>(),
                0u64..2000,
                prop_oneof![Just(0.0), 0.0f64..0.3],
                proptest::collection::vec(op(n), 1..40),
            )
        })
        .prop_map(
            |(priorities, preempt, seed, jitter_us, duplicate, ops)| Scenario {
                priorities,
                preempt,
                seed,
                jitter_us,
                duplicate,
                ops,
            },
        )
}

/// Virtual time to converge after everything is whole and running: a restarted backup waits
/// Master_Down_Interval (< 4 intervals); a split brain resolves on the next advert.
const CONVERGE: Duration = Duration::from_secs(2);

fn run(s: &Scenario) -> Result<(), TestCaseError> {
    let delay = Duration::from_micros(100);
    let jitter = Duration::from_micros(s.jitter_us);
    let net = NetConfig {
        seed: s.seed,
        delay,
        jitter,
        loss: 0.0,
        duplicate: s.duplicate,
    };
    let specs: Vec<R> = s
        .priorities
        .iter()
        .map(|p| if s.preempt { r(*p) } else { nopreempt(*p) })
        .collect();
    let mut sim = routers(net, &specs);
    let n = specs.len();
    let mut objects = vec![[true; OBJECTS.len()]; n];
    sim.start_all();
    for op in &s.ops {
        match *op {
            Op::Advance(ms) => sim.run_for(Duration::from_millis(ms.into())),
            Op::Kill(i) => sim.kill_node(i),
            Op::Restart(i) => {
                if !sim.node_alive(i) {
                    sim.restart_node(i);
                }
            }
            Op::Shutdown(i) => sim.shutdown(i),
            Op::Start(i) => sim.start(i),
            Op::Isolate(i) => sim.isolate(i),
            Op::Partition(a, b) => sim.partition(&[a], &[b]),
            Op::Heal => sim.heal(),
            Op::Loss(p) => sim.set_loss(f64::from(p) / 100.0),
            Op::Object(i, o, up) => {
                sim.set_object(i, OBJECTS[o].0, up);
                objects[i][o] = up;
            }
            Op::Reload(i, mask) => {
                let mut config = sim.instance(i).config().clone();
                config.tracked = tracked(mask);
                sim.reconfigure(i, config);
            }
        }
        check_tracking(&sim, &objects)?;
    }
    // Make everything whole and running again.
    sim.heal();
    sim.set_loss(0.0);
    for (i, objects) in objects.iter_mut().enumerate() {
        if !sim.node_alive(i) {
            sim.restart_node(i);
        }
        for (name, _) in OBJECTS {
            sim.set_object(i, name, true);
        }
        *objects = [true; OBJECTS.len()];
        sim.start(i);
    }
    check_tracking(&sim, &objects)?;
    sim.run_for(CONVERGE);

    let masters = sim.masters(0, 1);
    prop_assert_eq!(masters.len(), 1, "states {:?}", states(&sim));
    for i in 0..n {
        prop_assert!(
            matches!(sim.state(i), State::Master | State::Backup),
            "instance {} in {:?}",
            i,
            sim.state(i)
        );
    }
    if s.preempt {
        // Effective priorities: reloads may have added weighted objects (all up now).
        let priority = |i: usize| sim.instance(i).effective_priority();
        let best = (0..n).map(priority).max().unwrap();
        let m = masters[0];
        prop_assert_eq!(
            priority(m),
            best,
            "with preemption the master has the highest priority"
        );
    }
    // Ownership: only the master owns now; while whole, overlaps last at most one delivery.
    prop_assert_eq!(sim.ledger().owners(0, 1), masters.clone());
    // After a heal a backup may still act on adverts it missed before it (its timer was armed
    // by the last one it heard): allow one Master_Down_Interval (< 4 intervals) to settle.
    let settle = 4 * INTERVAL.as_duration() + delay + jitter;
    for o in sim.ledger().overlaps() {
        if o.whole_for(settle) {
            let end = o.end.unwrap_or(sim.now());
            // Routers that take over on the same cue (a resignation, a silence) see it up to
            // one jitter apart; the losers step down one delivery after the winner took over.
            prop_assert!(
                end - o.start <= delay + 2 * jitter,
                "two owners for {:?} while whole: {:?}",
                end - o.start,
                o
            );
        }
    }
    Ok(())
}

/// The objects of mask `mask` as tracked objects.
fn tracked(mask: u8) -> Vec<TrackedObject> {
    OBJECTS
        .iter()
        .enumerate()
        .filter(|(o, _)| mask & (1 << o) != 0)
        .map(|(_, (name, weight))| TrackedObject {
            name: (*name).into(),
            weight: *weight,
        })
        .collect()
}

/// Every running instance of a live node follows the objects it tracks, whatever reloads
/// added, removed or reordered: in FAULT exactly while one of weight 0 is down, and at the
/// priority the weights of the others give.
fn check_tracking(sim: &Sim, objects: &[[bool; OBJECTS.len()]]) -> Result<(), TestCaseError> {
    for (i, objects) in objects.iter().enumerate() {
        let inst = sim.instance(i);
        if !sim.node_alive(i) || inst.state() == State::Initialize {
            continue;
        }
        let up = |name: &str| {
            let o = OBJECTS.iter().position(|(n, _)| *n == name).unwrap();
            objects[o]
        };
        let tracked = &inst.config().tracked;
        let fault = tracked.iter().any(|t| t.weight == 0 && !up(&t.name));
        prop_assert_eq!(
            inst.state() == State::Fault,
            fault,
            "instance {} in {:?}, tracking {:?}, objects {:?}",
            i,
            inst.state(),
            tracked,
            objects
        );
        let delta: i64 = tracked
            .iter()
            .map(|t| match (t.weight, up(&t.name)) {
                (w, true) if w > 0 => i64::from(w),
                (w, false) if w < 0 => i64::from(w),
                _ => 0,
            })
            .sum();
        let base = inst.config().priority;
        let want = if base == 255 {
            255
        } else {
            (i64::from(base) + delta).clamp(1, 254) as u8
        };
        prop_assert_eq!(inst.effective_priority(), want, "instance {}", i);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn after_any_faults_one_master_and_no_overlap_while_whole(s in scenario()) {
        run(&s)?;
    }
}
