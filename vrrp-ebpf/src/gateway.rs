//! Routed traffic through an instance's gateway interface (`VRRP_GATEWAYS`): frames that
//! arrive on such an interface addressed to its own MAC, for a destination that is neither a
//! virtual address nor a floating IP (those are decided before). While the instance is owned,
//! IPv4 is fast-forwarded (FIB hit: redirect) and IPv6 goes to the kernel; while it is not
//! owned (BACKUP, FAULT, or a lease that ran out because the agent died or hangs), whatever
//! the FIB would forward is dropped, so a fenced master stops routing as well. Traffic for the
//! router itself (the FIB does not forward it) and multicast/broadcast always pass.

use aya_ebpf::{bindings::BPF_F_NO_PREALLOC, macros::map, maps::HashMap, programs::XdpContext};
use network_types::eth::EthHdr;
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{GatewayKey, GatewayValue, InstanceCounter, MAX_SLOTS},
};

use crate::{
    counters::{self, Verdict},
    forward::{self, Forwarded},
    ownership::{self, Owner},
    parse::{Ipv4, Ipv6, ptr_at},
};

/// See `vrrp_ebpf_common::dataplane::GATEWAYS_MAP`.
#[map]
static VRRP_GATEWAYS: HashMap<GatewayKey, GatewayValue> =
    HashMap::with_max_entries(MAX_SLOTS * 4, BPF_F_NO_PREALLOC);

/// The gateway entry of the ingress interface, if the frame is addressed to its MAC.
#[inline(always)]
fn gateway(ctx: &XdpContext) -> Option<GatewayValue> {
    let key = GatewayKey {
        router: crate::router_id(),
        ifindex: ctx.ingress_ifindex() as u32,
    };
    let gw = VRRP_GATEWAYS.get_ptr(key).map(|p| {
        // SAFETY: a pointer from a map lookup is valid for reading the value.
        unsafe { *p }
    })?;
    let eth = ptr_at::<EthHdr>(ctx, 0)?;
    // SAFETY: `ptr_at` checked that the header lies inside the frame.
    let dst = unsafe { (*eth).dst_addr };
    (dst == gw.mac).then_some(gw)
}

/// A not-owned gateway: drop what the FIB would forward, pass what is for the router.
#[inline(always)]
fn fenced(slot: u32, owner: Owner, forwarded: bool) -> Verdict {
    if !forwarded {
        return Verdict::pass(Stat::NotVrrp);
    }
    ownership::deny(slot, owner)
}

/// Routed IPv4.
#[inline(always)]
pub fn routed_v4(ctx: &XdpContext, ip: &Ipv4) -> Verdict {
    // Multicast, reserved and limited broadcast are never routed through the gateway here.
    if ip.dst[0] >= 224 {
        return Verdict::pass(Stat::NotVrrp);
    }
    let Some(gw) = gateway(ctx) else {
        return Verdict::pass(Stat::NotVrrp);
    };
    match ownership::owner(gw.slot) {
        Owner::Owned => {
            if ip.ttl <= 1 {
                counters::slot(gw.slot, InstanceCounter::PassedToKernel);
                return Verdict::pass(Stat::TtlExpiring);
            }
            let forwarded = if ip.tagged || ip.has_options() || ip.is_fragment() {
                Forwarded::Pass
            } else {
                forward::forward(ctx, ip, ip.src, ip.dst)
            };
            match forwarded {
                Forwarded::Redirect(action) => {
                    counters::slot(gw.slot, InstanceCounter::Redirected);
                    Verdict {
                        action,
                        class: Stat::Redirected,
                    }
                }
                Forwarded::Pass => {
                    counters::slot(gw.slot, InstanceCounter::PassedToKernel);
                    Verdict::pass(Stat::PassedToKernel)
                }
            }
        }
        owner => fenced(
            gw.slot,
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
        Owner::Owned => {
            counters::slot(gw.slot, InstanceCounter::PassedToKernel);
            Verdict::pass(Stat::PassedToKernel)
        }
        owner => fenced(gw.slot, owner, forward::egress_v6(ctx, ip).is_some()),
    }
}
