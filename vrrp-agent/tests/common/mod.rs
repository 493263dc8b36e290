//! Shared by the codec test files: the keepalived captures (the one list in
//! `tests/fixtures/keepalived/captures.rs`), splitting their frames, decoding an advert from
//! its IPv4 packet, parsing takeover frames (`takeover`), wrapping a VRRP message in an IPv4
//! header, and sample adverts. Each test file uses a part.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_agent::packet::{
    Advert, Auth, Centisecs, DecodeError, IPPROTO_AH, IPPROTO_VRRP, RxMeta, VRRP_GROUP_V4,
    VRRP_GROUP_V6, VRRP_TTL, Version, internet_checksum, split_ipv4_packet,
};

#[path = "../../../tests/fixtures/keepalived/captures.rs"]
pub mod captures;
pub mod takeover;
#[allow(unused_imports)] // Each test file uses a part.
pub use captures::{CAPTURES, Capture, CaptureKind, capture};
#[allow(unused_imports)]
pub use takeover::{UnsolicitedNa, parse_gratuitous_arp, parse_unsolicited_na};

/// Splits an IPv4 packet carrying VRRP ([`split_ipv4_packet`], as the agent's socket does),
/// then decodes the advert.
pub fn decode_ipv4_packet(packet: &[u8]) -> Result<(Advert, RxMeta), DecodeError> {
    let (meta, vrrp) = split_ipv4_packet(packet)?;
    Ok((Advert::decode(vrrp, &meta)?, meta))
}

/// MACs of node A (ha-a) and node B (ha-b) in the captures.
pub const MAC_A: [u8; 6] = [0xfa, 0x16, 0x3e, 0x09, 0x29, 0xd4];
pub const MAC_B: [u8; 6] = [0xfa, 0x16, 0x3e, 0x84, 0x24, 0x7f];

const ETH_HEADER_LEN: usize = 14;

/// Every frame of capture `name` (see [`Capture::frames`]).
pub fn read_capture(name: &str) -> Vec<Vec<u8>> {
    capture(name).frames()
}

/// What a captured frame carries.
#[derive(Debug)]
pub enum Frame<'a> {
    /// An IPv4 packet carrying VRRP (from its IPv4 header on).
    V4Advert {
        ip_packet: &'a [u8],
    },
    /// An IPv4 packet carrying an IPsec AH header (keepalived's `auth_type AH`), from its
    /// IPv4 header on.
    V4AhAdvert {
        ip_packet: &'a [u8],
    },
    /// An IPv6 packet carrying VRRP: the VRRP message and what the IPv6 header says.
    V6Advert {
        vrrp: &'a [u8],
        meta: RxMeta,
    },
    /// An ARP frame.
    Arp,
    /// An IPv6 packet carrying ICMPv6.
    Icmpv6,
    Other,
}

/// The Ethernet source address of a frame.
pub fn eth_src(frame: &[u8]) -> [u8; 6] {
    frame[6..12].try_into().unwrap()
}

/// Classifies a captured Ethernet frame (untagged, IPv6 without extension headers).
pub fn classify(frame: &[u8]) -> Frame<'_> {
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let payload = &frame[ETH_HEADER_LEN..];
    match ethertype {
        0x0806 => Frame::Arp,
        0x0800 if payload[9] == IPPROTO_VRRP => Frame::V4Advert { ip_packet: payload },
        0x0800 if payload[9] == IPPROTO_AH => Frame::V4AhAdvert { ip_packet: payload },
        0x86dd => {
            let len = usize::from(u16::from_be_bytes([payload[4], payload[5]]));
            let octets = |at: usize| -> [u8; 16] { payload[at..at + 16].try_into().unwrap() };
            match payload[6] {
                IPPROTO_VRRP => Frame::V6Advert {
                    vrrp: &payload[40..40 + len],
                    meta: RxMeta {
                        src: Ipv6Addr::from(octets(8)).into(),
                        dst: Ipv6Addr::from(octets(24)).into(),
                        ttl: payload[7],
                    },
                },
                58 => Frame::Icmpv6,
                _ => Frame::Other,
            }
        }
        _ => Frame::Other,
    }
}

/// The VRRP message inside an IPv4 packet (honouring IHL and total length).
pub fn ipv4_payload(ip_packet: &[u8]) -> &[u8] {
    let ihl = usize::from(ip_packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip_packet[2], ip_packet[3]]));
    &ip_packet[ihl..total]
}

/// An IPv4 packet carrying `vrrp` (protocol 112) with the given TTL and options (whose
/// length must be a multiple of 4, at most 40), and a correct header checksum.
pub fn ipv4_packet(vrrp: &[u8], src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, options: &[u8]) -> Vec<u8> {
    assert!(options.len().is_multiple_of(4) && options.len() <= 40);
    let ihl = 20 + options.len();
    let total = u16::try_from(ihl + vrrp.len()).unwrap();
    let mut p = vec![0x40 | (ihl / 4) as u8, 0xc0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, ttl, IPPROTO_VRRP, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(options);
    let csum = internet_checksum(&p);
    p[10..12].copy_from_slice(&csum.to_be_bytes());
    p.extend_from_slice(vrrp);
    p
}

pub const SRC_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const SRC_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

/// A received-packet context: `src` to the VRRP group of its family, TTL 255.
pub fn meta_from(src: IpAddr) -> RxMeta {
    let dst = match src {
        IpAddr::V4(_) => IpAddr::V4(VRRP_GROUP_V4),
        IpAddr::V6(_) => IpAddr::V6(VRRP_GROUP_V6),
    };
    RxMeta {
        src,
        dst,
        ttl: VRRP_TTL,
    }
}

/// VRRPv2, auth "secret12", 1 s, two IPv4 addresses.
pub fn sample_v2() -> Advert {
    Advert {
        version: Version::V2,
        vrid: 7,
        priority: 100,
        interval: Centisecs::from_secs(1),
        addresses: vec![
            Ipv4Addr::new(192, 0, 2, 100).into(),
            Ipv4Addr::new(198, 51, 100, 1).into(),
        ],
        auth: Auth::simple("secret12"),
    }
}

/// VRRPv3 over IPv4, 1 s, two addresses.
pub fn sample_v3_v4() -> Advert {
    Advert {
        version: Version::V3,
        vrid: 7,
        priority: 100,
        interval: Centisecs(100),
        addresses: vec![
            Ipv4Addr::new(192, 0, 2, 100).into(),
            Ipv4Addr::new(198, 51, 100, 1).into(),
        ],
        auth: Auth::None,
    }
}

/// VRRPv3 over IPv6, 0.5 s, two addresses.
pub fn sample_v3_v6() -> Advert {
    Advert {
        version: Version::V3,
        vrid: 7,
        priority: 100,
        interval: Centisecs(50),
        addresses: vec![
            "2001:db8::100".parse::<Ipv6Addr>().unwrap().into(),
            "2001:db8::101".parse::<Ipv6Addr>().unwrap().into(),
        ],
        auth: Auth::None,
    }
}

/// The three samples with the source each is sent from.
pub fn samples() -> [(Advert, IpAddr); 3] {
    [
        (sample_v2(), SRC_V4.into()),
        (sample_v3_v4(), SRC_V4.into()),
        (sample_v3_v6(), SRC_V6.into()),
    ]
}

/// Sets the checksum field of a VRRP message to the right value for `meta`.
pub fn fix_checksum(vrrp: &mut [u8], version: Version, meta: &RxMeta) {
    vrrp[6..8].fill(0);
    let csum = vrrp_agent::packet::vrrp_checksum(version, vrrp, meta.src, meta.dst);
    vrrp[6..8].copy_from_slice(&csum.to_be_bytes());
}
