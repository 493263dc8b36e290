//! The packet-path rules of one network namespace as the fast-path analysis sees them: base
//! chains attached to netfilter hooks (in priority order per hook), user chains, and rules made
//! of conditions and actions. Both readers produce it, nftables over netlink (which also holds
//! every iptables-nft rule) and iptables-legacy over `getsockopt`; `crate::fastpath` consumes
//! it. Pure data with an iptables-save-like rendering for messages; imports nothing of ours.
//!
//! What a reader cannot decode is kept as [`Cond::Unknown`] / [`Action::Unknown`] with a
//! description, never dropped: the analysis must treat it as "could match anything" and "could
//! do anything", so an unknown rule makes traffic it might see ineligible instead of invisible.

use std::{fmt, net::IpAddr, ops::RangeInclusive};

use ipnet::IpNet;

/// Where a table lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// nf_tables (native nft rules and iptables-nft / ip6tables-nft rules).
    Nftables,
    /// The legacy x_tables (`iptables-legacy`, `ip6tables-legacy`).
    Legacy,
}

/// The address family of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4,
    Ipv6,
    /// nftables `inet`: both IPv4 and IPv6.
    Inet,
    Arp,
    Bridge,
    Netdev,
}

impl Family {
    /// Whether this table sees IPv4 packets at the IP hooks.
    pub fn sees_ipv4(self) -> bool {
        matches!(self, Family::Ipv4 | Family::Inet)
    }

    /// Whether this table sees IPv6 packets at the IP hooks.
    pub fn sees_ipv6(self) -> bool {
        matches!(self, Family::Ipv6 | Family::Inet)
    }
}

/// A netfilter hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
    /// netdev family (and inet since 5.10): before the IP stack, per device.
    Ingress,
    /// netdev family: after the IP stack, per device.
    Egress,
}

/// What a base chain may do (nftables chain types; iptables tables map onto them: `nat` is
/// [`ChainType::Nat`], `mangle` OUTPUT is [`ChainType::Route`], the rest is
/// [`ChainType::Filter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChainType {
    Filter,
    /// Consulted only for the first packet of a connection (conntrack NEW).
    Nat,
    /// May reroute locally generated packets.
    Route,
}

/// Identifies a chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainRef {
    pub backend: Backend,
    pub family: Family,
    pub table: String,
    pub chain: String,
}

impl fmt::Display for ChainRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.backend {
            Backend::Nftables => "nftables",
            Backend::Legacy => "iptables-legacy",
        };
        let family = match self.family {
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ip6",
            Family::Inet => "inet",
            Family::Arp => "arp",
            Family::Bridge => "bridge",
            Family::Netdev => "netdev",
        };
        write!(
            f,
            "{backend} {family} table {}, chain {}",
            self.table, self.chain
        )
    }
}

/// A chain attached to a hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseChain {
    pub chain: ChainRef,
    pub hook: Hook,
    /// Lower runs first (iptables: raw -300, mangle -150, nat PREROUTING -100, filter 0,
    /// security 50, nat POSTROUTING 100; conntrack itself at -200).
    pub priority: i32,
    pub chain_type: ChainType,
    /// What happens to a packet that reaches the end of the chain.
    pub policy: Policy,
    /// netdev family: the device the chain is bound to.
    pub device: Option<String>,
}

/// A base chain's default verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Accept,
    Drop,
}

/// A chain and its rules in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub chain: ChainRef,
    pub rules: Vec<Rule>,
}

/// One rule: every condition must hold for its actions to run, in order (a verdict ends the
/// rule and, unless it is a jump, the chain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub conds: Vec<Cond>,
    pub actions: Vec<Action>,
}

/// Interface name condition: exact, or a prefix (iptables `qr-+`, nft `"qr-*"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IfaceMatch {
    pub name: String,
    pub prefix: bool,
}

impl IfaceMatch {
    pub fn matches(&self, ifname: &str) -> bool {
        if self.prefix {
            ifname.starts_with(&self.name)
        } else {
            ifname == self.name
        }
    }
}

/// Connection tracking states and NAT status bits as iptables' `conntrack` match knows them
/// (`--ctstate NEW,ESTABLISHED,RELATED,INVALID,UNTRACKED,SNAT,DNAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CtStates(pub u16);

impl CtStates {
    pub const INVALID: u16 = 1;
    pub const ESTABLISHED: u16 = 1 << 1;
    pub const RELATED: u16 = 1 << 2;
    pub const NEW: u16 = 1 << 3;
    pub const UNTRACKED: u16 = 1 << 4;
    pub const SNAT: u16 = 1 << 5;
    pub const DNAT: u16 = 1 << 6;

    pub fn contains(self, bits: u16) -> bool {
        self.0 & bits == bits
    }
}

/// A condition on a packet (or its connection). `negated` inverts it (`!`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    InIface {
        iface: IfaceMatch,
        negated: bool,
    },
    OutIface {
        iface: IfaceMatch,
        negated: bool,
    },
    Src {
        net: IpNet,
        negated: bool,
    },
    Dst {
        net: IpNet,
        negated: bool,
    },
    /// IP protocol / IPv6 next header (iptables `-p`, nft `meta l4proto`).
    Proto {
        proto: u8,
        negated: bool,
    },
    SrcPort {
        ports: RangeInclusive<u16>,
        negated: bool,
    },
    DstPort {
        ports: RangeInclusive<u16>,
        negated: bool,
    },
    /// `(mark & mask) == value`.
    Mark {
        value: u32,
        mask: u32,
        negated: bool,
    },
    /// `(ctmark & mask) == value`. A packet without a connection (INVALID, UNTRACKED) never
    /// matches, negated or not: iptables' `connmark` match and nft's `ct mark` both fail then.
    ConnMark {
        value: u32,
        mask: u32,
        negated: bool,
    },
    /// Any of the states holds (iptables `--ctstate` / `-m state --state`).
    CtState {
        states: CtStates,
        negated: bool,
    },
    /// Never restricts (`-m comment`, counters); kept so the rule prints as it reads.
    Comment(String),
    /// Not decoded: may or may not hold for any packet.
    Unknown(String),
}

/// A NAT target's address and port range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatRange {
    /// `None`: keep the address (port-only change, e.g. REDIRECT or `--to-ports`).
    pub addrs: Option<RangeInclusive<IpAddr>>,
    pub ports: Option<RangeInclusive<u16>>,
    /// `--random` (`NF_NAT_RANGE_PROTO_RANDOM`).
    pub random: bool,
    /// `--random-fully` (`NF_NAT_RANGE_PROTO_RANDOM_FULLY`): a new port for every connection.
    pub random_fully: bool,
    /// `--persistent`.
    pub persistent: bool,
}

/// What a rule does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Accept,
    Drop,
    /// iptables REJECT / nft reject: drop and answer with an ICMP error or a TCP reset.
    Reject,
    Return,
    Jump(ChainRef),
    Goto(ChainRef),
    /// `mark = (mark & !mask) ^ value` (iptables `MARK --set-xmark value/mask`; `--set-mark
    /// v/m` is `value = v, mask = m | v`).
    SetMark {
        value: u32,
        mask: u32,
    },
    /// `ctmark = (ctmark & !ctmask) ^ (mark & nfmask)` (`CONNMARK --save-mark`).
    SaveMark {
        nfmask: u32,
        ctmask: u32,
    },
    /// `mark = (mark & !nfmask) ^ (ctmark & ctmask)` (`CONNMARK --restore-mark`).
    RestoreMark {
        nfmask: u32,
        ctmask: u32,
    },
    /// `ctmark = (ctmark & !mask) ^ value` (`CONNMARK --set-xmark`).
    SetConnMark {
        value: u32,
        mask: u32,
    },
    Dnat(NatRange),
    Snat(NatRange),
    Masquerade(NatRange),
    /// To the local machine (`REDIRECT --to-ports`).
    Redirect(NatRange),
    /// Only counts or logs: the packet goes on unchanged (`counter`, `LOG`, `NFLOG`).
    Observe(String),
    /// Not decoded (or a target whose effect the analysis does not model: CT, NOTRACK,
    /// TPROXY, QUEUE, TTL, DSCP, ...).
    Unknown(String),
}

impl Action {
    /// Whether the action ends the rule's processing of the chain (a verdict).
    pub fn is_verdict(&self) -> bool {
        matches!(
            self,
            Action::Accept
                | Action::Drop
                | Action::Reject
                | Action::Return
                | Action::Jump(_)
                | Action::Goto(_)
                | Action::Dnat(_)
                | Action::Snat(_)
                | Action::Masquerade(_)
                | Action::Redirect(_)
        )
    }
}

/// Everything one network namespace has on its packet path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub base_chains: Vec<BaseChain>,
    pub chains: Vec<Chain>,
}

impl Ruleset {
    /// The chain `r`, if the ruleset has it.
    pub fn chain(&self, r: &ChainRef) -> Option<&Chain> {
        self.chains.iter().find(|c| &c.chain == r)
    }

    /// The base chains on `hook` that see packets of IPv4 (`ipv6 == false`) or IPv6, in the
    /// order the kernel runs them (priority, then nftables before legacy at equal priority:
    /// nf_tables registers its hooks first when both are present, which is the usual case).
    pub fn hook_chains(&self, hook: Hook, ipv6: bool) -> Vec<&BaseChain> {
        let mut v: Vec<&BaseChain> = self
            .base_chains
            .iter()
            .filter(|b| b.hook == hook)
            .filter(|b| {
                if ipv6 {
                    b.chain.family.sees_ipv6()
                } else {
                    b.chain.family.sees_ipv4()
                }
            })
            .collect();
        v.sort_by_key(|b| (b.priority, b.chain.backend));
        v
    }

    /// Merges another ruleset in (the other backend's tables).
    pub fn extend(&mut self, other: Ruleset) {
        self.base_chains.extend(other.base_chains);
        self.chains.extend(other.chains);
    }
}

fn neg(negated: bool) -> &'static str {
    if negated { "! " } else { "" }
}

impl fmt::Display for IfaceMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.name, if self.prefix { "+" } else { "" })
    }
}

impl fmt::Display for CtStates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (CtStates::INVALID, "INVALID"),
            (CtStates::ESTABLISHED, "ESTABLISHED"),
            (CtStates::RELATED, "RELATED"),
            (CtStates::NEW, "NEW"),
            (CtStates::UNTRACKED, "UNTRACKED"),
            (CtStates::SNAT, "SNAT"),
            (CtStates::DNAT, "DNAT"),
        ];
        let list: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|(_, n)| *n)
            .collect();
        f.write_str(&list.join(","))
    }
}

fn ports(r: &RangeInclusive<u16>) -> String {
    if r.start() == r.end() {
        r.start().to_string()
    } else {
        format!("{}:{}", r.start(), r.end())
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cond::InIface { iface, negated } => write!(f, "{}-i {iface}", neg(*negated)),
            Cond::OutIface { iface, negated } => write!(f, "{}-o {iface}", neg(*negated)),
            Cond::Src { net, negated } => write!(f, "{}-s {net}", neg(*negated)),
            Cond::Dst { net, negated } => write!(f, "{}-d {net}", neg(*negated)),
            Cond::Proto { proto, negated } => {
                let name = match proto {
                    1 => "icmp".to_string(),
                    6 => "tcp".to_string(),
                    17 => "udp".to_string(),
                    58 => "ipv6-icmp".to_string(),
                    p => p.to_string(),
                };
                write!(f, "{}-p {name}", neg(*negated))
            }
            Cond::SrcPort { ports: p, negated } => {
                write!(f, "{}--sport {}", neg(*negated), ports(p))
            }
            Cond::DstPort { ports: p, negated } => {
                write!(f, "{}--dport {}", neg(*negated), ports(p))
            }
            Cond::Mark {
                value,
                mask,
                negated,
            } => write!(f, "-m mark {}--mark {value:#x}/{mask:#x}", neg(*negated)),
            Cond::ConnMark {
                value,
                mask,
                negated,
            } => write!(
                f,
                "-m connmark {}--mark {value:#x}/{mask:#x}",
                neg(*negated)
            ),
            Cond::CtState { states, negated } => {
                write!(f, "-m conntrack {}--ctstate {states}", neg(*negated))
            }
            Cond::Comment(c) => write!(f, "-m comment --comment \"{c}\""),
            Cond::Unknown(what) => write!(f, "<{what}>"),
        }
    }
}

impl fmt::Display for NatRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        if let Some(a) = &self.addrs {
            if a.start() == a.end() {
                s.push_str(&a.start().to_string());
            } else {
                s.push_str(&format!("{}-{}", a.start(), a.end()));
            }
        }
        if let Some(p) = &self.ports {
            s.push(':');
            s.push_str(&ports(p).replace(':', "-"));
        }
        f.write_str(&s)?;
        if self.random {
            f.write_str(" --random")?;
        }
        if self.random_fully {
            f.write_str(" --random-fully")?;
        }
        if self.persistent {
            f.write_str(" --persistent")?;
        }
        Ok(())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Accept => f.write_str("-j ACCEPT"),
            Action::Drop => f.write_str("-j DROP"),
            Action::Reject => f.write_str("-j REJECT"),
            Action::Return => f.write_str("-j RETURN"),
            Action::Jump(c) => write!(f, "-j {}", c.chain),
            Action::Goto(c) => write!(f, "-g {}", c.chain),
            Action::SetMark { value, mask } => {
                write!(f, "-j MARK --set-xmark {value:#x}/{mask:#x}")
            }
            Action::SaveMark { nfmask, ctmask } => write!(
                f,
                "-j CONNMARK --save-mark --nfmask {nfmask:#x} --ctmask {ctmask:#x}"
            ),
            Action::RestoreMark { nfmask, ctmask } => write!(
                f,
                "-j CONNMARK --restore-mark --nfmask {nfmask:#x} --ctmask {ctmask:#x}"
            ),
            Action::SetConnMark { value, mask } => {
                write!(f, "-j CONNMARK --set-xmark {value:#x}/{mask:#x}")
            }
            Action::Dnat(r) => write!(f, "-j DNAT --to-destination {r}"),
            Action::Snat(r) => write!(f, "-j SNAT --to-source {r}"),
            Action::Masquerade(r) => write!(
                f,
                "-j MASQUERADE{}",
                if r.ports.is_some() || r.random || r.random_fully {
                    format!(" {r}")
                } else {
                    String::new()
                }
            ),
            Action::Redirect(r) => match &r.ports {
                Some(p) => write!(f, "-j REDIRECT --to-ports {}", ports(p).replace(':', "-")),
                None => f.write_str("-j REDIRECT"),
            },
            Action::Observe(what) => write!(f, "-j {what}"),
            Action::Unknown(what) => write!(f, "-j <{what}>"),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .conds
            .iter()
            .map(ToString::to_string)
            .chain(self.actions.iter().map(ToString::to_string))
            .collect();
        if parts.is_empty() {
            // `iptables -A chain` with nothing else: it matches every packet and only counts.
            return f.write_str("(no match, no target: counts every packet)");
        }
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(table: &str, name: &str) -> ChainRef {
        ChainRef {
            backend: Backend::Nftables,
            family: Family::Ipv4,
            table: table.into(),
            chain: name.into(),
        }
    }

    #[test]
    fn a_rule_prints_like_iptables_save() {
        let r = Rule {
            conds: vec![
                Cond::Dst {
                    net: "169.254.169.254/32".parse().unwrap(),
                    negated: false,
                },
                Cond::InIface {
                    iface: IfaceMatch {
                        name: "qr-".into(),
                        prefix: true,
                    },
                    negated: false,
                },
                Cond::Proto {
                    proto: 6,
                    negated: false,
                },
                Cond::DstPort {
                    ports: 80..=80,
                    negated: false,
                },
            ],
            actions: vec![Action::Redirect(NatRange {
                addrs: None,
                ports: Some(9697..=9697),
                random: false,
                random_fully: false,
                persistent: false,
            })],
        };
        assert_eq!(
            r.to_string(),
            "-d 169.254.169.254/32 -i qr-+ -p tcp --dport 80 -j REDIRECT --to-ports 9697"
        );
        let s = Rule {
            conds: vec![Cond::Src {
                net: "10.0.10.5/32".parse().unwrap(),
                negated: false,
            }],
            actions: vec![Action::Snat(NatRange {
                addrs: Some("203.0.113.20".parse().unwrap()..="203.0.113.20".parse().unwrap()),
                ports: None,
                random: false,
                random_fully: true,
                persistent: false,
            })],
        };
        assert_eq!(
            s.to_string(),
            "-s 10.0.10.5/32 -j SNAT --to-source 203.0.113.20 --random-fully"
        );
    }

    #[test]
    fn hook_chains_run_in_priority_order_and_by_family() {
        let base = |table: &str, family, prio| BaseChain {
            chain: ChainRef {
                family,
                ..chain(table, "X")
            },
            hook: Hook::Prerouting,
            priority: prio,
            chain_type: ChainType::Filter,
            policy: Policy::Accept,
            device: None,
        };
        let rs = Ruleset {
            base_chains: vec![
                base("nat", Family::Ipv4, -100),
                base("raw", Family::Ipv4, -300),
                base("v6", Family::Ipv6, -150),
                base("both", Family::Inet, 0),
            ],
            chains: vec![],
        };
        let v4: Vec<&str> = rs
            .hook_chains(Hook::Prerouting, false)
            .iter()
            .map(|b| b.chain.table.as_str())
            .collect();
        assert_eq!(v4, ["raw", "nat", "both"]);
        let v6: Vec<&str> = rs
            .hook_chains(Hook::Prerouting, true)
            .iter()
            .map(|b| b.chain.table.as_str())
            .collect();
        assert_eq!(v6, ["v6", "both"]);
    }

    #[test]
    fn prefix_interfaces_match_by_prefix() {
        let m = IfaceMatch {
            name: "qr-".into(),
            prefix: true,
        };
        assert!(m.matches("qr-0a1b2c3d-4e"));
        assert!(!m.matches("qg-0a1b2c3d-4e"));
        let e = IfaceMatch {
            name: "qg-1".into(),
            prefix: false,
        };
        assert!(e.matches("qg-1"));
        assert!(!e.matches("qg-12"));
    }
}
