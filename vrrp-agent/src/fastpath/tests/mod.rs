//! The analysis on Neutron's own rules (the fixture Neutron's code wrote, `tests/fixtures/
//! neutron`) and on variations: each test states which traffic may take the fast path and,
//! when not, which rule or setting the analysis must name.

mod save;

use std::{collections::BTreeMap, net::Ipv4Addr};

use super::{Plan, View, analyse};
use crate::pathstate::{Facts, IfaceConf, IfaceFacts};

const QG: &str = "qg-5f6a7b8c-9d";
const QR: &str = "qr-0a1b2c3d-4e";
const QR2: &str = "qr-1b2c3d4e-5f";
const HA: &str = "ha-2c3d4e5f-60";
const FIP: &str = "203.0.113.20";
const FIXED: &str = "10.0.10.5";
const FIP2: &str = "203.0.113.21";
const FIXED2: &str = "10.0.20.7";

/// Neutron's IPv4 rules for a router with internal ports `qr` and the given floating IPs.
fn neutron(qr: &[&str], fips: &[(&str, &str)], random_fully: bool) -> String {
    let template = include_str!("../../../../tests/fixtures/neutron/ipv4.rules");
    let mut out = String::new();
    for line in template.lines() {
        let line = line
            .replace("{QG}", QG)
            .replace("{GW_IP}", "203.0.113.10")
            .replace(
                "{RANDOM_FULLY}",
                if random_fully { " --random-fully" } else { "" },
            );
        if line.contains("{QR}") {
            for q in qr {
                out.push_str(&line.replace("{QR}", q));
                out.push('\n');
            }
        } else if line.contains("{FLOATING}") {
            for (f, x) in fips {
                out.push_str(&line.replace("{FLOATING}", f).replace("{FIXED}", x));
                out.push('\n');
            }
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn iface(name: &str, ifindex: u32) -> IfaceFacts {
    IfaceFacts {
        name: name.into(),
        ifindex,
        kind: "veth".into(),
        mac: Some([2, 0, 0, 0, 0, ifindex as u8]),
        mtu: 1500,
        up: true,
        xdp_xmit: true,
        tc: vec![],
        conf: IfaceConf {
            forwarding: true,
            ..IfaceConf::default()
        },
    }
}

fn facts() -> Facts {
    Facts {
        all: IfaceConf {
            forwarding: true,
            ..IfaceConf::default()
        },
        ifaces: vec![
            iface("lo", 1),
            iface(HA, 2),
            iface(QR, 3),
            iface(QG, 4),
            iface(QR2, 5),
        ],
        ..Facts::default()
    }
}

struct Router {
    rules: String,
    facts: Facts,
    vips: Vec<(Ipv4Addr, String)>,
    routes: BTreeMap<Ipv4Addr, String>,
    route_candidates: Vec<String>,
}

impl Router {
    fn neutron(random_fully: bool) -> Self {
        Self {
            rules: neutron(&[QR], &[(FIP, FIXED)], random_fully),
            facts: facts(),
            vips: vec![
                ("169.254.0.1".parse().unwrap(), HA.into()),
                ("10.0.10.1".parse().unwrap(), QR.into()),
                ("203.0.113.10".parse().unwrap(), QG.into()),
                (FIP.parse().unwrap(), QG.into()),
            ],
            routes: [(FIXED.parse().unwrap(), QR.to_string())].into(),
            route_candidates: vec![QR.into(), QG.into()],
        }
    }

    /// Adds iptables-save lines (`-I` inserts at the top of the chain) to table `table`.
    fn with(mut self, table: &str, lines: &[&str]) -> Self {
        let marker = format!("*{table}\n");
        let at = self.rules.find(&marker).expect("table") + marker.len();
        let commit = at + self.rules[at..].find("COMMIT").expect("COMMIT");
        let mut extra = String::new();
        for l in lines {
            extra.push_str(l);
            extra.push('\n');
        }
        // Chain declarations first, rules at the end of the table.
        let (decls, rules): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| l.starts_with(':'));
        let mut text = self.rules[..commit].to_string();
        text.insert_str(
            at,
            &decls.iter().map(|d| format!("{d}\n")).collect::<String>(),
        );
        for r in rules {
            text.push_str(r);
            text.push('\n');
        }
        text.push_str(&self.rules[commit..]);
        self.rules = text;
        self
    }

    fn plan(&self) -> Plan {
        let rs = save::parse(&self.rules);
        analyse(&View {
            ruleset: &rs,
            facts: &self.facts,
            vips: &self.vips,
            routes: &self.routes,
            route_candidates: &self.route_candidates,
        })
    }
}

/// The reason the (only) floating IP is off, as text.
fn fip_off(plan: &Plan) -> String {
    assert_eq!(plan.fips.len(), 1, "{plan:#?}");
    match &plan.fips[0].verdict {
        Ok(()) => panic!("the floating IP is eligible: {plan:#?}"),
        Err(b) => b.to_string(),
    }
}

fn fip_on(plan: &Plan) {
    assert!(!plan.fips.is_empty(), "no floating IP found: {plan:#?}");
    for f in &plan.fips {
        if let Err(b) = &f.verdict {
            panic!("{} is off: {b}", f.floating);
        }
    }
}

#[test]
fn neutrons_floating_ips_stay_on_the_kernel_path_while_their_snat_is_random_fully() {
    let plan = Router::neutron(true).plan();
    let why = fip_off(&plan);
    assert!(
        why.contains("chain neutron-l3-agent-float-snat, rule 1")
            && why.contains("--random-fully picks a new source port"),
        "{why}"
    );
    assert_eq!(plan.fips[0].floating, FIP.parse::<Ipv4Addr>().unwrap());
    assert_eq!(plan.fips[0].fixed, FIXED.parse::<Ipv4Addr>().unwrap());
}

#[test]
fn neutrons_floating_ips_are_eligible_without_random_fully_and_metadata_stays_with_the_kernel() {
    let plan = Router::neutron(false).plan();
    fip_on(&plan);
    assert_eq!(plan.fips[0].ext.as_deref(), Some(QG));
    assert_eq!(plan.fips[0].int.as_deref(), Some(QR));
    assert_eq!(
        plan.kernel_addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["169.254.169.254"],
        "the metadata address is redirected to a local proxy"
    );
}

#[test]
fn two_floating_ips_on_two_internal_networks_are_both_eligible() {
    let mut r = Router::neutron(false);
    r.rules = neutron(&[QR, QR2], &[(FIP, FIXED), (FIP2, FIXED2)], false);
    r.vips.push((FIP2.parse().unwrap(), QG.into()));
    r.routes.insert(FIXED2.parse().unwrap(), QR2.into());
    let plan = r.plan();
    fip_on(&plan);
    assert_eq!(plan.fips.len(), 2);
}

#[test]
fn a_drop_rule_in_forward_blocks_the_traffic_it_may_drop_and_is_named() {
    let plan = Router::neutron(false)
        .with(
            "filter",
            &["-I FORWARD -d 10.0.10.5/32 -p tcp --dport 22 -j DROP"],
        )
        .plan();
    let why = fip_off(&plan);
    assert!(
        why.contains("table filter, chain FORWARD, rule 1")
            && why.contains("-d 10.0.10.5/32 -p tcp --dport 22 -j DROP")
            && why.contains("drops it"),
        "{why}"
    );
    // A drop for another address changes nothing.
    let plan = Router::neutron(false)
        .with("filter", &["-I FORWARD -d 10.0.99.9/32 -j DROP"])
        .plan();
    fip_on(&plan);
}

#[test]
fn a_metering_rule_blocks_because_its_counters_would_not_move() {
    // What Neutron's metering agent writes for a label on the router's gateway.
    let plan = Router::neutron(false)
        .with(
            "filter",
            &[
                ":neutron-meter-FORWARD - [0:0]",
                ":neutron-meter-r-4d3c - [0:0]",
                ":neutron-meter-l-4d3c - [0:0]",
                "-I FORWARD -j neutron-meter-FORWARD",
                "-A neutron-meter-FORWARD -j neutron-meter-r-4d3c",
                "-A neutron-meter-r-4d3c -o qg-5f6a7b8c-9d -j neutron-meter-l-4d3c",
                "-A neutron-meter-l-4d3c",
            ],
        )
        .plan();
    let why = fip_off(&plan);
    assert!(
        why.contains("chain neutron-meter-l-4d3c, rule 1")
            && why.contains("`(no match, no target: counts every packet)`")
            && why.contains("metering"),
        "{why}"
    );
}

#[test]
fn an_unknown_match_with_a_drop_blocks_but_with_a_mark_does_not() {
    let plan = Router::neutron(false)
        .with("filter", &["-I FORWARD -m statistic -j DROP"])
        .plan();
    assert!(fip_off(&plan).contains("drops it"));
    // A mark the next rules overwrite anyway (Neutron's mark chain sets the low 16 bits).
    let plan = Router::neutron(false)
        .with(
            "mangle",
            &["-I PREROUTING -m statistic -j MARK --set-xmark 0x8/0xffff"],
        )
        .plan();
    fip_on(&plan);
    // The same mark later, in FORWARD: the hairpin SNAT rule (`! --mark 0x2/0xffff`) would
    // then match, and the analysis must see it.
    let plan = Router::neutron(false)
        .with(
            "mangle",
            &["-I FORWARD -m statistic -j MARK --set-xmark 0x8/0xffff"],
        )
        .plan();
    assert!(
        fip_off(&plan).contains("chain neutron-l3-agent-snat, rule 3"),
        "{}",
        fip_off(&plan)
    );
}

#[test]
fn a_target_the_analysis_does_not_model_blocks() {
    let plan = Router::neutron(false)
        .with("mangle", &["-A FORWARD -p tcp -j TCPMSS"])
        .plan();
    assert!(fip_off(&plan).contains("does something the fast path does not do"));
}

#[test]
fn a_scope_mark_that_does_not_match_drops_inbound_traffic_and_blocks() {
    // The external port in another address scope: the scope filter drops traffic to qr-.
    let plan = Router::neutron(false)
        .with(
            "mangle",
            &["-A neutron-l3-agent-scope -i qg-5f6a7b8c-9d -j MARK --set-xmark 0x5000000/0xffff0000"],
        )
        .plan();
    let why = fip_off(&plan);
    assert!(
        why.contains("chain neutron-l3-agent-scope") && why.contains("drops it"),
        "{why}"
    );
}

#[test]
fn policy_routing_ipsec_tc_reverse_path_filtering_and_forwarding_off_block() {
    let mut r = Router::neutron(false);
    r.facts.extra_rules_v4 = vec!["100: from all fwmark 0x1 lookup 7".into()];
    assert!(fip_off(&r.plan()).contains("policy routing rule"));

    let mut r = Router::neutron(false);
    r.facts.xfrm_policies = 2;
    assert!(fip_off(&r.plan()).contains("IPsec"));

    let mut r = Router::neutron(false);
    r.facts.ifaces[3].tc = vec!["filter ingress u32 police".into()];
    assert!(fip_off(&r.plan()).contains("tc on qg-5f6a7b8c-9d"));

    let mut r = Router::neutron(false);
    r.facts.all.rp_filter = 1;
    assert!(fip_off(&r.plan()).contains("rp_filter 1"));

    let mut r = Router::neutron(false);
    r.facts.ifaces[3].conf.forwarding = false;
    assert!(fip_off(&r.plan()).contains("forwarding is off on qg-5f6a7b8c-9d"));
}

#[test]
fn a_floating_ip_nobody_owns_or_without_a_route_is_not_eligible() {
    let mut r = Router::neutron(false);
    r.vips
        .retain(|(a, _)| *a != FIP.parse::<Ipv4Addr>().unwrap());
    assert!(fip_off(&r.plan()).contains("not a virtual address"));
    let mut r = Router::neutron(false);
    r.routes.clear();
    assert!(fip_off(&r.plan()).contains("no route to its fixed IP"));
}

#[test]
fn a_dnat_without_its_snat_is_no_floating_ip() {
    let plan = Router::neutron(false)
        .with("nat", &["-A neutron-l3-agent-PREROUTING -d 203.0.113.30/32 -j DNAT --to-destination 10.0.10.9"])
        .plan();
    assert_eq!(plan.fips.len(), 1, "{:?}", plan.fips);
}

#[test]
fn east_west_routing_is_eligible_under_neutrons_rules_but_not_through_the_gateway() {
    let mut r = Router::neutron(false);
    r.rules = neutron(&[QR, QR2], &[(FIP, FIXED)], false);
    r.route_candidates.push(QR2.into());
    let plan = r.plan();
    assert!(
        plan.route_ports.contains(QR) && plan.route_ports.contains(QR2),
        "{plan:#?}"
    );
    assert!(!plan.route_ports.contains(QG), "{plan:#?}");
    let why = plan
        .route_blockers
        .iter()
        .find(|(k, _)| k.contains(QG) && k.contains(QR))
        .map(|(_, b)| b.to_string())
        .expect("a reason for qg");
    assert!(why.contains("translates the source"), "{why}");
}

#[test]
fn icmp_errors_count_as_related_packets_of_their_connection() {
    // The fast path translates ICMP errors about a floating IP's connections: a rule that
    // drops related packets must keep the floating IP on the kernel path.
    let plan = Router::neutron(false)
        .with(
            "filter",
            &["-I FORWARD -p icmp -m conntrack --ctstate RELATED -j DROP"],
        )
        .plan();
    let why = fip_off(&plan);
    assert!(
        why.contains("ICMP errors about connections") && why.contains("drops it"),
        "{why}"
    );
    // Dropping new ICMP only changes nothing for established and related packets... but new
    // pings to the floating IP are of the class too.
    let plan = Router::neutron(false)
        .with(
            "filter",
            &["-I FORWARD -p icmp -m conntrack --ctstate NEW -j DROP"],
        )
        .plan();
    assert!(fip_off(&plan).contains("drops it"));
    // Which packets conntrack calls invalid (out of window, bad checksum) the fast path cannot
    // tell: a rule dropping them keeps the class on the kernel path.
    let plan = Router::neutron(false)
        .with(
            "filter",
            &["-I FORWARD -m conntrack --ctstate INVALID -j DROP"],
        )
        .plan();
    assert!(
        fip_off(&plan).contains("--ctstate INVALID -j DROP"),
        "{}",
        fip_off(&plan)
    );
}
