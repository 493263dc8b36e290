//! The ICMP probe: an echo request to the target, answered by an echo reply from it with
//! this prober's identifier and the request's sequence number. Raw ICMP / ICMPv6 sockets
//! bound to the interface: the kernel's ping sockets (`SOCK_DGRAM`) would be simpler but
//! refuse even root unless `net.ipv4.ping_group_range` admits its group, and a fresh network
//! namespace starts with the range empty. IPv4 raw sockets deliver the IP header; for
//! ICMPv6 the kernel computes the checksum and delivers the payload only.
//! Imports `crate::packet` (the Internet checksum) and the `net` helpers; socket2, nix.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    sync::atomic::{AtomicU16, Ordering},
};

use nix::sys::socket::SockaddrStorage;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::exchange::Exchange;
use crate::{net::error::context, packet::internet_checksum};

const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
const IPPROTO_ICMP: u8 = 1;
/// Echo payload after the 8-byte header.
const PAYLOAD: &[u8; 8] = b"vrrp-xdp";

/// Distinguishes the probers of this process (their identifiers differ).
static NEXT_PROBER: AtomicU16 = AtomicU16::new(0);

/// Echo probing of one target on one interface.
#[derive(Debug)]
pub(super) struct IcmpProbe {
    socket: Socket,
    ifindex: u32,
    target: IpAddr,
    id: u16,
    seq: u16,
}

impl IcmpProbe {
    /// Opens a raw ICMP (IPv4 target) or ICMPv6 socket on `ifname` / `ifindex`, sending from
    /// `source` (an address of the interface, of the target's family) or else from the
    /// address the kernel chooses.
    pub(super) fn open(
        ifindex: u32,
        ifname: &str,
        target: IpAddr,
        source: Option<IpAddr>,
    ) -> io::Result<Self> {
        let socket = match (target, source) {
            (IpAddr::V4(_), None) => open_v4(ifname, None)?,
            (IpAddr::V4(_), Some(IpAddr::V4(source))) => open_v4(ifname, Some(source))?,
            (IpAddr::V6(_), None) => open_v6(ifindex, ifname, None)?,
            (IpAddr::V6(_), Some(IpAddr::V6(source))) => open_v6(ifindex, ifname, Some(source))?,
            (_, Some(source)) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("source {source} and target {target} are of different families"),
                ));
            }
        };
        let id = (std::process::id() as u16).wrapping_add(
            NEXT_PROBER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(257),
        );
        Ok(Self {
            socket,
            ifindex,
            target,
            id,
            seq: 0,
        })
    }
}

impl Exchange for IcmpProbe {
    fn socket(&self) -> &Socket {
        &self.socket
    }

    fn next_request(&mut self) -> (Vec<u8>, Option<SockaddrStorage>) {
        self.seq = self.seq.wrapping_add(1);
        match self.target {
            IpAddr::V4(target) => {
                let to = SocketAddrV4::new(target, 0);
                (echo_request_v4(self.id, self.seq), Some(to.into()))
            }
            IpAddr::V6(target) => {
                let scope = if target.is_unicast_link_local() {
                    self.ifindex
                } else {
                    0
                };
                let to = SocketAddrV6::new(target, 0, 0, scope);
                (echo_request_v6(self.id, self.seq), Some(to.into()))
            }
        }
    }

    fn is_answer(&self, packet: &[u8], from: Option<&SockaddrStorage>) -> bool {
        match self.target {
            IpAddr::V4(target) => is_reply_v4(packet, target, self.id, self.seq),
            IpAddr::V6(target) => {
                from.and_then(|f| f.as_sockaddr_in6())
                    .map(nix::sys::socket::SockaddrIn6::ip)
                    == Some(target)
                    && is_reply_v6(packet, self.id, self.seq)
            }
        }
    }
}

fn open_v4(ifname: &str, source: Option<Ipv4Addr>) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::IPV4,
        Type::RAW.nonblocking().cloexec(),
        Some(Protocol::ICMPV4),
    )
    .map_err(context("socket(IPPROTO_ICMP)"))?;
    socket
        .bind_device(Some(ifname.as_bytes()))
        .map_err(context("SO_BINDTODEVICE"))?;
    if let Some(source) = source {
        let addr = SockAddr::from(SocketAddr::from((source, 0)));
        socket
            .bind(&addr)
            .map_err(context(format!("binding to {source}")))?;
    }
    Ok(socket)
}

/// A raw ICMPv6 socket bound to `ifname` (and to `source` if given). Shared with the
/// neighbour probe.
pub(super) fn open_v6(ifindex: u32, ifname: &str, source: Option<Ipv6Addr>) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::IPV6,
        Type::RAW.nonblocking().cloexec(),
        Some(Protocol::ICMPV6),
    )
    .map_err(context("socket(IPPROTO_ICMPV6)"))?;
    socket
        .bind_device(Some(ifname.as_bytes()))
        .map_err(context("SO_BINDTODEVICE"))?;
    if let Some(source) = source {
        let scope = if source.is_unicast_link_local() {
            ifindex
        } else {
            0
        };
        let addr = SockAddr::from(SocketAddrV6::new(source, 0, 0, scope));
        socket
            .bind(&addr)
            .map_err(context(format!("binding to {source}")))?;
    }
    Ok(socket)
}

fn echo_header(ty: u8, id: u16, seq: u16) -> Vec<u8> {
    let mut out = vec![ty, 0, 0, 0];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(PAYLOAD);
    out
}

fn echo_request_v4(id: u16, seq: u16) -> Vec<u8> {
    let mut out = echo_header(ECHO_REQUEST_V4, id, seq);
    let csum = internet_checksum(&out);
    out[2..4].copy_from_slice(&csum.to_be_bytes());
    out
}

/// The ICMPv6 checksum covers a pseudo-header the kernel knows; it fills it in.
fn echo_request_v6(id: u16, seq: u16) -> Vec<u8> {
    echo_header(ECHO_REQUEST_V6, id, seq)
}

/// Whether the IPv4 packet `packet` is an echo reply from `target` with `id` and `seq`.
fn is_reply_v4(packet: &[u8], target: Ipv4Addr, id: u16, seq: u16) -> bool {
    let Some(&first) = packet.first() else {
        return false;
    };
    let ihl = usize::from(first & 0x0f) * 4;
    first >> 4 == 4
        && ihl >= 20
        && packet.get(9) == Some(&IPPROTO_ICMP)
        && packet.get(12..16) == Some(&target.octets()[..])
        && packet
            .get(ihl..)
            .is_some_and(|icmp| is_echo_reply(icmp, ECHO_REPLY_V4, id, seq))
}

/// Whether the ICMPv6 message `packet` is an echo reply with `id` and `seq`.
fn is_reply_v6(packet: &[u8], id: u16, seq: u16) -> bool {
    is_echo_reply(packet, ECHO_REPLY_V6, id, seq)
}

fn is_echo_reply(icmp: &[u8], reply_type: u8, id: u16, seq: u16) -> bool {
    icmp.len() >= 8
        && icmp[0] == reply_type
        && icmp[1] == 0
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_around(icmp: &[u8], src: Ipv4Addr) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, IPPROTO_ICMP, 0, 0];
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&[192, 0, 2, 1]);
        p.extend_from_slice(icmp);
        p
    }

    #[test]
    fn v4_request_has_a_valid_checksum() {
        let request = echo_request_v4(0x1234, 7);
        assert_eq!(&request[..2], &[8, 0]);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0, 7]);
        assert_eq!(internet_checksum(&request), 0);
    }

    #[test]
    fn v4_reply_matches_target_id_and_sequence() {
        let target = Ipv4Addr::new(192, 0, 2, 2);
        let mut reply = echo_request_v4(0x1234, 7);
        reply[0] = ECHO_REPLY_V4;
        assert!(is_reply_v4(&ipv4_around(&reply, target), target, 0x1234, 7));
        assert!(!is_reply_v4(
            &ipv4_around(&reply, target),
            target,
            0x1234,
            8
        ));
        assert!(!is_reply_v4(
            &ipv4_around(&reply, target),
            target,
            0x1235,
            7
        ));
        let other = Ipv4Addr::new(192, 0, 2, 3);
        assert!(!is_reply_v4(&ipv4_around(&reply, other), target, 0x1234, 7));
        let request = echo_request_v4(0x1234, 7);
        assert!(!is_reply_v4(
            &ipv4_around(&request, target),
            target,
            0x1234,
            7
        ));
        assert!(!is_reply_v4(&[], target, 0x1234, 7));
    }

    #[test]
    fn v6_reply_matches_id_and_sequence() {
        let mut reply = echo_request_v6(9, 1);
        assert!(!is_reply_v6(&reply, 9, 1), "a request is no answer");
        reply[0] = ECHO_REPLY_V6;
        assert!(is_reply_v6(&reply, 9, 1));
        assert!(!is_reply_v6(&reply, 9, 2));
        assert!(!is_reply_v6(&reply[..7], 9, 1));
    }
}
