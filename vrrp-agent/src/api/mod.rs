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

/// The status socket of the router whose keepalived.conf is `config`, named after the
/// configuration's folder (Neutron's router id) and a hash of its path:
/// `/run/vrrp-agent/keepalived-<folder>-<hash>.sock`. A standalone `keepalived` process serves
/// it itself; the node agent serves it for each router it runs.
pub fn keepalived_socket(config: &std::path::Path) -> std::path::PathBuf {
    use std::hash::{Hash, Hasher};
    let router: String = config
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("default")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    config.hash(&mut h);
    std::path::Path::new(SOCKET_DIR).join(format!(
        "keepalived-{router}-{:08x}.sock",
        h.finish() as u32
    ))
}

/// Where the router whose keepalived.conf is `config` keeps its per-instance state files:
/// beside its status socket, `/run/vrrp-agent/keepalived-<folder>-<hash>.state/`. Not in the
/// configuration's folder: Neutron deletes that folder (`HaRouter.delete()`: SIGTERM, then
/// `shutil.rmtree` without waiting for the process to exit), and a state file written while
/// the router shuts down would recreate an entry in it and make the removal fail.
pub fn keepalived_state_dir(config: &std::path::Path) -> std::path::PathBuf {
    keepalived_socket(config).with_extension("state")
}
