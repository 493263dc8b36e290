//! Starting the node agent on demand, from a `keepalived` process that Neutron started with
//! `ip netns exec`: the new agent must not live in that router's network namespace or in the
//! private mount namespace `ip netns exec` made (both would outlive the router in it, and the
//! agent serves every router of the node). So a forked child enters the host's mount and
//! network namespaces that `crate::host_view` kept descriptors of, then executes this binary
//! (through a descriptor of `/proc/self/exe`, which names it whatever the mount namespace) as
//! `vrrp-agent node --settings FILE`, which goes to the background by itself. Two clients
//! starting one each at once is fine: the second node agent finds the first one's lock and
//! exits. Must be called while the process has a single thread. Depends on nix and
//! `crate::host_view`.

use std::{ffi::CString, os::fd::AsFd, path::Path};

use nix::{
    fcntl::OFlag,
    sched::{CloneFlags, setns},
    sys::{stat::Mode, wait::waitpid},
    unistd::{ForkResult, chdir, fexecve, fork, setsid},
};

use crate::host_view;

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot open this program (/proc/self/exe): {0}")]
    Exe(nix::Error),
    #[error("fork failed: {0}")]
    Fork(nix::Error),
    #[error("waiting for the node agent's launcher: {0}")]
    Wait(nix::Error),
    #[error("the node agent's launcher failed (exit status {0}); see the node agent's log")]
    Launcher(i32),
}

/// Starts `vrrp-agent node --settings <settings_path>` in the host's namespaces and waits
/// until it has gone to the background.
pub fn start_node_agent(settings_path: &Path) -> Result<(), SpawnError> {
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(SpawnError::Exe)?;
    let args: Vec<CString> = ["vrrp-agent", "node", "--settings"]
        .iter()
        .map(|a| CString::new(*a).expect("no NUL"))
        .chain(CString::new(settings_path.as_os_str().as_encoded_bytes()).ok())
        .collect();
    let view = host_view::view();
    // The new agent is in the host's namespaces when we can take it there (or already are).
    let in_host = !view.private_mounts || view.mount_ns.is_some();
    let env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != host_view::IN_HOST_ENV)
        .chain(in_host.then(|| (host_view::IN_HOST_ENV.into(), "1".into())))
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            CString::new(kv).ok()
        })
        .collect();
    // SAFETY: the caller guarantees a single thread, so the child is a consistent copy; it
    // only makes system calls before exec.
    match unsafe { fork() }.map_err(SpawnError::Fork)? {
        ForkResult::Child => {
            let _ = setsid();
            if let Some(mnt) = &view.mount_ns {
                let _ = setns(mnt.as_fd(), CloneFlags::CLONE_NEWNS);
            }
            if let Some(net) = &view.net_ns {
                let _ = setns(net.as_fd(), CloneFlags::CLONE_NEWNET);
            }
            let _ = chdir("/");
            let _ = fexecve(exe.as_fd(), &args, &env);
            // Only reached when exec failed.
            std::process::exit(127);
        }
        ForkResult::Parent { child } => match waitpid(child, None).map_err(SpawnError::Wait)? {
            nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
            nix::sys::wait::WaitStatus::Exited(_, code) => Err(SpawnError::Launcher(code)),
            _ => Err(SpawnError::Launcher(-1)),
        },
    }
}
