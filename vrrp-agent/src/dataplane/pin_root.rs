//! Where the data plane pins its maps and links so that they outlive the agent: the host's bpf
//! filesystem. Neutron starts `keepalived` with `ip netns exec`, which gives the process a
//! private mount namespace with a fresh `/sys`: a bpffs mounted there is private and dies with
//! the process, taking the pinned links (and so the fencing of a killed master) with it.
//!
//! So, before anything forks, [`capture`] looks for the host's bpffs from outside this mount
//! namespace: through PID 1's root (`/proc/1/root/sys/fs/bpf`) or, where PID 1 cannot be looked
//! at (containers, sandboxes), through the root of the process that started us (`ip netns exec`
//! execs in place, so that is whoever ran it). It keeps a directory descriptor of it, and pins
//! go under `/proc/self/fd/<fd>`: in the host's bpffs, where a restarted agent finds them.
//! Depends on nix and /proc only.

use std::{
    os::fd::{AsRawFd, OwnedFd},
    path::{Path, PathBuf},
    sync::OnceLock,
};

use nix::{fcntl::OFlag, sys::stat::Mode};

/// The bpf filesystem's usual mount point.
pub const BPFFS: &str = "/sys/fs/bpf";
/// `statfs` magic of the bpf filesystem.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// Where pin paths through a kept descriptor start.
const FD_PREFIX: &str = "/proc/self/fd";

/// The host's bpffs found from a private mount namespace.
#[derive(Debug)]
struct HostBpffs {
    dir: OwnedFd,
    /// Whose root led there (1, or the process that started us).
    via_pid: i32,
}

/// What [`capture`] found.
#[derive(Debug)]
enum Found {
    /// This process shares the host's mount namespace (or nothing says otherwise).
    HostNamespace,
    /// A private mount namespace; the host's bpffs reached from outside it.
    Host(HostBpffs),
    /// A private mount namespace and no way to the host's bpffs.
    Private,
}

static FOUND: OnceLock<Found> = OnceLock::new();

fn is_bpffs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 == BPF_FS_MAGIC)
}

fn mount_namespace(pid: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()
}

fn find() -> Found {
    let Some(own) = mount_namespace("self") else {
        return Found::HostNamespace;
    };
    let parent = nix::unistd::getppid().as_raw();
    let mut private = false;
    for pid in [1, parent] {
        let Some(theirs) = mount_namespace(&pid.to_string()) else {
            continue;
        };
        if theirs == own {
            if pid == 1 {
                return Found::HostNamespace;
            }
            continue;
        }
        private = true;
        let path = PathBuf::from(format!("/proc/{pid}/root{BPFFS}"));
        if !is_bpffs(&path) {
            continue;
        }
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        if let Ok(dir) = nix::fcntl::open(&path, flags, Mode::empty()) {
            return Found::Host(HostBpffs { dir, via_pid: pid });
        }
    }
    if private {
        Found::Private
    } else {
        Found::HostNamespace
    }
}

/// Looks for the host's bpffs once. Call it first thing, before forking into the background:
/// afterwards the process that started us may be gone.
pub fn capture() {
    FOUND.get_or_init(find);
}

/// The bpffs to pin under: `/sys/fs/bpf` in the host's mount namespace; in a private one, the
/// host's bpffs (through a kept descriptor) when [`capture`] found it, else the private
/// `/sys/fs/bpf` (the caller mounts it; pins then die with the process, and this warns).
pub fn pin_root() -> PathBuf {
    match FOUND.get_or_init(find) {
        Found::HostNamespace => PathBuf::from(BPFFS),
        Found::Host(host) => {
            tracing::info!(
                "this process runs in a mount namespace of its own (ip netns exec); it pins its \
                 XDP state in the host's bpf filesystem, reached through process {}'s root, so \
                 the pins outlive it",
                host.via_pid
            );
            PathBuf::from(format!("{FD_PREFIX}/{}", host.dir.as_raw_fd()))
        }
        Found::Private => {
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
    fn a_process_in_the_test_runners_namespace_pins_under_sys_fs_bpf() {
        // The test runs where it was started: same mount namespace as its parent.
        assert!(matches!(find(), Found::HostNamespace));
        assert!(!is_host_path(Path::new(BPFFS)));
        assert!(is_host_path(Path::new("/proc/self/fd/7/vrrp-xdp")));
    }
}
