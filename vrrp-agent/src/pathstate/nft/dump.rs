//! The nf_tables ruleset of the calling thread's namespace as the model: tables, chains (base
//! chains with hook, priority, type, policy and device) and rules of every family, dumped
//! between two reads of the generation id so that the three dumps belong to one ruleset.
//! Tables and chains are decoded with `netlink-packet-netfilter`; a rule's attributes are
//! walked here so that one expression the crate cannot parse spoils only itself.
//! Imports `super::{socket, expr}` and `crate::pathstate::{ruleset, error}`.

use std::collections::HashMap;

use netlink_packet_core::{NLA_TYPE_MASK, NlaBuffer, NlasIterator, Parseable};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ExpressionAttribute, Hook as NlHook, ListAttribute, TableAttribute, TableFlags,
};

use super::{
    expr::{Expr, decode_rule},
    socket::{
        Message, NFT_MSG_GETCHAIN, NFT_MSG_GETRULE, NFT_MSG_GETTABLE, NFT_MSG_NEWCHAIN,
        NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE, NfSocket,
    },
};
use crate::pathstate::{
    error::PathStateError,
    ruleset::{
        Action, Backend, BaseChain, Chain, ChainRef, ChainType, Family, Hook, Policy, Rule, Ruleset,
    },
};

/// How many times the dump is tried while the ruleset keeps changing.
const ATTEMPTS: u32 = 8;

/// Reads every nf_tables table of the calling thread's network namespace.
pub fn read_current() -> Result<Ruleset, PathStateError> {
    let mut sock = NfSocket::open()?;
    for _ in 0..ATTEMPTS {
        let before = sock.generation()?;
        let tables = sock.dump(NFT_MSG_GETTABLE)?;
        let chains = sock.dump(NFT_MSG_GETCHAIN)?;
        let rules = sock.dump(NFT_MSG_GETRULE)?;
        let after = sock.generation()?;
        if before == after && !tables.interrupted && !chains.interrupted && !rules.interrupted {
            return build(&tables.messages, &chains.messages, &rules.messages);
        }
    }
    Err(PathStateError::NftUnstable { attempts: ATTEMPTS })
}

/// The family of an nfgenmsg.
pub(crate) fn family(nfproto: u8) -> Option<Family> {
    match nfproto {
        1 => Some(Family::Inet),
        2 => Some(Family::Ipv4),
        3 => Some(Family::Arp),
        5 => Some(Family::Netdev),
        7 => Some(Family::Bridge),
        10 => Some(Family::Ipv6),
        _ => None,
    }
}

fn decode_err(what: &'static str, detail: impl ToString) -> PathStateError {
    PathStateError::NftDecode {
        what,
        detail: detail.to_string(),
    }
}

fn family_of(m: &Message, what: &'static str) -> Result<Family, PathStateError> {
    family(m.family).ok_or_else(|| decode_err(what, format!("unknown family {}", m.family)))
}

fn hook(family: Family, n: u32) -> Option<Hook> {
    match family {
        Family::Netdev => match n {
            0 => Some(Hook::Ingress),
            1 => Some(Hook::Egress),
            _ => None,
        },
        Family::Arp => match n {
            0 => Some(Hook::Input),
            1 => Some(Hook::Output),
            2 => Some(Hook::Forward),
            _ => None,
        },
        _ => match n {
            0 => Some(Hook::Prerouting),
            1 => Some(Hook::Input),
            2 => Some(Hook::Forward),
            3 => Some(Hook::Output),
            4 => Some(Hook::Postrouting),
            5 => Some(Hook::Ingress),
            _ => None,
        },
    }
}

#[derive(Default)]
struct ChainInfo {
    table: Option<String>,
    name: Option<String>,
    hooknum: Option<u32>,
    priority: Option<i32>,
    devices: Vec<String>,
    policy: Option<u32>,
    chain_type: Option<String>,
}

fn chain_info(attrs: &[u8]) -> Result<ChainInfo, PathStateError> {
    let mut c = ChainInfo::default();
    for nla in NlasIterator::new(attrs) {
        let nla = nla.map_err(|e| decode_err("a chain", e))?;
        match ChainAttribute::parse(&nla).map_err(|e| decode_err("a chain", e))? {
            ChainAttribute::Table(t) => c.table = Some(t),
            ChainAttribute::Name(n) => c.name = Some(n),
            ChainAttribute::Policy(p) => c.policy = Some(p),
            ChainAttribute::Type(t) => c.chain_type = Some(t),
            ChainAttribute::Hook(hooks) => {
                for h in hooks {
                    match h {
                        NlHook::Number(n) => c.hooknum = Some(u32::from(n)),
                        // The kernel's s32 priority travels as a u32.
                        NlHook::Priority(p) => c.priority = Some(p as i32),
                        NlHook::NetDeviceName(d) => c.devices.push(d),
                        NlHook::NetDevices(devs) => {
                            for d in devs {
                                use netlink_packet_core::Nla;
                                let mut v = vec![0; d.value_len()];
                                d.emit_value(&mut v);
                                let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
                                c.devices
                                    .push(String::from_utf8_lossy(&v[..end]).into_owned());
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(c)
}

/// The value of a checked attribute, borrowed from the buffer it was found in.
fn value_of(nla: NlaBuffer<&[u8]>) -> &[u8] {
    let len = usize::from(nla.length());
    let b = nla.into_inner();
    b.get(4..len).unwrap_or_default()
}

/// Checks what `netlink-packet-netfilter` would slice without checking: the data nested in
/// `cmp` (NFTA_CMP_DATA), `bitwise` (MASK, XOR, DATA) and `immediate` (NFTA_IMMEDIATE_DATA)
/// is read through an unchecked `NlaBuffer`, which panics on a short or overlong attribute.
fn well_formed(elem: &NlaBuffer<&[u8]>) -> Result<(), String> {
    let mut name = None;
    let mut data = None;
    for nla in NlasIterator::new(elem.value()) {
        let nla = nla.map_err(|e| e.to_string())?;
        match nla.kind() & NLA_TYPE_MASK {
            1 => name = Some(value_of(nla)),
            2 => data = Some(value_of(nla)),
            _ => {}
        }
    }
    let nested: &[u16] = match name {
        Some(b"cmp\0") => &[3],
        Some(b"bitwise\0") => &[4, 5, 7],
        Some(b"immediate\0") => &[2],
        _ => &[],
    };
    for nla in NlasIterator::new(data.unwrap_or_default()) {
        let nla = nla.map_err(|e| e.to_string())?;
        if nested.contains(&(nla.kind() & NLA_TYPE_MASK)) {
            NlaBuffer::new_checked(nla.value()).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The expressions of NFTA_RULE_EXPRESSIONS, one [`Expr`] per list element.
fn expressions(list: &[u8]) -> Vec<Expr> {
    let mut out = Vec::new();
    for elem in NlasIterator::new(list) {
        let elem = match elem {
            Ok(e) => e,
            Err(e) => {
                out.push(Expr::Broken(e.to_string()));
                break;
            }
        };
        if let Err(e) = well_formed(&elem) {
            out.push(Expr::Broken(e));
            continue;
        }
        match ListAttribute::<ExpressionAttribute>::parse(&elem) {
            Ok(ListAttribute::Element(attrs)) => {
                let mut name = None;
                let mut data = None;
                for a in attrs {
                    match a {
                        ExpressionAttribute::Name(n) => name = Some(n),
                        ExpressionAttribute::Data(d) => data = Some(d),
                        _ => {}
                    }
                }
                match name {
                    Some(name) => out.push(Expr::Decoded { name, data }),
                    None => out.push(Expr::Broken("expression without a name".into())),
                }
            }
            Ok(_) => out.push(Expr::Broken("not a list element".into())),
            Err(e) => out.push(Expr::Broken(e.to_string())),
        }
    }
    out
}

/// One rule message: its table, chain and the rule (attributes it cannot walk make the rule
/// unknown, never missing).
pub(crate) fn rule_of(
    family: Family,
    attrs: &[u8],
) -> Result<(String, String, Rule), PathStateError> {
    let (mut table, mut chain, mut exprs, mut udata, mut broken) = (None, None, None, None, None);
    for nla in NlasIterator::new(attrs) {
        let nla: NlaBuffer<&[u8]> = match nla {
            Ok(n) => n,
            Err(e) => {
                broken = Some(e.to_string());
                break;
            }
        };
        let value = nla.value();
        let text = || {
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            String::from_utf8_lossy(&value[..end]).into_owned()
        };
        match nla.kind() & NLA_TYPE_MASK {
            1 => table = Some(text()),
            2 => chain = Some(text()),
            4 => exprs = Some(expressions(value)),
            7 => udata = Some(value.to_vec()),
            _ => {}
        }
    }
    let (Some(table), Some(chain)) = (table, chain) else {
        return Err(decode_err(
            "a rule",
            broken.unwrap_or_else(|| "no table or chain name".into()),
        ));
    };
    let mut exprs = exprs.unwrap_or_default();
    if let Some(why) = broken {
        exprs.push(Expr::Broken(why));
    }
    let mut rule = decode_rule(family, &table, &exprs, udata.as_deref());
    if rule.conds.is_empty()
        && rule.actions.is_empty()
        && exprs.iter().any(|e| matches!(e, Expr::Broken(_)))
    {
        rule.actions
            .push(Action::Unknown("undecodable rule".into()));
    }
    Ok((table, chain, rule))
}

/// The ruleset of dumped tables, chains and rules (in the kernel's order).
pub(crate) fn build(
    tables: &[Message],
    chains: &[Message],
    rules: &[Message],
) -> Result<Ruleset, PathStateError> {
    let mut dormant: Vec<(Family, String)> = Vec::new();
    for m in tables.iter().filter(|m| m.msg_type == NFT_MSG_NEWTABLE) {
        let fam = family_of(m, "a table")?;
        let mut name = None;
        let mut flags = TableFlags::empty();
        for nla in NlasIterator::new(m.attrs.as_slice()) {
            let nla = nla.map_err(|e| decode_err("a table", e))?;
            match TableAttribute::parse(&nla).map_err(|e| decode_err("a table", e))? {
                TableAttribute::Name(n) => name = Some(n),
                TableAttribute::Flags(f) => flags = f,
                _ => {}
            }
        }
        // A dormant table keeps its chains but none is attached to a hook.
        if let Some(n) = name
            && flags.contains(TableFlags::Dormant)
        {
            dormant.push((fam, n));
        }
    }

    let mut rs = Ruleset::default();
    let mut index: HashMap<ChainRef, usize> = HashMap::new();
    for m in chains.iter().filter(|m| m.msg_type == NFT_MSG_NEWCHAIN) {
        let fam = family_of(m, "a chain")?;
        let info = chain_info(&m.attrs)?;
        let (Some(table), Some(name)) = (info.table, info.name) else {
            return Err(decode_err("a chain", "no table or chain name"));
        };
        let r = ChainRef {
            backend: Backend::Nftables,
            family: fam,
            table,
            chain: name,
        };
        if let Some(n) = info.hooknum
            && !dormant.contains(&(fam, r.table.clone()))
        {
            let hook = hook(fam, n)
                .ok_or_else(|| decode_err("a chain", format!("{r}: unknown hook {n}")))?;
            let policy = match info.policy {
                None | Some(1) => Policy::Accept,
                Some(0) => Policy::Drop,
                Some(p) => return Err(decode_err("a chain", format!("{r}: policy {p}"))),
            };
            let chain_type = match info.chain_type.as_deref() {
                Some("nat") => ChainType::Nat,
                Some("route") => ChainType::Route,
                _ => ChainType::Filter,
            };
            let devices: Vec<Option<String>> = if info.devices.is_empty() {
                vec![None]
            } else {
                info.devices.iter().cloned().map(Some).collect()
            };
            for device in devices {
                rs.base_chains.push(BaseChain {
                    chain: r.clone(),
                    hook,
                    priority: info.priority.unwrap_or(0),
                    chain_type,
                    policy,
                    device,
                });
            }
        }
        index.insert(r.clone(), rs.chains.len());
        rs.chains.push(Chain {
            chain: r,
            rules: Vec::new(),
        });
    }

    for m in rules.iter().filter(|m| m.msg_type == NFT_MSG_NEWRULE) {
        let fam = family_of(m, "a rule")?;
        let (table, chain, rule) = rule_of(fam, &m.attrs)?;
        let r = ChainRef {
            backend: Backend::Nftables,
            family: fam,
            table,
            chain,
        };
        let i = match index.get(&r) {
            Some(&i) => i,
            None => {
                index.insert(r.clone(), rs.chains.len());
                rs.chains.push(Chain {
                    chain: r,
                    rules: Vec::new(),
                });
                rs.chains.len() - 1
            }
        };
        rs.chains[i].rules.push(rule);
    }
    Ok(rs)
}
