//! Everything that reaches the engine, as one event type on one channel.

use super::slot::{ObjectKey, SocketKey};
use crate::{
    api::server::StatusQuery,
    config::AgentConfig,
    net::{Received, RecvError},
    netlink::NetlinkEvent,
};

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
    /// A `vrrp_script` or reachability check changed state.
    Check {
        key: ObjectKey,
        up: bool,
    },
    Status(StatusQuery),
    Reload(Box<AgentConfig>),
    /// A namespace's packet path as its fast-path watcher read it.
    PathState {
        netns: Option<String>,
        snapshot: Box<super::fastpath_watch::PathSnapshot>,
    },
    /// The conntrackd commit a takeover waits for is done, failed or timed out
    /// (`super::conntrack_sync`).
    ConntrackCommitted {
        id: crate::fsm::InstanceId,
        generation: u64,
        outcome: super::conntrack_sync::CommitOutcome,
    },
    Shutdown,
}
