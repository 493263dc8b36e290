//! Router ids keep routers apart in the maps one agent's program instances share, whatever
//! their namespaces are called. Two router namespaces whose names the old id scheme (a 31-bit
//! hash of the name) mapped to one id, both with the virtual address 169.254.0.1 as Neutron
//! gives every router, under one agent: router A is master alone on its segment, router B is
//! backup on another segment whose master (router C, same agent) has the same address. A's
//! host reaches A's address and C's host reaches C's, each answered once: B's entry (a
//! backup's: not owned) does not shadow A's. The ids are recorded in the pin folder, and an
//! agent restarted after kill -9 finds the same ones. Needs root and the XDP object
//! (`cargo xtask test`).

use std::{collections::HashMap, path::Path, time::Duration};

use nix::sys::signal::Signal;
use vrrp_agent::dataplane::router_ids::legacy_id;
use vrrp_tests::{
    agent::Agent,
    netns::NetNs,
    require_root,
    tempdir::TempDir,
    topo::{Segment, wait_for},
};

const WAIT: Duration = Duration::from_secs(15);
const VIP: &str = "169.254.0.1";
const HOST_IP: &str = "169.254.0.50";

/// Two namespace names of this test process (`vxt-<pid>-...`, so a crashed run's leftovers
/// are reaped) that the old scheme gave the same id.
fn colliding_names() -> (String, String) {
    let prefix = format!("vxt-{}-rid", std::process::id());
    let mut seen: HashMap<u32, String> = HashMap::new();
    for n in 0u32.. {
        let name = format!("{prefix}{n}");
        if let Some(other) = seen.insert(legacy_id(Some(&name)), name.clone()) {
            return (other, name);
        }
    }
    unreachable!()
}

fn instance(name: &str, ns: &NetNs, interface: &str, priority: u8) -> String {
    format!(
        r#"
[[instance]]
name = "{name}"
netns = "{ns}"
interface = "{interface}"
vrid = 1
priority = {priority}
advert_interval = 0.1
virtual_addresses = ["{VIP}/24"]
"#,
        ns = ns.name()
    )
}

/// `ping -c 3` from `ns` to the virtual address: answers received, and whether ping saw
/// duplicates.
fn ping(ns: &NetNs) -> (u32, bool, String) {
    let out = ns.exec("ping", &["-c", "3", "-i", "0.2", "-W", "1", VIP]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let received = text
        .lines()
        .find_map(|l| {
            let (_, rest) = l.split_once("transmitted, ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0);
    (received, text.contains("duplicates"), text)
}

/// The router-id records of an agent's pin folder: namespace name -> id.
fn records(pin_dir: &Path) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir(pin_dir.join("router-ids")) else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(id) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(target) = std::fs::read_link(e.path().join("netns"))
            && let Some(name) = target.to_string_lossy().strip_prefix("ns:")
        {
            out.insert(name.to_string(), id);
        }
    }
    out
}

fn counter(agent: &Agent, instance: &str, name: &str) -> u64 {
    agent
        .instance(instance)
        .and_then(|i| i.dataplane)
        .and_then(|d| d.get(name).copied())
        .unwrap_or(0)
}

#[test]
fn routers_whose_names_collided_keep_their_entries_apart_across_a_restart() {
    require_root();
    let (name_a, name_b) = colliding_names();
    assert_eq!(legacy_id(Some(&name_a)), legacy_id(Some(&name_b)));
    let (a, b, c) = (
        NetNs::named(&name_a, false),
        NetNs::named(&name_b, false),
        NetNs::new(),
    );
    let (host_a, host_c) = (NetNs::new(), NetNs::new());
    // Segment A: router A alone with a host. Segment B: routers B and C with a host.
    let (seg_a, seg_b) = (Segment::new(), Segment::new());
    seg_a.attach_ha_node(&a, "ha-a", 1);
    seg_a.attach(&host_a, "eth0", None);
    seg_b.attach_ha_node(&b, "ha-b", 2);
    seg_b.attach_ha_node(&c, "ha-c", 3);
    seg_b.attach(&host_c, "eth0", None);
    for h in [&host_a, &host_c] {
        h.ip(&["addr", "add", &format!("{HOST_IP}/24"), "dev", "eth0"]);
    }
    // A first, then B: B's entries are written last, as they overwrote A's when the ids were
    // equal.
    let config = [
        instance("router-a", &a, "ha-a", 100),
        instance("router-b", &b, "ha-b", 100),
        instance("router-c", &c, "ha-c", 200),
    ]
    .concat();
    let dir = TempDir::new("rid");
    let pin_dir = dir.bpf_dir().join("node");
    let agent = Agent::run("node", &dir, &config);
    agent.wait_state("router-a", "MASTER", WAIT);
    agent.wait_state("router-c", "MASTER", WAIT);
    agent.wait_state("router-b", "BACKUP", WAIT);

    let check_traffic = |agent: &Agent, when: &str| {
        let (received, dups, text) = ping(&host_a);
        assert_eq!(received, 3, "{when}: router A answers on {VIP}\n{text}");
        assert!(!dups, "{when}: duplicates\n{text}");
        let (received, dups, text) = ping(&host_c);
        assert_eq!(received, 3, "{when}: router C answers on {VIP}\n{text}");
        assert!(!dups, "{when}: duplicates\n{text}");
        assert_eq!(
            counter(agent, "router-a", "not_owned_dropped"),
            0,
            "{when}: router A's traffic judged by another router's entry"
        );
        assert!(counter(agent, "router-a", "vip_passed") >= 3, "{when}");
    };
    check_traffic(&agent, "first run");

    let ids = records(&pin_dir);
    let (id_a, id_b, id_c) = (ids[&name_a], ids[&name_b], ids[c.name()]);
    assert!(
        id_a != id_b && id_b != id_c && id_a != id_c,
        "distinct ids, got {ids:?}"
    );

    // kill -9 and a restart on the same pins: the same ids, the same routers, A resumes.
    agent.signal(Signal::SIGKILL);
    drop(agent);
    let agent = Agent::run("node", &dir, &config);
    agent.wait_state("router-a", "MASTER", WAIT);
    agent.wait_state("router-c", "MASTER", WAIT);
    agent.wait_state("router-b", "BACKUP", WAIT);
    wait_for(WAIT, "the records of the restarted agent", || {
        (records(&pin_dir).len() == 3).then_some(())
    });
    assert_eq!(records(&pin_dir), ids, "the restarted agent's ids");
    check_traffic(&agent, "after kill -9 and restart");
}
