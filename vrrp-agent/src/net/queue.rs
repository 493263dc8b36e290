//! Discarding what a non-blocking socket has queued: packets that arrived before the socket
//! was fully set up (bound to its interface), stale answers to an earlier probe, and pending
//! asynchronous errors (an ICMP "unreachable" about an earlier packet, reported once by the
//! next receive). Uses nix only.

use std::{
    io,
    os::fd::{AsRawFd, BorrowedFd},
};

use nix::{
    errno::Errno,
    sys::socket::{MsgFlags, recv},
};

/// Bounds the work when packets keep arriving while draining.
const MAX_DRAINED: usize = 4096;

/// Reads and drops every queued datagram (at most [`MAX_DRAINED`]) and pending network error
/// of `fd` without blocking; returns how many datagrams.
pub(crate) fn drain(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut scratch = [0u8; 64];
    let mut dropped = 0;
    for _ in 0..MAX_DRAINED {
        match recv(fd.as_raw_fd(), &mut scratch, MsgFlags::MSG_DONTWAIT) {
            Ok(_) => dropped += 1,
            Err(Errno::EAGAIN) => break,
            Err(errno) if errno == Errno::EINTR || is_network_error(errno) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(dropped)
}

/// Errors that say something about the network (a destination or route), not the socket:
/// reported asynchronously for an earlier packet, or by a send to where no route leads.
pub(crate) fn is_network_error(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::EHOSTUNREACH
            | Errno::ENETUNREACH
            | Errno::EHOSTDOWN
            | Errno::ENETDOWN
            | Errno::ECONNREFUSED
    )
}
