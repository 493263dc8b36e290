//! The vrrp-xdp XDP program: entry point, the per-packet decision tree, the router id, and the
//! panic handler.
//!
//! Built only for `bpfel-unknown-none` (nightly + `bpf-linker`, driven by `cargo xtask build`)
//! and embedded into `vrrp-agent`. On the host this file compiles to a stub binary so that
//! `cargo build --workspace` works on stable. Modules: `parse` (bounds-checked header walk),
//! `adverts` (advert checks), `ownership` (virtual addresses and leases), `shape` (packets the
//! fast path may handle at all), `floating` (floating-IP candidates), `gateway` (routed
//! traffic: fencing and candidates), `fast` (the one forwarding step of every candidate),
//! `nat` (translation, ICMP errors included), `csum` (incremental checksums), `forward` (FIB
//! lookup and frame rewrite), `ports` (interfaces and the devmap of redirect targets),
//! `counters` (map updates and verdicts), this file (glue).
//!
//! **The rule.** The program may *restrict*: drop what a node that does not own an address
//! must not handle, drop everything routed through a master whose lease ran out (fencing),
//! drop bad adverts. It may *accelerate* a packet only when what leaves the router is exactly
//! what the kernel would have sent for that packet in that namespace: the agent marks a class
//! of traffic eligible only after proving, from the namespace's own netfilter rules, policy
//! routing, tc, xfrm and forwarding settings, that the kernel would do the same; and the
//! program forwards only complete packets of such a class to devices that take XDP frames.
//! In every other case: `XDP_PASS`, untouched.
//!
//! Per frame (every frame is counted in exactly one class of `Stat`, see
//! `vrrp_ebpf_common::counters`):
//!
//! 1. Malformed Ethernet / VLAN / ARP / IP header → drop.
//! 2. VRRP (IPv4 protocol / IPv6 next header 112, or IPv4 protocol 51 whose AH header
//!    announces VRRP: keepalived's `auth_type AH`, whose ICV the agent verifies): malformed →
//!    drop; TTL / hop limit not 255 → drop; no instance for (router, ingress interface, VRID,
//!    family) → drop; source not in the instance's allow-list (when it has one) → drop; else
//!    pass.
//! 3. ARP request / reply, or ICMPv6 neighbour solicitation, for a virtual address: not owned
//!    (lease 0) or lease expired → drop; owned → pass.
//! 4. IPv4 / IPv6 to an address the kernel keeps for itself (`VIP_KIND_KERNEL`) → pass.
//! 5. IPv4 / IPv6 to a virtual address or floating IP: not owned or expired → drop; owned,
//!    but the owner does not accept packets for its addresses (Accept_Mode off and not the
//!    address owner: `OWNER_FLAG_ACCEPT` clear) → drop, except IPv6 neighbour solicitations
//!    and advertisements (RFC 9568 §6.4.3, §6.1); else an owned virtual address → pass, an
//!    owned floating IP → the inbound fast path when eligible (see `floating`), else pass
//!    untouched.
//! 6. IPv4 from a fixed IP whose floating IP is owned → the outbound fast path when eligible,
//!    else as 7.
//! 7. Routed traffic arriving on a gateway interface of an instance, addressed to that
//!    interface's MAC: not owned or lease expired → dropped when the FIB would forward it
//!    (traffic for the router itself passes); owned → plain routing fast path where eligible,
//!    else pass untouched.
//! 8. Anything else → pass untouched.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod advert_csum;
#[cfg(target_arch = "bpf")]
mod adverts;
#[cfg(target_arch = "bpf")]
mod counters;
#[cfg(target_arch = "bpf")]
mod csum;
#[cfg(target_arch = "bpf")]
mod fast;
#[cfg(target_arch = "bpf")]
mod floating;
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
#[cfg(target_arch = "bpf")]
mod ports;
#[cfg(target_arch = "bpf")]
mod shape;

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
        dataplane::{
            FAMILY_IPV4, FAMILY_IPV6, VIP_KIND_FLOATING, VIP_KIND_KERNEL, VipValue, addr_v4,
        },
        proto::{IPPROTO_AH, IPPROTO_ICMPV6, IPPROTO_VRRP},
    };

    use crate::{
        adverts::{self, Advert},
        counters::{self, Verdict},
        fast::{self, Candidate},
        floating, gateway,
        ownership::{self, Owner},
        parse::{self, Ipv4, Ipv6, L3},
    };

    /// XDP entry point: decides, counts the frame in its class, returns the action.
    #[xdp]
    pub fn vrrp_xdp(ctx: XdpContext) -> u32 {
        let verdict = decide(&ctx);
        counters::record(verdict.class);
        verdict.action
    }

    /// Pass-through program for the veth peers of router ports (`fast_path_peer_napi`): with
    /// an XDP program attached the kernel runs NAPI on that veth, and only then does its
    /// partner, the router's port, take the frames the fast path redirects into it. It
    /// touches nothing.
    #[xdp]
    pub fn vrrp_xdp_pass(_ctx: XdpContext) -> u32 {
        aya_ebpf::bindings::xdp_action::XDP_PASS
    }

    #[inline(always)]
    fn decide(ctx: &XdpContext) -> Verdict {
        match parse::headers(ctx) {
            L3::Malformed(kind) => malformed(ctx, kind),
            L3::Other => Verdict::pass(Stat::NotVrrp),
            L3::Arp { target } => match ownership::vip(FAMILY_IPV4, addr_v4(target)) {
                Some(vip) if vip.kind != VIP_KIND_KERNEL => ownership::check(&vip),
                _ => Verdict::pass(Stat::NotVrrp),
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
        let advert = match ip.proto {
            IPPROTO_VRRP => Some(parse::vrrp_v4(ctx, ip)),
            IPPROTO_AH => parse::vrrp_in_ah_v4(ctx, ip),
            _ => None,
        };
        if let Some(parsed) = advert {
            return match parsed {
                Err(kind) => malformed(ctx, kind),
                Ok(vrrp) => adverts::check(
                    ctx,
                    &Advert {
                        vrrp,
                        family: Family::Ipv4,
                        ttl: ip.ttl,
                        src: addr_v4(ip.src),
                        dst: addr_v4(ip.dst),
                    },
                ),
            };
        }
        let candidate = match ownership::vip(FAMILY_IPV4, addr_v4(ip.dst)) {
            Some(vip) => to_address(ctx, ip, &vip),
            None => gateway::routed_v4(ctx, ip),
        };
        match candidate {
            Ok(c) => fast::forward(ctx, ip, &c),
            Err(verdict) => verdict,
        }
    }

    /// IPv4 to an address in `VRRP_VIPS`: a fast-path candidate or the verdict.
    #[inline(always)]
    fn to_address(ctx: &XdpContext, ip: &Ipv4, vip: &VipValue) -> Result<Candidate, Verdict> {
        match vip.kind {
            VIP_KIND_KERNEL => Err(Verdict::pass(Stat::NotVrrp)),
            VIP_KIND_FLOATING => match ownership::owner_of(vip.slot) {
                (Owner::Owned, true) => floating::inbound(ctx, ip, vip),
                (Owner::Owned, false) => Err(ownership::refuse(vip.slot)),
                (owner, _) => Err(ownership::deny(vip.slot, owner)),
            },
            _ => Err(ownership::check_traffic(vip, || false)),
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
                        dst: ip.dst,
                    },
                ),
            };
        }
        if ip.next_hdr == IPPROTO_ICMPV6
            && let Some(target) = parse::ns_target(ctx, ip)
            && let Some(vip) = ownership::vip(FAMILY_IPV6, target)
            && vip.kind != VIP_KIND_KERNEL
        {
            return ownership::check(&vip);
        }
        match ownership::vip(FAMILY_IPV6, ip.dst) {
            Some(vip) if vip.kind == VIP_KIND_KERNEL => Verdict::pass(Stat::NotVrrp),
            Some(vip) => ownership::check_traffic(&vip, || parse::is_nd(ctx, ip)),
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
