//! keepalived 2.2.7's AH adverts (`auth_type AH`, capture `v2-ah.pcap`): every one splits,
//! its ICV verifies with the password (and fails with any other), it decodes to the expected
//! fields, and our encoder rebuilds the whole IPv4 packet byte for byte from the decoded
//! advert, the IP identification and the sequence number.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{Frame, MAC_A, MAC_B, classify, eth_src, read_capture};
use vrrp_agent::packet::{
    AhIpv4, Auth, Centisecs, DecodeError, VRRP_GROUP_V4, VRRP_TTL, Version, encode_ah_packet,
    split_ah_packet,
};

const NODE_A: Ipv4Addr = Ipv4Addr::new(169, 254, 192, 2);
const NODE_B: Ipv4Addr = Ipv4Addr::new(169, 254, 192, 1);

/// (source, IP identification, AH sequence number, priority) of every AH advert, in order.
fn check_capture() -> Vec<(Ipv4Addr, u16, u32, u8)> {
    let mut seen = Vec::new();
    for (i, frame) in read_capture("v2-ah").iter().enumerate() {
        let ctx = format!("v2-ah frame {i}");
        let ip_packet = match classify(frame) {
            Frame::V4AhAdvert { ip_packet } => ip_packet,
            Frame::Arp => continue,
            other => panic!("{ctx}: unexpected frame {other:?}"),
        };
        assert!([MAC_A, MAC_B].contains(&eth_src(frame)), "{ctx}");
        let packet = split_ah_packet(ip_packet).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let meta = *packet.meta();
        let IpAddr::V4(src) = meta.src else {
            panic!("{ctx}: IPv6 source")
        };
        assert_eq!(meta.dst, IpAddr::V4(VRRP_GROUP_V4), "{ctx}");
        assert_eq!(meta.ttl, VRRP_TTL, "{ctx}");
        assert_eq!(packet.spi(), u32::from(src), "{ctx}: SPI is the source");
        let advert = packet
            .decode(b"secret12", false, true)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        for wrong in [b"secret11", b"Secret12", b"secret1\0"] {
            assert_eq!(
                packet.decode(wrong, false, true),
                Err(DecodeError::AhIcv),
                "{ctx}: accepted with another password"
            );
        }
        assert_eq!(advert.version, Version::V2, "{ctx}");
        assert_eq!(advert.vrid, 1, "{ctx}");
        assert!([50, 0].contains(&advert.priority), "{ctx}");
        assert_eq!(advert.interval, Centisecs::from_secs(1), "{ctx}");
        assert_eq!(
            advert.addresses,
            [IpAddr::V4(Ipv4Addr::new(169, 254, 0, 1))],
            "{ctx}"
        );
        assert_eq!(
            advert.auth,
            Auth::Ah {
                key: *b"secret12",
                seq: packet.seq()
            },
            "{ctx}"
        );
        let id = u16::from_be_bytes([ip_packet[4], ip_packet[5]]);
        let rebuilt = encode_ah_packet(
            &advert,
            &AhIpv4 {
                src,
                dst: VRRP_GROUP_V4,
                id,
                unicast: false,
            },
        )
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(rebuilt, ip_packet, "{ctx}: re-encoded bytes differ");
        seen.push((src, id, packet.seq(), advert.priority));
    }
    seen
}

#[test]
fn every_ah_advert_authenticates_decodes_and_reencodes_identically() {
    let seen = check_capture();
    assert_eq!(seen.len(), 15, "adverts in the capture");
}

/// What the capture shows of keepalived's numbering: each node counts its IP identification
/// from 1; the AH sequence number is one counter per instance that also follows what it
/// receives, so B, taking over after A's 7 adverts (the last one priority 0), goes on at 8.
#[test]
fn sequence_numbers_continue_across_the_takeover() {
    let seen = check_capture();
    let seqs: Vec<u32> = seen.iter().map(|s| s.2).collect();
    assert_eq!(seqs, (1..=15).collect::<Vec<u32>>());
    let of = |node: Ipv4Addr| -> Vec<(u16, u8)> {
        seen.iter()
            .filter(|s| s.0 == node)
            .map(|s| (s.1, s.3))
            .collect()
    };
    let a = of(NODE_A);
    let b = of(NODE_B);
    assert_eq!(
        a.iter().map(|x| x.0).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<u16>>()
    );
    assert_eq!(
        b.iter().map(|x| x.0).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<u16>>()
    );
    assert_eq!(a.last().map(|x| x.1), Some(0), "A resigned last");
    assert_eq!(b.last().map(|x| x.1), Some(0), "B resigned last");
    assert!(seen[..7].iter().all(|s| s.0 == NODE_A));
}
