//! Link and address events of one namespace as a stream, decoded from the multicast socket's
//! messages; a receive-buffer overrun becomes [`NetlinkEvent::Resync`]. Imports `info`.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use futures::{Stream, StreamExt, channel::mpsc::UnboundedReceiver};
use rtnetlink::{
    packet_core::{NetlinkMessage, NetlinkPayload},
    packet_route::{AddressFamily, RouteNetlinkMessage},
    sys::SocketAddr,
};
use tokio::task::AbortHandle;

use super::{AddrInfo, LinkInfo};

/// Something changed in the namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetlinkEvent {
    /// An interface appeared or changed (flags, carrier, name, MTU, ...).
    Link(LinkInfo),
    /// An interface is gone.
    LinkRemoved {
        index: u32,
        name: String,
    },
    AddressAdded(AddrInfo),
    AddressRemoved(AddrInfo),
    /// The kernel dropped events (the socket's receive buffer overran): whatever was learned
    /// from events may be stale, read the state again.
    Resync,
}

impl NetlinkEvent {
    /// Decodes one message of the multicast socket (`None`: not something we report).
    pub fn from_message(message: &NetlinkMessage<RouteNetlinkMessage>) -> Option<Self> {
        match &message.payload {
            NetlinkPayload::Overrun(_) => Some(Self::Resync),
            NetlinkPayload::InnerMessage(inner) => match inner {
                // AF_BRIDGE messages on the same group describe bridge ports, not links.
                RouteNetlinkMessage::NewLink(link)
                    if link.header.interface_family == AddressFamily::Unspec =>
                {
                    LinkInfo::from_message(link).map(Self::Link)
                }
                RouteNetlinkMessage::DelLink(link)
                    if link.header.interface_family == AddressFamily::Unspec =>
                {
                    LinkInfo::from_message(link).map(|l| Self::LinkRemoved {
                        index: l.index,
                        name: l.name,
                    })
                }
                RouteNetlinkMessage::NewAddress(addr) => {
                    AddrInfo::from_message(addr).map(Self::AddressAdded)
                }
                RouteNetlinkMessage::DelAddress(addr) => {
                    AddrInfo::from_message(addr).map(Self::AddressRemoved)
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// The events of one namespace, in the kernel's order. Ends only if the connection fails;
/// dropping it stops the connection.
#[derive(Debug)]
pub struct NetlinkEvents {
    messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    connection: AbortHandle,
}

impl NetlinkEvents {
    pub(super) fn new(
        messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
        connection: AbortHandle,
    ) -> Self {
        Self {
            messages,
            connection,
        }
    }

    /// The next event (`None` once the connection is gone); the same as `StreamExt::next`.
    pub async fn recv(&mut self) -> Option<NetlinkEvent> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for NetlinkEvents {
    type Item = NetlinkEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NetlinkEvent>> {
        loop {
            let Some((message, sender)) = std::task::ready!(self.messages.poll_next_unpin(cx))
            else {
                return Poll::Ready(None);
            };
            // Only the kernel (port 0) speaks for the namespace; the overrun marker netlink-proto
            // synthesizes carries port 0 too.
            if sender.port_number() != 0 {
                continue;
            }
            if let Some(event) = NetlinkEvent::from_message(&message) {
                return Poll::Ready(Some(event));
            }
        }
    }
}

impl Drop for NetlinkEvents {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_route::{
        address::{AddressAttribute, AddressMessage},
        link::{LinkAttribute, LinkMessage},
        route::RouteMessage,
    };

    use super::*;

    fn wrap(inner: RouteNetlinkMessage) -> NetlinkMessage<RouteNetlinkMessage> {
        NetlinkMessage::from(inner)
    }

    fn link(family: AddressFamily) -> LinkMessage {
        let mut link = LinkMessage::default();
        link.header.interface_family = family;
        link.header.index = 3;
        link.attributes.push(LinkAttribute::IfName("vx0".into()));
        link
    }

    #[test]
    fn decodes_links_addresses_and_overruns() {
        let event = NetlinkEvent::from_message(&wrap(RouteNetlinkMessage::NewLink(link(
            AddressFamily::Unspec,
        ))));
        assert!(matches!(event, Some(NetlinkEvent::Link(l)) if l.index == 3 && l.name == "vx0"));

        let event = NetlinkEvent::from_message(&wrap(RouteNetlinkMessage::DelLink(link(
            AddressFamily::Unspec,
        ))));
        assert_eq!(
            event,
            Some(NetlinkEvent::LinkRemoved {
                index: 3,
                name: "vx0".into()
            })
        );

        let mut addr = AddressMessage::default();
        addr.header.family = AddressFamily::Inet;
        addr.header.index = 3;
        addr.attributes
            .push(AddressAttribute::Local("10.0.0.1".parse().unwrap()));
        let added =
            NetlinkEvent::from_message(&wrap(RouteNetlinkMessage::NewAddress(addr.clone())));
        assert!(matches!(added, Some(NetlinkEvent::AddressAdded(a)) if a.ifindex == 3));
        let removed = NetlinkEvent::from_message(&wrap(RouteNetlinkMessage::DelAddress(addr)));
        assert!(matches!(removed, Some(NetlinkEvent::AddressRemoved(_))));

        let overrun = NetlinkMessage::new(Default::default(), NetlinkPayload::Overrun(Vec::new()));
        assert_eq!(
            NetlinkEvent::from_message(&overrun),
            Some(NetlinkEvent::Resync)
        );
    }

    #[test]
    fn ignores_bridge_port_messages_and_other_kinds() {
        for message in [
            RouteNetlinkMessage::DelLink(link(AddressFamily::Bridge)),
            RouteNetlinkMessage::NewLink(link(AddressFamily::Bridge)),
            RouteNetlinkMessage::NewRoute(RouteMessage::default()),
        ] {
            assert_eq!(NetlinkEvent::from_message(&wrap(message)), None);
        }
    }
}
