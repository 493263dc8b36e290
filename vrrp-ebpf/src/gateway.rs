//! Routed traffic through an instance's gateway interface (a port flagged
//! `PORT_FLAG_GATEWAY`): frames that arrive on such an interface addressed to its own MAC, for
//! a destination that is neither a virtual address nor a floating IP (those are decided
//! before). While the instance is not owned (BACKUP, FAULT, or a lease that ran out because the
//! agent died or hangs), whatever the FIB would forward is dropped, so a fenced master stops
//! routing as well. While it is owned, the packet goes to the kernel untouched, unless the
//! agent marked plain routing between the ingress and the FIB's egress eligible
//! (`PORT_FLAG_ROUTE_IN` / `PORT_FLAG_ROUTE_OUT`, IPv4 only): then it is forwarded here.
//! Traffic for the router itself (the FIB does not forward it) and multicast always pass.

use aya_ebpf::programs::XdpContext;
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{
        InstanceCounter, PORT_FLAG_GATEWAY, PORT_FLAG_ROUTE_IN, PORT_FLAG_ROUTE_OUT, PortValue,
    },
};

use crate::{
    counters::{self, Verdict},
    forward,
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

/// Left to the kernel untouched, counted in `slot`.
#[inline(always)]
fn kernel(slot: u32, counter: InstanceCounter, class: Stat) -> Verdict {
    counters::slot(slot, counter);
    Verdict::pass(class)
}

/// Routed IPv4.
#[inline(always)]
pub fn routed_v4(ctx: &XdpContext, ip: &Ipv4) -> Verdict {
    if shape::not_unicast(ip.dst) {
        return Verdict::pass(Stat::NotVrrp);
    }
    let Some(gw) = gateway(ctx) else {
        return Verdict::pass(Stat::NotVrrp);
    };
    let slot = gw.slot;
    match ownership::owner(slot) {
        Owner::Owned => {
            if gw.flags & PORT_FLAG_ROUTE_IN == 0 {
                return kernel(slot, InstanceCounter::KernelPath, Stat::KernelPath);
            }
            if let Some(class) = shape::refuse(ctx, ip) {
                return kernel(slot, InstanceCounter::PassedToKernel, class);
            }
            let Some(route) = forward::route(ctx, ip, ip.src, ip.dst) else {
                // Not forwarded (for the router itself, no route, unresolved neighbour...).
                return kernel(slot, InstanceCounter::PassedToKernel, Stat::PassedToKernel);
            };
            // Out of the interface it came in on: the kernel may also send an ICMP redirect.
            if route.ifindex == ctx.ingress_ifindex() as u32 {
                return kernel(slot, InstanceCounter::PassedToKernel, Stat::PassedToKernel);
            }
            let Some(egress) = ports::get(route.ifindex) else {
                return kernel(slot, InstanceCounter::KernelPath, Stat::KernelPath);
            };
            if egress.flags & PORT_FLAG_ROUTE_OUT == 0 {
                return kernel(slot, InstanceCounter::KernelPath, Stat::KernelPath);
            }
            if !ports::can_transmit(&egress, route.ifindex) {
                return kernel(slot, InstanceCounter::EgressNoXdp, Stat::EgressNoXdp);
            }
            forward::rewrite(ctx, ip, &route);
            counters::slot(slot, InstanceCounter::Redirected);
            Verdict {
                action: ports::transmit(&egress),
                class: Stat::Redirected,
            }
        }
        owner => fenced(
            slot,
            owner,
            forward::egress(ctx, ip, ip.src, ip.dst).is_some(),
        ),
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
        Owner::Owned => kernel(gw.slot, InstanceCounter::KernelPath, Stat::KernelPath),
        owner => fenced(gw.slot, owner, forward::egress_v6(ctx, ip).is_some()),
    }
}
