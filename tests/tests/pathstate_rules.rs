//! `vrrp_agent::pathstate` reading netfilter rules back from the kernel, in namespaces these
//! tests create: Neutron's router rules loaded with iptables-restore / ip6tables-restore (nf_tables
//! backend), with the legacy tools, and with both at once, must come back chain for chain and
//! rule for rule as `iptables-save` prints them; a native `nft -f` ruleset with a prefix
//! match, a ct state test, `meta mark set`, `snat ... fully-random`, a named set and a netdev
//! ingress chain decodes to the right model; the generation id, the watcher and the legacy
//! signature notice changes (and the signature ignores counted packets). Needs root, no eBPF
//! object; iptables (nft and legacy tools) and nftables must be installed.

use std::{
    io::Write,
    process::{Command, Stdio},
    time::Duration,
};

use vrrp_agent::pathstate::{
    NftWatcher, PathStateError, legacy_signature, nft_generation, read_ruleset,
    ruleset::{
        Action, Backend, ChainType, Cond, CtStates, Family, Hook, IfaceMatch, Policy, Rule, Ruleset,
    },
};
use vrrp_tests::{netns::NetNs, require_root};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../vrrp-agent/tests/fixtures/netfilter/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs `program args` in `ns` with `input` on its standard input; panics on failure.
fn run_with_input(ns: &NetNs, program: &str, args: &[&str], input: &str) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name(), program])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} in {}: {}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `program args` in `ns`; panics on failure; returns standard output.
fn run(ns: &NetNs, program: &str, args: &[&str]) -> String {
    let out = ns.exec(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} in {}: {}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One table of iptables-save output.
#[derive(Debug, Default)]
struct SaveTable {
    name: String,
    chains: Vec<(String, Option<Policy>)>,
    rules: Vec<(String, String)>,
}

fn parse_save(text: &str) -> Vec<SaveTable> {
    let mut out: Vec<SaveTable> = Vec::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix('*') {
            out.push(SaveTable {
                name: t.to_string(),
                ..Default::default()
            });
        } else if let Some(c) = line.strip_prefix(':') {
            let mut f = c.split_whitespace();
            let name = f.next().unwrap().to_string();
            let policy = match f.next() {
                Some("ACCEPT") => Some(Policy::Accept),
                Some("DROP") => Some(Policy::Drop),
                _ => None,
            };
            out.last_mut().unwrap().chains.push((name, policy));
        } else if let Some(r) = line.strip_prefix("-A ") {
            let (chain, rest) = r.split_once(' ').unwrap_or((r, ""));
            out.last_mut()
                .unwrap()
                .rules
                .push((chain.to_string(), rest.to_string()));
        }
    }
    out
}

/// The harmless differences between iptables-save's text and the model's rendering:
/// - iptables-save names the match module holding a port (`-m tcp --dport 80`); the model
///   has the port test only (`--dport 80`): `-m tcp ` / `-m udp ` are removed from its line;
/// - iptables-save prints the `ipt_ip` part first (-s, -d, -i, -o, -p) while iptables-nft
///   encodes `-i` and `-p` before the addresses; the order of ANDed tests does not change the
///   rule, so the model's conditions are put in iptables-save's order before rendering.
///
/// Nothing else is normalised: addresses keep `/32` and `/128` on both sides, hex is
/// lower case on both sides, targets, masks, inversions and comments must be identical.
fn normalise_save(line: &str) -> String {
    line.replace("-m tcp ", "").replace("-m udp ", "")
}

fn render(rule: &Rule) -> String {
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

/// Every chain of `save` is in `rs` (and no other of that table), built-in ones as base
/// chains with their policy, and every rule in order renders as iptables-save's line.
fn assert_matches_save(rs: &Ruleset, backend: Backend, family: Family, save: &str) {
    let tables = parse_save(save);
    assert!(!tables.is_empty(), "empty save output");
    for t in &tables {
        let mut ours: Vec<&str> = rs
            .chains
            .iter()
            .filter(|c| {
                c.chain.backend == backend && c.chain.family == family && c.chain.table == t.name
            })
            .map(|c| c.chain.chain.as_str())
            .collect();
        let mut theirs: Vec<&str> = t.chains.iter().map(|(n, _)| n.as_str()).collect();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "chains of {backend:?} {family:?} {}", t.name);
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
                    assert_eq!(bases.len(), 1, "{} {name}: one base chain", t.name);
                    assert_eq!(bases[0].policy, *p, "{} {name} policy", t.name);
                }
                None => assert!(bases.is_empty(), "{} {name} is a user chain", t.name),
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
                .unwrap();
            let ours: Vec<String> = chain.rules.iter().map(render).collect();
            let theirs: Vec<String> = t
                .rules
                .iter()
                .filter(|(c, _)| c == name)
                .map(|(_, r)| normalise_save(r))
                .collect();
            assert_eq!(
                ours, theirs,
                "{backend:?} {family:?} {} {name}: rules in order",
                t.name
            );
        }
    }
}

fn chains_of(rs: &Ruleset, backend: Backend) -> usize {
    rs.chains
        .iter()
        .filter(|c| c.chain.backend == backend)
        .count()
}

/// The legacy tables the namespace has (reading must not create any).
fn legacy_tables(ns: &NetNs) -> String {
    run(ns, "cat", &["/proc/net/ip_tables_names"])
        + &run(ns, "cat", &["/proc/net/ip6_tables_names"])
}

#[test]
fn neutron_rules_loaded_with_iptables_nft_read_back_as_iptables_save_prints_them() {
    require_root();
    let ns = NetNs::new();
    run_with_input(&ns, "iptables-restore", &[], &fixture("neutron-v4.rules"));
    run_with_input(&ns, "ip6tables-restore", &[], &fixture("neutron-v6.rules"));
    let rs = read_ruleset(Some(ns.name())).expect("read_ruleset");
    assert_matches_save(
        &rs,
        Backend::Nftables,
        Family::Ipv4,
        &run(&ns, "iptables-save", &[]),
    );
    assert_matches_save(
        &rs,
        Backend::Nftables,
        Family::Ipv6,
        &run(&ns, "ip6tables-save", &[]),
    );
    assert_eq!(chains_of(&rs, Backend::Legacy), 0);
    // Reading never instantiated a legacy table.
    assert_eq!(legacy_tables(&ns), "");

    // The model itself for the rules Neutron's NAT depends on.
    let chain = |t: &str, c: &str| {
        rs.chains
            .iter()
            .find(|x| x.chain.family == Family::Ipv4 && x.chain.table == t && x.chain.chain == c)
            .unwrap()
    };
    let redirect = &chain("nat", "neutron-l3-agent-PREROUTING").rules[0];
    assert!(redirect.conds.contains(&Cond::InIface {
        iface: IfaceMatch {
            name: "qr-".into(),
            prefix: true
        },
        negated: false
    }));
    let snat = &chain("nat", "neutron-l3-agent-snat").rules[2];
    assert!(snat.conds.contains(&Cond::CtState {
        states: CtStates(CtStates::DNAT),
        negated: false
    }));
    assert!(matches!(&snat.actions[..], [Action::Snat(r)] if r.random_fully));
    let save = &chain("mangle", "neutron-l3-agent-POSTROUTING").rules[0];
    assert_eq!(
        save.actions,
        vec![Action::SaveMark {
            nfmask: 0xffff_0000,
            ctmask: 0xffff_0000
        }]
    );
    let mark = &chain("mangle", "neutron-l3-agent-scope").rules[0];
    assert_eq!(
        mark.actions,
        vec![Action::SetMark {
            value: 0x0400_0000,
            mask: 0xffff_0000
        }]
    );
    let bottom = &chain("nat", "neutron-postrouting-bottom").rules[0];
    assert!(matches!(&bottom.conds[..], [Cond::Comment(c)] if c.starts_with("Perform source NAT")));
}

#[test]
fn neutron_rules_loaded_with_iptables_legacy_read_back_as_iptables_legacy_save_prints_them() {
    require_root();
    let ns = NetNs::new();
    run_with_input(
        &ns,
        "iptables-legacy-restore",
        &[],
        &fixture("neutron-v4.rules"),
    );
    run_with_input(
        &ns,
        "ip6tables-legacy-restore",
        &[],
        &fixture("neutron-v6.rules"),
    );
    let rs = read_ruleset(Some(ns.name())).expect("read_ruleset");
    assert_matches_save(
        &rs,
        Backend::Legacy,
        Family::Ipv4,
        &run(&ns, "iptables-legacy-save", &[]),
    );
    assert_matches_save(
        &rs,
        Backend::Legacy,
        Family::Ipv6,
        &run(&ns, "ip6tables-legacy-save", &[]),
    );
    assert_eq!(chains_of(&rs, Backend::Nftables), 0);
    let mangle_out = rs
        .base_chains
        .iter()
        .find(|b| {
            b.chain.family == Family::Ipv4 && b.chain.table == "mangle" && b.hook == Hook::Output
        })
        .unwrap();
    assert_eq!(
        (mangle_out.priority, mangle_out.chain_type),
        (-150, ChainType::Route)
    );
}

#[test]
fn both_backends_at_once_run_in_priority_order() {
    require_root();
    let ns = NetNs::new();
    run_with_input(&ns, "iptables-restore", &[], &fixture("neutron-v4.rules"));
    run_with_input(
        &ns,
        "iptables-legacy-restore",
        &[],
        &fixture("neutron-v4.rules"),
    );
    let rs = read_ruleset(Some(ns.name())).expect("read_ruleset");
    assert_matches_save(
        &rs,
        Backend::Nftables,
        Family::Ipv4,
        &run(&ns, "iptables-save", &[]),
    );
    assert_matches_save(
        &rs,
        Backend::Legacy,
        Family::Ipv4,
        &run(&ns, "iptables-legacy-save", &[]),
    );
    let order = |hook| -> Vec<(String, Backend, i32)> {
        rs.hook_chains(hook, false)
            .iter()
            .map(|b| (b.chain.table.clone(), b.chain.backend, b.priority))
            .collect()
    };
    let t = |n: &str, b, p| (n.to_string(), b, p);
    assert_eq!(
        order(Hook::Prerouting),
        [
            t("raw", Backend::Nftables, -300),
            t("raw", Backend::Legacy, -300),
            t("mangle", Backend::Nftables, -150),
            t("mangle", Backend::Legacy, -150),
            t("nat", Backend::Nftables, -100),
            t("nat", Backend::Legacy, -100),
        ]
    );
    assert_eq!(
        order(Hook::Postrouting),
        [
            t("mangle", Backend::Nftables, -150),
            t("mangle", Backend::Legacy, -150),
            t("nat", Backend::Nftables, 100),
            t("nat", Backend::Legacy, 100),
        ]
    );
    assert!(rs.hook_chains(Hook::Prerouting, true).is_empty());
}

#[test]
fn a_native_nft_ruleset_decodes_to_the_model() {
    require_root();
    let ns = NetNs::new();
    ns.ip(&[
        "link", "add", "vxd0", "type", "veth", "peer", "name", "vxd1",
    ]);
    run_with_input(&ns, "nft", &["-f", "-"], &fixture("native.nft"));
    let rs = read_ruleset(Some(ns.name())).expect("read_ruleset");
    let rules = |t: &str, c: &str| -> Vec<Rule> {
        rs.chains
            .iter()
            .find(|x| x.chain.table == t && x.chain.chain == c)
            .unwrap_or_else(|| panic!("{t} {c}"))
            .rules
            .clone()
    };
    let pre = rules("vxnative", "pre");
    assert_eq!(pre.len(), 5);
    // iifname "qr-*" ip saddr 10.0.0.0/8 ct state established,related accept
    assert_eq!(
        pre[0],
        Rule {
            conds: vec![
                Cond::InIface {
                    iface: IfaceMatch {
                        name: "qr-".into(),
                        prefix: true
                    },
                    negated: false
                },
                Cond::Src {
                    net: "10.0.0.0/8".parse().unwrap(),
                    negated: false
                },
                Cond::CtState {
                    states: CtStates(CtStates::ESTABLISHED | CtStates::RELATED),
                    negated: false
                },
            ],
            actions: vec![Action::Accept],
        }
    );
    // ip daddr @blocked drop: the lookup is unknown, the verdict is not.
    assert!(
        pre[2]
            .conds
            .iter()
            .any(|c| matches!(c, Cond::Unknown(w) if w.contains("@blocked")))
    );
    assert_eq!(pre[2].actions, vec![Action::Drop]);
    // meta mark set 0x10
    assert_eq!(
        pre[3],
        Rule {
            conds: vec![],
            actions: vec![Action::SetMark {
                value: 0x10,
                mask: u32::MAX
            }]
        }
    );
    let post = rules("vxnative", "post");
    assert_eq!(
        post[0].to_string(),
        "-o qg-1 -s 10.0.10.0/24 -j SNAT --to-source 203.0.113.10 --random-fully"
    );
    assert!(matches!(&post[0].actions[..], [Action::Snat(r)] if r.random_fully && !r.random));
    let ing = rs
        .base_chains
        .iter()
        .find(|b| b.chain.table == "vxdev")
        .expect("netdev base chain");
    assert_eq!(
        (
            ing.chain.family,
            ing.hook,
            ing.device.as_deref(),
            ing.policy
        ),
        (Family::Netdev, Hook::Ingress, Some("vxd0"), Policy::Drop)
    );
    let nat = rs
        .base_chains
        .iter()
        .find(|b| b.chain.chain == "post")
        .unwrap();
    assert_eq!(
        (nat.chain.family, nat.hook, nat.priority, nat.chain_type),
        (Family::Inet, Hook::Postrouting, 100, ChainType::Nat)
    );
}

#[test]
fn the_generation_changes_when_a_rule_is_added() {
    require_root();
    let ns = NetNs::new();
    let g0 = nft_generation(Some(ns.name())).expect("generation");
    assert_eq!(
        nft_generation(Some(ns.name())).unwrap(),
        g0,
        "stable at rest"
    );
    run(&ns, "iptables", &["-A", "INPUT", "-p", "udp", "-j", "DROP"]);
    let g1 = nft_generation(Some(ns.name())).unwrap();
    assert_ne!(g0, g1);
    // The read sees the rule.
    let rs = read_ruleset(Some(ns.name())).unwrap();
    let input = rs
        .chains
        .iter()
        .find(|c| c.chain.table == "filter" && c.chain.chain == "INPUT")
        .unwrap();
    assert_eq!(input.rules.len(), 1);
    assert_eq!(input.rules[0].to_string(), "-p udp -j DROP");
}

#[test]
fn the_watcher_fires_once_per_change() {
    require_root();
    let ns = NetNs::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut w = NftWatcher::open(Some(ns.name())).expect("watcher");
        // Nothing happens: nothing fires.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), w.changed())
                .await
                .is_err()
        );
        run(&ns, "iptables", &["-A", "INPUT", "-j", "ACCEPT"]);
        let change = tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .expect("a notification")
            .expect("no error");
        assert!(change.messages > 0, "{change:?}");
        // The burst was drained at once: no second notification for the same transaction.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), w.changed())
                .await
                .is_err()
        );
        // A change in another namespace is not this one's.
        let other = NetNs::new();
        run(&other, "iptables", &["-A", "INPUT", "-j", "ACCEPT"]);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), w.changed())
                .await
                .is_err()
        );
        run(&ns, "nft", &["add table ip vxw"]);
        let change = tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .expect("a second notification")
            .unwrap();
        assert!(change.messages > 0);

        // Far more notifications than the socket buffers while nobody reads: the kernel
        // drops some, the watcher reports an overrun as a change, and keeps watching.
        let mut flood = String::from("add chain ip vxw c\n");
        for i in 0..20_000 {
            flood.push_str(&format!(
                "add rule ip vxw c ip saddr 10.{}.{}.1 counter\n",
                i / 250,
                i % 250
            ));
        }
        run_with_input(&ns, "nft", &["-f", "-"], &flood);
        let mut overrun = false;
        while let Ok(change) = tokio::time::timeout(Duration::from_millis(500), w.changed()).await {
            overrun |= change.expect("an overrun is not an error").overrun;
        }
        assert!(overrun, "20000 notifications unread overran the socket");
        run(&ns, "iptables", &["-A", "INPUT", "-j", "DROP"]);
        let change = tokio::time::timeout(Duration::from_secs(5), w.changed())
            .await
            .expect("still watching after the overrun")
            .unwrap();
        assert!(change.messages > 0 && !change.overrun, "{change:?}");
    });
}

#[test]
fn the_legacy_signature_sees_rules_and_not_counters() {
    require_root();
    let ns = NetNs::new();
    let empty = legacy_signature(Some(ns.name())).expect("signature");
    // Asking did not create a table.
    assert_eq!(legacy_tables(&ns), "");
    run(
        &ns,
        "iptables-legacy",
        &["-A", "OUTPUT", "-o", "lo", "-p", "icmp", "-j", "ACCEPT"],
    );
    let one = legacy_signature(Some(ns.name())).unwrap();
    assert_ne!(empty, one);
    run(&ns, "ping", &["-c", "3", "-i", "0.2", "-q", "127.0.0.1"]);
    let counted = run(&ns, "iptables-legacy", &["-L", "OUTPUT", "-v", "-n", "-x"]);
    let packets: u64 = counted
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("ACCEPT"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("counter line");
    assert!(packets >= 3, "the rule counted the pings: {counted}");
    assert_eq!(
        legacy_signature(Some(ns.name())).unwrap(),
        one,
        "counted packets do not change the signature"
    );
    run(
        &ns,
        "iptables-legacy",
        &["-I", "OUTPUT", "-s", "10.9.9.9", "-j", "DROP"],
    );
    assert_ne!(legacy_signature(Some(ns.name())).unwrap(), one);
    // And the reader sees both rules.
    let rs = read_ruleset(Some(ns.name())).unwrap();
    let out = rs
        .chains
        .iter()
        .find(|c| c.chain.backend == Backend::Legacy && c.chain.chain == "OUTPUT")
        .unwrap();
    assert_eq!(
        out.rules
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["-s 10.9.9.9/32 -j DROP", "-o lo -p icmp -j ACCEPT"]
    );
}

#[test]
fn a_missing_namespace_is_an_error() {
    require_root();
    assert!(matches!(
        read_ruleset(Some("vxt-no-such-namespace")),
        Err(PathStateError::Netns(_))
    ));
}
