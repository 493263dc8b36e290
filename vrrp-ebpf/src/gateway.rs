//! Routed traffic: frames that arrive addressed to the router's own MAC for a destination that
//! is neither a virtual address nor a floating IP (those are decided before). On an instance's
//! gateway interface (`PORT_FLAG_GATEWAY`) while the instance is not owned (BACKUP, FAULT, or a
//! lease that ran out because the agent died or hangs), whatever the FIB would forward is
//! dropped, so a fenced master stops routing as well. Otherwise the packet is a fast-path
//! candidate when its source is an eligible fixed IP (`floating::outbound`) or plain routing
//! from this interface is eligible (`PORT_FLAG_ROUTE_IN`), and goes to the kernel untouched
//! when not. Traffic for the router itself (the FIB does not forward it) and multicast always
//! pass.

use aya_ebpf::programs::XdpContext;
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{InstanceCounter, PORT_FLAG_GATEWAY, PORT_FLAG_ROUTE_IN, PortValue},
};

use crate::{
    counters::Verdict,
    fast::{self, Candidate},
    floating, forward,
    ownership::{self, Owner},
    parse::{Ipv4, Ipv6},
    ports, shape,
};

/// The ingress port, if it is a gateway and the frame is addressed to it.
#[inline(always)]
fn gateway(ctx: &XdpContext) -> Option<PortValue> {
    ports::ingress(ctx).filter(|p| p.flags & PORT_FLAG_GATEWAY != 0)
}

/// A not-owned gateway: drop what the FIB would forward, pass what is for the router.
#[inline(always)]
fn fenced(slot: u32, owner: Owner, forwarded: bool) -> Verdict {
    if !forwarded {
        return Verdict::pass(Stat::NotVrrp);
    }
    ownership::deny(slot, owner)
}

/// Routed IPv4: its fast-path candidate, or the verdict.
#[inline(always)]
pub fn routed_v4(ctx: &XdpContext, ip: &Ipv4) -> Result<Candidate, Verdict> {
    if shape::not_unicast(ip.dst) {
        return Err(Verdict::pass(Stat::NotVrrp));
    }
    let gw = gateway(ctx);
    if let Some(gw) = gw {
        match ownership::owner(gw.slot) {
            Owner::Owned => {}
            owner => {
                let forwarded = forward::egress(ctx, ip, ip.src, ip.dst).is_some();
                return Err(fenced(gw.slot, owner, forwarded));
            }
        }
    }
    let route = gw.is_some_and(|g| g.flags & PORT_FLAG_ROUTE_IN != 0);
    let gw_slot = gw.map_or(0, |g| g.slot);
    match floating::outbound(ctx, ip.src) {
        Some(out) => Ok(Candidate {
            slot: out.slot,
            dnat_to: [0; 4],
            dnat_egress: 0,
            snat_to: out.floating,
            snat_egress: out.ext_ifindex,
            route,
            has_fallback: gw.is_some(),
            fallback: gw_slot,
        }),
        None if route => Ok(Candidate {
            slot: gw_slot,
            dnat_to: [0; 4],
            dnat_egress: 0,
            snat_to: [0; 4],
            snat_egress: 0,
            route,
            has_fallback: true,
            fallback: gw_slot,
        }),
        None if gw.is_some() => Err(fast::kernel(
            gw_slot,
            InstanceCounter::KernelPath,
            Stat::KernelPath,
        )),
        None => Err(Verdict::pass(Stat::NotVrrp)),
    }
}

/// Routed IPv6 (no fast path: owned traffic goes to the kernel).
#[inline(always)]
pub fn routed_v6(ctx: &XdpContext, ip: &Ipv6) -> Verdict {
    // Multicast (ff00::/8) and link-local unicast (fe80::/10) are never routed.
    if ip.dst[0] == 0xff || (ip.dst[0] == 0xfe && ip.dst[1] & 0xc0 == 0x80) {
        return Verdict::pass(Stat::NotVrrp);
    }
    let Some(gw) = gateway(ctx) else {
        return Verdict::pass(Stat::NotVrrp);
    };
    match ownership::owner(gw.slot) {
        Owner::Owned => fast::kernel(gw.slot, InstanceCounter::KernelPath, Stat::KernelPath),
        owner => fenced(gw.slot, owner, forward::egress_v6(ctx, ip).is_some()),
    }
}
