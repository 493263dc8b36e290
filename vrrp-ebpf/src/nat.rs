//! Stateless 1:1 NAT for floating IPs (IPv4): the outbound map (`VRRP_NAT_OUT`, fixed IP →
//! floating IP) and the rewrite of the addresses with incremental checksum updates, byte for
//! byte what the kernel's NAT writes for a TCP, UDP or ICMP query packet (the only ones the
//! fast path translates, see `shape`).
//!
//! Checksums: the IPv4 header checksum always; the TCP and UDP checksums (their pseudo-header
//! holds both addresses). A UDP checksum of 0 means "none" and stays 0; a computed 0 is sent
//! as 0xffff (the kernel's `CSUM_MANGLED_0`). ICMP checksums do not cover the IP header and
//! stay as they are.

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
