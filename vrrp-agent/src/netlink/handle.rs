//! Opening rtnetlink in a network namespace: two sockets created inside it (one for requests,
//! one subscribed to link and address events), whose connections then run on the caller's
//! tokio runtime. Imports `crate::netns` and this module's siblings.

use rtnetlink::{
    Handle, MulticastGroup, new_connection, new_multicast_connection, packet_core::NetlinkMessage,
    packet_route::RouteNetlinkMessage, proto::Connection, sys::SocketAddr,
};
use tokio::runtime;

use super::{NetlinkError, NetlinkEvents};
use crate::netns;

/// What `new_connection` returns.
type Parts = (
    Connection<RouteNetlinkMessage>,
    Handle,
    futures::channel::mpsc::UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
);

/// Link and address changes, as `ip monitor link address` sees them.
const GROUPS: &[MulticastGroup] = &[
    MulticastGroup::Link,
    MulticastGroup::Ipv4Ifaddr,
    MulticastGroup::Ipv6Ifaddr,
];

/// An rtnetlink handle on one network namespace. Cheap to clone; the request connection ends
/// when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Netlink {
    pub(super) handle: Handle,
    pub(super) netns: Option<String>,
}

impl Netlink {
    /// Opens rtnetlink in the named namespace (`None`: the caller's namespace) and subscribes
    /// to its link and IPv4/IPv6 address events.
    ///
    /// Must be called inside a tokio runtime, which then runs both connections. Blocks for as
    /// long as creating two sockets on a short-lived thread inside the namespace takes.
    pub fn open(netns: Option<&str>) -> Result<(Netlink, NetlinkEvents), NetlinkError> {
        let runtime = runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)?;
        let socket_error = |error| NetlinkError::Socket {
            netns: netns.map(str::to_string),
            error,
        };
        // The sockets belong to the namespace of the thread creating them; registering them
        // with the reactor needs the runtime's context on that thread.
        let (requests, events) = netns::run_in(netns, || {
            let _context = runtime.enter();
            let requests: Parts = new_connection()?;
            let events: Parts = new_multicast_connection(GROUPS)?;
            Ok((requests, events))
        })?
        .map_err(socket_error)?;

        let (connection, handle, _unsolicited) = requests;
        runtime.spawn(connection);
        let (connection, _event_handle, messages) = events;
        let task = runtime.spawn(connection);
        let netlink = Netlink {
            handle,
            netns: netns.map(str::to_string),
        };
        Ok((netlink, NetlinkEvents::new(messages, task.abort_handle())))
    }

    /// The namespace this handle works in (`None`: the one the process started in).
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// A typed error for a refused request.
    pub(super) fn request_error(&self, op: String, error: rtnetlink::Error) -> NetlinkError {
        NetlinkError::Request {
            op,
            netns: self.netns.clone(),
            error,
        }
    }
}
