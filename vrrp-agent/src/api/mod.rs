//! The operator interface: a status snapshot (model), served as JSON over a unix socket
//! (server), fetched by `vrrp-agent status` (client) and shown as a table (table).
//!
//! May import `fsm` (for converting state) and tokio; the runtime builds the reports.

pub mod client;
pub mod model;
pub mod server;
pub mod table;

/// Where agents put their status sockets (`<dir>/*.sock`); `vrrp-agent status` asks them all.
pub const SOCKET_DIR: &str = "/run/vrrp-agent";
