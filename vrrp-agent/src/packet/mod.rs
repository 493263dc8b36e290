//! Pure VRRP codec: RFC 5798 (VRRPv3, IPv4 and IPv6) and RFC 3768 (VRRPv2 with auth types
//! none and simple password) adverts, their checksums, the IPv4 header in front of them, and
//! the gratuitous ARP / unsolicited neighbour advertisement frames sent on takeover.
//!
//! No I/O, no clock, no allocation beyond the returned buffers, and it imports nothing else of
//! this crate: everything here is testable on plain byte slices. Decoding never panics; every
//! rejected packet maps to one [`DecodeError`] kind so it can be counted.

mod advert;
mod checksum;
mod error;
mod interval;
mod ipv4;

pub use advert::{Advert, Auth, RxMeta, VRRP_HEADER_LEN, Version};
pub use checksum::{internet_checksum, pseudo_header_checksum, vrrp_checksum};
pub use error::{DecodeError, EncodeError};
pub use interval::Centisecs;
pub use ipv4::decode_ipv4_packet;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The TTL / hop limit every advert is sent with and must arrive with.
pub const VRRP_TTL: u8 = 255;
/// IPv4 multicast group of VRRP (224.0.0.18).
pub const VRRP_GROUP_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (ff02::12).
pub const VRRP_GROUP_V6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
