//! Everything that can happen to a virtual router, as values.

use std::net::IpAddr;

use crate::packet::{Advert, ChecksumForm, DecodeError};

/// An event for [`Instance::handle_input`](super::Instance::handle_input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Start the election (RFC 5798 §6.4.1 Startup event).
    Startup,
    /// Start as MASTER at once: the agent restarted while this instance was master and its
    /// data-plane lease is still valid (forwarding never stopped; no flap). A tracked object
    /// that is down still wins (FAULT).
    Resume,
    /// Stop: a master sends priority 0 and releases everything (RFC 5798 §6.4.3 Shutdown).
    Shutdown,
    /// A decoded advert for this VRID, sent from `src`, its checksum in form `checksum`.
    Advert {
        src: IpAddr,
        advert: Advert,
        checksum: ChecksumForm,
    },
    /// A packet for this VRID from `src` failed a codec check (counted and logged only).
    RxDecodeError { src: IpAddr, error: DecodeError },
    /// An advert for this VRID from a source outside the instance's allow-list
    /// (`advert_sources`, else `unicast_peers`): counted as `source_not_allowed` and logged
    /// only.
    RxSourceNotAllowed { src: IpAddr },
    /// A tracked object (by index in the config) went up or down.
    Tracked { index: usize, up: bool },
    /// The primary address of the instance's interface changed (the source of our adverts
    /// and our side of the tie-break).
    PrimaryAddress(IpAddr),
    /// A command from the instance's sync group.
    Group(GroupCommand),
    /// Balancing (balanced instances only; from the [`Router`](super::Router)): how many
    /// *other* balanced instances of the node are MASTER, and the node's hysteresis (see
    /// [`balance`](super::balance)).
    NodeLoad {
        other_masters: usize,
        hysteresis: u8,
    },
    /// Balancing: the node grants this instance its one move in progress (after an
    /// [`Output::BalanceWanted`](super::Output::BalanceWanted)). Ignored unless it still
    /// wants the router.
    BalanceGrant,
}

/// What a sync group asks a member to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupCommand {
    /// Another member became master: become master too (from BACKUP).
    Master { group: String, member: String },
    /// Another member left master: become backup too.
    Backup { group: String, member: String },
    /// Another member is in FAULT: be in FAULT too.
    Fault { group: String, member: String },
    /// No member is in FAULT any more.
    FaultCleared { group: String },
}
