//! The XDP program attached by the real agent to a veth in namespaces this test creates:
//! replayed keepalived captures move the counters by exactly what was sent (passed with the
//! instance registered by `--vrid`, dropped as unknown without it); attach modes,
//! fallback, detach on exit, and clear errors for bad arguments. Needs root.

use std::{collections::BTreeMap, time::Duration};

use nix::sys::signal::Signal;
use serde_json::Value;
use vrrp_agent::{net::PacketSocket, netns::run_in};
use vrrp_tests::{
    agent::Agent,
    fixtures::{self, CAPTURES, Kind},
    netns::{NetNs, veth},
    require_root,
};

const WAIT: Duration = Duration::from_secs(15);

fn xdp_attached(ns: &NetNs, iface: &str) -> Option<&'static str> {
    let link = ns.ip(&["-d", "link", "show", iface]);
    if link.contains("xdpgeneric") {
        Some("generic")
    } else if link.contains("prog/xdp") {
        Some("native")
    } else {
        None
    }
}

fn stat(v: &Value, name: &str) -> u64 {
    v["counters"]["stats"][name].as_u64().unwrap_or(0)
}

/// What one replay of the captures through an agent's XDP program showed.
struct Replay {
    /// The agent's final snapshot.
    last: Value,
    /// Adverts sent per (VRID, version, family), as etherparse classifies them.
    expected: BTreeMap<(u64, u64, &'static str), u64>,
    total: u64,
    others: u64,
}

/// Replays everything keepalived sent in the four captures into a `dataplane-stats` agent
/// started with `extra` arguments, waits until counter `adverts_stat` has seen every advert,
/// stops the agent with SIGTERM and checks that it detached.
fn replay_captures(extra: &[&str], adverts_stat: &str) -> Replay {
    require_root();
    let sender = NetNs::new();
    let router = NetNs::new();
    veth(&sender, "vx-tx", &router, "vx-rx");
    let mut args = vec![
        "dataplane-stats",
        "-i",
        "vx-rx",
        "--netns",
        router.name(),
        "--json",
        "--interval",
        "0.1",
    ];
    args.extend_from_slice(extra);
    let agent = Agent::spawn("agent", &args);
    let first = agent.wait_json(WAIT, "the first snapshot", |v| v["final"] == false);
    assert_eq!(first["interfaces"][0]["interface"], "vx-rx");
    assert_eq!(
        first["interfaces"][0]["mode"], "native",
        "veth supports native XDP"
    );
    assert_eq!(stat(&first, adverts_stat), 0);
    assert_eq!(xdp_attached(&router, "vx-rx"), Some("native"));

    // Everything keepalived sent in the five captures, and what etherparse says it is.
    let frames: Vec<Vec<u8>> = CAPTURES
        .iter()
        .flat_map(vrrp_tests::fixtures::Capture::frames)
        .collect();
    let mut expected: BTreeMap<(u64, u64, &str), u64> = BTreeMap::new();
    let mut others = 0u64;
    for f in &frames {
        match fixtures::kind(f) {
            Kind::Advert {
                vrid,
                version,
                ipv6,
            } => {
                *expected
                    .entry((
                        vrid.into(),
                        version.into(),
                        if ipv6 { "ipv6" } else { "ipv4" },
                    ))
                    .or_default() += 1;
            }
            Kind::Other => others += 1,
        }
    }
    let total: u64 = expected.values().sum();
    assert!(
        total > 250 && others > 50,
        "captures hold {total} adverts, {others} others"
    );

    run_in(Some(sender.name()), || {
        let socket = PacketSocket::open_by_name("vx-tx").expect("packet socket");
        for (i, f) in frames.iter().enumerate() {
            socket.send(f).expect("send frame");
            if i % 32 == 31 {
                // Let the receiving veth's NAPI drain its ring (256 slots) between bursts.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    })
    .expect("enter sender namespace");

    agent.wait_json(WAIT, &format!("{total} adverts counted"), |v| {
        stat(v, adverts_stat) >= total
    });
    agent.signal(Signal::SIGTERM);
    let last = agent.wait_json(WAIT, "the final snapshot", |v| v["final"] == true);
    let mut agent = agent;
    let status = agent.wait_exit(WAIT);
    assert!(
        status.success(),
        "agent exit status {status}\n{}",
        agent.logs()
    );
    assert_eq!(
        xdp_attached(&router, "vx-rx"),
        None,
        "the agent must detach on SIGTERM"
    );
    assert!(agent.logs().contains("XDP program detached"));
    Replay {
        last,
        expected,
        total,
        others,
    }
}

/// The per-(VRID, version, family) counters of a snapshot.
fn adverts_seen(last: &Value) -> BTreeMap<(u64, u64, &'static str), u64> {
    let mut seen = BTreeMap::new();
    for a in last["counters"]["adverts"]
        .as_array()
        .expect("adverts array")
    {
        let family = match a["family"].as_str() {
            Some("ipv4") => "ipv4",
            Some("ipv6") => "ipv6",
            other => panic!("unexpected family {other:?}"),
        };
        seen.insert(
            (
                a["vrid"].as_u64().unwrap(),
                a["version"].as_u64().unwrap(),
                family,
            ),
            a["count"].as_u64().unwrap(),
        );
    }
    seen
}

/// Every kind that drops.
const DROPS: [&str; 11] = [
    "malformed_l2",
    "malformed_l3",
    "malformed_vrrp_truncated",
    "malformed_vrrp_version",
    "malformed_vrrp_length",
    "malformed_vrrp_fragment",
    "advert_bad_ttl",
    "advert_unknown_instance",
    "advert_spoofed",
    "not_owned_dropped",
    "lease_expired_dropped",
];

#[test]
fn replayed_keepalived_captures_move_counters_by_exactly_what_was_sent() {
    // Every replayed advert is of VRID 1 (registered with --vrid) with keepalived's TTL 255,
    // and no VIPs are configured: every advert passes and nothing is dropped.
    let r = replay_captures(&["--vrid", "1"], "adverts");
    assert_eq!(
        adverts_seen(&r.last),
        r.expected,
        "adverts per (VRID, version, family)"
    );
    assert_eq!(stat(&r.last, "adverts"), r.total);
    for kind in DROPS {
        assert_eq!(stat(&r.last, kind), 0, "{kind}");
    }
    // The sender's own kernel also talks on the link (IPv6 DAD, MLD, router solicitations),
    // so "not VRRP" is at least what we replayed.
    assert!(stat(&r.last, "not_vrrp") >= r.others);
}

#[test]
fn replayed_adverts_without_a_configured_instance_are_all_dropped_and_counted() {
    let r = replay_captures(&[], "advert_unknown_instance");
    assert_eq!(stat(&r.last, "advert_unknown_instance"), r.total);
    assert_eq!(stat(&r.last, "adverts"), 0);
    assert!(adverts_seen(&r.last).is_empty(), "no advert passed");
    for kind in DROPS.iter().filter(|k| **k != "advert_unknown_instance") {
        assert_eq!(stat(&r.last, kind), 0, "{kind}");
    }
    assert!(stat(&r.last, "not_vrrp") >= r.others);
}

#[test]
fn generic_mode_on_request_and_fallback_when_the_driver_lacks_native_xdp() {
    require_root();
    let ns = NetNs::new();
    // A bridge device has no native XDP support.
    ns.ip(&["link", "add", "vx-br", "type", "bridge"]);
    ns.ip(&["link", "set", "vx-br", "up"]);

    let auto = Agent::spawn(
        "auto",
        &[
            "dataplane-stats",
            "-i",
            "vx-br",
            "--netns",
            ns.name(),
            "--json",
            "--count",
            "1",
        ],
    );
    let snap = auto.wait_json(WAIT, "a snapshot", |v| v["final"] == false);
    assert_eq!(snap["interfaces"][0]["mode"], "generic");
    let mut auto = auto;
    assert!(auto.wait_exit(WAIT).success());
    assert!(
        auto.logs().contains("falling back to generic mode"),
        "the fallback must be warned about:\n{}",
        auto.logs()
    );
    assert_eq!(xdp_attached(&ns, "vx-br"), None, "detached after --count");

    let mut native = Agent::spawn(
        "native",
        &[
            "dataplane-stats",
            "-i",
            "vx-br",
            "--netns",
            ns.name(),
            "--xdp-mode",
            "native",
        ],
    );
    let status = native.wait_exit(WAIT);
    assert!(!status.success());
    let logs = native.logs();
    assert!(
        logs.contains("cannot attach XDP to `vx-br`") && logs.contains("native mode:"),
        "{logs}"
    );
    assert!(
        logs.contains("no native XDP support"),
        "the kernel's reason, not only aya's `bpf_link_create failed`: {logs}"
    );
    assert!(!logs.contains("panicked"), "{logs}");
    assert_eq!(xdp_attached(&ns, "vx-br"), None);

    let generic = Agent::spawn(
        "generic",
        &[
            "dataplane-stats",
            "-i",
            "vx-br",
            "--netns",
            ns.name(),
            "--xdp-mode",
            "generic",
            "--json",
        ],
    );
    generic.wait_json(WAIT, "a snapshot", |v| {
        v["interfaces"][0]["mode"] == "generic"
    });
    assert_eq!(xdp_attached(&ns, "vx-br"), Some("generic"));

    // A second program on an interface that already has one: refused, with the reason and
    // what to do, and the first one keeps running.
    let mut second = Agent::spawn(
        "second",
        &[
            "dataplane-stats",
            "-i",
            "vx-br",
            "--netns",
            ns.name(),
            "--xdp-mode",
            "generic",
        ],
    );
    assert!(!second.wait_exit(WAIT).success());
    let logs = second.logs();
    assert!(
        logs.contains("another XDP program is already attached to this interface"),
        "{logs}"
    );
    assert!(!logs.contains("panicked"), "{logs}");
    assert_eq!(xdp_attached(&ns, "vx-br"), Some("generic"));
    generic.wait_json(WAIT, "a snapshot after the refused second attach", |v| {
        v["interfaces"][0]["mode"] == "generic"
    });
}

#[test]
fn bad_arguments_give_clear_errors_not_panics() {
    require_root();
    let ns = NetNs::new();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "dataplane-stats",
                "-i",
                "vx-nonexistent",
                "--netns",
                ns.name(),
            ],
            "interface `vx-nonexistent` not found in network namespace",
        ),
        (
            &["dataplane-stats", "-i", "lo", "--netns", "vx-no-such-netns"],
            "network namespace `vx-no-such-netns` not found",
        ),
        (
            &["dataplane-stats", "-i", "lo", "--xdp-mode", "turbo"],
            "unknown XDP mode `turbo`",
        ),
        (
            &["dataplane-stats", "-i", "lo", "--interval", "0"],
            "--interval must be a positive number",
        ),
    ];
    for (args, message) in cases {
        let mut agent = Agent::spawn("bad-args", args);
        let status = agent.wait_exit(WAIT);
        let logs = agent.logs();
        assert!(!status.success(), "{args:?} succeeded");
        assert!(
            logs.contains(message),
            "{args:?}: expected `{message}` in:\n{logs}"
        );
        assert!(!logs.contains("panicked"), "{args:?}:\n{logs}");
    }
}
