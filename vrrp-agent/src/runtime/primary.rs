//! Which address changes can move an instance's primary address (the source of its adverts):
//! only those on its own interface, and never its own virtual addresses, which the primary
//! selection excludes. Everything else is skipped without asking the kernel again.

use std::net::IpAddr;

use crate::netlink::AddrInfo;

/// Whether `changed` (added or removed) may change the primary address of an instance on
/// interface `ifindex` whose own addresses are `exclude`.
pub fn may_change_primary(ifindex: u32, exclude: &[IpAddr], changed: &AddrInfo) -> bool {
    changed.ifindex == ifindex && !exclude.contains(&changed.addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ifindex: u32, a: &str) -> AddrInfo {
        AddrInfo {
            ifindex,
            addr: a.parse().unwrap(),
            prefix_len: 24,
            scope: 0,
            label: None,
            secondary: false,
            tentative: false,
        }
    }

    #[test]
    fn only_foreign_addresses_on_the_instance_interface_count() {
        let own: Vec<IpAddr> = vec!["169.254.0.1".parse().unwrap(), "10.0.0.1".parse().unwrap()];
        // A new address on the VRRP interface: maybe a new primary.
        assert!(may_change_primary(3, &own, &addr(3, "169.254.192.7")));
        // The instance's own VIP coming or going (every transition): never.
        assert!(!may_change_primary(3, &own, &addr(3, "169.254.0.1")));
        // Its excluded address on another interface, and anything on other interfaces.
        assert!(!may_change_primary(3, &own, &addr(4, "10.0.0.1")));
        assert!(!may_change_primary(3, &own, &addr(4, "192.0.2.1")));
    }
}
