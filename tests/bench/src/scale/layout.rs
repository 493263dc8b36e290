//! The scale bench's routers: names, addresses and priorities of router `i` on node A and
//! node B, and the configuration each implementation gets for them (one vrrp-agent TOML with
//! an `[[instance]]` per router namespace; one Neutron-shaped keepalived.conf per router).
//! Pure: no namespaces, no processes.

use std::fmt::Write as _;

/// One of the two network nodes. Node A is the one measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Node {
    A,
    B,
}

impl Node {
    pub fn label(self) -> &'static str {
        match self {
            Node::A => "a",
            Node::B => "b",
        }
    }
}

/// Router `i` (0-based), present on both nodes as a namespace of its own; its two copies are
/// linked by a veth pair, its private HA network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Router(pub usize);

/// Priority of the node that should be master, and of the other.
pub const MASTER_PRIORITY: u8 = 150;
pub const BACKUP_PRIORITY: u8 = 100;

impl Router {
    /// Neutron allocates VRIDs per HA network; each router here has its own, so they may
    /// repeat. Spread them anyway, as a busy tenant's routers would be.
    pub fn vrid(self) -> u8 {
        (self.0 % 255 + 1) as u8
    }

    /// Node A wins the even routers, node B the odd ones: each node is master of half.
    pub fn master(self) -> Node {
        if self.0.is_multiple_of(2) {
            Node::A
        } else {
            Node::B
        }
    }

    pub fn priority(self, node: Node) -> u8 {
        if self.master() == node {
            MASTER_PRIORITY
        } else {
            BACKUP_PRIORITY
        }
    }

    /// The HA port (`ha-` + 11 characters, as Neutron names it): a port per node.
    pub fn ha_if(self, node: Node) -> String {
        format!("ha-{:08x}-0{}", 0x5ca1_0000 + self.0, node.label())
    }

    /// Internal (`qr-`) and external (`qg-`) ports: the same name on both nodes.
    pub fn qr_if(self) -> String {
        format!("qr-{:08x}-01", 0x5ca1_0000 + self.0)
    }

    pub fn qg_if(self) -> String {
        format!("qg-{:08x}-02", 0x5ca1_0000 + self.0)
    }

    /// The node's address on the HA network (with prefix).
    pub fn ha_addr(self, node: Node) -> String {
        let host = match node {
            Node::A => 1,
            Node::B => 2,
        };
        format!("169.254.192.{host}/18")
    }

    /// The primary VIP (Neutron: 169.254.0.<vrid>/24 on the HA port), without prefix.
    pub fn vip(self) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::new(169, 254, 0, self.vrid())
    }

    fn third_octets(self) -> (usize, usize) {
        (self.0 / 256, self.0 % 256)
    }

    /// The tenant gateway address on qr- (with prefix).
    pub fn gateway(self) -> String {
        let (hi, lo) = self.third_octets();
        format!("10.{hi}.{lo}.1/24")
    }

    /// The router's external address on qg- (with prefix) and the external gateway.
    pub fn external(self) -> (String, String) {
        let (hi, lo) = self.third_octets();
        (
            format!("100.{}.{lo}.10/24", 64 + hi),
            format!("100.{}.{lo}.1", 64 + hi),
        )
    }
}

/// Advert interval in seconds as both configurations spell it (`1`, `0.01`).
pub fn interval_text(secs: f64) -> String {
    let s = format!("{secs}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The vrrp-agent configuration of `node`: one instance per router, each in its namespace.
/// `namespaces[i]` is router `i`'s namespace on this node.
pub fn agent_toml(node: Node, namespaces: &[String], interval: f64, xdp: bool) -> String {
    let mut s = format!("[global]\nrouter_id = \"scale-node-{}\"\n", node.label());
    if !xdp {
        s.push_str("dataplane = \"none\"\n");
    }
    for (i, ns) in namespaces.iter().enumerate() {
        let r = Router(i);
        let (ha, qr, qg) = (r.ha_if(node), r.qr_if(), r.qg_if());
        let (ext, ext_gw) = r.external();
        let _ = write!(
            s,
            r#"
[[instance]]
name = "router-{i}"
netns = "{ns}"
interface = "{ha}"
vrid = {vrid}
version = 3
priority = {priority}
advert_interval = {interval}
preempt = true
virtual_addresses = ["{vip}/24 dev {ha}"]
excluded_addresses = ["{gw} dev {qr} no_track", "{ext} dev {qg} no_track"]
routes = ["0.0.0.0/0 via {ext_gw} dev {qg} no_track protocol static"]
track_interfaces = ["{ha}"]
garp = {{ master_delay = 1, master_repeat = 3 }}
"#,
            vrid = r.vrid(),
            priority = r.priority(node),
            interval = interval_text(interval),
            vip = r.vip(),
            gw = r.gateway(),
        );
    }
    s
}

/// Router `i`'s keepalived.conf on `node`, shaped like the one Neutron writes (VRRPv3 here,
/// so both implementations speak the same protocol at both intervals).
pub fn keepalived_conf(r: Router, node: Node, interval: f64) -> String {
    let (ha, qr, qg) = (r.ha_if(node), r.qr_if(), r.qg_if());
    let (ext, ext_gw) = r.external();
    format!(
        "global_defs {{
    notification_email_from neutron@openstack.local
    router_id neutron
}}
vrrp_instance VR_{vrid} {{
    state BACKUP
    interface {ha}
    virtual_router_id {vrid}
    priority {priority}
    garp_master_delay 1
    garp_master_repeat 3
    advert_int {interval}
    version 3
    track_interface {{
        {ha}
    }}
    virtual_ipaddress {{
        {vip}/24 dev {ha}
    }}
    virtual_ipaddress_excluded {{
        {gw} dev {qr} no_track
        {ext} dev {qg} no_track
    }}
    virtual_routes {{
        0.0.0.0/0 via {ext_gw} dev {qg} no_track protocol static
    }}
}}
",
        vrid = r.vrid(),
        priority = r.priority(node),
        interval = interval_text(interval),
        vip = r.vip(),
        gw = r.gateway(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_interfaces_and_masters_alternate() {
        let r = Router(249);
        assert_eq!(r.ha_if(Node::A), "ha-5ca100f9-0a");
        assert!(r.ha_if(Node::B).len() <= 15 && r.qr_if().len() <= 15);
        assert_eq!(Router(0).master(), Node::A);
        assert_eq!(Router(1).master(), Node::B);
        assert_eq!(Router(1).priority(Node::B), MASTER_PRIORITY);
        assert_eq!(Router(1).priority(Node::A), BACKUP_PRIORITY);
        assert_eq!(Router(254).vrid(), 255);
        assert_eq!(Router(255).vrid(), 1);
        assert_eq!(Router(300).gateway(), "10.1.44.1/24");
        assert_eq!(Router(300).external().1, "100.65.44.1");
    }

    #[test]
    fn intervals_are_spelled_like_the_configs_want() {
        assert_eq!(interval_text(1.0), "1");
        assert_eq!(interval_text(0.01), "0.01");
    }

    #[test]
    fn agent_toml_has_an_instance_per_namespace_and_parses() {
        let ns = vec!["ns-0".to_string(), "ns-1".to_string()];
        let toml = agent_toml(Node::A, &ns, 0.01, false);
        assert_eq!(toml.matches("[[instance]]").count(), 2);
        assert!(toml.contains("dataplane = \"none\""));
        assert!(toml.contains("netns = \"ns-1\""));
        assert!(toml.contains("advert_interval = 0.01"));
        let path = std::env::temp_dir().join(format!("vxt-scale-toml-{}.toml", std::process::id()));
        std::fs::write(&path, &toml).unwrap();
        let loaded = vrrp_agent::config::load(&path);
        std::fs::remove_file(&path).unwrap();
        let loaded = loaded.unwrap();
        assert_eq!(loaded.config.instances.len(), 2);
    }

    #[test]
    fn keepalived_conf_parses_with_our_keepalived_reader() {
        let conf = keepalived_conf(Router(3), Node::B, 0.01);
        assert!(conf.contains("priority 150") && conf.contains("advert_int 0.01"));
        let path = std::env::temp_dir().join(format!("vxt-scale-ka-{}.conf", std::process::id()));
        std::fs::write(&path, &conf).unwrap();
        let loaded = vrrp_agent::config::load(&path);
        std::fs::remove_file(&path).unwrap();
        let loaded = loaded.unwrap();
        assert_eq!(loaded.config.instances[0].vrrp.vrid, 4);
    }
}
