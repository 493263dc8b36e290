//! Gratuitous ARPs and unsolicited neighbour advertisements: every one keepalived sent in the
//! captures (all of `common::CAPTURES`, AH included) parses, our builders reproduce each byte
//! for byte and what they build parses back, and the parsers (the tests' own,
//! `common::takeover`) refuse malformed frames.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::{
    CAPTURES, Capture, Frame, MAC_A, MAC_B, UnsolicitedNa, classify, eth_src, parse_gratuitous_arp,
    parse_unsolicited_na,
};
use vrrp_agent::packet::{
    GARP_FRAME_LEN, NA_FRAME_LEN, gratuitous_arp, pseudo_header_checksum, unsolicited_na,
};

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The takeover frames one capture must hold.
struct Expected {
    /// The addresses its GARPs announce, and how many GARPs there are.
    garp_ips: Vec<Ipv4Addr>,
    garps: usize,
    /// The addresses its NAs announce, and how many NAs there are.
    na_ips: Vec<Ipv6Addr>,
    nas: usize,
}

/// What each capture of the list holds. Each node announces each address 6 times:
/// `vrrp_garp_master_repeat 3` on becoming master and 3 more after `vrrp_garp_master_delay 1`.
/// A capture added to the list without expectations fails here.
fn expected(capture: Capture) -> Expected {
    let garps = |ips: &[&str]| Expected {
        garp_ips: ips.iter().map(|ip| ip4(ip)).collect(),
        garps: 12 * ips.len(),
        na_ips: vec![],
        nas: 0,
    };
    match capture.name {
        // AH changes the adverts only: the same addresses are announced.
        "v2-pass" | "v2-ah" => garps(&["169.254.0.1", "10.0.10.1", "192.168.1.112"]),
        // keepalived 2.3.3 announces as 2.2.7 does.
        "v3-ipv4" | "v3-rfc9568" => garps(&["169.254.0.1", "10.0.10.1"]),
        "v3-cs" => garps(&["169.254.0.1"]),
        "v3-ipv6" => Expected {
            garp_ips: vec![],
            garps: 0,
            na_ips: vec![ip6("fd00:1::100"), ip6("fd00:2::1")],
            nas: 24,
        },
        other => panic!("no expectations for capture `{other}`"),
    }
}

#[test]
fn captured_frames_parse_and_are_reproduced() {
    for capture in CAPTURES {
        let exp = expected(capture);
        let Expected {
            garp_ips, na_ips, ..
        } = &exp;
        let (mut garps, mut nas) = (0, 0);
        for (i, frame) in capture.frames().iter().enumerate() {
            let ctx = format!("{capture} frame {i}");
            let mac = eth_src(frame);
            assert!([MAC_A, MAC_B].contains(&mac), "{ctx}");
            match classify(frame) {
                Frame::Arp => {
                    let (sender, ip) =
                        parse_gratuitous_arp(frame).unwrap_or_else(|| panic!("{ctx}: not a GARP"));
                    assert_eq!(sender, mac, "{ctx}");
                    assert!(garp_ips.contains(&ip), "{ctx}: {ip}");
                    assert_eq!(
                        gratuitous_arp(mac, ip),
                        *frame,
                        "{ctx}: rebuilt frame differs"
                    );
                    assert!(parse_unsolicited_na(frame).is_none(), "{ctx}");
                    garps += 1;
                }
                Frame::Icmpv6 => {
                    let na =
                        parse_unsolicited_na(frame).unwrap_or_else(|| panic!("{ctx}: not an NA"));
                    assert_eq!(na.mac, mac, "{ctx}");
                    assert!(na_ips.contains(&na.target), "{ctx}: {}", na.target);
                    // keepalived sets Override and leaves Router clear (flags byte 0x20).
                    assert!(na.override_flag && !na.router, "{ctx}: {na:?}");
                    assert_eq!(
                        unsolicited_na(mac, na.target, false),
                        *frame,
                        "{ctx}: rebuilt frame differs"
                    );
                    assert!(parse_gratuitous_arp(frame).is_none(), "{ctx}");
                    nas += 1;
                }
                _ => {
                    assert!(parse_gratuitous_arp(frame).is_none(), "{ctx}");
                    assert!(parse_unsolicited_na(frame).is_none(), "{ctx}");
                }
            }
        }
        assert_eq!(garps, exp.garps, "{capture}: GARPs");
        assert_eq!(nas, exp.nas, "{capture}: NAs");
    }
}

const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x01, 0x07];

/// What the builders make parses back to what they were given.
#[test]
fn built_frames_parse_back() {
    let ip = ip4("192.0.2.7");
    assert_eq!(
        parse_gratuitous_arp(&gratuitous_arp(MAC, ip)),
        Some((MAC, ip))
    );
    let target = ip6("2001:db8::7");
    for router in [false, true] {
        assert_eq!(
            parse_unsolicited_na(&unsolicited_na(MAC, target, router)),
            Some(UnsolicitedNa {
                mac: MAC,
                target,
                router,
                override_flag: true
            })
        );
    }
}

fn garp() -> Vec<u8> {
    gratuitous_arp(MAC, ip4("192.0.2.100"))
}

#[test]
fn garp_layout() {
    let frame = garp();
    assert_eq!(frame.len(), GARP_FRAME_LEN);
    let expected: Vec<u8> = [
        &[0xff; 6][..],                  // Ethernet broadcast
        &MAC,                            // from us
        &[0x08, 0x06],                   // ARP
        &[0, 1, 0x08, 0x00, 6, 4, 0, 1], // Ethernet/IPv4, request
        &MAC,                            // sender MAC
        &[192, 0, 2, 100],               // sender IP
        &[0xff; 6],                      // target MAC, as keepalived
        &[192, 0, 2, 100],               // target IP = sender IP
    ]
    .concat();
    assert_eq!(frame, expected);
}

#[test]
fn garp_reply_and_padding_accepted() {
    let mut reply = garp();
    reply[21] = 2;
    assert_eq!(
        parse_gratuitous_arp(&reply),
        Some((MAC, ip4("192.0.2.100")))
    );
    let mut padded = garp();
    padded.resize(60, 0);
    assert_eq!(
        parse_gratuitous_arp(&padded),
        Some((MAC, ip4("192.0.2.100")))
    );
}

#[test]
fn garp_rejections() {
    let frame = garp();
    for len in 0..frame.len() {
        assert_eq!(
            parse_gratuitous_arp(&frame[..len]),
            None,
            "truncated to {len}"
        );
    }
    // (byte, new value, what it breaks)
    let cases: &[(usize, u8, &str)] = &[
        (12, 0x86, "EtherType 0x8606"),
        (13, 0x00, "EtherType 0x0800"),
        (15, 6, "hardware type 6"),
        (16, 0x86, "protocol type 0x86dd"),
        (18, 8, "hardware address length 8"),
        (19, 16, "protocol address length 16"),
        (21, 0, "opcode 0"),
        (21, 3, "opcode 3 (RARP request)"),
        (31, 101, "target IP differs from sender IP"),
        (41, 101, "target IP differs from sender IP"),
    ];
    for &(at, value, what) in cases {
        let mut bad = frame.clone();
        bad[at] = value;
        assert_eq!(parse_gratuitous_arp(&bad), None, "{what}");
    }
    // An RFC 5227 probe (sender 0.0.0.0) is not an announcement, even for target 0.0.0.0.
    assert_eq!(
        parse_gratuitous_arp(&gratuitous_arp(MAC, Ipv4Addr::UNSPECIFIED)),
        None
    );
}

fn na(router: bool) -> Vec<u8> {
    unsolicited_na(MAC, ip6("2001:db8::100"), router)
}

#[test]
fn na_layout() {
    let frame = na(false);
    assert_eq!(frame.len(), NA_FRAME_LEN);
    let target = ip6("2001:db8::100").octets();
    let all_nodes = ip6("ff02::1").octets();
    let csum = [frame[56], frame[57]];
    let expected: Vec<u8> = [
        &[0x33, 0x33, 0, 0, 0, 1][..], // all-nodes multicast MAC
        &MAC,
        &[0x86, 0xdd],
        &[0x60, 0, 0, 0, 0, 32, 58, 255], // IPv6, 32 bytes of ICMPv6, hop limit 255
        &target,                          // from the address itself
        &all_nodes,
        &[136, 0],
        &csum,
        &[0x20, 0, 0, 0], // Override only
        &target,
        &[2, 1], // target link-layer address, 8 bytes
        &MAC,
    ]
    .concat();
    assert_eq!(frame, expected);
    // The checksum is the one over the IPv6 pseudo-header: the sum over pseudo-header and
    // message is 0xffff.
    let mut sum: u32 = 0;
    for w in frame[22..54].chunks(2).chain(frame[54..].chunks(2)) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    sum += 58 + 32;
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    assert_eq!(sum, 0xffff);

    let routed = na(true);
    assert_eq!(routed[58], 0xa0, "Router + Override");
    assert_eq!(
        parse_unsolicited_na(&routed),
        Some(UnsolicitedNa {
            mac: MAC,
            target: ip6("2001:db8::100"),
            router: true,
            override_flag: true
        })
    );
}

#[test]
fn na_rejections() {
    let frame = na(false);
    for len in 0..frame.len() {
        assert_eq!(
            parse_unsolicited_na(&frame[..len]),
            None,
            "truncated to {len}"
        );
    }
    // Every single-bit flip in the addresses of the IPv6 header (pseudo-header) or in the
    // ICMPv6 message breaks the checksum (or the type, length or option checks).
    for byte in 22..frame.len() {
        for bit in 0..8 {
            let mut bad = frame.clone();
            bad[byte] ^= 1 << bit;
            assert_eq!(parse_unsolicited_na(&bad), None, "bit {bit} of byte {byte}");
        }
    }
    // Checks made before the checksum: the frame stays otherwise valid.
    let cases: &[(usize, u8, &str)] = &[
        (13, 0x00, "EtherType 0x8600"),
        (14, 0x40, "IP version 4"),
        (20, 0, "next header 0 (hop-by-hop options)"),
        (21, 254, "hop limit 254"),
        (21, 1, "hop limit 1"),
    ];
    for &(at, value, what) in cases {
        let mut bad = frame.clone();
        bad[at] = value;
        assert_eq!(parse_unsolicited_na(&bad), None, "{what}");
    }
}

/// Re-checksums the ICMPv6 part of an NA frame (as far as its payload length says and the
/// frame holds) after a deliberate change.
fn fix_icmp_checksum(frame: &mut [u8]) {
    frame[56..58].fill(0);
    let end = (54 + usize::from(u16::from_be_bytes([frame[18], frame[19]]))).min(frame.len());
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&frame[22..38]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&frame[38..54]).unwrap());
    let csum = pseudo_header_checksum(src.into(), dst.into(), 58, &frame[54..end]);
    frame[56..58].copy_from_slice(&csum.to_be_bytes());
}

#[test]
fn na_semantic_rejections_with_valid_checksum() {
    let with = |change: &dyn Fn(&mut Vec<u8>)| {
        let mut frame = na(false);
        change(&mut frame);
        fix_icmp_checksum(&mut frame);
        parse_unsolicited_na(&frame)
    };
    // The helper itself keeps a valid frame valid.
    assert!(with(&|_| {}).is_some());
    assert_eq!(with(&|f| f[54] = 135), None, "type 135 (solicitation)");
    assert_eq!(with(&|f| f[55] = 1), None, "code 1");
    assert_eq!(with(&|f| f[58] |= 0x40), None, "Solicited flag");
    assert_eq!(with(&|f| f[62] = 0xff), None, "multicast target");
    assert_eq!(with(&|f| f[79] = 0), None, "option of length 0");
    assert_eq!(with(&|f| f[79] = 2), None, "option beyond the payload");
    assert_eq!(with(&|f| f[78] = 1), None, "no target link-layer option");
    // Payload length 24: the option is outside the IPv6 payload, so there is none.
    assert_eq!(
        with(&|f| {
            f[19] = 24;
            f.truncate(78);
        }),
        None
    );
    // Payload length beyond the frame.
    assert_eq!(with(&|f| f[19] = 40), None);
    // Ethernet padding after the IPv6 payload is ignored.
    let padded = with(&|f| f.extend_from_slice(&[0; 8]));
    assert_eq!(padded, parse_unsolicited_na(&na(false)));
    // An extra option before the link-layer one is skipped.
    let extra = with(&|f| {
        f[19] = 40;
        f.splice(78..78, [14, 1, 0, 0, 0, 0, 0, 0]); // nonce option
    });
    assert_eq!(extra.map(|n| n.mac), Some(MAC));
}
