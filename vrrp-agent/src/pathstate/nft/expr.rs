//! One nftables rule's expression list as the model's conditions and actions, by following
//! the registers the way the kernel runs them: a load (`meta`, `payload`, `ct`, `immediate`)
//! fills a register, `bitwise` masks it, `cmp` / `range` / `lookup` test it, a setter (`meta
//! set`, `ct set`, `nat`, ...) consumes it, `immediate` into the verdict register ends the rule.
//! iptables-nft rules are the same expressions plus the x_tables compat `match` / `target`,
//! whose blobs [`crate::pathstate::xt`] decodes.
//!
//! Never drops anything: a test it cannot attribute to a known load is [`Cond::Unknown`], an
//! expression with an effect it does not model is [`Action::Unknown`], a load whose value is
//! never used (it may still end the rule) is an unknown condition. A condition that follows
//! an action (`meta mark set 1 ip saddr 10.0.0.1 accept`) cannot be an AND of the rule, so it
//! becomes an unknown action at its place (except after only `log`-like actions, which do not
//! change the packet). Imports `crate::pathstate::{ruleset, xt}`.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use ipnet::IpNet;
use netlink_packet_core::{DefaultNla, Nla, NlaBuffer, NlasIterator};
use netlink_packet_netfilter::nftables::{
    Bitwise, Cmp, DataAttribute, Expressions, Immediate, Lookup, Meta, Payload, Register, Verdict,
    VerdictAttribute,
};

use crate::pathstate::{
    ruleset::{Action, Backend, ChainRef, Cond, CtStates, Family, IfaceMatch, Rule},
    xt,
};

/// One expression of a rule as the kernel reported it.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    /// Name and data (`None`: the expression has no attributes, e.g. `notrack`).
    Decoded {
        name: String,
        data: Option<Expressions>,
    },
    /// The netlink attributes of this expression could not be parsed.
    Broken(String),
}

// --- kernel constants (include/uapi/linux/netfilter/nf_tables.h) -------------------------

const NFT_META_PROTOCOL: u32 = 1;
const NFT_META_MARK: u32 = 3;
const NFT_META_IIF: u32 = 4;
const NFT_META_OIF: u32 = 5;
const NFT_META_IIFNAME: u32 = 6;
const NFT_META_OIFNAME: u32 = 7;
const NFT_META_NFPROTO: u32 = 15;
const NFT_META_L4PROTO: u32 = 16;

const NFT_PAYLOAD_LL_HEADER: u32 = 0;
const NFT_PAYLOAD_NETWORK_HEADER: u32 = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER: u32 = 2;

const NFT_CT_STATE: u32 = 0;
const NFT_CT_STATUS: u32 = 2;
const NFT_CT_MARK: u32 = 3;

const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;

const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;

// ct state bits of the nft `ct state` register
const NF_CT_STATE_INVALID: u32 = 1;
const NF_CT_STATE_ESTABLISHED: u32 = 1 << 1;
const NF_CT_STATE_RELATED: u32 = 1 << 2;
const NF_CT_STATE_NEW: u32 = 1 << 3;
const NF_CT_STATE_UNTRACKED: u32 = 1 << 6;
// ct->status
const IPS_SRC_NAT: u32 = 1 << 4;
const IPS_DST_NAT: u32 = 1 << 5;

/// Protocols whose first 4 transport bytes are source and destination port.
const PORT_PROTOS: [u8; 5] = [6, 17, 33, 132, 136];

/// Where a register's value came from.
#[derive(Clone, Debug)]
enum Src {
    Meta(u32),
    Payload {
        base: u32,
        offset: u32,
        len: u32,
    },
    Ct(u32),
    Imm(Vec<u8>),
    /// Loaded by something this reader does not interpret (described).
    Opaque(String),
}

#[derive(Clone, Debug)]
struct Val {
    src: Src,
    /// `bitwise`: value = (src & mask) ^ xor, over `mask.len()` bytes.
    mask: Option<Vec<u8>>,
    xor: Option<Vec<u8>>,
}

impl Val {
    fn of(src: Src) -> Self {
        Self {
            src,
            mask: None,
            xor: None,
        }
    }

    fn xor_is_zero(&self) -> bool {
        self.xor.as_ref().is_none_or(|x| x.iter().all(|&b| b == 0))
    }

    /// The 32-bit mask (host order) of a masked 4-byte value, all ones when unmasked.
    fn mask32(&self) -> Option<u32> {
        match &self.mask {
            None => Some(u32::MAX),
            Some(m) => Some(u32::from_ne_bytes(m.as_slice().try_into().ok()?)),
        }
    }

    fn xor32(&self) -> Option<u32> {
        match &self.xor {
            None => Some(0),
            Some(x) => Some(u32::from_ne_bytes(x.as_slice().try_into().ok()?)),
        }
    }

    fn describe(&self) -> String {
        let base = match &self.src {
            Src::Meta(k) => format!("meta {}", meta_name(*k)),
            Src::Payload { base, offset, len } => {
                let b = match *base {
                    NFT_PAYLOAD_LL_HEADER => "link",
                    NFT_PAYLOAD_NETWORK_HEADER => "network",
                    NFT_PAYLOAD_TRANSPORT_HEADER => "transport",
                    _ => "inner",
                };
                format!("payload {len}b @ {b} header + {offset}")
            }
            Src::Ct(k) => format!("ct {}", ct_name(*k)),
            Src::Imm(v) => format!("immediate {}", hex(v)),
            Src::Opaque(what) => what.clone(),
        };
        match (&self.mask, &self.xor) {
            (None, None) => base,
            (m, x) => format!(
                "({base} & {}) ^ {}",
                m.as_deref().map_or("ff..".into(), hex),
                x.as_deref().map_or("0".into(), hex)
            ),
        }
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn meta_name(k: u32) -> String {
    match k {
        0 => "len".into(),
        NFT_META_PROTOCOL => "protocol".into(),
        2 => "priority".into(),
        NFT_META_MARK => "mark".into(),
        NFT_META_IIF => "iif".into(),
        NFT_META_OIF => "oif".into(),
        NFT_META_IIFNAME => "iifname".into(),
        NFT_META_OIFNAME => "oifname".into(),
        8 => "iiftype".into(),
        9 => "oiftype".into(),
        10 => "skuid".into(),
        11 => "skgid".into(),
        12 => "nftrace".into(),
        13 => "rtclassid".into(),
        14 => "secmark".into(),
        NFT_META_NFPROTO => "nfproto".into(),
        NFT_META_L4PROTO => "l4proto".into(),
        17 => "ibrname".into(),
        18 => "obrname".into(),
        19 => "pkttype".into(),
        20 => "cpu".into(),
        21 => "iifgroup".into(),
        22 => "oifgroup".into(),
        23 => "cgroup".into(),
        24 => "random".into(),
        25 => "secpath".into(),
        26 => "iifkind".into(),
        27 => "oifkind".into(),
        k => format!("key {k}"),
    }
}

fn ct_name(k: u32) -> String {
    match k {
        NFT_CT_STATE => "state".into(),
        1 => "direction".into(),
        NFT_CT_STATUS => "status".into(),
        NFT_CT_MARK => "mark".into(),
        4 => "secmark".into(),
        5 => "expiration".into(),
        6 => "helper".into(),
        7 => "l3protocol".into(),
        8 => "saddr".into(),
        9 => "daddr".into(),
        10 => "protocol".into(),
        11 => "proto-src".into(),
        12 => "proto-dst".into(),
        13 => "label".into(),
        14 => "packets".into(),
        15 => "bytes".into(),
        16 => "avgpkt".into(),
        17 => "zone".into(),
        18 => "event".into(),
        19 => "ip saddr".into(),
        20 => "ip daddr".into(),
        21 => "ip6 saddr".into(),
        22 => "ip6 daddr".into(),
        23 => "id".into(),
        k => format!("key {k}"),
    }
}

fn op_name(op: u32) -> &'static str {
    match op {
        0 => "==",
        1 => "!=",
        2 => "<",
        3 => "<=",
        4 => ">",
        5 => ">=",
        _ => "?",
    }
}

/// The 32-bit register slot a register number starts at (NFT_REG_1..4 are 16 bytes wide,
/// NFT_REG32_00..15 are 4); `None` for the verdict register and invalid numbers.
fn slot(r: u32) -> Option<u32> {
    match r {
        1..=4 => Some((r - 1) * 4),
        8..=23 => Some(r - 8),
        _ => None,
    }
}

const SLOTS: u32 = 16;

#[derive(Clone, Debug)]
struct Entry {
    val: Val,
    span: u32,
    used: bool,
    /// How many actions had been emitted when the load happened.
    at_action: usize,
}

/// The register file: each value occupies `span` consecutive 32-bit slots from its start.
#[derive(Default, Debug)]
struct Regs(BTreeMap<u32, Entry>);

impl Regs {
    /// Writes `val` at register `r`, `len` bytes (`None`: unknown length, everything from
    /// there on is overwritten as far as we know). Entries it overlaps are forgotten.
    fn write(&mut self, r: u32, len: Option<u32>, val: Val, at_action: usize) -> Vec<Entry> {
        let Some(start) = slot(r) else {
            return Vec::new();
        };
        let span = len.map_or(SLOTS - start, |l| l.div_ceil(4).max(1));
        let end = start.saturating_add(span);
        let overlapping: Vec<u32> = self
            .0
            .iter()
            .filter(|(s, e)| **s < end && **s + e.span > start)
            .map(|(s, _)| *s)
            .collect();
        let dropped = overlapping
            .into_iter()
            .filter_map(|s| self.0.remove(&s))
            .collect();
        self.0.insert(
            start,
            Entry {
                val,
                span,
                used: false,
                at_action,
            },
        );
        dropped
    }

    fn read(&mut self, r: u32) -> Option<Val> {
        let e = self.0.get_mut(&slot(r)?)?;
        e.used = true;
        Some(e.val.clone())
    }

    fn clear(&mut self) -> Vec<Entry> {
        std::mem::take(&mut self.0).into_values().collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum L3 {
    V4,
    V6,
}

/// A `meta nfproto` / `meta protocol` test, kept as an unknown condition unless the table's
/// family or an address condition of the rule implies it.
struct FamilyTest {
    l3: L3,
    negated: bool,
    /// Index of its placeholder in `conds`, if it became a condition.
    at: Option<usize>,
}

struct Decoder<'a> {
    family: Family,
    table: &'a str,
    regs: Regs,
    conds: Vec<Cond>,
    actions: Vec<Action>,
    l3: Option<L3>,
    l4proto: Option<u8>,
    family_tests: Vec<FamilyTest>,
    /// Loads never consumed: (action count at load, description).
    dangling: Vec<(usize, String)>,
}

/// Decodes one rule of table `table` (family `family`). `udata` is NFTA_RULE_USERDATA (its
/// comment becomes a [`Cond::Comment`] at the end).
pub(crate) fn decode_rule(
    family: Family,
    table: &str,
    exprs: &[Expr],
    udata: Option<&[u8]>,
) -> Rule {
    let mut d = Decoder {
        family,
        table,
        regs: Regs::default(),
        conds: Vec::new(),
        actions: Vec::new(),
        l3: match family {
            Family::Ipv4 => Some(L3::V4),
            Family::Ipv6 => Some(L3::V6),
            _ => None,
        },
        l4proto: None,
        family_tests: Vec::new(),
        dangling: Vec::new(),
    };
    for e in exprs {
        match e {
            Expr::Decoded { name, data } => d.expr(name, data.as_ref()),
            Expr::Broken(why) => {
                let dropped = d.regs.clear();
                d.note_dropped(dropped);
                d.action(Action::Unknown(format!("undecodable expression: {why}")));
            }
        }
    }
    d.finish(udata)
}

impl Decoder<'_> {
    /// Actions other than observing ones emitted so far.
    fn acted(&self) -> bool {
        self.actions
            .iter()
            .any(|a| !matches!(a, Action::Observe(_)))
    }

    fn cond(&mut self, c: Cond) {
        if matches!(c, Cond::Comment(_)) || !self.acted() {
            self.conds.push(c);
        } else {
            self.actions
                .push(Action::Unknown(format!("and then only if {c}")));
        }
    }

    fn unknown(&mut self, what: String) {
        self.cond(Cond::Unknown(what));
    }

    fn action(&mut self, a: Action) {
        self.actions.push(a);
    }

    fn note_dropped(&mut self, dropped: Vec<Entry>) {
        for e in dropped {
            if !e.used && !matches!(e.val.src, Src::Imm(_)) {
                self.dangling.push((e.at_action, e.val.describe()));
            }
        }
    }

    fn load(&mut self, reg: Register, len: Option<u32>, src: Src) {
        let n = self.actions.len();
        let dropped = self.regs.write(u32::from(reg), len, Val::of(src), n);
        self.note_dropped(dropped);
    }

    fn store(&mut self, reg: Register, len: Option<u32>, val: Val) {
        let n = self.actions.len();
        let dropped = self.regs.write(u32::from(reg), len, val, n);
        self.note_dropped(dropped);
    }

    /// A setter consumed a `ct` value (other than the state): without a connection the load
    /// ends the rule, so everything from here on needs one.
    fn needs_connection(&mut self) {
        self.cond(Cond::CtState {
            states: CtStates(CtStates::INVALID | CtStates::UNTRACKED),
            negated: true,
        });
    }

    fn expr(&mut self, name: &str, data: Option<&Expressions>) {
        match (name, data) {
            ("counter", _) => {}
            (_, Some(Expressions::Meta(attrs))) => self.meta(attrs),
            (_, Some(Expressions::Payload(attrs))) => self.payload(attrs),
            (_, Some(Expressions::Immediate(attrs))) => self.immediate(attrs),
            (_, Some(Expressions::Bitwise(attrs))) => self.bitwise(attrs),
            (_, Some(Expressions::Cmp(attrs))) => self.cmp(attrs),
            (_, Some(Expressions::Lookup(attrs))) => self.lookup(attrs),
            (name, Some(Expressions::Other { attributes, .. })) => self.other(name, attributes),
            (name, None) => self.other(name, &[]),
            (name, Some(_)) => {
                let dropped = self.regs.clear();
                self.note_dropped(dropped);
                self.action(Action::Unknown(format!("{name} (unparsed attributes)")));
            }
        }
    }

    fn meta(&mut self, attrs: &[Meta]) {
        let (mut key, mut dreg, mut sreg) = (None, None, None);
        for a in attrs {
            match a {
                Meta::Key(k) => key = Some(u32::from(*k)),
                Meta::DestinationRegister(r) => dreg = Some(*r),
                Meta::SourceRegister(r) => sreg = Some(*r),
                _ => {}
            }
        }
        let Some(key) = key else {
            self.action(Action::Unknown("meta without a key".into()));
            return;
        };
        if let Some(d) = dreg {
            let len = match key {
                NFT_META_IIFNAME | NFT_META_OIFNAME | 17 | 18 | 26 | 27 | 34 => 16,
                NFT_META_NFPROTO | NFT_META_L4PROTO | 19 => 1,
                NFT_META_PROTOCOL => 2,
                _ => 4,
            };
            self.load(d, Some(len), Src::Meta(key));
        } else if let Some(s) = sreg {
            let val = self.regs.read(u32::from(s));
            self.meta_set(key, val);
        } else {
            self.action(Action::Unknown(format!("meta {}", meta_name(key))));
        }
    }

    fn meta_set(&mut self, key: u32, val: Option<Val>) {
        let Some(val) = val else {
            self.action(Action::Unknown(format!(
                "meta {} set from an unloaded register",
                meta_name(key)
            )));
            return;
        };
        if key != NFT_META_MARK {
            self.action(Action::Unknown(format!(
                "meta {} set {}",
                meta_name(key),
                val.describe()
            )));
            return;
        }
        let action = match (&val.src, val.mask32(), val.xor32()) {
            (Src::Imm(v), _, _) => match <[u8; 4]>::try_from(v.as_slice()) {
                Ok(b) => Some(Action::SetMark {
                    value: u32::from_ne_bytes(b),
                    mask: u32::MAX,
                }),
                Err(_) => None,
            },
            // mark = (mark & m) ^ x
            (Src::Meta(NFT_META_MARK), Some(m), Some(x)) => {
                Some(Action::SetMark { value: x, mask: !m })
            }
            // mark = ctmark & m
            (Src::Ct(NFT_CT_MARK), Some(m), Some(0)) => {
                self.needs_connection();
                Some(Action::RestoreMark {
                    nfmask: u32::MAX,
                    ctmask: m,
                })
            }
            _ => None,
        };
        self.action(
            action.unwrap_or_else(|| Action::Unknown(format!("meta mark set {}", val.describe()))),
        );
    }

    fn payload(&mut self, attrs: &[Payload]) {
        let (mut base, mut offset, mut len, mut dreg, mut sreg) = (None, None, None, None, None);
        for a in attrs {
            match a {
                Payload::Base(b) => base = Some(*b),
                Payload::Offset(o) => offset = Some(*o),
                Payload::Len(l) => len = Some(*l),
                Payload::DestinationRegister(r) => dreg = Some(*r),
                Payload::SourceRegister(r) => sreg = Some(*r),
                _ => {}
            }
        }
        match (dreg, sreg, base, offset, len) {
            (Some(d), None, Some(base), Some(offset), Some(len)) => {
                self.load(d, Some(len), Src::Payload { base, offset, len });
            }
            _ => self.action(Action::Unknown(format!(
                "payload write ({} bytes at base {} + {})",
                len.unwrap_or(0),
                base.unwrap_or(0),
                offset.unwrap_or(0)
            ))),
        }
    }

    fn immediate(&mut self, attrs: &[Immediate]) {
        let mut dreg = None;
        let mut data = None;
        for a in attrs {
            match a {
                Immediate::DestinationRegister(r) => dreg = Some(*r),
                Immediate::Data(d) => data = Some(d),
                _ => {}
            }
        }
        match (dreg, data) {
            (Some(Register::Verdict), Some(DataAttribute::Verdict(v))) => self.verdict(v),
            (Some(r), Some(DataAttribute::Value(bytes))) => {
                let len = u32::try_from(bytes.len()).ok();
                self.store(r, len, Val::of(Src::Imm(bytes.clone())));
            }
            _ => self.action(Action::Unknown("immediate".into())),
        }
    }

    fn chain_ref(&self, chain: String) -> ChainRef {
        ChainRef {
            backend: Backend::Nftables,
            family: self.family,
            table: self.table.to_string(),
            chain,
        }
    }

    fn verdict(&mut self, attrs: &[VerdictAttribute]) {
        let mut code = None;
        let mut chain = None;
        for a in attrs {
            match a {
                VerdictAttribute::Code(c) => code = Some(*c),
                VerdictAttribute::Chain(c) => chain = Some(c.clone()),
                _ => {}
            }
        }
        match (code, chain) {
            (Some(Verdict::Jump), Some(c)) => {
                let r = self.chain_ref(c);
                self.action(Action::Jump(r));
            }
            (Some(Verdict::Goto), Some(c)) => {
                let r = self.chain_ref(c);
                self.action(Action::Goto(r));
            }
            (Some(Verdict::Return), _) => self.action(Action::Return),
            // Evaluation simply goes on with the next expression.
            (Some(Verdict::Continue), _) => {}
            // Ends the rule as a failed test would: nothing after it runs.
            (Some(Verdict::Break), _) => self.unknown("break".into()),
            (Some(Verdict::Other(NF_ACCEPT)), _) => self.action(Action::Accept),
            (Some(Verdict::Other(NF_DROP)), _) => self.action(Action::Drop),
            (Some(v), _) => self.action(Action::Unknown(format!("verdict {:#x}", u32::from(v)))),
            (None, _) => self.action(Action::Unknown("verdict without a code".into())),
        }
    }

    fn bitwise(&mut self, attrs: &[Bitwise]) {
        let (mut sreg, mut dreg, mut len, mut mask, mut xor, mut op) =
            (None, None, None, None, None, 0);
        for a in attrs {
            match a {
                Bitwise::SourceRegister(r) => sreg = Some(*r),
                Bitwise::DestinationRegister(r) => dreg = Some(*r),
                Bitwise::Length(l) => len = Some(*l),
                Bitwise::Mask(DataAttribute::Value(v)) => mask = Some(v.clone()),
                Bitwise::Xor(DataAttribute::Value(v)) => xor = Some(v.clone()),
                Bitwise::Op(o) => op = *o,
                _ => {}
            }
        }
        let Some(dreg) = dreg else {
            self.action(Action::Unknown("bitwise without a destination".into()));
            return;
        };
        let src = sreg.and_then(|s| self.regs.read(u32::from(s)));
        let n = len.and_then(|l| usize::try_from(l).ok()).unwrap_or(0);
        let val = match (src, mask, xor) {
            // NFT_BITWISE_BOOL (mask and xor) is op 0; shifts and the register-register
            // operations are not followed.
            (Some(v), Some(m), Some(x)) if op == 0 && m.len() == n && x.len() == n => {
                compose(v, &m, &x)
            }
            (v, _, _) => Val::of(Src::Opaque(format!(
                "bitwise op {op} of {}",
                v.map_or_else(|| "an unloaded register".into(), |v| v.describe())
            ))),
        };
        self.store(dreg, len, val);
    }

    fn cmp(&mut self, attrs: &[Cmp]) {
        let (mut sreg, mut op, mut data) = (None, None, None);
        for a in attrs {
            match a {
                Cmp::SourceRegister(r) => sreg = Some(*r),
                Cmp::Op(o) => op = Some(u32::from(*o)),
                Cmp::Data(DataAttribute::Value(v)) => data = Some(v.clone()),
                _ => {}
            }
        }
        let (Some(sreg), Some(op), Some(data)) = (sreg, op, data) else {
            self.unknown("incomplete cmp".into());
            return;
        };
        let Some(val) = self.regs.read(u32::from(sreg)) else {
            self.unknown(format!(
                "cmp {} {} on an unloaded register",
                op_name(op),
                hex(&data)
            ));
            return;
        };
        let conds = self.cmp_conds(&val, op, &data);
        match conds {
            Some(cs) => {
                for c in cs {
                    self.cond(c);
                }
            }
            None => self.unknown(format!("{} {} {}", val.describe(), op_name(op), hex(&data))),
        }
    }

    /// The conditions a `cmp` of `val` with `data` means, `None` when not expressible.
    fn cmp_conds(&mut self, val: &Val, op: u32, data: &[u8]) -> Option<Vec<Cond>> {
        let eq_neq = match op {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        };
        match &val.src {
            Src::Meta(key) => {
                let key = *key;
                match key {
                    NFT_META_IIFNAME | NFT_META_OIFNAME => {
                        let negated = eq_neq?;
                        if val.mask.is_some() {
                            return None;
                        }
                        let iface = iface_from_bytes(data)?;
                        Some(vec![if key == NFT_META_IIFNAME {
                            Cond::InIface { iface, negated }
                        } else {
                            Cond::OutIface { iface, negated }
                        }])
                    }
                    NFT_META_L4PROTO => {
                        let negated = eq_neq?;
                        let [proto] = <[u8; 1]>::try_from(data).ok()?;
                        if val.mask.is_some() {
                            return None;
                        }
                        if !negated {
                            self.l4proto = Some(proto);
                        }
                        Some(vec![Cond::Proto { proto, negated }])
                    }
                    NFT_META_NFPROTO => {
                        let [p] = <[u8; 1]>::try_from(data).ok()?;
                        let l3 = match p {
                            NFPROTO_IPV4 => L3::V4,
                            NFPROTO_IPV6 => L3::V6,
                            _ => return None,
                        };
                        self.family_test(l3, eq_neq?, val);
                        Some(vec![])
                    }
                    NFT_META_PROTOCOL => {
                        let l3 = ethertype(data)?;
                        self.family_test(l3, eq_neq?, val);
                        Some(vec![])
                    }
                    NFT_META_MARK => {
                        let negated = eq_neq?;
                        if !val.xor_is_zero() {
                            return None;
                        }
                        Some(vec![Cond::Mark {
                            value: u32::from_ne_bytes(data.try_into().ok()?),
                            mask: val.mask32()?,
                            negated,
                        }])
                    }
                    _ => None,
                }
            }
            Src::Payload { base, offset, len } => {
                let (base, offset, len) = (*base, *offset, *len);
                if !val.xor_is_zero() || data.len() != usize::try_from(len).ok()? {
                    return None;
                }
                match base {
                    NFT_PAYLOAD_NETWORK_HEADER => {
                        let l3 = self.l3?;
                        let negated = eq_neq?;
                        let (saddr, daddr, proto, width) = match l3 {
                            L3::V4 => (12, 16, 9, 4),
                            L3::V6 => (8, 24, 6, 16),
                        };
                        if offset == proto && len == 1 {
                            if val.mask.is_some() {
                                return None;
                            }
                            if !negated {
                                self.l4proto = Some(data[0]);
                            }
                            return Some(vec![Cond::Proto {
                                proto: data[0],
                                negated,
                            }]);
                        }
                        if (offset != saddr && offset != daddr) || len > width {
                            return None;
                        }
                        let net = prefix_net(l3, data, val.mask.as_deref())?;
                        Some(vec![if offset == saddr {
                            Cond::Src { net, negated }
                        } else {
                            Cond::Dst { net, negated }
                        }])
                    }
                    NFT_PAYLOAD_TRANSPORT_HEADER => {
                        if (offset != 0 && offset != 2) || len != 2 || val.mask.is_some() {
                            return None;
                        }
                        if !self.l4proto.is_some_and(|p| PORT_PROTOS.contains(&p)) {
                            return None;
                        }
                        let p = u16::from_be_bytes(data.try_into().ok()?);
                        let (ports, negated) = match op {
                            0 => (p..=p, false),
                            1 => (p..=p, true),
                            2 => (0..=p.checked_sub(1)?, false),
                            3 => (0..=p, false),
                            4 => (p.checked_add(1)?..=u16::MAX, false),
                            5 => (p..=u16::MAX, false),
                            _ => return None,
                        };
                        Some(vec![port(offset == 0, ports, negated)])
                    }
                    NFT_PAYLOAD_LL_HEADER if offset == 12 && len == 2 => {
                        // Ethernet type (bridge / netdev families).
                        let l3 = ethertype(data)?;
                        self.family_test(l3, eq_neq?, val);
                        Some(vec![])
                    }
                    _ => None,
                }
            }
            Src::Ct(key) => {
                let negated = eq_neq?;
                let v = u32::from_ne_bytes(data.try_into().ok()?);
                match *key {
                    NFT_CT_STATE => {
                        // `ct state established,related`: (state & bits) != 0.
                        // `ct state new`: state == bit (the state has exactly one bit).
                        if !val.xor_is_zero() {
                            return None;
                        }
                        let states = match val.mask32()? {
                            u32::MAX if v.count_ones() == 1 => (ct_states(v)?, negated),
                            m if m != u32::MAX && v == 0 => (ct_states(m)?, !negated),
                            _ => return None,
                        };
                        Some(vec![Cond::CtState {
                            states: states.0,
                            negated: states.1,
                        }])
                    }
                    NFT_CT_STATUS => {
                        // (status & NAT bits) != 0; a packet without a connection ends the
                        // rule either way.
                        let m = val.mask32()?;
                        if !val.xor_is_zero() || v != 0 || m == u32::MAX {
                            return None;
                        }
                        if m & !(IPS_SRC_NAT | IPS_DST_NAT) != 0 || m == 0 {
                            return None;
                        }
                        let mut s = 0;
                        if m & IPS_SRC_NAT != 0 {
                            s |= CtStates::SNAT;
                        }
                        if m & IPS_DST_NAT != 0 {
                            s |= CtStates::DNAT;
                        }
                        let nat = CtStates(s);
                        Some(if negated {
                            // `!= 0`: any of the NAT bits.
                            vec![Cond::CtState {
                                states: nat,
                                negated: false,
                            }]
                        } else {
                            // `== 0`: not NATed, but with a connection.
                            vec![
                                Cond::CtState {
                                    states: CtStates(CtStates::INVALID | CtStates::UNTRACKED),
                                    negated: true,
                                },
                                Cond::CtState {
                                    states: nat,
                                    negated: true,
                                },
                            ]
                        })
                    }
                    NFT_CT_MARK => {
                        if !val.xor_is_zero() {
                            return None;
                        }
                        Some(vec![Cond::ConnMark {
                            value: v,
                            mask: val.mask32()?,
                            negated,
                        }])
                    }
                    _ => None,
                }
            }
            Src::Imm(_) | Src::Opaque(_) => None,
        }
    }

    fn family_test(&mut self, l3: L3, negated: bool, val: &Val) {
        if !negated {
            self.l3 = Some(l3);
        }
        let at = if self.acted() {
            None
        } else {
            Some(self.conds.len())
        };
        self.cond(Cond::Unknown(format!(
            "{} {} {}",
            val.describe(),
            if negated { "!=" } else { "==" },
            match l3 {
                L3::V4 => "ipv4",
                L3::V6 => "ipv6",
            }
        )));
        self.family_tests.push(FamilyTest { l3, negated, at });
    }

    fn lookup(&mut self, attrs: &[Lookup]) {
        let (mut set, mut sreg, mut dreg, mut flags) = (None, None, None, 0);
        for a in attrs {
            match a {
                Lookup::Set(s) => set = Some(s.clone()),
                Lookup::SourceRegister(r) => sreg = Some(*r),
                Lookup::DestinationRegister(r) => dreg = Some(*r),
                Lookup::Flags(f) => flags = *f,
                _ => {}
            }
        }
        let set = set.unwrap_or_else(|| "?".into());
        let key = sreg
            .and_then(|r| self.regs.read(u32::from(r)))
            .map_or_else(|| "an unloaded register".into(), |v| v.describe());
        match dreg {
            Some(Register::Verdict) => {
                self.action(Action::Unknown(format!("{key} vmap @{set}")));
            }
            Some(d) => {
                self.unknown(format!("{key} in map @{set}"));
                self.load(d, None, Src::Opaque(format!("{key} map @{set}")));
            }
            None => self.unknown(format!(
                "{key} {}in @{set}",
                if flags & 1 != 0 { "not " } else { "" }
            )),
        }
    }

    fn other(&mut self, name: &str, attrs: &[DefaultNla]) {
        let a = Attrs(attrs);
        match name {
            "ct" => self.ct(&a),
            "log" => {
                let prefix = a.string(2);
                let what = if a.get(1).is_some() { "NFLOG" } else { "LOG" };
                self.action(Action::Observe(match prefix {
                    Some(p) => format!("{what} --log-prefix \"{p}\""),
                    None => what.to_string(),
                }));
            }
            "nat" => self.nat(&a),
            "masq" => self.masq_redir(&a, true),
            "redir" => self.masq_redir(&a, false),
            "reject" => self.action(Action::Reject),
            "range" => self.range(&a),
            "limit" | "quota" | "connlimit" => self.unknown(name.to_string()),
            "objref" => match a.be32(1) {
                Some(1) => {} // a named counter
                Some(2 | 4 | 5) => {
                    self.unknown(format!("{name} {}", a.string(2).unwrap_or_default()));
                }
                _ => self.action(Action::Unknown(format!(
                    "objref {}",
                    a.string(2).unwrap_or_default()
                ))),
            },
            "match" => {
                let (xname, rev, info) = self.compat(&a);
                match rev {
                    Some(rev) => {
                        for c in xt::decode_match(&xname, rev, &info) {
                            self.cond(c);
                        }
                    }
                    None => self.unknown(format!("-m {xname} (revision missing)")),
                }
            }
            "target" => {
                let (xname, rev, info) = self.compat(&a);
                let act = match rev {
                    Some(rev) => xt::decode_target(&xname, rev, &info, self.family),
                    None => Action::Unknown(format!("{xname} (revision missing)")),
                };
                self.action(act);
            }
            // Pure loaders: their value is tested by a following cmp / lookup.
            "fib" | "rt" | "osf" | "numgen" | "xfrm" | "exthdr" | "socket" | "hash" | "tunnel" => {
                let dreg_attr = match name {
                    "socket" | "hash" | "tunnel" => 2,
                    _ => 1,
                };
                match a.be32(dreg_attr) {
                    Some(d) if !(name == "exthdr" && a.get(7).is_some()) => {
                        self.load(Register::from(d), None, Src::Opaque(name.to_string()));
                    }
                    _ => {
                        let dropped = self.regs.clear();
                        self.note_dropped(dropped);
                        self.action(Action::Unknown(name.to_string()));
                    }
                }
            }
            _ => {
                // notrack, queue, dup, fwd, tproxy, synproxy, flow_offload, dynset, ...:
                // effects not modelled; registers may be anything afterwards.
                let dropped = self.regs.clear();
                self.note_dropped(dropped);
                self.action(Action::Unknown(name.to_string()));
            }
        }
    }

    fn compat(&self, a: &Attrs<'_>) -> (String, Option<u8>, Vec<u8>) {
        let name = a.string(1).unwrap_or_else(|| "?".into());
        let rev = a.be32(2).and_then(|r| u8::try_from(r).ok());
        let info = a.get(3).unwrap_or_default();
        (name, rev, info)
    }

    fn ct(&mut self, a: &Attrs<'_>) {
        let Some(key) = a.be32(2) else {
            self.action(Action::Unknown("ct without a key".into()));
            return;
        };
        let with_dir = a.get(3).is_some();
        if let Some(d) = a.be32(1) {
            let src = if with_dir {
                Src::Opaque(format!("ct {} (one direction)", ct_name(key)))
            } else {
                Src::Ct(key)
            };
            let len = match key {
                NFT_CT_STATE | NFT_CT_STATUS | NFT_CT_MARK => Some(4),
                _ => None,
            };
            self.load(Register::from(d), len, src);
            return;
        }
        let Some(s) = a.be32(4) else {
            self.action(Action::Unknown(format!("ct {}", ct_name(key))));
            return;
        };
        let val = self.regs.read(s);
        let Some(val) = val else {
            self.action(Action::Unknown(format!(
                "ct {} set from an unloaded register",
                ct_name(key)
            )));
            return;
        };
        let act = if key == NFT_CT_MARK {
            match (&val.src, val.mask32(), val.xor32()) {
                (Src::Imm(v), _, _) => {
                    <[u8; 4]>::try_from(v.as_slice())
                        .ok()
                        .map(|b| Action::SetConnMark {
                            value: u32::from_ne_bytes(b),
                            mask: u32::MAX,
                        })
                }
                // ctmark = mark & m
                (Src::Meta(NFT_META_MARK), Some(m), Some(0)) => Some(Action::SaveMark {
                    nfmask: m,
                    ctmask: u32::MAX,
                }),
                // ctmark = (ctmark & m) ^ x
                (Src::Ct(NFT_CT_MARK), Some(m), Some(x)) => {
                    self.needs_connection();
                    Some(Action::SetConnMark { value: x, mask: !m })
                }
                _ => None,
            }
        } else {
            None
        };
        self.action(act.unwrap_or_else(|| {
            Action::Unknown(format!("ct {} set {}", ct_name(key), val.describe()))
        }));
    }

    /// The bytes held by register `r` if an immediate loaded them.
    fn imm(&mut self, r: u32) -> Option<Vec<u8>> {
        match self.regs.read(r)? {
            Val {
                src: Src::Imm(v), ..
            } => Some(v),
            _ => None,
        }
    }

    fn ports(&mut self, lo: Option<u32>, hi: Option<u32>) -> Result<Option<(u16, u16)>, String> {
        let Some(lo) = lo else {
            return Ok(None);
        };
        let p = |b: Vec<u8>| b.get(0..2).map(|x| u16::from_be_bytes([x[0], x[1]]));
        let l = self
            .imm(lo)
            .and_then(p)
            .ok_or("port from a non-constant register")?;
        let h = match hi {
            Some(h) => self
                .imm(h)
                .and_then(p)
                .ok_or("port from a non-constant register")?,
            None => l,
        };
        Ok(Some((l, h)))
    }

    fn nat(&mut self, a: &Attrs<'_>) {
        let kind = a.be32(1);
        let family = a.be32(2);
        let mut flags = a.be32(7).unwrap_or(0);
        let result = (|| -> Result<Action, String> {
            let addrs = match a.be32(3) {
                Some(lo) => {
                    flags |= xt::NF_NAT_RANGE_MAP_IPS;
                    let width = match family {
                        Some(2) => 4,
                        Some(10) => 16,
                        f => return Err(format!("family {f:?}")),
                    };
                    let l = self
                        .imm(lo)
                        .and_then(|b| ip_from(&b, width))
                        .ok_or("address from a non-constant register")?;
                    let h = match a.be32(4) {
                        Some(hi) => self
                            .imm(hi)
                            .and_then(|b| ip_from(&b, width))
                            .ok_or("address from a non-constant register")?,
                        None => l,
                    };
                    Some((l, h))
                }
                None => None,
            };
            let ports = self.ports(a.be32(5), a.be32(6))?;
            if ports.is_some() {
                flags |= xt::NF_NAT_RANGE_PROTO_SPECIFIED;
            }
            let range = xt::nat_range_from(flags, addrs, ports)?;
            match kind {
                Some(0) => Ok(Action::Snat(range)),
                Some(1) => Ok(Action::Dnat(range)),
                k => Err(format!("nat type {k:?}")),
            }
        })();
        self.action(result.unwrap_or_else(|why| Action::Unknown(format!("nat: {why}"))));
    }

    fn masq_redir(&mut self, a: &Attrs<'_>, masq: bool) {
        let (flags_at, min_at, max_at) = if masq { (1, 2, 3) } else { (3, 1, 2) };
        let mut flags = a.be32(flags_at).unwrap_or(0);
        let name = if masq { "masquerade" } else { "redirect" };
        let result = self
            .ports(a.be32(min_at), a.be32(max_at))
            .and_then(|ports| {
                if ports.is_some() {
                    flags |= xt::NF_NAT_RANGE_PROTO_SPECIFIED;
                }
                xt::nat_range_from(flags & !xt::NF_NAT_RANGE_MAP_IPS, None, ports)
            });
        self.action(match result {
            Ok(r) if masq => Action::Masquerade(r),
            Ok(r) => Action::Redirect(r),
            Err(why) => Action::Unknown(format!("{name}: {why}")),
        });
    }

    /// `range`: NFTA_RANGE_SREG 1, OP 2 (0 eq, 1 neq), FROM_DATA 3, TO_DATA 4.
    fn range(&mut self, a: &Attrs<'_>) {
        let val = a.be32(1).and_then(|r| self.regs.read(r));
        let (op, from, to) = (a.be32(2), a.nested_value(3), a.nested_value(4));
        let c = (|| {
            let val = val.as_ref()?;
            let Src::Payload {
                base: NFT_PAYLOAD_TRANSPORT_HEADER,
                offset,
                len: 2,
            } = val.src
            else {
                return None;
            };
            if (offset != 0 && offset != 2) || val.mask.is_some() {
                return None;
            }
            if !self.l4proto.is_some_and(|p| PORT_PROTOS.contains(&p)) {
                return None;
            }
            let lo = u16::from_be_bytes(from.as_deref()?.try_into().ok()?);
            let hi = u16::from_be_bytes(to.as_deref()?.try_into().ok()?);
            let negated = match op? {
                0 => false,
                1 => true,
                _ => return None,
            };
            Some(port(offset == 0, lo..=hi, negated))
        })();
        match c {
            Some(c) => self.cond(c),
            None => self.unknown(format!(
                "{} in range {}-{}",
                val.map_or_else(|| "an unloaded register".into(), |v| v.describe()),
                hex(&from.unwrap_or_default()),
                hex(&to.unwrap_or_default())
            )),
        }
    }

    fn finish(mut self, udata: Option<&[u8]>) -> Rule {
        // Loads never tested nor consumed may still have ended the rule (a missing header,
        // no connection): an unknown condition where they happened.
        let rest = self.regs.clear();
        self.note_dropped(rest);
        let mut late: Vec<(usize, String)> = Vec::new();
        for (at, what) in std::mem::take(&mut self.dangling) {
            let acted = self.actions[..at.min(self.actions.len())]
                .iter()
                .any(|a| !matches!(a, Action::Observe(_)));
            if acted {
                late.push((at, what));
            } else {
                self.conds
                    .push(Cond::Unknown(format!("{what} (loaded, not tested)")));
            }
        }
        late.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        for (at, what) in late {
            self.actions.insert(
                at.min(self.actions.len()),
                Action::Unknown(format!("{what} (loaded, not tested)")),
            );
        }

        // Family tests implied by the table or by an address of that family.
        let mut remove: Vec<usize> = Vec::new();
        for t in &self.family_tests {
            let Some(at) = t.at else { continue };
            if t.negated {
                continue;
            }
            let by_table = matches!(
                (self.family, t.l3),
                (Family::Ipv4, L3::V4) | (Family::Ipv6, L3::V6)
            );
            let by_address = self.conds.iter().any(|c| match c {
                Cond::Src {
                    net,
                    negated: false,
                }
                | Cond::Dst {
                    net,
                    negated: false,
                } => matches!((net, t.l3), (IpNet::V4(_), L3::V4) | (IpNet::V6(_), L3::V6)),
                _ => false,
            });
            if by_table || by_address {
                remove.push(at);
            }
        }
        remove.sort_unstable();
        for at in remove.into_iter().rev() {
            if at < self.conds.len() {
                self.conds.remove(at);
            }
        }

        // `tcp dport >= 1000 tcp dport <= 2000` (older encodings of a range): one range.
        let mut i = 0;
        while i + 1 < self.conds.len() {
            let merged = match (&self.conds[i], &self.conds[i + 1]) {
                (
                    Cond::SrcPort {
                        ports: a,
                        negated: false,
                    },
                    Cond::SrcPort {
                        ports: b,
                        negated: false,
                    },
                ) => Some(port(true, intersect(a, b), false)),
                (
                    Cond::DstPort {
                        ports: a,
                        negated: false,
                    },
                    Cond::DstPort {
                        ports: b,
                        negated: false,
                    },
                ) => Some(port(false, intersect(a, b), false)),
                _ => None,
            };
            if let Some(m) = merged {
                self.conds[i] = m;
                self.conds.remove(i + 1);
            } else {
                i += 1;
            }
        }

        if let Some(c) = udata.and_then(udata_comment) {
            self.conds.push(Cond::Comment(c));
        }
        Rule {
            conds: self.conds,
            actions: self.actions,
        }
    }
}

fn intersect(
    a: &std::ops::RangeInclusive<u16>,
    b: &std::ops::RangeInclusive<u16>,
) -> std::ops::RangeInclusive<u16> {
    *a.start().max(b.start())..=*a.end().min(b.end())
}

fn port(src: bool, ports: std::ops::RangeInclusive<u16>, negated: bool) -> Cond {
    if src {
        Cond::SrcPort { ports, negated }
    } else {
        Cond::DstPort { ports, negated }
    }
}

/// `(v & m1) ^ x1` masked again with `(m2, x2)`: `(v & m1 & m2) ^ ((x1 & m2) ^ x2)`;
/// an immediate is folded.
fn compose(v: Val, m2: &[u8], x2: &[u8]) -> Val {
    if let Src::Imm(bytes) = &v.src
        && v.mask.is_none()
        && bytes.len() == m2.len()
    {
        let folded = bytes
            .iter()
            .zip(m2)
            .zip(x2)
            .map(|((b, m), x)| (b & m) ^ x)
            .collect();
        return Val::of(Src::Imm(folded));
    }
    let n = m2.len();
    let m1 = v.mask.clone().unwrap_or_else(|| vec![0xff; n]);
    let x1 = v.xor.clone().unwrap_or_else(|| vec![0; n]);
    if m1.len() != n || x1.len() != n {
        return Val::of(Src::Opaque(format!(
            "bitwise of different widths over {}",
            v.describe()
        )));
    }
    Val {
        src: v.src,
        mask: Some(m1.iter().zip(m2).map(|(a, b)| a & b).collect()),
        xor: Some(
            x1.iter()
                .zip(m2)
                .zip(x2)
                .map(|((x, m), y)| (x & m) ^ y)
                .collect(),
        ),
    }
}

/// The model's states for a bit set of the nft `ct state` register.
fn ct_states(bits: u32) -> Option<CtStates> {
    let mut s = 0;
    let mut rest = bits;
    for (bit, model) in [
        (NF_CT_STATE_INVALID, CtStates::INVALID),
        (NF_CT_STATE_ESTABLISHED, CtStates::ESTABLISHED),
        (NF_CT_STATE_RELATED, CtStates::RELATED),
        (NF_CT_STATE_NEW, CtStates::NEW),
        (NF_CT_STATE_UNTRACKED, CtStates::UNTRACKED),
    ] {
        if bits & bit != 0 {
            s |= model;
            rest &= !bit;
        }
    }
    (rest == 0).then_some(CtStates(s))
}

fn ethertype(data: &[u8]) -> Option<L3> {
    match u16::from_be_bytes(data.try_into().ok()?) {
        0x0800 => Some(L3::V4),
        0x86dd => Some(L3::V6),
        _ => None,
    }
}

/// An interface name test: the kernel compares `data.len()` bytes of the NUL-padded name.
/// With the terminating NUL inside the data it is the exact name, without it a prefix.
fn iface_from_bytes(data: &[u8]) -> Option<IfaceMatch> {
    if data.len() > 16 {
        return None;
    }
    let (name, prefix) = match data.iter().position(|&b| b == 0) {
        Some(nul) => {
            if data[nul..].iter().any(|&b| b != 0) {
                return None;
            }
            (&data[..nul], false)
        }
        None if data.len() == 16 => return None,
        None => (data, true),
    };
    Some(IfaceMatch {
        name: std::str::from_utf8(name).ok()?.to_string(),
        prefix,
    })
}

/// An address prefix from the first `data.len()` bytes of an address field, masked by
/// `mask` (a prefix mask only; the value must have no bit outside it).
fn prefix_net(l3: L3, data: &[u8], mask: Option<&[u8]>) -> Option<IpNet> {
    let width = match l3 {
        L3::V4 => 4,
        L3::V6 => 16,
    };
    let mut a = [0u8; 16];
    let mut m = [0u8; 16];
    a.get_mut(..data.len())?.copy_from_slice(data);
    match mask {
        Some(mk) if mk.len() == data.len() => m[..mk.len()].copy_from_slice(mk),
        Some(_) => return None,
        None => m[..data.len()].fill(0xff),
    }
    let bits = u128::from_be_bytes(m);
    let prefix = bits.leading_ones();
    let expect = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    if bits != expect || u128::from_be_bytes(a) & !bits != 0 {
        return None;
    }
    let prefix = u8::try_from(prefix).ok()?;
    match l3 {
        L3::V4 => {
            let b: [u8; 4] = a[..width].try_into().ok()?;
            IpNet::new(IpAddr::V4(Ipv4Addr::from(b)), prefix).ok()
        }
        L3::V6 => IpNet::new(IpAddr::V6(Ipv6Addr::from(a)), prefix).ok(),
    }
}

fn ip_from(b: &[u8], width: usize) -> Option<IpAddr> {
    match width {
        4 => Some(IpAddr::V4(Ipv4Addr::from(
            <[u8; 4]>::try_from(b.get(..4)?).ok()?,
        ))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(b.get(..16)?).ok()?,
        ))),
        _ => None,
    }
}

/// The comment of a rule's user data (libnftnl TLVs: type u8, length u8, value; type 0 is
/// the NUL-terminated comment).
fn udata_comment(mut u: &[u8]) -> Option<String> {
    while u.len() >= 2 {
        let (t, l) = (u[0], usize::from(u[1]));
        let v = u.get(2..2 + l)?;
        if t == 0 {
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            return Some(String::from_utf8_lossy(&v[..end]).into_owned());
        }
        u = &u[2 + l..];
    }
    None
}

/// The attributes of an expression the crate leaves undecoded.
struct Attrs<'a>(&'a [DefaultNla]);

impl Attrs<'_> {
    fn get(&self, kind: u16) -> Option<Vec<u8>> {
        let a = self
            .0
            .iter()
            .find(|a| a.kind() & netlink_packet_core::NLA_TYPE_MASK == kind)?;
        let mut v = vec![0; a.value_len()];
        a.emit_value(&mut v);
        Some(v)
    }

    fn be32(&self, kind: u16) -> Option<u32> {
        Some(u32::from_be_bytes(
            self.get(kind)?.as_slice().try_into().ok()?,
        ))
    }

    fn string(&self, kind: u16) -> Option<String> {
        let v = self.get(kind)?;
        let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
        Some(String::from_utf8_lossy(&v[..end]).into_owned())
    }

    /// The NFTA_DATA_VALUE inside a nested data attribute.
    fn nested_value(&self, kind: u16) -> Option<Vec<u8>> {
        let v = self.get(kind)?;
        NlasIterator::new(v.as_slice())
            .filter_map(Result::ok)
            .find(|n: &NlaBuffer<&[u8]>| n.kind() == 1)
            .map(|n| n.value().to_vec())
    }
}
