//! Which floating-IP traffic is a fast-path candidate (the forwarding itself is `fast`): the
//! stateless 1:1 translation the kernel's NAT rules would do, for the classes the agent marked
//! eligible.
//!
//! * Inbound: to an owned floating IP with [`VIP_FLAG_FAST_IN`], arriving on its external
//!   interface addressed to that interface's MAC, from a source that is not itself a fixed IP
//!   with a floating IP: destination → fixed IP, forwarded when the FIB sends it out of the
//!   internal interface the agent checked (`int_ifindex`).
//! * Outbound: from an owned fixed IP with [`NAT_OUT_FLAG_FAST`], arriving on the internal
//!   interface the agent checked, addressed to its MAC: source → floating IP when the FIB
//!   sends it out of the external interface. Traffic from the fixed IP that the FIB sends
//!   elsewhere (east-west) is not this class.

use aya_ebpf::programs::XdpContext;
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{InstanceCounter, NAT_OUT_FLAG_FAST, NatOutValue, VIP_FLAG_FAST_IN, VipValue},
};

use crate::{
    counters::Verdict,
    fast::{self, Candidate},
    nat,
    ownership::{self, Owner},
    parse::Ipv4,
    ports,
};

/// Traffic to an owned floating IP: its candidate, or the kernel path.
#[inline(always)]
pub fn inbound(ctx: &XdpContext, ip: &Ipv4, vip: &VipValue) -> Result<Candidate, Verdict> {
    let slot = vip.slot;
    let passed = || fast::kernel(slot, InstanceCounter::VipPassed, Stat::VipPassed);
    if vip.flags & VIP_FLAG_FAST_IN == 0
        || ctx.ingress_ifindex() as u32 != vip.ext_ifindex
        || ports::ingress(ctx).is_none()
    {
        return Err(passed());
    }
    // A source that is a fixed IP with a floating IP would also meet the kernel's source NAT
    // rule on its way in: not this class.
    if nat::lookup_out(ip.src).is_some() {
        return Err(fast::kernel(
            slot,
            InstanceCounter::PassedToKernel,
            Stat::PassedToKernel,
        ));
    }
    if vip.int_ifindex == 0 {
        return Err(passed());
    }
    Ok(Candidate {
        slot,
        dnat_to: vip.nat_addr,
        dnat_egress: vip.int_ifindex,
        snat_to: [0; 4],
        snat_egress: 0,
        route: false,
        has_fallback: false,
        fallback: 0,
    })
}

/// The outbound side of the fixed IP `src`, if it is owned, eligible and arrives where the
/// agent checked it.
#[inline(always)]
pub fn outbound(ctx: &XdpContext, src: [u8; 4]) -> Option<NatOutValue> {
    let out = nat::lookup_out(src)?;
    (out.flags & NAT_OUT_FLAG_FAST != 0
        && ctx.ingress_ifindex() as u32 == out.int_ifindex
        && ownership::owner(out.slot) == Owner::Owned
        && ports::ingress(ctx).is_some())
    .then_some(out)
}
