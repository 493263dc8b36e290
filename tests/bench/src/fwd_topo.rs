//! The forwarding benchmark's topology, shaped like a Neutron router: an external namespace
//! (the upstream gateway) on the router's `qg` port, the router namespace (forwarding on,
//! default route upstream, permanent neighbour entries), and a sink namespace with the VM's
//! fixed IP on the router's `qr` port. Optionally Neutron's iptables rules in the router, as
//! Neutron's own code writes them (`neutron_rules`: filter, mangle, nat and raw tables, the
//! floating IP's DNAT/SNAT and the subnet's default SNAT), without `--random-fully` (Neutron's
//! `use_random_fully = false`: with Neutron's default the fast path leaves the floating IP to
//! the kernel, see [`FwdRouter::fast_path_verdict`]). Frames are not sent from the external namespace: the benchmark generates them
//! as if they arrived on `qg` (BPF_PROG_TEST_RUN live frames), so `ext` only completes the
//! picture (routes, neighbour, reverse-path checks). Everything goes away with the value.

use etherparse::PacketBuilder;

use vrrp_tests::{
    flows::{Mac, ip4, mac_str},
    links::ifindex,
    netns::{NetNs, veth_with_macs},
    neutron_rules::NeutronRouter,
    router_ns::{CLIENT, VM, VM_MAC},
};

pub const QG: &str = "qg-bench";
pub const QR: &str = "qr-bench";
pub const EXT_IF: &str = "ext0";
pub const SINK_IF: &str = "vm0";

pub const QG_MAC: Mac = [0x02, 0, 0, 0, 0, 0x01];
pub const QR_MAC: Mac = [0x02, 0, 0, 0, 0, 0x02];
pub const GATEWAY_MAC: Mac = [0x02, 0, 0, 0, 0, 0xfe];
pub const GATEWAY: [u8; 4] = [203, 0, 113, 254];
pub const ROUTER_EXT: [u8; 4] = [203, 0, 113, 1];
pub const FIP: [u8; 4] = [203, 0, 113, 10];
/// UDP ports of the generated frames (the sink counts the destination port).
pub const SPORT: u16 = 40000;
pub const DPORT: u16 = 5001;
/// 60 bytes: the minimum Ethernet frame without its 4-byte FCS ("64-byte frames").
pub const FRAME_LEN: usize = 60;

/// A 60-byte UDP frame from the external client to `dst` as it arrives on `qg`, UDP checksum
/// 0 ("none", so varying the source port needs no checksum update).
pub fn inbound_frame(dst: [u8; 4]) -> Vec<u8> {
    let payload = [0u8; FRAME_LEN - 14 - 20 - 8];
    let mut out = Vec::with_capacity(FRAME_LEN);
    PacketBuilder::ethernet2(GATEWAY_MAC, QG_MAC)
        .ipv4(CLIENT, dst, 64)
        .udp(SPORT, DPORT)
        .write(&mut out, &payload)
        .expect("build frame");
    out[14 + 20 + 6] = 0;
    out[14 + 20 + 7] = 0;
    out
}

/// One router with its external and sink namespaces.
pub struct FwdRouter {
    pub router: NetNs,
    _ext: NetNs,
    pub sink: NetNs,
    pub qg_ifindex: u32,
    pub qr_ifindex: u32,
    pub sink_ifindex: u32,
    /// Neutron's iptables rules are installed.
    pub neutron_rules: bool,
}

/// The rules Neutron writes for the benchmark's router.
fn neutron_router() -> NeutronRouter {
    NeutronRouter {
        qr: vec![(QR.into(), "10.0.0.1/24".into())],
        qg: QG.into(),
        gateway_ip: ip4(ROUTER_EXT),
        fips: vec![(ip4(FIP), ip4(VM))],
        random_fully: false,
    }
}

impl FwdRouter {
    /// Builds the three namespaces; with `neutron_rules`, adds the floating IP to `qg` (as
    /// keepalived would on the master) and loads Neutron's rules (which load the nat table
    /// and conntrack in the router).
    pub fn new(neutron_rules: bool) -> Self {
        let router = NetNs::new();
        let ext = NetNs::new();
        let sink = NetNs::new();
        veth_with_macs(
            &router,
            QG,
            &mac_str(QG_MAC),
            &ext,
            EXT_IF,
            &mac_str(GATEWAY_MAC),
        );
        veth_with_macs(
            &router,
            QR,
            &mac_str(QR_MAC),
            &sink,
            SINK_IF,
            &mac_str(VM_MAC),
        );
        router.sysctl("net.ipv4.ip_forward=1");
        router.ip(&["addr", "add", &format!("{}/24", ip4(ROUTER_EXT)), "dev", QG]);
        router.ip(&["addr", "add", "10.0.0.1/24", "dev", QR]);
        for (addr, mac, dev) in [(GATEWAY, GATEWAY_MAC, QG), (VM, VM_MAC, QR)] {
            router.permanent_neighbour(&ip4(addr), &mac_str(mac), dev);
        }
        router.ip(&["route", "add", "default", "via", &ip4(GATEWAY), "dev", QG]);
        ext.ip(&[
            "addr",
            "add",
            &format!("{}/24", ip4(GATEWAY)),
            "dev",
            EXT_IF,
        ]);
        sink.ip(&["addr", "add", &format!("{}/24", ip4(VM)), "dev", SINK_IF]);
        sink.ip(&["route", "add", "default", "via", "10.0.0.1"]);
        if neutron_rules {
            router.ip(&["addr", "add", &format!("{}/32", ip4(FIP)), "dev", QG]);
            neutron_router().install(&router);
        }
        Self {
            qg_ifindex: ifindex(&router, QG),
            qr_ifindex: ifindex(&router, QR),
            sink_ifindex: ifindex(&sink, SINK_IF),
            router,
            _ext: ext,
            sink,
            neutron_rules,
        }
    }

    /// What the agent's fast-path analysis decides for the floating IP in this router, from
    /// the namespace as it is (the same reader and analysis the agent runs): `Ok` when XDP may
    /// forward it, else the reason. The benchmark measures the fast path only where the
    /// agent would take it.
    pub fn fast_path_verdict(&self) -> Result<(), String> {
        use std::collections::BTreeMap;

        use vrrp_agent::{fastpath, pathstate};
        let ns = Some(self.router.name());
        let ruleset = pathstate::read_ruleset(ns).map_err(|e| e.to_string())?;
        let facts = pathstate::read_facts(ns).map_err(|e| e.to_string())?;
        let vips = [
            (FIP.into(), QG.to_string()),
            (ROUTER_EXT.into(), QG.to_string()),
        ];
        let routes = BTreeMap::from([(VM.into(), QR.to_string())]);
        let plan = fastpath::analyse(&fastpath::View {
            ruleset: &ruleset,
            facts: &facts,
            vips: &vips,
            routes: &routes,
            route_candidates: &[QG.to_string()],
        });
        let fip = plan
            .fips
            .iter()
            .find(|f| f.floating.octets() == FIP)
            .ok_or_else(|| format!("no floating IP {} in the rules", ip4(FIP)))?;
        if let Some(b) = plan.router_blockers.first() {
            return Err(b.to_string());
        }
        fip.verdict.clone().map_err(|b| b.to_string())
    }

    /// Connections conntrack holds in the router namespace (0 when it never tracked any).
    pub fn conntrack_entries(&self) -> Option<u64> {
        let out = self
            .router
            .exec("cat", &["/proc/sys/net/netfilter/nf_conntrack_count"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// The iptables tables present in the router namespace (`iptables-save` headers).
    pub fn iptables_tables(&self) -> Vec<String> {
        let out = self.router.exec("iptables-save", &[]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix('*').map(str::to_string))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_60_bytes_of_udp_without_checksum() {
        let f = inbound_frame(FIP);
        assert_eq!(f.len(), FRAME_LEN);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(f[23], 17);
        assert_eq!(&f[30..34], &FIP);
        assert_eq!(u16::from_be_bytes([f[36], f[37]]), DPORT);
        assert_eq!(&f[40..42], &[0, 0]);
        assert_eq!(&f[0..6], &QG_MAC);
    }
}
