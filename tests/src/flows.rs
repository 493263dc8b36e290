//! Frames for the data-plane tests, built by etherparse (which computes every checksum from
//! scratch): one IPv4 packet of a flow (TCP, UDP, ICMP echo) given its MACs, addresses and
//! TTL, so a test can build both what it sends and, with translated fields, what it expects
//! back; address resolution (ARP, ICMPv6 neighbour solicitation and advertisement); IPv6 UDP
//! and echo requests; and IPv4 fragmentation.

use etherparse::{Icmpv6Type, PacketBuilder};

use crate::frames::fix_ipv4_checksum;

pub type Mac = [u8; 6];

/// `a` as dotted IPv4 text (for `ip` commands).
pub fn ip4(a: [u8; 4]) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

/// `m` as `aa:bb:cc:dd:ee:ff` (for `ip` commands).
pub fn mac_str(m: Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The fields of one IPv4 packet that NAT and forwarding change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub src_mac: Mac,
    pub dst_mac: Mac,
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub ttl: u8,
}

/// The transport a flow's packets carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp,
    Udp,
    /// UDP with the checksum field 0 ("none").
    UdpNoChecksum,
    IcmpEcho,
}

pub const ALL_L4: [L4; 4] = [L4::Tcp, L4::Udp, L4::UdpNoChecksum, L4::IcmpEcho];

const PAYLOAD: &[u8] = b"floating ip payload, 32 bytes!!!";

impl Flow {
    /// One packet of this flow carrying `l4` with a fixed payload.
    pub fn packet(&self, l4: L4) -> Vec<u8> {
        self.packet_with(l4, PAYLOAD)
    }

    /// One packet of this flow carrying `l4` and `payload`.
    pub fn packet_with(&self, l4: L4, payload: &[u8]) -> Vec<u8> {
        let ip =
            PacketBuilder::ethernet2(self.src_mac, self.dst_mac).ipv4(self.src, self.dst, self.ttl);
        let mut out = Vec::new();
        match l4 {
            L4::Tcp => ip
                .tcp(40000, 443, 0x0102_0304, 64240)
                .syn()
                .write(&mut out, payload),
            L4::Udp | L4::UdpNoChecksum => ip.udp(5353, 53).write(&mut out, payload),
            L4::IcmpEcho => ip.icmpv4_echo_request(0x4242, 7).write(&mut out, payload),
        }
        .expect("build frame");
        if l4 == L4::UdpNoChecksum {
            out[14 + 20 + 6] = 0;
            out[14 + 20 + 7] = 0;
        }
        out
    }

    /// An ICMP destination-unreachable (port unreachable) of this flow quoting `quoted` (an
    /// IPv4 packet, from its header on; ICMP quotes the start of the packet that failed).
    pub fn port_unreachable(&self, quoted: &[u8]) -> Vec<u8> {
        use etherparse::{Icmpv4Type, icmpv4::DestUnreachableHeader};
        let mut out = Vec::new();
        PacketBuilder::ethernet2(self.src_mac, self.dst_mac)
            .ipv4(self.src, self.dst, self.ttl)
            .icmpv4(Icmpv4Type::DestinationUnreachable(
                DestUnreachableHeader::Port,
            ))
            .write(&mut out, quoted)
            .expect("build frame");
        out
    }

    /// The same flow with other addresses.
    pub fn addresses(self, src: [u8; 4], dst: [u8; 4]) -> Self {
        Self { src, dst, ..self }
    }

    /// The same flow as forwarded: new MACs, TTL one less.
    pub fn forwarded(self, src_mac: Mac, dst_mac: Mac) -> Self {
        Self {
            src_mac,
            dst_mac,
            ttl: self.ttl - 1,
            ..self
        }
    }
}

/// Splits the IPv4 packet of an untagged, option-less frame into fragments of at most
/// `chunk` payload bytes (a multiple of 8), each a frame with the same Ethernet header.
pub fn fragment(frame: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    assert!(chunk.is_multiple_of(8) && chunk > 0);
    assert_eq!(frame[14] & 0x0f, 5, "options not supported here");
    let tot_len = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let payload = &frame[34..14 + tot_len];
    let pieces: Vec<&[u8]> = payload.chunks(chunk).collect();
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut out = frame[..34].to_vec();
            out.extend_from_slice(piece);
            out[16..18].copy_from_slice(&((20 + piece.len()) as u16).to_be_bytes());
            let more = if i + 1 < pieces.len() { 0x2000 } else { 0 };
            let offset = (i * chunk / 8) as u16;
            out[20..22].copy_from_slice(&(more | offset).to_be_bytes());
            fix_ipv4_checksum(&mut out, 14);
            out
        })
        .collect()
}

/// An ARP request (`reply` false) or reply for IPv4 `target`, from `sender`.
pub fn arp(src_mac: Mac, sender: [u8; 4], target: [u8; 4], reply: bool) -> Vec<u8> {
    let dst_mac = if reply {
        [0x02, 0, 0, 0, 0, 0x99]
    } else {
        [0xff; 6]
    };
    let mut out = dst_mac.to_vec();
    out.extend_from_slice(&src_mac);
    out.extend_from_slice(&0x0806u16.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, if reply { 2 } else { 1 }]);
    out.extend_from_slice(&src_mac);
    out.extend_from_slice(&sender);
    out.extend_from_slice(if reply { &dst_mac } else { &[0; 6] });
    out.extend_from_slice(&target);
    // Ethernet minimum frame length.
    out.resize(60, 0);
    out
}

/// An ICMPv6 neighbour solicitation for `target` from `src` (to its solicited-node group).
pub fn neighbour_solicitation(src_mac: Mac, src: [u8; 16], target: [u8; 16]) -> Vec<u8> {
    let mut group = [0u8; 16];
    group[..2].copy_from_slice(&[0xff, 0x02]);
    group[11..13].copy_from_slice(&[0x01, 0xff]);
    group[13..].copy_from_slice(&target[13..]);
    let dst_mac = [0x33, 0x33, 0xff, target[13], target[14], target[15]];
    let mut payload = target.to_vec();
    // Source link-layer address option.
    payload.extend_from_slice(&[1, 1]);
    payload.extend_from_slice(&src_mac);
    let mut out = Vec::new();
    PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv6(src, group, 255)
        .icmpv6(Icmpv6Type::Unknown {
            type_u8: 135,
            code_u8: 0,
            bytes5to8: [0; 4],
        })
        .write(&mut out, &payload)
        .expect("build neighbour solicitation");
    out
}

/// An ICMPv6 neighbour solicitation for `target` sent to `target` itself at `dst_mac`
/// (unicast, as neighbour unreachability detection sends it).
pub fn unicast_neighbour_solicitation(
    src_mac: Mac,
    dst_mac: Mac,
    src: [u8; 16],
    target: [u8; 16],
) -> Vec<u8> {
    icmpv6(src_mac, dst_mac, src, target, 135, [0; 4], &target)
}

/// A solicited ICMPv6 neighbour advertisement of `src` (its own address as target, flags
/// solicited and override) sent to `dst`.
pub fn neighbour_advertisement(
    src_mac: Mac,
    dst_mac: Mac,
    src: [u8; 16],
    dst: [u8; 16],
) -> Vec<u8> {
    let mut payload = src.to_vec();
    // Target link-layer address option.
    payload.extend_from_slice(&[2, 1]);
    payload.extend_from_slice(&src_mac);
    icmpv6(src_mac, dst_mac, src, dst, 136, [0x60, 0, 0, 0], &payload)
}

/// An ICMPv6 echo request from `src` to `dst`.
pub fn echo6(src_mac: Mac, dst_mac: Mac, src: [u8; 16], dst: [u8; 16]) -> Vec<u8> {
    icmpv6(src_mac, dst_mac, src, dst, 128, [0, 7, 0, 1], PAYLOAD)
}

fn icmpv6(
    src_mac: Mac,
    dst_mac: Mac,
    src: [u8; 16],
    dst: [u8; 16],
    type_u8: u8,
    bytes5to8: [u8; 4],
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv6(src, dst, 255)
        .icmpv6(Icmpv6Type::Unknown {
            type_u8,
            code_u8: 0,
            bytes5to8,
        })
        .write(&mut out, payload)
        .expect("build ICMPv6");
    out
}

/// An IPv6 UDP packet from `src` to `dst`.
pub fn udp6(src_mac: Mac, dst_mac: Mac, src: [u8; 16], dst: [u8; 16]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv6(src, dst, 64)
        .udp(5353, 53)
        .write(&mut out, PAYLOAD)
        .expect("build udp6");
    out
}
