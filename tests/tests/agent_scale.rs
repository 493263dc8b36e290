//! One agent serving many router namespaces: two agents, each running 20 instances in 20
//! namespaces of its own (one per router, as Neutron places them), all on one HA segment with
//! VRIDs 1-20. Priorities alternate so each agent must win half of them. Needs root.

use std::{collections::BTreeMap, time::Duration};

use vrrp_tests::{
    agent::Agent,
    netns::NetNs,
    require_root,
    tempdir::TempDir,
    topo::{Segment, addresses, wait_for},
};

const ROUTERS: usize = 20;

fn config(nodes: &[NetNs], node: usize) -> String {
    let mut out = String::new();
    for (r, ns) in nodes.iter().enumerate() {
        let vrid = r + 1;
        // Node 0 wins the odd VRIDs, node 1 the even ones.
        let priority = if (vrid % 2 == 1) == (node == 0) {
            150
        } else {
            100
        };
        out.push_str(&format!(
            r#"
[[instance]]
name = "router-{vrid}"
netns = "{ns}"
interface = "ha"
vrid = {vrid}
priority = {priority}
advert_interval = 0.2
virtual_addresses = ["169.254.0.{vrid}/24"]
"#,
            ns = ns.name(),
        ));
    }
    out
}

#[test]
fn one_agent_serves_twenty_router_namespaces() {
    require_root();
    let dir = TempDir::new("scale");
    let ha = Segment::new();
    let mut per_node = Vec::new();
    for node in 0..2 {
        let mut nss = Vec::new();
        for r in 0..ROUTERS {
            let ns = NetNs::new();
            ha.attach(&ns, "ha", None);
            ns.ip(&[
                "addr",
                "add",
                &format!("169.254.{}.{}/18", 192 + node, r + 1),
                "dev",
                "ha",
            ]);
            nss.push(ns);
        }
        per_node.push(nss);
    }
    let agents: Vec<Agent> = (0..2)
        .map(|n| Agent::run(&format!("node{n}"), &dir, &config(&per_node[n], n)))
        .collect();

    let expected: BTreeMap<usize, usize> = (1..=ROUTERS)
        .map(|vrid| (vrid, if vrid % 2 == 1 { 0 } else { 1 }))
        .collect();
    let masters = wait_for(
        Duration::from_secs(30),
        "every router with its expected master",
        || {
            let mut masters = BTreeMap::new();
            for (n, a) in agents.iter().enumerate() {
                for i in a.status()?.instances {
                    if i.state == "MASTER" {
                        masters.insert(usize::from(i.vrid), n);
                    }
                }
            }
            (masters == expected).then_some(masters)
        },
    );
    assert_eq!(masters.len(), ROUTERS);
    for a in &agents {
        let report = a.status().unwrap();
        assert_eq!(
            report.instances.len(),
            ROUTERS,
            "one agent, {ROUTERS} instances"
        );
        let namespaces: std::collections::BTreeSet<_> =
            report.instances.iter().map(|i| i.netns.clone()).collect();
        assert_eq!(
            namespaces.len(),
            ROUTERS,
            "in {ROUTERS} different namespaces"
        );
    }
    // The VIP of each router exists only in the namespace of its master.
    for vrid in 1..=ROUTERS {
        let vip = format!("169.254.0.{vrid}/24");
        for (n, nss) in per_node.iter().enumerate() {
            let has = addresses(&nss[vrid - 1], "ha").contains(&vip);
            assert_eq!(has, expected[&vrid] == n, "VRID {vrid} on node {n}");
        }
    }
}
