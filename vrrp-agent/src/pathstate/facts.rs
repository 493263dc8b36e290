//! What else decides a forwarded packet's fate in a network namespace, besides netfilter
//! rules: policy routing rules, tc on the interfaces, IPsec (xfrm) policies, the per-interface
//! IPv4 settings the kernel's forwarding path obeys, and whether an interface accepts frames
//! redirected by XDP. Filled by the readers of `pathstate`, consumed by `crate::fastpath`.
//! Pure data; imports nothing of ours.

/// The non-netfilter state of one network namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// IPv4 policy routing rules other than the kernel's three defaults (`0: from all lookup
    /// local`, `32766: from all lookup main`, `32767: from all lookup default`), one line each
    /// as `ip rule` prints them.
    pub extra_rules_v4: Vec<String>,
    /// The same for IPv6 (defaults: `0 local`, `32766 main`).
    pub extra_rules_v6: Vec<String>,
    /// IPsec policies (`ip xfrm policy`): any policy may transform or drop forwarded packets.
    pub xfrm_policies: u32,
    /// The namespace-wide IPv4 settings (`net.ipv4.conf.all.*`).
    pub all: IfaceConf,
    /// Every interface of the namespace.
    pub ifaces: Vec<IfaceFacts>,
}

impl Facts {
    /// The interface named `name`.
    pub fn iface(&self, name: &str) -> Option<&IfaceFacts> {
        self.ifaces.iter().find(|i| i.name == name)
    }

    /// The interface with index `ifindex`.
    pub fn iface_by_index(&self, ifindex: u32) -> Option<&IfaceFacts> {
        self.ifaces.iter().find(|i| i.ifindex == ifindex)
    }
}

/// The IPv4 settings of one interface (`net.ipv4.conf.<if>.*`) that change how the kernel
/// forwards a packet arriving on, or leaving through, it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceConf {
    pub forwarding: bool,
    /// 0 off, 1 strict, 2 loose; the kernel uses the maximum of `all` and the interface.
    pub rp_filter: u8,
    /// Local source addresses are accepted on input.
    pub accept_local: bool,
    /// 127/8 is routed.
    pub route_localnet: bool,
    /// ICMP redirects are sent for packets forwarded out of the interface they came in on.
    pub send_redirects: bool,
}

/// One interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfaceFacts {
    pub name: String,
    pub ifindex: u32,
    /// `rtnetlink` kind (`veth`, `tun`, `bridge`, `macvlan`, ...); empty for physical devices.
    pub kind: String,
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    pub up: bool,
    /// The device takes frames that XDP redirects to it (`xdp-features` has `NDO_XMIT`; a
    /// veth has it while its peer runs NAPI: an XDP program attached there, or GRO on).
    pub xdp_xmit: bool,
    /// What tc holds on the device, one line each (`qdisc htb 1: root`, `filter ingress ...`):
    /// root qdiscs other than the kernel's defaults (noqueue, pfifo_fast, fq_codel, mq, fq,
    /// and no qdisc), every ingress / clsact qdisc and every tc filter. Empty: nothing.
    pub tc: Vec<String>,
    pub conf: IfaceConf,
}
