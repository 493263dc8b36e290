//! iptables-legacy and ip6tables-legacy: the x_tables tables of the calling thread's network
//! namespace read with `getsockopt` (IPT_SO_GET_INFO / IPT_SO_GET_ENTRIES on an AF_INET raw
//! socket, IP6T_* on AF_INET6), and walked back into chains: base chains from the hook entry
//! points and underflows (whose rule is the policy), user chains from their ERROR-target
//! heads, jumps from the offsets of the chains' first rules. Only the tables the namespace
//! already has (`/proc/thread-self/net/ip{,6}_tables_names`) are asked for: asking for
//! another name would load its module and instantiate the table.
//!
//! Also [`legacy_signature`]: a hash of the tables' entries with their packet and byte
//! counters zeroed, which changes when a rule does and not when traffic is counted.
//! `unsafe` only around `getsockopt`. Imports `crate::netns`, `crate::pathstate::{ruleset,
//! xt, error}`.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd, BorrowedFd},
};

use ipnet::IpNet;
use socket2::{Domain, Protocol, Socket, Type};

use crate::pathstate::{
    error::PathStateError,
    ruleset::{
        Action, Backend, BaseChain, Chain, ChainRef, ChainType, Cond, Family, Hook, IfaceMatch,
        Policy, Rule, Ruleset,
    },
    xt,
};

const XT_TABLE_MAXNAMELEN: usize = 32;
/// `struct ipt_getinfo` / `ip6t_getinfo`: name[32], valid_hooks, hook_entry[5],
/// underflow[5], num_entries, size.
const GETINFO_LEN: usize = XT_TABLE_MAXNAMELEN + 4 + 20 + 20 + 4 + 4;
/// `struct ipt_get_entries`: name[32], size, then the entries at offset 40 (8-aligned).
const GET_ENTRIES_HDR: usize = 40;
const SO_GET_INFO: libc::c_int = 64;
const SO_GET_ENTRIES: libc::c_int = 65;
/// `xt_entry_match` / `xt_entry_target` header: size u16, name[29], revision u8.
const XT_EXT_HDR: usize = 32;
const NUMHOOKS: usize = 5;
const HOOK_NAMES: [&str; NUMHOOKS] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];
const HOOKS: [Hook; NUMHOOKS] = [
    Hook::Prerouting,
    Hook::Input,
    Hook::Forward,
    Hook::Output,
    Hook::Postrouting,
];

/// IPv4 or IPv6 x_tables: where things are in their entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stack {
    V4,
    V6,
}

impl Stack {
    fn family(self) -> Family {
        match self {
            Stack::V4 => Family::Ipv4,
            Stack::V6 => Family::Ipv6,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Stack::V4 => "ip",
            Stack::V6 => "ip6",
        }
    }

    /// sizeof(ipt_entry) / sizeof(ip6t_entry).
    fn entry_len(self) -> usize {
        match self {
            Stack::V4 => 112,
            Stack::V6 => 168,
        }
    }

    /// Offsets of target_offset, next_offset and the counters in an entry.
    fn offsets(self) -> (usize, usize, usize) {
        match self {
            Stack::V4 => (88, 90, 96),
            Stack::V6 => (140, 142, 152),
        }
    }

    fn names_file(self) -> &'static str {
        match self {
            Stack::V4 => "/proc/thread-self/net/ip_tables_names",
            Stack::V6 => "/proc/thread-self/net/ip6_tables_names",
        }
    }
}

/// `struct ipt_getinfo` without the name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Info {
    pub valid_hooks: u32,
    pub hook_entry: [u32; NUMHOOKS],
    pub underflow: [u32; NUMHOOKS],
    pub num_entries: u32,
    pub size: u32,
}

impl Info {
    fn parse(b: &[u8]) -> Option<Self> {
        let w = |i: usize| -> Option<u32> {
            let o = XT_TABLE_MAXNAMELEN + 4 * i;
            Some(u32::from_ne_bytes(b.get(o..o + 4)?.try_into().ok()?))
        };
        let mut info = Info {
            valid_hooks: w(0)?,
            ..Default::default()
        };
        for h in 0..NUMHOOKS {
            info.hook_entry[h] = w(1 + h)?;
            info.underflow[h] = w(1 + NUMHOOKS + h)?;
        }
        info.num_entries = w(1 + 2 * NUMHOOKS)?;
        info.size = w(2 + 2 * NUMHOOKS)?;
        Some(info)
    }
}

/// One table as the kernel gave it.
#[derive(Clone, Debug)]
pub(crate) struct RawTable {
    pub name: String,
    pub info: Info,
    pub entries: Vec<u8>,
}

/// The tables of this namespace (the names file lists them; absent: no x_tables at all).
fn table_names(stack: Stack) -> Result<Vec<String>, PathStateError> {
    match std::fs::read_to_string(stack.names_file()) {
        Ok(s) => Ok(s
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(PathStateError::Proc {
            path: stack.names_file().to_string(),
            error,
        }),
    }
}

/// `getsockopt(fd, level, name, buf)`, the kernel reading its input from `buf` too; returns
/// the length it wrote.
fn getsockopt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut len = libc::socklen_t::try_from(buf.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `buf` is valid for reads and writes of `len` bytes for the whole call, `len`
    // is a valid socklen_t the kernel may lower, and `fd` is an open descriptor (borrowed).
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(usize::try_from(len).unwrap_or(0))
    }
}

fn name_buf(table: &str, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    let n = table.len().min(XT_TABLE_MAXNAMELEN - 1);
    b[..n].copy_from_slice(&table.as_bytes()[..n]);
    b
}

/// Reads the tables of `stack` that exist in the calling thread's namespace.
fn read_tables(stack: Stack) -> Result<Vec<RawTable>, PathStateError> {
    let names = table_names(stack)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let err = |table: &str, action: &'static str| {
        let table = table.to_string();
        move |error| PathStateError::Legacy {
            family: stack.name(),
            table,
            action,
            error,
        }
    };
    let (domain, level) = match stack {
        Stack::V4 => (Domain::IPV4, libc::IPPROTO_IP),
        Stack::V6 => (Domain::IPV6, libc::IPPROTO_IPV6),
    };
    let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW)))
        .map_err(err(&names[0], "open a raw socket (needs CAP_NET_RAW)"))?;
    let fd = std::os::fd::AsFd::as_fd(&socket);
    let mut out = Vec::new();
    'tables: for name in names {
        for _ in 0..8 {
            let mut ib = name_buf(&name, GETINFO_LEN);
            match getsockopt(fd, level, SO_GET_INFO, &mut ib) {
                Ok(_) => {}
                // Gone since the names were read.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue 'tables,
                Err(e) => return Err(err(&name, "get its info")(e)),
            }
            let info = Info::parse(&ib).ok_or_else(|| PathStateError::LegacyMalformed {
                family: stack.name(),
                table: name.clone(),
                detail: "short info".into(),
            })?;
            let size = usize::try_from(info.size).unwrap_or(usize::MAX);
            let mut eb = name_buf(&name, GET_ENTRIES_HDR.saturating_add(size));
            eb[XT_TABLE_MAXNAMELEN..XT_TABLE_MAXNAMELEN + 4]
                .copy_from_slice(&info.size.to_ne_bytes());
            match getsockopt(fd, level, SO_GET_ENTRIES, &mut eb) {
                Ok(_) => {
                    eb.drain(..GET_ENTRIES_HDR);
                    out.push(RawTable {
                        name,
                        info,
                        entries: eb,
                    });
                    continue 'tables;
                }
                // The table changed size between the two calls: again.
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue 'tables,
                Err(e) => return Err(err(&name, "get its entries")(e)),
            }
        }
        return Err(PathStateError::Legacy {
            family: stack.name(),
            table: name,
            action: "read a stable copy",
            error: io::Error::from_raw_os_error(libc::EAGAIN),
        });
    }
    Ok(out)
}

/// Reads the legacy IPv4 and IPv6 tables of the calling thread's network namespace.
pub fn read_current() -> Result<Ruleset, PathStateError> {
    let mut rs = Ruleset::default();
    for stack in [Stack::V4, Stack::V6] {
        for t in read_tables(stack)? {
            rs.extend(
                parse_table(stack, &t.name, &t.info, &t.entries).map_err(|detail| {
                    PathStateError::LegacyMalformed {
                        family: stack.name(),
                        table: t.name.clone(),
                        detail,
                    }
                })?,
            );
        }
    }
    Ok(rs)
}

/// A hash of the legacy tables of namespace `netns` (`None`: this one) with their counters
/// zeroed: it changes when a table, chain or rule does, not when packets are counted.
/// `DefaultHasher` is fine here: a signature is only compared with another one taken by the
/// same process (`runtime::fastpath_watch`), never stored or shown, so its value need not be
/// the same across builds or Rust releases.
pub fn legacy_signature(netns: Option<&str>) -> Result<u64, PathStateError> {
    crate::netns::run_in(netns, || {
        let mut h = DefaultHasher::new();
        for stack in [Stack::V4, Stack::V6] {
            for t in read_tables(stack)? {
                stack.name().hash(&mut h);
                t.name.hash(&mut h);
                t.info.hash(&mut h);
                let mut entries = t.entries;
                zero_counters(stack, &mut entries);
                entries.hash(&mut h);
            }
        }
        Ok(h.finish())
    })?
}

/// Zeroes the packet and byte counters of every entry (as far as the entries can be walked).
fn zero_counters(stack: Stack, entries: &mut [u8]) {
    let (_, next_at, counters_at) = stack.offsets();
    let mut off = 0;
    while off + stack.entry_len() <= entries.len() {
        entries[off + counters_at..off + counters_at + 16].fill(0);
        let next = usize::from(u16::from_ne_bytes([
            entries[off + next_at],
            entries[off + next_at + 1],
        ]));
        if next < stack.entry_len() {
            break;
        }
        off += next;
    }
}

// ---------------------------------------------------------------------------------------
// Walking the entries
// ---------------------------------------------------------------------------------------

/// The standard target's verdicts (`-NF_x - 1`) and XT_RETURN.
const VERDICT_DROP: i32 = -1;
const VERDICT_ACCEPT: i32 = -2;
const XT_RETURN: i32 = -5;

enum Target {
    /// Standard target: a verdict (< 0) or a jump offset.
    Standard(i32),
    /// A user chain head (`ERROR` target with the chain's name) or the table's end.
    Error(String),
    Ext(Action),
}

struct Entry {
    off: usize,
    next: usize,
    conds: Vec<Cond>,
    goto: bool,
    target: Target,
}

fn nul_str(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// An interface test from the name and mask bytes of ipt_ip (`-i qr-+`: the mask covers
/// "qr-"; `-i qg-1`: it covers "qg-1" and its NUL).
fn iface(name: &[u8], mask: &[u8], negated: bool, input: bool) -> Option<Cond> {
    let covered = mask.iter().take_while(|&&m| m == 0xff).count();
    if mask[covered..].iter().any(|&m| m != 0) {
        return Some(Cond::Unknown(format!(
            "{}{} with mask {}",
            if input { "-i " } else { "-o " },
            nul_str(name),
            mask.iter().map(|m| format!("{m:02x}")).collect::<String>()
        )));
    }
    if covered == 0 {
        // Any interface (an inverted empty name never matches: keep it as the model says).
        return negated.then(|| iface_cond(String::new(), true, true, input));
    }
    let part = &name[..covered];
    let (text, prefix) = match part.iter().position(|&b| b == 0) {
        Some(nul) => (&part[..nul], false),
        None => (part, true),
    };
    Some(iface_cond(
        String::from_utf8_lossy(text).into_owned(),
        prefix,
        negated,
        input,
    ))
}

fn iface_cond(name: String, prefix: bool, negated: bool, input: bool) -> Cond {
    let iface = IfaceMatch { name, prefix };
    if input {
        Cond::InIface { iface, negated }
    } else {
        Cond::OutIface { iface, negated }
    }
}

/// An address test from address and mask (a contiguous mask only).
fn addr(a: IpAddr, mask: IpAddr, negated: bool, src: bool) -> Option<Cond> {
    let (bits, width) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32),
        IpAddr::V6(m) => (u128::from(m), 128),
    };
    if bits == 0 && !negated {
        return None;
    }
    let prefix = bits.leading_ones();
    let contiguous = bits
        == if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix)
        };
    let flag = if src { "-s" } else { "-d" };
    let value = match a {
        IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
        IpAddr::V6(v) => u128::from(v),
    };
    // Address bits outside the mask: the kernel's comparison can never be equal.
    if !contiguous || prefix > width || value & !bits != 0 {
        return Some(Cond::Unknown(format!("{flag} {a}/{mask}")));
    }
    let net = IpNet::new(a, u8::try_from(prefix).unwrap_or(0)).ok()?;
    Some(if src {
        Cond::Src { net, negated }
    } else {
        Cond::Dst { net, negated }
    })
}

/// The conditions of an entry's `ipt_ip` / `ip6t_ip6` header, and its goto flag.
fn header(stack: Stack, e: &[u8]) -> (Vec<Cond>, bool) {
    let mut conds = Vec::new();
    match stack {
        Stack::V4 => {
            let ip4 = |o: usize| Ipv4Addr::new(e[o], e[o + 1], e[o + 2], e[o + 3]);
            let (proto, flags, inv) = (u16::from_ne_bytes([e[80], e[81]]), e[82], e[83]);
            conds.extend(addr(
                IpAddr::V4(ip4(0)),
                IpAddr::V4(ip4(8)),
                inv & 0x08 != 0,
                true,
            ));
            conds.extend(addr(
                IpAddr::V4(ip4(4)),
                IpAddr::V4(ip4(12)),
                inv & 0x10 != 0,
                false,
            ));
            conds.extend(iface(&e[16..32], &e[48..64], inv & 0x01 != 0, true));
            conds.extend(iface(&e[32..48], &e[64..80], inv & 0x02 != 0, false));
            if proto != 0 {
                match u8::try_from(proto) {
                    Ok(p) => conds.push(Cond::Proto {
                        proto: p,
                        negated: inv & 0x40 != 0,
                    }),
                    Err(_) => conds.push(Cond::Unknown(format!("-p {proto}"))),
                }
            }
            if flags & 0x01 != 0 {
                conds.push(Cond::Unknown(format!(
                    "{}-f",
                    if inv & 0x20 != 0 { "! " } else { "" }
                )));
            }
            (conds, flags & 0x02 != 0)
        }
        Stack::V6 => {
            let ip6 = |o: usize| {
                let b: [u8; 16] = e[o..o + 16].try_into().unwrap_or([0; 16]);
                Ipv6Addr::from(b)
            };
            let (proto, flags, inv) = (u16::from_ne_bytes([e[128], e[129]]), e[131], e[132]);
            conds.extend(addr(
                IpAddr::V6(ip6(0)),
                IpAddr::V6(ip6(32)),
                inv & 0x08 != 0,
                true,
            ));
            conds.extend(addr(
                IpAddr::V6(ip6(16)),
                IpAddr::V6(ip6(48)),
                inv & 0x10 != 0,
                false,
            ));
            conds.extend(iface(&e[64..80], &e[96..112], inv & 0x01 != 0, true));
            conds.extend(iface(&e[80..96], &e[112..128], inv & 0x02 != 0, false));
            if flags & 0x01 != 0 {
                match u8::try_from(proto) {
                    Ok(p) if p != 0 => conds.push(Cond::Proto {
                        proto: p,
                        negated: inv & 0x40 != 0,
                    }),
                    _ => conds.push(Cond::Unknown(format!(
                        "{}-p {proto}",
                        if inv & 0x40 != 0 { "! " } else { "" }
                    ))),
                }
            }
            if flags & 0x02 != 0 {
                conds.push(Cond::Unknown(format!("tos {:#x}", e[130])));
            }
            (conds, flags & 0x04 != 0)
        }
    }
}

fn entries(stack: Stack, blob: &[u8]) -> Result<Vec<Entry>, String> {
    let family = stack.family();
    let (target_at, next_at, _) = stack.offsets();
    let hdr = stack.entry_len();
    let mut out = Vec::new();
    let mut off = 0;
    while off < blob.len() {
        let e = blob
            .get(off..off + hdr)
            .ok_or_else(|| format!("entry at {off} truncated"))?;
        let target_off = usize::from(u16::from_ne_bytes([e[target_at], e[target_at + 1]]));
        let next = usize::from(u16::from_ne_bytes([e[next_at], e[next_at + 1]]));
        if target_off < hdr || next < target_off + XT_EXT_HDR || off + next > blob.len() {
            return Err(format!(
                "entry at {off}: target at {target_off}, next at {next} of {}",
                blob.len()
            ));
        }
        let (mut conds, goto) = header(stack, e);
        // Matches.
        let mut m = off + hdr;
        while m < off + target_off {
            let size = usize::from(u16::from_ne_bytes([blob[m], blob[m + 1]]));
            if size < XT_EXT_HDR || m + size > off + target_off {
                return Err(format!("entry at {off}: match of {size} bytes at {m}"));
            }
            let name = nul_str(&blob[m + 2..m + 31]);
            let rev = blob[m + 31];
            conds.extend(xt::decode_match(
                &name,
                rev,
                &blob[m + XT_EXT_HDR..m + size],
            ));
            m += size;
        }
        // Target.
        let t = off + target_off;
        let size = usize::from(u16::from_ne_bytes([blob[t], blob[t + 1]]));
        if size < XT_EXT_HDR || t + size > off + next {
            return Err(format!("entry at {off}: target of {size} bytes"));
        }
        let name = nul_str(&blob[t + 2..t + 31]);
        let rev = blob[t + 31];
        let data = &blob[t + XT_EXT_HDR..t + size];
        let target = match name.as_str() {
            "" => match data.get(..4) {
                Some(v) => Target::Standard(i32::from_ne_bytes([v[0], v[1], v[2], v[3]])),
                None => Target::Ext(Action::Unknown("standard target without a verdict".into())),
            },
            "ERROR" => Target::Error(nul_str(data)),
            _ => Target::Ext(xt::decode_target(&name, rev, data, family)),
        };
        out.push(Entry {
            off,
            next,
            conds,
            goto,
            target,
        });
        off += next;
    }
    Ok(out)
}

/// Rebuilds the chains of one table from its `getsockopt` info and entries.
pub(crate) fn parse_table(
    stack: Stack,
    table: &str,
    info: &Info,
    blob: &[u8],
) -> Result<Ruleset, String> {
    let family = stack.family();
    let es = entries(stack, blob)?;
    let chain_ref = |chain: &str| ChainRef {
        backend: Backend::Legacy,
        family,
        table: table.to_string(),
        chain: chain.to_string(),
    };
    let at = |off: usize| es.iter().position(|e| e.off == off);

    // User chains: an ERROR head names the chain; its rules run to the next head, the last
    // of them being the chain's implicit RETURN.
    let mut user: Vec<(String, usize, usize)> = Vec::new(); // name, first, end (indices)
    let heads: Vec<usize> = es
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.target, Target::Error(_)))
        .map(|(i, _)| i)
        .collect();
    for (k, &h) in heads.iter().enumerate() {
        let Target::Error(name) = &es[h].target else {
            continue;
        };
        if name == "ERROR" {
            continue;
        }
        let end = heads.get(k + 1).copied().unwrap_or(es.len());
        user.push((name.clone(), h + 1, end));
    }
    // Jump targets: a chain's first entry.
    let mut starts: Vec<(usize, String)> = user
        .iter()
        .filter_map(|(name, first, _)| es.get(*first).map(|e| (e.off, name.clone())))
        .collect();
    for (h, name) in HOOK_NAMES.iter().enumerate() {
        if info.valid_hooks & (1 << h) != 0 {
            starts.push((info.hook_entry[h] as usize, name.to_string()));
        }
    }

    let rule = |e: &Entry| -> Rule {
        let mut actions = Vec::new();
        match &e.target {
            Target::Standard(v) if *v < 0 => actions.push(match *v {
                VERDICT_DROP => Action::Drop,
                VERDICT_ACCEPT => Action::Accept,
                XT_RETURN => Action::Return,
                v => Action::Unknown(format!("verdict {}", -i64::from(v) - 1)),
            }),
            Target::Standard(v) => {
                let to = usize::try_from(*v).unwrap_or(usize::MAX);
                if to == e.off + e.next {
                    // Falls through to the next rule: a rule without a target.
                } else if let Some((_, name)) = starts.iter().find(|(o, _)| *o == to) {
                    let r = chain_ref(name);
                    actions.push(if e.goto {
                        Action::Goto(r)
                    } else {
                        Action::Jump(r)
                    });
                } else {
                    actions.push(Action::Unknown(format!("jump to offset {to}")));
                }
            }
            Target::Error(name) => actions.push(Action::Unknown(format!("ERROR {name}"))),
            Target::Ext(a) => actions.push(a.clone()),
        }
        Rule {
            conds: e.conds.clone(),
            actions,
        }
    };

    let mut rs = Ruleset::default();
    for h in 0..NUMHOOKS {
        if info.valid_hooks & (1 << h) == 0 {
            continue;
        }
        let (Some(first), Some(last)) = (
            at(info.hook_entry[h] as usize),
            at(info.underflow[h] as usize),
        ) else {
            return Err(format!(
                "hook {h}: entry {} / underflow {} is not an entry",
                info.hook_entry[h], info.underflow[h]
            ));
        };
        if last < first {
            return Err(format!("hook {h}: underflow before entry"));
        }
        let mut rules: Vec<Rule> = es[first..last].iter().map(rule).collect();
        let under = &es[last];
        let policy = match (&under.target, under.conds.is_empty()) {
            (Target::Standard(VERDICT_ACCEPT), true) => Policy::Accept,
            (Target::Standard(VERDICT_DROP), true) => Policy::Drop,
            _ => {
                // Not a plain policy: keep it as the chain's last rule.
                rules.push(rule(under));
                Policy::Accept
            }
        };
        let r = chain_ref(HOOK_NAMES[h]);
        let hook = HOOKS[h];
        let (priority, chain_type) = priority(table, hook);
        rs.base_chains.push(BaseChain {
            chain: r.clone(),
            hook,
            priority,
            chain_type,
            policy,
            device: None,
        });
        rs.chains.push(Chain { chain: r, rules });
    }
    for (name, first, end) in user {
        let mut body: Vec<&Entry> = es[first..end].iter().collect();
        // The implicit RETURN closing the chain.
        if let Some(last) = body.last()
            && last.conds.is_empty()
            && matches!(last.target, Target::Standard(XT_RETURN))
        {
            body.pop();
        }
        rs.chains.push(Chain {
            chain: chain_ref(&name),
            rules: body.into_iter().map(rule).collect(),
        });
    }
    Ok(rs)
}

/// iptables' hook priorities (NF_IP_PRI_*) and the nftables chain type a table's chain
/// behaves as.
fn priority(table: &str, hook: Hook) -> (i32, ChainType) {
    match (table, hook) {
        ("raw", _) => (-300, ChainType::Filter),
        ("mangle", Hook::Output) => (-150, ChainType::Route),
        ("mangle", _) => (-150, ChainType::Filter),
        ("nat", Hook::Prerouting | Hook::Output) => (-100, ChainType::Nat),
        ("nat", _) => (100, ChainType::Nat),
        ("security", _) => (50, ChainType::Filter),
        _ => (0, ChainType::Filter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pathstate::testdata::{assert_table, fixture, parse_save, unhex};

    /// The tables captured from a namespace where `iptables-legacy-restore` and
    /// `ip6tables-legacy-restore` loaded Neutron's rules: `legacy <4|6> <table> <info after
    /// the name> <entries>` lines (IPT_SO_GET_INFO / IPT_SO_GET_ENTRIES answers).
    fn tables() -> Vec<(Stack, String, Info, Vec<u8>)> {
        fixture("neutron.legacy.hex")
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&"legacy")).then_some(())?;
                let stack = if f[1] == "4" { Stack::V4 } else { Stack::V6 };
                let mut info = vec![0u8; XT_TABLE_MAXNAMELEN];
                info.extend(unhex(f[3]));
                Some((
                    stack,
                    f[2].to_string(),
                    Info::parse(&info)?,
                    unhex(f.get(4).copied().unwrap_or("")),
                ))
            })
            .collect()
    }

    fn ruleset(stack: Stack) -> Ruleset {
        let mut rs = Ruleset::default();
        for (s, name, info, blob) in tables() {
            if s == stack {
                rs.extend(parse_table(s, &name, &info, &blob).expect("parse"));
            }
        }
        rs
    }

    #[test]
    fn neutron_ipv4_legacy_tables_read_as_iptables_save_prints_them() {
        let rs = ruleset(Stack::V4);
        let save = parse_save(&fixture("neutron-v4.rules"));
        assert_eq!(save.len(), 4);
        for t in &save {
            assert_table(&rs, Backend::Legacy, Family::Ipv4, t);
        }
        let base = |table: &str, chain: &str| {
            rs.base_chains
                .iter()
                .find(|b| b.chain.table == table && b.chain.chain == chain)
                .unwrap_or_else(|| panic!("{table} {chain}"))
        };
        assert_eq!(
            (base("raw", "OUTPUT").priority, base("raw", "OUTPUT").hook),
            (-300, Hook::Output)
        );
        assert_eq!(base("mangle", "OUTPUT").chain_type, ChainType::Route);
        assert_eq!(base("mangle", "POSTROUTING").priority, -150);
        assert_eq!(base("nat", "PREROUTING").priority, -100);
        assert_eq!(base("nat", "OUTPUT").priority, -100);
        assert_eq!(base("nat", "INPUT").priority, 100);
        assert_eq!(base("nat", "POSTROUTING").chain_type, ChainType::Nat);
        assert_eq!(base("filter", "INPUT").priority, 0);
        // The jump targets are the chains' full references.
        let bottom = rs
            .chains
            .iter()
            .find(|c| c.chain.chain == "neutron-postrouting-bottom")
            .unwrap();
        assert_eq!(
            bottom.rules[0].actions,
            vec![Action::Jump(ChainRef {
                backend: Backend::Legacy,
                family: Family::Ipv4,
                table: "nat".into(),
                chain: "neutron-l3-agent-snat".into()
            })]
        );
    }

    #[test]
    fn neutron_ipv6_legacy_tables_read_as_ip6tables_save_prints_them() {
        let rs = ruleset(Stack::V6);
        let save = parse_save(&fixture("neutron-v6.rules"));
        assert_eq!(save.len(), 3);
        for t in &save {
            assert_table(&rs, Backend::Legacy, Family::Ipv6, t);
        }
        let scope = rs
            .chains
            .iter()
            .find(|c| c.chain.table == "filter" && c.chain.chain == "neutron-l3-agent-scope")
            .unwrap();
        assert_eq!(
            scope.rules[0].conds[0],
            Cond::Src {
                net: "2001:db8:10::/64".parse().unwrap(),
                negated: true
            }
        );
    }

    #[test]
    fn the_signature_ignores_counters_and_sees_rules() {
        let (stack, _, _, blob) = tables()
            .into_iter()
            .find(|(s, n, _, _)| *s == Stack::V4 && n == "filter")
            .unwrap();
        let (_, next_at, counters_at) = stack.offsets();
        let mut counted = blob.clone();
        // Count packets on every entry.
        let mut off = 0;
        while off < counted.len() {
            counted[off + counters_at..off + counters_at + 16].fill(0x5a);
            off += usize::from(u16::from_ne_bytes([
                counted[off + next_at],
                counted[off + next_at + 1],
            ]));
        }
        assert_ne!(counted, blob);
        let (mut a, mut b) = (blob.clone(), counted);
        zero_counters(stack, &mut a);
        zero_counters(stack, &mut b);
        assert_eq!(a, b);
        // A changed rule (here the first entry's source address) is seen.
        let mut changed = blob;
        changed[0] ^= 1;
        zero_counters(stack, &mut changed);
        assert_ne!(a, changed);
    }

    #[test]
    fn interface_masks() {
        let name = |s: &str| {
            let mut b = [0u8; 16];
            b[..s.len()].copy_from_slice(s.as_bytes());
            b
        };
        let mask = |n: usize| {
            let mut b = [0u8; 16];
            b[..n].fill(0xff);
            b
        };
        assert_eq!(
            iface(&name("qr-"), &mask(3), false, true)
                .unwrap()
                .to_string(),
            "-i qr-+"
        );
        assert_eq!(
            iface(&name("qg-1"), &mask(5), true, false)
                .unwrap()
                .to_string(),
            "! -o qg-1"
        );
        assert_eq!(iface(&name(""), &mask(0), false, true), None);
        let mut odd = mask(3);
        odd[5] = 0xff;
        assert!(matches!(
            iface(&name("qr-"), &odd, false, true),
            Some(Cond::Unknown(_))
        ));
        // A non-contiguous address mask, bits outside the mask.
        let a = |s: &str| -> IpAddr { s.parse().unwrap() };
        assert!(matches!(
            addr(a("10.0.0.0"), a("255.0.255.0"), false, true),
            Some(Cond::Unknown(_))
        ));
        assert!(matches!(
            addr(a("10.0.0.1"), a("255.255.255.0"), false, true),
            Some(Cond::Unknown(_))
        ));
        assert_eq!(addr(a("0.0.0.0"), a("0.0.0.0"), false, true), None);
    }

    #[test]
    fn truncated_or_garbled_tables_are_errors_or_unknowns_never_panics() {
        for (stack, name, info, blob) in tables() {
            for cut in (0..blob.len()).step_by(7) {
                let _ = parse_table(stack, &name, &info, &blob[..cut]);
            }
            for i in (0..blob.len()).step_by(3) {
                for x in [0x00, 0xff, 0x7f] {
                    let mut b = blob.clone();
                    b[i] = x;
                    if let Ok(rs) = parse_table(stack, &name, &info, &b) {
                        for c in &rs.chains {
                            for r in &c.rules {
                                let _ = r.to_string();
                            }
                        }
                    }
                }
            }
            let mut info2 = info.clone();
            info2.underflow[1] = 3;
            info2.hook_entry[0] = u32::MAX;
            info2.valid_hooks = 0x1f;
            let _ = parse_table(stack, &name, &info2, &blob);
            let mut zeroed = blob.clone();
            zero_counters(stack, &mut zeroed[..blob.len() / 2]);
        }
    }
}
