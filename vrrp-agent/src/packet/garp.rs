//! Gratuitous ARP, sent on takeover so that neighbours move a virtual IPv4 address to our MAC.
//! Built exactly as keepalived 2.2.7 sends it (byte for byte like its captures): an ARP
//! *request* to the Ethernet broadcast address, "who-has IP tell IP", with sender and target
//! protocol address both the virtual address and target hardware address ff:ff:ff:ff:ff:ff
//! (RFC 5227 §3's ARP announcement has zeros there; keepalived puts the broadcast address).
//! The agent only sends these frames: parsing them is the tests' business
//! (`vrrp-agent/tests/common/takeover.rs`). Depends on `ethernet` only.

use std::net::Ipv4Addr;

use super::ethernet::{BROADCAST_MAC, ETH_HEADER_LEN, ETHERTYPE_ARP, EthHeader};

/// Length of the ARP message for Ethernet and IPv4.
const ARP_LEN: usize = 28;
/// Length of the frame [`gratuitous_arp`] builds (no padding to the 60-byte minimum: the
/// NIC adds it, and keepalived's frames are 42 bytes too).
pub const GARP_FRAME_LEN: usize = ETH_HEADER_LEN + ARP_LEN;

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;
const OP_REQUEST: u16 = 1;

/// The gratuitous ARP frame announcing that `ip` is at `mac`, from `mac` to broadcast.
pub fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut out = Vec::with_capacity(GARP_FRAME_LEN);
    EthHeader {
        dst: BROADCAST_MAC,
        src: mac,
        ethertype: ETHERTYPE_ARP,
    }
    .write(&mut out);
    out.extend_from_slice(&HTYPE_ETHERNET.to_be_bytes());
    out.extend_from_slice(&PTYPE_IPV4.to_be_bytes());
    out.extend_from_slice(&[6, 4]); // hardware and protocol address lengths
    out.extend_from_slice(&OP_REQUEST.to_be_bytes());
    out.extend_from_slice(&mac); // sender hardware address
    out.extend_from_slice(&ip.octets()); // sender protocol address
    out.extend_from_slice(&BROADCAST_MAC); // target hardware address, as keepalived
    out.extend_from_slice(&ip.octets()); // target protocol address
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mac = [0x02, 0, 0, 0, 0, 1];
        let frame = gratuitous_arp(mac, Ipv4Addr::new(192, 0, 2, 7));
        assert_eq!(frame.len(), GARP_FRAME_LEN);
        assert_eq!(&frame[12..14], &[0x08, 0x06]);
        assert_eq!(&frame[20..22], &[0, 1], "opcode: request");
    }
}
