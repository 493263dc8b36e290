//! Pure VRRP codec: RFC 9568 (VRRPv3, IPv4 and IPv6, both IPv4 checksum forms) and RFC 3768 (VRRPv2 with auth types
//! none and simple password, and RFC 2338's IPsec AH as keepalived implements it) adverts,
//! their checksums, the IPv4 header (and AH header) in front of them, and the gratuitous ARP /
//! unsolicited neighbour advertisement frames sent on takeover.
//!
//! No I/O, no clock, no allocation beyond the returned buffers, and it imports nothing else of
//! this crate: everything here is testable on plain byte slices. Decoding never panics; every
//! rejected packet maps to one [`DecodeError`] kind so it can be counted.
//!
//! Files: `advert` (the VRRP message), `ah` (the IPsec AH around VRRPv2, HMAC-MD5-96 through
//! RustCrypto's `hmac` and `md-5`), `checksum`, `interval` ([`Centisecs`]), `error`,
//! `ipv4` (the IPv4 header a raw socket delivers), `garp` and `ndp` (the takeover frames,
//! built like keepalived's; the agent never parses them, so their parsers live with the tests
//! in `vrrp-agent/tests/common/takeover.rs`), `ethernet` (their Ethernet header), `bytes`
//! (panic-free field reads).

mod advert;
mod ah;
mod bytes;
mod checksum;
mod error;
mod ethernet;
mod garp;
mod interval;
mod ipv4;
mod ndp;

pub use advert::{Advert, Auth, RxMeta, VRRP_HEADER_LEN, Version};
pub use ah::{
    AH_HEADER_LEN, AhIpv4, AhPacket, IPPROTO_AH, compute_icv, encode_ah_packet, split_ah_packet,
};
pub use checksum::{
    ChecksumForm, internet_checksum, pseudo_header_checksum, verify_vrrp_checksum, vrrp_checksum,
    vrrp_checksum_as,
};
pub use error::{DecodeError, EncodeError};
pub use ethernet::{BROADCAST_MAC, ETH_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV6, virtual_mac};
pub use garp::{GARP_FRAME_LEN, gratuitous_arp};
pub use interval::Centisecs;
pub use ipv4::split_ipv4_packet;
pub use ndp::{ALL_NODES, NA_FRAME_LEN, unsolicited_na};

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The TTL / hop limit every advert is sent with and must arrive with.
pub const VRRP_TTL: u8 = 255;
/// IPv4 multicast group of VRRP (224.0.0.18).
pub const VRRP_GROUP_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (ff02::12).
pub const VRRP_GROUP_V6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
