//! Looking into every router namespace from the bench process: whether the router's VIP is on
//! its HA port, and the HA port's packet counters. Each look runs on a short-lived thread
//! inside the namespace (`getifaddrs` and `/proc/thread-self/net/dev` then describe that
//! namespace), far cheaper than an `ip` process per namespace.

use std::net::Ipv4Addr;

use anyhow::Context;

use super::{
    layout::{Node, Router},
    procfs,
    topology::Topology,
};

/// The HA port of one router on one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HaView {
    pub vip: bool,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

pub fn ha_view(netns: &str, ifname: &str, vip: Ipv4Addr) -> anyhow::Result<HaView> {
    let name = ifname.to_string();
    let r = vrrp_agent::netns::run_in(Some(netns), move || -> anyhow::Result<HaView> {
        let dev = std::fs::read_to_string("/proc/thread-self/net/dev")?;
        let (rx_packets, tx_packets) = procfs::parse_net_dev(&dev)
            .get(&name)
            .copied()
            .with_context(|| format!("no interface {name}"))?;
        let has_vip = nix::ifaddrs::getifaddrs()?.any(|a| {
            a.interface_name == name
                && a.address
                    .as_ref()
                    .and_then(|s| s.as_sockaddr_in())
                    .is_some_and(|s| s.ip() == vip)
        });
        Ok(HaView {
            vip: has_vip,
            rx_packets,
            tx_packets,
        })
    })?;
    r.with_context(|| format!("namespace {netns}"))
}

/// Where a router's VIP is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Only on the node that should be master.
    Expected,
    /// Only on the other node.
    Other,
    /// On both (two masters).
    Both,
    Neither,
}

pub fn placement(on_a: bool, on_b: bool, master: Node) -> Placement {
    match (on_a, on_b) {
        (true, true) => Placement::Both,
        (false, false) => Placement::Neither,
        (a, _) if a == (master == Node::A) => Placement::Expected,
        _ => Placement::Other,
    }
}

/// How many routers are in each placement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub expected: usize,
    pub other: usize,
    pub both: usize,
    pub neither: usize,
}

impl Tally {
    pub fn add(&mut self, p: Placement) {
        match p {
            Placement::Expected => self.expected += 1,
            Placement::Other => self.other += 1,
            Placement::Both => self.both += 1,
            Placement::Neither => self.neither += 1,
        }
    }

    pub fn misplaced(&self) -> usize {
        self.other + self.both + self.neither
    }
}

/// Every router's HA port on both nodes at one moment.
pub struct Snapshot {
    pub a: Vec<HaView>,
    pub b: Vec<HaView>,
}

impl Snapshot {
    pub fn take(topo: &Topology) -> anyhow::Result<Self> {
        let side = |node: Node| -> anyhow::Result<Vec<HaView>> {
            topo.node(node)
                .iter()
                .enumerate()
                .map(|(i, ns)| {
                    let r = Router(i);
                    ha_view(ns.name(), &r.ha_if(node), r.vip())
                })
                .collect()
        };
        Ok(Self {
            a: side(Node::A)?,
            b: side(Node::B)?,
        })
    }

    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for (i, (a, b)) in self.a.iter().zip(&self.b).enumerate() {
            t.add(placement(a.vip, b.vip, Router(i).master()));
        }
        t
    }

    /// (rx, tx) packets summed over the node's HA ports.
    pub fn packets(&self, node: Node) -> (u64, u64) {
        let v = match node {
            Node::A => &self.a,
            Node::B => &self.b,
        };
        v.iter()
            .fold((0, 0), |(rx, tx), h| (rx + h.rx_packets, tx + h.tx_packets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements() {
        assert_eq!(placement(true, false, Node::A), Placement::Expected);
        assert_eq!(placement(false, true, Node::B), Placement::Expected);
        assert_eq!(placement(false, true, Node::A), Placement::Other);
        assert_eq!(placement(true, false, Node::B), Placement::Other);
        assert_eq!(placement(true, true, Node::A), Placement::Both);
        assert_eq!(placement(false, false, Node::B), Placement::Neither);
        let mut t = Tally::default();
        for p in [Placement::Expected, Placement::Both, Placement::Neither] {
            t.add(p);
        }
        assert_eq!((t.expected, t.misplaced()), (1, 2));
    }

    #[test]
    fn snapshot_sums_and_tallies() {
        let v = |vip, rx, tx| HaView {
            vip,
            rx_packets: rx,
            tx_packets: tx,
        };
        let s = Snapshot {
            a: vec![v(true, 1, 10), v(false, 20, 2)],
            b: vec![v(false, 10, 1), v(false, 2, 20)],
        };
        assert_eq!(s.packets(Node::A), (21, 12));
        let t = s.tally();
        assert_eq!((t.expected, t.neither), (1, 1));
    }
}
