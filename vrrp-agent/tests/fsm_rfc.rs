//! One test per RFC 9568 (VRRPv3, which obsoletes RFC 5798 and keeps its section numbers) /
//! RFC 3768 (VRRPv2) rule, named after its section, on a single state machine driven with
//! virtual time. RFC 9568 renames Master to Active Router (Master_Down_Interval to
//! Active_Down_Interval ...); the code and these names keep keepalived's MASTER.
//! The changes RFC 9568 made have tests of their own, marked "RFC 9568 change": the checksum
//! forms (`fsm_checksum.rs` and `codec_checksum.rs`), Skew_Time recomputed with the adopted
//! interval, the immediate advert against a lower-priority Active Router, rate-limited logs
//! of refused adverts, of a mismatched address list or interval, and of a second owner.
//! Timings for the default config (v3, priority 100, 1 s):
//! Skew_Time = (256-100)*100/256 = 60 cs, Master_Down_Interval = 300 + 60 = 360 cs.

mod fsm_support;

use std::net::IpAddr;

use fsm_support::*;
use vrrp_agent::{
    fsm::{InitialState, Input, NOTICE_RATE_LIMIT, Notice, Output, Reason, State, VirtualRoute},
    packet::{Advert, Auth, Centisecs, DecodeError, Version},
};

const DOWN: u64 = 3600; // ms
const SKEW: u64 = 600; // ms

#[test]
fn rfc9568_6_4_1_startup_non_owner_enters_backup_with_master_down_timer() {
    let (h, out) = Harness::started(config());
    assert_eq!(h.state(), State::Backup);
    assert_eq!(transitions(&out), [(State::Initialize, State::Backup)]);
    // No advert, no gratuitous ARP; what a killed earlier run may have left goes (below).
    assert_eq!(
        kinds(&out),
        [
            "transition",
            "disown",
            "remove_addresses",
            "write_state",
            "notify"
        ]
    );
    assert_eq!(h.next_deadline_in(), Some(ms(DOWN)));
}

/// Not an RFC rule: a run killed while master (kill -9: no release) leaves its addresses and
/// routes on the interfaces; the next run, starting as BACKUP (or in FAULT), must not hold
/// them next to the real master, so it removes every configured one, and its data plane
/// ownership, before anything else.
#[test]
fn starting_as_backup_or_in_fault_removes_what_a_killed_run_left() {
    let mut c = config();
    c.routes = vec![VirtualRoute {
        dst: "198.51.100.0".parse().unwrap(),
        prefix_len: 24,
        via: None,
        dev: None,
        scope: None,
        protocol: None,
        table: None,
        metric: None,
        src: None,
        no_track: false,
    }];
    let (_, out) = Harness::started(c.clone());
    assert_eq!(
        kinds(&out)[1..4],
        ["disown", "remove_routes", "remove_addresses"]
    );
    assert!(
        out.iter().any(
            |o| matches!(o, Output::RemoveAddresses(list) if list.iter().any(|a| a.addr == VIP))
        ),
        "the configured address goes: {out:?}"
    );
    c.tracked = vec![vrrp_agent::fsm::TrackedObject {
        name: "ha-link".into(),
        weight: 0,
    }];
    let mut h = Harness::new(c);
    h.input(Input::Tracked {
        index: 0,
        up: false,
    });
    let out = h.input(Input::Startup);
    assert_eq!(transitions(&out), [(State::Initialize, State::Fault)]);
    assert_eq!(
        kinds(&out)[1..4],
        ["disown", "remove_routes", "remove_addresses"]
    );
}

#[test]
fn rfc9568_6_4_1_startup_owner_becomes_master_advertises_and_announces() {
    let mut c = config();
    c.priority = 255;
    let (h, out) = Harness::started(c);
    assert_eq!(h.state(), State::Master);
    assert_eq!(
        kinds(&out),
        [
            "transition",
            "own",
            "add_addresses",
            "renew_lease",
            "advert",
            "garp",
            "write_state",
            "notify"
        ]
    );
    assert_eq!(adverts(&out)[0].priority, 255);
    assert!(matches!(
        &out[0],
        Output::Transition {
            reason: Reason::StartupOwner,
            ..
        }
    ));
    assert_eq!(
        h.next_deadline_in(),
        Some(ms(1000)),
        "Adver_Timer = Advertisement_Interval"
    );
}

#[test]
fn keepalived_state_master_starts_as_master() {
    let mut c = config();
    c.initial_state = InitialState::Master;
    let (h, out) = Harness::started(c);
    assert_eq!(h.state(), State::Master);
    assert!(matches!(
        &out[0],
        Output::Transition {
            reason: Reason::StartupWantMaster,
            ..
        }
    ));
}

#[test]
fn rfc9568_6_4_2_master_down_timer_expiry_makes_backup_master() {
    let (mut h, _) = Harness::started(config());
    let out = h.advance(ms(DOWN - 1));
    assert!(
        out.is_empty(),
        "nothing before Master_Down_Interval: {out:?}"
    );
    let out = h.advance(ms(1));
    assert_eq!(h.state(), State::Master);
    assert_eq!(
        kinds(&out),
        [
            "transition",
            "own",
            "add_addresses",
            "renew_lease",
            "advert",
            "garp",
            "write_state",
            "notify"
        ]
    );
    assert!(matches!(
        &out[0],
        Output::Transition {
            reason: Reason::MasterDown,
            ..
        }
    ));
}

#[test]
fn rfc9568_6_4_2_backup_resets_master_down_timer_on_each_advert() {
    let (mut h, _) = Harness::started(config());
    for _ in 0..10 {
        h.advance(ms(1000));
        h.advert_from(HIGHER_PEER, 150);
        assert_eq!(h.next_deadline_in(), Some(ms(DOWN)));
    }
    assert_eq!(h.state(), State::Backup);
    assert_eq!(h.inst.status().master, Some(HIGHER_PEER));
}

#[test]
fn rfc9568_6_4_2_priority_zero_sets_master_down_timer_to_skew_time() {
    let (mut h, _) = Harness::started(config());
    h.advert_from(HIGHER_PEER, 150);
    h.advance(ms(500));
    h.advert_from(HIGHER_PEER, 0);
    assert_eq!(h.next_deadline_in(), Some(ms(SKEW)));
    let out = h.advance(ms(SKEW));
    assert_eq!(h.state(), State::Master);
    assert!(matches!(
        &out[0],
        Output::Transition { reason: Reason::MasterResigned { master }, .. } if *master == HIGHER_PEER
    ));
    assert_eq!(h.inst.counters().priority_zero_rx, 1);
}

#[test]
fn rfc9568_6_4_2_backup_without_preempt_accepts_a_lower_priority_master() {
    let mut c = config();
    c.preempt = false;
    let (mut h, _) = Harness::started(c);
    for _ in 0..10 {
        h.advance(ms(1000));
        h.advert_from(LOWER_PEER, 50);
    }
    assert_eq!(h.state(), State::Backup);
}

#[test]
fn rfc9568_6_4_2_backup_with_preempt_discards_lower_priority_and_takes_over() {
    let (mut h, _) = Harness::started(config());
    h.advance(ms(1000));
    h.advert_from(LOWER_PEER, 50);
    assert_eq!(
        h.next_deadline_in(),
        Some(ms(DOWN - 1000)),
        "timer not reset"
    );
    let mut took_over_at = None;
    for _ in 0..4 {
        h.advance(ms(1000));
        h.advert_from(LOWER_PEER, 50);
        if h.state() == State::Master && took_over_at.is_none() {
            took_over_at = Some(h.elapsed());
        }
    }
    assert_eq!(h.state(), State::Master);
    assert_eq!(
        took_over_at,
        Some(ms(4000)),
        "took over at the first advert after 3.6 s"
    );
}

#[test]
fn rfc9568_6_4_2_backup_accepts_equal_priority() {
    let (mut h, _) = Harness::started(config());
    for _ in 0..10 {
        h.advance(ms(1000));
        h.advert_from(LOWER_PEER, 100);
    }
    assert_eq!(h.state(), State::Backup, "no tie-break in backup");
}

#[test]
fn rfc9568_6_4_2_v3_backup_adopts_the_masters_advert_interval() {
    let (mut h, _) = Harness::started(config());
    let mut a = Advert {
        version: Version::V3,
        vrid: 7,
        priority: 200,
        interval: Centisecs(10),
        addresses: vec![VIP],
        auth: Auth::None,
    };
    h.advert(HIGHER_PEER, a.clone());
    // Master_Down_Interval = 3*10 + (156*10)/256 = 30 + 6 = 36 cs.
    assert_eq!(h.next_deadline_in(), Some(ms(360)));
    assert_eq!(h.inst.status().master_adver_interval, Centisecs(10));
    a.interval = Centisecs(200);
    h.advert(HIGHER_PEER, a);
    assert_eq!(h.next_deadline_in(), Some(ms(6000 + 1210)));
    // Once master, the Active_Adver_Interval is our own again (RFC 9568 §6.1).
    h.advance(ms(7210));
    assert_eq!(h.state(), State::Master);
    assert_eq!(h.inst.status().master_adver_interval, Centisecs(100));
}

/// RFC 9568 change (§6.4.2): on an advert the backup recomputes Skew_Time from the adopted
/// interval too, so a resignation that follows is timed with the master's interval.
#[test]
fn rfc9568_6_4_2_skew_time_is_recomputed_from_the_adopted_interval() {
    let (mut h, _) = Harness::started(config());
    let mut a = Advert {
        version: Version::V3,
        vrid: 7,
        priority: 200,
        interval: Centisecs(200),
        addresses: vec![VIP],
        auth: Auth::None,
    };
    h.advert(HIGHER_PEER, a.clone());
    a.priority = 0;
    h.advert(HIGHER_PEER, a);
    // (256 - 100) * 200 / 256 = 121.8 -> 121 cs, not the 60 cs of our own 1 s.
    assert_eq!(h.next_deadline_in(), Some(ms(1210)));
}

/// Not an RFC rule (a deviation, see README): a starting backup listens `startup_delay`
/// at least, so a master slower than our interval is heard before we claim anything.
#[test]
fn startup_listens_for_the_startup_delay_before_claiming() {
    let mut c = config();
    c.advert_interval = Centisecs(10);
    c.startup_delay = ms(3600);
    let (mut h, _) = Harness::started(c);
    assert_eq!(h.next_deadline_in(), Some(ms(3600)), "not 0.36 s");
    // A 1 s master speaks: from then on the RFC timers (its interval) rule.
    h.advance(ms(900));
    let a = Advert {
        version: Version::V3,
        vrid: 7,
        priority: 150,
        interval: Centisecs(100),
        addresses: vec![VIP],
        auth: Auth::None,
    };
    assert!(h.advert(HIGHER_PEER, a).is_empty());
    assert_eq!(h.next_deadline_in(), Some(ms(DOWN)));
    let out = h.advance(ms(DOWN - 1));
    assert!(out.is_empty(), "nothing while the master may still speak");
    assert_eq!(h.state(), State::Backup);
    h.advance(ms(1));
    assert_eq!(
        h.state(),
        State::Master,
        "a master that then stops is timed out"
    );
}

#[test]
fn startup_without_a_delay_follows_the_rfc() {
    let mut c = config();
    c.advert_interval = Centisecs(10);
    let (h, _) = Harness::started(c);
    assert_eq!(h.next_deadline_in(), Some(ms(360)));
}

#[test]
fn rfc3768_6_3_v2_backup_keeps_its_own_interval() {
    let (mut h, _) = Harness::started(v2_config("secret12"));
    h.advert_from(HIGHER_PEER, 200);
    // 3 s + (256-100)/256 s = 3.609375 s.
    assert_eq!(
        h.next_deadline_in(),
        Some(ms(3609) + std::time::Duration::from_micros(375))
    );
}

fn master() -> Harness {
    let mut c = config();
    c.initial_state = InitialState::Master;
    let (mut h, _) = Harness::started(c);
    assert_eq!(h.state(), State::Master);
    h.drain();
    h
}

#[test]
fn rfc9568_6_4_3_master_advertises_every_interval() {
    let mut h = master();
    let out = h.advance(ms(10_000));
    let ads = adverts(&out);
    assert_eq!(ads.len(), 10);
    assert!(
        ads.iter()
            .all(|a| a.priority == 100 && a.vrid == 7 && a.addresses == [VIP])
    );
    assert_eq!(h.inst.counters().adverts_tx, 11);
}

#[test]
fn rfc9568_6_4_3_a_late_timer_does_not_stretch_the_interval() {
    let mut h = master();
    // Every wake-up 3 ms late (timer granularity, a busy loop): the adverts keep their phase.
    let start = h.now;
    let mut sent = 0;
    for n in 1..=100u64 {
        let due = start + ms(1000 * n);
        assert_eq!(
            h.inst.poll_timeout(),
            Some(due),
            "advert {n} due on the 1 s grid"
        );
        h.now = due + ms(3);
        h.inst.handle_timeout(h.now);
        sent += adverts(&h.drain()).len();
    }
    assert_eq!(sent, 100);
    // More than an interval late: one advert, then a fresh interval from then (no burst).
    h.now += ms(2500);
    h.inst.handle_timeout(h.now);
    assert_eq!(adverts(&h.drain()).len(), 1);
    assert_eq!(h.next_deadline_in(), Some(ms(1000)));
}

#[test]
fn rfc9568_6_4_3_master_answers_priority_zero_with_an_advert_at_once() {
    let mut h = master();
    h.advance(ms(300));
    let out = h.advert_from(LOWER_PEER, 0);
    assert_eq!(kinds(&out), ["renew_lease", "advert"]);
    assert_eq!(h.next_deadline_in(), Some(ms(1000)), "Adver_Timer reset");
    assert_eq!(h.state(), State::Master);
}

#[test]
fn rfc9568_6_4_3_master_steps_down_for_higher_priority() {
    let mut h = master();
    let out = h.advert_from(LOWER_PEER, 101);
    assert_eq!(h.state(), State::Backup);
    assert_eq!(
        kinds(&out),
        [
            "transition",
            "disown",
            "remove_addresses",
            "write_state",
            "notify"
        ]
    );
    assert!(matches!(
        &out[0],
        Output::Transition {
            reason: Reason::HigherPriority { priority: 101, .. },
            ..
        }
    ));
    assert_eq!(h.next_deadline_in(), Some(ms(DOWN)));
    assert_eq!(h.inst.counters().released_master, 1);
}

#[test]
fn rfc9568_6_4_3_equal_priority_higher_address_wins() {
    let mut h = master();
    let out = h.advert_from(HIGHER_PEER, 100);
    assert_eq!(h.state(), State::Backup);
    assert!(matches!(
        &out[0],
        Output::Transition {
            reason: Reason::HigherAddress { .. },
            ..
        }
    ));
}

#[test]
fn rfc9568_6_4_3_equal_priority_lower_address_is_discarded_and_we_reassert() {
    let mut h = master();
    let out = h.advert_from(LOWER_PEER, 100);
    assert_eq!(h.state(), State::Master);
    assert_eq!(
        kinds(&out),
        ["renew_lease", "advert"],
        "immediate advert so the other master steps down"
    );
    let out = h.advert_from(LOWER_PEER, 99);
    assert_eq!(h.state(), State::Master);
    assert!(out.is_empty(), "reasserted already in this interval");
}

#[test]
fn rfc9568_6_4_3_shutdown_sends_priority_zero_and_releases_ownership_first() {
    let mut h = master();
    let out = h.input(Input::Shutdown);
    assert_eq!(h.state(), State::Initialize);
    assert_eq!(
        kinds(&out),
        [
            "transition",
            "disown",
            "advert0",
            "remove_addresses",
            "write_state",
            "notify"
        ]
    );
    assert_eq!(h.inst.counters().priority_zero_tx, 1);
    assert_eq!(h.inst.poll_timeout(), None, "all timers cancelled");
    assert!(
        h.advert_from(HIGHER_PEER, 200).is_empty(),
        "stopped instance ignores adverts"
    );
}

#[test]
fn rfc9568_6_4_2_shutdown_from_backup_cancels_the_timer_silently() {
    let (mut h, _) = Harness::started(config());
    let out = h.input(Input::Shutdown);
    // Silently: no advert. Whatever a killed earlier run may have left goes (keepalived too
    // removes its addresses on SIGTERM whatever its state).
    assert_eq!(
        kinds(&out),
        [
            "transition",
            "disown",
            "remove_addresses",
            "write_state",
            "notify"
        ]
    );
    assert_eq!(h.inst.poll_timeout(), None);
    assert!(h.advance(ms(10_000)).is_empty());
}

#[test]
fn rfc9568_7_1_the_address_owner_discards_adverts() {
    let mut c = config();
    c.priority = 255;
    let (mut h, _) = Harness::started(c);
    h.drain();
    let out = h.advert_from(HIGHER_PEER, 200);
    assert!(out.is_empty());
    assert_eq!(h.state(), State::Master);
    assert_eq!(h.inst.counters().rx_errors.get("owner_conflict"), 1);
    assert_eq!(h.inst.counters().adverts_rx, 0);
}

/// RFC 9568 change (§8.3.2): a second router claiming to own the addresses is logged,
/// rate-limited, and named as such (not as an ordinary refusal).
#[test]
fn rfc9568_8_3_2_a_second_owner_is_logged_rate_limited() {
    let mut c = config();
    c.priority = 255;
    let (mut h, _) = Harness::started(c);
    h.drain();
    h.take_notices();
    for _ in 0..5 {
        assert!(h.advert_from(HIGHER_PEER, 255).is_empty());
        h.advance(ms(1000));
    }
    assert_eq!(h.state(), State::Master);
    assert_eq!(h.inst.counters().rx_errors.get("second_owner"), 5);
    let notices = h.take_notices();
    assert_eq!(notices.len(), 1, "rate-limited: {notices:?}");
    let line = notices[0].to_string();
    assert!(
        line.contains(&HIGHER_PEER.to_string()) && line.contains("8.3.2"),
        "{line}"
    );
    h.advance(NOTICE_RATE_LIMIT);
    h.advert_from(HIGHER_PEER, 255);
    let notices = h.take_notices();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].to_string().contains("4 more like it"),
        "the suppressed count: {}",
        notices[0]
    );
}

#[test]
fn rfc9568_7_1_version_mismatch_is_discarded_and_counted() {
    let (mut h, _) = Harness::started(config());
    let advert = Advert {
        version: Version::V2,
        vrid: 7,
        priority: 200,
        interval: Centisecs::from_secs(1),
        addresses: vec![VIP],
        auth: Auth::None,
    };
    h.advert(HIGHER_PEER, advert);
    assert_eq!(h.next_deadline_in(), Some(ms(DOWN)), "timer not reset");
    assert_eq!(h.inst.counters().rx_errors.get("version_mismatch"), 1);
}

#[test]
fn rfc9568_7_1_address_list_mismatch_is_counted_but_accepted_in_v3() {
    let (mut h, _) = Harness::started(config());
    let advert = Advert {
        version: Version::V3,
        vrid: 7,
        priority: 200,
        interval: Centisecs(100),
        addresses: vec!["10.9.9.9".parse().unwrap()],
        auth: Auth::None,
    };
    h.advance(ms(1000));
    h.advert(HIGHER_PEER, advert);
    assert_eq!(
        h.next_deadline_in(),
        Some(ms(DOWN)),
        "accepted: timer reset"
    );
    assert_eq!(h.inst.counters().rx_errors.get("address_list"), 1);
    assert_eq!(h.inst.counters().adverts_rx, 1);
    // RFC 9568 change: and logged (rate-limited), naming both lists.
    let notices = h.take_notices();
    let line = notices
        .iter()
        .map(ToString::to_string)
        .find(|l| l.contains("address_list"))
        .expect("an address-list notice");
    assert!(
        line.contains("10.9.9.9") && line.contains(&VIP.to_string()),
        "{line}"
    );
}

/// RFC 9568 change (§7.1): a Max Advertise Interval unlike ours is logged (rate-limited);
/// the backup still follows the master's (§6.4.2).
#[test]
fn rfc9568_7_1_an_interval_unlike_ours_is_logged_once_per_period() {
    let (mut h, _) = Harness::started(config());
    let advert = Advert {
        version: Version::V3,
        vrid: 7,
        priority: 200,
        interval: Centisecs(50),
        addresses: vec![VIP],
        auth: Auth::None,
    };
    for _ in 0..10 {
        h.advert(HIGHER_PEER, advert.clone());
        h.advance(ms(500));
    }
    assert_eq!(h.state(), State::Backup);
    let notices = h.take_notices();
    assert!(
        matches!(
            notices.as_slice(),
            [Notice::IntervalDiffers {
                theirs: Centisecs(50),
                ours: Centisecs(100),
                ..
            }]
        ),
        "{notices:?}"
    );
    assert_eq!(h.inst.counters().rx_errors.total(), 0, "not an error");
}

/// RFC 9568 change (§7.1): a refused advert is logged with its source and reason,
/// rate-limited per reason; each reason has its own budget.
#[test]
fn rfc9568_7_1_refused_adverts_are_logged_with_source_and_reason_rate_limited() {
    let (mut h, _) = Harness::started(config());
    for _ in 0..20 {
        h.input(Input::RxDecodeError {
            src: LOWER_PEER,
            error: DecodeError::Checksum { found: 0x1234 },
        });
        h.advance(ms(100));
    }
    h.input(Input::RxDecodeError {
        src: HIGHER_PEER,
        error: DecodeError::Ttl { ttl: 64 },
    });
    let lines: Vec<String> = h.take_notices().iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "one per reason: {lines:?}");
    assert!(
        lines[0].contains(&LOWER_PEER.to_string())
            && lines[0].contains("checksum")
            && lines[0].contains("neither"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(&HIGHER_PEER.to_string()) && lines[1].contains("TTL"));
    assert_eq!(
        h.inst.counters().rx_errors.get("checksum"),
        20,
        "all counted"
    );
}

#[test]
fn rfc3768_7_1_address_list_mismatch_from_a_non_owner_is_dropped() {
    let (mut h, _) = Harness::started(v2_config("secret12"));
    let mut advert = Advert {
        version: Version::V2,
        vrid: 7,
        priority: 200,
        interval: Centisecs::from_secs(1),
        addresses: vec!["10.9.9.9".parse().unwrap()],
        auth: Auth::simple("secret12"),
    };
    h.advance(ms(1000));
    h.advert(HIGHER_PEER, advert.clone());
    assert_eq!(h.inst.counters().adverts_rx, 0);
    assert_eq!(h.inst.counters().rx_errors.get("address_list"), 1);
    advert.priority = 255;
    h.advert(HIGHER_PEER, advert);
    assert_eq!(
        h.inst.counters().adverts_rx,
        1,
        "the owner's advert is processed"
    );
}

#[test]
fn rfc3768_7_1_authentication_is_checked() {
    let (mut h, _) = Harness::started(v2_config("secret12"));
    let mut advert = Advert {
        version: Version::V2,
        vrid: 7,
        priority: 200,
        interval: Centisecs::from_secs(1),
        addresses: vec![VIP],
        auth: Auth::simple("wrong"),
    };
    h.advert(HIGHER_PEER, advert.clone());
    advert.auth = Auth::None;
    h.advert(HIGHER_PEER, advert.clone());
    let c = h.inst.counters();
    assert_eq!(c.rx_errors.get("auth_failure"), 1);
    assert_eq!(c.rx_errors.get("auth_type_mismatch"), 1);
    assert_eq!(c.adverts_rx, 0);
    // keepalived truncates passwords to 8 bytes: "secret12345" matches "secret12".
    advert.auth = Auth::simple("secret12345");
    h.advert(HIGHER_PEER, advert);
    assert_eq!(h.inst.counters().adverts_rx, 1);
}

#[test]
fn rfc3768_7_1_interval_mismatch_is_dropped() {
    let (mut h, _) = Harness::started(v2_config("secret12"));
    let advert = Advert {
        version: Version::V2,
        vrid: 7,
        priority: 200,
        interval: Centisecs::from_secs(2),
        addresses: vec![VIP],
        auth: Auth::simple("secret12"),
    };
    h.advert(HIGHER_PEER, advert);
    assert_eq!(h.inst.counters().rx_errors.get("interval_mismatch"), 1);
    assert_eq!(h.inst.counters().adverts_rx, 0);
    // RFC 3768 §7.1: "SHOULD log" it.
    let line = h.take_notices()[0].to_string();
    assert!(
        line.contains(&HIGHER_PEER.to_string()) && line.contains("interval"),
        "{line}"
    );
}

#[test]
fn codec_errors_for_the_vrid_are_counted_by_kind() {
    let (mut h, _) = Harness::started(config());
    h.input(Input::RxDecodeError {
        src: LOWER_PEER,
        error: DecodeError::Ttl { ttl: 64 },
    });
    h.input(Input::RxDecodeError {
        src: LOWER_PEER,
        error: DecodeError::Checksum { found: 1 },
    });
    h.input(Input::RxDecodeError {
        src: LOWER_PEER,
        error: DecodeError::Checksum { found: 2 },
    });
    let c = h.inst.counters();
    assert_eq!(
        (c.rx_errors.get("ttl"), c.rx_errors.get("checksum")),
        (1, 2)
    );
    assert_eq!(h.state(), State::Backup);
}

#[test]
fn own_adverts_looped_back_are_ignored() {
    let mut h = master();
    assert!(h.advert_from(PRIMARY, 200).is_empty());
    assert_eq!(h.state(), State::Master);
}

#[test]
fn takeover_and_release_order_ownership_before_addresses_routes_and_garp() {
    let mut c = config();
    c.routes.push(VirtualRoute {
        dst: "0.0.0.0".parse().unwrap(),
        prefix_len: 0,
        via: Some("10.0.0.254".parse().unwrap()),
        dev: None,
        scope: None,
        protocol: Some("static".into()),
        table: None,
        metric: None,
        src: None,
        no_track: true,
    });
    c.initial_state = InitialState::Master;
    let (mut h, out) = Harness::started(c);
    assert_eq!(
        kinds(&out),
        [
            "transition",
            "own",
            "add_addresses",
            "add_routes",
            "renew_lease",
            "advert",
            "garp",
            "write_state",
            "notify"
        ]
    );
    let out = h.advert_from(HIGHER_PEER, 200);
    assert_eq!(
        kinds(&out),
        [
            "transition",
            "disown",
            "remove_routes",
            "remove_addresses",
            "write_state",
            "notify"
        ]
    );
}

#[test]
fn garp_batches_follow_keepalived_delay_repeat_and_refresh() {
    let mut c = config();
    c.garp.master_repeat = 3;
    c.garp.master_delay = ms(5000);
    c.garp.refresh = Some(ms(20_000));
    c.garp.refresh_repeat = 2;
    c.excluded_addresses
        .push(vrrp_agent::fsm::VirtualAddress::host(
            "192.168.1.112".parse().unwrap(),
        ));
    c.initial_state = InitialState::Master;
    let (mut h, out) = Harness::started(c);
    let garps = |out: &[Output]| -> Vec<(Vec<IpAddr>, u32)> {
        out.iter()
            .filter_map(|o| match o {
                Output::SendGratuitous { addresses, repeat } => Some((addresses.clone(), *repeat)),
                _ => None,
            })
            .collect()
    };
    let all = vec![VIP, "192.168.1.112".parse().unwrap()];
    assert_eq!(
        garps(&out),
        [(all.clone(), 3)],
        "immediate batch covers excluded addresses"
    );
    assert!(garps(&h.advance(ms(4999))).is_empty());
    assert_eq!(
        garps(&h.advance(ms(1))),
        [(all.clone(), 3)],
        "second batch after the delay"
    );
    assert!(garps(&h.advance(ms(14_999))).is_empty());
    assert_eq!(
        garps(&h.advance(ms(1))),
        [(all.clone(), 2)],
        "refresh at 20 s"
    );
    assert_eq!(garps(&h.advance(ms(20_000))), [(all, 2)], "and every 20 s");
    h.advert_from(HIGHER_PEER, 200);
    for _ in 0..60 {
        let out = h.advance(ms(1000));
        assert!(garps(&out).is_empty(), "no GARP after leaving master");
        h.advert_from(HIGHER_PEER, 200);
    }
    assert_eq!(h.state(), State::Backup);
}

#[test]
fn tracked_weights_change_priority_and_weightless_failure_faults() {
    let mut c = config();
    c.tracked = vec![
        vrrp_agent::fsm::TrackedObject {
            name: "uplink".into(),
            weight: -60,
        },
        vrrp_agent::fsm::TrackedObject {
            name: "ha-link".into(),
            weight: 0,
        },
    ];
    c.initial_state = InitialState::Master;
    let (mut h, _) = Harness::started(c);
    h.input(Input::Tracked {
        index: 0,
        up: false,
    });
    assert_eq!(h.inst.effective_priority(), 40);
    assert_eq!(
        h.state(),
        State::Master,
        "a weight alone never moves the state"
    );
    let ads = adverts(&h.advance(ms(1000)));
    assert_eq!(ads[0].priority, 40, "adverts carry the effective priority");
    let out = h.input(Input::Tracked {
        index: 1,
        up: false,
    });
    assert_eq!(h.state(), State::Fault);
    assert_eq!(
        kinds(&out),
        [
            "transition",
            "disown",
            "advert0",
            "remove_addresses",
            "write_state",
            "notify"
        ]
    );
    assert!(
        matches!(&out[0], Output::Transition { reason: Reason::Fault { object }, .. } if object == "ha-link")
    );
    assert!(h.advance(ms(10_000)).is_empty(), "FAULT is silent");
    assert!(h.advert_from(LOWER_PEER, 10).is_empty(), "and deaf");
    let out = h.input(Input::Tracked { index: 1, up: true });
    assert_eq!(
        transitions(&out),
        [(State::Fault, State::Master)],
        "state MASTER wanted"
    );
}

#[test]
fn a_fault_at_startup_starts_in_fault_and_clears_to_backup() {
    let mut c = config();
    c.tracked = vec![vrrp_agent::fsm::TrackedObject {
        name: "ha-link".into(),
        weight: 0,
    }];
    let mut h = Harness::new(c);
    h.input(Input::Tracked {
        index: 0,
        up: false,
    });
    let out = h.input(Input::Startup);
    assert_eq!(transitions(&out), [(State::Initialize, State::Fault)]);
    let out = h.input(Input::Tracked { index: 0, up: true });
    assert_eq!(transitions(&out), [(State::Fault, State::Backup)]);
    assert_eq!(h.next_deadline_in(), Some(ms(DOWN)));
}

#[test]
fn preempt_delay_tolerates_a_lower_master_for_the_delay() {
    let mut c = config();
    c.preempt_delay = ms(10_000);
    let (mut h, _) = Harness::started(c);
    let mut took_over = None;
    for s in 1..=20 {
        h.advance(ms(1000));
        h.advert_from(LOWER_PEER, 50);
        if h.state() == State::Master {
            took_over = Some(s);
            break;
        }
    }
    // First lower advert at 1 s; accepted until 11 s; then discarded, the down timer (reset
    // at 10 s) expires at 13.6 s: master on the advert at 14 s.
    assert_eq!(took_over, Some(14));
}

#[test]
fn reload_with_the_same_config_changes_nothing() {
    let mut h = master();
    let config = h.inst.config().clone();
    h.inst.reconfigure(config, h.now).unwrap();
    assert!(h.drain().is_empty());
    assert_eq!(h.state(), State::Master);
}

#[test]
fn reload_updates_a_master_in_place() {
    let mut h = master();
    let mut config = h.inst.config().clone();
    config.priority = 90;
    config
        .excluded_addresses
        .push(vrrp_agent::fsm::VirtualAddress::host(
            "192.168.1.1".parse().unwrap(),
        ));
    h.inst.reconfigure(config.clone(), h.now).unwrap();
    let out = h.drain();
    assert_eq!(kinds(&out), ["add_addresses", "garp"]);
    assert_eq!(h.state(), State::Master, "no flap");
    config.excluded_addresses.clear();
    h.inst.reconfigure(config, h.now).unwrap();
    assert_eq!(kinds(&h.drain()), ["remove_addresses"]);
    assert_eq!(adverts(&h.advance(ms(1000)))[0].priority, 90);
}

#[test]
fn invalid_configs_are_refused_with_reasons() {
    let mut c = config();
    c.priority = 0;
    assert!(
        vrrp_agent::fsm::Instance::new(c, PRIMARY)
            .unwrap_err()
            .to_string()
            .contains("priority 0")
    );
    let mut c = config();
    c.vrid = 0;
    assert!(c.validate().is_err());
    let mut c = v2_config("x");
    c.advert_interval = Centisecs(150);
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("whole seconds")
    );
    let mut c = config();
    c.virtual_addresses.clear();
    assert!(c.validate().is_err());
    let mut c = config();
    c.virtual_addresses
        .push(vrrp_agent::fsm::VirtualAddress::host(
            "fd00::1".parse().unwrap(),
        ));
    assert!(c.validate().unwrap_err().to_string().contains("mix"));
    let mut c = config();
    c.advert_interval = Centisecs(4096);
    assert!(c.validate().is_err());
}

#[test]
fn a_sync_group_member_waits_for_its_group_before_becoming_master() {
    let mut c = config();
    c.sync_group = Some("G".into());
    let (mut h, _) = Harness::started(c);
    let out = h.advance(ms(DOWN));
    assert_eq!(kinds(&out), ["sync_wants_master"]);
    assert_eq!(h.state(), State::Backup);
    assert!(h.inst.wants_master());
    assert_eq!(
        h.next_deadline_in(),
        Some(ms(DOWN)),
        "re-armed while waiting"
    );
    // Hearing a master again withdraws the wish.
    h.advert_from(HIGHER_PEER, 150);
    assert!(!h.inst.wants_master());
    h.advance(ms(DOWN));
    let out = h.input(Input::Group(vrrp_agent::fsm::GroupCommand::Master {
        group: "G".into(),
        member: "VR_8".into(),
    }));
    assert_eq!(h.state(), State::Master);
    assert!(
        matches!(
            &out[0],
            Output::Transition {
                reason: Reason::MasterDown,
                ..
            }
        ),
        "its own reason"
    );
}

/// RFC 9568 change (§6.4.3): an Active Router that receives a lower-priority advert discards
/// it and sends an advert at once (so the other stops, and learning bridges relearn); here at
/// most once per interval, so a peer that never yields cannot make it a storm.
#[test]
fn rfc9568_6_4_3_a_master_answers_a_lower_master_at_once_at_most_once_per_interval() {
    let mut h = master();
    assert_eq!(
        kinds(&h.advert_from(LOWER_PEER, 50)),
        ["renew_lease", "advert"]
    );
    for _ in 0..100 {
        assert!(
            h.advert_from(LOWER_PEER, 50).is_empty(),
            "no storm against a peer that never yields"
        );
    }
    h.advance(ms(999));
    assert!(h.advert_from(LOWER_PEER, 50).is_empty());
    h.advance(ms(1));
    assert_eq!(
        kinds(&h.advert_from(LOWER_PEER, 50)),
        ["renew_lease", "advert"],
        "one per interval"
    );
}

#[test]
fn a_backup_ignores_a_resignation_from_a_router_it_does_not_follow() {
    let (mut h, _) = Harness::started(config());
    h.advert_from(HIGHER_PEER, 150);
    // The old master's priority 0, reordered behind the new master's advert.
    h.advert_from(LOWER_PEER, 0);
    assert_eq!(h.next_deadline_in(), Some(ms(DOWN)), "not Skew_Time");
    assert_eq!(h.inst.counters().rx_errors.get("stale_resignation"), 1);
    // The master we follow resigning still counts.
    h.advert_from(HIGHER_PEER, 0);
    assert_eq!(h.next_deadline_in(), Some(ms(SKEW)));
}

#[test]
fn resume_after_a_restart_takes_mastership_at_once_unless_faulted() {
    let mut h = Harness::new(config());
    let out = h.input(Input::Resume);
    assert_eq!(h.state(), State::Master);
    assert!(matches!(
        &out[0],
        Output::Transition {
            reason: Reason::Resumed,
            ..
        }
    ));
    assert_eq!(kinds(&out)[1], "own");

    let mut c = config();
    c.tracked = vec![vrrp_agent::fsm::TrackedObject {
        name: "ha".into(),
        weight: 0,
    }];
    let mut h = Harness::new(c);
    h.input(Input::Tracked {
        index: 0,
        up: false,
    });
    let out = h.input(Input::Resume);
    assert_eq!(
        transitions(&out),
        [(State::Initialize, State::Fault)],
        "a fault wins"
    );
}

// ---- the data-plane fencing lease (not an RFC rule: derived from §6.1's timers) ----------

#[test]
fn fencing_lease_is_the_master_down_interval_at_our_own_priority() {
    let (h, _) = Harness::started(config());
    assert_eq!(h.inst.fencing_lease(), ms(DOWN), "3 s + skew(100)");
}

#[test]
fn fencing_lease_follows_the_highest_priority_any_peer_advertised() {
    let (mut h, _) = Harness::started(config());
    // A master at 200 was heard: a backup that fast may exist, so fence by its timer.
    h.advert_from(HIGHER_PEER, 200);
    let skew_200 = (256 - 200) * 1000 / 256 / 10 * 10; // centiseconds, truncated
    assert_eq!(h.inst.fencing_lease(), ms(3000 + skew_200));
    // A lower one later does not lengthen it again.
    h.advert_from(HIGHER_PEER, 50);
    assert_eq!(h.inst.fencing_lease(), ms(3000 + skew_200));
}

#[test]
fn fencing_lease_never_outlasts_a_backup_at_or_below_the_priorities_it_knows() {
    // Every backup priority up to the highest known: its Master_Down_Interval (counted from
    // when it received our advert, i.e. later) is at least our lease.
    let (h, _) = Harness::started(config());
    for p in 1..=100u8 {
        let backup = vrrp_agent::fsm::master_down_interval(Version::V3, p, Centisecs(100));
        assert!(h.inst.fencing_lease() <= backup, "priority {p}");
    }
    let v2 = {
        let (h, _) = Harness::started(v2_config("secret"));
        h.inst.fencing_lease()
    };
    assert_eq!(
        v2,
        vrrp_agent::fsm::master_down_interval(Version::V2, 100, Centisecs(100)),
        "RFC 3768's skew is in seconds, independent of the interval"
    );
}

#[test]
fn a_master_renews_its_lease_right_before_every_advert_and_a_resignation_does_not() {
    let mut h = master();
    let out = h.advance(ms(1000));
    assert_eq!(kinds(&out), ["renew_lease", "advert"]);
    assert_eq!(
        out[0],
        Output::RenewLease(h.inst.fencing_lease()),
        "the lease is the fencing lease"
    );
    let out = h.input(Input::Shutdown);
    assert!(
        !kinds(&out).contains(&"renew_lease"),
        "priority 0 renews nothing: {:?}",
        kinds(&out)
    );
}
