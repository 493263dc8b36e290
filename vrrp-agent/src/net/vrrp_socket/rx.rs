//! Receiving one packet on a raw VRRP socket with `recvmsg`: the interface, source,
//! destination and TTL / hop limit, and the VRRP message as bytes. IPv4 raw sockets deliver
//! the IP header (split off by `ipv4`), the interface comes from `IP_PKTINFO`; IPv6 raw
//! sockets deliver the payload only, so destination, interface and hop limit come from the
//! `IPV6_PKTINFO` and `IPV6_HOPLIMIT` control messages and the source from the peer address.
//! On an AH socket (IPv4, protocol 51) the packet is split by `packet::split_ah_packet` and
//! kept whole besides (its ICV covers the IPv4 header). Uses nix; imports `crate::packet` for
//! the metadata, splitting and error types.

use std::{
    io::{self, IoSliceMut},
    net::{IpAddr, Ipv6Addr},
    os::fd::AsRawFd,
};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg};
use socket2::Socket;

use crate::packet::{DecodeError, RxMeta, split_ah_packet, split_ipv4_packet};

/// The receive buffer: larger than any VRRP packet (a 60-byte IPv4 header, the 8-byte VRRP
/// header and 255 IPv6 addresses make 4148 bytes).
pub(super) const RECV_BUF_LEN: usize = 8192;

/// One packet received on a VRRP socket, not yet decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The interface it arrived on.
    pub ifindex: u32,
    /// Source, destination and TTL / hop limit of its IP header (for `Advert::decode`).
    pub meta: RxMeta,
    /// The VRRP message only (the IP payload, or the AH header's payload).
    pub vrrp: Vec<u8>,
    /// From an AH socket: the whole IPv4 packet, to authenticate (`packet::split_ah_packet`,
    /// then `AhPacket::decode` with the instance's key).
    pub ah_packet: Option<Vec<u8>>,
}

/// Why [`AsyncVrrpSocket::recv`](super::AsyncVrrpSocket::recv) returned no packet. Only
/// [`RecvError::Io`] is a failure of the socket; the others concern one packet, which is
/// dropped (count it by [`RecvError::kind`] and receive the next). As everywhere in the
/// crate, a message carries the text of the error it wraps, which is not also `source()`.
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    #[error("receiving on the VRRP socket: {0}")]
    Io(io::Error),
    /// The IPv4 header is unusable or does not carry VRRP.
    #[error("unusable packet: {0}")]
    Packet(DecodeError),
    #[error("packet larger than the {max}-byte receive buffer")]
    Oversized { max: usize },
    #[error("packet without {what} ancillary data")]
    NoAncillary { what: &'static str },
}

impl From<io::Error> for RecvError {
    fn from(error: io::Error) -> Self {
        RecvError::Io(error)
    }
}

impl RecvError {
    /// Stable snake_case name for counters and logs (a [`DecodeError::kind`] for
    /// [`RecvError::Packet`]).
    pub const fn kind(&self) -> &'static str {
        match self {
            RecvError::Io(_) => "io",
            RecvError::Packet(error) => error.kind(),
            RecvError::Oversized { .. } => "oversized",
            RecvError::NoAncillary { .. } => "no_ancillary",
        }
    }
}

/// A packet, or why this one is dropped; `Err` (outer) for socket errors, `WouldBlock`
/// included.
pub(super) type Outcome = Result<Received, RecvError>;

/// Receives one packet into `buf` (of [`RECV_BUF_LEN`] bytes); `ah`: from an AH socket.
pub(super) fn receive(
    socket: &Socket,
    ipv6: bool,
    ah: bool,
    buf: &mut [u8],
) -> io::Result<Outcome> {
    if ipv6 {
        receive_v6(socket, buf)
    } else {
        receive_v4(socket, ah, buf)
    }
}

fn receive_v4(socket: &Socket, ah: bool, buf: &mut [u8]) -> io::Result<Outcome> {
    let mut control = nix::cmsg_space!(libc::in_pktinfo);
    let (len, truncated, ifindex) = {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::empty(),
        )?;
        let mut ifindex = None;
        for cmsg in msg.cmsgs().into_iter().flatten() {
            if let ControlMessageOwned::Ipv4PacketInfo(info) = cmsg {
                ifindex = u32::try_from(info.ipi_ifindex).ok();
            }
        }
        (msg.bytes, msg.flags.contains(MsgFlags::MSG_TRUNC), ifindex)
    };
    if truncated {
        return Ok(Err(RecvError::Oversized { max: buf.len() }));
    }
    let Some(ifindex) = ifindex else {
        return Ok(Err(RecvError::NoAncillary { what: "IP_PKTINFO" }));
    };
    let packet = &buf[..len];
    if ah {
        return Ok(match split_ah_packet(packet) {
            Ok(split) => Ok(Received {
                ifindex,
                meta: *split.meta(),
                vrrp: split.vrrp().to_vec(),
                ah_packet: Some(packet.to_vec()),
            }),
            Err(error) => Err(RecvError::Packet(error)),
        });
    }
    Ok(match split_ipv4_packet(packet) {
        Ok((meta, vrrp)) => Ok(Received {
            ifindex,
            meta,
            vrrp: vrrp.to_vec(),
            ah_packet: None,
        }),
        Err(error) => Err(RecvError::Packet(error)),
    })
}

fn receive_v6(socket: &Socket, buf: &mut [u8]) -> io::Result<Outcome> {
    let mut control = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let (len, truncated, src, info, hop_limit) = {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrIn6>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::empty(),
        )?;
        let (mut info, mut hop_limit) = (None, None);
        for cmsg in msg.cmsgs().into_iter().flatten() {
            match cmsg {
                ControlMessageOwned::Ipv6PacketInfo(i) => {
                    info = Some((Ipv6Addr::from(i.ipi6_addr.s6_addr), i.ipi6_ifindex));
                }
                ControlMessageOwned::Ipv6HopLimit(h) => hop_limit = u8::try_from(h).ok(),
                _ => {}
            }
        }
        let src = msg.address.map(|a| a.ip());
        let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
        (msg.bytes, truncated, src, info, hop_limit)
    };
    if truncated {
        return Ok(Err(RecvError::Oversized { max: buf.len() }));
    }
    let (Some((dst, ifindex)), Some(ttl), Some(src)) = (info, hop_limit, src) else {
        let what = match (info, hop_limit) {
            (None, _) => "IPV6_PKTINFO",
            (_, None) => "IPV6_HOPLIMIT",
            _ => "source address",
        };
        return Ok(Err(RecvError::NoAncillary { what }));
    };
    let meta = RxMeta {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        ttl,
    };
    Ok(Ok(Received {
        ifindex,
        meta,
        vrrp: buf[..len].to_vec(),
        ah_packet: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{:#}` (how the binary prints errors) shows each cause once: the message carries the
    /// wrapped error's text and `source()` does not repeat it.
    #[test]
    fn error_chains_name_the_cause_once() {
        let io = RecvError::from(io::Error::other("boom"));
        let text = format!("{:#}", anyhow::Error::new(io));
        assert_eq!(text.matches("boom").count(), 1, "{text}");
        let packet = RecvError::Packet(DecodeError::Ttl { ttl: 64 });
        let text = format!("{:#}", anyhow::Error::new(packet));
        assert_eq!(text.matches("TTL / hop limit 64").count(), 1, "{text}");
    }
}
