//! Everything that reaches the engine, as one event type on one channel.

use crate::{
    api::server::StatusQuery,
    config::AgentConfig,
    net::{Received, RecvError},
    netlink::NetlinkEvent,
};

/// Identifies a socket: (namespace, interface, IPv6, AH). AH instances (VRRPv2 with
/// `auth_type AH`, IPv4) use a socket of their own: IP protocol 51 instead of 112.
pub type SocketKey = (Option<String>, String, bool, bool);

/// An instance slot and the generation of its occupant (events for a replaced instance are
/// ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotRef {
    pub index: usize,
    pub generation: u64,
}

#[derive(Debug)]
pub enum EngineEvent {
    Packet {
        socket: SocketKey,
        received: Received,
    },
    RecvError {
        socket: SocketKey,
        error: RecvError,
    },
    Netlink {
        netns: Option<String>,
        event: NetlinkEvent,
    },
    /// A `vrrp_script` changed state.
    Script {
        name: String,
        up: bool,
    },
    /// A reachability check of one instance changed state.
    Probe {
        slot: SlotRef,
        index: usize,
        up: bool,
    },
    Status(StatusQuery),
    Reload(Box<AgentConfig>),
    /// A namespace's packet path as its fast-path watcher read it.
    PathState {
        netns: Option<String>,
        snapshot: Box<super::fastpath_watch::PathSnapshot>,
    },
    Shutdown,
}
