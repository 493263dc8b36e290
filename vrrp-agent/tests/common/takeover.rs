//! Parsing the takeover frames (gratuitous ARPs, unsolicited neighbour advertisements) that
//! tests capture or build: the agent only sends them, so the parsers live with the tests.
//! Included by `vrrp-agent/tests/common` and, with `#[path]`, by `vrrp-tests` (`takeover`), so
//! it may use std and `vrrp_agent::packet`'s public items only.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_agent::packet::{ETH_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV6, pseudo_header_checksum};

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;
const OP_REQUEST: u16 = 1;
const OP_REPLY: u16 = 2;

const IPV6_HEADER_LEN: usize = 40;
/// ICMPv6 header, flags and target: the fixed part of a neighbour advertisement.
const NA_FIXED_LEN: usize = 24;
/// The target link-layer address option for Ethernet: type, length (in 8-byte units), MAC.
const TLLA_OPTION_LEN: usize = 8;
const IPPROTO_ICMPV6: u8 = 58;
const NDP_HOP_LIMIT: u8 = 255;
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;
const OPTION_TARGET_LINK_LAYER: u8 = 2;

/// The `N` bytes of `bytes` starting at `at`, or `None` if they are not all there.
fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The big-endian `u16` at `at`.
fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    array_at(bytes, at).map(u16::from_be_bytes)
}

/// The EtherType and payload of an untagged Ethernet II frame (a VLAN tag shows as EtherType
/// 0x8100); `None` if shorter than the header.
fn split_ethernet(frame: &[u8]) -> Option<(u16, &[u8])> {
    Some((u16_at(frame, 12)?, frame.get(ETH_HEADER_LEN..)?))
}

/// The (sender MAC, IP) of a gratuitous ARP: an Ethernet/IPv4 ARP request or reply whose
/// sender and target protocol addresses are equal and not 0.0.0.0 (that would be an RFC 5227
/// probe, not an announcement). Any Ethernet destination and target hardware address are
/// accepted, and so are trailing bytes (padding to the Ethernet minimum). `None` for anything
/// else, including VLAN-tagged frames.
pub fn parse_gratuitous_arp(frame: &[u8]) -> Option<([u8; 6], Ipv4Addr)> {
    let (ethertype, arp) = split_ethernet(frame)?;
    let op = u16_at(arp, 6)?;
    if ethertype != ETHERTYPE_ARP
        || u16_at(arp, 0)? != HTYPE_ETHERNET
        || u16_at(arp, 2)? != PTYPE_IPV4
        || array_at(arp, 4)? != [6, 4]
        || !(op == OP_REQUEST || op == OP_REPLY)
    {
        return None;
    }
    let sender_mac = array_at(arp, 8)?;
    let sender = Ipv4Addr::from(array_at::<4>(arp, 14)?);
    let target = Ipv4Addr::from(array_at::<4>(arp, 24)?);
    if sender != target || sender.is_unspecified() {
        return None;
    }
    Some((sender_mac, sender))
}

/// What a received unsolicited neighbour advertisement says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnsolicitedNa {
    /// The MAC in the target link-layer address option.
    pub mac: [u8; 6],
    /// The address being advertised.
    pub target: Ipv6Addr,
    /// R: the sender is a router.
    pub router: bool,
    /// O: the advertisement overrides cached link-layer addresses.
    pub override_flag: bool,
}

/// Parses an unsolicited neighbour advertisement frame, with the receive checks of RFC 4861
/// §7.1.2: IPv6 directly carrying ICMPv6 (no extension headers), hop limit 255, a valid
/// checksum, type 136 code 0, at least 24 bytes, target not multicast, Solicited flag clear,
/// every option of non-zero length and within the payload. It must carry a target link-layer
/// address option for Ethernet (the MAC returned). Bytes after the IPv6 payload are ignored.
/// `None` for anything else, including VLAN-tagged frames.
pub fn parse_unsolicited_na(frame: &[u8]) -> Option<UnsolicitedNa> {
    let (ethertype, ip) = split_ethernet(frame)?;
    let [version_tc, ..] = array_at::<4>(ip, 0)?;
    let [next_header, hop_limit] = array_at(ip, 6)?;
    if ethertype != ETHERTYPE_IPV6
        || version_tc >> 4 != 6
        || next_header != IPPROTO_ICMPV6
        || hop_limit != NDP_HOP_LIMIT
    {
        return None;
    }
    let src = Ipv6Addr::from(array_at::<16>(ip, 8)?);
    let dst = Ipv6Addr::from(array_at::<16>(ip, 24)?);
    let payload_len = usize::from(u16_at(ip, 4)?);
    let icmp = ip.get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + payload_len)?;
    let [ty, code, _, _, flags, ..] = array_at::<NA_FIXED_LEN>(icmp, 0)?;
    if ty != ICMPV6_NEIGHBOR_ADVERT
        || code != 0
        || pseudo_header_checksum(IpAddr::V6(src), IpAddr::V6(dst), IPPROTO_ICMPV6, icmp) != 0
        || flags & FLAG_SOLICITED != 0
    {
        return None;
    }
    let target = Ipv6Addr::from(array_at::<16>(icmp, 8)?);
    if target.is_multicast() {
        return None;
    }
    let mut mac = None;
    let mut options = icmp.get(NA_FIXED_LEN..)?;
    while !options.is_empty() {
        let [opt_type, opt_units] = array_at(options, 0)?;
        let opt_len = usize::from(opt_units) * 8;
        if opt_len == 0 {
            return None;
        }
        let (option, rest) = options.split_at_checked(opt_len)?;
        if opt_type == OPTION_TARGET_LINK_LAYER && opt_len == TLLA_OPTION_LEN && mac.is_none() {
            mac = array_at(option, 2);
        }
        options = rest;
    }
    Some(UnsolicitedNa {
        mac: mac?,
        target,
        router: flags & FLAG_ROUTER != 0,
        override_flag: flags & FLAG_OVERRIDE != 0,
    })
}
