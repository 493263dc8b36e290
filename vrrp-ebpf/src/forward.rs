//! Forwarding decisions from the kernel's FIB: where a packet would leave ([`route`], with the
//! next hop's and the egress interface's MACs, or [`egress`] without needing the neighbour),
//! and the rewrite a router does to a forwarded frame ([`rewrite`]: bytes after the IP packet
//! cut off, Ethernet addresses, TTL minus one with an incremental header checksum update).
//! Anything the FIB does not settle (no route, forwarding disabled, unresolved neighbour,
//! packet larger than the egress MTU, a local destination) is `None`: the caller leaves the
//! packet to the kernel untouched.
//!
//! The lookup is done as the kernel's routing does it for a forwarded packet: with the
//! destination after destination NAT and the source before source NAT, as if the packet
//! arrived on the ingress interface.

use aya_ebpf::{
    bindings::{BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LOOKUP_SKIP_NEIGH, bpf_fib_lookup as FibParams},
    helpers::{bpf_fib_lookup, bpf_xdp_adjust_tail},
    programs::XdpContext,
};
use network_types::{eth::EthHdr, ip::Ipv4Hdr};

use crate::{
    csum,
    parse::{Ipv4, Ipv6, ptr_at_mut},
};

/// Where the FIB sends a packet, with the addresses of the rewritten frame.
pub struct Route {
    pub ifindex: u32,
    pub smac: [u8; 6],
    pub dmac: [u8; 6],
}

/// `AF_INET` for `bpf_fib_lookup`.
const AF_INET: u8 = 2;

/// Looks up the route of a packet with `src` → `dst` (and `ip`'s protocol and TOS) that
/// arrived on the ingress interface; returns the helper's result code and the filled-in
/// parameters. `tot_len` 0 skips the MTU check.
#[inline(always)]
fn lookup(
    ctx: &XdpContext,
    ip: &Ipv4,
    src: [u8; 4],
    dst: [u8; 4],
    tot_len: u16,
    flags: u32,
) -> (i64, FibParams) {
    // SAFETY: `bpf_fib_lookup` is a plain C struct (integers, arrays and unions of them),
    // valid when all-zero.
    let mut params: FibParams = unsafe { core::mem::zeroed() };
    params.family = AF_INET;
    params.l4_protocol = ip.proto;
    params.__bindgen_anon_1.tot_len = tot_len;
    params.__bindgen_anon_2.tos = ip.tos;
    // The kernel reads these as big-endian `__be32`: keep the wire bytes as they are.
    params.__bindgen_anon_3.ipv4_src = u32::from_ne_bytes(src);
    params.__bindgen_anon_4.ipv4_dst = u32::from_ne_bytes(dst);
    params.ifindex = ctx.ingress_ifindex() as u32;
    // SAFETY: `ctx.ctx` is the program's context and `params` a valid, writable struct of
    // the size passed; the helper writes only inside it.
    let rc = unsafe {
        bpf_fib_lookup(
            ctx.ctx.cast(),
            &mut params,
            core::mem::size_of::<FibParams>() as i32,
            flags,
        )
    };
    (rc, params)
}

/// The interface a packet `src` → `dst` would leave through, if the FIB routes it (whether or
/// not its next hop is resolved).
#[inline(always)]
pub fn egress(ctx: &XdpContext, ip: &Ipv4, src: [u8; 4], dst: [u8; 4]) -> Option<u32> {
    let (rc, params) = lookup(ctx, ip, src, dst, 0, BPF_FIB_LOOKUP_SKIP_NEIGH);
    (rc == i64::from(BPF_FIB_LKUP_RET_SUCCESS)).then_some(params.ifindex)
}

/// `AF_INET6` for `bpf_fib_lookup`.
const AF_INET6: u8 = 10;

/// The interface an IPv6 packet would leave through, if the FIB routes it (whether or not
/// its next hop is resolved).
#[inline(always)]
pub fn egress_v6(ctx: &XdpContext, ip: &Ipv6) -> Option<u32> {
    // SAFETY: `bpf_fib_lookup` is a plain C struct (integers, arrays and unions of them),
    // valid when all-zero.
    let mut params: FibParams = unsafe { core::mem::zeroed() };
    params.family = AF_INET6;
    params.l4_protocol = ip.next_hdr;
    let words = |a: [u8; 16]| {
        // The kernel reads these as big-endian words: keep the wire bytes as they are.
        [
            u32::from_ne_bytes([a[0], a[1], a[2], a[3]]),
            u32::from_ne_bytes([a[4], a[5], a[6], a[7]]),
            u32::from_ne_bytes([a[8], a[9], a[10], a[11]]),
            u32::from_ne_bytes([a[12], a[13], a[14], a[15]]),
        ]
    };
    params.__bindgen_anon_3.ipv6_src = words(ip.src);
    params.__bindgen_anon_4.ipv6_dst = words(ip.dst);
    params.ifindex = ctx.ingress_ifindex() as u32;
    // SAFETY: as in `lookup`.
    let rc = unsafe {
        bpf_fib_lookup(
            ctx.ctx.cast(),
            &mut params,
            core::mem::size_of::<FibParams>() as i32,
            BPF_FIB_LOOKUP_SKIP_NEIGH,
        )
    };
    (rc == i64::from(BPF_FIB_LKUP_RET_SUCCESS)).then_some(params.ifindex)
}

/// The route of a packet `src` → `dst` (and `ip`'s protocol, TOS and length) arriving on the
/// ingress interface, if the FIB forwards it out of an interface to a resolved next hop
/// within that interface's MTU.
#[inline(always)]
pub fn route(ctx: &XdpContext, ip: &Ipv4, src: [u8; 4], dst: [u8; 4]) -> Option<Route> {
    let (rc, params) = lookup(ctx, ip, src, dst, ip.tot_len, 0);
    (rc == i64::from(BPF_FIB_LKUP_RET_SUCCESS)).then_some(Route {
        ifindex: params.ifindex,
        smac: params.smac,
        dmac: params.dmac,
    })
}

/// Cuts off whatever follows the IP packet in the frame (the Ethernet padding of a short
/// frame, a trailer), as the kernel does on input (`ip_rcv_core` trims the skb to the IP total
/// length) before it forwards the packet: the frame that leaves must not carry it. Packet
/// pointers taken before this call are invalid after it.
#[inline(always)]
fn trim(ctx: &XdpContext, ip: &Ipv4) {
    let len = ctx.data_end() - ctx.data();
    let want = ip.l3 + ip.tot_len as usize;
    if len > want {
        // SAFETY: `ctx.ctx` is the program's context; shrinking the frame to the end of the IP
        // packet keeps more than the Ethernet header, which is all the helper requires, so it
        // cannot fail (the parser checked that the packet lies inside the frame).
        unsafe { bpf_xdp_adjust_tail(ctx.ctx, want as i32 - len as i32) };
    }
}

/// Rewrites the frame the way the kernel forwards it along `route`: bytes after the IP packet
/// cut off, Ethernet addresses, TTL minus one, header checksum. The caller checked that the
/// TTL is above 1.
#[inline(always)]
pub fn rewrite(ctx: &XdpContext, ip: &Ipv4, route: &Route) {
    trim(ctx, ip);
    let (Some(eth), Some(hdr)) = (
        ptr_at_mut::<EthHdr>(ctx, 0),
        ptr_at_mut::<Ipv4Hdr>(ctx, ip.l3),
    ) else {
        // Unreachable: the parser read both headers; the verifier needs the bounds.
        return;
    };
    // SAFETY: `ptr_at_mut` checked that both headers lie inside the frame, which is ours to
    // modify until the program returns.
    let (eth, hdr) = unsafe { (&mut *eth, &mut *hdr) };
    eth.dst_addr = route.dmac;
    eth.src_addr = route.smac;
    // TTL and protocol share one 16-bit word of the header checksum.
    let old = u16::from_be_bytes([hdr.ttl, hdr.proto]);
    hdr.ttl = hdr.ttl.wrapping_sub(1);
    let new = u16::from_be_bytes([hdr.ttl, hdr.proto]);
    hdr.check = csum::replace2(u16::from_be_bytes(hdr.check), old, new).to_be_bytes();
}
