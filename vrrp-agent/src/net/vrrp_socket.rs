//! A raw VRRP socket (IP protocol 112) for one interface and one address family, or, for
//! instances with `auth_type AH`, a raw IPv4 socket for IP protocol 51 (IPsec AH) carrying
//! VRRPv2, which keepalived opens for them instead.
//!
//! [`VrrpSocket::open`] creates it in the network namespace of the *calling thread*: to open
//! it in a router's namespace, call it inside `crate::netns::run_in`, whose thread has no
//! tokio runtime. Once open it works from any thread: [`VrrpSocket::into_async`] (inside a
//! runtime) registers it with the reactor and gives the [`AsyncVrrpSocket`] that sends and
//! receives.
//!
//! Received packets carry their interface, source, destination and TTL / hop limit
//! ([`Received`]); TTL 255 is *not* enforced here (that is `Advert::decode`'s receive check,
//! so a wrong TTL can be counted). Sent messages leave with exactly the source address asked
//! for, TTL / hop limit 255, TOS / traffic class 0xc0 and (IPv4) no DF bit, as keepalived's,
//! out of this interface only. An AH socket sends and receives whole IPv4 packets
//! (`IP_HDRINCL`: the AH ICV covers the IPv4 header, so the agent writes it, as keepalived
//! does) and hands its packets over with the VRRP message split out.
//!
//! Files: `options` (socket options), `rx` and `tx` (one `recvmsg` / `sendmsg`); the IPv4
//! header is split off by `packet::split_ipv4_packet`. Imports `crate::packet` (constants, `RxMeta`,
//! `DecodeError`) and the `net` helpers; socket2, nix, tokio.

mod options;
mod rx;
mod tx;

use std::{
    io,
    net::IpAddr,
    os::fd::{AsFd, BorrowedFd},
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{Interest, unix::AsyncFd};

pub use rx::{Received, RecvError};

use super::{async_fd, error::context, link, queue};
use crate::packet::{IPPROTO_AH, IPPROTO_VRRP};

/// A raw VRRP socket, open and configured but not yet attached to a tokio runtime.
#[derive(Debug)]
pub struct VrrpSocket {
    socket: Socket,
    ifindex: u32,
    ipv6: bool,
    ah: bool,
}

impl VrrpSocket {
    /// Opens a raw VRRP socket for interface `ifname` (index `ifindex`) of the current
    /// network namespace, IPv6 if `ipv6`, else IPv4: bound to the interface
    /// (`SO_BINDTODEVICE`), member of 224.0.0.18 / ff02::12 on it, multicast out of it, TTL /
    /// hop limit 255 for multicast and unicast, TOS / traffic class 0xc0, IPv4 DF off,
    /// multicast loop off, packet info (and IPv6 hop limit) on receive, a receive buffer of
    /// at least 1 MiB, non-blocking, close-on-exec.
    /// Packets that reached the socket before it was bound to the interface are discarded.
    ///
    /// Fails if `ifname` is not the interface `ifindex` of this namespace.
    pub fn open(ifindex: u32, ifname: &str, ipv6: bool) -> io::Result<Self> {
        Self::open_protocol(ifindex, ifname, ipv6, false, options::Role::Interface)
    }

    /// Opens a socket (an AH one if `ah`) that sends through `use_vmac`'s macvlan `ifname`
    /// (index `ifindex`): the options of [`VrrpSocket::open`] (or [`VrrpSocket::open_ah`])
    /// except that it joins no group, so the macvlan never reports one (an IGMP or MLD report
    /// would carry the virtual MAC), and that it may send from an address the macvlan does
    /// not have (the instance's interface's primary address, as keepalived sends from it).
    /// Adverts are received on the instance's interface; nothing is read from this one.
    pub fn open_macvlan(ifindex: u32, ifname: &str, ipv6: bool, ah: bool) -> io::Result<Self> {
        Self::open_protocol(ifindex, ifname, ipv6, ah, options::Role::Macvlan)
    }

    /// Opens the socket of VRRPv2 with `auth_type AH` on interface `ifname` (index
    /// `ifindex`): raw IPv4, IP protocol 51, with `IP_HDRINCL` (the caller sends whole IPv4
    /// packets), and otherwise the options of [`VrrpSocket::open`]. Receives every AH packet
    /// arriving on the interface (the kernel's own IPsec still sees them too).
    pub fn open_ah(ifindex: u32, ifname: &str) -> io::Result<Self> {
        Self::open_protocol(ifindex, ifname, false, true, options::Role::Interface)
    }

    fn open_protocol(
        ifindex: u32,
        ifname: &str,
        ipv6: bool,
        ah: bool,
        role: options::Role,
    ) -> io::Result<Self> {
        let what = format!(
            "{} {} socket on {ifname}",
            if ipv6 { "IPv6" } else { "IPv4" },
            if ah { "VRRP-in-AH" } else { "VRRP" },
        );
        link::check_ifindex(ifindex, ifname).map_err(context(&what))?;
        let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
        let (protocol, name) = if ah {
            (IPPROTO_AH, "IPPROTO_AH")
        } else {
            (IPPROTO_VRRP, "IPPROTO_VRRP")
        };
        let socket = Socket::new(
            domain,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(i32::from(protocol))),
        )
        .map_err(context(format!("{what}: socket({name})")))?;
        options::configure(&socket, ifindex, ifname, ipv6, role).map_err(context(&what))?;
        if ah {
            socket
                .set_header_included_v4(true)
                .map_err(context(format!("{what}: IP_HDRINCL")))?;
        }
        queue::drain(socket.as_fd()).map_err(context(&what))?;
        Ok(Self {
            socket,
            ifindex,
            ipv6,
            ah,
        })
    }

    /// The interface this socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Whether this is an IPv6 socket.
    pub fn is_ipv6(&self) -> bool {
        self.ipv6
    }

    /// Whether this is an AH socket ([`VrrpSocket::open_ah`]).
    pub fn is_ah(&self) -> bool {
        self.ah
    }

    /// Registers the socket with the tokio runtime of the caller (an error outside any
    /// runtime; the runtime needs IO enabled).
    pub fn into_async(self) -> io::Result<AsyncVrrpSocket> {
        Ok(AsyncVrrpSocket {
            fd: async_fd::register_owned(self.socket)?,
            ifindex: self.ifindex,
            ipv6: self.ipv6,
            ah: self.ah,
        })
    }
}

impl AsFd for VrrpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// A raw VRRP socket registered with a tokio runtime. Receiving and sending can run
/// concurrently (share it in an `Arc`).
#[derive(Debug)]
pub struct AsyncVrrpSocket {
    fd: AsyncFd<Socket>,
    ifindex: u32,
    ipv6: bool,
    ah: bool,
}

impl AsyncVrrpSocket {
    /// The interface this socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Whether this is an IPv6 socket.
    pub fn is_ipv6(&self) -> bool {
        self.ipv6
    }

    /// Whether this is an AH socket ([`VrrpSocket::open_ah`]).
    pub fn is_ah(&self) -> bool {
        self.ah
    }

    /// Waits for the next packet. A packet that cannot be used (see [`RecvError`]) is
    /// returned as an error and dropped; only [`RecvError::Io`] means the socket failed.
    pub async fn recv(&self) -> Result<Received, RecvError> {
        let mut buf = vec![0u8; rx::RECV_BUF_LEN];
        self.fd
            .async_io(Interest::READABLE, |socket| {
                rx::receive(socket, self.ipv6, self.ah, &mut buf)
            })
            .await?
    }

    /// The next packet if one is waiting, without waiting (`None`: none is). For whoever must
    /// see what already arrived before acting on a timer; it shares the socket with a task
    /// in [`recv`](Self::recv) (each packet goes to one of them).
    pub fn try_recv(&self) -> Option<Result<Received, RecvError>> {
        let mut buf = vec![0u8; rx::RECV_BUF_LEN];
        match rx::receive(self.fd.get_ref(), self.ipv6, self.ah, &mut buf) {
            Ok(outcome) => Some(outcome),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) => Some(Err(RecvError::Io(e))),
        }
    }

    /// Sends one encoded VRRP message (checksum computed for `src`) from `src` to `dst` (the
    /// VRRP group or a unicast peer) out of this socket's interface. `src` must be an address
    /// of this host (for IPv6 not tentative) and of the socket's family, as must `dst`. On an
    /// AH socket `vrrp` is the whole IPv4 packet (`packet::encode_ah_packet`), from `src` to
    /// `dst` as its header says.
    pub async fn send(&self, vrrp: &[u8], src: IpAddr, dst: IpAddr) -> io::Result<()> {
        self.check_addresses(src, dst)?;
        self.fd
            .async_io(Interest::WRITABLE, |socket| {
                tx::transmit(socket, self.ifindex, vrrp, src, dst)
            })
            .await
            .map_err(context(format!(
                "sending VRRP from {src} to {dst} on interface {}",
                self.ifindex
            )))
    }

    fn check_addresses(&self, src: IpAddr, dst: IpAddr) -> io::Result<()> {
        let invalid = |why: String| Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        if src.is_ipv6() != self.ipv6 || dst.is_ipv6() != self.ipv6 {
            let family = if self.ipv6 { "IPv6" } else { "IPv4" };
            return invalid(format!(
                "{src} -> {dst}: this socket sends {family} only, from and to {family} addresses"
            ));
        }
        if src.is_unspecified() || src.is_multicast() {
            return invalid(format!("{src} cannot be a source address"));
        }
        if dst.is_unspecified() {
            return invalid(format!("{dst} cannot be a destination address"));
        }
        Ok(())
    }
}
