//! Reading a namespace's whole netfilter ruleset: nftables (native and iptables-nft) and the
//! legacy x_tables, on one short-lived thread inside the namespace, merged into one model.
//! Imports `crate::netns` and `crate::pathstate::{nft, legacy, ruleset, error}`.

use crate::pathstate::{error::PathStateError, legacy, nft, ruleset::Ruleset};

/// The netfilter rules of namespace `netns` (`None`: the caller's), blocking: nftables
/// tables of every family first, then the iptables-legacy and ip6tables-legacy tables the
/// namespace has. Needs CAP_NET_ADMIN (and CAP_SYS_ADMIN to enter another namespace).
pub fn read_ruleset(netns: Option<&str>) -> Result<Ruleset, PathStateError> {
    crate::netns::run_in(netns, || {
        let mut rs = nft::read_current()?;
        rs.extend(legacy::read_current()?);
        Ok(rs)
    })?
}
