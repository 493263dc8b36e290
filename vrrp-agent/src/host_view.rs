//! The host as seen from a process that `ip netns exec` started: that command puts the process
//! into a router's network namespace and into a private mount namespace whose `/sys` belongs to
//! the router, which is how Neutron starts `keepalived`. What lives on the host must be reached
//! from outside those namespaces: the host's bpf filesystem (pins that outlive the process) and
//! the host's mount and network namespaces (where a node-wide agent started on demand belongs).
//!
//! [`capture`] looks once, first thing in `main` (before forking into the background, after
//! which the process that started us may be gone), through PID 1 or, where PID 1 cannot be
//! looked at (containers, sandboxes), through the process that started us (`ip netns exec`
//! execs in place, so that is whoever ran it), and keeps descriptors. Depends on nix and /proc.

use std::{
    os::fd::{AsFd, BorrowedFd, OwnedFd},
    path::{Path, PathBuf},
    sync::OnceLock,
};

use nix::{fcntl::OFlag, sys::stat::Mode};

/// The bpf filesystem's usual mount point.
pub const BPFFS: &str = "/sys/fs/bpf";
/// `statfs` magic of the bpf filesystem.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// What [`capture`] found about the namespaces around this process.
#[derive(Debug, Default)]
pub struct HostView {
    /// This process's mount namespace is not the host's (PID 1's or its starter's).
    pub private_mounts: bool,
    /// The host's bpffs, when the mount namespace is private and the host has one.
    pub bpffs: Option<OwnedFd>,
    /// The host's mount namespace, when ours is private.
    pub mount_ns: Option<OwnedFd>,
    /// The host's network namespace, when ours differs.
    pub net_ns: Option<OwnedFd>,
    /// Whose namespaces those are (1, or the process that started us).
    pub via_pid: Option<i32>,
}

static VIEW: OnceLock<HostView> = OnceLock::new();

fn is_bpffs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 == BPF_FS_MAGIC)
}

fn namespace(pid: &str, kind: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()
}

fn open(path: &Path, flags: OFlag) -> Option<OwnedFd> {
    nix::fcntl::open(path, flags | OFlag::O_CLOEXEC, Mode::empty()).ok()
}

/// The first of PID 1 and our parent whose `kind` namespace can be read, with it; `None` when
/// neither can be read.
fn reference(kind: &str) -> Option<(i32, PathBuf)> {
    let parent = nix::unistd::getppid().as_raw();
    [1, parent]
        .into_iter()
        .find_map(|pid| Some((pid, namespace(&pid.to_string(), kind)?)))
}

/// Set by `crate::node::spawn` for the node agent it started after entering the host's mount
/// and network namespaces: where it runs is the host, whatever its parent's namespaces.
pub const IN_HOST_ENV: &str = "VRRP_AGENT_IN_HOST_NAMESPACES";

fn find() -> HostView {
    let mut view = HostView::default();
    if std::env::var_os(IN_HOST_ENV).is_some() {
        return view;
    }
    let parent = nix::unistd::getppid().as_raw();
    if let Some(own) = namespace("self", "mnt") {
        // PID 1 first; where PID 1 shares ours, nothing is private (our parent may itself be
        // in a private namespace, e.g. a shell under `ip netns exec`, and that is not the host).
        for pid in [1, parent] {
            let Some(theirs) = namespace(&pid.to_string(), "mnt") else {
                continue;
            };
            if theirs == own {
                if pid == 1 {
                    break;
                }
                continue;
            }
            view.private_mounts = true;
            let root = PathBuf::from(format!("/proc/{pid}/root"));
            let bpffs = root.join(BPFFS.trim_start_matches('/'));
            if is_bpffs(&bpffs) {
                view.bpffs = open(&bpffs, OFlag::O_PATH | OFlag::O_DIRECTORY);
            }
            view.mount_ns = open(Path::new(&format!("/proc/{pid}/ns/mnt")), OFlag::O_RDONLY);
            view.via_pid = Some(pid);
            break;
        }
    }
    if let (Some(own), Some((pid, theirs))) = (namespace("self", "net"), reference("net"))
        && own != theirs
    {
        view.net_ns = open(Path::new(&format!("/proc/{pid}/ns/net")), OFlag::O_RDONLY);
        view.via_pid.get_or_insert(pid);
    }
    view
}

/// Looks at the host once. Call it first thing, before forking.
pub fn capture() {
    VIEW.get_or_init(find);
}

/// What was found (looking now if [`capture`] was not called).
pub fn view() -> &'static HostView {
    VIEW.get_or_init(find)
}

impl HostView {
    pub fn bpffs(&self) -> Option<BorrowedFd<'_>> {
        self.bpffs.as_ref().map(AsFd::as_fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_in_its_starters_namespaces_sees_nothing_private() {
        // The test runs where it was started: same namespaces as its parent (and as PID 1
        // wherever PID 1 can be looked at).
        let v = find();
        assert!(!v.private_mounts, "{v:?}");
        assert!(v.bpffs.is_none() && v.mount_ns.is_none() && v.net_ns.is_none());
    }
}
