//! The interpreter: follows a class of packets ([`Pkt`]) through the base chains of every hook
//! of the forwarding path (netdev ingress, PREROUTING, FORWARD, POSTROUTING, netdev egress) in
//! the kernel's order, rule by rule, and returns the classes that come out the other side, or
//! the first rule that could drop the class, change it in a way the fast path does not model,
//! or that the analysis cannot see through ([`Blocker`]).
//!
//! A condition it can decide splits the class (by protocol, by mark value, by excluding one
//! destination address); one it cannot decide forks it: one copy as if the rule matched, one as
//! if not, so a harmless rule (a mark, a counter) costs nothing and a harmful one (a drop, a
//! NAT, an unknown target) blocks the class, naming the rule. Pure; imports the ruleset model.

use std::{collections::BTreeSet, net::Ipv4Addr};

use ipnet::IpNet;

use super::{
    packet::{Exclude, Pkt},
    plan::Blocker,
    value::{Addr, Tri},
};
use crate::pathstate::ruleset::{
    Action, BaseChain, ChainRef, ChainType, Cond, CtStates, Family, Hook, NatRange, Policy, Rule,
    Ruleset,
};

/// The most rule evaluations one class may take before the analysis gives up.
const STEP_BUDGET: usize = 200_000;
/// The deepest chain nesting followed (the kernel allows far less in practice).
const MAX_DEPTH: usize = 32;
/// conntrack's PREROUTING priority: later chains see the connection.
const PRIO_CONNTRACK: i32 = -200;
/// Where the kernel applies an established connection's destination NAT.
const PRIO_NAT_DST: i32 = -100;
/// Where it applies an established connection's source NAT.
const PRIO_NAT_SRC: i32 = 100;

/// How an established packet's addresses change at the NAT hooks (from its connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EstablishedNat {
    /// New destination at PREROUTING.
    pub dst: Option<Ipv4Addr>,
    /// New source at POSTROUTING.
    pub src: Option<Ipv4Addr>,
}

/// One class's walk through the ruleset.
pub struct Interp<'a> {
    rs: &'a Ruleset,
    class: &'a str,
    steps: usize,
    /// Destination addresses split off the class (to be left to the kernel).
    pub excluded_dsts: BTreeSet<Ipv4Addr>,
}

/// Where a packet goes after a rule or a chain.
enum Flow {
    /// On to the next rule.
    Next(Pkt),
    /// Back to the calling chain (RETURN, or the end of a chain).
    Return(Pkt),
    /// Accepted by this base chain (ACCEPT, or a NAT target in a nat chain).
    Accept(Pkt),
}

impl<'a> Interp<'a> {
    pub fn new(rs: &'a Ruleset, class: &'a str) -> Self {
        Self {
            rs,
            class,
            steps: 0,
            excluded_dsts: BTreeSet::new(),
        }
    }

    fn blocker(&self, chain: &ChainRef, index: usize, rule: &Rule, why: &str) -> Blocker {
        Blocker::rule(self.class, chain, index + 1, rule, why)
    }

    /// Walks `pkt` through every hook of the forwarding path to `oif`; `established` is the
    /// connection's NAT for a packet that is not the first of its connection.
    pub fn forward(
        &mut self,
        pkt: Pkt,
        oif: &str,
        established: Option<EstablishedNat>,
    ) -> Result<Vec<Pkt>, Blocker> {
        let iif = pkt.iif.clone();
        let mut live = vec![pkt];
        live = self.hook(live, Hook::Ingress, Some(&iif), established)?;
        live = self.hook(live, Hook::Prerouting, None, established)?;
        for p in &mut live {
            p.oif = Some(oif.to_string());
            p.tracked = true;
        }
        live = self.hook(live, Hook::Forward, None, established)?;
        live = self.hook(live, Hook::Postrouting, None, established)?;
        self.hook(live, Hook::Egress, Some(oif), established)
    }

    /// Runs every base chain of `hook` (for `device`, on netdev hooks) on every class.
    fn hook(
        &mut self,
        mut live: Vec<Pkt>,
        hook: Hook,
        device: Option<&str>,
        established: Option<EstablishedNat>,
    ) -> Result<Vec<Pkt>, Blocker> {
        let chains: Vec<&BaseChain> = self
            .rs
            .hook_chains(hook, false)
            .into_iter()
            .chain(
                // netdev chains are bound to a device and see every family.
                self.rs
                    .base_chains
                    .iter()
                    .filter(|b| b.hook == hook && b.chain.family == Family::Netdev),
            )
            .filter(|b| match (&b.device, device) {
                (Some(d), Some(want)) => d == want,
                (Some(_), None) => false,
                (None, _) => true,
            })
            .collect();
        // An established packet's translation happens at the NAT hooks' priorities: chains
        // before them see the old address, chains after them the new one.
        let mut translate = established.map(|e| match hook {
            Hook::Prerouting => (PRIO_NAT_DST, e.dst, true),
            Hook::Postrouting => (PRIO_NAT_SRC, e.src, false),
            _ => (i32::MAX, None, true),
        });
        let apply = |live: &mut Vec<Pkt>, t: &mut Option<(i32, Option<Ipv4Addr>, bool)>| {
            if let Some((_, Some(addr), dst)) = t.take() {
                for p in live.iter_mut() {
                    if dst {
                        p.dst = Addr::Exact(addr);
                    } else {
                        p.src = Addr::Exact(addr);
                    }
                }
            }
        };
        for base in chains {
            if translate.is_some_and(|(prio, _, _)| base.priority >= prio) {
                apply(&mut live, &mut translate);
            }
            let mut next = Vec::new();
            for mut p in live {
                if hook == Hook::Prerouting {
                    p.tracked = base.priority > PRIO_CONNTRACK;
                }
                if base.chain_type == ChainType::Nat {
                    // nat chains see only the first packet of a connection, and only until
                    // one of them set up this hook's translation.
                    let done = match hook {
                        Hook::Prerouting | Hook::Output => p.nat.dnat.is_some(),
                        _ => p.nat.snat.is_some(),
                    };
                    if !p.ct.new || done || p.nat.other.is_some() {
                        next.push(p);
                        continue;
                    }
                }
                for flow in self.chain(&base.chain, p, base.chain_type, 0)? {
                    match flow {
                        Flow::Accept(p) => next.push(p),
                        Flow::Next(p) | Flow::Return(p) => {
                            if base.policy == Policy::Drop {
                                return Err(Blocker::policy(self.class, &base.chain));
                            }
                            next.push(p);
                        }
                    }
                }
            }
            live = next;
        }
        apply(&mut live, &mut translate);
        Ok(live)
    }

    /// Runs one chain; the flows that leave it.
    fn chain(
        &mut self,
        chain: &ChainRef,
        pkt: Pkt,
        kind: ChainType,
        depth: usize,
    ) -> Result<Vec<Flow>, Blocker> {
        let Some(c) = self.rs.chain(chain) else {
            return Err(Blocker::missing(self.class, chain));
        };
        if depth > MAX_DEPTH {
            return Err(Blocker::general(
                self.class,
                &format!("{chain}: chains nest deeper than {MAX_DEPTH}"),
            ));
        }
        let mut live = vec![pkt];
        let mut out = Vec::new();
        for (i, rule) in c.rules.iter().enumerate() {
            let mut next = Vec::new();
            for p in live {
                self.steps += 1;
                if self.steps > STEP_BUDGET {
                    return Err(Blocker::general(
                        self.class,
                        "the rules split this traffic into too many cases to prove",
                    ));
                }
                for (p, tri) in self.conds(chain, i, rule, p)? {
                    match tri {
                        Tri::False => next.push(p),
                        Tri::True => {
                            for f in self.actions(chain, i, rule, p, kind, depth)? {
                                match f {
                                    Flow::Next(p) => next.push(p),
                                    other => out.push(other),
                                }
                            }
                        }
                        Tri::Unknown => {
                            next.push(p.clone());
                            for f in self.actions(chain, i, rule, p, kind, depth)? {
                                match f {
                                    Flow::Next(p) => next.push(p),
                                    other => out.push(other),
                                }
                            }
                        }
                    }
                }
            }
            live = next;
        }
        out.extend(live.into_iter().map(Flow::Return));
        Ok(out)
    }

    /// Evaluates a rule's conditions in order, splitting the class where they tell its
    /// packets apart; each result holds for its class (`True`), for none of it (`False`), or
    /// cannot be decided (`Unknown`).
    fn conds(
        &mut self,
        chain: &ChainRef,
        index: usize,
        rule: &Rule,
        pkt: Pkt,
    ) -> Result<Vec<(Pkt, Tri)>, Blocker> {
        let mut open = vec![(pkt, Tri::True)];
        let mut done = Vec::new();
        for cond in &rule.conds {
            let mut next = Vec::new();
            for (p, so_far) in open {
                for (p, t) in self.cond(chain, index, rule, cond, p)? {
                    match t {
                        Tri::False => done.push((p, Tri::False)),
                        Tri::True => next.push((p, so_far)),
                        Tri::Unknown => next.push((p, Tri::Unknown)),
                    }
                }
            }
            open = next;
        }
        done.extend(open);
        Ok(done)
    }

    fn cond(
        &mut self,
        _chain: &ChainRef,
        _index: usize,
        _rule: &Rule,
        cond: &Cond,
        mut p: Pkt,
    ) -> Result<Vec<(Pkt, Tri)>, Blocker> {
        let one = |p: Pkt, t: Tri| Ok(vec![(p, t)]);
        match cond {
            Cond::InIface { iface, negated } => {
                let t = Tri::from_bool(iface.matches(&p.iif)).negate_if(*negated);
                one(p, t)
            }
            Cond::OutIface { iface, negated } => {
                let t = match &p.oif {
                    Some(o) => Tri::from_bool(iface.matches(o)).negate_if(*negated),
                    None => Tri::Unknown,
                };
                one(p, t)
            }
            Cond::Src { net, negated } => {
                let IpNet::V4(net) = net else {
                    return one(p, Tri::False.negate_if(*negated));
                };
                let t = match p.src.in_net(net) {
                    Some(b) => Tri::from_bool(b).negate_if(*negated),
                    None => Tri::Unknown,
                };
                one(p, t)
            }
            Cond::Dst { net, negated } => {
                let IpNet::V4(net) = net else {
                    return one(p, Tri::False.negate_if(*negated));
                };
                let t = match p.dst.in_net(net) {
                    Some(b) => Tri::from_bool(b).negate_if(*negated),
                    None if net.prefix_len() == 32 && p.dst_exclude == Exclude::Hosts => {
                        // One address: the program leaves it to the kernel, so for the class
                        // the rule never sees it.
                        if let Addr::AnyExcept(ex) = &mut p.dst {
                            ex.insert(net.addr());
                        }
                        self.excluded_dsts.insert(net.addr());
                        Tri::False.negate_if(*negated)
                    }
                    None => Tri::Unknown,
                };
                one(p, t)
            }
            Cond::Proto { proto, negated } => {
                let (yes, no): (BTreeSet<u8>, BTreeSet<u8>) =
                    p.protos.iter().partition(|x| *x == proto);
                let mut out = Vec::new();
                for (set, holds) in [(yes, true), (no, false)] {
                    if !set.is_empty() {
                        let mut q = p.clone();
                        q.protos = set;
                        out.push((q, Tri::from_bool(holds).negate_if(*negated)));
                    }
                }
                Ok(out)
            }
            Cond::SrcPort { negated, .. } | Cond::DstPort { negated, .. } => {
                let t = if p.protos.iter().any(|x| *x == 6 || *x == 17) {
                    Tri::Unknown
                } else {
                    // No ports in ICMP: the match fails (negated: holds).
                    Tri::False.negate_if(*negated)
                };
                one(p, t)
            }
            Cond::Mark {
                value,
                mask,
                negated,
            } => Ok(split_marks(p, *value, *mask, *negated, false)),
            Cond::ConnMark {
                value,
                mask,
                negated,
            } => {
                if !p.tracked {
                    return one(p, Tri::Unknown);
                }
                Ok(split_marks(p, *value, *mask, *negated, true))
            }
            Cond::CtState { states, negated } => {
                if !p.tracked {
                    return one(p, Tri::Unknown);
                }
                // Whether conntrack calls a packet INVALID (out of its TCP window, a bad
                // checksum, a FIN of a connection it never saw) depends on state the analysis
                // does not have: a rule about it may match any packet of the class.
                if states.0 & CtStates::INVALID != 0 {
                    return one(p, Tri::Unknown);
                }
                let holds = (states.0 & CtStates::NEW != 0 && p.ct.new)
                    || (states.0 & CtStates::ESTABLISHED != 0 && !p.ct.new && !p.ct.related)
                    || (states.0 & CtStates::RELATED != 0 && p.ct.related)
                    || (states.0 & CtStates::DNAT != 0 && (p.ct.dnat || p.nat.dnat.is_some()))
                    || (states.0 & CtStates::SNAT != 0 && (p.ct.snat || p.nat.snat.is_some()));
                one(p, Tri::from_bool(holds).negate_if(*negated))
            }
            Cond::Comment(_) => one(p, Tri::True),
            Cond::Unknown(_) => one(p, Tri::Unknown),
        }
    }

    /// Runs a matching rule's actions.
    fn actions(
        &mut self,
        chain: &ChainRef,
        index: usize,
        rule: &Rule,
        mut p: Pkt,
        kind: ChainType,
        depth: usize,
    ) -> Result<Vec<Flow>, Blocker> {
        // A rule that only counts or logs exists to be read (Neutron's metering labels are
        // such rules): the fast path would not move its counters.
        if rule.actions.iter().all(|a| matches!(a, Action::Observe(_))) {
            return Err(self.blocker(
                chain,
                index,
                rule,
                "counts or logs the packets it matches (metering): the fast path would not",
            ));
        }
        let by = format!("{chain}, rule {}: `{rule}`", index + 1);
        for action in &rule.actions {
            match action {
                Action::Observe(_) => {}
                Action::SetMark { value, mask } => p.mark = p.mark.set_xmark(*value, *mask),
                Action::SetConnMark { value, mask } => {
                    p.ct.mark = p.ct.mark.set_xmark(*value, *mask);
                }
                Action::SaveMark { nfmask, ctmask } => {
                    p.ct.mark = p.ct.mark.combine(*ctmask, &p.mark, *nfmask);
                }
                Action::RestoreMark { nfmask, ctmask } => {
                    p.mark = p.mark.combine(*nfmask, &p.ct.mark, *ctmask);
                }
                Action::Accept => return Ok(vec![Flow::Accept(p)]),
                Action::Return => return Ok(vec![Flow::Return(p)]),
                Action::Drop => return Err(self.blocker(chain, index, rule, "drops it")),
                Action::Reject => return Err(self.blocker(chain, index, rule, "rejects it")),
                Action::Jump(target) | Action::Goto(target) => {
                    let goto = matches!(action, Action::Goto(_));
                    let mut out = Vec::new();
                    for f in self.chain(target, p, kind, depth + 1)? {
                        out.push(match f {
                            Flow::Return(q) | Flow::Next(q) if goto => Flow::Return(q),
                            Flow::Return(q) | Flow::Next(q) => Flow::Next(q),
                            accept => accept,
                        });
                    }
                    return Ok(out);
                }
                Action::Dnat(r) | Action::Snat(r) if kind == ChainType::Nat => {
                    let dnat = matches!(action, Action::Dnat(_));
                    if dnat {
                        p.nat.dnat = Some((r.clone(), by));
                        p.ct.dnat = true;
                        if let Some(a) = single_v4(r) {
                            p.dst = Addr::Exact(a);
                        }
                    } else {
                        p.nat.snat = Some((r.clone(), by));
                        p.ct.snat = true;
                    }
                    return Ok(vec![Flow::Accept(p)]);
                }
                Action::Masquerade(_) | Action::Redirect(_) if kind == ChainType::Nat => {
                    p.nat.other = Some(by);
                    return Ok(vec![Flow::Accept(p)]);
                }
                Action::Dnat(_)
                | Action::Snat(_)
                | Action::Masquerade(_)
                | Action::Redirect(_)
                | Action::Unknown(_) => {
                    return Err(self.blocker(
                        chain,
                        index,
                        rule,
                        "does something the fast path does not do",
                    ));
                }
            }
        }
        Ok(vec![Flow::Next(p)])
    }
}

/// The one IPv4 address of a NAT range without ports, if that is what it is.
pub fn single_v4(r: &NatRange) -> Option<Ipv4Addr> {
    let a = r.addrs.as_ref()?;
    match (a.start(), a.end()) {
        (std::net::IpAddr::V4(s), std::net::IpAddr::V4(e)) if s == e => Some(*s),
        _ => None,
    }
}

/// Splits a class on a packet-mark (or connection-mark) condition.
fn split_marks(p: Pkt, value: u32, mask: u32, negated: bool, conn: bool) -> Vec<(Pkt, Tri)> {
    let marks = if conn { &p.ct.mark } else { &p.mark };
    match marks.split(value & mask, mask) {
        Err(()) => vec![(p, Tri::Unknown)],
        Ok((yes, no)) => {
            let mut out = Vec::new();
            for (m, holds) in [(yes, true), (no, false)] {
                if let Some(m) = m {
                    let mut q = p.clone();
                    if conn {
                        q.ct.mark = m;
                    } else {
                        q.mark = m;
                    }
                    out.push((q, Tri::from_bool(holds).negate_if(negated)));
                }
            }
            out
        }
    }
}
