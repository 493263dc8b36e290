//! The fast-path analysis: from a router namespace's own packet path (netfilter rules, policy
//! routing, tc, xfrm, forwarding settings; `crate::pathstate`) and the router's virtual
//! addresses, decide which traffic the XDP program may forward itself because the kernel would
//! have sent exactly the same bytes, and say why the rest stays on the kernel path.
//!
//! The rule this serves (see the README's data-plane section): the program may restrict
//! freely, but accelerates a packet only when what leaves the router is exactly what the
//! kernel would have sent for it in that namespace. So the floating IPs come from the
//! namespace's NAT rules (`discover`), and each class of traffic is followed through every
//! rule of every hook it meets (`eval`, `classes`): a rule the analysis cannot prove harmless
//! keeps the class on the kernel path and is named in `status`.
//!
//! Pure: no I/O, no clock. Imports `crate::pathstate`'s model only.

mod classes;
mod discover;
mod eval;
mod packet;
mod path_facts;
pub mod plan;
#[cfg(test)]
mod tests;
mod value;

use std::{
    collections::{BTreeMap, BTreeSet},
    net::Ipv4Addr,
};

pub use plan::{Blocker, FipPlan, Plan};

use crate::pathstate::{Facts, Ruleset};

/// What the analysis reads about one router namespace.
pub struct View<'a> {
    pub ruleset: &'a Ruleset,
    pub facts: &'a Facts,
    /// The router's IPv4 virtual addresses and the interface each lives on (a floating IP
    /// must be one: its owner's lease gates it).
    pub vips: &'a [(Ipv4Addr, String)],
    /// The interface the FIB sends each address through (for the fixed IPs).
    pub routes: &'a BTreeMap<Ipv4Addr, String>,
    /// The interfaces plain routing may be accelerated between: the router's gateway ports
    /// (they carry its virtual addresses), not the VRRP interfaces themselves.
    pub route_candidates: &'a [String],
}

/// The floating IPs a ruleset's NAT rules name, `floating -> fixed` (the routes of the fixed
/// IPs are what the analysis needs besides the ruleset).
pub fn candidates(rs: &Ruleset) -> BTreeMap<Ipv4Addr, Ipv4Addr> {
    discover::floating_ips(rs)
}

/// Decides the fast path of one router namespace.
pub fn analyse(view: &View) -> Plan {
    let mut plan = Plan {
        router_blockers: path_facts::router(view.facts),
        ..Plan::default()
    };
    let candidates = discover::floating_ips(view.ruleset);
    let known = classes::Known {
        fixed_ips: candidates.values().copied().collect(),
        local: view
            .vips
            .iter()
            .map(|(a, _)| *a)
            .chain(candidates.keys().copied())
            .collect(),
    };
    let mut kernel = BTreeSet::new();
    for (floating, fixed) in &candidates {
        let ext = view
            .vips
            .iter()
            .find(|(a, _)| a == floating)
            .map(|(_, i)| i.clone());
        let int = view.routes.get(fixed).cloned();
        let class = format!("floating IP {floating}");
        let verdict = match (&ext, &int, plan.router_blockers.first()) {
            (_, _, Some(b)) => Err(b.clone()),
            (None, _, _) => Err(Blocker::general(
                &class,
                "it is not a virtual address of any instance here, so no lease decides who \
                 forwards it",
            )),
            (_, None, _) => Err(Blocker::general(
                &class,
                &format!("no route to its fixed IP {fixed}"),
            )),
            (Some(ext), Some(int), None) if ext == int => Err(Blocker::general(
                &class,
                &format!("its fixed IP {fixed} is routed out of {ext}, where it arrives"),
            )),
            (Some(ext), Some(int), None) => {
                let fip = classes::Fip {
                    floating: *floating,
                    fixed: *fixed,
                    ext: ext.clone(),
                    int: int.clone(),
                };
                match path_facts::path(view.facts, &class, ext, int)
                    .or_else(|| path_facts::path(view.facts, &class, int, ext))
                {
                    Some(b) => Err(b),
                    None => classes::floating_ip(view.ruleset, &fip, &known).map(|k| {
                        kernel.extend(k);
                    }),
                }
            }
        };
        plan.fips.push(FipPlan {
            floating: *floating,
            fixed: *fixed,
            ext,
            int,
            verdict,
        });
    }
    if plan.router_blockers.is_empty() {
        route_ports(view, &known, &mut plan, &mut kernel);
    }
    // Addresses that are virtual or floating are decided before any fast path anyway.
    plan.kernel_addrs = kernel.difference(&known.local).copied().collect();
    plan
}

/// Most interfaces whose every subset is tried for plain routing (beyond: none is).
const MAX_ROUTE_PORTS: usize = 10;

/// The largest set of candidate interfaces between which plain routing is eligible every
/// way (ties: the first in name order).
fn route_ports(
    view: &View,
    known: &classes::Known,
    plan: &mut Plan,
    kernel: &mut BTreeSet<Ipv4Addr>,
) {
    let mut ports: Vec<&str> = view
        .route_candidates
        .iter()
        .map(String::as_str)
        .filter(|p| view.facts.iface(p).is_some_and(|i| i.up))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    if ports.len() < 2 || ports.len() > MAX_ROUTE_PORTS {
        return;
    }
    let mut ok: BTreeMap<(usize, usize), BTreeSet<Ipv4Addr>> = BTreeMap::new();
    for a in 0..ports.len() {
        for b in a + 1..ports.len() {
            let (p, q) = (ports[a], ports[b]);
            let class = format!("routed traffic between {p} and {q}");
            let result = match path_facts::path(view.facts, &class, p, q)
                .or_else(|| path_facts::path(view.facts, &class, q, p))
            {
                Some(blocker) => Err(blocker),
                None => classes::routing(view.ruleset, p, q, known),
            };
            match result {
                Ok(k) => {
                    ok.insert((a, b), k);
                }
                Err(blocker) => {
                    plan.route_blockers.insert(format!("{p} {q}"), blocker);
                }
            }
        }
    }
    let mut best: Vec<usize> = Vec::new();
    for subset in 1u32..(1 << ports.len()) {
        let members: Vec<usize> = (0..ports.len())
            .filter(|i| subset & (1 << i) != 0)
            .collect();
        if members.len() <= best.len() {
            continue;
        }
        let clique = members
            .iter()
            .enumerate()
            .all(|(n, a)| members[n + 1..].iter().all(|b| ok.contains_key(&(*a, *b))));
        if clique {
            best = members;
        }
    }
    if best.len() >= 2 {
        for (n, a) in best.iter().enumerate() {
            for b in &best[n + 1..] {
                kernel.extend(ok[&(*a, *b)].iter().copied());
            }
        }
        plan.route_ports = best.iter().map(|i| ports[*i].to_string()).collect();
    }
}
