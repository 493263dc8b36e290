//! A short imitation of Neutron's floating-IP NAT: iptables DNAT/SNAT rules with conntrack in
//! the router namespace, the same on every router of an HA group (only the master holds the
//! floating address). Only the forwarding benchmark's own topology (`bench/fwd_topo`) still
//! uses it; the test bed and the tests load the rules Neutron's own code writes
//! ([`crate::neutron_rules::NeutronRouter`]), which differ (marks, scope drops, `--random-fully`
//! SNAT, the metadata redirect).

use crate::netns::NetNs;

/// One floating IP's rules, as `iptables -t nat` argument lists (without `-A`).
pub fn fip_rules(floating: &str, fixed: &str) -> Vec<Vec<String>> {
    let rule = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    vec![
        rule(&format!(
            "PREROUTING -d {floating}/32 -j DNAT --to-destination {fixed}"
        )),
        rule(&format!(
            "OUTPUT -d {floating}/32 -j DNAT --to-destination {fixed}"
        )),
        rule(&format!(
            "POSTROUTING -s {fixed}/32 -j SNAT --to-source {floating}"
        )),
    ]
}

/// The default SNAT of a tenant subnet to the router's external address on `qg`.
pub fn default_snat_rule(subnet: &str, qg: &str, external: &str) -> Vec<String> {
    format!("POSTROUTING -s {subnet} -o {qg} -j SNAT --to-source {external}")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Installs rules in `ns` (appended in order, so floating IPs come before the default SNAT).
/// Panics with iptables' message when a rule is refused.
pub fn install(ns: &NetNs, rules: &[Vec<String>]) {
    for r in rules {
        let mut args = vec!["-w", "-t", "nat", "-A"];
        args.extend(r.iter().map(String::as_str));
        let out = ns.exec("iptables", &args);
        assert!(
            out.status.success(),
            "iptables {} in {}: {}",
            args.join(" "),
            ns.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// Neutron's floating-IP NAT for one client plus the default SNAT of its subnet.
pub fn install_neutron_router(
    ns: &NetNs,
    floating: &str,
    fixed: &str,
    subnet: &str,
    qg: &str,
    external: &str,
) {
    let mut rules = fip_rules(floating, fixed);
    rules.push(default_snat_rule(subnet, qg, external));
    install(ns, &rules);
}

/// Packets that matched the nat table's rules (one line per rule with counters).
pub fn counters(ns: &NetNs) -> String {
    let out = ns.exec("iptables", &["-w", "-t", "nat", "-L", "-n", "-v", "-x"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_translate_both_directions() {
        let r = fip_rules("203.0.113.20", "10.0.10.5");
        assert_eq!(
            r[0].join(" "),
            "PREROUTING -d 203.0.113.20/32 -j DNAT --to-destination 10.0.10.5"
        );
        assert_eq!(
            r[2].join(" "),
            "POSTROUTING -s 10.0.10.5/32 -j SNAT --to-source 203.0.113.20"
        );
        assert_eq!(
            default_snat_rule("10.0.10.0/24", "qg-1", "203.0.113.10").join(" "),
            "POSTROUTING -s 10.0.10.0/24 -o qg-1 -j SNAT --to-source 203.0.113.10"
        );
    }
}
