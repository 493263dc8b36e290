//! The tokio driver around the sans-IO core: the only place that reads the clock and awaits.
//! It feeds packets, timers, tracking results and signals into the state machines and carries
//! out their outputs (data plane, addresses and routes, adverts, GARP/NA, notify scripts,
//! state files).
//!
//! May import everything in the crate; nothing imports it but the binary.

pub mod config_notes;
pub mod hysteresis;
pub mod notify;
pub mod ownership;
pub mod run;
pub mod state_file;

mod effects;
mod engine;
mod events;
mod fastpath;
mod fastpath_watch;
mod kernel_nat;
mod primary;
mod relink;
mod reload;
pub mod router;
mod script_identity;
pub mod script_policy;
mod script_security;
mod script_shell;
mod setup;
mod status;
mod tracking;
pub mod xdp_sink;
