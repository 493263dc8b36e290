//! The scale bench's namespaces: router `i` exists on node A and node B as a namespace each,
//! linked by a veth pair (its HA network), each with `qr-`/`qg-` ports that the master puts
//! the router's gateway and external addresses on (veth pairs whose other end, `xr-`/`xg-`,
//! stays in the namespace: this kernel has no dummy interfaces). Every namespace is removed on drop
//! (also on error or interruption), which removes its interfaces too.

use std::{io::Write, process::Stdio};

use anyhow::Context;

use super::{
    interrupt,
    layout::{Node, Router},
};
use vrrp_tests::netns::{NetNs, ip};

pub struct Topology {
    pub a: Vec<NetNs>,
    pub b: Vec<NetNs>,
}

/// Runs `ip -n <ns> -batch -` with `commands`, one per line.
fn batch(ns: &NetNs, commands: &[String]) -> anyhow::Result<()> {
    let mut child = std::process::Command::new("ip")
        .args(["-n", ns.name(), "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running ip (install iproute2)")?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(commands.join("\n").as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "ip -n {} -batch: {}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

fn ports(r: Router, node: Node) -> Vec<String> {
    let (ha, qr, qg) = (r.ha_if(node), r.qr_if(), r.qg_if());
    vec![
        format!("link set {ha} up"),
        format!("addr add {} dev {ha}", r.ha_addr(node)),
        format!("link add {qr} type veth peer name x{}", &qr[1..]),
        format!("link set {qr} up"),
        format!("link set x{} up", &qr[1..]),
        format!("link add {qg} type veth peer name x{}", &qg[1..]),
        format!("link set {qg} up"),
        format!("link set x{} up", &qg[1..]),
    ]
}

impl Topology {
    /// Builds `routers` routers on both nodes.
    pub fn build(routers: usize) -> anyhow::Result<Self> {
        let mut t = Self {
            a: Vec::with_capacity(routers),
            b: Vec::with_capacity(routers),
        };
        for i in 0..routers {
            interrupt::check()?;
            let r = Router(i);
            t.a.push(NetNs::new());
            t.b.push(NetNs::new());
            let (a, b) = (&t.a[i], &t.b[i]);
            ip(&[
                "link",
                "add",
                &r.ha_if(Node::A),
                "netns",
                a.name(),
                "type",
                "veth",
                "peer",
                "name",
                &r.ha_if(Node::B),
                "netns",
                b.name(),
            ]);
            batch(a, &ports(r, Node::A))?;
            batch(b, &ports(r, Node::B))?;
        }
        Ok(t)
    }

    pub fn node(&self, node: Node) -> &[NetNs] {
        match node {
            Node::A => &self.a,
            Node::B => &self.b,
        }
    }

    pub fn names(&self, node: Node) -> Vec<String> {
        self.node(node)
            .iter()
            .map(|n| n.name().to_string())
            .collect()
    }
}
