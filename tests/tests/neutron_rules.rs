//! Keeps the Neutron fixture honest: for several routers, the tables Neutron's own code writes
//! (`tests/neutron/l3_rules.py`, PyPI neutron 29.0.0 from the venv `cargo xtask setup` makes)
//! and the tables `vrrp_tests::neutron_rules` loads from `tests/fixtures/neutron/` are the same,
//! `iptables-save` and `ip6tables-save` alike; and changing the floating IPs with
//! `NeutronRouter::set_fips` gives the tables the L3 agent's update path gives. When Neutron's
//! output drifts, this fails: regenerate the fixture (tests/fixtures/neutron/README.md).
//! Needs root (namespaces, iptables) and the Neutron venv; about 2 s per generator run.

use vrrp_tests::{
    netns::NetNs,
    neutron_rules::{Family, NeutronRouter, saved},
    require_root,
};

fn pair(floating: &str, fixed: &str) -> (String, String) {
    (floating.to_string(), fixed.to_string())
}

fn one_fip() -> NeutronRouter {
    NeutronRouter {
        qr: vec![("qr-0a1b2c3d-4e".into(), "10.0.10.1/24".into())],
        qg: "qg-5f6a7b8c-9d".into(),
        gateway_ip: "203.0.113.10".into(),
        fips: vec![pair("203.0.113.20", "10.0.10.5")],
        random_fully: true,
    }
}

/// The same tables in both namespaces, IPv4 and IPv6; returns the IPv4 tables.
fn assert_same_tables(neutron: &NetNs, fixture: &NetNs, what: &str) -> String {
    let mut v4 = String::new();
    for family in [Family::V4, Family::V6] {
        let want = saved(neutron, family);
        let got = saved(fixture, family);
        assert!(
            want.lines().any(|l| l.starts_with("-A neutron-l3-agent-")),
            "{what}: Neutron wrote no {family:?} rules:\n{want}"
        );
        if want != got {
            panic!(
                "{what}: {family:?} tables differ between Neutron's code and the fixture \
                 (regenerate tests/fixtures/neutron, see its README)\n{}",
                line_diff(&want, &got)
            );
        }
        if family == Family::V4 {
            v4 = want;
        }
    }
    v4
}

/// Lines only in `want` (-) or only in `got` (+), then both in full.
fn line_diff(want: &str, got: &str) -> String {
    let mut out = String::new();
    for l in want.lines().filter(|l| !got.lines().any(|g| g == *l)) {
        out.push_str(&format!("- {l}\n"));
    }
    for l in got.lines().filter(|l| !want.lines().any(|w| w == *l)) {
        out.push_str(&format!("+ {l}\n"));
    }
    format!("{out}--- Neutron:\n{want}--- fixture:\n{got}")
}

fn check_install(router: &NeutronRouter, what: &str) -> String {
    require_root();
    let neutron = NetNs::new();
    let fixture = NetNs::new();
    router.via_neutron(&neutron);
    router.install(&fixture);
    assert_same_tables(&neutron, &fixture, what)
}

#[test]
fn fixture_matches_neutron_one_fip() {
    let v4 = check_install(&one_fip(), "one port, one floating IP");
    for rule in [
        "-A neutron-l3-agent-PREROUTING -d 203.0.113.20/32 -j DNAT --to-destination 10.0.10.5",
        "-A neutron-l3-agent-float-snat -s 10.0.10.5/32 -j SNAT --to-source 203.0.113.20 --random-fully",
        "-A neutron-l3-agent-snat -o qg-5f6a7b8c-9d -j SNAT --to-source 203.0.113.10 --random-fully",
    ] {
        assert!(v4.lines().any(|l| l == rule), "missing `{rule}` in\n{v4}");
    }
}

#[test]
fn fixture_matches_neutron_two_ports_two_fips() {
    let router = NeutronRouter {
        qr: vec![
            ("qr-0a1b2c3d-4e".into(), "10.0.10.1/24".into()),
            ("qr-7c8d9e0f-1a".into(), "10.0.20.1/24".into()),
            // The second port is on an IPv6 subnet too: its scope rules go to ip6tables.
            ("qr-7c8d9e0f-1a".into(), "fd00:20::1/64".into()),
        ],
        fips: vec![
            pair("203.0.113.20", "10.0.10.5"),
            pair("203.0.113.21", "10.0.20.6"),
        ],
        ..one_fip()
    };
    let v4 = check_install(&router, "two ports, two floating IPs");
    assert!(v4.contains("-A neutron-l3-agent-scope -o qr-7c8d9e0f-1a"));
}

#[test]
fn fixture_matches_neutron_without_random_fully() {
    let router = NeutronRouter {
        random_fully: false,
        ..one_fip()
    };
    let v4 = check_install(&router, "use_random_fully = false");
    assert!(!v4.contains("--random-fully"), "{v4}");
    assert!(v4.contains("-j SNAT --to-source 203.0.113.10\n"), "{v4}");
}

#[test]
fn set_fips_matches_neutron_update() {
    require_root();
    let router = one_fip();
    let neutron = NetNs::new();
    let fixture = NetNs::new();
    router.via_neutron(&neutron);
    router.install(&fixture);
    assert_same_tables(&neutron, &fixture, "created with one floating IP");

    let two = [
        pair("203.0.113.20", "10.0.10.5"),
        pair("203.0.113.21", "10.0.10.6"),
    ];
    router.set_fips_via_neutron(&neutron, &two);
    router.set_fips(&fixture, &two);
    let v4 = assert_same_tables(&neutron, &fixture, "updated to two floating IPs");
    assert_eq!(v4.matches("-j DNAT").count(), 4, "{v4}");

    let none: [(&str, &str); 0] = [];
    router.set_fips_via_neutron(&neutron, &none);
    router.set_fips(&fixture, &none);
    let v4 = assert_same_tables(&neutron, &fixture, "updated to no floating IP");
    // Neither path leaves a stale floating-IP rule behind.
    assert!(
        !v4.contains("203.0.113.2") && !v4.contains("--to-destination"),
        "{v4}"
    );

    // Back to a router without Neutron: remove leaves no neutron chain.
    NeutronRouter::remove(&fixture);
    for family in [Family::V4, Family::V6] {
        let left = saved(&fixture, family);
        assert!(
            !left.contains("neutron-"),
            "{family:?} after remove:\n{left}"
        );
    }
}
