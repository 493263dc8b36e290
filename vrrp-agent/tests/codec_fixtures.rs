//! Every advert keepalived 2.2.7 sent in the captures decodes to the expected fields, and our
//! encoder reproduces its VRRP bytes exactly.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{Frame, MAC_A, MAC_B, classify, eth_src, ipv4_payload, read_capture};
use vrrp_agent::packet::{
    Advert, Auth, Centisecs, RxMeta, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_TTL, Version,
    decode_ipv4_packet,
};

/// What every advert of one capture must say.
struct Expected {
    capture: &'static str,
    version: Version,
    interval: Centisecs,
    auth: Auth,
    addresses: Vec<IpAddr>,
    /// The two nodes' source addresses.
    sources: [IpAddr; 2],
    count: usize,
}

fn v4(a: [u8; 4]) -> IpAddr {
    Ipv4Addr::from(a).into()
}

fn v6(s: &str) -> IpAddr {
    s.parse::<Ipv6Addr>().unwrap().into()
}

fn node_sources_v4() -> [IpAddr; 2] {
    [v4([169, 254, 192, 1]), v4([169, 254, 192, 2])]
}

/// Decodes every advert of a capture, checks it against `exp` and re-encodes it.
fn check_capture(exp: &Expected) {
    let mut adverts = Vec::new();
    for (i, frame) in read_capture(exp.capture).iter().enumerate() {
        let ctx = format!("{} frame {i}", exp.capture);
        let (advert, meta, vrrp): (Advert, RxMeta, &[u8]) = match classify(frame) {
            Frame::V4Advert { ip_packet } => {
                let (advert, meta) =
                    decode_ipv4_packet(ip_packet).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                (advert, meta, ipv4_payload(ip_packet))
            }
            Frame::V6Advert { vrrp, meta } => {
                let advert = Advert::decode(vrrp, &meta).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                (advert, meta, vrrp)
            }
            _ => continue,
        };
        let group = match meta.src {
            IpAddr::V4(_) => IpAddr::V4(VRRP_GROUP_V4),
            IpAddr::V6(_) => IpAddr::V6(VRRP_GROUP_V6),
        };
        assert_eq!(meta.dst, group, "{ctx}");
        assert_eq!(meta.ttl, VRRP_TTL, "{ctx}");
        assert!(
            exp.sources.contains(&meta.src),
            "{ctx}: source {}",
            meta.src
        );
        assert!([MAC_A, MAC_B].contains(&eth_src(frame)), "{ctx}");
        assert_eq!(advert.version, exp.version, "{ctx}");
        assert_eq!(advert.vrid, 1, "{ctx}");
        assert!(
            [50, 0].contains(&advert.priority),
            "{ctx}: {}",
            advert.priority
        );
        assert_eq!(advert.interval, exp.interval, "{ctx}");
        assert_eq!(advert.addresses, exp.addresses, "{ctx}");
        assert_eq!(advert.auth, exp.auth, "{ctx}");
        let encoded = advert
            .encode(meta.src, meta.dst)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(encoded, vrrp, "{ctx}: re-encoded bytes differ");
        assert_eq!(advert.encoded_len(), vrrp.len(), "{ctx}");
        adverts.push((advert, meta.src));
    }
    assert_eq!(adverts.len(), exp.count, "{}: adverts", exp.capture);
    // Each node stopped once with a priority-0 advert: exactly two, one per source.
    let mut zero_sources: Vec<_> = adverts
        .iter()
        .filter(|(a, _)| a.priority == 0)
        .map(|(_, src)| *src)
        .collect();
    zero_sources.sort();
    let mut sources = exp.sources;
    sources.sort();
    assert_eq!(zero_sources, sources, "{}: priority-0 adverts", exp.capture);
}

#[test]
fn v2_pass() {
    check_capture(&Expected {
        capture: "v2-pass.pcap",
        version: Version::V2,
        interval: Centisecs::from_secs(1),
        auth: Auth::Simple(*b"secret12"),
        addresses: vec![v4([169, 254, 0, 1])],
        sources: node_sources_v4(),
        count: 11,
    });
}

#[test]
fn v3_ipv4() {
    check_capture(&Expected {
        capture: "v3-ipv4.pcap",
        version: Version::V3,
        interval: Centisecs(100),
        auth: Auth::None,
        addresses: vec![v4([169, 254, 0, 1])],
        sources: node_sources_v4(),
        count: 11,
    });
}

#[test]
fn v3_ipv6() {
    check_capture(&Expected {
        capture: "v3-ipv6.pcap",
        version: Version::V3,
        interval: Centisecs(100),
        auth: Auth::None,
        addresses: vec![v6("fd00:1::100")],
        sources: [
            v6("fe80::f816:3eff:fe84:247f"),
            v6("fe80::f816:3eff:fe09:29d4"),
        ],
        count: 11,
    });
}

#[test]
fn v3_centiseconds() {
    check_capture(&Expected {
        capture: "v3-cs.pcap",
        version: Version::V3,
        interval: Centisecs(5),
        auth: Auth::None,
        addresses: vec![v4([169, 254, 0, 1])],
        sources: node_sources_v4(),
        count: 237,
    });
}

/// The captures hold adverts, ARP and ICMPv6 only: nothing was skipped unnoticed.
#[test]
fn captures_hold_nothing_else() {
    for capture in common::CAPTURES {
        for (i, frame) in read_capture(capture).iter().enumerate() {
            assert!(
                !matches!(classify(frame), Frame::Other),
                "{capture} frame {i}: unexpected frame"
            );
        }
    }
}
