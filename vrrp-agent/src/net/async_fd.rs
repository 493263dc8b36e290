//! Registering socket descriptors with the tokio reactor: the one place where `AsyncFd` is
//! created (its safe constructors are deprecated as unsound, so this wraps the `unsafe`
//! `register` calls). Callers must be inside a tokio runtime with IO enabled; outside any
//! runtime they get an error instead of tokio's panic. Imports nothing of this crate.

use std::io;

use socket2::Socket;
use tokio::io::{Interest, unix::AsyncFd};

fn require_runtime() -> io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|error| io::Error::other(format!("needs a tokio runtime: {error}")))
}

/// Registers a socket that the returned `AsyncFd` owns, for reading and writing.
pub(crate) fn register_owned(socket: Socket) -> io::Result<AsyncFd<Socket>> {
    require_runtime()?;
    // SAFETY: `Socket` owns its descriptor: it stays open and `as_raw_fd` keeps returning it
    // until the socket is dropped, which happens only when the `AsyncFd` is dropped (after it
    // has deregistered the descriptor) or hands the socket back through `into_inner`.
    unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE | Interest::WRITABLE) }
        .map_err(io::Error::from)
}
