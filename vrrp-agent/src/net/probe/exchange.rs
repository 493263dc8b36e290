//! One probe exchange, common to every probe kind: discard what is queued (stale answers,
//! pending errors), send one request, and wait until an answer arrives or the time is up.
//! The descriptor is registered with the tokio reactor only for the exchange. Imports the
//! `net` helpers; nix, tokio.

use std::{
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd},
    time::Duration,
};

use nix::{
    errno::Errno,
    sys::socket::{MsgFlags, SockaddrStorage, recvfrom, send, sendto},
};
use socket2::Socket;
use tokio::io::Interest;

use crate::net::{async_fd, queue};

/// The longest packet looked at (answers are judged on their headers).
const RECV_LEN: usize = 2048;

/// A probe kind: its socket, its requests, and how it recognises an answer.
pub(super) trait Exchange {
    /// The socket requests go out and answers come in on.
    fn socket(&self) -> &Socket;
    /// The next request (advancing any sequence number) and where to send it (`None`: send
    /// on the socket as bound, for packet sockets).
    fn next_request(&mut self) -> (Vec<u8>, Option<SockaddrStorage>);
    /// Whether `packet`, received from `from`, answers the last request.
    fn is_answer(&self, packet: &[u8], from: Option<&SockaddrStorage>) -> bool;
}

/// Runs one exchange: `Ok(true)` on an answer within `timeout`; `Ok(false)` without one, when
/// the network reports the target unreachable, or when the interface drops the request
/// (`ENOBUFS`: a packet socket sending on an interface without carrier); `Err` when the
/// socket fails.
pub(super) async fn run(probe: &mut impl Exchange, timeout: Duration) -> io::Result<bool> {
    let (request, to) = probe.next_request();
    let probe = &*probe;
    let socket = probe.socket().as_fd();
    let fd = async_fd::register_borrowed(socket)?;
    queue::drain(socket)?;
    let exchange = async {
        fd.async_io(Interest::WRITABLE, |fd| {
            transmit(*fd, &request, to.as_ref())
        })
        .await?;
        let mut buf = vec![0u8; RECV_LEN];
        loop {
            let (len, from) = fd
                .async_io(Interest::READABLE, |fd| {
                    recvfrom::<SockaddrStorage>(fd.as_raw_fd(), &mut buf).map_err(io::Error::from)
                })
                .await?;
            if probe.is_answer(&buf[..len.min(RECV_LEN)], from.as_ref()) {
                return Ok::<bool, io::Error>(true);
            }
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(answered)) => Ok(answered),
        Ok(Err(error)) if error.raw_os_error().is_some_and(no_answer) => Ok(false),
        Ok(Err(error)) => Err(error),
        Err(_elapsed) => Ok(false),
    }
}

/// Errors that mean the request cannot be answered rather than that the socket failed.
fn no_answer(raw: i32) -> bool {
    let errno = Errno::from_raw(raw);
    errno == Errno::ENOBUFS || queue::is_network_error(errno)
}

fn transmit(fd: BorrowedFd<'_>, request: &[u8], to: Option<&SockaddrStorage>) -> io::Result<()> {
    let sent = match to {
        Some(to) => sendto(fd.as_raw_fd(), request, to, MsgFlags::empty()),
        None => send(fd.as_raw_fd(), request, MsgFlags::empty()),
    }?;
    if sent != request.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", request.len()),
        ));
    }
    Ok(())
}
