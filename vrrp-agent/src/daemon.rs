//! Going to the background the way keepalived does for Neutron: fork, new session, stdio to
//! /dev/null (or a log file), pid files written by the child, and the parent exiting only once
//! they exist, so whoever started us can read them as soon as we return.
//!
//! Must be called before any thread is started (before the tokio runtime). Depends on nix.

use std::{
    fs,
    io::{self, Read, Write},
    os::fd::OwnedFd,
    path::{Path, PathBuf},
};

use nix::{
    fcntl::OFlag,
    unistd::{ForkResult, dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe2, setsid},
};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("fork failed: {0}")]
    Fork(nix::Error),
    #[error("cannot write pid file {path}: {error}")]
    PidFile { path: PathBuf, error: io::Error },
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("the background process failed to start: {0}")]
    Child(String),
}

/// What the caller is after [`daemonize`].
pub enum Role {
    /// The background process: carry on (pid files written).
    Daemon,
}

/// Forks into the background. In the parent, waits until the child wrote the pid files,
/// then exits the process (status 0, or 1 with the child's error). In the child, returns
/// `Role::Daemon` with stdio redirected to `log` (appending) or /dev/null.
pub fn daemonize(pid_files: &[PathBuf], log: Option<&Path>) -> Result<Role, DaemonError> {
    daemonize_until_ready(pid_files, log)?.ready();
    Ok(Role::Daemon)
}

/// The background process's promise to tell the parent how starting went.
pub struct Starting {
    status: Option<fs::File>,
}

impl Starting {
    /// A process that did not fork (foreground): nothing to tell.
    pub fn foreground() -> Self {
        Self { status: None }
    }

    /// Started: the parent exits with status 0.
    pub fn ready(mut self) {
        if let Some(mut s) = self.status.take() {
            let _ = s.write_all(b"ok");
        }
    }

    /// Failed: the parent prints `message` and exits with status 1.
    pub fn failed(mut self, message: &str) {
        if let Some(mut s) = self.status.take() {
            let _ = s.write_all(message.as_bytes());
        }
    }
}

/// As [`daemonize`], but the parent waits until the child calls [`Starting::ready`] or
/// [`Starting::failed`] (or exits): for a start whose last step (registering with a node
/// agent) decides whether the caller sees success.
pub fn daemonize_until_ready(
    pid_files: &[PathBuf],
    log: Option<&Path>,
) -> Result<Starting, DaemonError> {
    // Close-on-exec: a program this process starts later must not hold the parent waiting.
    let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC).map_err(|e| DaemonError::Io(e.into()))?;
    // SAFETY: called before any other thread exists (documented contract of this function),
    // so the child's copy of the process is consistent.
    match unsafe { fork() }.map_err(DaemonError::Fork)? {
        ForkResult::Parent { .. } => {
            drop(write_end);
            let mut report = String::new();
            let _ = fs::File::from(read_end).read_to_string(&mut report);
            if report == "ok" {
                std::process::exit(0);
            }
            let msg = if report.is_empty() {
                "it exited before it was ready (see its log)".to_string()
            } else {
                report
            };
            eprintln!("vrrp-agent: error: the background process failed to start: {msg}");
            std::process::exit(1);
        }
        ForkResult::Child => {
            drop(read_end);
            let mut status = fs::File::from(write_end);
            match become_daemon(pid_files, log) {
                Ok(()) => Ok(Starting {
                    status: Some(status),
                }),
                Err(e) => {
                    let _ = status.write_all(e.to_string().as_bytes());
                    Err(e)
                }
            }
        }
    }
}

fn become_daemon(pid_files: &[PathBuf], log: Option<&Path>) -> Result<(), DaemonError> {
    setsid().map_err(|e| DaemonError::Io(e.into()))?;
    let null = fs::File::open("/dev/null")?;
    let out: OwnedFd = match log {
        Some(path) => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?
                .into()
        }
        None => fs::OpenOptions::new().write(true).open("/dev/null")?.into(),
    };
    dup2_stdin(&null).map_err(|e| DaemonError::Io(e.into()))?;
    dup2_stdout(&out).map_err(|e| DaemonError::Io(e.into()))?;
    dup2_stderr(&out).map_err(|e| DaemonError::Io(e.into()))?;
    write_pid_files(pid_files)
}

/// Writes our pid into each file (creating folders).
pub fn write_pid_files(pid_files: &[PathBuf]) -> Result<(), DaemonError> {
    let pid = std::process::id();
    for path in pid_files {
        let result = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(path, format!("{pid}\n")));
        result.map_err(|error| DaemonError::PidFile {
            path: path.clone(),
            error,
        })?;
    }
    Ok(())
}

/// Removes pid files that still name us (never someone else's).
pub fn remove_pid_files(pid_files: &[PathBuf]) {
    let pid = std::process::id().to_string();
    for path in pid_files {
        if fs::read_to_string(path).is_ok_and(|s| s.trim() == pid) {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_name_the_cause_once() {
        let err = DaemonError::from(io::Error::other("boom"));
        let text = format!("{:#}", anyhow::Error::new(err));
        assert_eq!(text.matches("boom").count(), 1, "{text}");
    }
}
