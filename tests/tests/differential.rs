//! Differential tests of the XDP fast path (`vrrp_tests::differential`): the same frames through
//! a Neutron router whose agent runs the fast path and through an identical one whose agent
//! does not; the frames leaving every port must be byte-identical, and the fast twin's
//! counters must show that the fast path carried what it should.
//!
//! Needs root, the agent built with the XDP object (`cargo xtask build`) and nothing else:
//! each scenario builds its own twin routers and wires.

use std::collections::BTreeSet;

use serde_json::Value;
use vrrp_tests::{
    differential::{
        Eligible, Setup, Twins, corpus,
        twin::{FIP1, FIP2, METADATA, QG, QR, QR2},
    },
    flows::ip4,
    require_root,
};

/// The fast twin's `fastpath` section once it is settled; the kernel twin's fast path must be
/// off.
fn settled(twins: &Twins, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let kernel = twins.kernel.fastpath();
    assert!(
        kernel.as_ref().is_none_or(|k| k["enabled"] == false),
        "the kernel twin's fast path is on: {kernel:?}"
    );
    twins
        .fast
        .wait_fastpath(what, |fp| fp["enabled"] == true && cond(fp))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// The status entry of `floating` in a `fastpath` section.
fn fip(fp: &Value, floating: [u8; 4]) -> Value {
    fp["floating_ips"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["floating"] == ip4(floating).as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("{} not in the fast-path status: {fp:#}", ip4(floating)))
}

fn internal_ports() -> Vec<String> {
    vec![QR.to_string(), QR2.to_string()]
}

/// What is eligible with Neutron's rules and the floating IPs `fips` eligible: routing
/// between the internal ports, the metadata address left to the kernel.
fn eligible(fips: &[[u8; 4]]) -> Eligible {
    Eligible {
        fips: fips.iter().copied().collect(),
        route: true,
        kernel_addrs: BTreeSet::from([METADATA]),
    }
}

/// (a) Neutron's full rule set without `--random-fully`: the floating IP and routing between
/// the internal ports are eligible; every port sends the same bytes; the fast path carried
/// every frame of its classes that has a shape it takes.
#[test]
fn neutron_rules_eligible_floating_ip_is_byte_identical_and_fast() {
    require_root();
    let twins = Twins::start(&Setup::neutron(false));
    let fp = settled(&twins, "forwarding the floating IP", |fp| {
        fip(fp, FIP1)["fast"] == true && !strings(&fp["route_ports"]).is_empty()
    });
    eprintln!("fast path: {}", fp["summary"]);
    assert_eq!(fip(&fp, FIP1)["eligible"], true, "{fp:#}");
    assert_eq!(strings(&fp["route_ports"]), internal_ports(), "{fp:#}");
    assert_eq!(strings(&fp["kernel_addrs"]), vec![ip4(METADATA)], "{fp:#}");
    assert!(
        strings(&fp["egress_without_xdp"])
            .iter()
            .all(|i| i != QR && i != QR2 && i != QG)
    );

    let corpus = corpus::standard();
    let run = twins.run(&corpus);
    eprintln!("{}", run.summary());
    eprintln!("normalised:\n{}", run.normalised_frames());
    run.assert_identical();
    let expected = corpus.expected(0..corpus.steps.len(), &eligible(&[FIP1]));
    eprintln!("fast path must have carried {expected:?}");
    assert!(expected.nat_in > 20 && expected.nat_out > 20 && expected.redirected > 50);
    run.assert_fast_counts(0, expected);
}

/// (b) Neutron's defaults (`--random-fully` on its SNAT rules): the floating IP is not
/// eligible and the status names the reason; routing between the internal ports still is.
/// Every port sends the same bytes. Connections a VM opens to the outside are left out of the
/// corpus: with `--random-fully` each twin's kernel picks their source port at random.
#[test]
fn neutron_defaults_with_random_fully_are_not_eligible_and_byte_identical() {
    require_root();
    let twins = Twins::start(&Setup::neutron(true));
    let fp = settled(&twins, "deciding the floating IP", |fp| {
        fip(fp, FIP1)["reason"].is_string() && !strings(&fp["route_ports"]).is_empty()
    });
    eprintln!("fast path: {}", fp["summary"]);
    let f = fip(&fp, FIP1);
    assert_eq!(f["eligible"], false, "{fp:#}");
    assert_eq!(f["fast"], false, "{fp:#}");
    let reason = f["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("--random-fully"), "{reason}");
    assert_eq!(strings(&fp["route_ports"]), internal_ports(), "{fp:#}");

    let corpus = corpus::standard().without_outward();
    let run = twins.run(&corpus);
    eprintln!("{}", run.summary());
    run.assert_identical();
    let expected = corpus.expected(0..corpus.steps.len(), &eligible(&[]));
    assert!(
        expected.redirected > 10,
        "routing still carried: {expected:?}"
    );
    run.assert_fast_counts(0, expected);
}

/// (c) A FORWARD rule drops everything to the fixed IP: the floating IP is not eligible,
/// every port sends the same bytes (nothing reaches the VM in either twin), and the fast path
/// translated nothing.
#[test]
fn a_forward_drop_for_the_fixed_ip_is_not_eligible_and_byte_identical() {
    require_root();
    let setup = Setup {
        extra_rules: Some("*filter\n-I FORWARD -d 10.0.10.5/32 -j DROP\nCOMMIT\n".into()),
        ..Setup::neutron(false)
    };
    let twins = Twins::start(&setup);
    let fp = settled(&twins, "deciding the floating IP", |fp| {
        fip(fp, FIP1)["reason"].is_string()
    });
    eprintln!("fast path: {}", fp["summary"]);
    let f = fip(&fp, FIP1);
    assert_eq!(
        (f["eligible"].clone(), f["fast"].clone()),
        (false.into(), false.into())
    );
    let reason = f["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("DROP") || reason.contains("drop"),
        "{reason}"
    );

    let corpus = corpus::standard();
    let run = twins.run(&corpus);
    eprintln!("{}", run.summary());
    run.assert_identical();
    // Routing between the internal ports may stay eligible, with the dropped address left to
    // the kernel; the fast path must then have carried exactly that.
    let kernel_addrs: BTreeSet<[u8; 4]> = strings(&fp["kernel_addrs"])
        .iter()
        .map(|a| a.parse::<std::net::Ipv4Addr>().expect("address").octets())
        .collect();
    let route = strings(&fp["route_ports"]) == internal_ports();
    if route {
        assert!(kernel_addrs.contains(&[10, 0, 10, 5]), "{fp:#}");
    }
    let expected = corpus.expected(
        0..corpus.steps.len(),
        &Eligible {
            fips: BTreeSet::new(),
            route,
            kernel_addrs,
        },
    );
    run.assert_fast_counts(0, expected);
}

/// The counters of the rule in `chain` (filter table) as (packets, bytes).
fn rule_counters(r: &vrrp_tests::differential::Router, chain: &str) -> (u64, u64) {
    let out = r.iptables(&["-t", "filter", "-L", chain, "-v", "-x", "-n"]);
    let line = out
        .lines()
        .nth(2)
        .unwrap_or_else(|| panic!("no rule in {chain}:\n{out}"));
    let mut it = line
        .split_whitespace()
        .map(|n| n.parse::<u64>().expect(line));
    (it.next().expect(line), it.next().expect(line))
}

/// (d) Neutron's metering agent counts what leaves through the gateway: the floating IP is
/// not eligible (XDP would bypass the counting rule), every port sends the same bytes, and
/// the meter counts the same packets and bytes in both twins.
#[test]
fn a_metering_rule_is_not_eligible_byte_identical_and_counts_alike() {
    require_root();
    let meter = format!(
        "*filter\n:neutron-meter-FORWARD - [0:0]\n:neutron-meter-r-4d3c - [0:0]\n\
         :neutron-meter-l-4d3c - [0:0]\n-I FORWARD -j neutron-meter-FORWARD\n\
         -A neutron-meter-FORWARD -j neutron-meter-r-4d3c\n\
         -A neutron-meter-r-4d3c -o {QG} -j neutron-meter-l-4d3c\n\
         -A neutron-meter-l-4d3c\nCOMMIT\n"
    );
    let setup = Setup {
        extra_rules: Some(meter),
        ..Setup::neutron(false)
    };
    let twins = Twins::start(&setup);
    let fp = settled(&twins, "deciding the floating IP", |fp| {
        fip(fp, FIP1)["reason"].is_string()
    });
    eprintln!("fast path: {}", fp["summary"]);
    let f = fip(&fp, FIP1);
    assert_eq!(
        (f["eligible"].clone(), f["fast"].clone()),
        (false.into(), false.into())
    );
    let reason = f["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("neutron-meter-l-4d3c"), "{reason}");

    let corpus = corpus::standard();
    let run = twins.run(&corpus);
    eprintln!("{}", run.summary());
    run.assert_identical();
    let route = strings(&fp["route_ports"]) == internal_ports();
    run.assert_fast_counts(
        0,
        corpus.expected(
            0..corpus.steps.len(),
            &Eligible {
                route,
                ..eligible(&[])
            },
        ),
    );
    let fast = rule_counters(&twins.fast, "neutron-meter-l-4d3c");
    let kernel = rule_counters(&twins.kernel, "neutron-meter-l-4d3c");
    assert_eq!(
        fast, kernel,
        "meter (packets, bytes): fast twin vs kernel twin"
    );
    assert!(fast.0 > 20, "the meter counted {fast:?}");
}

/// (e) A floating IP is added and later removed while traffic flows, at the same point in
/// both twins: every port sends the same bytes, and the fast path takes the new floating IP
/// while it exists and eligible, and only then.
#[test]
fn a_floating_ip_added_and_removed_while_traffic_flows() {
    require_root();
    let twins = Twins::start(&Setup::neutron(false));
    settled(&twins, "forwarding the floating IP", |fp| {
        fip(fp, FIP1)["fast"] == true
    });
    let corpus = corpus::fip_change();
    let run = twins.run(&corpus);
    eprintln!("{}", run.summary());
    run.assert_identical();
    assert_eq!(run.sections.len(), 3);
    for (i, fips) in [vec![FIP1], vec![FIP1, FIP2], vec![FIP1]]
        .iter()
        .enumerate()
    {
        let steps = run.sections[i].steps.clone();
        let expected = corpus.expected(steps, &eligible(fips));
        assert!(expected.redirected > 0);
        run.assert_fast_counts(i, expected);
    }
}

/// (h) A floating IP added under a connection its fixed IP has open through the default SNAT:
/// the kernel keeps translating that connection to the gateway address, so the fast path must
/// not give its later packets the floating IP. The agent holds the fixed IP's outbound traffic
/// back (inbound goes fast) while conntrack holds such connections.
#[test]
fn a_connection_across_a_floating_ip_addition_is_byte_identical() {
    require_root();
    let twins = Twins::start(&Setup::neutron(false));
    settled(&twins, "forwarding the floating IP", |fp| {
        fip(fp, FIP1)["fast"] == true
    });
    let corpus = corpus::fip_added_under_a_connection();
    let run = twins.run(&corpus);
    eprintln!("{}", run.summary());
    run.assert_identical();
}
