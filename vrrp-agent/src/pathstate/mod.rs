//! What a network namespace's packet path holds beyond routes and addresses, read from the
//! kernel: netfilter rules (nftables over netlink, which includes iptables-nft, and the legacy
//! iptables tables over `getsockopt`), policy routing rules, tc, xfrm policies, the IPv4
//! forwarding settings of each interface, and which interfaces accept XDP redirects. The
//! fast-path analysis (`crate::fastpath`) decides from it whether XDP may forward a class of
//! traffic the way the kernel would.
//!
//! `ruleset` and `facts` are the pure model; the readers fill it. May import `crate::netns`.

pub mod facts;
pub mod ruleset;

pub use facts::{Facts, IfaceConf, IfaceFacts};
pub use ruleset::Ruleset;
pub mod conf;
pub mod conntrack;
pub mod facts_read;
pub mod facts_watch;
pub mod links;
pub(crate) mod nl;
pub mod policy_rules;
pub mod tc;
pub mod xdp_features;
pub mod xfrm;
pub use facts_read::{FactsError, read_facts};
pub use facts_watch::{ChangeSource, FactsChange, FactsWatch};
pub use nl::NlError;

pub mod error;
pub mod legacy;
pub mod nft;
pub mod read;
pub mod xt;

pub use error::PathStateError;
pub use legacy::legacy_signature;
pub use nft::{NftChange, NftWatcher, nft_generation};
pub use read::read_ruleset;
#[cfg(test)]
mod testdata;
