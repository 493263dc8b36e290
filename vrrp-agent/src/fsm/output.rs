//! Effects of the state machine, as values, in the order the driver must carry them out.
//!
//! Takeover: `Transition`, `SetOwnership { owned: true }`, `AddAddresses`, `AddRoutes`,
//! `RenewLease`, `SendAdvert`, `SendGratuitous`, `WriteState`, `RunNotify`.
//! Release: `Transition`, `SetOwnership { owned: false }` (first, so the data plane stops at
//! once), [`SendAdvert` with priority 0 on shutdown/fault], `RemoveRoutes`, `RemoveAddresses`,
//! `WriteState`, `RunNotify`.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use super::{Notice, Reason, State, VirtualAddress, VirtualRoute};
use crate::packet::{Advert, ChecksumForm};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Log line: one per transition, with its reason.
    Transition {
        from: State,
        to: State,
        reason: Reason,
        at: Instant,
    },
    /// Tell the data plane whether this node owns the virtual addresses.
    SetOwnership {
        owned: bool,
        accept: bool,
    },
    /// A master is about to advertise: its data-plane ownership may outlive this advert by
    /// this long, and no longer (the lease that fences a master whose process died; see
    /// [`Instance::fencing_lease`](super::Instance::fencing_lease)). Always right before the
    /// `SendAdvert` it covers.
    RenewLease(Duration),
    /// Multicast this advert (priority 0 when resigning), its checksum in `checksum` (which
    /// matters for VRRPv3 over IPv4 only).
    SendAdvert {
        advert: Advert,
        checksum: ChecksumForm,
    },
    AddAddresses(Vec<VirtualAddress>),
    RemoveAddresses(Vec<VirtualAddress>),
    AddRoutes(Vec<VirtualRoute>),
    RemoveRoutes(Vec<VirtualRoute>),
    /// Gratuitous ARP (IPv4) / unsolicited NA (IPv6) for each address, `repeat` times.
    SendGratuitous {
        addresses: Vec<IpAddr>,
        repeat: u32,
    },
    /// Persist the state (state file).
    WriteState(State),
    /// Run the notify scripts for this state (keepalived's `INSTANCE name STATE priority`).
    RunNotify {
        state: State,
        priority: u8,
    },
    /// Something to log about received adverts (already rate-limited).
    Notice(Notice),
    /// A sync-group member's master-down timer expired: it wants MASTER but waits until
    /// every member does (the driver asks its [`SyncGroup`](super::SyncGroup)).
    SyncWantsMaster,
    /// A balanced backup started wanting its router moved to this node (its master's node is
    /// busier, see [`balance`](super::balance)): it waits for the node's grant (the
    /// [`Router`](super::Router) answers with [`Input::BalanceGrant`](super::Input)).
    BalanceWanted,
}
