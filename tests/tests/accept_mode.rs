//! RFC 9568 Accept_Mode end to end: a real agent, master of one router namespace, with a host
//! on the router's LAN. With `accept = false` (priority below 255) the master still answers
//! ARP for its virtual address, so the host resolves it, but a ping to it gets no reply: the
//! XDP program drops what the master must not accept and counts it; the router's own address
//! answers. With `accept = true` (the default) the ping to the virtual address is answered.
//! Needs root and the XDP object (`cargo xtask test`).

use std::time::Duration;

use vrrp_tests::{
    agent::Agent,
    netns::{NetNs, veth},
    require_root,
    tempdir::TempDir,
    topo::addresses,
};

const WAIT: Duration = Duration::from_secs(15);
const VIP: &str = "10.0.5.1";
const ROUTER_IP: &str = "10.0.5.2";
const HOST_IP: &str = "10.0.5.10";

/// A router namespace and a host on its LAN, one veth between them.
struct Lan {
    router: NetNs,
    host: NetNs,
}

impl Lan {
    fn new() -> Self {
        let router = NetNs::new();
        let host = NetNs::new();
        veth(&router, "lan", &host, "eth0");
        router.ip(&["addr", "add", &format!("{ROUTER_IP}/24"), "dev", "lan"]);
        host.ip(&["addr", "add", &format!("{HOST_IP}/24"), "dev", "eth0"]);
        Self { router, host }
    }

    /// The agent's configuration: one instance on `lan`, alone, so it becomes master.
    fn config(&self, accept: bool) -> String {
        format!(
            r#"
[[instance]]
name = "lan-gw"
netns = "{ns}"
interface = "lan"
vrid = 7
priority = 100
advert_interval = 0.1
accept = {accept}
virtual_addresses = ["{VIP}/24"]
"#,
            ns = self.router.name()
        )
    }

    /// Pings `to` from the host three times: how many answers came back.
    fn ping(&self, to: &str) -> (u32, String) {
        let out = self
            .host
            .exec("ping", &["-c", "3", "-i", "0.2", "-W", "1", to]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let received = text
            .lines()
            .find_map(|l| {
                let (_, rest) = l.split_once("transmitted, ")?;
                rest.split_whitespace().next()?.parse().ok()
            })
            .unwrap_or(0);
        (received, text)
    }

    /// The host's neighbour entry for the virtual address: the MAC it resolved, if any.
    fn resolved_mac(&self) -> Option<String> {
        let json = self.host.ip(&["-j", "neigh", "show", VIP, "dev", "eth0"]);
        let v: serde_json::Value = serde_json::from_str(&json).expect("ip -j neigh");
        v.as_array()?
            .iter()
            .find_map(|e| e["lladdr"].as_str().map(str::to_string))
    }

    fn router_mac(&self) -> String {
        let json = self.router.ip(&["-j", "link", "show", "lan"]);
        let v: serde_json::Value = serde_json::from_str(&json).expect("ip -j link");
        v[0]["address"].as_str().expect("MAC").to_string()
    }
}

/// Starts the agent and waits for it to be master with the virtual address on `lan`.
fn master(lan: &Lan, dir: &TempDir, accept: bool) -> Agent {
    let agent = Agent::run("gw", dir, &lan.config(accept));
    agent.wait_state("lan-gw", "MASTER", WAIT);
    assert!(
        addresses(&lan.router, "lan").contains(&format!("{VIP}/24")),
        "the master holds {VIP}"
    );
    agent
}

fn counter(agent: &Agent, name: &str) -> u64 {
    agent
        .instance("lan-gw")
        .and_then(|i| i.dataplane)
        .and_then(|d| d.get(name).copied())
        .unwrap_or(0)
}

#[test]
fn without_accept_mode_the_master_resolves_its_address_but_does_not_answer_on_it() {
    require_root();
    let lan = Lan::new();
    let dir = TempDir::new("accept-off");
    let agent = master(&lan, &dir, false);

    let (received, text) = lan.ping(VIP);
    assert_eq!(received, 0, "a ping to {VIP} must go unanswered\n{text}");
    assert_eq!(
        lan.resolved_mac().as_deref(),
        Some(lan.router_mac().as_str()),
        "ARP for {VIP} is answered by the master"
    );
    let dropped = counter(&agent, "accept_mode_dropped");
    assert!(dropped >= 3, "3 echo requests counted, got {dropped}");
    assert_eq!(counter(&agent, "not_owned_dropped"), 0);
    // The router's own address is no virtual address: it answers.
    let (received, text) = lan.ping(ROUTER_IP);
    assert_eq!(received, 3, "{ROUTER_IP} answers\n{text}");
    assert_eq!(
        counter(&agent, "accept_mode_dropped"),
        dropped,
        "nothing for {ROUTER_IP} was dropped"
    );
}

#[test]
fn with_accept_mode_the_master_answers_on_its_address() {
    require_root();
    let lan = Lan::new();
    let dir = TempDir::new("accept-on");
    let agent = master(&lan, &dir, true);

    let (received, text) = lan.ping(VIP);
    assert_eq!(received, 3, "{VIP} answers\n{text}");
    assert_eq!(counter(&agent, "accept_mode_dropped"), 0);
    assert!(counter(&agent, "vip_passed") >= 3);
}
