//! The floating-IP fast path: the stateless 1:1 translation the kernel's NAT rules would do,
//! done in XDP for the classes the agent marked eligible, and only when the whole packet can
//! be handled here: translated, forwarded along the FIB's route, to a device that takes XDP
//! frames. A packet the fast path cannot finish goes to the kernel untouched, never half
//! done, so the kernel's own rules decide it.
//!
//! * Inbound: to an owned floating IP with [`VIP_FLAG_FAST_IN`], arriving on its external
//!   interface addressed to that interface's MAC, from a source that is not itself a fixed IP
//!   with a floating IP: destination → fixed IP, forwarded when the FIB sends it out of the
//!   internal interface the agent checked (`int_ifindex`).
//! * Outbound: from an owned fixed IP with [`NAT_OUT_FLAG_FAST`], arriving addressed to the
//!   MAC of the internal interface the agent checked, routed out of the external interface:
//!   source → floating IP. Traffic from the fixed IP that the FIB sends elsewhere (east-west)
//!   is not this class.

use aya_ebpf::programs::XdpContext;
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{InstanceCounter, NAT_OUT_FLAG_FAST, NatOutValue, VIP_FLAG_FAST_IN, VipValue},
};

use crate::{
    counters::{self, Verdict},
    forward, nat,
    parse::Ipv4,
    ports, shape,
};

/// Left to the kernel untouched, counted in `slot` as `counter` and globally as `class`.
#[inline(always)]
fn kernel(slot: u32, counter: InstanceCounter, class: Stat) -> Verdict {
    counters::slot(slot, counter);
    Verdict::pass(class)
}

/// A fast-path class packet refused for its shape.
#[inline(always)]
fn refused(slot: u32, class: Stat) -> Verdict {
    kernel(slot, InstanceCounter::PassedToKernel, class)
}

/// Traffic to an owned floating IP.
#[inline(always)]
pub fn inbound(ctx: &XdpContext, ip: &Ipv4, vip: &VipValue) -> Verdict {
    let slot = vip.slot;
    if vip.flags & VIP_FLAG_FAST_IN == 0 || ctx.ingress_ifindex() as u32 != vip.ext_ifindex {
        return kernel(slot, InstanceCounter::VipPassed, Stat::VipPassed);
    }
    if ports::ingress(ctx).is_none() {
        return kernel(slot, InstanceCounter::VipPassed, Stat::VipPassed);
    }
    if let Some(class) = shape::refuse(ctx, ip) {
        return refused(slot, class);
    }
    // A source that is a fixed IP with a floating IP would also meet the kernel's source NAT
    // rule on its way in: not this class.
    if nat::lookup_out(ip.src).is_some() {
        return refused(slot, Stat::PassedToKernel);
    }
    let fixed = vip.nat_addr;
    let Some(route) = forward::route(ctx, ip, ip.src, fixed) else {
        return refused(slot, Stat::PassedToKernel);
    };
    if route.ifindex != vip.int_ifindex {
        return refused(slot, Stat::PassedToKernel);
    }
    let Some(egress) = ports::get(route.ifindex) else {
        return refused(slot, Stat::PassedToKernel);
    };
    if !ports::can_transmit(&egress, route.ifindex) {
        return kernel(slot, InstanceCounter::EgressNoXdp, Stat::EgressNoXdp);
    }
    nat::translate(ctx, ip, ip.src, fixed);
    forward::rewrite(ctx, ip, &route);
    counters::slot(slot, InstanceCounter::NatIn);
    counters::slot(slot, InstanceCounter::Redirected);
    Verdict {
        action: ports::transmit(&egress),
        class: Stat::Redirected,
    }
}

/// Traffic from an owned fixed IP that has a floating IP; `None` if it is not of the class
/// (not for the fast path's ingress, or not routed out of the external interface), for the
/// caller's routed-traffic path to decide.
#[inline(always)]
pub fn outbound(ctx: &XdpContext, ip: &Ipv4, out: &NatOutValue) -> Option<Verdict> {
    let slot = out.slot;
    if out.flags & NAT_OUT_FLAG_FAST == 0 || shape::not_unicast(ip.dst) {
        return None;
    }
    if ctx.ingress_ifindex() as u32 != out.int_ifindex {
        return None;
    }
    ports::ingress(ctx)?;
    if let Some(class) = shape::refuse(ctx, ip) {
        return Some(refused(slot, class));
    }
    let Some(route) = forward::route(ctx, ip, ip.src, ip.dst) else {
        // Of the class only if it would leave through the external interface once the
        // kernel resolved the next hop (else: for the router itself, broadcast, no route).
        return (forward::egress(ctx, ip, ip.src, ip.dst) == Some(out.ext_ifindex))
            .then(|| refused(slot, Stat::PassedToKernel));
    };
    if route.ifindex != out.ext_ifindex {
        return None;
    }
    let Some(egress) = ports::get(route.ifindex) else {
        return Some(refused(slot, Stat::PassedToKernel));
    };
    if !ports::can_transmit(&egress, route.ifindex) {
        return Some(kernel(
            slot,
            InstanceCounter::EgressNoXdp,
            Stat::EgressNoXdp,
        ));
    }
    nat::translate(ctx, ip, out.floating, ip.dst);
    forward::rewrite(ctx, ip, &route);
    counters::slot(slot, InstanceCounter::NatOut);
    counters::slot(slot, InstanceCounter::Redirected);
    Some(Verdict {
        action: ports::transmit(&egress),
        class: Stat::Redirected,
    })
}
