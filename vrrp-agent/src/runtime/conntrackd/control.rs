//! Telling one namespace's conntrackd what a transition means, in Neutron's order (its
//! `neutron-keepalived-state-change` runs conntrackd's own `primary-backup.sh` steps):
//! becoming MASTER, `-c` (commit the external cache, the connections the old master synced
//! to us, into the kernel), then `-f` (flush the internal and external caches), `-R` (fill
//! the internal cache from the kernel again) and `-B` (bulk-send it to the backups); becoming
//! BACKUP (or FAULT), `-t` (shorten the kernel's timers of what we forwarded, so stale entries
//! go) and `-n` (ask the master for a resync). The caller learns when the commit is done: it
//! holds the takeover (addresses, data-plane ownership) until then. Requests of a namespace
//! run one after the other on a task of their own, each command `conntrackd -C FILE OPTION`
//! inside the namespace (`ip netns exec`), bounded in time.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::sync::{mpsc, oneshot};

/// How long one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for a conntrackd that is (re)starting to open its socket.
const READY_WAIT: Duration = Duration::from_secs(1);
const READY_POLL: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("conntrackd's control socket {0} did not appear (conntrackd not running?)")]
    NotReady(PathBuf),
    #[error("cannot run conntrackd {option}: {error}")]
    Spawn {
        option: &'static str,
        error: std::io::Error,
    },
    #[error("conntrackd {option} failed ({status}): {stderr}")]
    Failed {
        option: &'static str,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("conntrackd {option} did not answer within {COMMAND_TIMEOUT:?}")]
    TimedOut { option: &'static str },
}

/// What a transition asks of conntrackd.
#[derive(Debug)]
pub enum Request {
    /// Becoming MASTER: `committed` learns when `-c` is done (and how long it took).
    Master {
        committed: oneshot::Sender<Result<Duration, ControlError>>,
    },
    /// Becoming BACKUP or FAULT.
    Backup,
}

/// The commands of each request, in order; the first of `Master` is the commit.
pub const MASTER: [&str; 4] = ["-c", "-f", "-R", "-B"];
pub const BACKUP: [&str; 2] = ["-t", "-n"];

/// Starts the worker of one namespace's conntrackd; returns its queue.
pub fn spawn(
    netns: Option<String>,
    file: PathBuf,
    socket: PathBuf,
) -> mpsc::UnboundedSender<Request> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    tokio::spawn(async move {
        let ns = netns.as_deref().unwrap_or("-").to_string();
        while let Some(request) = rx.recv().await {
            let ready = ready(&socket).await;
            match request {
                Request::Master { committed } => {
                    let started = Instant::now();
                    let commit = match &ready {
                        Ok(()) => run(netns.as_deref(), &file, MASTER[0]).await,
                        Err(e) => Err(ControlError::NotReady(e.clone())),
                    };
                    let ok = commit.is_ok();
                    let _ = committed.send(commit.map(|()| started.elapsed()));
                    if ok {
                        steps(netns.as_deref(), &file, &MASTER[1..], &ns).await;
                    }
                }
                Request::Backup => {
                    if ready.is_ok() {
                        steps(netns.as_deref(), &file, &BACKUP, &ns).await;
                    } else {
                        tracing::warn!(
                            netns = ns,
                            "conntrack_sync: conntrackd not running; no resync requested"
                        );
                    }
                }
            }
        }
    });
    tx
}

async fn steps(netns: Option<&str>, file: &Path, options: &[&'static str], ns: &str) {
    for option in options {
        if let Err(e) = run(netns, file, option).await {
            tracing::warn!(netns = ns, "conntrack_sync: {e}");
        }
    }
}

/// Waits for conntrackd's control socket.
async fn ready(socket: &Path) -> Result<(), PathBuf> {
    let deadline = Instant::now() + READY_WAIT;
    while !socket.exists() {
        if Instant::now() >= deadline {
            return Err(socket.to_path_buf());
        }
        tokio::time::sleep(READY_POLL).await;
    }
    Ok(())
}

/// `conntrackd -C FILE OPTION` inside `netns`.
async fn run(netns: Option<&str>, file: &Path, option: &'static str) -> Result<(), ControlError> {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = tokio::process::Command::new("ip");
            c.args(["netns", "exec", ns, "conntrackd"]);
            c
        }
        None => tokio::process::Command::new("conntrackd"),
    };
    cmd.arg("-C")
        .arg(file)
        .arg(option)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|error| ControlError::Spawn { option, error })?;
    match tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await {
        Err(_) => Err(ControlError::TimedOut { option }),
        Ok(Err(error)) => Err(ControlError::Spawn { option, error }),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => Err(ControlError::Failed {
            option,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
    }
}
