//! The `keepalived` process's side: connect to the node agent (starting it when none answers),
//! register the router, then turn signals into requests until told to stop. Blocking, one
//! thread, no runtime: the process is one of hundreds and must stay small.
//!
//! Depends on `super::{protocol, spawn}` and nix (signalfd, poll).

use std::{
    io::{BufReader, ErrorKind},
    os::{fd::AsFd, unix::net::UnixStream},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use nix::{
    poll::{PollFd, PollFlags, PollTimeout, poll},
    sys::{
        signal::{SigSet, Signal},
        signalfd::{SfdFlags, SignalFd},
    },
};

use super::{
    protocol::{self, Reply, Request},
    spawn,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no node agent answers on {socket} ({error}) and starting one failed: {spawn}")]
    Start {
        socket: PathBuf,
        error: std::io::Error,
        spawn: spawn::SpawnError,
    },
    #[error(
        "the node agent on {socket} did not answer within {waited:?} of being started: {error}"
    )]
    NotUp {
        socket: PathBuf,
        waited: Duration,
        error: std::io::Error,
    },
    /// Its message carries the I/O error's text, which is not also `source()` (the crate's
    /// convention: `{:#}` chains never repeat text).
    #[error("talking to the node agent: {0}")]
    Io(std::io::Error),
    #[error("the node agent closed the connection")]
    Closed,
    #[error("the node agent refused: {0}")]
    Refused(String),
    #[error("unexpected answer from the node agent: {0:?}")]
    Unexpected(Reply),
    #[error("signal handling: {0}")]
    Signals(nix::Error),
}

impl From<std::io::Error> for ClientError {
    fn from(error: std::io::Error) -> Self {
        ClientError::Io(error)
    }
}

/// A registered router's connection to the node agent.
pub struct NodeConnection {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    pub status_socket: PathBuf,
    pub node_pid: u32,
}

/// How long a node agent we started may take to answer.
const START_WAIT: Duration = Duration::from_secs(20);
/// How long setting a router up may take (XDP attach; many routers registering at once).
const REGISTER_WAIT: Duration = Duration::from_secs(120);
/// How long releasing a router may take (Neutron waits for the process after SIGTERM).
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Connects to the node agent on `socket`, starting it (with `settings_path`) when none
/// answers.
pub fn connect_or_start(socket: &Path, settings_path: &Path) -> Result<UnixStream, ClientError> {
    let first = match UnixStream::connect(socket) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    tracing::info!(
        socket = %socket.display(),
        "no node agent answers ({first}); starting one"
    );
    spawn::start_node_agent(settings_path).map_err(|spawn| ClientError::Start {
        socket: socket.to_path_buf(),
        error: first,
        spawn,
    })?;
    let t0 = Instant::now();
    loop {
        match UnixStream::connect(socket) {
            Ok(s) => return Ok(s),
            Err(error) if t0.elapsed() > START_WAIT => {
                return Err(ClientError::NotUp {
                    socket: socket.to_path_buf(),
                    waited: START_WAIT,
                    error,
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

impl NodeConnection {
    /// Registers the router on a fresh connection; returns once the node agent has set it up.
    pub fn register(stream: UnixStream, request: &Request) -> Result<Self, ClientError> {
        let reader = BufReader::new(stream.try_clone()?);
        let mut conn = Self {
            stream,
            reader,
            status_socket: PathBuf::new(),
            node_pid: 0,
        };
        match conn.ask(request, REGISTER_WAIT)? {
            Reply::Registered {
                status_socket,
                node_pid,
            } => {
                conn.status_socket = status_socket;
                conn.node_pid = node_pid;
                Ok(conn)
            }
            other => Err(conn.refusal(other)),
        }
    }

    fn refusal(&self, reply: Reply) -> ClientError {
        match reply {
            Reply::Error { message } => ClientError::Refused(message),
            other => ClientError::Unexpected(other),
        }
    }

    /// Sends one request and waits for its reply.
    fn ask(&mut self, request: &Request, wait: Duration) -> Result<Reply, ClientError> {
        protocol::write_line(&mut self.stream, request)?;
        self.stream.set_read_timeout(Some(wait))?;
        let reply = protocol::read_line::<Reply>(&mut self.reader);
        self.stream.set_read_timeout(None)?;
        match reply {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(ClientError::Closed),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(ClientError::Io(std::io::Error::new(
                    ErrorKind::TimedOut,
                    format!("no answer within {wait:?}"),
                )))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Why [`serve`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// SIGTERM or SIGINT: the node agent released the router.
    Stopped,
    /// The node agent went away (it crashed or was stopped): the router is no longer served.
    NodeGone,
}

/// Waits for signals and the node agent: SIGHUP re-reads the configuration with `reload` and
/// sends it (a configuration that does not load is logged and the running one kept, as
/// keepalived does); SIGTERM/SIGINT ask the node agent to release the router.
pub fn serve(
    conn: &mut NodeConnection,
    mut reload: impl FnMut() -> Option<String>,
) -> Result<Ended, ClientError> {
    let mut mask = SigSet::empty();
    for s in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT] {
        mask.add(s);
    }
    mask.thread_block().map_err(ClientError::Signals)?;
    let signals =
        SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).map_err(ClientError::Signals)?;
    loop {
        let (signal_ready, node_ready) = {
            let mut fds = [
                PollFd::new(signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(conn.stream.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(ClientError::Signals(e)),
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]))
        };
        if node_ready {
            // The node agent sends nothing unasked: readable means closed (or broken).
            let mut probe = [0u8; 1];
            match std::io::Read::read(&mut conn.stream, &mut probe) {
                Ok(0) | Err(_) => return Ok(Ended::NodeGone),
                Ok(_) => tracing::warn!("unexpected data from the node agent, ignored"),
            }
        }
        if !signal_ready {
            continue;
        }
        let Ok(Some(info)) = signals.read_signal() else {
            continue;
        };
        match Signal::try_from(info.ssi_signo as i32) {
            Ok(Signal::SIGHUP) => {
                tracing::info!("SIGHUP: reloading the configuration");
                let Some(config_text) = reload() else {
                    continue;
                };
                match conn.ask(&Request::Reload { config_text }, REGISTER_WAIT) {
                    Ok(Reply::Reloaded) => tracing::info!("reloaded"),
                    Ok(other) => {
                        tracing::error!(
                            "reload refused, the running configuration stays: {other:?}"
                        );
                    }
                    Err(ClientError::Closed) => return Ok(Ended::NodeGone),
                    Err(e) => return Err(e),
                }
            }
            Ok(s) => {
                tracing::info!("{s}: releasing the router");
                return match conn.ask(&Request::Stop, STOP_WAIT) {
                    Ok(Reply::Stopped) => Ok(Ended::Stopped),
                    Ok(other) => Err(ClientError::Unexpected(other)),
                    Err(ClientError::Closed) => Ok(Ended::NodeGone),
                    Err(e) => Err(e),
                };
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_name_the_cause_once() {
        let err = ClientError::from(std::io::Error::other("boom"));
        let text = format!("{:#}", anyhow::Error::new(err));
        assert_eq!(text, "talking to the node agent: boom");
    }
}
