//! Test-only: the subset of `iptables-save` syntax the analysis tests write rulesets in (what
//! Neutron writes, plus a few common extras), turned into the `pathstate` model the way the
//! nftables reader does (nf_tables backend, IPv4, iptables' standard chain priorities).

use std::net::IpAddr;

use crate::pathstate::ruleset::{
    Action, Backend, BaseChain, Chain, ChainRef, ChainType, Cond, CtStates, Family, Hook,
    IfaceMatch, NatRange, Policy, Rule, Ruleset,
};

fn chain_ref(table: &str, chain: &str) -> ChainRef {
    ChainRef {
        backend: Backend::Nftables,
        family: Family::Ipv4,
        table: table.into(),
        chain: chain.into(),
    }
}

fn base(table: &str, chain: &str) -> Option<(Hook, i32, ChainType)> {
    let hook = match chain {
        "PREROUTING" => Hook::Prerouting,
        "INPUT" => Hook::Input,
        "FORWARD" => Hook::Forward,
        "OUTPUT" => Hook::Output,
        "POSTROUTING" => Hook::Postrouting,
        _ => return None,
    };
    let (prio, kind) = match (table, hook) {
        ("raw", _) => (-300, ChainType::Filter),
        ("mangle", Hook::Output) => (-150, ChainType::Route),
        ("mangle", _) => (-150, ChainType::Filter),
        ("nat", Hook::Prerouting | Hook::Output) => (-100, ChainType::Nat),
        ("nat", _) => (100, ChainType::Nat),
        ("security", _) => (50, ChainType::Filter),
        _ => (0, ChainType::Filter),
    };
    Some((hook, prio, kind))
}

fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn mark(v: &str) -> (u32, u32) {
    let (value, mask) = v.split_once('/').unwrap_or((v, "0xffffffff"));
    let parse = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    (parse(value), parse(mask))
}

fn iface(s: &str) -> IfaceMatch {
    match s.strip_suffix('+') {
        Some(p) => IfaceMatch {
            name: p.into(),
            prefix: true,
        },
        None => IfaceMatch {
            name: s.into(),
            prefix: false,
        },
    }
}

fn nat(to: Option<&str>, ports: Option<&str>, random_fully: bool) -> NatRange {
    NatRange {
        addrs: to.map(|a| {
            let a: IpAddr = a.parse().unwrap();
            a..=a
        }),
        ports: ports.map(|p| {
            let p: u16 = p.parse().unwrap();
            p..=p
        }),
        random: false,
        random_fully,
        persistent: false,
    }
}

/// Parses an iptables-save dump.
pub fn parse(text: &str) -> Ruleset {
    let mut rs = Ruleset::default();
    let mut table = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(t) = line.strip_prefix('*') {
            table = t.to_string();
        } else if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            let name = parts.next().unwrap();
            let policy = parts.next().unwrap();
            let r = chain_ref(&table, name);
            if let Some((hook, priority, chain_type)) = base(&table, name) {
                rs.base_chains.push(BaseChain {
                    chain: r.clone(),
                    hook,
                    priority,
                    chain_type,
                    policy: if policy == "DROP" {
                        Policy::Drop
                    } else {
                        Policy::Accept
                    },
                    device: None,
                });
            }
            rs.chains.push(Chain {
                chain: r,
                rules: vec![],
            });
        } else if line.starts_with("-A") || line.starts_with("-I") {
            let w = words(line);
            let chain = w[1].clone();
            let rule = rule(&table, &w[2..]);
            let c = rs
                .chains
                .iter_mut()
                .find(|c| c.chain.table == table && c.chain.chain == chain)
                .unwrap_or_else(|| panic!("no chain {chain} in {table}"));
            if line.starts_with("-I") {
                c.rules.insert(0, rule);
            } else {
                c.rules.push(rule);
            }
        }
    }
    rs
}

fn rule(table: &str, w: &[String]) -> Rule {
    let mut conds = Vec::new();
    let mut actions = Vec::new();
    let mut negated = false;
    let mut i = 0;
    let next = |i: &mut usize| {
        *i += 1;
        w[*i].clone()
    };
    while i < w.len() {
        let word = w[i].as_str();
        match word {
            "!" => {
                negated = true;
                i += 1;
                continue;
            }
            "-i" => conds.push(Cond::InIface {
                iface: iface(&next(&mut i)),
                negated,
            }),
            "-o" => conds.push(Cond::OutIface {
                iface: iface(&next(&mut i)),
                negated,
            }),
            "-s" => conds.push(Cond::Src {
                net: next(&mut i).parse().unwrap(),
                negated,
            }),
            "-d" => conds.push(Cond::Dst {
                net: next(&mut i).parse().unwrap(),
                negated,
            }),
            "-p" => {
                let p = match next(&mut i).as_str() {
                    "tcp" => 6,
                    "udp" => 17,
                    "icmp" => 1,
                    "gre" => 47,
                    n => n.parse().unwrap(),
                };
                conds.push(Cond::Proto { proto: p, negated });
            }
            "-m" => {
                let m = next(&mut i);
                if m == "comment" {
                    i += 1;
                    conds.push(Cond::Comment(next(&mut i)));
                } else if m == "statistic" || m == "hashlimit" {
                    conds.push(Cond::Unknown(m));
                }
            }
            "--dport" | "--sport" => {
                let p: u16 = next(&mut i).parse().unwrap();
                conds.push(if word == "--dport" {
                    Cond::DstPort {
                        ports: p..=p,
                        negated,
                    }
                } else {
                    Cond::SrcPort {
                        ports: p..=p,
                        negated,
                    }
                });
            }
            "--mark" => {
                let (value, mask) = mark(&next(&mut i));
                // `-m mark` or `-m connmark`: the word before the module options says.
                let conn = w[..i]
                    .iter()
                    .rev()
                    .find(|x| *x == "mark" || *x == "connmark")
                    == Some(&"connmark".to_string());
                conds.push(if conn {
                    Cond::ConnMark {
                        value,
                        mask,
                        negated,
                    }
                } else {
                    Cond::Mark {
                        value,
                        mask,
                        negated,
                    }
                });
            }
            "--ctstate" => {
                let mut states = 0;
                for s in next(&mut i).split(',') {
                    states |= match s {
                        "NEW" => CtStates::NEW,
                        "ESTABLISHED" => CtStates::ESTABLISHED,
                        "RELATED" => CtStates::RELATED,
                        "INVALID" => CtStates::INVALID,
                        "UNTRACKED" => CtStates::UNTRACKED,
                        "SNAT" => CtStates::SNAT,
                        "DNAT" => CtStates::DNAT,
                        s => panic!("state {s}"),
                    };
                }
                conds.push(Cond::CtState {
                    states: CtStates(states),
                    negated,
                });
            }
            "-j" | "-g" => {
                let target = next(&mut i);
                let opt = |name: &str| w.iter().position(|x| x == name).map(|p| w[p + 1].clone());
                let random_fully = w.iter().any(|x| x == "--random-fully");
                actions.push(match target.as_str() {
                    "ACCEPT" => Action::Accept,
                    "DROP" => Action::Drop,
                    "REJECT" => Action::Reject,
                    "RETURN" => Action::Return,
                    "LOG" => Action::Observe("LOG".into()),
                    "MARK" => {
                        let (value, mask) = mark(&opt("--set-xmark").unwrap());
                        Action::SetMark { value, mask }
                    }
                    "CONNMARK" => {
                        let nf = mark(&opt("--nfmask").unwrap_or("0xffffffff".into())).0;
                        let ct = mark(&opt("--ctmask").unwrap_or("0xffffffff".into())).0;
                        if w.iter().any(|x| x == "--save-mark") {
                            Action::SaveMark {
                                nfmask: nf,
                                ctmask: ct,
                            }
                        } else if w.iter().any(|x| x == "--restore-mark") {
                            Action::RestoreMark {
                                nfmask: nf,
                                ctmask: ct,
                            }
                        } else {
                            let (value, mask) = mark(&opt("--set-xmark").unwrap());
                            Action::SetConnMark { value, mask }
                        }
                    }
                    "DNAT" => {
                        Action::Dnat(nat(opt("--to-destination").as_deref(), None, random_fully))
                    }
                    "SNAT" => Action::Snat(nat(opt("--to-source").as_deref(), None, random_fully)),
                    "REDIRECT" => Action::Redirect(nat(None, opt("--to-ports").as_deref(), false)),
                    "MASQUERADE" => Action::Masquerade(nat(None, None, random_fully)),
                    "CT" | "NOTRACK" | "TCPMSS" => Action::Unknown(target.clone()),
                    user if word == "-g" => Action::Goto(chain_ref(table, user)),
                    user => Action::Jump(chain_ref(table, user)),
                });
                break;
            }
            _ => {}
        }
        negated = false;
        i += 1;
    }
    Rule { conds, actions }
}
