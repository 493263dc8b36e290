//! `vrrp_agent::pathstate::read_facts` and `FactsWatch` against the kernel, in namespaces
//! these tests create and change with `ip`, `tc`, `sysctl` and `ethtool`: what a fresh
//! namespace reports, each kind of fact once it is set, a veth's xdp-features following its
//! peer's GRO and XDP program, and the watcher firing for the changes it is subscribed to.
//! Needs root; no eBPF object (the XDP program attached to a veth peer is hand-assembled).

use std::{collections::BTreeSet, time::Duration};

use vrrp_agent::{
    netns,
    pathstate::{ChangeSource, Facts, FactsWatch, IfaceFacts, read_facts},
};
use vrrp_tests::{
    netns::{NetNs, veth},
    rawbpf::{progs, sys::Program},
    require_root,
};

/// How long a notification may take before the watcher counts as broken.
const WAIT: Duration = Duration::from_secs(5);
/// The watcher's timer, long enough never to fire during a test.
const NO_TIMER: Duration = Duration::from_secs(3600);

fn facts(ns: &NetNs) -> Facts {
    read_facts(Some(ns.name())).expect("read_facts")
}

fn iface<'a>(facts: &'a Facts, name: &str) -> &'a IfaceFacts {
    facts
        .iface(name)
        .unwrap_or_else(|| panic!("{name} missing from {facts:#?}"))
}

/// Runs a command in `ns` and fails the test with its stderr if it fails.
fn run(ns: &NetNs, program: &str, args: &[&str]) {
    let out = ns.exec(program, args);
    assert!(
        out.status.success(),
        "{program} {} in {}: {}",
        args.join(" "),
        ns.name(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Two namespaces joined by veth `xa` (in the first) / `xb` (in the second).
fn pair() -> (NetNs, NetNs) {
    let a = NetNs::new();
    let b = NetNs::new();
    veth(&a, "xa", &b, "xb");
    (a, b)
}

#[test]
fn a_fresh_namespace_reports_nothing_in_the_way() {
    require_root();
    let (a, _b) = pair();
    let f = facts(&a);
    assert_eq!(f.extra_rules_v4, Vec::<String>::new());
    assert_eq!(f.extra_rules_v6, Vec::<String>::new());
    assert_eq!(f.xfrm_policies, 0);
    assert!(!f.all.forwarding);
    assert_eq!(f.ifaces.len(), 2, "{f:#?}");
    for i in &f.ifaces {
        assert_eq!(i.tc, Vec::<String>::new(), "tc on {}", i.name);
        assert!(!i.conf.forwarding, "forwarding on {}", i.name);
    }
    let lo = iface(&f, "lo");
    assert_eq!((lo.ifindex, lo.kind.as_str(), lo.up), (1, "", true));
    assert!(!lo.xdp_xmit);
    let xa = iface(&f, "xa");
    assert_eq!(xa.kind, "veth");
    assert!(xa.up);
    assert_eq!(xa.mtu, 1500);
    assert!(xa.mac.is_some_and(|m| m != [0; 6]));
    assert!(
        !xa.xdp_xmit,
        "a veth whose peer has no NAPI takes no redirects"
    );
    assert_eq!(
        f.iface_by_index(xa.ifindex).map(|i| &i.name),
        Some(&xa.name)
    );
}

#[test]
fn policy_rules_appear_as_ip_rule_prints_them() {
    require_root();
    let ns = NetNs::new();
    ns.ip(&[
        "rule",
        "add",
        "pref",
        "100",
        "from",
        "10.0.0.0/8",
        "fwmark",
        "0x1",
        "lookup",
        "42",
    ]);
    ns.ip(&[
        "rule",
        "add",
        "pref",
        "150",
        "from",
        "192.0.2.0/24",
        "lookup",
        "43",
    ]);
    ns.ip(&[
        "-6",
        "rule",
        "add",
        "pref",
        "200",
        "to",
        "2001:db8::/32",
        "iif",
        "lo",
        "blackhole",
    ]);
    let f = facts(&ns);
    assert_eq!(
        f.extra_rules_v4,
        vec![
            "100: from 10.0.0.0/8 fwmark 0x1 lookup 42",
            "150: from 192.0.2.0/24 lookup 43",
        ]
    );
    assert_eq!(
        f.extra_rules_v6,
        vec!["200: from all to 2001:db8::/32 iif lo blackhole"]
    );

    // A default that is gone changes the kernel's lookup too.
    ns.ip(&["rule", "del", "pref", "32767"]);
    let f = facts(&ns);
    assert_eq!(
        f.extra_rules_v4.last().map(String::as_str),
        Some("deleted default: 32767: from all lookup default")
    );
}

#[test]
fn qdiscs_and_filters_appear_on_their_interface() {
    require_root();
    let (a, _b) = pair();
    run(
        &a,
        "tc",
        &[
            "qdisc", "add", "dev", "xa", "root", "handle", "1:", "tbf", "rate", "1mbit", "burst",
            "32kbit", "latency", "400ms",
        ],
    );
    let f = facts(&a);
    assert!(
        iface(&f, "xa")
            .tc
            .contains(&"qdisc tbf 1: root".to_string()),
        "{:?}",
        iface(&f, "xa").tc
    );
    assert_eq!(iface(&f, "lo").tc, Vec::<String>::new());

    run(&a, "tc", &["qdisc", "add", "dev", "xa", "clsact"]);
    run(
        &a,
        "tc",
        &[
            "filter",
            "add",
            "dev",
            "xa",
            "ingress",
            "protocol",
            "ip",
            "pref",
            "10",
            "u32",
            "match",
            "ip",
            "dst",
            "10.9.9.9/32",
            "flowid",
            "1:1",
        ],
    );
    run(
        &a,
        "tc",
        &[
            "filter", "add", "dev", "xa", "egress", "chain", "5", "protocol", "ip", "pref", "20",
            "u32", "match", "u32", "0", "0", "flowid", "1:1",
        ],
    );
    let f = facts(&a);
    let tc = &iface(&f, "xa").tc;
    let has = |prefix: &str| tc.iter().any(|l| l.starts_with(prefix));
    assert!(has("qdisc tbf 1: root"), "{tc:#?}");
    assert!(has("qdisc clsact ffff: parent ffff:fff1"), "{tc:#?}");
    assert!(
        has("filter ingress chain 0 pref 10 protocol ip u32"),
        "{tc:#?}"
    );
    assert!(
        has("filter egress chain 5 pref 20 protocol ip u32"),
        "{tc:#?}"
    );
    assert!(!has("unreadable"), "{tc:#?}");
    assert_eq!(iface(&f, "lo").tc, Vec::<String>::new());

    // Taking it all away leaves nothing behind.
    run(&a, "tc", &["qdisc", "del", "dev", "xa", "clsact"]);
    run(&a, "tc", &["qdisc", "del", "dev", "xa", "root"]);
    assert_eq!(iface(&facts(&a), "xa").tc, Vec::<String>::new());
}

#[test]
fn xfrm_policies_and_blocking_defaults_are_counted() {
    require_root();
    let ns = NetNs::new();
    ns.ip(&[
        "xfrm",
        "policy",
        "add",
        "src",
        "10.1.0.0/16",
        "dst",
        "10.2.0.0/16",
        "dir",
        "fwd",
        "action",
        "block",
    ]);
    assert_eq!(facts(&ns).xfrm_policies, 1);
    let counts = netns::run_in(Some(ns.name()), vrrp_agent::pathstate::xfrm::read_xfrm)
        .unwrap()
        .unwrap();
    assert_eq!((counts.policies, counts.blocking_defaults), (1, 0));

    ns.ip(&[
        "xfrm",
        "policy",
        "setdefault",
        "in",
        "accept",
        "fwd",
        "block",
        "out",
        "accept",
    ]);
    assert_eq!(facts(&ns).xfrm_policies, 2, "a blocking default counts");
    ns.ip(&["xfrm", "policy", "flush"]);
    assert_eq!(facts(&ns).xfrm_policies, 1, "the default still blocks");
}

#[test]
fn ipv4_settings_are_read_inside_the_namespace() {
    require_root();
    let (a, b) = pair();
    a.sysctl("net.ipv4.conf.xa.rp_filter=1");
    a.sysctl("net.ipv4.conf.all.forwarding=1");
    a.sysctl("net.ipv4.conf.xa.accept_local=1");
    a.sysctl("net.ipv4.conf.xa.route_localnet=1");
    a.sysctl("net.ipv4.conf.xa.send_redirects=0");
    let f = facts(&a);
    assert!(f.all.forwarding);
    let xa = iface(&f, "xa").conf;
    assert_eq!(xa.rp_filter, 1);
    assert!(xa.forwarding, "all.forwarding=1 sets every interface's");
    assert!(xa.accept_local && xa.route_localnet && !xa.send_redirects);

    // The other end, in its own namespace, kept the defaults.
    let f = facts(&b);
    assert!(!f.all.forwarding);
    let xb = iface(&f, "xb").conf;
    assert_eq!(xb.rp_filter, 0);
    assert!(!xb.forwarding && !xb.accept_local && !xb.route_localnet && xb.send_redirects);
}

fn xdp_xmit(ns: &NetNs, name: &str) -> bool {
    iface(&facts(ns), name).xdp_xmit
}

#[test]
fn a_veth_takes_redirects_only_while_its_peer_runs_napi() {
    require_root();
    let (a, b) = pair();
    assert!(!xdp_xmit(&a, "xa"));

    run(&b, "ethtool", &["-K", "xb", "gro", "on"]);
    assert!(xdp_xmit(&a, "xa"), "peer GRO on");
    assert!(!xdp_xmit(&b, "xb"), "the peer's own features do not change");
    run(&b, "ethtool", &["-K", "xb", "gro", "off"]);
    assert!(!xdp_xmit(&a, "xa"), "peer GRO off again");

    // An XDP program on the peer (native mode) does the same.
    let xb = iface(&facts(&b), "xb").ifindex;
    let program = Program::load_xdp(&progs::empty(), "pass").expect("load XDP program");
    let link = netns::run_in(Some(b.name()), || program.attach_native(xb))
        .unwrap()
        .expect("attach XDP to xb");
    assert!(xdp_xmit(&a, "xa"), "XDP program on the peer");
    drop(link);
    assert!(!xdp_xmit(&a, "xa"), "XDP program detached from the peer");
}

/// Waits for a change that names `source`; fails the test after [`WAIT`].
async fn wait_for(watch: &mut FactsWatch, source: ChangeSource) -> BTreeSet<ChangeSource> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, watch.changed()).await {
            Ok(Ok(change)) if change.sources.contains(&source) => return change.sources,
            Ok(Ok(_)) => continue,
            Ok(Err(error)) => panic!("watcher failed: {error:?}"),
            Err(_) => panic!("no {source:?} change within {WAIT:?}"),
        }
    }
}

#[tokio::test]
async fn the_watcher_fires_for_rules_tc_xfrm_sysctls_and_xdp_features() {
    require_root();
    let (a, b) = pair();
    let mut watch = FactsWatch::open(Some(a.name()), NO_TIMER).expect("open watcher");
    assert!(
        watch.watches_xdp_features() && watch.watches_xfrm(),
        "{watch:?}"
    );

    a.ip(&["rule", "add", "from", "10.0.0.0/8", "lookup", "42"]);
    wait_for(&mut watch, ChangeSource::Rules).await;

    run(&a, "tc", &["qdisc", "add", "dev", "xa", "clsact"]);
    wait_for(&mut watch, ChangeSource::Tc).await;

    a.ip(&[
        "xfrm",
        "policy",
        "add",
        "src",
        "10.1.0.0/16",
        "dst",
        "10.2.0.0/16",
        "dir",
        "fwd",
        "action",
        "block",
    ]);
    wait_for(&mut watch, ChangeSource::Xfrm).await;

    a.sysctl("net.ipv4.conf.xa.forwarding=1");
    wait_for(&mut watch, ChangeSource::Netconf).await;

    // The peer's GRO lives in the other namespace; xa's xdp-features change in this one.
    run(&b, "ethtool", &["-K", "xb", "gro", "on"]);
    wait_for(&mut watch, ChangeSource::XdpFeatures).await;
    assert!(xdp_xmit(&a, "xa"));
    run(&b, "ethtool", &["-K", "xb", "gro", "off"]);
    wait_for(&mut watch, ChangeSource::XdpFeatures).await;
    assert!(!xdp_xmit(&a, "xa"));
}

/// Writes `lines` to a batch file for `ip -batch` and runs it in `ns`.
fn ip_batch(ns: &NetNs, lines: &[String]) {
    let path = std::env::temp_dir().join(format!("pathstate-batch-{}", ns.name()));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let path_text = path.to_string_lossy().into_owned();
    run(ns, "ip", &["-batch", &path_text]);
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_burst_is_one_change_and_an_overrun_is_a_change() {
    require_root();
    let ns = NetNs::new();
    let mut watch = FactsWatch::open(Some(ns.name()), NO_TIMER).expect("open watcher");

    let burst: Vec<String> = (0..3)
        .map(|i| format!("rule add pref {} from 10.{i}.0.0/16 lookup 42", 100 + i))
        .collect();
    ip_batch(&ns, &burst);
    let sources = tokio::time::timeout(WAIT, watch.changed())
        .await
        .expect("a change")
        .expect("watcher");
    assert_eq!(sources.sources, BTreeSet::from([ChangeSource::Rules]));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), watch.changed())
            .await
            .is_err(),
        "three rules added at once are one change"
    );

    // Far more notifications than the socket buffers while nobody reads: the kernel drops
    // some, the watcher says so, and keeps watching.
    let flood: Vec<String> = (0..5000)
        .map(|i| {
            format!(
                "rule add pref {} from 10.200.{}.{}/32 lookup 43",
                1000 + i,
                i / 250,
                i % 250
            )
        })
        .collect();
    ip_batch(&ns, &flood);
    wait_for(&mut watch, ChangeSource::Overrun).await;
    // Let the tail of the flood pass, then a single change is still seen.
    while tokio::time::timeout(Duration::from_millis(300), watch.changed())
        .await
        .is_ok()
    {}
    ns.ip(&["rule", "add", "pref", "50", "iif", "lo", "lookup", "44"]);
    wait_for(&mut watch, ChangeSource::Rules).await;
    assert_eq!(facts(&ns).extra_rules_v4.len(), 3 + 5000 + 1);
}
