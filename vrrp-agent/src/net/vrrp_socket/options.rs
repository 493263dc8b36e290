//! The socket options of a raw VRRP socket: bound to one interface, member of the VRRP group
//! there (on `use_vmac`'s macvlan: none, and free to send from the interface's address), multicast out of it, TTL / hop limit 255 both for multicast and unicast, no
//! multicast loop (we must not hear ourselves), only the groups this socket joined, ancillary
//! data on receive, a receive buffer of at least [`RECV_BUFFER`] bytes, and keepalived's
//! header fields on what it sends: TOS / traffic class 0xc0 (network control) and, for IPv4,
//! no DF bit.
//! Uses socket2 and nix, libc for the options neither offers (`IP_MULTICAST_IF` by index,
//! `IP_MTU_DISCOVER`).

use std::{io, os::fd::AsRawFd};

use nix::{
    errno::Errno,
    sys::socket::{setsockopt, sockopt},
};
use socket2::{InterfaceIndexOrAddress, Socket};

use crate::{
    net::error::context,
    packet::{VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_TTL},
};

/// The receive buffer asked for (the kernel doubles it for its bookkeeping).
pub(super) const RECV_BUFFER: usize = 1 << 20;

/// TOS (IPv4) and traffic class (IPv6) of adverts: `IPTOS_PREC_INTERNETCONTROL`, DSCP CS6, as
/// keepalived 2.2.7 sets them (vrrp_if.c `if_setsockopt_priority`; vrrp.c `vrrp_build_ip4`
/// writes `tos = 0xc0` into the header it builds).
pub(super) const ADVERT_TOS: u8 = 0xc0;

/// What a socket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// The instance's interface.
    Interface,
    /// `use_vmac`'s macvlan, for sending only: it joins no group (the macvlan must never
    /// report one: an IGMP / MLD report would carry the virtual MAC, also from a backup or a
    /// killed master), and it may send from an address of another interface of the
    /// namespace (`IP_FREEBIND` / `IPV6_FREEBIND`): the instance's interface's, as keepalived
    /// does, where the macvlan has none of its own.
    Macvlan,
}

/// Sets every option of a raw VRRP socket for interface `ifname` / `ifindex`.
pub(super) fn configure(
    socket: &Socket,
    ifindex: u32,
    ifname: &str,
    ipv6: bool,
    role: Role,
) -> io::Result<()> {
    socket
        .bind_device(Some(ifname.as_bytes()))
        .map_err(context("SO_BINDTODEVICE"))?;
    match role {
        Role::Interface => set_recv_buffer(socket)?,
        Role::Macvlan if ipv6 => socket
            .set_freebind_v6(true)
            .map_err(context("IPV6_FREEBIND"))?,
        Role::Macvlan => socket
            .set_freebind_v4(true)
            .map_err(context("IP_FREEBIND"))?,
    }
    let join = role == Role::Interface;
    if ipv6 {
        configure_v6(socket, ifindex, join)
    } else {
        configure_v4(socket, ifindex, join)
    }
}

fn configure_v4(socket: &Socket, ifindex: u32, join: bool) -> io::Result<()> {
    let ttl = u32::from(VRRP_TTL);
    if join {
        socket
            .join_multicast_v4_n(&VRRP_GROUP_V4, &InterfaceIndexOrAddress::Index(ifindex))
            .map_err(context(format!("joining {VRRP_GROUP_V4}")))?;
    }
    set_multicast_if_v4(socket, ifindex).map_err(context("IP_MULTICAST_IF"))?;
    socket
        .set_multicast_ttl_v4(ttl)
        .map_err(context("IP_MULTICAST_TTL"))?;
    socket.set_ttl_v4(ttl).map_err(context("IP_TTL"))?;
    socket
        .set_tos_v4(u32::from(ADVERT_TOS))
        .map_err(context("IP_TOS"))?;
    // keepalived builds its IPv4 header with frag_off 0: no DF (the kernel then numbers the
    // packets' IDs itself, as it does for keepalived's header with ID 0).
    set_int_v4(socket, libc::IP_MTU_DISCOVER, libc::IP_PMTUDISC_DONT)
        .map_err(context("IP_MTU_DISCOVER"))?;
    socket
        .set_multicast_loop_v4(false)
        .map_err(context("IP_MULTICAST_LOOP"))?;
    socket
        .set_multicast_all_v4(false)
        .map_err(context("IP_MULTICAST_ALL"))?;
    setsockopt(socket, sockopt::Ipv4PacketInfo, &true)
        .map_err(io::Error::from)
        .map_err(context("IP_PKTINFO"))
}

fn configure_v6(socket: &Socket, ifindex: u32, join: bool) -> io::Result<()> {
    let hops = u32::from(VRRP_TTL);
    if join {
        socket
            .join_multicast_v6(&VRRP_GROUP_V6, ifindex)
            .map_err(context(format!("joining {VRRP_GROUP_V6}")))?;
    }
    socket
        .set_multicast_if_v6(ifindex)
        .map_err(context("IPV6_MULTICAST_IF"))?;
    socket
        .set_multicast_hops_v6(hops)
        .map_err(context("IPV6_MULTICAST_HOPS"))?;
    socket
        .set_unicast_hops_v6(hops)
        .map_err(context("IPV6_UNICAST_HOPS"))?;
    socket
        .set_tclass_v6(u32::from(ADVERT_TOS))
        .map_err(context("IPV6_TCLASS"))?;
    socket
        .set_multicast_loop_v6(false)
        .map_err(context("IPV6_MULTICAST_LOOP"))?;
    socket
        .set_multicast_all_v6(false)
        .map_err(context("IPV6_MULTICAST_ALL"))?;
    setsockopt(socket, sockopt::Ipv6RecvPacketInfo, &true)
        .map_err(io::Error::from)
        .map_err(context("IPV6_RECVPKTINFO"))?;
    setsockopt(socket, sockopt::Ipv6RecvHopLimit, &true)
        .map_err(io::Error::from)
        .map_err(context("IPV6_RECVHOPLIMIT"))
}

/// `SO_RCVBUFFORCE` (beyond `net.core.rmem_max`, needs CAP_NET_ADMIN); without the
/// capability, plain `SO_RCVBUF`, which the kernel caps at `rmem_max`.
fn set_recv_buffer(socket: &Socket) -> io::Result<()> {
    match setsockopt(socket, sockopt::RcvBufForce, &RECV_BUFFER) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => socket
            .set_recv_buffer_size(RECV_BUFFER)
            .map_err(context("SO_RCVBUF")),
        Err(errno) => Err(context("SO_RCVBUFFORCE")(errno.into())),
    }
}

/// `IP_MULTICAST_IF` by interface index (socket2 only takes an address, which an interface
/// may lack or share).
fn set_multicast_if_v4(socket: &Socket, ifindex: u32) -> io::Result<()> {
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: i32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))?,
    };
    // SAFETY: `mreq` is a fully initialised `ip_mreqn` that lives across the call, the length
    // passed is its size, and the descriptor is owned by `socket`.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&raw const mreq).cast(),
            std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An `int` option at level `IPPROTO_IP`.
fn set_int_v4(socket: &Socket, option: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` is an initialised `c_int` that lives across the call, the length passed
    // is its size, and the descriptor is owned by `socket`.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            option,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
