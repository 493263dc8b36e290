//! Building blocks of test topologies: an L2 segment (a bridge in a namespace of its own) and
//! router/host namespaces attached to it by veth pairs, plus polling with generous bounds.

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use crate::netns::NetNs;

/// A broadcast domain: a bridge `br0` inside its own namespace. Removed with it.
pub struct Segment {
    pub ns: NetNs,
    next_port: AtomicU32,
}

impl Segment {
    pub fn new() -> Self {
        Self::in_ns(NetNs::new())
    }

    /// A segment in namespace `name` (see [`NetNs::named`]).
    pub fn named(name: &str, persistent: bool) -> Self {
        Self::in_ns(NetNs::named(name, persistent))
    }

    fn in_ns(ns: NetNs) -> Self {
        ns.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ns.ip(&["link", "set", "br0", "up"]);
        Self {
            ns,
            next_port: AtomicU32::new(0),
        }
    }

    /// Connects a new interface `ifname` inside `host` to this segment, with `mac` if given;
    /// returns the bridge-side port name.
    pub fn attach(&self, host: &NetNs, ifname: &str, mac: Option<&str>) -> String {
        let port = format!("p{}", self.next_port.fetch_add(1, Ordering::Relaxed));
        crate::netns::ip(&[
            "link",
            "add",
            ifname,
            "netns",
            host.name(),
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            self.ns.name(),
        ]);
        if let Some(mac) = mac {
            host.ip(&["link", "set", ifname, "address", mac]);
        }
        self.ns.ip(&["link", "set", &port, "master", "br0"]);
        self.ns.ip(&["link", "set", &port, "up"]);
        host.ip(&["link", "set", ifname, "up"]);
        port
    }

    /// Joins `host` to this segment as node `n` (1-based) of a Neutron HA network: interface
    /// `ifname` with the address 169.254.192.<n>/18. Returns the bridge-side port name.
    pub fn attach_ha_node(&self, host: &NetNs, ifname: &str, n: usize) -> String {
        let port = self.attach(host, ifname, None);
        host.ip(&["addr", "add", &format!("169.254.192.{n}/18"), "dev", ifname]);
        port
    }

    /// Takes a port out of the bridge (the host keeps carrier but hears nothing).
    pub fn isolate_port(&self, port: &str) {
        self.ns.ip(&["link", "set", port, "nomaster"]);
    }

    /// Floods every frame to every port (no MAC learning): each router sees each packet,
    /// so a second forwarder shows up as duplicates at the receiver.
    pub fn flood(&self) {
        self.ns
            .ip(&["link", "set", "br0", "type", "bridge", "ageing_time", "0"]);
    }

    /// GRO on the bridge side of a port: NAPI there, so that the veth takes XDP-redirected
    /// frames. Only for a test that is about GRO itself: no deployment switches it on for
    /// router ports, so beds leave ports as `ip link add` makes them (GRO everywhere once hid
    /// that redirects into router ports fail on a real node).
    pub fn gro_on(&self, port: &str) {
        let out = self.ns.exec("ethtool", &["-K", port, "gro", "on"]);
        assert!(
            out.status.success(),
            "ethtool -K {port} gro on: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Puts a port back.
    pub fn join_port(&self, port: &str) {
        self.ns.ip(&["link", "set", port, "master", "br0"]);
    }
}

impl Default for Segment {
    fn default() -> Self {
        Self::new()
    }
}

/// Polls `cond` every 20 ms until it returns `Some`, panicking with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Addresses on `ifname` in `ns` (`ip -j addr show`), as "addr/prefix" strings.
pub fn addresses(ns: &NetNs, ifname: &str) -> Vec<String> {
    let out = ns.ip(&["-j", "addr", "show", "dev", ifname]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| {
            Some(format!(
                "{}/{}",
                a["local"].as_str()?,
                a["prefixlen"].as_u64()?
            ))
        })
        .collect()
}

/// Routes of `ns` in `table` (`ip -j route show table T`), as `dst via gw dev if` strings.
pub fn routes(ns: &NetNs, table: &str) -> Vec<String> {
    let out = ns.ip(&["-j", "route", "show", "table", table]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
    v.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let mut s = r["dst"].as_str().unwrap_or("?").to_string();
            if let Some(gw) = r["gateway"].as_str() {
                s.push_str(&format!(" via {gw}"));
            }
            if let Some(dev) = r["dev"].as_str() {
                s.push_str(&format!(" dev {dev}"));
            }
            s
        })
        .collect()
}
