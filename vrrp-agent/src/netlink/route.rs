//! Adding and removing virtual routes, idempotently: adding replaces or creates, removing one
//! that is not there succeeds. Imports `crate::fsm::VirtualRoute` (plain data), `names`.

use std::net::IpAddr;

use rtnetlink::packet_route::{
    AddressFamily,
    route::{RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType},
};

use super::{
    Netlink, NetlinkError,
    error::kernel_errno,
    names::{parse_protocol, parse_scope},
};
use crate::fsm::VirtualRoute;

/// `RTPROT_BOOT`: what `ip route add` marks routes with when no protocol is given.
const DEFAULT_PROTOCOL: u8 = 3;

/// Whether a message is meant to add or to delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Del,
}

impl Netlink {
    /// Installs `route` (replace-or-create, so a route already there is fine). The device is
    /// `route.dev` when set (resolved to its index here), else `default_ifindex` (pass the
    /// instance's interface), else left to the kernel. Defaults as iproute2's: table main,
    /// protocol boot, scope link without a gateway and global with one.
    pub async fn add_route(
        &self,
        route: &VirtualRoute,
        default_ifindex: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let oif = match route.dev.as_deref() {
            Some(dev) => Some(self.require_index(dev).await?),
            None => default_ifindex,
        };
        let message = route_message(route, oif, Op::Add)?;
        match self.handle.route().add(message).replace().execute().await {
            Err(e) if kernel_errno(&e) != Some(libc::EEXIST) => {
                Err(self.request_error(format!("adding route {}", describe(route)), e))
            }
            _ => Ok(()),
        }
    }

    /// Removes `route`, found by destination, table, gateway, device (as in
    /// [`add_route`](Self::add_route)) and, when given, protocol and scope. A route or a device
    /// that is not there is fine.
    pub async fn del_route(
        &self,
        route: &VirtualRoute,
        default_ifindex: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let oif = match route.dev.as_deref() {
            Some(dev) => match self.link_by_name(dev).await? {
                Some(link) => Some(link.index),
                // Routes through a device go with it.
                None => return Ok(()),
            },
            None => default_ifindex,
        };
        let message = route_message(route, oif, Op::Del)?;
        match self.handle.route().del(message).execute().await {
            Err(e) if !matches!(kernel_errno(&e), Some(libc::ESRCH | libc::ENODEV)) => {
                Err(self.request_error(format!("removing route {}", describe(route)), e))
            }
            _ => Ok(()),
        }
    }
}

/// `dst/len via gw dev x table t`, for messages.
fn describe(route: &VirtualRoute) -> String {
    let mut text = format!("{}/{}", route.dst, route.prefix_len);
    if let Some(via) = route.via {
        text += &format!(" via {via}");
    }
    if let Some(dev) = &route.dev {
        text += &format!(" dev {dev}");
    }
    if let Some(table) = route.table {
        text += &format!(" table {table}");
    }
    if let Some(metric) = route.metric {
        text += &format!(" metric {metric}");
    }
    text
}

/// The `RTM_NEWROUTE`/`RTM_DELROUTE` body for `route` through `oif`.
fn route_message(
    route: &VirtualRoute,
    oif: Option<u32>,
    op: Op,
) -> Result<RouteMessage, NetlinkError> {
    let bad = |why: &str| NetlinkError::BadRoute {
        dst: route.dst,
        prefix_len: route.prefix_len,
        why: why.to_string(),
    };
    let (family, max_len) = match route.dst {
        IpAddr::V4(_) => (AddressFamily::Inet, 32),
        IpAddr::V6(_) => (AddressFamily::Inet6, 128),
    };
    if route.prefix_len > max_len {
        return Err(bad(&format!("prefix length above {max_len}")));
    }
    if host_bits(route.dst, route.prefix_len) {
        return Err(bad("the destination has bits set beyond the prefix length"));
    }
    if let Some(via) = route.via
        && via.is_ipv4() != route.dst.is_ipv4()
    {
        return Err(bad(&format!(
            "gateway {via} is not of the destination's family"
        )));
    }

    let mut message = RouteMessage::default();
    let header = &mut message.header;
    header.address_family = family;
    header.destination_prefix_length = route.prefix_len;
    header.kind = RouteType::Unicast;
    let table = route.table.unwrap_or(u32::from(RouteHeader::RT_TABLE_MAIN));
    header.table = u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
    header.protocol = match (route.protocol.as_deref(), op) {
        (Some(name), _) => parse_protocol(name)?.into(),
        (None, Op::Add) => DEFAULT_PROTOCOL.into(),
        // Unspecified matches any protocol.
        (None, Op::Del) => RouteProtocol::Unspec,
    };
    header.scope = match (route.scope.as_deref(), op) {
        (Some(name), _) => parse_scope(name)?.into(),
        (None, Op::Add) if route.via.is_some() => RouteScope::Universe,
        (None, Op::Add) => RouteScope::Link,
        // `nowhere` matches any scope.
        (None, Op::Del) => RouteScope::NoWhere,
    };

    let attributes = &mut message.attributes;
    attributes.push(RouteAttribute::Table(table));
    if route.prefix_len > 0 {
        attributes.push(RouteAttribute::Destination(route.dst.into()));
    }
    if let Some(via) = route.via {
        attributes.push(RouteAttribute::Gateway(via.into()));
    }
    if let Some(oif) = oif {
        attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(metric) = route.metric {
        attributes.push(RouteAttribute::Priority(metric));
    }
    if let Some(src) = route.src {
        if src.is_ipv4() != route.dst.is_ipv4() {
            return Err(bad(&format!(
                "source {src} is not of the destination's family"
            )));
        }
        attributes.push(RouteAttribute::PrefSource(src.into()));
    }
    Ok(message)
}

/// True if `addr` has bits set beyond its first `prefix_len`.
fn host_bits(addr: IpAddr, prefix_len: u8) -> bool {
    match addr {
        IpAddr::V4(a) => u32::from(a)
            .checked_shl(u32::from(prefix_len))
            .is_some_and(|rest| rest != 0),
        IpAddr::V6(a) => u128::from(a)
            .checked_shl(u32::from(prefix_len))
            .is_some_and(|rest| rest != 0),
    }
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_route::route::RouteAddress;

    use super::*;

    fn route(dst: &str, prefix_len: u8) -> VirtualRoute {
        VirtualRoute {
            dst: dst.parse().unwrap(),
            prefix_len,
            via: None,
            dev: None,
            scope: None,
            protocol: None,
            table: None,
            metric: None,
            src: None,
            no_track: false,
        }
    }

    #[test]
    fn default_route_via_gateway() {
        let mut r = route("0.0.0.0", 0);
        r.via = Some("10.1.0.1".parse().unwrap());
        r.protocol = Some("static".into());
        let m = route_message(&r, Some(3), Op::Add).unwrap();
        assert_eq!(m.header.address_family, AddressFamily::Inet);
        assert_eq!(m.header.destination_prefix_length, 0);
        assert_eq!(m.header.protocol, RouteProtocol::Static);
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert_eq!(m.header.table, RouteHeader::RT_TABLE_MAIN);
        assert!(
            !m.attributes
                .iter()
                .any(|a| matches!(a, RouteAttribute::Destination(_))),
            "no RTA_DST for a default route"
        );
        assert!(
            m.attributes
                .contains(&RouteAttribute::Gateway(RouteAddress::Inet(
                    "10.1.0.1".parse().unwrap()
                )))
        );
        assert!(m.attributes.contains(&RouteAttribute::Oif(3)));
        assert!(m.attributes.contains(&RouteAttribute::Table(254)));
    }

    #[test]
    fn defaults_follow_iproute2() {
        let r = route("198.51.100.0", 24);
        let add = route_message(&r, None, Op::Add).unwrap();
        assert_eq!(add.header.scope, RouteScope::Link, "no gateway: scope link");
        assert_eq!(add.header.protocol, RouteProtocol::Boot);
        assert!(
            !add.attributes
                .iter()
                .any(|a| matches!(a, RouteAttribute::Oif(_)))
        );
        let del = route_message(&r, None, Op::Del).unwrap();
        assert_eq!(del.header.scope, RouteScope::NoWhere, "wildcard scope");
        assert_eq!(
            del.header.protocol,
            RouteProtocol::Unspec,
            "wildcard protocol"
        );
    }

    #[test]
    fn explicit_scope_protocol_and_tables() {
        let mut r = route("2001:db8:1::", 48);
        r.scope = Some("host".into());
        r.protocol = Some("42".into());
        r.table = Some(100);
        let m = route_message(&r, Some(2), Op::Del).unwrap();
        assert_eq!(m.header.address_family, AddressFamily::Inet6);
        assert_eq!(m.header.scope, RouteScope::Host);
        assert_eq!(m.header.protocol, RouteProtocol::Babel);
        assert_eq!(m.header.table, 100);
        r.table = Some(1000);
        let m = route_message(&r, Some(2), Op::Add).unwrap();
        assert_eq!(m.header.table, RouteHeader::RT_TABLE_UNSPEC);
        assert!(m.attributes.contains(&RouteAttribute::Table(1000)));
    }

    #[test]
    fn rejects_inconsistent_routes() {
        let cases = [
            route("10.0.0.1", 24),
            route("10.0.0.0", 33),
            route("2001:db8::1", 64),
            route("::", 129),
            VirtualRoute {
                via: Some("fe80::1".parse().unwrap()),
                ..route("10.0.0.0", 8)
            },
        ];
        for r in cases {
            let err = route_message(&r, None, Op::Add).unwrap_err();
            assert!(matches!(err, NetlinkError::BadRoute { .. }), "{r:?}: {err}");
        }
        let mut r = route("10.0.0.0", 8);
        r.protocol = Some("nope".into());
        assert!(matches!(
            route_message(&r, None, Op::Add),
            Err(NetlinkError::BadProtocol(_))
        ));
    }

    #[test]
    fn host_bit_check() {
        assert!(!host_bits("0.0.0.0".parse().unwrap(), 0));
        assert!(host_bits("0.0.0.1".parse().unwrap(), 0));
        assert!(!host_bits("10.1.2.3".parse().unwrap(), 32));
        assert!(!host_bits("::".parse().unwrap(), 0));
        assert!(!host_bits("2001:db8::".parse().unwrap(), 32));
        assert!(host_bits("2001:db8::1".parse().unwrap(), 127));
    }
}
