//! A router namespace for the forwarding tests: an internal port (10.0.0.1/24, where the VMs
//! with fixed IPs live) and an external port (203.0.113.1/24, default route via an upstream
//! gateway), forwarding on, and permanent neighbour entries so the FIB lookup in XDP resolves
//! next hops without any traffic. Each port is a veth whose peer sits in a namespace of its
//! own. Everything goes away with the value.

use crate::{
    flows::{Mac, ip4, mac_str},
    links::ifindex,
    netns::{NetNs, veth},
};

pub const INT_IF: &str = "r-int";
pub const EXT_IF: &str = "r-ext";

/// A VM with a fixed IP and a resolved neighbour entry.
pub const VM: [u8; 4] = [10, 0, 0, 5];
pub const VM_MAC: Mac = [0x02, 0, 0, 0, 0, 0x05];
/// Another VM on the internal network (east-west peer), resolved too.
pub const VM2: [u8; 4] = [10, 0, 0, 6];
pub const VM2_MAC: Mac = [0x02, 0, 0, 0, 0, 0x06];
/// A VM address on the internal network without a neighbour entry.
pub const VM_UNRESOLVED: [u8; 4] = [10, 0, 0, 9];
/// The upstream gateway (default route), resolved.
pub const GATEWAY: [u8; 4] = [203, 0, 113, 254];
pub const GATEWAY_MAC: Mac = [0x02, 0, 0, 0, 0, 0xfe];
/// An external network routed via a gateway without a neighbour entry.
pub const UNRESOLVED_NET_HOST: [u8; 4] = [198, 51, 100, 7];
/// An external client (reached through the default route).
pub const CLIENT: [u8; 4] = [192, 0, 2, 50];
/// MAC of whatever sends frames into the router (the program does not look at it).
pub const SENDER_MAC: Mac = [0x02, 0, 0, 0, 0, 0x77];

/// The router namespace and its two ports.
pub struct RouterNs {
    pub ns: NetNs,
    _int_peer: NetNs,
    _ext_peer: NetNs,
    pub int_ifindex: u32,
    pub ext_ifindex: u32,
    pub int_mac: Mac,
    pub ext_mac: Mac,
}

fn mac_of(ns: &NetNs, ifname: &str) -> Mac {
    let json = ns.ip(&["-j", "link", "show", ifname]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("ip -j output");
    let s = v[0]["address"].as_str().expect("link address");
    let bytes: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).expect("hex"))
        .collect();
    bytes.try_into().expect("6-byte MAC")
}

impl RouterNs {
    pub fn new() -> Self {
        let ns = NetNs::new();
        let int_peer = NetNs::new();
        let ext_peer = NetNs::new();
        veth(&ns, INT_IF, &int_peer, "vm-side");
        veth(&ns, EXT_IF, &ext_peer, "up-side");
        ns.sysctl("net.ipv4.ip_forward=1");
        ns.ip(&["addr", "add", "10.0.0.1/24", "dev", INT_IF]);
        ns.ip(&["addr", "add", "203.0.113.1/24", "dev", EXT_IF]);
        for (addr, mac, dev) in [
            (VM, VM_MAC, INT_IF),
            (VM2, VM2_MAC, INT_IF),
            (GATEWAY, GATEWAY_MAC, EXT_IF),
        ] {
            ns.permanent_neighbour(&ip4(addr), &mac_str(mac), dev);
        }
        ns.ip(&[
            "route",
            "add",
            "default",
            "via",
            &ip4(GATEWAY),
            "dev",
            EXT_IF,
        ]);
        ns.ip(&[
            "route",
            "add",
            "198.51.100.0/24",
            "via",
            "203.0.113.253",
            "dev",
            EXT_IF,
        ]);
        let int_ifindex = ifindex(&ns, INT_IF);
        let ext_ifindex = ifindex(&ns, EXT_IF);
        let int_mac = mac_of(&ns, INT_IF);
        let ext_mac = mac_of(&ns, EXT_IF);
        Self {
            ns,
            _int_peer: int_peer,
            _ext_peer: ext_peer,
            int_ifindex,
            ext_ifindex,
            int_mac,
            ext_mac,
        }
    }
}

impl Default for RouterNs {
    fn default() -> Self {
        Self::new()
    }
}
