//! Noticing nf_tables changes in a namespace without polling: a NETLINK_NETFILTER socket
//! opened inside the namespace and subscribed to NFNLGRP_NFTABLES, registered with tokio. A
//! transaction (an `nft -f`, an `iptables-restore`, one `iptables -A`) sends a burst of
//! messages; [`NftWatcher::changed`] returns once per burst, after draining the socket. An
//! overrun (ENOBUFS: the kernel dropped notifications) is a change too, never an error.
//! Imports `super::socket`, `crate::netns` and `crate::pathstate::error`.

use std::io;

use netlink_sys::{Socket, protocols::NETLINK_NETFILTER};
use tokio::io::{Interest, unix::AsyncFd};

use super::socket::{NFNL_SUBSYS_NFTABLES, split};
use crate::pathstate::error::PathStateError;

/// The nf_tables multicast group (`NFNLGRP_NFTABLES`).
const NFNLGRP_NFTABLES: u32 = 7;
/// Room for a large transaction's notifications before the kernel drops them.
const RCVBUF: usize = 4 << 20;

/// What one burst of notifications held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NftChange {
    /// nf_tables messages received in the burst.
    pub messages: usize,
    /// Notifications were lost (the receive buffer overran): read the ruleset again.
    pub overrun: bool,
}

/// Notifications of nf_tables changes in one namespace.
#[derive(Debug)]
pub struct NftWatcher {
    fd: AsyncFd<Socket>,
    buf: Vec<u8>,
}

fn sock_err(action: &'static str) -> impl FnOnce(io::Error) -> PathStateError {
    move |error| PathStateError::NftSocket { action, error }
}

fn open_here() -> Result<Socket, PathStateError> {
    let mut s = Socket::new(NETLINK_NETFILTER).map_err(sock_err("open"))?;
    s.bind_auto().map_err(sock_err("bind"))?;
    s.add_membership(NFNLGRP_NFTABLES)
        .map_err(sock_err("join the nftables group"))?;
    s.set_non_blocking(true)
        .map_err(sock_err("set non-blocking mode"))?;
    // Best effort: a larger buffer makes overruns rarer (they are handled either way).
    let _ = socket2::SockRef::from(&s).set_recv_buffer_size(RCVBUF);
    Ok(s)
}

impl NftWatcher {
    /// Subscribes to the nf_tables changes of namespace `netns` (`None`: this one). Must be
    /// called inside a tokio runtime.
    pub fn open(netns: Option<&str>) -> Result<Self, PathStateError> {
        let socket = crate::netns::run_in(netns, open_here)??;
        tokio::runtime::Handle::try_current().map_err(|e| PathStateError::NftSocket {
            action: "register with tokio",
            error: io::Error::other(format!("needs a tokio runtime: {e}")),
        })?;
        // SAFETY: `netlink_sys::Socket` owns its descriptor: it stays open and `as_raw_fd`
        // returns it until the socket is dropped, which happens only when the `AsyncFd`
        // (after deregistering it) is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|e| sock_err("register with tokio")(e.into()))?;
        Ok(Self {
            fd,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Waits for the next burst of changes and returns once the socket is empty.
    pub async fn changed(&mut self) -> Result<NftChange, PathStateError> {
        loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(sock_err("wait for notifications"))?;
            let mut change = NftChange::default();
            loop {
                self.buf.clear();
                match guard.get_inner().recv(&mut self.buf, 0) {
                    Ok(_) => {
                        let msgs = split(&self.buf).unwrap_or_default();
                        change.messages += msgs
                            .iter()
                            .filter(|m| m.msg_type >> 8 == NFNL_SUBSYS_NFTABLES)
                            .count();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        guard.clear_ready();
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => change.overrun = true,
                    Err(e) => return Err(sock_err("receive notifications")(e)),
                }
            }
            if change.messages > 0 || change.overrun {
                return Ok(change);
            }
        }
    }
}
