//! The IPv6 neighbour probe: a neighbour solicitation for the target, sent to its
//! solicited-node multicast address with hop limit 255 and our MAC as source link-layer
//! address option, answered by a neighbour advertisement whose target is the target. A raw
//! ICMPv6 socket bound to the interface (the kernel fills in the ICMPv6 checksum). Imports
//! the `net` helpers; socket2, nix.

use std::{
    io,
    net::{Ipv6Addr, SocketAddrV6},
};

use nix::sys::socket::SockaddrStorage;
use socket2::Socket;

use super::{exchange::Exchange, icmp};
use crate::net::{error::context, link};

const NEIGHBOR_SOLICIT: u8 = 135;
const NEIGHBOR_ADVERT: u8 = 136;
const OPTION_SOURCE_LINK_LAYER: u8 = 1;
/// Type, code, checksum, reserved, target.
const NDP_FIXED_LEN: usize = 24;
const NDP_HOP_LIMIT: u32 = 255;

/// Neighbour-solicitation probing of one target on one interface.
#[derive(Debug)]
pub(super) struct NdpProbe {
    socket: Socket,
    ifindex: u32,
    mac: Option<[u8; 6]>,
    target: Ipv6Addr,
}

impl NdpProbe {
    /// Opens the ICMPv6 socket on `ifname` / `ifindex`, sending from `source` (which must be
    /// an address of the interface) or else from the address the kernel chooses (the
    /// link-local one).
    pub(super) fn open(
        ifindex: u32,
        ifname: &str,
        target: Ipv6Addr,
        source: Option<Ipv6Addr>,
    ) -> io::Result<Self> {
        let socket = icmp::open_v6(ifindex, ifname, source)?;
        socket
            .set_multicast_if_v6(ifindex)
            .map_err(context("IPV6_MULTICAST_IF"))?;
        socket
            .set_multicast_hops_v6(NDP_HOP_LIMIT)
            .map_err(context("IPV6_MULTICAST_HOPS"))?;
        socket
            .set_unicast_hops_v6(NDP_HOP_LIMIT)
            .map_err(context("IPV6_UNICAST_HOPS"))?;
        socket
            .set_multicast_loop_v6(false)
            .map_err(context("IPV6_MULTICAST_LOOP"))?;
        Ok(Self {
            socket,
            ifindex,
            mac: link::mac_address(ifname)?,
            target,
        })
    }
}

impl Exchange for NdpProbe {
    fn socket(&self) -> &Socket {
        &self.socket
    }

    fn next_request(&mut self) -> (Vec<u8>, Option<SockaddrStorage>) {
        let to = SocketAddrV6::new(solicited_node(self.target), 0, 0, self.ifindex);
        (solicitation(self.target, self.mac), Some(to.into()))
    }

    fn is_answer(&self, packet: &[u8], _from: Option<&SockaddrStorage>) -> bool {
        is_advert_for(packet, self.target)
    }
}

/// The solicited-node multicast address of `addr` (RFC 4291 §2.7.1): ff02::1:ff and its
/// low 24 bits.
fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, o[13], o[14], o[15],
    ])
}

/// A neighbour solicitation for `target` (checksum left 0 for the kernel), with a source
/// link-layer address option if there is a `mac` (RFC 4861 §4.3: required in multicast
/// solicitations from a specified address; Linux answers none without it).
fn solicitation(target: Ipv6Addr, mac: Option<[u8; 6]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(NDP_FIXED_LEN + 8);
    out.extend_from_slice(&[NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&target.octets());
    if let Some(mac) = mac {
        out.extend_from_slice(&[OPTION_SOURCE_LINK_LAYER, 1]);
        out.extend_from_slice(&mac);
    }
    out
}

/// Whether the ICMPv6 message `packet` is a neighbour advertisement for `target`.
fn is_advert_for(packet: &[u8], target: Ipv6Addr) -> bool {
    packet.len() >= NDP_FIXED_LEN
        && packet[0] == NEIGHBOR_ADVERT
        && packet[1] == 0
        && packet[8..24] == target.octets()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solicited_node_address() {
        let addr: Ipv6Addr = "fe80::2aa:ff:fe28:9c5a".parse().unwrap();
        assert_eq!(
            solicited_node(addr),
            "ff02::1:ff28:9c5a".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn solicitation_layout_and_answer() {
        let target: Ipv6Addr = "fd00::2".parse().unwrap();
        let mac = [0x02, 0, 0, 0, 0, 1];
        let ns = solicitation(target, Some(mac));
        assert_eq!(ns.len(), 32);
        assert_eq!(&ns[..8], &[135, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&ns[8..24], &target.octets());
        assert_eq!(&ns[24..], &[1, 1, 2, 0, 0, 0, 0, 1]);
        assert_eq!(solicitation(target, None).len(), 24);

        let mut na = ns.clone();
        na[0] = NEIGHBOR_ADVERT;
        na[4] = 0x60; // solicited, override
        assert!(is_advert_for(&na, target));
        assert!(!is_advert_for(&na, "fd00::3".parse().unwrap()));
        assert!(!is_advert_for(&ns, target), "a solicitation is no answer");
        assert!(!is_advert_for(&na[..23], target));
    }
}
