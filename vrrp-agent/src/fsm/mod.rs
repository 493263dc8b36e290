//! The sans-IO VRRP state machine (RFC 9568 §6, RFC 3768 §6, with keepalived's FAULT state,
//! tracking and sync groups) for one virtual router.
//!
//! [`Router`] holds every instance of a node (dispatch, sync groups, tracked objects, the
//! node's share of [`balance`], the opt-in spreading of masters across nodes); the agent's
//! engine and the simulator drive it. Each [`Instance`] is
//! driven as `handle_input(input, now)` / `handle_timeout(now)`; timers are deadlines
//! (`poll_timeout()`); effects come out as [`Output`] values (`poll_output()`), in the order
//! they must be carried out. Time is always an argument: nothing here reads a clock, opens a
//! socket or spawns a task, so the RFC behaviour is testable with virtual time.
//!
//! May import `crate::packet` only.

pub mod balance;
mod balance_gate;
mod config;
mod counters;
mod garp;
mod input;
mod instance;
mod notice;
mod output;
mod receive;
mod replay;
mod router;
mod state;
mod sync_group;
mod timing;
mod tracking;

pub use balance_gate::{BalanceMove, BalanceSettings, BalanceStatus};
pub use config::{
    ChecksumPolicy, ConfigError, GarpConfig, InitialState, InstanceConfig, TrackedObject,
    VirtualAddress, VirtualRoute,
};
pub use counters::{Counters, RxErrorCounters};
pub use input::{GroupCommand, Input};
pub use instance::{Instance, InstanceStatus};
pub use notice::{Notice, RATE_LIMIT as NOTICE_RATE_LIMIT};
pub use output::Output;
pub use receive::RxCheckError;
pub use replay::AhSequence;
pub use router::{
    Delivery, InstanceId, MemberSpec, Packet, Router, RouterError, RxPolicy, TrackedState,
};
pub use state::{Reason, State};
pub use sync_group::SyncGroup;
pub use timing::{default_startup_delay, master_down_interval, skew_time};
