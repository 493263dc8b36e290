//! The router of one node (`fsm::Router`): dispatch of packets by socket and VRID with
//! decoding and the allow-list, tracked objects by key across reloads, sync groups, one
//! combined timer, and the lease renewed before every advert of a master. Pure: virtual time.

// An arbitrary origin for virtual time (see vrrp-agent/clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use vrrp_agent::{
    fsm::{
        Delivery, GroupCommand, Input, InstanceConfig, InstanceId, MemberSpec, Output, Packet,
        Router, RouterError, RxPolicy, State, TrackedObject,
    },
    packet::{Advert, Auth, Centisecs, RxMeta, VRRP_GROUP_V4, VRRP_TTL, Version},
};

type R = Router<&'static str, &'static str>;

const US: &str = "10.0.0.1";
const PEER: &str = "10.0.0.2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn config(name: &str, vrid: u8, tracked: &[(&str, i32)]) -> InstanceConfig {
    let mut c = InstanceConfig::new(name, vrid, ip("10.0.0.100"));
    c.advert_interval = Centisecs(100);
    c.tracked = tracked
        .iter()
        .map(|(name, weight)| TrackedObject {
            name: (*name).into(),
            weight: *weight,
        })
        .collect();
    c
}

fn spec(
    c: InstanceConfig,
    socket: &'static str,
    tracks: &[&'static str],
) -> MemberSpec<&'static str, &'static str> {
    MemberSpec {
        config: c,
        socket,
        tracks: tracks.to_vec(),
        rx: RxPolicy::default(),
    }
}

/// The outputs the router has for instance `id`, drained.
fn outputs(r: &mut R) -> Vec<(InstanceId, Output)> {
    std::iter::from_fn(|| r.poll_output()).collect()
}

fn state(r: &R, id: InstanceId) -> State {
    r.instance(id).unwrap().state()
}

fn advert_bytes(vrid: u8, priority: u8) -> Vec<u8> {
    Advert {
        version: Version::V3,
        vrid,
        priority,
        interval: Centisecs(100),
        addresses: vec![ip("10.0.0.100")],
        auth: Auth::None,
    }
    .encode(ip(PEER), IpAddr::V4(VRRP_GROUP_V4))
    .unwrap()
}

fn meta(src: &str) -> RxMeta {
    RxMeta {
        src: ip(src),
        dst: IpAddr::V4(VRRP_GROUP_V4),
        ttl: VRRP_TTL,
    }
}

fn packet<'a>(bytes: &'a [u8], src: &str) -> Packet<'a> {
    Packet {
        vrrp: bytes,
        ah: None,
        meta: meta(src),
    }
}

#[test]
fn a_packet_reaches_the_instance_of_its_vrid_on_its_socket_only() {
    let now = Instant::now();
    let mut r = R::new();
    let a = r
        .add_instance(spec(config("A", 1, &[]), "eth0", &[]), ip(US), now)
        .unwrap();
    let b = r
        .add_instance(spec(config("B", 1, &[]), "eth1", &[]), ip(US), now)
        .unwrap();
    r.start(a, false, now);
    r.start(b, false, now);
    outputs(&mut r);
    let bytes = advert_bytes(1, 200);
    assert_eq!(
        r.receive(&"eth1", packet(&bytes, PEER), now),
        Delivery::Advert(b)
    );
    assert_eq!(r.instance(b).unwrap().counters().adverts_rx, 1);
    assert_eq!(r.instance(a).unwrap().counters().adverts_rx, 0);
    let other = advert_bytes(7, 200);
    assert_eq!(
        r.receive(&"eth1", packet(&other, PEER), now),
        Delivery::NotOurs
    );
    assert_eq!(
        r.receive(&"eth9", packet(&bytes, PEER), now),
        Delivery::NotOurs
    );
    assert_eq!(
        r.receive(&"eth1", packet(&[], PEER), now),
        Delivery::NotOurs
    );
}

#[test]
fn two_instances_cannot_share_a_vrid_on_one_socket() {
    let now = Instant::now();
    let mut r = R::new();
    r.add_instance(spec(config("A", 1, &[]), "eth0", &[]), ip(US), now)
        .unwrap();
    let err = r
        .add_instance(spec(config("B", 1, &[]), "eth0", &[]), ip(US), now)
        .unwrap_err();
    assert!(matches!(err, RouterError::Duplicate { ref other, .. } if other == "A"));
}

#[test]
fn tracked_keys_must_match_the_tracked_objects() {
    let now = Instant::now();
    let mut r = R::new();
    let err = r
        .add_instance(
            spec(config("A", 1, &[("link", 0)]), "eth0", &[]),
            ip(US),
            now,
        )
        .unwrap_err();
    assert!(matches!(
        err,
        RouterError::TrackCount {
            tracks: 0,
            objects: 1,
            ..
        }
    ));
}

#[test]
fn adverts_from_outside_the_allow_list_are_counted_and_change_nothing() {
    let now = Instant::now();
    let mut r = R::new();
    let mut s = spec(config("A", 1, &[]), "eth0", &[]);
    s.rx.allowed_sources = vec![ip("10.0.0.3")];
    let a = r.add_instance(s, ip(US), now).unwrap();
    r.start(a, false, now);
    outputs(&mut r);
    let bytes = advert_bytes(1, 200);
    assert_eq!(
        r.receive(&"eth0", packet(&bytes, PEER), now),
        Delivery::SourceNotAllowed(a)
    );
    let inst = r.instance(a).unwrap();
    assert_eq!(inst.counters().rx_errors.get("source_not_allowed"), 1);
    assert_eq!(inst.counters().adverts_rx, 0);
    assert_eq!(inst.status().master, None, "nobody was heard");
}

#[test]
fn undecodable_packets_are_counted_by_their_instance() {
    let now = Instant::now();
    let mut r = R::new();
    let a = r
        .add_instance(spec(config("A", 1, &[]), "eth0", &[]), ip(US), now)
        .unwrap();
    r.start(a, false, now);
    let mut bytes = advert_bytes(1, 200);
    bytes[6] ^= 0xff; // checksum
    assert!(matches!(
        r.receive(&"eth0", packet(&bytes, PEER), now),
        Delivery::Undecodable(id, _) if id == a
    ));
    assert_eq!(r.instance(a).unwrap().counters().rx_errors.total(), 1);
}

#[test]
fn one_object_moves_every_instance_that_tracks_it() {
    let now = Instant::now();
    let mut r = R::new();
    let a = r
        .add_instance(
            spec(config("A", 1, &[("uplink", 0)]), "eth0", &["up"]),
            ip(US),
            now,
        )
        .unwrap();
    let b = r
        .add_instance(
            spec(config("B", 2, &[("gw", -30)]), "eth0", &["up"]),
            ip(US),
            now,
        )
        .unwrap();
    r.start(a, false, now);
    r.start(b, false, now);
    r.set_object(&"up", false, now);
    assert_eq!(state(&r, a), State::Fault);
    assert_eq!(r.instance(b).unwrap().effective_priority(), 70);
    r.set_object(&"up", true, now);
    assert_eq!(state(&r, a), State::Backup);
    assert_eq!(r.instance(b).unwrap().effective_priority(), 100);
}

/// Issue 14, defect 1, in the core: tracked [A up, B down]; a reload drops A; B coming back
/// up must take the instance out of FAULT (an engine that kept its own list by position lost
/// this event).
#[test]
fn a_reload_that_drops_an_object_keeps_following_the_others_by_key() {
    let now = Instant::now();
    let mut r = R::new();
    let a = r
        .add_instance(
            spec(
                config("VR", 1, &[("A", 0), ("B", 0)]),
                "eth0",
                &["link-a", "link-b"],
            ),
            ip(US),
            now,
        )
        .unwrap();
    r.start(a, false, now);
    r.set_object(&"link-b", false, now);
    assert_eq!(state(&r, a), State::Fault);
    r.reconfigure(
        a,
        spec(config("VR", 1, &[("B", 0)]), "eth0", &["link-b"]),
        now,
    )
    .unwrap();
    assert_eq!(state(&r, a), State::Fault, "B is still down");
    let tracked = r.tracked(a);
    assert_eq!(tracked.len(), 1);
    assert!(!tracked[0].up);
    r.set_object(&"link-b", true, now);
    assert_eq!(state(&r, a), State::Backup, "B came back");
}

/// The reverse: a reload that reorders and adds objects judges each by its own state.
#[test]
fn a_reload_that_adds_and_reorders_objects_takes_each_ones_known_state() {
    let now = Instant::now();
    let mut r = R::new();
    let a = r
        .add_instance(
            spec(config("VR", 1, &[("A", 0)]), "eth0", &["link-a"]),
            ip(US),
            now,
        )
        .unwrap();
    r.start(a, false, now);
    // The driver reads the new object before the reload: down.
    r.set_object(&"link-c", false, now);
    assert_eq!(state(&r, a), State::Backup, "not tracked yet");
    r.reconfigure(
        a,
        spec(
            config("VR", 1, &[("C", 0), ("A", 0)]),
            "eth0",
            &["link-c", "link-a"],
        ),
        now,
    )
    .unwrap();
    assert_eq!(state(&r, a), State::Fault, "C is down");
    r.set_object(&"link-c", true, now);
    assert_eq!(state(&r, a), State::Backup);
}

/// An instance replaced by a reload (removed, added again) finds the state of an object
/// whose check goes on and only reports changes; the state is forgotten once nothing tracks
/// the object and the driver says so.
#[test]
fn an_instance_replaced_by_a_reload_keeps_the_known_state_of_its_objects() {
    let now = Instant::now();
    let mut r = R::new();
    let a = r
        .add_instance(
            spec(config("VR", 1, &[("script", 0)]), "eth0", &["chk"]),
            ip(US),
            now,
        )
        .unwrap();
    r.start(a, false, now);
    r.set_object(&"chk", false, now);
    r.remove_instance(a, now);
    let b = r
        .add_instance(
            spec(config("VR", 2, &[("script", 0)]), "eth0", &["chk"]),
            ip(US),
            now,
        )
        .unwrap();
    r.start(b, false, now);
    assert_eq!(state(&r, b), State::Fault);
    r.remove_instance(b, now);
    r.forget_untracked();
    let c = r
        .add_instance(
            spec(config("VR", 3, &[("script", 0)]), "eth0", &["chk"]),
            ip(US),
            now,
        )
        .unwrap();
    r.start(c, false, now);
    assert_eq!(
        state(&r, c),
        State::Backup,
        "forgotten: unknown counts as up"
    );
}

#[test]
fn a_sync_group_member_in_fault_takes_the_others_along_and_back() {
    let now = Instant::now();
    let mut r = R::new();
    let a = r
        .add_instance(
            spec(config("A", 1, &[("link", 0)]), "eth0", &["link"]),
            ip(US),
            now,
        )
        .unwrap();
    let b = r
        .add_instance(spec(config("B", 2, &[]), "eth1", &[]), ip(US), now)
        .unwrap();
    r.set_sync_groups(vec![("G".into(), vec![a, b])]);
    r.start(a, false, now);
    r.start(b, false, now);
    outputs(&mut r);
    r.set_object(&"link", false, now);
    assert_eq!((state(&r, a), state(&r, b)), (State::Fault, State::Fault));
    let out = outputs(&mut r);
    assert!(
        out.iter().any(|(id, o)| *id == b
            && matches!(
                o,
                Output::Transition {
                    to: State::Fault,
                    ..
                }
            )),
        "{out:?}"
    );
    r.set_object(&"link", true, now);
    assert_eq!((state(&r, a), state(&r, b)), (State::Backup, State::Backup));
    // A removed member leaves its group: the other no longer follows it.
    r.remove_instance(a, now);
    r.input(
        b,
        Input::Group(GroupCommand::FaultCleared { group: "G".into() }),
        now,
    );
    assert_eq!(state(&r, b), State::Backup);
}

#[test]
fn the_router_fires_each_instance_at_its_own_deadline() {
    let start = Instant::now();
    let mut r = R::new();
    let mut fast = config("F", 1, &[]);
    fast.advert_interval = Centisecs(10);
    let f = r
        .add_instance(spec(fast, "eth0", &[]), ip(US), start)
        .unwrap();
    let s = r
        .add_instance(spec(config("S", 2, &[]), "eth0", &[]), ip(US), start)
        .unwrap();
    r.start(f, false, start);
    r.start(s, false, start);
    let deadline = r.poll_timeout().unwrap();
    assert_eq!(
        deadline,
        r.instance(f).unwrap().poll_timeout().unwrap(),
        "the earliest"
    );
    r.handle_timeout(deadline);
    assert_eq!(
        state(&r, f),
        State::Master,
        "its master-down interval ran out"
    );
    assert_eq!(state(&r, s), State::Backup, "not yet");
    r.handle_timeout(start + Duration::from_secs(4));
    assert_eq!(state(&r, s), State::Master);
}

#[test]
fn a_master_renews_its_lease_before_each_advert_through_the_router() {
    let now = Instant::now();
    let mut r = R::new();
    let mut c = config("A", 1, &[]);
    c.priority = 255;
    let a = r.add_instance(spec(c, "eth0", &[]), ip(US), now).unwrap();
    r.start(a, false, now);
    let out = outputs(&mut r);
    let lease = out
        .iter()
        .position(|(_, o)| matches!(o, Output::RenewLease(_)))
        .expect("a lease");
    assert!(
        matches!(out[lease + 1].1, Output::SendAdvert { ref advert, .. } if advert.priority == 255)
    );
    assert_eq!(
        out[lease].1,
        Output::RenewLease(r.instance(a).unwrap().fencing_lease())
    );
}
