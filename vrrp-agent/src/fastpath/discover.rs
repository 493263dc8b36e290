//! Finding the floating IPs in a namespace's own NAT rules: a destination NAT of exactly one
//! address `F` to exactly one address `f` (Neutron's `-d F/32 -j DNAT --to-destination f`)
//! together with a source NAT of exactly `f` to `F` (`-s f/32 -j SNAT --to-source F`, with or
//! without `--random-fully`). Whether the kernel really applies them that way to the traffic
//! is for the interpreter to prove; this only names the candidates. Pure.

use std::{collections::BTreeMap, net::Ipv4Addr};

use ipnet::IpNet;

use super::eval::single_v4;
use crate::pathstate::ruleset::{Action, ChainType, Cond, Ruleset};

/// `(floating, fixed)` pairs, by floating IP.
pub fn floating_ips(rs: &Ruleset) -> BTreeMap<Ipv4Addr, Ipv4Addr> {
    let nat_tables: Vec<_> = rs
        .base_chains
        .iter()
        .filter(|b| b.chain_type == ChainType::Nat)
        .map(|b| (b.chain.backend, b.chain.family, b.chain.table.clone()))
        .collect();
    let host = |conds: &[Cond], dst: bool| -> Option<Ipv4Addr> {
        conds.iter().find_map(|c| match c {
            Cond::Dst {
                net: IpNet::V4(n),
                negated: false,
            } if dst && n.prefix_len() == 32 => Some(n.addr()),
            Cond::Src {
                net: IpNet::V4(n),
                negated: false,
            } if !dst && n.prefix_len() == 32 => Some(n.addr()),
            _ => None,
        })
    };
    let mut dnat: BTreeMap<Ipv4Addr, Ipv4Addr> = BTreeMap::new();
    let mut snat: BTreeMap<Ipv4Addr, Ipv4Addr> = BTreeMap::new();
    for chain in rs.chains.iter().filter(|c| {
        nat_tables
            .iter()
            .any(|(b, f, t)| *b == c.chain.backend && *f == c.chain.family && *t == c.chain.table)
    }) {
        for rule in &chain.rules {
            for action in &rule.actions {
                match action {
                    Action::Dnat(r) => {
                        if let (Some(from), Some(to)) = (host(&rule.conds, true), single_v4(r)) {
                            dnat.entry(from).or_insert(to);
                        }
                    }
                    Action::Snat(r) => {
                        if let (Some(from), Some(to)) = (host(&rule.conds, false), single_v4(r)) {
                            snat.entry(from).or_insert(to);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    dnat.into_iter()
        .filter(|(floating, fixed)| snat.get(fixed) == Some(floating))
        .collect()
}
