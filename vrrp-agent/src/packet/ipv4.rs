//! The IPv4 header in front of an advert, as a raw IPv4 socket delivers it (IPv6 raw sockets
//! deliver the payload only, with the hop limit in ancillary data).

use std::net::{IpAddr, Ipv4Addr};

use super::{DecodeError, IPPROTO_VRRP, RxMeta};

/// A well-formed, unfragmented IPv4 packet, split.
pub(super) struct Ipv4Split<'a> {
    pub meta: RxMeta,
    pub protocol: u8,
    /// The header, options included (IHL bytes).
    pub header: &'a [u8],
    /// The payload, up to the total length.
    pub payload: &'a [u8],
}

/// Splits an IPv4 packet of any protocol. Honours the header length field (options are
/// skipped) and the total length (trailing bytes, such as Ethernet padding, are ignored);
/// rejects fragments.
pub(super) fn split_ipv4(packet: &[u8]) -> Result<Ipv4Split<'_>, DecodeError> {
    let ip_err = |reason| DecodeError::IpHeader { reason };
    if packet.len() < 20 {
        return Err(ip_err("shorter than 20 bytes"));
    }
    if packet[0] >> 4 != 4 {
        return Err(ip_err("version is not 4"));
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(ip_err("header length below 20 bytes"));
    }
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if total < ihl || total > packet.len() {
        return Err(ip_err("total length does not match the packet"));
    }
    if u16::from_be_bytes([packet[6], packet[7]]) & 0x3fff != 0 {
        return Err(ip_err("fragmented"));
    }
    let meta = RxMeta {
        src: IpAddr::V4(Ipv4Addr::new(
            packet[12], packet[13], packet[14], packet[15],
        )),
        dst: IpAddr::V4(Ipv4Addr::new(
            packet[16], packet[17], packet[18], packet[19],
        )),
        ttl: packet[8],
    };
    Ok(Ipv4Split {
        meta,
        protocol: packet[9],
        header: &packet[..ihl],
        payload: &packet[ihl..total],
    })
}

/// The metadata of an IPv4 packet carrying VRRP and its payload (the VRRP message, still
/// bytes). Honours the header length field (options are skipped) and the total length
/// (trailing bytes, such as Ethernet padding, are ignored); rejects fragments and other
/// protocols.
pub fn split_ipv4_packet(packet: &[u8]) -> Result<(RxMeta, &[u8]), DecodeError> {
    let split = split_ipv4(packet)?;
    if split.protocol != IPPROTO_VRRP {
        return Err(DecodeError::NotVrrp {
            protocol: split.protocol,
        });
    }
    Ok((split.meta, split.payload))
}
