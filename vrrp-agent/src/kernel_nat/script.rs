//! The nftables script that makes the kernel translate a set of floating IPs 1:1: destination
//! NAT of traffic to the floating IP (arriving from anywhere, and from the router itself),
//! source NAT of the fixed IP's traffic leaving through the floating IP's external interface.
//! Ports are kept (no `random`), so the translation is the same for every packet of a
//! connection and for a connection the kernel has never seen: a stateless fast path can do
//! exactly the same. The script replaces the table as a whole in one transaction.

use crate::config::FloatingIp;

/// The table the agent owns in each namespace with floating IPs.
pub const TABLE: &str = "vrrp_agent_fip";

/// The script for `fips` (deduplicated by floating IP, first wins). With none, the script
/// only removes the table (if it exists).
pub fn script(fips: &[FloatingIp]) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let fips: Vec<&FloatingIp> = fips.iter().filter(|f| seen.insert(f.floating)).collect();
    // `add` then `delete` makes the deletion valid whether or not the table exists.
    let mut s = format!("add table ip {TABLE}\ndelete table ip {TABLE}\n");
    if fips.is_empty() {
        return s;
    }
    s.push_str(&format!("table ip {TABLE} {{\n"));
    // Numeric priorities (dstnat -100, srcnat 100): nft before 1.0.7 takes the names only
    // for some hooks.
    for (chain, hook, prio) in [
        ("prerouting", "prerouting", "-100"),
        ("output", "output", "-100"),
    ] {
        s.push_str(&format!(
            "  chain {chain} {{\n    type nat hook {hook} priority {prio}; policy accept;\n"
        ));
        for f in &fips {
            s.push_str(&format!(
                "    ip daddr {} dnat to {}\n",
                f.floating, f.fixed
            ));
        }
        s.push_str("  }\n");
    }
    s.push_str(
        "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n",
    );
    for f in &fips {
        s.push_str(&format!(
            "    oifname \"{}\" ip saddr {} snat to {}\n",
            f.interface, f.fixed, f.floating
        ));
    }
    s.push_str("  }\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fip(floating: &str, fixed: &str, interface: &str) -> FloatingIp {
        FloatingIp {
            floating: floating.parse().unwrap(),
            fixed: fixed.parse().unwrap(),
            interface: interface.into(),
        }
    }

    #[test]
    fn one_floating_ip_is_a_dnat_on_the_way_in_and_a_snat_out_of_its_interface() {
        let s = script(&[fip("203.0.113.20", "10.0.10.5", "qg-1")]);
        assert_eq!(
            s,
            "add table ip vrrp_agent_fip\ndelete table ip vrrp_agent_fip\n\
             table ip vrrp_agent_fip {\n\
             \x20 chain prerouting {\n\
             \x20   type nat hook prerouting priority -100; policy accept;\n\
             \x20   ip daddr 203.0.113.20 dnat to 10.0.10.5\n\
             \x20 }\n\
             \x20 chain output {\n\
             \x20   type nat hook output priority -100; policy accept;\n\
             \x20   ip daddr 203.0.113.20 dnat to 10.0.10.5\n\
             \x20 }\n\
             \x20 chain postrouting {\n\
             \x20   type nat hook postrouting priority 100; policy accept;\n\
             \x20   oifname \"qg-1\" ip saddr 10.0.10.5 snat to 203.0.113.20\n\
             \x20 }\n\
             }\n"
        );
    }

    #[test]
    fn no_floating_ips_removes_the_table_and_duplicates_count_once() {
        assert_eq!(
            script(&[]),
            "add table ip vrrp_agent_fip\ndelete table ip vrrp_agent_fip\n"
        );
        let s = script(&[
            fip("203.0.113.20", "10.0.10.5", "qg-1"),
            fip("203.0.113.20", "10.0.10.6", "qg-1"),
        ]);
        assert_eq!(
            s.matches("dnat to").count(),
            2,
            "prerouting and output, once each"
        );
        assert!(!s.contains("10.0.10.6"));
    }
}
