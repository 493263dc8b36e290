//! The tokio driver around the sans-IO core: the only place that reads the clock and awaits.
//! It feeds packets, timers, tracking results and signals into the state machines and carries
//! out their outputs (data plane, addresses and routes, adverts, GARP/NA, notify scripts,
//! state files).
//!
//! May import everything in the crate; nothing imports it but the binary.

// The driver: the one place of the daemon that reads the clock (see clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod config_notes;
pub mod hysteresis;
pub mod notify;
pub mod ownership;
pub mod run;
pub mod state_file;

mod conntrack_sync;
mod conntrackd;
mod effects;
mod engine;
mod events;
mod fastpath;
mod fastpath_watch;
mod kernel_nat;
mod outputs;
mod primary;
mod relink;
mod reload;
pub mod router;
mod script_identity;
pub mod script_policy;
mod script_security;
mod script_shell;
mod send_queue;
mod setup;
mod slot;
mod status;
mod tracking;
mod vmac;
mod vmac_link;
pub mod xdp_sink;
