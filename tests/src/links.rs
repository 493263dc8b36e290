//! Interfaces in test namespaces as the socket tests need them: IPv6 without duplicate
//! address detection (addresses usable at once), interface indexes, link-local addresses,
//! and running setup code inside a namespace. Builds on [`crate::netns`].

use std::{
    net::Ipv6Addr,
    time::{Duration, Instant},
};

use crate::netns::NetNs;

/// Turns off IPv6 duplicate address detection in `ns` for interfaces created from now on
/// (call it before [`crate::netns::veth`]), so their addresses are never tentative.
pub fn no_dad(ns: &NetNs) {
    for key in [
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
    ] {
        ns.sysctl(key);
    }
}

/// A fresh namespace with IPv6 duplicate address detection off.
pub fn namespace() -> NetNs {
    let ns = NetNs::new();
    no_dad(&ns);
    ns
}

/// Runs `f` on a thread inside `ns` (to open sockets there).
pub fn inside<T: Send>(ns: &NetNs, f: impl FnOnce() -> T + Send) -> T {
    vrrp_agent::netns::run_in(Some(ns.name()), f)
        .unwrap_or_else(|e| panic!("running in {}: {e}", ns.name()))
}

/// The index of interface `ifname` in `ns`.
pub fn ifindex(ns: &NetNs, ifname: &str) -> u32 {
    inside(ns, || nix::net::if_::if_nametoindex(ifname))
        .unwrap_or_else(|e| panic!("{ifname} in {}: {e}", ns.name()))
}

/// The link-local address of `ifname` in `ns`, once the kernel has made it (and it is no
/// longer tentative).
pub fn link_local(ns: &NetNs, ifname: &str) -> Ipv6Addr {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let json = ns.ip(&["-j", "-6", "addr", "show", "dev", ifname, "scope", "link"]);
        let links: serde_json::Value = serde_json::from_str(&json).expect("ip -j output");
        let found = links[0]["addr_info"].as_array().and_then(|addrs| {
            addrs
                .iter()
                .filter(|a| a["tentative"] != true)
                .find_map(|a| a["local"].as_str()?.parse().ok())
        });
        if let Some(addr) = found {
            return addr;
        }
        assert!(
            Instant::now() < deadline,
            "{ifname} in {} has no usable link-local address",
            ns.name()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
