//! The IPv4 neighbour probe: a broadcast ARP request for the target out of the interface,
//! answered by an ARP reply whose sender is the target. An `AF_PACKET` socket bound to the
//! interface and to ARP frames only; the frames are built here (Ethernet, IPv4 ARP).
//! Imports `crate::packet` (Ethernet constants) and the `net` helpers; socket2, libc (binding
//! a packet socket).

use std::{io, net::Ipv4Addr, os::fd::AsRawFd};

use nix::sys::socket::SockaddrStorage;
use socket2::{Domain, Socket, Type};

use super::exchange::Exchange;
use crate::{
    net::{error::context, link},
    packet::{BROADCAST_MAC, ETH_HEADER_LEN, ETHERTYPE_ARP},
};

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;
const OP_REQUEST: u16 = 1;
const OP_REPLY: u16 = 2;
/// Ethernet header and the ARP message for Ethernet / IPv4.
const FRAME_LEN: usize = ETH_HEADER_LEN + 28;

/// ARP probing of one target on one interface.
#[derive(Debug)]
pub(super) struct ArpProbe {
    socket: Socket,
    mac: [u8; 6],
    sender: Ipv4Addr,
    target: Ipv4Addr,
}

impl ArpProbe {
    /// Opens the packet socket on `ifname` / `ifindex`. Requests say they come from `sender`
    /// at the interface's MAC; with `None` they are RFC 5227 ARP probes (sender 0.0.0.0) from a
    /// random locally administered *probe MAC* that the interface is told to accept. That
    /// form touches neither the target's neighbour table nor any switch's entry for the
    /// interface's MAC, which matters where several routers share one MAC (Neutron's qg-/qr-
    /// ports) and a backup probing from it would pull the master's traffic to itself.
    pub(super) fn open(
        ifindex: u32,
        ifname: &str,
        target: Ipv4Addr,
        sender: Option<Ipv4Addr>,
    ) -> io::Result<Self> {
        let mac = link::mac_address(ifname)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{ifname} has no Ethernet address to send ARP requests from"),
            )
        })?;
        // Protocol 0: the socket receives nothing until bound to the interface and to ARP.
        let socket = Socket::new(Domain::PACKET, Type::RAW.nonblocking().cloexec(), None)
            .map_err(context("socket(AF_PACKET)"))?;
        bind(&socket, ifindex).map_err(context("binding the packet socket"))?;
        let mac = match sender {
            Some(_) => mac,
            None => {
                let probe_mac = random_probe_mac();
                accept_unicast(&socket, ifindex, probe_mac)
                    .map_err(context("accepting the probe MAC on the interface"))?;
                probe_mac
            }
        };
        Ok(Self {
            socket,
            mac,
            sender: sender.unwrap_or(Ipv4Addr::UNSPECIFIED),
            target,
        })
    }
}

impl Exchange for ArpProbe {
    fn socket(&self) -> &Socket {
        &self.socket
    }

    fn next_request(&mut self) -> (Vec<u8>, Option<SockaddrStorage>) {
        (request(self.mac, self.sender, self.target), None)
    }

    fn is_answer(&self, frame: &[u8], _from: Option<&SockaddrStorage>) -> bool {
        is_reply_from(frame, self.target)
    }
}

/// A random unicast, locally administered MAC (one per prober, so routers never share it).
fn random_probe_mac() -> [u8; 6] {
    use std::hash::{BuildHasher, Hasher};
    // RandomState's keys come from the OS (once per thread, then a different key for each
    // instance). Random on purpose: the MAC only has to differ between probers, and nothing
    // stores it or derives a name from it.
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        .to_be_bytes();
    let mut mac = [bits[0], bits[1], bits[2], bits[3], bits[4], bits[5]];
    mac[0] = (mac[0] & 0xfc) | 0x02;
    mac
}

/// Adds `mac` to the interface's unicast filter for as long as `socket` lives
/// (PACKET_MR_UNICAST: the NIC accepts frames for it without going promiscuous).
fn accept_unicast(socket: &Socket, ifindex: u32, mac: [u8; 6]) -> io::Result<()> {
    // SAFETY: packet_mreq is a plain C struct for which all-zero bytes are valid.
    let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
    mreq.mr_ifindex = ifindex as i32;
    mreq.mr_type = libc::PACKET_MR_UNICAST as u16;
    mreq.mr_alen = 6;
    mreq.mr_address[..6].copy_from_slice(&mac);
    // SAFETY: the fd is a live packet socket owned by `socket`; `mreq` is valid for the
    // length passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            (&mreq as *const libc::packet_mreq).cast(),
            std::mem::size_of::<libc::packet_mreq>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Binds `socket` to `ifindex` and to ARP frames.
fn bind(socket: &Socket, ifindex: u32) -> io::Result<()> {
    // SAFETY: sockaddr_ll is a plain C struct for which all-zero bytes are valid.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = ETHERTYPE_ARP.to_be();
    addr.sll_ifindex = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))?;
    // SAFETY: `addr` is a valid sockaddr_ll that lives across the call, the length passed is
    // its size, and the descriptor is owned by `socket`.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A broadcast "who-has `target` tell `sender`" from `mac`.
fn request(mac: [u8; 6], sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_LEN);
    out.extend_from_slice(&BROADCAST_MAC);
    out.extend_from_slice(&mac);
    out.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    out.extend_from_slice(&HTYPE_ETHERNET.to_be_bytes());
    out.extend_from_slice(&PTYPE_IPV4.to_be_bytes());
    out.extend_from_slice(&[6, 4]);
    out.extend_from_slice(&OP_REQUEST.to_be_bytes());
    out.extend_from_slice(&mac);
    out.extend_from_slice(&sender.octets());
    out.extend_from_slice(&[0; 6]); // target hardware address: unknown
    out.extend_from_slice(&target.octets());
    out
}

/// Whether `frame` is an Ethernet / IPv4 ARP reply sent by `target`.
fn is_reply_from(frame: &[u8], target: Ipv4Addr) -> bool {
    let Some(header) = frame.get(..FRAME_LEN) else {
        return false;
    };
    let be16 = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let arp = ETH_HEADER_LEN;
    be16(12) == ETHERTYPE_ARP
        && be16(arp) == HTYPE_ETHERNET
        && be16(arp + 2) == PTYPE_IPV4
        && header[arp + 4..arp + 6] == [6, 4]
        && be16(arp + 6) == OP_REPLY
        && header[arp + 14..arp + 18] == target.octets()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

    fn reply(from: Ipv4Addr) -> Vec<u8> {
        let mut frame = request(PEER_MAC, from, Ipv4Addr::new(192, 0, 2, 1));
        frame[..6].copy_from_slice(&MAC);
        frame[21] = OP_REPLY as u8;
        frame
    }

    #[test]
    fn request_layout() {
        let frame = request(
            MAC,
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
        );
        assert_eq!(frame.len(), FRAME_LEN);
        assert_eq!(&frame[..6], &BROADCAST_MAC);
        assert_eq!(&frame[6..12], &MAC);
        assert_eq!(&frame[12..14], &[0x08, 0x06]);
        assert_eq!(&frame[14..22], &[0, 1, 0x08, 0, 6, 4, 0, 1]);
        assert_eq!(&frame[22..28], &MAC);
        assert_eq!(&frame[28..32], &[192, 0, 2, 1]);
        assert_eq!(&frame[32..38], &[0; 6]);
        assert_eq!(&frame[38..42], &[192, 0, 2, 2]);
    }

    #[test]
    fn only_a_reply_from_the_target_answers() {
        let target = Ipv4Addr::new(192, 0, 2, 2);
        let mut padded = reply(target);
        padded.resize(60, 0);
        assert!(is_reply_from(&padded, target));
        assert!(is_reply_from(&reply(target), target));
        assert!(!is_reply_from(&reply(Ipv4Addr::new(192, 0, 2, 3)), target));
        assert!(!is_reply_from(&request(PEER_MAC, target, target), target));
        assert!(!is_reply_from(&reply(target)[..41], target));
        let mut vlan = reply(target);
        vlan[12..14].copy_from_slice(&[0x81, 0x00]);
        assert!(!is_reply_from(&vlan, target));
    }
}
