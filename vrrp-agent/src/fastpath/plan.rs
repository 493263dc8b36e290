//! What the analysis decides for one router namespace: which floating IPs and which pairs of
//! interfaces the fast path may take, which destination addresses it must leave to the kernel,
//! and for everything it may not take, the reason: the table, chain and rule (or the setting)
//! that makes the kernel's result differ. Pure data with a human rendering for logs and
//! `status`.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::Ipv4Addr,
};

use serde::Serialize;

use crate::pathstate::ruleset::{ChainRef, Rule};

/// Why a class of traffic stays on the kernel path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blocker {
    /// The traffic ("floating IP 203.0.113.20 outbound (from 10.0.10.5 on qr-1)").
    pub class: String,
    /// Table, chain and rule number (1-based, as `iptables -L --line-numbers` counts), if a
    /// rule is the reason.
    pub location: Option<String>,
    /// The rule as iptables-save would print it.
    pub rule: Option<String>,
    pub reason: String,
}

impl Blocker {
    pub fn rule(class: &str, chain: &ChainRef, number: usize, rule: &Rule, why: &str) -> Self {
        Self {
            class: class.to_string(),
            location: Some(format!("{chain}, rule {number}")),
            rule: Some(rule.to_string()),
            reason: why.to_string(),
        }
    }

    pub fn policy(class: &str, chain: &ChainRef) -> Self {
        Self {
            class: class.to_string(),
            location: Some(chain.to_string()),
            rule: None,
            reason: "its policy drops what no rule accepts".to_string(),
        }
    }

    pub fn missing(class: &str, chain: &ChainRef) -> Self {
        Self {
            class: class.to_string(),
            location: Some(chain.to_string()),
            rule: None,
            reason: "a rule jumps to this chain, which could not be read".to_string(),
        }
    }

    pub fn general(class: &str, reason: &str) -> Self {
        Self {
            class: class.to_string(),
            location: None,
            rule: None,
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.class)?;
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        if let Some(r) = &self.rule {
            write!(f, "`{r}` ")?;
        }
        f.write_str(&self.reason)
    }
}

/// One floating IP the namespace's NAT rules translate 1:1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FipPlan {
    pub floating: Ipv4Addr,
    pub fixed: Ipv4Addr,
    /// The interface the floating IP lives on (a virtual address of an instance).
    pub ext: Option<String>,
    /// The interface the fixed IP is routed through.
    pub int: Option<String>,
    /// Eligible for the fast path both ways, or why not.
    pub verdict: Result<(), Blocker>,
}

/// The fast-path decision for one router namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub fips: Vec<FipPlan>,
    /// Destinations the fast path must leave to the kernel (a rule names them: e.g. the
    /// metadata address Neutron redirects to a local proxy).
    pub kernel_addrs: BTreeSet<Ipv4Addr>,
    /// Interfaces between which plain routing (no NAT) is eligible, each pair both ways.
    pub route_ports: BTreeSet<String>,
    /// Why plain routing is not eligible, per ordered pair of interfaces.
    pub route_blockers: BTreeMap<String, Blocker>,
    /// Reasons that hold for every class (policy routing, IPsec...).
    pub router_blockers: Vec<Blocker>,
}

impl Plan {
    /// The floating IPs that are eligible.
    pub fn eligible_fips(&self) -> impl Iterator<Item = &FipPlan> {
        self.fips.iter().filter(|f| f.verdict.is_ok())
    }

    /// One line for logs and the status table: what is on, and the first reason something
    /// is off.
    pub fn summary(&self) -> String {
        let on = self.eligible_fips().count();
        let mut s = format!("{on} of {} floating IPs", self.fips.len());
        if !self.route_ports.is_empty() {
            s.push_str(&format!(
                ", routing between {}",
                self.route_ports
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        if let Some(b) = self
            .router_blockers
            .first()
            .or_else(|| self.fips.iter().find_map(|f| f.verdict.as_ref().err()))
        {
            s.push_str(&format!("; off: {b}"));
        }
        s
    }
}
