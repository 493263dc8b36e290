//! Which named network namespace (`ip netns`) this process runs in: the entry of `/run/netns`
//! that is the same namespace as `/proc/self/ns/net` (same device and inode). `ip netns exec`
//! leaves no other trace of the name. Depends on std only.

use std::{os::unix::fs::MetadataExt, path::Path};

/// Where `ip netns` keeps its names.
pub const NETNS_DIR: &str = "/run/netns";

/// The name of this process's network namespace in `dir`, if it has one.
pub fn own_name(dir: &Path) -> Option<String> {
    let own = std::fs::metadata("/proc/self/ns/net").ok()?;
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| {
            std::fs::metadata(e.path()).is_ok_and(|m| m.dev() == own.dev() && m.ino() == own.ino())
        })
        .and_then(|e| e.file_name().into_string().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_our_namespace_names_none() {
        let dir = std::env::temp_dir().join(format!("vrrp-netns-name-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("not-a-namespace"), b"").unwrap();
        assert_eq!(own_name(&dir), None);
        assert_eq!(own_name(&dir.join("missing")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
