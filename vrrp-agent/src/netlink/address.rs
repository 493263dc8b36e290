//! Adding and removing virtual addresses, idempotently: adding one that is there and removing
//! one that is not both succeed. Imports `crate::fsm::VirtualAddress` (plain data), `names`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rtnetlink::{
    AddressMessageBuilder,
    packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage},
};

use super::{Netlink, NetlinkError, error::kernel_errno, names::parse_scope, query::MAX_IFNAME};
use crate::fsm::VirtualAddress;

impl Netlink {
    /// Puts `va` on its interface: `va.dev` when set, else `ifindex` (the instance's).
    ///
    /// Replace-or-create, so an address already there is fine (and gets our flags). IPv6
    /// addresses get `IFA_F_NODAD`: a takeover must not wait for duplicate address detection.
    /// Labels are IPv4-only (ignored for IPv6, as keepalived does) and must start with the
    /// interface name. An IPv4 address gets a broadcast address only when configured (`brd`),
    /// as keepalived sends `IFA_BROADCAST`.
    pub async fn add_address(&self, ifindex: u32, va: &VirtualAddress) -> Result<(), NetlinkError> {
        let ifindex = match va.dev.as_deref() {
            Some(dev) => self.require_index(dev).await?,
            None => ifindex,
        };
        let label = match (&va.label, va.addr) {
            (Some(label), IpAddr::V4(_)) => {
                let link = self.link_by_index(ifindex).await?.ok_or_else(|| {
                    NetlinkError::UnknownIndex {
                        index: ifindex,
                        netns: self.netns.clone(),
                    }
                })?;
                check_label(label, &link.name, va.addr)?;
                Some(label.as_str())
            }
            _ => None,
        };
        let message = address_message(ifindex, va, label)?;
        let mut request = self
            .handle
            .address()
            .add(ifindex, va.addr, va.prefix_len)
            .replace();
        *request.message_mut() = message;
        match request.execute().await {
            Err(e) if kernel_errno(&e) != Some(libc::EEXIST) => Err(self.request_error(
                format!("adding {}/{} to index {ifindex}", va.addr, va.prefix_len),
                e,
            )),
            _ => Ok(()),
        }
    }

    /// Removes `va` from its interface (`va.dev` when set, else `ifindex`). An address or an
    /// interface that is not there is fine.
    pub async fn del_address(&self, ifindex: u32, va: &VirtualAddress) -> Result<(), NetlinkError> {
        let ifindex = match va.dev.as_deref() {
            Some(dev) => match self.link_by_name(dev).await? {
                Some(link) => link.index,
                None => return Ok(()),
            },
            None => ifindex,
        };
        let message = address_message(ifindex, va, None)?;
        match self.handle.address().del(message).execute().await {
            Err(e)
                if !matches!(
                    kernel_errno(&e),
                    Some(libc::EADDRNOTAVAIL | libc::ENODEV | libc::ENOENT)
                ) =>
            {
                Err(self.request_error(
                    format!(
                        "removing {}/{} from index {ifindex}",
                        va.addr, va.prefix_len
                    ),
                    e,
                ))
            }
            _ => Ok(()),
        }
    }

    /// The index of interface `name`, which must exist.
    pub(super) async fn require_index(&self, name: &str) -> Result<u32, NetlinkError> {
        match self.link_by_name(name).await? {
            Some(link) => Ok(link.index),
            None => Err(NetlinkError::UnknownInterface {
                name: name.to_string(),
                netns: self.netns.clone(),
            }),
        }
    }
}

/// The kernel (and iproute2) want an IPv4 label to start with the interface name, and it is
/// stored in an IFNAMSIZ buffer.
fn check_label(label: &str, interface: &str, addr: IpAddr) -> Result<(), NetlinkError> {
    if label.starts_with(interface) && label.len() <= MAX_IFNAME {
        Ok(())
    } else {
        Err(NetlinkError::BadLabel {
            label: label.to_string(),
            addr,
            interface: interface.to_string(),
        })
    }
}

/// The `RTM_NEWADDR`/`RTM_DELADDR` body for `va` on `ifindex`.
fn address_message(
    ifindex: u32,
    va: &VirtualAddress,
    label: Option<&str>,
) -> Result<AddressMessage, NetlinkError> {
    let bad = |why| NetlinkError::BadAddress {
        addr: va.addr,
        prefix_len: va.prefix_len,
        why,
    };
    if va.addr.is_unspecified() || va.addr.is_multicast() {
        return Err(bad("not a unicast address"));
    }
    let mut message = match va.addr {
        IpAddr::V4(addr) => {
            if va.prefix_len > 32 {
                return Err(bad("IPv4 prefix length above 32"));
            }
            let mut message = AddressMessageBuilder::<Ipv4Addr>::new()
                .index(ifindex)
                .address(addr, va.prefix_len)
                .build();
            // rtnetlink's builder adds the all-ones broadcast address to every prefix up to
            // /30; keepalived 2.2.7 sends IFA_BROADCAST only for a configured `brd`
            // (vrrp_ipaddress.c netlink_ipaddress), so `ip addr` shows none otherwise.
            message
                .attributes
                .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
            if let Some(brd) = broadcast(addr, va.prefix_len, va.broadcast.as_deref()) {
                message.attributes.push(AddressAttribute::Broadcast(brd));
            }
            message
        }
        IpAddr::V6(addr) => {
            if va.prefix_len > 128 {
                return Err(bad("IPv6 prefix length above 128"));
            }
            let mut message = AddressMessageBuilder::<Ipv6Addr>::new()
                .index(ifindex)
                .address(addr, va.prefix_len)
                .build();
            message.header.flags |= AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
            message
        }
    };
    if let Some(scope) = va.scope.as_deref() {
        message.header.scope = parse_scope(scope)?.into();
    }
    if let Some(label) = label {
        message
            .attributes
            .push(AddressAttribute::Label(label.to_string()));
    }
    Ok(message)
}

/// The broadcast address of `addr/prefix_len` configured as `brd` (iproute2's spelling): an
/// address as given; `+` (host bits set) or `-` (host bits clear) computed only up to /30,
/// as keepalived does (vrrp_ipaddress.c parse_ipaddress: beyond it no broadcast address).
fn broadcast(addr: Ipv4Addr, prefix_len: u8, brd: Option<&str>) -> Option<Ipv4Addr> {
    let host_bits = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
    match brd? {
        "+" if prefix_len <= 30 => Some(Ipv4Addr::from(u32::from(addr) | host_bits)),
        "-" if prefix_len <= 30 => Some(Ipv4Addr::from(u32::from(addr) & !host_bits)),
        "+" | "-" => None,
        explicit => explicit.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_route::address::AddressScope;

    use super::*;

    fn va(addr: &str, prefix_len: u8) -> VirtualAddress {
        VirtualAddress {
            prefix_len,
            ..VirtualAddress::host(addr.parse().unwrap())
        }
    }

    #[test]
    fn ipv4_message_has_scope_and_label() {
        let mut v = va("192.0.2.10", 24);
        v.scope = Some("link".into());
        let message = address_message(5, &v, Some("vx0:1")).unwrap();
        assert_eq!(message.header.index, 5);
        assert_eq!(message.header.prefix_len, 24);
        assert_eq!(message.header.scope, AddressScope::Link);
        assert!(
            message
                .attributes
                .contains(&AddressAttribute::Local(v.addr))
        );
        assert!(
            message
                .attributes
                .contains(&AddressAttribute::Label("vx0:1".into()))
        );
        assert!(!message.header.flags.contains(AddressHeaderFlags::Nodad));
    }

    #[test]
    fn ipv4_broadcast_only_when_configured() {
        let brd = |m: &AddressMessage| {
            m.attributes
                .iter()
                .filter_map(|a| match a {
                    AddressAttribute::Broadcast(b) => Some(b.to_string()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let plain = address_message(5, &va("169.254.0.1", 24), None).unwrap();
        assert!(brd(&plain).is_empty(), "{:?}", plain.attributes);
        for (given, prefix_len, expected) in [
            ("+", 24, vec!["169.254.0.255"]),
            ("-", 24, vec!["169.254.0.0"]),
            ("169.254.0.77", 24, vec!["169.254.0.77"]),
            ("+", 30, vec!["169.254.0.3"]),
            ("+", 31, vec![]),
            ("-", 32, vec![]),
            ("169.254.0.77", 32, vec!["169.254.0.77"]),
        ] {
            let v = VirtualAddress {
                broadcast: Some(given.into()),
                ..va("169.254.0.1", prefix_len)
            };
            let message = address_message(5, &v, None).unwrap();
            assert_eq!(brd(&message), expected, "brd {given} on /{prefix_len}");
        }
    }

    #[test]
    fn ipv6_message_asks_for_nodad() {
        let message = address_message(5, &va("2001:db8::10", 64), None).unwrap();
        assert!(message.header.flags.contains(AddressHeaderFlags::Nodad));
        assert!(
            message
                .attributes
                .contains(&AddressAttribute::Flags(AddressFlags::Nodad))
        );
    }

    #[test]
    fn rejects_bad_prefixes_scopes_and_addresses() {
        for (addr, len) in [("192.0.2.1", 33), ("2001:db8::1", 129), ("224.0.0.18", 32)] {
            assert!(matches!(
                address_message(1, &va(addr, len), None),
                Err(NetlinkError::BadAddress { .. })
            ));
        }
        let mut v = va("192.0.2.1", 32);
        v.scope = Some("planet".into());
        assert!(matches!(
            address_message(1, &v, None),
            Err(NetlinkError::BadScope(_))
        ));
    }

    #[test]
    fn labels_must_start_with_the_interface_name() {
        let addr: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(check_label("eth0", "eth0", addr).is_ok());
        assert!(check_label("eth0:vip", "eth0", addr).is_ok());
        let err = check_label("vip", "eth0", addr).unwrap_err();
        assert!(err.to_string().contains("`eth0`"), "{err}");
        assert!(
            check_label("eth0:0123456789ab", "eth0", addr).is_err(),
            "16 bytes"
        );
    }
}
