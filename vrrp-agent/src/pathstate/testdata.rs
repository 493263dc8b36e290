//! Test support (cfg(test) only): the fixtures captured on a real kernel under
//! `tests/fixtures/netfilter` (iptables-restore inputs, nf_tables dumps, legacy x_tables
//! blobs, as hex lines), and the comparison of a decoded ruleset with the `iptables-save` text
//! of the same rules. Imports `crate::pathstate::ruleset`.

use super::ruleset::{Backend, Cond, Family, Policy, Rule, Ruleset};

/// A fixture file's text.
pub(crate) fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/netfilter/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// One table of `iptables-save` output.
#[derive(Debug, Default)]
pub(crate) struct SaveTable {
    pub name: String,
    /// Chains in the order printed, with the policy of built-in ones.
    pub chains: Vec<(String, Option<Policy>)>,
    /// `-A chain rest` lines: (chain, rest).
    pub rules: Vec<(String, String)>,
}

pub(crate) fn parse_save(text: &str) -> Vec<SaveTable> {
    let mut out: Vec<SaveTable> = Vec::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix('*') {
            out.push(SaveTable {
                name: t.to_string(),
                ..Default::default()
            });
        } else if let Some(c) = line.strip_prefix(':') {
            let mut f = c.split_whitespace();
            let name = f.next().unwrap_or_default().to_string();
            let policy = match f.next() {
                Some("ACCEPT") => Some(Policy::Accept),
                Some("DROP") => Some(Policy::Drop),
                _ => None,
            };
            out.last_mut().expect("table").chains.push((name, policy));
        } else if let Some(r) = line.strip_prefix("-A ") {
            let (chain, rest) = r.split_once(' ').unwrap_or((r, ""));
            out.last_mut()
                .expect("table")
                .rules
                .push((chain.to_string(), rest.to_string()));
        }
    }
    out
}

/// What iptables-save prints that the model has no reason to keep: the name of the match
/// module that holds `--dport` / `--sport` (`-m tcp`, `-m udp`).
pub(crate) fn normalise_save(line: &str) -> String {
    line.replace("-m tcp ", "").replace("-m udp ", "")
}

/// The rule as iptables-save would order it: the `ipt_ip` part (-s, -d, -i, -o, -p) first,
/// then everything else in the rule's order. (iptables-nft encodes `-i` / `-p` before the
/// addresses; the order of ANDed tests does not change what the rule matches.)
pub(crate) fn render(rule: &Rule) -> String {
    let rank = |c: &Cond| match c {
        Cond::Src { .. } => 0,
        Cond::Dst { .. } => 1,
        Cond::InIface { .. } => 2,
        Cond::OutIface { .. } => 3,
        Cond::Proto { .. } => 4,
        _ => 5,
    };
    let mut conds = rule.conds.clone();
    conds.sort_by_key(rank);
    Rule {
        conds,
        actions: rule.actions.clone(),
    }
    .to_string()
}

/// Asserts that `rs` holds table `t` of `backend`/`family` exactly: every chain, the
/// built-in chains' policies, every rule in order rendering as iptables-save's line.
pub(crate) fn assert_table(rs: &Ruleset, backend: Backend, family: Family, t: &SaveTable) {
    let ours: Vec<&str> = rs
        .chains
        .iter()
        .filter(|c| {
            c.chain.backend == backend && c.chain.family == family && c.chain.table == t.name
        })
        .map(|c| c.chain.chain.as_str())
        .collect();
    let mut theirs: Vec<&str> = t.chains.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = ours.clone();
    sorted.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(
        sorted, theirs,
        "chains of {backend:?} {family:?} {}",
        t.name
    );
    for (name, policy) in &t.chains {
        let bases: Vec<_> = rs
            .base_chains
            .iter()
            .filter(|b| {
                b.chain.backend == backend
                    && b.chain.family == family
                    && b.chain.table == t.name
                    && &b.chain.chain == name
            })
            .collect();
        match policy {
            Some(p) => {
                assert_eq!(bases.len(), 1, "{} {name} is a base chain once", t.name);
                assert_eq!(bases[0].policy, *p, "{} {name} policy", t.name);
            }
            None => assert!(bases.is_empty(), "{} {name} is not a base chain", t.name),
        }
        let chain = rs
            .chains
            .iter()
            .find(|c| {
                c.chain.backend == backend
                    && c.chain.family == family
                    && c.chain.table == t.name
                    && &c.chain.chain == name
            })
            .expect("chain");
        let ours: Vec<String> = chain.rules.iter().map(render).collect();
        let theirs: Vec<String> = t
            .rules
            .iter()
            .filter(|(c, _)| c == name)
            .map(|(_, r)| normalise_save(r))
            .collect();
        assert_eq!(ours, theirs, "rules of {} {name}", t.name);
    }
}
