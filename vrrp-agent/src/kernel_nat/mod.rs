//! The kernel's NAT for the floating IPs the native configuration names: the agent writes it
//! as one nftables table per network namespace (`ip vrrp_agent_fip`), so floating IPs work on
//! the kernel path whatever the data plane does (`dataplane = "none"`, fast path off or not
//! eligible), and the XDP fast path only ever accelerates what the kernel does anyway.
//!
//! `script` is pure (the nft script for a set of floating IPs); `apply` runs `nft -f -` inside
//! the namespace. May import `crate::config` and `crate::netns`.

mod apply;
mod script;

pub use apply::{KernelNatError, apply};
pub use script::{TABLE, script};
