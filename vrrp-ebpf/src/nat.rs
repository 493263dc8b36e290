//! Stateless 1:1 NAT for floating IPs (IPv4): the outbound map (`VRRP_NAT_OUT`, fixed IP →
//! floating IP) and the rewrite of the addresses with incremental checksum updates, byte for
//! byte what the kernel's NAT writes for a TCP, UDP or ICMP query packet (the only ones the
//! fast path translates, see `shape`).
//!
//! Checksums: the IPv4 header checksum always; the TCP and UDP checksums (their pseudo-header
//! holds both addresses). A UDP checksum of 0 means "none" and stays 0; a computed 0 is sent
//! as 0xffff (the kernel's `CSUM_MANGLED_0`). ICMP checksums do not cover the IP header and
//! stay as they are, except for ICMP errors, whose quoted packet is translated too
//! ([`translate_icmp_error`]).

use aya_ebpf::{bindings::BPF_F_NO_PREALLOC, macros::map, maps::HashMap, programs::XdpContext};
use network_types::ip::Ipv4Hdr;
use vrrp_ebpf_common::{
    dataplane::{AddrKey, FAMILY_IPV4, MAX_ADDRESSES, NatOutValue, addr_v4},
    proto::{IPPROTO_TCP, IPPROTO_UDP},
};

use crate::{
    csum,
    ownership::addr_key,
    parse::{Ipv4, ptr_at_mut},
};

/// See `vrrp_ebpf_common::dataplane::NAT_OUT_MAP`.
#[map]
static VRRP_NAT_OUT: HashMap<AddrKey, NatOutValue> =
    HashMap::with_max_entries(MAX_ADDRESSES, BPF_F_NO_PREALLOC);

/// Offset of the checksum field in a TCP header.
const TCP_CHECK_OFFSET: usize = 16;
/// Offset of the checksum field in a UDP header.
const UDP_CHECK_OFFSET: usize = 6;

/// The floating IP of fixed address `src`, if it has one.
#[inline(always)]
pub fn lookup_out(src: [u8; 4]) -> Option<NatOutValue> {
    VRRP_NAT_OUT
        .get_ptr(addr_key(FAMILY_IPV4, addr_v4(src)))
        .map(|p| {
            // SAFETY: a pointer from a map lookup is valid for reading the value.
            unsafe { *p }
        })
}

/// Rewrites the packet's source and destination to `src` and `dst` (either may equal the
/// current one) and updates the checksums.
#[inline(always)]
pub fn translate(ctx: &XdpContext, ip: &Ipv4, src: [u8; 4], dst: [u8; 4]) {
    let Some(hdr) = ptr_at_mut::<Ipv4Hdr>(ctx, ip.l3) else {
        // Unreachable: the parser read this header already; the verifier needs the bound.
        return;
    };
    // SAFETY: `ptr_at_mut` checked that the whole header lies inside the frame; the frame is
    // ours to modify until the program returns.
    let hdr = unsafe { &mut *hdr };
    let mut check = u16::from_be_bytes(hdr.check);
    check = csum::replace4(check, ip.src, src);
    check = csum::replace4(check, ip.dst, dst);
    hdr.check = check.to_be_bytes();
    hdr.src_addr = src;
    hdr.dst_addr = dst;
    if !ip.has_l4_header() {
        return;
    }
    let l4 = ip.l3 + ip.ihl;
    let (offset, udp) = match ip.proto {
        IPPROTO_TCP => (TCP_CHECK_OFFSET, false),
        IPPROTO_UDP => (UDP_CHECK_OFFSET, true),
        _ => return,
    };
    // A packet too short to hold the checksum field (a tiny first fragment, RFC 1858, or a
    // truncated segment) keeps it; the receiver then rejects it as it would have anyway.
    if offset + 2 > ip.tot_len as usize - ip.ihl {
        return;
    }
    let Some(field) = ptr_at_mut::<[u8; 2]>(ctx, l4 + offset) else {
        return;
    };
    // SAFETY: `ptr_at_mut` checked that both bytes lie inside the frame.
    let field = unsafe { &mut *field };
    let old = u16::from_be_bytes(*field);
    if udp && old == 0 {
        return;
    }
    let mut new = csum::replace4(old, ip.src, src);
    new = csum::replace4(new, ip.dst, dst);
    if udp && new == 0 {
        new = 0xffff;
    }
    *field = new.to_be_bytes();
}

/// Which outer address an ICMP error's translation changes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Inbound: the error is addressed to the floating IP and quotes a packet from it.
    Dst,
    /// Outbound: the error comes from the fixed IP and quotes a packet to it.
    Src,
}

/// Offsets in an IPv4 header.
const IP_CHECK: usize = 10;
const IP_SRC: usize = 12;
const IP_DST: usize = 16;

/// Translates an ICMP error as the kernel's `nf_nat_icmp_reply_translation` does for a
/// connection of a floating IP: the quoted packet's address (`Side::Dst`: its source,
/// `Side::Src`: its destination) and the outer one from `from` to `to`, the quoted IPv4 header
/// checksum, the quoted TCP (when its whole header is quoted) or UDP (when not 0) checksum,
/// the ICMP checksum over all of it, and the outer header checksum. Writes nothing and returns
/// `false` when the quoted packet is not one of the floating IP's (another address, IP options,
/// a later fragment, too short to hold 8 bytes past its header).
///
/// Not inlined: both directions call it, and ICMP errors are rare (a BPF-to-BPF call).
#[inline(never)]
pub fn translate_icmp_error(
    ctx: &XdpContext,
    ip: &Ipv4,
    side: Side,
    from: [u8; 4],
    to: [u8; 4],
) -> bool {
    let icmp = ip.l3 + ip.ihl;
    let msg_len = ip.tot_len as usize - ip.ihl;
    if msg_len < 8 + Ipv4Hdr::LEN + 8 {
        return false;
    }
    let inner = icmp + 8;
    let inner_l4 = inner + Ipv4Hdr::LEN;
    let quoted_l4 = msg_len - 8 - Ipv4Hdr::LEN;
    let (Some(head), Some(quoted)) = (
        ptr_at_mut::<[u8; 4]>(ctx, icmp),
        ptr_at_mut::<[u8; Ipv4Hdr::LEN]>(ctx, inner),
    ) else {
        return false;
    };
    // SAFETY: `ptr_at_mut` checked that the ICMP header start and the whole quoted IPv4 header
    // lie inside the frame; the frame is ours to modify until the program returns.
    let (head, quoted) = unsafe { (&mut *head, &mut *quoted) };
    if quoted[0] != 0x45 || u16::from_be_bytes([quoted[6], quoted[7]]) & 0x1fff != 0 {
        return false;
    }
    let at = if side == Side::Dst { IP_SRC } else { IP_DST };
    let addr = [quoted[at], quoted[at + 1], quoted[at + 2], quoted[at + 3]];
    if addr != from {
        return false;
    }
    let l4_check = match quoted[9] {
        IPPROTO_TCP if quoted_l4 >= 20 => Some((TCP_CHECK_OFFSET, false)),
        IPPROTO_UDP => Some((UDP_CHECK_OFFSET, true)),
        _ => None,
    };
    let mut icmp_check = u16::from_be_bytes([head[2], head[3]]);
    if let Some((offset, udp)) = l4_check {
        let Some(field) = ptr_at_mut::<[u8; 2]>(ctx, inner_l4 + offset) else {
            return false;
        };
        // SAFETY: `ptr_at_mut` checked that both bytes lie inside the frame.
        let field = unsafe { &mut *field };
        let old = u16::from_be_bytes(*field);
        if !(udp && old == 0) {
            let mut new = csum::replace4(old, from, to);
            if udp && new == 0 {
                new = 0xffff;
            }
            *field = new.to_be_bytes();
            icmp_check = csum::replace2(icmp_check, old, new);
        }
    }
    let old_ip_check = u16::from_be_bytes([quoted[IP_CHECK], quoted[IP_CHECK + 1]]);
    let new_ip_check = csum::replace4(old_ip_check, from, to);
    quoted[IP_CHECK..IP_CHECK + 2].copy_from_slice(&new_ip_check.to_be_bytes());
    quoted[at..at + 4].copy_from_slice(&to);
    icmp_check = csum::replace4(icmp_check, from, to);
    icmp_check = csum::replace2(icmp_check, old_ip_check, new_ip_check);
    head[2..4].copy_from_slice(&icmp_check.to_be_bytes());
    // The outer header: ICMP has no pseudo-header, so only the IP header checksum changes.
    match side {
        Side::Dst => translate(ctx, ip, ip.src, to),
        Side::Src => translate(ctx, ip, to, ip.dst),
    }
    true
}
