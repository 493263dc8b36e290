//! Where the data plane pins its maps and links so that they outlive the agent: the host's bpf
//! filesystem. Neutron starts `keepalived` with `ip netns exec`, which gives the process a
//! private mount namespace with a fresh `/sys`: a bpffs mounted there is private and dies with
//! the process, taking the pinned links (and so the fencing of a killed master) with it. So
//! from a private mount namespace, pins go under the host's bpffs that `crate::host_view` found
//! before forking, through its kept descriptor: `/proc/self/fd/<fd>/...`, where a restarted
//! agent finds them. Depends on `crate::host_view`.

use std::{
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

use crate::host_view;
pub use crate::host_view::BPFFS;

/// Where pin paths through a kept descriptor start.
const FD_PREFIX: &str = "/proc/self/fd";

/// The bpffs to pin under: `/sys/fs/bpf` in the host's mount namespace; in a private one, the
/// host's bpffs (through a kept descriptor) when there is one, else the private `/sys/fs/bpf`
/// (the caller mounts it; pins then die with the process, and this warns).
pub fn pin_root() -> PathBuf {
    let view = host_view::view();
    if !view.private_mounts {
        return PathBuf::from(BPFFS);
    }
    match view.bpffs() {
        Some(fd) => {
            tracing::info!(
                "this process runs in a mount namespace of its own (ip netns exec); it pins its \
                 XDP state in the host's bpf filesystem, reached through process {}'s root, so \
                 the pins outlive it",
                view.via_pid.unwrap_or(1)
            );
            PathBuf::from(format!("{FD_PREFIX}/{}", fd.as_raw_fd()))
        }
        None => {
            tracing::warn!(
                "this process runs in a mount namespace of its own (ip netns exec?) and cannot \
                 reach the host's bpf filesystem: pinned XDP links die with the process, so a \
                 killed agent does not fence its addresses; mount bpffs on the host \
                 (mount -t bpf bpf /sys/fs/bpf) before starting the agent"
            );
            PathBuf::from(BPFFS)
        }
    }
}

/// Whether `dir` is in the host's bpffs reached through a kept descriptor (nothing to mount).
pub fn is_host_path(dir: &Path) -> bool {
    dir.starts_with(FD_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_through_a_kept_descriptor_need_no_mount() {
        assert!(!is_host_path(Path::new(BPFFS)));
        assert!(is_host_path(Path::new("/proc/self/fd/7/vrrp-xdp")));
    }
}
