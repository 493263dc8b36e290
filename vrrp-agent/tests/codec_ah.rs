//! keepalived 2.2.7's AH adverts (`auth_type AH`, capture `v2-ah`): what is particular to AH.
//! Every one's ICV verifies with the password and fails with any other, its SPI is the
//! sender's address, and the IP identification and sequence numbers count as keepalived counts
//! them. (That every AH advert decodes to the expected fields and re-encodes byte for byte is
//! checked with the other captures in `codec_fixtures.rs`.)

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{Frame, MAC_A, MAC_B, classify, eth_src, read_capture};
use vrrp_agent::packet::{Auth, DecodeError, VRRP_GROUP_V4, VRRP_TTL, split_ah_packet};

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
        assert_eq!(
            advert.auth,
            Auth::Ah {
                key: *b"secret12",
                seq: packet.seq()
            },
            "{ctx}"
        );
        let id = u16::from_be_bytes([ip_packet[4], ip_packet[5]]);
        seen.push((src, id, packet.seq(), advert.priority));
    }
    seen
}

#[test]
fn every_ah_advert_authenticates_with_its_key_only() {
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
