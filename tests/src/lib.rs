//! Support for vrrp-xdp's privileged end-to-end tests: network namespaces that clean up after
//! themselves, the keepalived fixture captures, frame builders, and handles on real agent
//! processes and real peers (keepalived, FRR's vrrpd). Every test that uses this crate needs root (see [`require_root`]). The
//! benchmarks, the demo and the test bed tool build on it from their own crate (`tests/bench/`,
//! `vrrp-bench`); nothing here depends on them.
//!
//! Network rule: traffic only ever goes to addresses inside namespaces a test created.

pub mod agent;
pub mod attack;
pub mod capture;
pub mod checksum;
pub mod child;
pub mod conntrack_bed;
pub mod differential;
pub mod fixtures;
pub mod flows;
pub mod frames;
pub mod frr;
pub mod frr_bed;
pub mod keepalived;
pub mod links;
pub mod netlink_support;
pub mod netns;
pub mod neutron_rules;
pub mod pinned;
pub mod rawbpf;
pub mod router_ns;
#[path = "../../vrrp-agent/tests/common/takeover.rs"]
pub mod takeover;
pub mod tempdir;
pub mod testbed;
pub mod topo;
pub mod traffic;
pub mod xdp;

/// Fails the test with a clear message unless it runs as root (privileged tests cannot be
/// skipped silently: a skipped test would report green without testing anything).
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!(
            "this test needs root (it loads XDP programs and creates network namespaces); \
             run the suite with `cargo xtask test` as root"
        );
    }
}
