//! Whether an IPv4 packet has a shape the fast path handles exactly as the kernel would, before
//! any class-specific check: TTL above 1, no VLAN tag, no IP options, not a fragment, a right
//! header checksum (the kernel drops the packet otherwise), a source the kernel would not drop
//! as a martian, and a transport header conntrack would accept (TCP with a full header and a
//! flag combination conntrack calls valid, UDP whose length field fits, ICMP of a query type).
//! Everything else is left to the kernel untouched, which drops it, answers it or tracks it as
//! it always does.
//!
//! ICMP errors (destination unreachable, source quench, time exceeded, parameter problem)
//! are their own shape: translating them means translating the packet quoted inside too, as
//! the kernel's `nf_nat_icmp_reply_translation` does (see `nat::translate_icmp_error`).
//! Redirects and other ICMP types go to the kernel.

use aya_ebpf::programs::XdpContext;
use vrrp_ebpf_common::{
    counters::Stat,
    proto::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP},
};

use crate::parse::{Ipv4, ptr_at};

/// TCP flag bits as conntrack reads them (PSH, ECE and CWR masked off).
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const URG: u8 = 0x20;
const ECE: u8 = 0x40;
const CWR: u8 = 0x80;

/// conntrack's `tcp_valid_flags`: the combinations it tracks; any other is INVALID and never
/// translated by the kernel.
const TCP_VALID: u64 = (1 << SYN)
    | (1 << (SYN | URG))
    | (1 << (SYN | ACK))
    | (1 << RST)
    | (1 << (RST | ACK))
    | (1 << (FIN | ACK))
    | (1 << (FIN | ACK | URG))
    | (1 << ACK)
    | (1 << (ACK | URG));

/// ICMP query types (echo, timestamp, information, address mask requests and replies).
const ICMP_QUERIES: u32 =
    (1 << 0) | (1 << 8) | (1 << 13) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 17) | (1 << 18);

/// ICMP error types conntrack relates to a connection (minus redirects, which the kernel drops
/// for translated connections).
const ICMP_ERRORS: u32 = (1 << 3) | (1 << 4) | (1 << 11) | (1 << 12);

/// What the fast path can do with a packet.
pub enum Shape {
    /// A TCP, UDP or ICMP query packet it may translate and forward.
    Plain,
    /// An ICMP error: translated together with the packet it quotes.
    IcmpError,
    /// Left to the kernel, counted in this class.
    Refused(Stat),
}

/// The shape of a packet for the fast path.
#[inline(always)]
pub fn shape(ctx: &XdpContext, ip: &Ipv4) -> Shape {
    if ip.ttl <= 1 {
        return Shape::Refused(Stat::TtlExpiring);
    }
    if ip.tagged || ip.has_options() || ip.is_fragment() || martian_source(ip.src) {
        return Shape::Refused(Stat::PassedToKernel);
    }
    if !header_checksum_ok(ctx, ip) {
        return Shape::Refused(Stat::PassedToKernel);
    }
    let l4 = ip.l3 + ip.ihl;
    let l4_len = ip.tot_len as usize - ip.ihl;
    let ok = match ip.proto {
        IPPROTO_TCP => tcp_ok(ctx, l4, l4_len),
        IPPROTO_UDP => udp_ok(ctx, l4, l4_len),
        IPPROTO_ICMP => match icmp_kind(ctx, l4, l4_len) {
            Some((kind, code)) if code == 0 && kind < 32 && ICMP_QUERIES & (1u32 << kind) != 0 => {
                true
            }
            Some((kind, _)) if kind < 32 && ICMP_ERRORS & (1u32 << kind) != 0 => {
                return Shape::IcmpError;
            }
            _ => false,
        },
        _ => false,
    };
    if ok {
        Shape::Plain
    } else {
        Shape::Refused(Stat::PassedToKernel)
    }
}

/// Whether the (option-less, 20-byte) IPv4 header's checksum is right: `ip_rcv_core` drops the
/// packet otherwise, while the incremental updates of NAT and forwarding would carry the wrong
/// sum on.
#[inline(always)]
fn header_checksum_ok(ctx: &XdpContext, ip: &Ipv4) -> bool {
    let Some(p) = ptr_at::<[u8; 20]>(ctx, ip.l3) else {
        return false;
    };
    // SAFETY: `ptr_at` checked that the 20 bytes lie inside the frame.
    let h = unsafe { &*p };
    let mut sum = 0u32;
    let mut i = 0;
    while i < 20 {
        sum += u32::from(u16::from_be_bytes([h[i], h[i + 1]]));
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum == 0xffff
}

/// Sources the kernel drops on input as martians (0/8, 127/8, multicast, class E, broadcast).
#[inline(always)]
pub fn martian_source(src: [u8; 4]) -> bool {
    src[0] == 0 || src[0] == 127 || src[0] >= 224
}

/// Destinations never forwarded as unicast (0/8, 127/8, multicast, class E, broadcast).
#[inline(always)]
pub fn not_unicast(dst: [u8; 4]) -> bool {
    dst[0] == 0 || dst[0] == 127 || dst[0] >= 224
}

#[inline(always)]
fn tcp_ok(ctx: &XdpContext, l4: usize, l4_len: usize) -> bool {
    if l4_len < 20 {
        return false;
    }
    // Data offset (high nibble of byte 12) and the flags (byte 13).
    let Some(p) = ptr_at::<[u8; 14]>(ctx, l4) else {
        return false;
    };
    // SAFETY: `ptr_at` checked that the 14 bytes lie inside the frame.
    let h = unsafe { &*p };
    let doff = ((h[12] >> 4) as usize) * 4;
    if doff < 20 || doff > l4_len {
        return false;
    }
    let flags = h[13] & !(PSH | ECE | CWR);
    flags < 64 && TCP_VALID & (1u64 << flags) != 0
}

#[inline(always)]
fn udp_ok(ctx: &XdpContext, l4: usize, l4_len: usize) -> bool {
    if l4_len < 8 {
        return false;
    }
    let Some(p) = ptr_at::<[u8; 8]>(ctx, l4) else {
        return false;
    };
    // SAFETY: `ptr_at` checked that the 8 bytes lie inside the frame.
    let len = u16::from_be_bytes([unsafe { (*p)[4] }, unsafe { (*p)[5] }]) as usize;
    (8..=l4_len).contains(&len)
}

/// Type and code of an ICMP message of at least the 8-byte header.
#[inline(always)]
fn icmp_kind(ctx: &XdpContext, l4: usize, l4_len: usize) -> Option<(u8, u8)> {
    if l4_len < 8 {
        return None;
    }
    let p = ptr_at::<[u8; 2]>(ctx, l4)?;
    // SAFETY: `ptr_at` checked that the 2 bytes lie inside the frame.
    Some(unsafe { ((*p)[0], (*p)[1]) })
}
