//! Sending one VRRP message with `sendmsg`, its source address and interface fixed per packet
//! by `IP_PKTINFO` (`ipi_spec_dst`) / `IPV6_PKTINFO` (`ipi6_addr`): the message was encoded
//! with a checksum for that source, so the kernel must not choose another. The IP header is
//! the kernel's (TTL / hop limit from the socket options), except on an AH socket
//! (`IP_HDRINCL`), where the bytes sent are the whole IPv4 packet and the kernel only fills in
//! the header checksum. Uses nix and libc's plain structs.

use std::{
    io::{self, IoSlice},
    net::{IpAddr, Ipv6Addr, SocketAddrV4, SocketAddrV6},
    os::fd::AsRawFd,
};

use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn, SockaddrIn6, sendmsg};
use socket2::Socket;

/// Sends `vrrp` from `src` to `dst` out of `ifindex` (both addresses of the socket's family,
/// checked by the caller).
pub(super) fn transmit(
    socket: &Socket,
    ifindex: u32,
    vrrp: &[u8],
    src: IpAddr,
    dst: IpAddr,
) -> io::Result<()> {
    let fd = socket.as_raw_fd();
    let iov = [IoSlice::new(vrrp)];
    let sent = match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let info = libc::in_pktinfo {
                ipi_ifindex: i32::try_from(ifindex).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range")
                })?,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from_ne_bytes(src.octets()),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
            let cmsg = [ControlMessage::Ipv4PacketInfo(&info)];
            sendmsg(fd, &iov, &cmsg, MsgFlags::empty(), Some(&to))?
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: src.octets(),
                },
                ipi6_ifindex: ifindex,
            };
            let scope = if link_scoped(dst) { ifindex } else { 0 };
            let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, scope));
            let cmsg = [ControlMessage::Ipv6PacketInfo(&info)];
            sendmsg(fd, &iov, &cmsg, MsgFlags::empty(), Some(&to))?
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("source {src} and destination {dst} are of different families"),
            ));
        }
    };
    if sent != vrrp.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", vrrp.len()),
        ));
    }
    Ok(())
}

/// Whether `addr` needs a scope (interface) id: link-local unicast and link-local multicast.
fn link_scoped(addr: Ipv6Addr) -> bool {
    addr.is_unicast_link_local() || (addr.is_multicast() && addr.segments()[0] & 0x000f == 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_scope() {
        for (addr, scoped) in [
            ("fe80::1", true),
            ("ff02::12", true),
            ("ff05::12", false),
            ("2001:db8::1", false),
            ("fd00::1", false),
        ] {
            assert_eq!(link_scoped(addr.parse().unwrap()), scoped, "{addr}");
        }
    }
}
