//! Registering socket descriptors with the tokio reactor: the one place where `AsyncFd` is
//! created (its safe constructors are deprecated as unsound, so this wraps the `unsafe`
//! `register` calls). Callers must be inside a tokio runtime with IO enabled; outside any
//! runtime they get an error instead of tokio's panic. Imports nothing of this crate.

use std::{io, os::fd::BorrowedFd};

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

/// Registers a borrowed descriptor for reading and writing, for as long as the borrow lasts.
/// A descriptor can be registered only once at a time (epoll refuses a second registration).
pub(crate) fn register_borrowed(fd: BorrowedFd<'_>) -> io::Result<AsyncFd<BorrowedFd<'_>>> {
    require_runtime()?;
    // SAFETY: the lifetime of `BorrowedFd` guarantees that the descriptor stays open for as
    // long as the returned `AsyncFd` exists (it cannot outlive the borrow), and
    // `BorrowedFd::as_raw_fd` always returns that same descriptor.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::WRITABLE) }
        .map_err(io::Error::from)
}
