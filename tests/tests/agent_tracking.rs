//! Health tracking beyond keepalived: the master's external gateway becomes unreachable
//! (its uplink port is cut at the switch, the link stays up) and the router moves to the
//! other node by itself; the backup's gateway probes (from the same qg MAC as the master, as
//! Neutron sets it up) never disturb the master's traffic. Needs root.

use std::time::Duration;

use vrrp_tests::{
    agent::Agent,
    netns::NetNs,
    require_root,
    tempdir::TempDir,
    topo::{Segment, addresses, wait_for},
};

const WAIT: Duration = Duration::from_secs(15);
const QG_MAC: &str = "fa:16:3e:11:22:33";

fn config(ns: &NetNs, priority: u8) -> String {
    format!(
        r#"
[[instance]]
name = "VR_1"
netns = "{ns}"
interface = "ha"
vrid = 1
priority = {priority}
advert_interval = 0.1
preempt = false
virtual_addresses = ["169.254.0.1/24"]
excluded_addresses = ["203.0.113.10/24 dev qg"]
routes = ["0.0.0.0/0 via 203.0.113.1 dev qg protocol static"]
garp = {{ master_delay = 0, master_repeat = 3 }}

[[instance.track_reachability]]
name = "gateway"
address = "203.0.113.1"
interface = "qg"
method = "neighbour"
interval = 0.1
timeout = 0.1
fall = 3
rise = 2
weight = 0
"#,
        ns = ns.name()
    )
}

fn gateway_reaches_vip(gw: &NetNs) -> bool {
    gw.exec("ping", &["-c", "5", "-i", "0.2", "-W", "1", "203.0.113.10"])
        .status
        .success()
}

#[test]
fn the_master_losing_its_gateway_hands_the_router_over() {
    require_root();
    let dir = TempDir::new("tracking");
    let ha = Segment::new();
    let wan = Segment::new();
    let gw = NetNs::new();
    wan.attach(&gw, "eth0", None);
    gw.ip(&["addr", "add", "203.0.113.1/24", "dev", "eth0"]);
    let mut routers = Vec::new();
    let mut wan_ports = Vec::new();
    for i in 0..2 {
        let r = NetNs::new();
        ha.attach_ha_node(&r, "ha", i + 1);
        wan_ports.push(wan.attach(&r, "qg", Some(QG_MAC)));
        routers.push(r);
    }
    let r1 = Agent::run("r1", &dir, &config(&routers[0], 100));
    r1.wait_state("VR_1", "MASTER", WAIT);
    let r2 = Agent::run("r2", &dir, &config(&routers[1], 90));
    r2.wait_state("VR_1", "BACKUP", WAIT);
    wait_for(WAIT, "the gateway check up on both", || {
        let up = |a: &Agent| {
            a.instance("VR_1")
                .is_some_and(|i| i.tracked.iter().any(|t| t.name == "gateway" && t.up))
        };
        (up(&r1) && up(&r2)).then_some(())
    });
    // Both probe the gateway all the time; the master's traffic is not disturbed.
    assert!(
        gateway_reaches_vip(&gw),
        "the gateway reaches the master's VIP"
    );

    // Cut the master's uplink at the switch: carrier stays, the gateway is gone for it.
    wan.isolate_port(&wan_ports[0]);
    let fault = r1.wait_state("VR_1", "FAULT", WAIT);
    let reason = fault.last_transition.unwrap().reason;
    assert!(reason.contains("gateway"), "{reason}");
    assert!(fault.tracked.iter().any(|t| t.name == "gateway" && !t.up));
    let new = r2.wait_state("VR_1", "MASTER", WAIT);
    assert!(
        new.last_transition.unwrap().reason.contains("resigned"),
        "FAULT resigns with priority 0"
    );
    wait_for(WAIT, "the VIP on r2 only", || {
        let on = |r: &NetNs| addresses(r, "qg").contains(&"203.0.113.10/24".to_string());
        (on(&routers[1]) && !on(&routers[0])).then_some(())
    });
    assert!(
        gateway_reaches_vip(&gw),
        "the gateway reaches the VIP through the new master"
    );

    // The uplink comes back: r1 leaves FAULT as BACKUP, and without preemption nothing moves.
    wan.join_port(&wan_ports[0]);
    r1.wait_state("VR_1", "BACKUP", WAIT);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(r2.instance("VR_1").unwrap().state, "MASTER");
    assert!(gateway_reaches_vip(&gw));
}

/// One router tracking the links `tracked` (weight 0: down means FAULT), alone on its HA
/// segment, so that it is MASTER whenever nothing it tracks is down.
fn tracking_config(ns: &NetNs, tracked: &[&str]) -> String {
    let list = tracked
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
[[instance]]
name = "VR_1"
netns = "{ns}"
interface = "ha"
vrid = 1
priority = 100
advert_interval = 0.1
virtual_addresses = ["169.254.0.1/24"]
track_interfaces = [{list}]
"#,
        ns = ns.name()
    )
}

/// A veth pair inside `ns` whose end `name` is tracked; `set_carrier` switches its carrier
/// by taking the peer down or up.
fn trackable_link(ns: &NetNs, name: &str) {
    let peer = format!("{name}-p");
    ns.ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
    ns.ip(&["link", "set", name, "up"]);
    ns.ip(&["link", "set", &peer, "up"]);
}

fn set_carrier(ns: &NetNs, name: &str, up: bool) {
    let peer = format!("{name}-p");
    ns.ip(&["link", "set", &peer, if up { "up" } else { "down" }]);
}

fn reload(agent: &Agent, toml: &str) {
    std::fs::write(agent.config(), toml).expect("write config");
    agent.signal(nix::sys::signal::Signal::SIGHUP);
}

/// A reload that drops one tracked link (which was up) while another one is down: the
/// instance stays in FAULT for the one that is down, and leaves FAULT when it comes back.
/// (The engine once kept its own per-position up/down list across the reload: the link that
/// moved into the dropped one's position inherited its "up", and the change back to up was
/// taken for no change, leaving the router in FAULT for good.)
#[test]
fn a_reload_that_drops_a_tracked_link_keeps_following_the_others() {
    require_root();
    let dir = TempDir::new("track-reload");
    let ha = Segment::new();
    let r = NetNs::new();
    ha.attach_ha_node(&r, "ha", 1);
    trackable_link(&r, "ta");
    trackable_link(&r, "tb");
    let agent = Agent::run("r", &dir, &tracking_config(&r, &["ta", "tb"]));
    agent.wait_state("VR_1", "MASTER", WAIT);

    set_carrier(&r, "tb", false);
    let fault = agent.wait_state("VR_1", "FAULT", WAIT);
    assert!(fault.last_transition.unwrap().reason.contains("tb"));

    reload(&agent, &tracking_config(&r, &["tb"]));
    wait_for(WAIT, "the reload applied (ta no longer tracked)", || {
        agent
            .instance("VR_1")
            .filter(|i| !i.tracked.iter().any(|t| t.name == "ta"))
    });
    let after = agent.instance("VR_1").unwrap();
    assert_eq!(after.state, "FAULT", "tb is still down");
    assert!(
        after.tracked.iter().any(|t| t.name == "tb" && !t.up),
        "status shows tb down: {:?}",
        after.tracked
    );

    set_carrier(&r, "tb", true);
    agent.wait_state("VR_1", "MASTER", WAIT);
}

/// A reload that starts tracking a link that is down already: the instance goes to FAULT at
/// once (the link's state is read, not assumed up), and back when the link comes up.
#[test]
fn a_reload_that_tracks_a_link_that_is_down_faults_the_instance() {
    require_root();
    let dir = TempDir::new("track-add");
    let ha = Segment::new();
    let r = NetNs::new();
    ha.attach_ha_node(&r, "ha", 1);
    trackable_link(&r, "ta");
    let agent = Agent::run("r", &dir, &tracking_config(&r, &[]));
    agent.wait_state("VR_1", "MASTER", WAIT);
    set_carrier(&r, "ta", false);

    reload(&agent, &tracking_config(&r, &["ta"]));
    let fault = agent.wait_state("VR_1", "FAULT", WAIT);
    assert!(fault.last_transition.unwrap().reason.contains("ta"));
    assert!(fault.tracked.iter().any(|t| t.name == "ta" && !t.up));

    set_carrier(&r, "ta", true);
    agent.wait_state("VR_1", "MASTER", WAIT);
}
