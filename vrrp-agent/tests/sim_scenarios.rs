//! Multi-router scenarios on the deterministic simulator (virtual time, real codec on the
//! wire). Interval 10 cs unless said otherwise; delivery delay 100 µs.

mod fsm_support;

use std::time::Duration;

use fsm_support::{ms, sim::*};
use vrrp_agent::{
    fsm::{InitialState, Input, Reason, State, master_down_interval, skew_time},
    packet::{Centisecs, Version},
    sim::{NetConfig, Sim},
};

const DELAY: Duration = Duration::from_micros(100);

fn no_overlap_while_whole(sim: &Sim) {
    let settle = 4 * INTERVAL.as_duration() + DELAY;
    for o in sim.ledger().overlaps() {
        if o.whole_for(settle) {
            let end = o.end.unwrap_or(sim.now());
            assert!(
                end - o.start <= DELAY,
                "two owners for {:?} while the network was whole: {o:?}",
                end - o.start
            );
        }
    }
}

#[test]
fn initial_election_elects_the_highest_priority_once() {
    let mut sim = routers(NetConfig::default(), &[r(100), r(150), r(50)]);
    sim.start_all();
    sim.run_for(Duration::from_secs(5));
    assert_eq!(states(&sim), [State::Backup, State::Master, State::Backup]);
    // The highest priority has the shortest skew: its timer fires first and the others hear
    // it before theirs expire, so nobody else was ever master.
    for i in [0, 2] {
        assert!(sim.transitions(i).iter().all(|t| t.2 != State::Master));
    }
    assert!(sim.ledger().overlaps().is_empty());
    let took = sim.transitions(1)[1].0 - sim.start_time();
    assert_eq!(took, master_down_interval(Version::V3, 150, INTERVAL));
}

#[test]
fn master_death_the_next_in_line_takes_over_after_its_master_down_interval() {
    let mut sim = routers(NetConfig::default(), &[r(100), r(150), r(50)]);
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    let last_advert = sim
        .events()
        .iter()
        .rev()
        .find(|e| e.instance == 1 && matches!(e.output, vrrp_agent::fsm::Output::SendAdvert { .. }))
        .expect("the master advertises")
        .at;
    sim.kill_node(1);
    let new = until_one_master(&mut sim, Duration::from_secs(2)).expect("a new master");
    assert_eq!(new, 0, "priority 100 beats 50");
    let outage = sim.now() - last_advert;
    assert_eq!(
        outage,
        DELAY + master_down_interval(Version::V3, 100, INTERVAL),
        "last advert arrives after DELAY, then Master_Down_Interval"
    );
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.masters(0, 1), [0]);
}

#[test]
fn graceful_resign_hands_over_within_skew_time() {
    let mut sim = routers(NetConfig::default(), &[r(100), r(150)]);
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    let t0 = sim.now();
    sim.shutdown(1);
    assert_eq!(sim.state(1), State::Initialize);
    until_one_master(&mut sim, Duration::from_secs(1)).expect("takeover");
    assert_eq!(
        sim.now() - t0,
        DELAY + skew_time(Version::V3, 100, INTERVAL)
    );
    let t = sim.transitions(0);
    assert!(matches!(t.last().unwrap().3, Reason::MasterResigned { .. }));
    no_overlap_while_whole(&sim);
}

#[test]
fn a_higher_priority_router_preempts_when_preempt_is_on() {
    let mut sim = routers(NetConfig::default(), &[r(100), r(200)]);
    sim.start(0);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.masters(0, 1), [0]);
    sim.start(1);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.masters(0, 1), [1]);
    assert_eq!(sim.state(0), State::Backup);
    assert!(matches!(
        sim.transitions(0).last().unwrap().3,
        Reason::HigherPriority { priority: 200, .. }
    ));
    no_overlap_while_whole(&sim);
}

#[test]
fn nopreempt_leaves_a_lower_priority_master_alone() {
    let mut sim = routers(NetConfig::default(), &[nopreempt(100), nopreempt(200)]);
    sim.start(0);
    sim.run_for(Duration::from_secs(1));
    sim.start(1);
    sim.run_for(Duration::from_secs(60));
    assert_eq!(sim.masters(0, 1), [0]);
    assert_eq!(sim.transitions(1).len(), 1, "only Initialize -> Backup");
}

#[test]
fn preempt_delay_postpones_preemption() {
    let mut sim = Sim::new(NetConfig::default());
    let a = sim.add_node("low");
    let b = sim.add_node("high");
    sim.add_instance(a, 0, vr_config(1, r(100)), addr(a));
    let mut high = vr_config(1, r(200));
    high.preempt_delay = Duration::from_secs(5);
    sim.add_instance(b, 0, high, addr(b));
    sim.start(0);
    sim.run_for(Duration::from_secs(1));
    let t0 = sim.now();
    sim.start(1);
    sim.run_until(Duration::from_secs(30), |s| s.masters(0, 1) == [1]);
    let waited = sim.now() - t0;
    assert!(
        waited >= Duration::from_secs(5) && waited <= Duration::from_secs(5) + ms(500),
        "preempted after {waited:?}"
    );
}

#[test]
fn the_address_owner_takes_over_at_once() {
    let mut sim = routers(NetConfig::default(), &[r(100), r(255)]);
    sim.start(0);
    sim.run_for(Duration::from_secs(1));
    let t0 = sim.now();
    sim.start(1);
    assert_eq!(sim.state(1), State::Master, "owner is master at startup");
    sim.run_until(Duration::from_secs(1), |s| s.state(0) == State::Backup);
    assert_eq!(
        sim.now() - t0,
        DELAY,
        "the other steps down on the owner's first advert"
    );
    sim.run_for(Duration::from_secs(5));
    assert_eq!(sim.masters(0, 1), [1]);
}

#[test]
fn equal_priority_masters_resolve_to_the_higher_address() {
    let mut sim = Sim::new(NetConfig::default());
    for n in 0..3 {
        let node = sim.add_node(&format!("r{n}"));
        let mut c = vr_config(1, r(100));
        c.initial_state = InitialState::Master;
        sim.add_instance(node, 0, c, addr(node));
    }
    sim.start_all();
    assert_eq!(sim.masters(0, 1).len(), 3);
    sim.run_for(ms(50));
    assert_eq!(sim.masters(0, 1), [2], "10.0.0.3 is the highest address");
    for i in [0, 1] {
        assert!(matches!(
            sim.transitions(i).last().unwrap().3,
            Reason::HigherAddress { .. }
        ));
    }
}

#[test]
fn a_v3_backup_adopts_the_masters_interval_and_fails_over_at_that_pace() {
    let mut sim = Sim::new(NetConfig::default());
    let a = sim.add_node("fast-master");
    let b = sim.add_node("slow-backup");
    let mut fast = vr_config(1, r(200));
    fast.advert_interval = Centisecs(5);
    let mut slow = vr_config(1, r(100));
    slow.advert_interval = Centisecs(100);
    sim.add_instance(a, 0, fast, addr(a));
    sim.add_instance(b, 0, slow, addr(b));
    sim.start_all();
    sim.run_for(Duration::from_secs(5));
    assert_eq!(sim.instance(1).status().master_adver_interval, Centisecs(5));
    sim.kill_node(a);
    let t0 = sim.now();
    until_one_master(&mut sim, Duration::from_secs(5)).unwrap();
    let took = sim.now() - t0;
    // 3*5 + (156*5)/256 = 18 cs, not its own 3.6 s.
    assert!(
        took <= master_down_interval(Version::V3, 100, Centisecs(5)),
        "{took:?}"
    );
}

#[test]
fn split_brain_heals_to_one_master() {
    let mut sim = routers(NetConfig::default(), &[r(100), r(150), r(120)]);
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.masters(0, 1), [1]);
    sim.isolate(1);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.masters(0, 1), [1, 2], "both sides elect a master");
    sim.heal();
    let t0 = sim.now();
    sim.run_until(Duration::from_secs(2), |s| s.masters(0, 1) == [1]);
    assert_eq!(sim.masters(0, 1), [1]);
    assert!(
        sim.now() - t0 <= INTERVAL.as_duration() + 2 * DELAY,
        "within one interval"
    );
    let overlaps = sim.ledger().overlaps();
    assert_eq!(overlaps.len(), 1);
    assert!(
        overlaps[0].whole_since.is_none(),
        "the only overlap is the partition's"
    );
    sim.run_for(Duration::from_secs(5));
    assert_eq!(sim.masters(0, 1), [1]);
}

#[test]
fn tracked_interface_flap_moves_the_master_and_back() {
    let mut sim = routers(NetConfig::default(), &[r(100), r(150)]);
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    let t0 = sim.now();
    sim.input(
        1,
        Input::Tracked {
            index: 0,
            up: false,
        },
    );
    assert_eq!(sim.state(1), State::Fault);
    until_one_master(&mut sim, Duration::from_secs(1)).unwrap();
    assert_eq!(sim.masters(0, 1), [0]);
    assert_eq!(
        sim.now() - t0,
        DELAY + skew_time(Version::V3, 100, INTERVAL),
        "FAULT sends priority 0"
    );
    sim.run_for(Duration::from_secs(2));
    sim.input(1, Input::Tracked { index: 0, up: true });
    assert_eq!(sim.state(1), State::Backup);
    sim.run_until(Duration::from_secs(2), |s| s.masters(0, 1) == [1]);
    assert_eq!(sim.masters(0, 1), [1], "priority 150 preempts again");
    assert_eq!(sim.state(0), State::Backup);
    no_overlap_while_whole(&sim);
}

#[test]
fn sync_group_members_move_together() {
    let mut sim = Sim::new(NetConfig::default());
    let mut members = Vec::new();
    for (n, prio) in [(0usize, 150u8), (1, 100)] {
        let node = sim.add_node(&format!("r{n}"));
        let a = sim.add_instance(node, 0, vr_config(1, r(prio)), addr(node));
        let b = sim.add_instance(node, 1, vr_config(2, r(prio)), addr(node));
        sim.add_sync_group(node, "G", &[a, b]);
        members.push((a, b));
    }
    sim.start_all();
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.masters(0, 1), [members[0].0]);
    assert_eq!(sim.masters(1, 2), [members[0].1]);

    // One member of the master faults: the whole group goes to FAULT and the other node
    // takes both VRIDs.
    sim.input(
        members[0].0,
        Input::Tracked {
            index: 0,
            up: false,
        },
    );
    assert_eq!(sim.state(members[0].1), State::Fault);
    assert!(matches!(
        sim.transitions(members[0].1).last().unwrap().3,
        Reason::SyncGroup { .. }
    ));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.masters(0, 1), [members[1].0]);
    assert_eq!(sim.masters(1, 2), [members[1].1]);

    // The fault clears: both leave FAULT and, preempting, take both VRIDs back.
    sim.input(members[0].0, Input::Tracked { index: 0, up: true });
    assert_eq!(sim.state(members[0].1), State::Backup);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.masters(0, 1), [members[0].0]);
    assert_eq!(sim.masters(1, 2), [members[0].1]);
}

#[test]
fn sync_group_goes_master_only_when_every_member_wants_to() {
    let mut sim = Sim::new(NetConfig::default());
    let node = sim.add_node("r0");
    let a = sim.add_instance(node, 0, vr_config(1, r(100)), addr(node));
    let b = sim.add_instance(node, 1, vr_config(2, r(100)), addr(node));
    sim.add_sync_group(node, "G", &[a, b]);
    // Another node is master of VRID 2 only (on b's segment).
    let other = sim.add_node("r1");
    let o = sim.add_instance(other, 1, vr_config(2, r(200)), addr(other));
    sim.start_all();
    sim.run_for(Duration::from_secs(30));
    // `a` hears nobody and wants MASTER; `b` hears a higher master and does not: the group
    // prefers BACKUP to thrashing (keepalived's rule), so nobody in it ever moves.
    assert!(sim.instance(a).wants_master());
    assert!(!sim.instance(b).wants_master());
    assert_eq!((sim.state(a), sim.state(b)), (State::Backup, State::Backup));
    assert_eq!(sim.transitions(a).len(), 1, "only Initialize -> Backup");
    assert_eq!(sim.transitions(b).len(), 1, "only Initialize -> Backup");
    assert_eq!(sim.masters(1, 2), [o]);

    // The other master goes away: now both members want MASTER, and they go together.
    sim.kill_node(other);
    let t0 = sim.now();
    sim.run_until(Duration::from_secs(2), |s| s.state(b) == State::Master);
    assert_eq!((sim.state(a), sim.state(b)), (State::Master, State::Master));
    let (ta, tb) = (sim.transitions(a), sim.transitions(b));
    assert_eq!(
        ta.last().unwrap().0,
        tb.last().unwrap().0,
        "promoted at the same instant"
    );
    assert!(sim.now() - t0 <= master_down_interval(Version::V3, 100, INTERVAL) + DELAY);
}

#[test]
fn vrrpv2_with_password_and_ipv6_v3_elect_as_well() {
    let mut sim = Sim::new(NetConfig::default());
    for n in 0..2usize {
        let node = sim.add_node(&format!("r{n}"));
        let mut v2 = vr_config(1, r(100 + n as u8));
        v2.version = Version::V2;
        v2.advert_interval = Centisecs::from_secs(1);
        v2.auth = vrrp_agent::packet::Auth::simple("secret12");
        sim.add_instance(node, 0, v2, addr(node));
        let mut v6 = vrrp_agent::fsm::InstanceConfig::new("VR6", 9, "fd00::100".parse().unwrap());
        v6.priority = 100 + n as u8;
        v6.advert_interval = INTERVAL;
        sim.add_instance(node, 1, v6, format!("fe80::{}", n + 1).parse().unwrap());
    }
    sim.start_all();
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.masters(0, 1), [2]);
    assert_eq!(sim.masters(1, 9), [3]);
    for i in 0..4 {
        assert_eq!(
            sim.instance(i).counters().rx_errors.total(),
            0,
            "instance {i}"
        );
    }
    assert!(sim.instance(0).counters().adverts_rx > 5);
}

/// VRRPv2 with AH (keepalived's `auth_type AH`): the adverts travel as whole IPv4 packets
/// with their ICV, and the sequence numbers follow keepalived's rule through everything that
/// moves mastership: an election, a killed master, a restart (fresh counter), a split brain
/// and its healing. Exactly one master at the end of each phase, and no advert of a live
/// master ever refused as a replay while the network was whole.
#[test]
fn vrrpv2_with_ah_keeps_one_master_through_kills_restarts_and_partitions() {
    let mut sim = Sim::new(NetConfig::default());
    let mut nodes = Vec::new();
    for n in 0..3usize {
        let node = sim.add_node(&format!("r{n}"));
        let mut c = vr_config(1, r(100 + n as u8));
        c.version = Version::V2;
        c.advert_interval = Centisecs::from_secs(1);
        c.auth = vrrp_agent::packet::Auth::ah("secret12");
        sim.add_instance(node, 0, c, addr(node));
        nodes.push(node);
    }
    let replays = |sim: &Sim| -> u64 {
        (0..3)
            .map(|i| sim.instance(i).counters().rx_errors.get("auth_replay"))
            .sum()
    };
    sim.start_all();
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.masters(0, 1), [2]);
    assert!(sim.instance(0).counters().adverts_rx >= 5);

    // The master dies; the next one continues its numbers; the dead one comes back (counter
    // 0), follows, and preempts again (highest priority) with numbers the others accept.
    sim.kill_node(nodes[2]);
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.masters(0, 1), [1]);
    let seq_before = sim.instance(1).ah_sequence();
    sim.restart_node(nodes[2]);
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.masters(0, 1), [2]);
    assert!(sim.instance(2).ah_sequence() > seq_before);
    assert_eq!(replays(&sim), 0, "nothing refused while whole");

    // Split brain: r0 alone becomes master too, counting from its own number. Healed, the
    // two masters accept each other's newer numbers (or follow them) and one remains.
    sim.isolate(nodes[0]);
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.masters(0, 1).len(), 2);
    sim.heal();
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.masters(0, 1), [2]);
    assert!(sim.instance(0).counters().rx_errors.get("auth_failure") == 0);
    no_overlap_while_whole(&sim);
}

#[test]
fn many_routers_and_vrids_in_one_simulation() {
    // 8 nodes, 50 VRIDs each on one segment: 400 state machines.
    let mut sim = Sim::new(NetConfig::default());
    for n in 0..8usize {
        let node = sim.add_node(&format!("r{n}"));
        for vrid in 1..=50u8 {
            let prio = 1 + ((n * 37 + vrid as usize * 11) % 200) as u8;
            sim.add_instance(node, 0, vr_config(vrid, r(prio)), addr(node));
        }
    }
    sim.start_all();
    sim.run_for(Duration::from_secs(5));
    for vrid in 1..=50u8 {
        let masters = sim.masters(0, vrid);
        assert_eq!(masters.len(), 1, "vrid {vrid}");
        let best = (0..sim.instance_count())
            .filter(|i| sim.instance(*i).config().vrid == vrid)
            .max_by_key(|i| (sim.instance(*i).config().priority, sim.primary_of(*i)))
            .unwrap();
        assert_eq!(masters[0], best, "vrid {vrid}");
    }
}

// ---- the data-plane lease of a killed master ----------------------------------------------

/// The silence between a killed master's lease running out (its last advert plus the lease
/// it had then) and the new master owning.
fn fencing_gap(sim: &Sim, old: usize, new: usize, lease: Duration) -> Duration {
    let last = |i: usize, pred: &dyn Fn(&vrrp_agent::fsm::Output) -> bool| {
        sim.events()
            .iter()
            .rev()
            .find(|e| e.instance == i && pred(&e.output))
            .map(|e| e.at)
            .expect("event")
    };
    let expired = last(old, &|o| {
        matches!(o, vrrp_agent::fsm::Output::SendAdvert { .. })
    }) + lease;
    let owned = last(new, &|o| {
        matches!(o, vrrp_agent::fsm::Output::SetOwnership { owned: true, .. })
    });
    owned
        .checked_duration_since(expired)
        .expect("the new master owned before the old lease ran out")
}

#[test]
fn killed_master_fences_itself_just_before_an_equal_priority_backup_takes_over() {
    // Neutron's shape: equal priorities, nopreempt. The lease is the backup's own
    // Master_Down_Interval counted from before the last advert: it runs out first, and the
    // silence in between is only the delivery delay.
    let mut sim = routers(NetConfig::default(), &[nopreempt(50), nopreempt(50)]);
    sim.start(0);
    sim.run_for(Duration::from_secs(1));
    sim.start(1);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(states(&sim), [State::Master, State::Backup]);
    let lease = sim.instance(0).fencing_lease();
    assert_eq!(lease, master_down_interval(Version::V3, 50, INTERVAL));
    sim.kill_node(0);
    until_one_master(&mut sim, Duration::from_secs(2)).expect("takeover");
    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.ledger().overlaps().is_empty(),
        "{:?}",
        sim.ledger().overlaps()
    );
    assert_eq!(
        fencing_gap(&sim, 0, 1, lease),
        DELAY,
        "silent only for the delivery"
    );
}

#[test]
fn killed_master_that_heard_a_higher_priority_fences_by_that_routers_timer() {
    // r1 (100) was master and r2 (90) heard it; r1 dies, r2 takes over; r1 comes back as
    // backup (nopreempt) with the shorter skew. r2's lease follows priority 100, so when r2
    // dies in turn, r1 does not find it still forwarding.
    let mut sim = routers(NetConfig::default(), &[nopreempt(100), nopreempt(90)]);
    sim.start(0);
    sim.run_for(Duration::from_secs(1));
    sim.start(1);
    sim.run_for(Duration::from_secs(1));
    sim.kill_node(0);
    assert_eq!(until_one_master(&mut sim, Duration::from_secs(2)), Some(1));
    sim.run_for(Duration::from_secs(1));
    sim.restart_node(0);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(states(&sim), [State::Backup, State::Master]);
    assert_eq!(
        sim.instance(1).fencing_lease(),
        master_down_interval(Version::V3, 100, INTERVAL)
    );
    sim.kill_node(1);
    assert_eq!(until_one_master(&mut sim, Duration::from_secs(2)), Some(0));
    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.ledger().overlaps().is_empty(),
        "{:?}",
        sim.ledger().overlaps()
    );
}

#[test]
fn an_unheard_higher_priority_backup_waits_out_the_lease_of_the_master_it_follows() {
    // r2 (200, nopreempt) starts after r1 (50) is master and never advertises, so r1 cannot
    // know that a backup with a shorter skew exists: its lease lasts r1's own master-down
    // interval. r2 follows a master of lower priority, so it times it out with that master's
    // skew, not its own (once an overlap of up to the skew difference, here 0.4 of an
    // interval; the property tests found the same through a reload that raised a backup's
    // priority).
    let mut sim = routers(NetConfig::default(), &[nopreempt(50), nopreempt(200)]);
    sim.start(0);
    sim.run_for(Duration::from_secs(1));
    sim.start(1);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(states(&sim), [State::Master, State::Backup]);
    sim.kill_node(0);
    assert_eq!(
        until_one_master(&mut sim, Duration::from_secs(2)),
        Some(1),
        "takeover"
    );
    sim.run_for(Duration::from_secs(1));
    let overlaps = sim.ledger().overlaps();
    assert!(overlaps.is_empty(), "{overlaps:?}");
}
