//! Balancing scenarios on the deterministic simulator (see `vrrp_agent::fsm::balance`):
//! Neutron's shape (priority 50, nopreempt) with `balance` on. Interval 10 cs, delay 100 µs.

mod fsm_support;

use std::time::{Duration, Instant};

use fsm_support::sim::*;
use vrrp_agent::{
    fsm::{Output, Reason, State, balance},
    sim::{NetConfig, Sim},
};

const ROUTERS: usize = 30;

fn balance_moves(sim: &Sim) -> Vec<(usize, usize, usize)> {
    sim.events()
        .iter()
        .filter_map(|e| match &e.output {
            Output::Transition {
                to: State::Master,
                reason:
                    Reason::Balance {
                        from_load, to_load, ..
                    },
                ..
            } => Some((e.instance, *from_load, *to_load)),
            _ => None,
        })
        .collect()
}

/// Transitions into MASTER since `from`: (instance, reason).
fn takeovers_since(sim: &Sim, from: Instant) -> Vec<(usize, Reason)> {
    sim.events()
        .iter()
        .filter(|e| e.at >= from)
        .filter_map(|e| match &e.output {
            Output::Transition {
                to: State::Master,
                reason,
                ..
            } => Some((e.instance, reason.clone())),
            _ => None,
        })
        .collect()
}

fn transitions_since(sim: &Sim, from: Instant) -> usize {
    sim.events()
        .iter()
        .filter(|e| e.at >= from && matches!(e.output, Output::Transition { .. }))
        .count()
}

/// Every overlap of owners lasted one delivery at most (the old master steps down on the
/// first advert of the new one).
fn overlaps_within_one_delivery(sim: &Sim) {
    for o in sim.ledger().overlaps() {
        let end = o.end.unwrap_or(sim.now());
        assert!(
            end - o.start <= DELAY,
            "two owners for {:?}: {o:?}",
            end - o.start
        );
    }
}

/// Each node's status counts exactly the balance takeovers of its instances.
fn status_counts_every_move(sim: &Sim) {
    for n in 0..sim.node_count() {
        let moves = balance_moves(sim)
            .iter()
            .filter(|(i, ..)| sim.node_of(*i) == n)
            .count();
        // A restarted node's router counts from its restart.
        let status = sim.balance_status(n);
        assert!(status.moves as usize <= moves, "node {n}: {status:?}");
        if let Some(last) = &status.last_move {
            assert!(last.from_load > last.to_load, "{last:?}");
        }
    }
}

const DELAY: Duration = Duration::from_micros(100);

/// Virtual time allowed for 30 routers to spread over 3 nodes from 30/0/0: each taking node
/// makes 10 moves, one at a time, each taking at most a gather interval, the confirming
/// adverts and the cooldown (2 × Master_Down_Interval): about 1 s at 10 cs.
const SPREAD: Duration = Duration::from_secs(15);

#[test]
fn thirty_routers_started_on_one_node_spread_ten_ten_ten_and_again_after_a_node_returns() {
    let mut sim = balanced_cluster(NetConfig::default(), 3, ROUTERS);
    for i in node_instances(0, ROUTERS) {
        sim.start(i);
    }
    sim.run_for(Duration::from_secs(2));
    assert_eq!(masters_per_node(&sim), [30, 0, 0]);
    assert_eq!(sim.balance_status(0).masters, 30);

    // Nodes 1 and 2 start later (Neutron: nopreempt would leave everything on node 0).
    for n in [1, 2] {
        for i in node_instances(n, ROUTERS) {
            sim.start(i);
        }
    }
    let t0 = sim.now();
    assert!(sim.run_until(SPREAD, |s| balanced(s, ROUTERS)));
    let took = sim.now() - t0;
    sim.run_for(Duration::from_secs(2));
    assert_eq!(masters_per_node(&sim), [10, 10, 10]);
    // Exactly the 20 moves needed, every one a balance takeover from the busier node, and
    // the old master stepping down on the new one's higher priority.
    let moves = takeovers_since(&sim, t0);
    assert_eq!(moves.len(), 20, "{moves:?}");
    for (i, reason) in &moves {
        assert_ne!(sim.node_of(*i), 0);
        let Reason::Balance {
            from_load, to_load, ..
        } = reason
        else {
            panic!("instance {i}: {reason:?}");
        };
        assert!(from_load > to_load, "{reason:?}");
    }
    for i in node_instances(0, ROUTERS) {
        if sim.state(i) == State::Backup {
            assert!(matches!(
                sim.transitions(i).last().unwrap().3,
                Reason::HigherPriority { .. }
            ));
        }
    }
    assert_eq!(
        sim.balance_status(1).moves + sim.balance_status(2).moves,
        20
    );
    status_counts_every_move(&sim);
    println!("30/0/0 -> 10/10/10: {took:?}, {} moves", moves.len());

    // Node 1 dies: its 10 routers fail over (master-down), then the two others even out.
    let t1 = sim.now();
    sim.kill_node(1);
    assert!(sim.run_until(SPREAD, |s| balanced(s, ROUTERS)));
    let took = sim.now() - t1;
    sim.run_for(Duration::from_secs(2));
    assert_eq!(masters_per_node(&sim), [15, 0, 15]);
    let after_kill = takeovers_since(&sim, t1);
    let failovers = after_kill
        .iter()
        .filter(|(_, r)| *r == Reason::MasterDown)
        .count();
    assert!(failovers >= 10, "{after_kill:?}");
    assert!(
        after_kill
            .iter()
            .all(|(_, r)| matches!(r, Reason::MasterDown | Reason::Balance { .. })),
        "{after_kill:?}"
    );
    println!(
        "kill: {took:?} to 15/15, {failovers} failovers, {} moves",
        after_kill.len() - failovers
    );

    // It returns: 10/10/10 again, by balance moves only.
    let t2 = sim.now();
    sim.restart_node(1);
    assert!(sim.run_until(SPREAD, |s| balanced(s, ROUTERS)));
    let took = sim.now() - t2;
    sim.run_for(Duration::from_secs(2));
    assert_eq!(masters_per_node(&sim), [10, 10, 10]);
    let back = takeovers_since(&sim, t2);
    assert!(
        back.iter()
            .all(|(i, r)| sim.node_of(*i) == 1 && matches!(r, Reason::Balance { .. })),
        "{back:?}"
    );
    assert_eq!(back.len(), 10);
    assert_eq!(sim.balance_status(1).moves, 10);
    status_counts_every_move(&sim);
    println!("restart: {took:?} to 10/10/10, {} moves", back.len());

    // Steady state: nothing moves any more.
    let quiet = sim.now();
    sim.run_for(Duration::from_secs(120));
    assert_eq!(transitions_since(&sim, quiet), 0);
    overlaps_within_one_delivery(&sim);
}

/// Node 0 is master for all 4 routers; node 1 starts and wants 2 of them. Runs until node 1
/// has been granted its first move; returns the VRID and when.
fn until_first_grant(sim: &mut Sim) -> (u8, Instant) {
    for i in node_instances(0, 4) {
        sim.start(i);
    }
    sim.run_for(Duration::from_secs(2));
    assert_eq!(masters_per_node(sim), [4, 0]);
    for i in node_instances(1, 4) {
        sim.start(i);
    }
    assert!(sim.run_until(Duration::from_secs(5), |s| {
        s.balance_status(1).moving.is_some()
    }));
    let name = sim.balance_status(1).moving.unwrap();
    let vrid: u8 = name.trim_start_matches("VR_").parse().unwrap();
    (vrid, sim.now())
}

#[test]
fn a_master_killed_during_a_move_fails_over_after_its_lease() {
    // The granted backup follows the master while it confirms: when the master dies, it
    // takes over on master-down like any backup, after the dead master's lease.
    let mut sim = balanced_cluster(NetConfig::default(), 2, 4);
    let (_, granted) = until_first_grant(&mut sim);
    sim.run_for(INTERVAL.as_duration());
    sim.kill_node(0);
    sim.run_for(Duration::from_secs(3));
    assert_eq!(masters_per_node(&sim), [0, 4]);
    assert!(
        takeovers_since(&sim, granted)
            .iter()
            .all(|(_, r)| *r == Reason::MasterDown)
    );
    assert!(
        sim.ledger().overlaps().is_empty(),
        "{:?}",
        sim.ledger().overlaps()
    );
}

#[test]
fn a_master_killed_with_the_advert_that_completes_a_move_in_flight_forwards_until_its_lease() {
    // The race of any preemption: the master sends the advert on which the backup takes
    // over, and dies before it hears the new master. Its data plane forwards until its lease
    // runs out (the property tests allow exactly this).
    let mut sim = balanced_cluster(NetConfig::default(), 2, 4);
    let (vrid, granted) = until_first_grant(&mut sim);
    let master = usize::from(vrid) - 1;
    let sent = |s: &Sim| {
        s.events()
            .iter()
            .filter(|e| {
                e.instance == master
                    && e.at > granted
                    && matches!(e.output, Output::SendAdvert { .. })
            })
            .count()
    };
    assert!(sim.run_until(Duration::from_secs(5), |s| sent(s)
        == usize::from(balance::CONFIRM)));
    let killed = sim.now();
    sim.kill_node(0);
    sim.run_for(Duration::from_secs(1));
    let taker = node_instances(1, 4).start + master;
    assert!(matches!(
        sim.transitions(taker).last().unwrap().3,
        Reason::Balance { .. }
    ));
    let overlaps = sim.ledger().overlaps();
    assert_eq!(overlaps.len(), 1, "{overlaps:?}");
    let o = &overlaps[0];
    assert_eq!(o.start, killed + DELAY);
    let lease = sim.instance(master).fencing_lease();
    assert_eq!(
        o.end,
        Some(killed + lease),
        "until the lease of its last advert"
    );
}

#[test]
fn a_healed_partition_resolves_in_one_interval_and_stays_balanced() {
    // 5/5; cut apart, each node masters all 10; healed, every router has two masters. Each
    // pair resolves on its first exchange of adverts (priority, then address): as a node
    // loses routers its next scheduled adverts say so, so it keeps the later ones, and the
    // outcome is already within one of even.
    let mut sim = balanced_cluster(NetConfig::default(), 2, 10);
    sim.start_all();
    assert!(sim.run_until(SPREAD, |s| balanced(s, 10)));
    sim.run_for(Duration::from_secs(2));
    assert_eq!(masters_per_node(&sim), [5, 5]);
    sim.partition(&[0], &[1]);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(masters_per_node(&sim), [10, 10]);
    sim.heal();
    let healed = sim.now();
    sim.run_for(INTERVAL.as_duration() + DELAY);
    assert!(balanced(&sim, 10), "{:?}", masters_per_node(&sim));
    let resolved = sim.now();
    sim.run_for(Duration::from_secs(30));
    assert!(balanced(&sim, 10), "{:?}", masters_per_node(&sim));
    assert_eq!(
        takeovers_since(&sim, healed),
        [],
        "nobody took over: the masters of the partition stepped down"
    );
    assert_eq!(transitions_since(&sim, resolved), 0);
    for o in sim.ledger().overlaps() {
        if o.whole_since.is_some() {
            let end = o.end.unwrap_or(sim.now());
            assert!(end - o.start <= DELAY, "{o:?}");
        } else {
            // The partition's: each ends at the first exchange after the heal.
            assert!(
                o.end
                    .is_some_and(|e| e <= healed + INTERVAL.as_duration() + DELAY),
                "{o:?}"
            );
        }
    }
}
