//! nftables over netlink (NETLINK_NETFILTER, subsystem NFNL_SUBSYS_NFTABLES): the ruleset of a
//! namespace as the model (native nft rules and iptables-nft / ip6tables-nft ones, which are
//! nf_tables rules too), its generation id (cheap: one message), and a watcher that wakes on
//! every committed change. `socket` speaks netlink, `expr` decodes a rule's expressions,
//! `dump` assembles tables, chains and rules, `watch` listens to the multicast group.
//! Imports `crate::netns` and `crate::pathstate::{ruleset, xt, error}`.

mod dump;
mod expr;
mod socket;
mod watch;

pub use dump::read_current;
pub use watch::{NftChange, NftWatcher};

use crate::pathstate::error::PathStateError;

/// The nf_tables generation id of namespace `netns` (`None`: this one); it changes with every
/// committed transaction, so comparing it tells whether the ruleset may have changed.
pub fn nft_generation(netns: Option<&str>) -> Result<u32, PathStateError> {
    crate::netns::run_in(netns, || socket::NfSocket::open()?.generation())?
}

#[cfg(test)]
mod tests;
