//! The vrrp-xdp XDP program: entry point, the per-packet decision tree, the router id, and the
//! panic handler.
//!
//! Built only for `bpfel-unknown-none` (nightly + `bpf-linker`, driven by `cargo xtask build`)
//! and embedded into `vrrp-agent`. On the host this file compiles to a stub binary so that
//! `cargo build --workspace` works on stable. Modules: `parse` (bounds-checked header walk),
//! `adverts` (advert checks), `ownership` (virtual addresses and leases), `nat` (floating-IP
//! translation), `csum` (incremental checksums), `forward` (FIB lookup and redirect),
//! `counters` (map updates and verdicts), this file (glue).
//!
//! Per frame (every frame is counted in exactly one class of `Stat`, see
//! `vrrp_ebpf_common::counters`):
//!
//! 1. Malformed Ethernet / VLAN / ARP / IP header → drop.
//! 2. VRRP (IPv4 protocol / IPv6 next header 112): malformed → drop; TTL / hop limit not
//!    255 → drop; no instance for (router, ingress interface, VRID, family) → drop; source
//!    not in the instance's allow-list (when it has one) → drop; else pass.
//! 3. ARP request / reply, or ICMPv6 neighbour solicitation, for a virtual address: not owned
//!    (lease 0) or lease expired → drop; owned → pass.
//! 4. IPv4 / IPv6 to a virtual address: not owned or expired → drop; owned and not a floating
//!    IP → pass (IPv6 addresses are never floating).
//! 5. IPv4 to an owned floating IP (DNAT), and/or from a fixed IP whose floating IP is owned
//!    and whose route leaves through the external interface (SNAT): TTL <= 1 → pass
//!    untouched; else translate; tagged / options / fragment → pass; FIB hit → rewrite MACs,
//!    TTL - 1, redirect; FIB miss → pass.
//! 6. Routed traffic arriving on a gateway interface of an instance (`VRRP_GATEWAYS`),
//!    addressed to that interface's MAC: owned → IPv4 fast-forwarded (FIB hit: redirect) or
//!    passed; not owned or lease expired → dropped when the FIB would forward it (traffic
//!    for the router itself passes).
//! 7. Anything else → pass untouched.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod adverts;
#[cfg(target_arch = "bpf")]
mod counters;
#[cfg(target_arch = "bpf")]
mod csum;
#[cfg(target_arch = "bpf")]
mod forward;
#[cfg(target_arch = "bpf")]
mod gateway;
#[cfg(target_arch = "bpf")]
mod nat;
#[cfg(target_arch = "bpf")]
mod ownership;
#[cfg(target_arch = "bpf")]
mod parse;

/// This program instance's router id, the first field of every map key. The agent sets it
/// at load time; the symbol name is `vrrp_ebpf_common::dataplane::ROUTER_ID_GLOBAL`.
#[cfg(target_arch = "bpf")]
#[unsafe(no_mangle)]
static ROUTER_ID: aya_ebpf::Global<u32> = aya_ebpf::Global::new(0);

/// The router id (a volatile read, so the load-time value is used, not the compiled-in 0).
#[cfg(target_arch = "bpf")]
#[inline(always)]
fn router_id() -> u32 {
    ROUTER_ID.load()
}

#[cfg(target_arch = "bpf")]
mod program {
    use aya_ebpf::{macros::xdp, programs::XdpContext};
    use aya_log_ebpf::debug;
    use vrrp_ebpf_common::{
        counters::{Family, Stat},
        dataplane::{FAMILY_IPV4, FAMILY_IPV6, InstanceCounter, addr_v4},
        proto::{IPPROTO_ICMPV6, IPPROTO_VRRP},
    };

    use crate::{
        adverts::{self, Advert},
        counters::{self, Verdict},
        forward::{self, Forwarded},
        gateway, nat, ownership,
        parse::{self, Ipv4, Ipv6, L3},
    };

    /// XDP entry point: decides, counts the frame in its class, returns the action.
    #[xdp]
    pub fn vrrp_xdp(ctx: XdpContext) -> u32 {
        let verdict = decide(&ctx);
        counters::record(verdict.class);
        verdict.action
    }

    #[inline(always)]
    fn decide(ctx: &XdpContext) -> Verdict {
        match parse::headers(ctx) {
            L3::Malformed(kind) => malformed(ctx, kind),
            L3::Other => Verdict::pass(Stat::NotVrrp),
            L3::Arp { target } => match ownership::vip(FAMILY_IPV4, addr_v4(target)) {
                Some(vip) => ownership::check(&vip),
                None => Verdict::pass(Stat::NotVrrp),
            },
            L3::Ipv4(ip) => ipv4(ctx, &ip),
            L3::Ipv6(ip) => ipv6(ctx, &ip),
        }
    }

    #[inline(always)]
    fn malformed(ctx: &XdpContext, kind: Stat) -> Verdict {
        // Off unless the agent loads the program with eBPF debug logs enabled.
        debug!(
            ctx,
            "malformed frame on ifindex {}: kind {}",
            ctx.ingress_ifindex() as u32,
            kind as u32
        );
        Verdict::drop(kind)
    }

    #[inline(always)]
    fn ipv4(ctx: &XdpContext, ip: &Ipv4) -> Verdict {
        if ip.proto == IPPROTO_VRRP {
            return match parse::vrrp_v4(ctx, ip) {
                Err(kind) => malformed(ctx, kind),
                Ok(vrrp) => adverts::check(
                    ctx,
                    &Advert {
                        vrrp,
                        family: Family::Ipv4,
                        ttl: ip.ttl,
                        src: addr_v4(ip.src),
                    },
                ),
            };
        }
        let mut dst = ip.dst;
        let mut dnat_slot = None;
        if let Some(vip) = ownership::vip(FAMILY_IPV4, addr_v4(ip.dst)) {
            if let Some(verdict) = ownership::gate(&vip) {
                return verdict;
            }
            dnat_slot = Some(vip.slot);
            dst = vip.nat_addr;
        }
        let mut src = ip.src;
        let mut snat_slot = None;
        if let Some(out) = nat::lookup_out(ip.src) {
            // Decided on the packet before source translation (after destination
            // translation): only traffic the FIB sends out of the external interface.
            if ownership::owner(out.slot) == ownership::Owner::Owned
                && forward::egress(ctx, ip, ip.src, dst) == Some(out.ext_ifindex)
            {
                snat_slot = Some(out.slot);
                src = out.floating;
            }
        }
        // The slot the verdict is counted in: the destination's, else the source's.
        let Some(slot) = dnat_slot.or(snat_slot) else {
            return gateway::routed_v4(ctx, ip);
        };
        if ip.ttl <= 1 {
            // Untranslated, so the kernel's ICMP time exceeded quotes what the sender sent.
            counters::slot(slot, InstanceCounter::PassedToKernel);
            return Verdict::pass(Stat::TtlExpiring);
        }
        nat::translate(ctx, ip, src, dst);
        if let Some(s) = dnat_slot {
            counters::slot(s, InstanceCounter::NatIn);
        }
        if let Some(s) = snat_slot {
            counters::slot(s, InstanceCounter::NatOut);
        }
        // Tagged frames would need the VLAN device's view of the FIB and a re-tag; options
        // and fragments are the kernel's business.
        let forwarded = if ip.tagged || ip.has_options() || ip.is_fragment() {
            Forwarded::Pass
        } else {
            forward::forward(ctx, ip, src, dst)
        };
        match forwarded {
            Forwarded::Redirect(action) => {
                counters::slot(slot, InstanceCounter::Redirected);
                Verdict {
                    action,
                    class: Stat::Redirected,
                }
            }
            Forwarded::Pass => {
                counters::slot(slot, InstanceCounter::PassedToKernel);
                Verdict::pass(Stat::PassedToKernel)
            }
        }
    }

    #[inline(always)]
    fn ipv6(ctx: &XdpContext, ip: &Ipv6) -> Verdict {
        if ip.next_hdr == IPPROTO_VRRP {
            return match parse::vrrp_v6(ctx, ip) {
                Err(kind) => malformed(ctx, kind),
                Ok(vrrp) => adverts::check(
                    ctx,
                    &Advert {
                        vrrp,
                        family: Family::Ipv6,
                        ttl: ip.hop_limit,
                        src: ip.src,
                    },
                ),
            };
        }
        if ip.next_hdr == IPPROTO_ICMPV6
            && let Some(target) = parse::ns_target(ctx, ip)
            && let Some(vip) = ownership::vip(FAMILY_IPV6, target)
        {
            return ownership::check(&vip);
        }
        match ownership::vip(FAMILY_IPV6, ip.dst) {
            Some(vip) => ownership::check(&vip),
            None => gateway::routed_v6(ctx, ip),
        }
    }
}

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path, so this is never executed.
    loop {}
}

#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!(
        "vrrp-ebpf is an XDP program for the bpfel-unknown-none target, not a host binary.\n\
         Build it (and the agent that embeds it) with `cargo xtask build`."
    );
    std::process::exit(2);
}
