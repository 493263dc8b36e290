//! The nftables NAT the agent writes for configured floating IPs, loaded by the real `nft` in
//! a namespace: accepted, replaced as a whole, removed. Needs root and `nft`.

use vrrp_agent::{config::FloatingIp, kernel_nat};
use vrrp_tests::netns::NetNs;

fn fip(floating: &str, fixed: &str) -> FloatingIp {
    FloatingIp {
        floating: floating.parse().unwrap(),
        fixed: fixed.parse().unwrap(),
        interface: "qg-1".into(),
    }
}

fn table(ns: &NetNs) -> String {
    let out = ns.exec("nft", &["list", "table", "ip", kernel_nat::TABLE]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_floating_ip_table_is_written_replaced_and_removed() {
    vrrp_tests::require_root();
    let ns = NetNs::new();
    let apply = |fips: &[FloatingIp]| {
        kernel_nat::apply(Some(ns.name()), &kernel_nat::script(fips))
            .unwrap_or_else(|e| panic!("{e}"));
    };
    // Removing a table that is not there is fine.
    apply(&[]);
    apply(&[fip("203.0.113.20", "10.0.10.5")]);
    let t = table(&ns);
    assert!(t.contains("ip daddr 203.0.113.20 dnat to 10.0.10.5"), "{t}");
    assert!(
        t.contains("oifname \"qg-1\" ip saddr 10.0.10.5 snat to 203.0.113.20"),
        "{t}"
    );
    assert_eq!(
        t.matches("dnat to").count(),
        2,
        "prerouting and output: {t}"
    );
    apply(&[
        fip("203.0.113.21", "10.0.10.6"),
        fip("203.0.113.22", "10.0.10.7"),
    ]);
    let t = table(&ns);
    assert!(!t.contains("203.0.113.20"), "replaced as a whole: {t}");
    assert_eq!(t.matches("snat to").count(), 2, "{t}");
    apply(&[]);
    assert_eq!(table(&ns), "", "removed");
}
