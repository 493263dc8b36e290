//! The vrrp-xdp XDP program: entry point, maps and the panic handler.
//!
//! Built only for `bpfel-unknown-none` (nightly + `bpf-linker`, driven by `cargo xtask build`)
//! and embedded into `vrrp-agent`. On the host this file compiles to a stub binary so that
//! `cargo build --workspace` works on stable. Modules: `parse` (bounds-checked header walk,
//! depends on nothing but `vrrp-ebpf-common`), `counters` (map updates), this file (glue).
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod counters;
#[cfg(target_arch = "bpf")]
mod parse;

#[cfg(target_arch = "bpf")]
mod program {
    use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
    use aya_log_ebpf::debug;

    use crate::{counters, parse, parse::Frame};

    /// XDP entry point. Classifies every frame (VRRP advert, malformed, other), counts it and
    /// passes it on: this version of the program never drops.
    #[xdp]
    pub fn vrrp_xdp(ctx: XdpContext) -> u32 {
        let frame = parse::classify(&ctx);
        if let Frame::Malformed(kind) = frame {
            // Off unless the agent loads the program with eBPF debug logs enabled.
            debug!(
                &ctx,
                "malformed frame on ifindex {}: kind {}",
                ctx.ingress_ifindex() as u32,
                kind as u32
            );
        }
        counters::record(frame);
        xdp_action::XDP_PASS
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
