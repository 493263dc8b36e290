//! Property tests: encode→decode round trips for arbitrary valid adverts, the frame builders
//! round-trip through their parsers, and no decoder or parser panics on arbitrary bytes.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{
    UnsolicitedNa, decode_ipv4_packet, ipv4_packet, parse_gratuitous_arp, parse_unsolicited_na,
};
use proptest::prelude::*;
use vrrp_agent::packet::{
    Advert, Auth, Centisecs, RxMeta, VRRP_TTL, Version, gratuitous_arp, unsolicited_na,
};

fn any_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn any_v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![any_v4().prop_map(IpAddr::V4), any_v6().prop_map(IpAddr::V6)]
}

fn any_auth() -> impl Strategy<Value = Auth> {
    prop_oneof![Just(Auth::None), any::<[u8; 8]>().prop_map(Auth::Simple)]
}

/// A valid v2 advert (IPv4, whole seconds 1..=255, auth none or simple) with its src and dst.
fn v2_advert() -> impl Strategy<Value = (Advert, IpAddr, IpAddr)> {
    (
        any::<u8>(),
        any::<u8>(),
        1..=255u32,
        prop::collection::vec(any_v4().prop_map(IpAddr::V4), 0..=20),
        any_auth(),
        any_v4(),
        any_v4(),
    )
        .prop_map(|(vrid, priority, secs, addresses, auth, src, dst)| {
            let advert = Advert {
                version: Version::V2,
                vrid,
                priority,
                interval: Centisecs::from_secs(secs),
                addresses,
                auth,
            };
            (advert, src.into(), dst.into())
        })
}

/// A valid v3 advert (IPv4 or IPv6, 1..=4095 cs) with its src and dst of the same family.
fn v3_advert() -> impl Strategy<Value = (Advert, IpAddr, IpAddr)> {
    let v4 = (
        prop::collection::vec(any_v4().prop_map(IpAddr::V4), 0..=20),
        any_v4().prop_map(IpAddr::V4),
        any_v4().prop_map(IpAddr::V4),
    );
    let v6 = (
        prop::collection::vec(any_v6().prop_map(IpAddr::V6), 0..=20),
        any_v6().prop_map(IpAddr::V6),
        any_v6().prop_map(IpAddr::V6),
    );
    (any::<u8>(), any::<u8>(), 1..=4095u32, prop_oneof![v4, v6]).prop_map(
        |(vrid, priority, cs, (addresses, src, dst))| {
            let advert = Advert {
                version: Version::V3,
                vrid,
                priority,
                interval: Centisecs(cs),
                addresses,
                auth: Auth::None,
            };
            (advert, src, dst)
        },
    )
}

fn any_meta() -> impl Strategy<Value = RxMeta> {
    prop_oneof![
        // Mostly TTL 255, to get past the first check.
        3 => (any_ip(), any_ip()).prop_map(|(src, dst)| RxMeta { src, dst, ttl: VRRP_TTL }),
        1 => (any_ip(), any_ip(), any::<u8>()).prop_map(|(src, dst, ttl)| RxMeta { src, dst, ttl }),
    ]
}

fn round_trip(advert: &Advert, src: IpAddr, dst: IpAddr) -> Result<(), TestCaseError> {
    let vrrp = advert.encode(src, dst).expect("a valid advert encodes");
    prop_assert_eq!(vrrp.len(), advert.encoded_len());
    let meta = RxMeta {
        src,
        dst,
        ttl: VRRP_TTL,
    };
    prop_assert_eq!(Advert::decode(&vrrp, &meta), Ok(advert.clone()));
    if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
        let packet = ipv4_packet(&vrrp, s, d, VRRP_TTL, &[]);
        prop_assert_eq!(decode_ipv4_packet(&packet), Ok((advert.clone(), meta)));
    }
    Ok(())
}

proptest! {
    // 1024 cases each: well under a second per test in a debug build.
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn v2_round_trip((advert, src, dst) in v2_advert()) {
        round_trip(&advert, src, dst)?;
    }

    #[test]
    fn v3_round_trip((advert, src, dst) in v3_advert()) {
        round_trip(&advert, src, dst)?;
    }

    /// Wholly arbitrary bytes, and bytes starting with a valid version/type byte so that most
    /// inputs get past the first checks.
    #[test]
    fn decode_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        meta in any_meta(),
        start in prop_oneof![Just(None), Just(Some(0x21u8)), Just(Some(0x31u8))],
    ) {
        let mut bytes = bytes;
        if let (Some(first), Some(start)) = (bytes.first_mut(), start) {
            *first = start;
        }
        let _ = Advert::decode(&bytes, &meta);
    }

    /// Arbitrary bytes behind a plausible start (version 4, protocol 112, TTL 255), so that
    /// most inputs get past the first checks, and wholly arbitrary bytes.
    #[test]
    fn decode_ipv4_packet_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        plausible in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if plausible && bytes.len() >= 20 {
            bytes[0] = 0x40 | (bytes[0] & 0x0f);
            bytes[8] = VRRP_TTL;
            bytes[9] = 112;
            let len = bytes.len() as u16;
            let total = u16::from_be_bytes([bytes[2], bytes[3]]) % (len + 1);
            bytes[2..4].copy_from_slice(&total.to_be_bytes());
            bytes[6] &= 0x40;
            bytes[7] = 0;
        }
        let _ = decode_ipv4_packet(&bytes);
    }

    #[test]
    fn frame_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_gratuitous_arp(&bytes);
        let _ = parse_unsolicited_na(&bytes);
    }

    /// Arbitrary bytes behind the right EtherType, and a built frame with arbitrary bytes
    /// overwritten or appended.
    #[test]
    fn frame_parsers_never_panic_on_mangled_frames(
        mac in any::<[u8; 6]>(),
        ip4 in any_v4(),
        ip6 in any_v6(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        tail in prop::collection::vec(any::<u8>(), 0..40),
        cut in any::<prop::sample::Index>(),
    ) {
        for mut frame in [gratuitous_arp(mac, ip4), unsolicited_na(mac, ip6, false)] {
            for (at, value) in &edits {
                let at = at.index(frame.len());
                frame[at] = *value;
            }
            frame.extend_from_slice(&tail);
            let cut = cut.index(frame.len() + 1);
            let _ = parse_gratuitous_arp(&frame[..cut]);
            let _ = parse_unsolicited_na(&frame[..cut]);
            let _ = parse_gratuitous_arp(&frame);
            let _ = parse_unsolicited_na(&frame);
        }
    }

    #[test]
    fn garp_round_trip(mac in any::<[u8; 6]>(), ip in any_v4()) {
        let frame = gratuitous_arp(mac, ip);
        let expected = if ip.is_unspecified() { None } else { Some((mac, ip)) };
        prop_assert_eq!(parse_gratuitous_arp(&frame), expected);
    }

    #[test]
    fn na_round_trip(mac in any::<[u8; 6]>(), ip in any_v6(), router in any::<bool>()) {
        let frame = unsolicited_na(mac, ip, router);
        // A multicast target is not a valid advertisement (RFC 4861 §7.1.2).
        let expected = (!ip.is_multicast()).then_some(UnsolicitedNa {
            mac,
            target: ip,
            router,
            override_flag: true,
        });
        prop_assert_eq!(parse_unsolicited_na(&frame), expected);
    }
}
