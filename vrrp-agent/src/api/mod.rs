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
/// it itself; the node agent serves it for each router it runs. The name also names the
/// router's state folder and (standalone) its pin folder, which a later version of the agent
/// must find again: so the hash is FNV-1a, whose values are fixed by its definition, never
/// `DefaultHasher`, whose output may change between Rust releases.
pub fn keepalived_socket(config: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let router: String = config
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("default")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    let hash = fnv1a_64(config.as_os_str().as_bytes());
    std::path::Path::new(SOCKET_DIR).join(format!("keepalived-{router}-{:08x}.sock", hash as u32))
}

/// 64-bit FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/).
fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Where the router whose keepalived.conf is `config` keeps its per-instance state files:
/// beside its status socket, `/run/vrrp-agent/keepalived-<folder>-<hash>.state/`. Not in the
/// configuration's folder: Neutron deletes that folder (`HaRouter.delete()`: SIGTERM, then
/// `shutil.rmtree` without waiting for the process to exit), and a state file written while
/// the router shuts down would recreate an entry in it and make the removal fail.
pub fn keepalived_state_dir(config: &std::path::Path) -> std::path::PathBuf {
    keepalived_socket(config).with_extension("state")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn fnv1a_64_matches_the_reference_values() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    /// The names are part of what a running router leaves behind (its socket, state and pin
    /// folders): they must be the same for every build of the agent.
    #[test]
    fn a_router_keeps_its_socket_and_state_names_across_builds() {
        let config = Path::new(
            "/var/lib/neutron/ha_confs/0a1b2c3d-4e5f-6789-abcd-ef0123456789/keepalived.conf",
        );
        assert_eq!(
            keepalived_socket(config),
            Path::new(
                "/run/vrrp-agent/keepalived-0a1b2c3d-4e5f-6789-abcd-ef0123456789-2d08ed05.sock"
            )
        );
        assert_eq!(
            keepalived_state_dir(config),
            Path::new(
                "/run/vrrp-agent/keepalived-0a1b2c3d-4e5f-6789-abcd-ef0123456789-2d08ed05.state"
            )
        );
        assert_eq!(
            keepalived_socket(Path::new("keepalived.conf")),
            Path::new("/run/vrrp-agent/keepalived-default-00e05dd5.sock")
        );
    }
}
