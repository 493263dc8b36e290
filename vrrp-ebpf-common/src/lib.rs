//! Types and constants shared by the XDP program (`vrrp-ebpf`, no_std, bpf target) and the
//! agent (`vrrp-agent`, std, behind the `user` feature).
//!
//! Everything that crosses the kernel/user boundary is defined here once: map names, map
//! sizes, key layouts and counter indexes. Types are `#[repr(C)]` with explicit padding and
//! compile-time size checks, so both sides agree on every byte. This crate depends on nothing
//! of ours and only on `aya` (for `Pod`) when the `user` feature is on.
#![cfg_attr(not(test), no_std)]

pub mod counters;
pub mod dataplane;
pub mod proto;
pub mod test_run;

/// Name of the XDP entry point in the object file.
pub const PROGRAM_NAME: &str = "vrrp_xdp";
/// Name of the pass-through program for veth peers (see `fast_path_peer_napi`).
pub const PASS_PROGRAM_NAME: &str = "vrrp_xdp_pass";
