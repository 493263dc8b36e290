//! AH sequence numbers in the state machine, one test per rule of keepalived 2.2.7's
//! anti-replay counter (`ipsecah_counter`, see `fsm::AhSequence`) and of RFC 2402 §3.4.3
//! (a receiver drops a sequence number it has seen). Adverts here are already authenticated
//! (the codec checked the ICV); the state machine sees their sequence numbers in `Auth::Ah`.
//! Timings: VRRPv2, priority 100, 1 s: Master_Down_Interval = 3 s + 156/256 s.

mod fsm_support;

use std::net::IpAddr;

use fsm_support::*;
use vrrp_agent::{
    fsm::{InitialState, Input, InstanceConfig, State},
    packet::{Advert, Auth, Centisecs, Version},
};

const DOWN: u64 = 3610; // ms, rounded up

fn ah_config() -> InstanceConfig {
    let mut c = config();
    c.version = Version::V2;
    c.advert_interval = Centisecs::from_secs(1);
    c.auth = Auth::ah("secret12");
    c
}

/// An advert like the instance's own from `src` with `priority` and AH sequence number `seq`.
fn ah_advert(h: &Harness, priority: u8, seq: u32) -> Advert {
    let c = h.inst.config();
    Advert {
        version: c.version,
        vrid: c.vrid,
        priority,
        interval: c.advert_interval,
        addresses: c.virtual_addresses.iter().map(|a| a.addr).collect(),
        auth: c.auth.with_seq(seq),
    }
}

fn send(h: &mut Harness, src: IpAddr, priority: u8, seq: u32) -> Vec<vrrp_agent::fsm::Output> {
    let advert = ah_advert(h, priority, seq);
    h.advert(src, advert)
}

/// The AH sequence numbers of the adverts among `out`.
fn seqs(out: &[vrrp_agent::fsm::Output]) -> Vec<u32> {
    adverts(out)
        .iter()
        .map(|a| match a.auth {
            Auth::Ah { key, seq } => {
                assert_eq!(key, *b"secret12");
                seq
            }
            other => panic!("advert without AH: {other:?}"),
        })
        .collect()
}

/// A master at priority 200 (started as one, which the configuration layer allows only
/// owners with AH; the state machine does not mind).
fn master() -> Harness {
    let mut c = ah_config();
    c.priority = 200;
    c.initial_state = InitialState::Master;
    let (mut h, out) = Harness::started(c);
    assert_eq!(h.state(), State::Master);
    assert_eq!(seqs(&out), [1], "the first advert is number 1");
    h.drain();
    h
}

#[test]
fn a_master_numbers_its_adverts_from_one() {
    let mut h = master();
    let out = h.advance(ms(5_000));
    assert_eq!(seqs(&out), [2, 3, 4, 5, 6]);
    let out = h.input(Input::Shutdown);
    assert_eq!(seqs(&out), [7], "the priority-0 advert continues the count");
}

/// RFC 2402 §3.4.3 as keepalived applies it: a number not above the last one accepted is a
/// replay, counted and ignored, so it does not hold the master-down timer off.
#[test]
fn a_backup_drops_replayed_sequence_numbers_and_counts_them() {
    let (mut h, _) = Harness::started(ah_config());
    send(&mut h, HIGHER_PEER, 200, 10);
    assert_eq!(h.inst.ah_sequence(), 10);
    assert_eq!(h.inst.counters().adverts_rx, 1);
    h.advance(ms(1000));
    for replay in [10, 9, 1] {
        send(&mut h, HIGHER_PEER, 200, replay);
    }
    assert_eq!(h.inst.counters().adverts_rx, 1, "replays are not adverts");
    assert_eq!(h.inst.counters().rx_errors.get("auth_replay"), 3);
    assert_eq!(h.inst.ah_sequence(), 10);
    // The master-down timer still runs from the advert numbered 10.
    h.advance(ms(DOWN - 1000));
    assert_eq!(h.state(), State::Master);
}

/// keepalived's counter serves sending and receiving: a backup taking over numbers its
/// adverts after the last one it accepted, so the old master (now holding that number)
/// accepts them. The capture `v2-ah.pcap` shows keepalived doing this (7, then 8).
#[test]
fn a_backup_taking_over_continues_after_the_last_number_it_accepted() {
    let (mut h, _) = Harness::started(ah_config());
    for seq in [5, 6, 7] {
        send(&mut h, HIGHER_PEER, 200, seq);
    }
    send(&mut h, HIGHER_PEER, 0, 8);
    let out = h.advance(ms(DOWN));
    assert_eq!(h.state(), State::Master);
    assert_eq!(seqs(&out)[..2], [9, 10]);
}

/// A master hearing a lower-priority master (split brain healing) continues past that
/// master's number (keepalived sets its counter to it + 1), so its next advert, sent at once,
/// is accepted there.
#[test]
fn a_master_continues_past_a_lower_masters_number() {
    let mut h = master();
    let out = send(&mut h, LOWER_PEER, 100, 500);
    assert_eq!(seqs(&out), [502]);
    assert_eq!(h.state(), State::Master);
    // Its next regular advert follows on.
    let out = h.advance(ms(1000));
    assert_eq!(seqs(&out), [503]);
}

/// A higher-priority master's advert is accepted only with a newer number; a master steps
/// down for it and, as backup, keeps its number for a later takeover.
#[test]
fn a_master_steps_down_for_a_newer_higher_advert_only() {
    let mut c = ah_config();
    c.initial_state = InitialState::Backup;
    let (mut h, _) = Harness::started(c);
    let out = h.advance(ms(DOWN));
    assert_eq!(h.state(), State::Master);
    assert_eq!(seqs(&out), [1]);
    send(&mut h, HIGHER_PEER, 200, 1);
    assert_eq!(
        h.state(),
        State::Master,
        "a replayed number changes nothing"
    );
    assert_eq!(h.inst.counters().rx_errors.get("auth_replay"), 1);
    send(&mut h, HIGHER_PEER, 200, 2);
    assert_eq!(h.state(), State::Backup);
    assert_eq!(h.inst.ah_sequence(), 2);
}

/// A new process counts from 0 (keepalived keeps nothing across restarts): it accepts any
/// master's number. It does not resume as master after a restart, even with a valid data
/// plane lease (keepalived clears initial state MASTER with AH for the same reason): the
/// backups hold the last number it sent and would refuse its new ones.
#[test]
fn a_restarted_instance_starts_from_zero_as_backup() {
    let mut h = Harness::new(ah_config());
    assert_eq!(h.inst.ah_sequence(), 0);
    let out = h.input(Input::Resume);
    assert_eq!(h.state(), State::Backup);
    assert!(adverts(&out).is_empty());
    send(&mut h, HIGHER_PEER, 200, 1);
    assert_eq!(h.inst.counters().adverts_rx, 1);
    // Without AH, Resume still resumes.
    let mut plain = Harness::new(v2_config("secret12"));
    plain.input(Input::Resume);
    assert_eq!(plain.state(), State::Master);
}

/// A reload keeps the counter (keepalived copies `ipsecah_counter` into the new instance).
#[test]
fn a_reload_keeps_the_counter() {
    let mut h = master();
    h.advance(ms(3_000));
    let mut c = h.inst.config().clone();
    c.priority = 199;
    h.inst.reconfigure(c, h.now).unwrap();
    let out = h.advance(ms(1_000));
    assert_eq!(seqs(&out), [5]);
}

/// An advert keyed with another password is refused (the codec refuses it first, on its
/// ICV; this is the state machine's own check), and so is one without AH.
#[test]
fn another_key_or_another_auth_type_is_refused() {
    let (mut h, _) = Harness::started(ah_config());
    let mut other = ah_advert(&h, 200, 3);
    other.auth = Auth::ah("secret13").with_seq(3);
    h.advert(HIGHER_PEER, other);
    let mut pass = ah_advert(&h, 200, 4);
    pass.auth = Auth::simple("secret12");
    h.advert(HIGHER_PEER, pass);
    let c = h.inst.counters();
    assert_eq!(c.adverts_rx, 0);
    assert_eq!(c.rx_errors.get("auth_failure"), 1);
    assert_eq!(c.rx_errors.get("auth_type_mismatch"), 1);
    assert_eq!(h.inst.ah_sequence(), 0, "a refused advert moves nothing");
}
