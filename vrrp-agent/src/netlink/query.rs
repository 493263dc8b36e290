//! Reading the namespace's state: interfaces (by name, by index, all) and the addresses of an
//! interface, the VRRP source address, and the interface a destination is routed through. Imports `info` and `handle`.

use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;

use super::{AddrInfo, LinkInfo, Netlink, NetlinkError, error::kernel_errno, info::select_primary};

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub(super) const MAX_IFNAME: usize = 15;

impl Netlink {
    /// The interface called `name`, if there is one.
    pub async fn link_by_name(&self, name: &str) -> Result<Option<LinkInfo>, NetlinkError> {
        if name.is_empty() || name.len() > MAX_IFNAME {
            return Err(NetlinkError::BadInterfaceName(name.to_string()));
        }
        let request = self.handle.link().get().match_name(name).execute();
        self.one_link(request, format!("looking up interface `{name}`"))
            .await
    }

    /// The interface with index `index`, if there is one.
    pub async fn link_by_index(&self, index: u32) -> Result<Option<LinkInfo>, NetlinkError> {
        let request = self.handle.link().get().match_index(index).execute();
        self.one_link(request, format!("looking up interface index {index}"))
            .await
    }

    /// Every interface of the namespace.
    pub async fn links(&self) -> Result<Vec<LinkInfo>, NetlinkError> {
        let messages: Vec<_> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| self.request_error("listing interfaces".into(), e))?;
        Ok(messages.iter().filter_map(LinkInfo::from_message).collect())
    }

    /// The IPv4 and IPv6 addresses of interface `ifindex`, in the kernel's order (IPv4 primary
    /// addresses before their secondaries).
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<AddrInfo>, NetlinkError> {
        let mut request = self.handle.address().get().set_link_index_filter(ifindex);
        request.message_mut().header.family = AddressFamily::Unspec;
        let messages: Vec<_> =
            request.execute().try_collect().await.map_err(|e| {
                self.request_error(format!("listing addresses of index {ifindex}"), e)
            })?;
        Ok(messages.iter().filter_map(AddrInfo::from_message).collect())
    }

    /// The address VRRP adverts go out from on `ifindex`: for IPv4 the first primary address
    /// of global or link scope not in `exclude` (pass the virtual addresses), for IPv6 its
    /// settled link-local address. See [`select_primary`].
    pub async fn primary_address(
        &self,
        ifindex: u32,
        ipv6: bool,
        exclude: &[IpAddr],
    ) -> Result<Option<IpAddr>, NetlinkError> {
        let addrs = self.addresses(ifindex).await?;
        Ok(select_primary(&addrs, ipv6, exclude))
    }

    async fn one_link(
        &self,
        request: impl futures::Stream<
            Item = Result<rtnetlink::packet_route::link::LinkMessage, rtnetlink::Error>,
        >,
        op: String,
    ) -> Result<Option<LinkInfo>, NetlinkError> {
        match request.try_collect::<Vec<_>>().await {
            Ok(messages) => Ok(messages.iter().find_map(LinkInfo::from_message)),
            Err(e) if kernel_errno(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(self.request_error(op, e)),
        }
    }
}

impl Netlink {
    /// The interface the FIB sends packets for `dst` through (`ip route get`), if any route
    /// reaches it through an interface.
    pub async fn route_oif(&self, dst: std::net::Ipv4Addr) -> Result<Option<u32>, NetlinkError> {
        use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet;
        message.header.destination_prefix_length = 32;
        message
            .attributes
            .push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
        let result: Result<Vec<RouteMessage>, _> = self
            .handle
            .route()
            .get(message)
            .execute()
            .try_collect()
            .await;
        match result {
            Ok(routes) => Ok(routes.iter().find_map(|r| {
                r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Oif(i) => Some(*i),
                    _ => None,
                })
            })),
            // No route (ENETUNREACH / EHOSTUNREACH) is an answer, not an error.
            Err(e)
                if matches!(
                    kernel_errno(&e),
                    Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EINVAL)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.request_error(format!("looking up the route to {dst}"), e)),
        }
    }
}

impl Netlink {
    /// The id this namespace gives the network namespace whose handle is at `path`
    /// (`RTM_GETNSID`), if it gave it one: how `IFLA_LINK_NETNSID` names the namespace of a
    /// veth's other end.
    pub async fn nsid_of(&self, path: &std::path::Path) -> Result<Option<i32>, NetlinkError> {
        use std::os::fd::AsRawFd;

        use futures::StreamExt;
        use rtnetlink::{
            packet_core::{NLM_F_REQUEST, NetlinkMessage, NetlinkPayload},
            packet_route::{
                RouteNetlinkMessage,
                nsid::{NsidAttribute, NsidMessage},
            },
        };
        let handle_error = |error: String| NetlinkError::NamespaceHandle {
            path: path.display().to_string(),
            error,
        };
        let file = std::fs::File::open(path).map_err(|e| handle_error(e.to_string()))?;
        let mut msg = NsidMessage::default();
        msg.attributes = vec![NsidAttribute::Fd(file.as_raw_fd() as u32)];
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNsId(msg));
        req.header.flags = NLM_F_REQUEST;
        let mut handle = self.handle.clone();
        let mut responses = handle
            .request(req)
            .map_err(|e| self.request_error(format!("asking the id of {}", path.display()), e))?;
        while let Some(r) = responses.next().await {
            match r.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(m)) => {
                    return Ok(m.attributes.iter().find_map(|a| match a {
                        NsidAttribute::Id(id) if *id >= 0 => Some(*id),
                        _ => None,
                    }));
                }
                NetlinkPayload::Error(e) => {
                    return Err(handle_error(format!("the kernel refused RTM_GETNSID: {e}")));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}
