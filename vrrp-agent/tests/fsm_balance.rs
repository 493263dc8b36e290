//! Balancing in one node's router, by hand (see `vrrp_agent::fsm::balance`): the priority a
//! balanced instance advertises is its node's load, a backup asks for a move when the
//! master's node is busier by 2 + H, the node grants one move at a time after one advert
//! interval, the granted backup takes over on the third wanting advert with
//! `Reason::Balance`, then a cooldown; a balanced master is the priority of its last
//! scheduled advert until the next one. Pure: virtual time.

// An arbitrary origin for virtual time (see vrrp-agent/clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use vrrp_agent::{
    fsm::{
        BalanceSettings, ConfigError, InstanceConfig, InstanceId, MemberSpec, Output, Packet,
        Reason, Router, RouterError, RxPolicy, State, balance, master_down_interval,
    },
    packet::{Advert, Auth, Centisecs, RxMeta, VRRP_GROUP_V4, VRRP_TTL, Version},
};

type R = Router<&'static str, &'static str>;

const US: &str = "10.0.0.1";
const PEER: &str = "10.0.0.2";
const SECOND: Duration = Duration::from_secs(1);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Neutron's shape (priority 50, nopreempt), 1 s, with `balance`.
fn config(vrid: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new(&format!("VR_{vrid}"), vrid, ip("10.0.0.100"));
    c.priority = 50;
    c.preempt = false;
    c.balance = true;
    c
}

fn add(r: &mut R, c: InstanceConfig, now: Instant) -> InstanceId {
    let spec = MemberSpec {
        config: c,
        socket: "eth0",
        tracks: Vec::new(),
        rx: RxPolicy::default(),
    };
    let id = r.add_instance(spec, ip(US), now).unwrap();
    r.start(id, false, now);
    id
}

fn outputs(r: &mut R) -> Vec<(InstanceId, Output)> {
    std::iter::from_fn(|| r.poll_output()).collect()
}

/// An advert of VRID `vrid` with `priority` from `src` arrives at `now`; the outputs.
fn advert(r: &mut R, src: &str, vrid: u8, priority: u8, now: Instant) -> Vec<(InstanceId, Output)> {
    let bytes = Advert {
        version: Version::V3,
        vrid,
        priority,
        interval: Centisecs(100),
        addresses: vec![ip("10.0.0.100")],
        auth: Auth::None,
    }
    .encode(ip(src), IpAddr::V4(VRRP_GROUP_V4))
    .unwrap();
    let packet = Packet {
        vrrp: &bytes,
        ah: None,
        meta: RxMeta {
            src: ip(src),
            dst: IpAddr::V4(VRRP_GROUP_V4),
            ttl: VRRP_TTL,
        },
    };
    r.receive(&"eth0", packet, now);
    outputs(r)
}

fn state(r: &R, id: InstanceId) -> State {
    r.instance(id).unwrap().state()
}

fn sent_priorities(out: &[(InstanceId, Output)]) -> Vec<u8> {
    out.iter()
        .filter_map(|(_, o)| match o {
            Output::SendAdvert { advert, .. } => Some(advert.priority),
            _ => None,
        })
        .collect()
}

/// Fires the router's timers up to `until`; the outputs.
fn run(r: &mut R, until: Instant) -> Vec<(InstanceId, Output)> {
    let mut out = Vec::new();
    while let Some(t) = r.poll_timeout().filter(|t| *t <= until) {
        r.handle_timeout(t);
        out.extend(outputs(r));
    }
    out
}

#[test]
fn a_backup_asks_is_granted_after_one_interval_and_takes_over_on_the_third_wanting_advert() {
    let t0 = Instant::now();
    let mut r = R::new();
    let a = add(&mut r, config(1), t0);
    outputs(&mut r);
    // The master's node is master for 3 routers; ours for none: 3 − 0 ≥ 2.
    let busy = balance::priority(3);
    let out = advert(&mut r, PEER, 1, busy, t0);
    assert!(
        out.iter()
            .any(|(i, o)| *i == a && *o == Output::BalanceWanted)
    );
    assert_eq!(r.poll_timeout(), Some(t0 + SECOND), "gathers one interval");
    assert_eq!(r.balance_status().moving, None);
    run(&mut r, t0 + SECOND);
    assert!(r.instance(a).unwrap().balance_granted());
    assert_eq!(r.balance_status().moving.as_deref(), Some("VR_1"));

    for k in 1..balance::CONFIRM {
        let out = advert(&mut r, PEER, 1, busy, t0 + SECOND * u32::from(k));
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(state(&r, a), State::Backup);
    }
    let at = t0 + SECOND * u32::from(balance::CONFIRM);
    let out = advert(&mut r, PEER, 1, busy, at);
    assert_eq!(state(&r, a), State::Master);
    let Output::Transition { reason, .. } = &out[0].1 else {
        panic!("{out:?}");
    };
    assert_eq!(
        *reason,
        Reason::Balance {
            from: ip(PEER),
            from_load: 3,
            to_load: 1
        }
    );
    // It advertises its node's new load (1), under the lease of the highest balance
    // priority.
    assert_eq!(sent_priorities(&out), [balance::priority(1)]);
    let lease = master_down_interval(Version::V3, balance::TOP, Centisecs(100));
    assert!(out.contains(&(a, Output::RenewLease(lease))));
    assert_eq!(r.instance(a).unwrap().fencing_lease(), lease);

    let status = r.balance_status();
    assert_eq!((status.balanced, status.masters, status.moves), (1, 1, 1));
    assert_eq!(status.moving, None);
    let last = status.last_move.unwrap();
    assert_eq!((last.from, last.from_load, last.to_load), (ip(PEER), 3, 1));
    let cooldown = 2 * master_down_interval(Version::V3, balance::TOP, Centisecs(100));
    assert_eq!(status.cooldown_until, Some(at + cooldown));
}

#[test]
fn without_two_more_on_the_masters_node_it_follows_even_with_preempt() {
    let t0 = Instant::now();
    let mut r = R::new();
    let mut c = config(1);
    c.preempt = true;
    let a = add(&mut r, c, t0);
    outputs(&mut r);
    // A master of load 1 looks like priority 253; ours would be 253 too: no move, and no
    // RFC preemption either (its priority is not below ours).
    for k in 0..10 {
        let out = advert(&mut r, PEER, 1, balance::priority(1), t0 + SECOND * k);
        assert!(out.is_empty(), "{out:?}");
    }
    assert_eq!(state(&r, a), State::Backup);
    assert_eq!(r.poll_timeout().map(|t| t > t0 + SECOND * 9), Some(true));
    // An address owner is never wanted.
    assert!(advert(&mut r, PEER, 1, 255, t0 + SECOND * 10).is_empty());
}

#[test]
fn hysteresis_asks_for_two_plus_h() {
    let t0 = Instant::now();
    let mut r = R::new();
    r.set_balance(
        BalanceSettings {
            hysteresis: 2,
            cooldown: None,
        },
        t0,
    );
    let a = add(&mut r, config(1), t0);
    outputs(&mut r);
    assert!(advert(&mut r, PEER, 1, balance::priority(3), t0).is_empty());
    let out = advert(&mut r, PEER, 1, balance::priority(4), t0 + SECOND);
    assert_eq!(out, [(a, Output::BalanceWanted)]);
}

#[test]
fn one_move_at_a_time_and_a_cooldown_after_each() {
    let t0 = Instant::now();
    let mut r = R::new();
    let cooldown = Duration::from_secs(20);
    r.set_balance(
        BalanceSettings {
            hysteresis: 0,
            cooldown: Some(cooldown),
        },
        t0,
    );
    let ids: Vec<InstanceId> = (1..=3).map(|v| add(&mut r, config(v), t0)).collect();
    outputs(&mut r);
    let busy = balance::priority(6);
    let mut t = t0;
    let mut moved_at = Vec::new();
    for _ in 0..60 {
        for vrid in 1..=3u8 {
            let id = ids[usize::from(vrid - 1)];
            if state(&r, id) == State::Backup {
                let out = advert(&mut r, PEER, vrid, busy, t);
                if state(&r, id) == State::Master {
                    moved_at.push((t, out[0].0));
                }
            }
        }
        let granted = ids
            .iter()
            .filter(|id| r.instance(**id).unwrap().balance_granted())
            .count();
        assert!(granted <= 1, "one move in progress at most");
        t += SECOND;
        run(&mut r, t);
    }
    // 6 − 0, then 6 − 1 (the peer keeps advertising load 6): every router moves, one at a
    // time, each a cooldown after the one before.
    assert_eq!(moved_at.len(), 3, "{moved_at:?}");
    for w in moved_at.windows(2) {
        assert!(w[1].0 - w[0].0 >= cooldown, "{moved_at:?}");
    }
    assert_eq!(r.balance_status().masters, 3);
    assert_eq!(r.balance_status().moves, 3);
}

#[test]
fn a_master_is_the_priority_of_its_last_scheduled_advert_until_the_next() {
    let t0 = Instant::now();
    let mut r = R::new();
    let a = add(&mut r, config(1), t0);
    outputs(&mut r);
    // Nobody else: master after the master-down interval, advertising load 1.
    let out = run(&mut r, t0 + 4 * SECOND);
    assert_eq!(state(&r, a), State::Master);
    assert_eq!(sent_priorities(&out), [balance::priority(1)]);
    let mastered = r.instance(a).unwrap().status().last_transition.unwrap().0;
    // A second router of the node becomes master: load 2.
    let b = add(&mut r, config(2), mastered);
    run(&mut r, mastered + 4 * SECOND - Duration::from_millis(1));
    assert_eq!(state(&r, b), State::Master);
    assert_eq!(r.balance_status().masters, 2);
    assert_eq!(
        r.instance(a).unwrap().election_priority(),
        balance::priority(2)
    );
    // Between its scheduled adverts, A answers a lower master with what it advertised last,
    // and a peer at that very priority with a lower address does not move it.
    let now = mastered + 4 * SECOND - Duration::from_millis(1);
    let lower = advert(&mut r, "10.0.0.0", 1, balance::priority(2), now);
    assert_eq!(sent_priorities(&lower), [balance::priority(1)]);
    assert_eq!(state(&r, a), State::Master);
    // Its next scheduled advert (an interval after the answer) says load 2; a peer at that
    // priority with a higher address then wins the tie.
    let out = run(&mut r, now + SECOND);
    assert_eq!(
        sent_priorities(&out),
        [balance::priority(2); 2],
        "A's and B's"
    );
    let out = advert(&mut r, PEER, 1, balance::priority(2), now + SECOND);
    assert_eq!(state(&r, a), State::Backup);
    assert!(matches!(
        out[0].1,
        Output::Transition {
            reason: Reason::HigherAddress { .. },
            ..
        }
    ));
    assert_eq!(r.balance_status().masters, 1);
}

#[test]
fn balance_refuses_an_address_owner_and_sync_groups() {
    let now = Instant::now();
    let mut r = R::new();
    let mut owner = config(1);
    owner.priority = 255;
    let spec = |c| MemberSpec {
        config: c,
        socket: "eth0",
        tracks: Vec::new(),
        rx: RxPolicy::default(),
    };
    assert!(matches!(
        r.add_instance(spec(owner), ip(US), now),
        Err(RouterError::Config(ConfigError::BalanceOwner { .. }))
    ));
    let mut grouped = config(1);
    grouped.sync_group = Some("G".into());
    assert!(matches!(
        r.add_instance(spec(grouped), ip(US), now),
        Err(RouterError::Config(ConfigError::BalanceSyncGroup { .. }))
    ));
}

#[test]
fn an_instance_without_balance_beside_balanced_ones_neither_counts_nor_moves() {
    let t0 = Instant::now();
    let mut r = R::new();
    let mut plain = config(1);
    plain.balance = false;
    plain.priority = 100;
    let p = add(&mut r, plain, t0);
    let b = add(&mut r, config(2), t0);
    outputs(&mut r);
    let out = run(&mut r, t0 + 4 * SECOND);
    assert_eq!((state(&r, p), state(&r, b)), (State::Master, State::Master));
    // The plain one advertises its configured priority; the balanced one a load of 1.
    assert_eq!(
        r.instance(p).unwrap().election_priority(),
        r.instance(p).unwrap().effective_priority()
    );
    assert!(sent_priorities(&out).contains(&100));
    assert!(sent_priorities(&out).contains(&balance::priority(1)));
    let status = r.balance_status();
    assert_eq!((status.balanced, status.masters), (1, 1));
    assert!(!out.iter().any(|(_, o)| *o == Output::BalanceWanted));
}
