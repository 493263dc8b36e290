//! Unsolicited neighbour advertisement (RFC 4861 §7.2.6), sent on takeover so that IPv6
//! neighbours move a virtual address to our MAC. Built exactly as keepalived 2.2.7 sends it
//! (byte for byte like its captures): the complete Ethernet frame from our MAC to
//! 33:33:00:00:00:01, IPv6 from the virtual address itself to ff02::1 with hop limit 255,
//! ICMPv6 type 136 with the Override flag set, the Solicited flag clear, the Router flag as
//! asked (keepalived clears it: its captures carry flags 0x20, O only), target = the virtual
//! address, and one target link-layer address option carrying the MAC. The agent only sends
//! these frames: parsing them is the tests' business (`vrrp-agent/tests/common/takeover.rs`).
//! Depends on `ethernet` and `checksum` only.

use std::net::{IpAddr, Ipv6Addr};

use super::{
    checksum::pseudo_header_checksum,
    ethernet::{ETH_HEADER_LEN, ETHERTYPE_IPV6, EthHeader},
};

const IPV6_HEADER_LEN: usize = 40;
/// ICMPv6 header, flags and target: the fixed part of a neighbour advertisement.
const NA_FIXED_LEN: usize = 24;
/// The target link-layer address option for Ethernet: type, length (in 8-byte units), MAC.
const TLLA_OPTION_LEN: usize = 8;
/// Length of the frame [`unsolicited_na`] builds.
pub const NA_FRAME_LEN: usize = ETH_HEADER_LEN + IPV6_HEADER_LEN + NA_FIXED_LEN + TLLA_OPTION_LEN;

const IPPROTO_ICMPV6: u8 = 58;
const NDP_HOP_LIMIT: u8 = 255;
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
const FLAG_ROUTER: u8 = 0x80;
const FLAG_OVERRIDE: u8 = 0x20;
const OPTION_TARGET_LINK_LAYER: u8 = 2;

/// The all-nodes multicast group, where unsolicited advertisements go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet address of [`ALL_NODES`] (RFC 2464 §7: 33:33 and the group's low 32 bits).
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];

/// The complete Ethernet frame of an unsolicited neighbour advertisement that `ip` is at
/// `mac`, sent from `ip` itself to all nodes, Override set, Router set if `router`.
pub fn unsolicited_na(mac: [u8; 6], ip: Ipv6Addr, router: bool) -> Vec<u8> {
    let mut icmp = Vec::with_capacity(NA_FIXED_LEN + TLLA_OPTION_LEN);
    icmp.extend_from_slice(&[ICMPV6_NEIGHBOR_ADVERT, 0, 0, 0]); // type, code, checksum
    let flags = FLAG_OVERRIDE | if router { FLAG_ROUTER } else { 0 };
    icmp.extend_from_slice(&[flags, 0, 0, 0]);
    icmp.extend_from_slice(&ip.octets());
    icmp.extend_from_slice(&[OPTION_TARGET_LINK_LAYER, (TLLA_OPTION_LEN / 8) as u8]);
    icmp.extend_from_slice(&mac);
    let csum = pseudo_header_checksum(IpAddr::V6(ip), IpAddr::V6(ALL_NODES), IPPROTO_ICMPV6, &icmp);
    icmp[2..4].copy_from_slice(&csum.to_be_bytes());

    let mut out = Vec::with_capacity(NA_FRAME_LEN);
    EthHeader {
        dst: ALL_NODES_MAC,
        src: mac,
        ethertype: ETHERTYPE_IPV6,
    }
    .write(&mut out);
    out.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, traffic class 0, flow label 0
    out.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    out.extend_from_slice(&[IPPROTO_ICMPV6, NDP_HOP_LIMIT]);
    out.extend_from_slice(&ip.octets());
    out.extend_from_slice(&ALL_NODES.octets());
    out.extend_from_slice(&icmp);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mac = [0x02, 0, 0, 0, 0, 1];
        let ip: Ipv6Addr = "2001:db8::7".parse().unwrap();
        for router in [false, true] {
            let frame = unsolicited_na(mac, ip, router);
            assert_eq!(frame.len(), NA_FRAME_LEN);
            assert_eq!(frame[21], 255, "hop limit");
            assert_eq!(frame[54], 136, "ICMPv6 type");
            assert_eq!(frame[58], if router { 0xa0 } else { 0x20 }, "flags");
        }
    }
}
