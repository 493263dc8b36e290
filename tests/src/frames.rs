//! Building and mutating Ethernet frames for XDP tests: VLAN tags, IPv4 options, VRID
//! rewrites, and ordinary non-VRRP traffic (built by etherparse).

use etherparse::PacketBuilder;

pub const ETH_HLEN: usize = 14;

/// Inserts one VLAN tag (`tpid` 0x8100 or 0x88a8) with VLAN id `vid` after the MACs.
pub fn with_vlan(frame: &[u8], tpid: u16, vid: u16) -> Vec<u8> {
    let mut out = frame[..12].to_vec();
    out.extend_from_slice(&tpid.to_be_bytes());
    out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    out.extend_from_slice(&frame[12..]);
    out
}

/// Offset of the L3 header (after at most one VLAN tag).
pub fn l3_offset(frame: &[u8]) -> usize {
    match u16::from_be_bytes([frame[12], frame[13]]) {
        0x8100 | 0x88a8 => ETH_HLEN + 4,
        _ => ETH_HLEN,
    }
}

/// Recomputes the IPv4 header checksum in place (the header at `l3`).
pub fn fix_ipv4_checksum(frame: &mut [u8], l3: usize) {
    let ihl = usize::from(frame[l3] & 0x0f) * 4;
    frame[l3 + 10] = 0;
    frame[l3 + 11] = 0;
    let mut sum = 0u32;
    for chunk in frame[l3..l3 + ihl].chunks(2) {
        sum += u32::from(u16::from_be_bytes([chunk[0], chunk[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let csum = !(sum as u16);
    frame[l3 + 10..l3 + 12].copy_from_slice(&csum.to_be_bytes());
}

/// Inserts `options` (a multiple of 4 bytes, at most 40) into an IPv4 packet's header,
/// updating IHL, total length and the header checksum.
pub fn with_ipv4_options(frame: &[u8], options: &[u8]) -> Vec<u8> {
    assert!(options.len().is_multiple_of(4) && options.len() <= 40);
    let l3 = l3_offset(frame);
    assert_eq!(frame[l3] >> 4, 4, "not IPv4");
    let ihl = usize::from(frame[l3] & 0x0f) * 4;
    let mut out = frame[..l3 + ihl].to_vec();
    out.extend_from_slice(options);
    out.extend_from_slice(&frame[l3 + ihl..]);
    out[l3] = 0x40 | ((ihl + options.len()) / 4) as u8;
    let tot = u16::from_be_bytes([out[l3 + 2], out[l3 + 3]]) + options.len() as u16;
    out[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
    fix_ipv4_checksum(&mut out, l3);
    out
}

/// Offset of the VRRP header in an advert frame (after the 24-byte AH header of keepalived's
/// `auth_type AH`, IPv4 protocol 51).
pub fn vrrp_offset(frame: &[u8]) -> usize {
    let l3 = l3_offset(frame);
    match frame[l3] >> 4 {
        4 if frame[l3 + 9] == 51 => l3 + usize::from(frame[l3] & 0x0f) * 4 + 24,
        4 => l3 + usize::from(frame[l3] & 0x0f) * 4,
        6 => l3 + 40,
        v => panic!("not an IP packet (version nibble {v})"),
    }
}

/// Rewrites the VRID of an advert, its VRRP checksum updated to match (the XDP program
/// verifies it; an AH advert's ICV is left as it was: only the agent checks that).
pub fn with_vrid(frame: &[u8], vrid: u8) -> Vec<u8> {
    let mut out = frame.to_vec();
    let at = vrrp_offset(frame);
    let old = u16::from_be_bytes([out[at], out[at + 1]]);
    out[at + 1] = vrid;
    let new = u16::from_be_bytes([out[at], out[at + 1]]);
    // The checksum, updated for the changed word (RFC 1624 eqn. 3), whichever form it has.
    let check = u16::from_be_bytes([out[at + 6], out[at + 7]]);
    let mut sum = u32::from(!check) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    out[at + 6..at + 8].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    out
}

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

/// Ordinary traffic that must pass the program uncounted as VRRP.
pub fn non_vrrp_frames() -> Vec<(&'static str, Vec<u8>)> {
    let payload = b"vrrp-xdp test payload";
    let mut out = Vec::new();
    let mut push = |name, builder: etherparse::PacketBuilderStep<etherparse::UdpHeader>| {
        let mut buf = Vec::new();
        builder.write(&mut buf, payload).expect("build frame");
        out.push((name, buf));
    };
    push(
        "udp4",
        PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1234, 5678),
    );
    push(
        "udp6",
        PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
            .ipv6([0xfd; 16], [0xfe; 16], 64)
            .udp(1234, 5678),
    );
    let mut tcp = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 80, 1, 65535)
        .syn()
        .write(&mut tcp, &[])
        .expect("build tcp");
    out.push(("tcp4", tcp));
    let mut icmp = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut icmp, payload)
        .expect("build icmp");
    out.push(("icmp4", icmp));
    let mut icmp6 = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv6([0xfd; 16], [0xfe; 16], 64)
        .icmpv6_echo_request(1, 1)
        .write(&mut icmp6, payload)
        .expect("build icmp6");
    out.push(("icmp6", icmp6));
    // An unknown EtherType, and a frame with two VLAN tags (only one is parsed: the inner
    // tag's EtherType is not IP, so it is "not VRRP").
    let mut other = DST_MAC.to_vec();
    other.extend_from_slice(&SRC_MAC);
    other.extend_from_slice(&0x88b5u16.to_be_bytes());
    other.extend_from_slice(&[0u8; 46]);
    out.push(("ethertype-0x88b5", other));
    let udp4 = out[0].1.clone();
    out.push((
        "qinq-udp4",
        with_vlan(&with_vlan(&udp4, 0x8100, 20), 0x88a8, 10),
    ));
    out
}
