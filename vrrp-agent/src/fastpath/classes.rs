//! The traffic classes the fast path forwards, and what must hold for each so that the kernel
//! would have sent exactly what the program sends:
//!
//! * **A floating IP** `F ↔ f` (external interface `E`, fixed IP routed through `I`):
//!   - the first packet of a connection from outside to `F` (on `E`, from any source that
//!     is not a fixed IP with a floating IP) is translated by the nat rules to exactly `f`,
//!     ports kept, nothing else, and no rule drops it on its way out of `I`;
//!   - the first packet of a connection from `f` (on `I`) to any destination routed out of
//!     `E` is translated to exactly `F`, ports kept, nothing else (destinations a rule singles
//!     out are left to the kernel);
//!   - every later packet, in both directions, of connections opened either way passes the
//!     filter and mangle rules (with the connection marks the first packets left).
//!
//!   Both directions of new connections must agree with the stateless mapping because the
//!   kernel sees a connection the fast path opened only by its later packets, which it then
//!   takes for new ones: a `--random-fully` source NAT, for instance, would give them another
//!   port.
//! * **Plain routing** between two interfaces: the first packet of a connection either way
//!   is not translated at all, and nothing drops any packet of it.
//!
//! Pure; uses the interpreter (`eval`).

use std::{collections::BTreeSet, net::Ipv4Addr};

use super::{
    eval::{EstablishedNat, Interp, single_v4},
    packet::{Ct, Exclude, FAST_PROTOS, Nat, Pkt},
    plan::Blocker,
    value::{Addr, Marks},
};
use crate::pathstate::ruleset::{NatRange, Ruleset};

/// How many times the connection marks are propagated through later packets before the
/// analysis gives up on reaching a fixed point.
const MARK_ROUNDS: usize = 8;

/// A floating IP to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fip {
    pub floating: Ipv4Addr,
    pub fixed: Ipv4Addr,
    pub ext: String,
    pub int: String,
}

/// The addresses a class leaves out because the program sends them elsewhere first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// Every fixed IP that has a floating IP (inbound traffic from them is not the class).
    pub fixed_ips: BTreeSet<Ipv4Addr>,
    /// Every virtual address and floating IP of the router (traffic to them is decided
    /// before any fast path).
    pub local: BTreeSet<Ipv4Addr>,
}

fn pkt(iif: &str, src: Addr, dst: Addr, dst_exclude: Exclude, ct: Ct) -> Pkt {
    Pkt {
        iif: iif.to_string(),
        oif: None,
        src,
        dst,
        dst_exclude,
        protos: FAST_PROTOS.into_iter().collect(),
        mark: Marks::zero(),
        ct,
        tracked: false,
        nat: Nat::default(),
    }
}

fn new_ct() -> Ct {
    Ct {
        new: true,
        reply: false,
        related: false,
        dnat: false,
        snat: false,
        mark: Marks::zero(),
    }
}

/// A translation to exactly one address, ports kept.
fn one_to_one(r: &NatRange, to: Ipv4Addr) -> bool {
    single_v4(r) == Some(to) && r.ports.is_none() && !r.random && !r.random_fully && !r.persistent
}

fn describe(r: &NatRange) -> String {
    let mut why = Vec::new();
    if r.random_fully {
        why.push(
            "--random-fully picks a new source port for every connection; the stateless fast \
             path keeps ports",
        );
    }
    if r.random {
        why.push("--random picks ports at random; the stateless fast path keeps ports");
    }
    if r.persistent {
        why.push("--persistent ties the mapping to connection history");
    }
    if r.ports.is_some() {
        why.push("it maps ports");
    }
    if single_v4(r).is_none() {
        why.push("it maps to a range of addresses");
    }
    why.join("; ")
}

/// Checks what the first packets of a class got from the nat rules.
fn expect_nat(
    class: &str,
    outs: &[Pkt],
    dnat: Option<Ipv4Addr>,
    snat: Option<Ipv4Addr>,
) -> Result<(), Blocker> {
    for o in outs {
        if let Some(by) = &o.nat.other {
            return Err(Blocker::general(
                class,
                &format!("{by} translates it in a way the fast path does not"),
            ));
        }
        for (got, want, what) in [
            (&o.nat.dnat, dnat, "destination"),
            (&o.nat.snat, snat, "source"),
        ] {
            match (got, want) {
                (None, None) => {}
                (Some((r, _)), Some(to)) if one_to_one(r, to) => {}
                (Some((r, by)), Some(to)) if single_v4(r) == Some(to) => {
                    return Err(Blocker::general(class, &format!("{by}: {}", describe(r))));
                }
                (Some((_, by)), _) => {
                    return Err(Blocker::general(
                        class,
                        &format!("{by} translates the {what} too"),
                    ));
                }
                (None, Some(to)) => {
                    return Err(Blocker::general(
                        class,
                        &format!(
                            "not every packet gets the {what} NAT to {to} (a rule before it \
                             may accept or divert some)"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn union_marks(outs: &[Pkt]) -> Marks {
    outs.iter()
        .map(|p| p.ct.mark.clone())
        .reduce(|a, b| a.union(&b))
        .unwrap_or_else(Marks::zero)
}

/// Proves a floating IP eligible; returns the destinations its outbound traffic must leave to
/// the kernel.
pub fn floating_ip(rs: &Ruleset, fip: &Fip, known: &Known) -> Result<BTreeSet<Ipv4Addr>, Blocker> {
    let Fip {
        floating,
        fixed,
        ext,
        int,
    } = fip;
    let not_fixed = Addr::AnyExcept(known.fixed_ips.clone());
    let not_local = Addr::AnyExcept(known.local.clone());

    let class_in = format!("floating IP {floating} inbound (to {fixed} through {int})");
    let mut interp = Interp::new(rs, &class_in);
    let first_in = pkt(
        ext,
        not_fixed.clone(),
        Addr::Exact(*floating),
        Exclude::Never,
        new_ct(),
    );
    let outs = interp.forward(first_in, int, None)?;
    expect_nat(&class_in, &outs, Some(*fixed), None)?;
    let mut marks_in = union_marks(&outs);

    let class_out = format!("floating IP {floating} outbound (from {fixed} on {int})");
    let mut interp_out = Interp::new(rs, &class_out);
    let first_out = pkt(
        int,
        Addr::Exact(*fixed),
        not_local.clone(),
        Exclude::Hosts,
        new_ct(),
    );
    let outs = interp_out.forward(first_out, ext, None)?;
    expect_nat(&class_out, &outs, None, Some(*floating))?;
    let mut marks_out = union_marks(&outs);
    let mut kernel = interp_out.excluded_dsts.clone();

    // Later packets of connections opened either way, and ICMP errors about them (the fast
    // path translates those too), until the connection marks settle.
    for _ in 0..MARK_ROUNDS {
        let before = (marks_in.clone(), marks_out.clone());
        for (opened_inbound, related) in
            [(true, false), (false, false), (true, true), (false, true)]
        {
            let marks = if opened_inbound {
                &marks_in
            } else {
                &marks_out
            };
            let ct = |reply: bool| Ct {
                new: false,
                reply,
                related,
                dnat: opened_inbound,
                snat: !opened_inbound,
                mark: marks.clone(),
            };
            let class = format!(
                "floating IP {floating}, {} connections opened {}",
                if related {
                    "ICMP errors about"
                } else {
                    "later packets of"
                },
                if opened_inbound {
                    "from outside"
                } else {
                    "from inside"
                }
            );
            let mut interp = Interp::new(rs, &class);
            let icmp_only = |mut p: Pkt| {
                if related {
                    p.protos = [1].into_iter().collect();
                }
                p
            };
            let inbound = icmp_only(pkt(
                ext,
                not_fixed.clone(),
                Addr::Exact(*floating),
                Exclude::Never,
                ct(!opened_inbound),
            ));
            let mut outs = interp.forward(
                inbound,
                int,
                Some(EstablishedNat {
                    dst: Some(*fixed),
                    src: None,
                }),
            )?;
            let outbound = icmp_only(pkt(
                int,
                Addr::Exact(*fixed),
                not_local.clone(),
                Exclude::Hosts,
                ct(opened_inbound),
            ));
            outs.extend(interp.forward(
                outbound,
                ext,
                Some(EstablishedNat {
                    dst: None,
                    src: Some(*floating),
                }),
            )?);
            kernel.extend(interp.excluded_dsts.iter().copied());
            let m = union_marks(&outs);
            if opened_inbound {
                marks_in = marks_in.union(&m);
            } else {
                marks_out = marks_out.union(&m);
            }
        }
        if (marks_in.clone(), marks_out.clone()) == before {
            return Ok(kernel);
        }
    }
    Err(Blocker::general(
        &format!("floating IP {floating}"),
        "the connection marks its rules keep do not settle",
    ))
}

/// Proves plain routing between `a` and `b` eligible both ways; returns the destinations it
/// must leave to the kernel.
pub fn routing(
    rs: &Ruleset,
    a: &str,
    b: &str,
    known: &Known,
) -> Result<BTreeSet<Ipv4Addr>, Blocker> {
    let mut kernel = BTreeSet::new();
    let mut marks = Marks::zero();
    for (iif, oif) in [(a, b), (b, a)] {
        let class = format!("routed traffic from {iif} to {oif}");
        let mut interp = Interp::new(rs, &class);
        let first = pkt(
            iif,
            Addr::AnyExcept(BTreeSet::new()),
            Addr::AnyExcept(known.local.clone()),
            Exclude::Hosts,
            new_ct(),
        );
        let outs = interp.forward(first, oif, None)?;
        expect_nat(&class, &outs, None, None)?;
        marks = marks.union(&union_marks(&outs));
        kernel.extend(interp.excluded_dsts.iter().copied());
    }
    for _ in 0..MARK_ROUNDS {
        let before = marks.clone();
        for (iif, oif) in [(a, b), (b, a)] {
            for reply in [false, true] {
                let class = format!("routed traffic from {iif} to {oif}, later packets");
                let mut interp = Interp::new(rs, &class);
                let later = pkt(
                    iif,
                    Addr::AnyExcept(BTreeSet::new()),
                    Addr::AnyExcept(known.local.clone()),
                    Exclude::Hosts,
                    Ct {
                        new: false,
                        reply,
                        related: false,
                        dnat: false,
                        snat: false,
                        mark: marks.clone(),
                    },
                );
                let outs = interp.forward(later, oif, None)?;
                marks = marks.union(&union_marks(&outs));
                kernel.extend(interp.excluded_dsts.iter().copied());
            }
        }
        if marks == before {
            return Ok(kernel);
        }
    }
    Err(Blocker::general(
        &format!("routed traffic between {a} and {b}"),
        "the connection marks its rules keep do not settle",
    ))
}
