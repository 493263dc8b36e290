//! The one forwarding step every fast-path class shares: given a [`Candidate`] (what the packet
//! may become, decided by `floating` and `gateway`), look its route up, check that the route
//! is the one the agent proved the class for, that the egress takes XDP frames, translate
//! (plain packet or ICMP error), rewrite like a router, count and redirect. A packet that
//! fails any check goes to the kernel untouched. One call site in `main`, so the verifier
//! sees this code once.

use aya_ebpf::programs::XdpContext;
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{InstanceCounter, PORT_FLAG_ROUTE_OUT},
};

use crate::{
    counters::{self, Verdict},
    forward,
    nat::{self, Side},
    parse::Ipv4,
    ports,
    shape::{self, Shape},
};

/// What a packet of a fast-path class may become. Plain fields, every one always written
/// (`0`: none): an `Option` payload left undefined reaches the verifier as an uninitialised
/// register when the value is copied.
pub struct Candidate {
    /// The instance it is counted in.
    pub slot: u32,
    /// Inbound floating IP: the fixed address, and the interface the packet must leave by
    /// (0: not inbound floating-IP traffic).
    pub dnat_to: [u8; 4],
    pub dnat_egress: u32,
    /// Outbound floating IP: the floating address, for packets leaving by this interface, the
    /// external one (0: not outbound floating-IP traffic).
    pub snat_to: [u8; 4],
    pub snat_egress: u32,
    /// Plain routing from the ingress is eligible (to egresses flagged for it).
    pub route: bool,
    /// The gateway instance whose `kernel_path` counter a packet that is none of the above
    /// moves, if there is one.
    pub has_fallback: bool,
    pub fallback: u32,
}

/// Left to the kernel untouched, counted in `slot` as `counter` and globally as `class`.
#[inline(always)]
pub fn kernel(slot: u32, counter: InstanceCounter, class: Stat) -> Verdict {
    counters::slot(slot, counter);
    Verdict::pass(class)
}

#[inline(always)]
fn refused(slot: u32, class: Stat) -> Verdict {
    kernel(slot, InstanceCounter::PassedToKernel, class)
}

/// Forwards `c` when it can; else the verdict for the kernel path.
#[inline(always)]
pub fn forward(ctx: &XdpContext, ip: &Ipv4, c: &Candidate) -> Verdict {
    match step(ctx, ip, c) {
        Some(v) => v,
        None if c.has_fallback => kernel(c.fallback, InstanceCounter::KernelPath, Stat::KernelPath),
        None => Verdict::pass(Stat::NotVrrp),
    }
}

/// `None`: the packet is of no class after all (routed elsewhere than the class covers).
#[inline(always)]
fn step(ctx: &XdpContext, ip: &Ipv4, c: &Candidate) -> Option<Verdict> {
    let slot = c.slot;
    let error = match shape::shape(ctx, ip) {
        Shape::Refused(class) => return Some(refused(slot, class)),
        Shape::Plain => false,
        Shape::IcmpError => true,
    };
    let inbound = c.dnat_egress != 0;
    let dst = if inbound { c.dnat_to } else { ip.dst };
    let Some(route) = forward::route(ctx, ip, ip.src, dst) else {
        // No resolved route: of a class only if the kernel would forward it where the class
        // goes (then it resolves the neighbour); for the router itself, broadcast: no class.
        if inbound {
            return Some(refused(slot, Stat::PassedToKernel));
        }
        let egress = forward::egress(ctx, ip, ip.src, ip.dst)?;
        let ours = c.route || (c.snat_egress != 0 && c.snat_egress == egress);
        return ours.then(|| refused(slot, Stat::PassedToKernel));
    };
    let translate = if inbound {
        if route.ifindex != c.dnat_egress {
            return Some(refused(slot, Stat::PassedToKernel));
        }
        Some((Side::Dst, ip.dst, c.dnat_to))
    } else if c.snat_egress != 0 && route.ifindex == c.snat_egress {
        Some((Side::Src, ip.src, c.snat_to))
    } else {
        None
    };
    let egress = ports::get(route.ifindex);
    if translate.is_none()
        && !(c.route && egress.is_some_and(|e| e.flags & PORT_FLAG_ROUTE_OUT != 0))
    {
        return None;
    }
    // Out of the interface it came in on: the kernel may also send an ICMP redirect.
    if route.ifindex == ctx.ingress_ifindex() as u32 {
        return Some(refused(slot, Stat::PassedToKernel));
    }
    let Some(egress) = egress else {
        return Some(refused(slot, Stat::PassedToKernel));
    };
    if !ports::can_transmit(&egress, route.ifindex) {
        return Some(kernel(
            slot,
            InstanceCounter::EgressNoXdp,
            Stat::EgressNoXdp,
        ));
    }
    if let Some((side, from, to)) = translate {
        if error {
            if !nat::translate_icmp_error(ctx, ip, side, from, to) {
                return Some(refused(slot, Stat::PassedToKernel));
            }
        } else {
            match side {
                Side::Dst => nat::translate(ctx, ip, ip.src, to),
                Side::Src => nat::translate(ctx, ip, to, ip.dst),
            }
        }
        counters::slot(
            slot,
            if side == Side::Dst {
                InstanceCounter::NatIn
            } else {
                InstanceCounter::NatOut
            },
        );
    }
    forward::rewrite(ctx, ip, &route);
    counters::slot(slot, InstanceCounter::Redirected);
    Some(Verdict {
        action: ports::transmit(&egress),
        class: Stat::Redirected,
    })
}
