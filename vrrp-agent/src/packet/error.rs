//! Why a packet was rejected (one kind per receive check, so each can be counted) and why an
//! advert could not be encoded.

use super::Version;

/// A received VRRP packet failed a receive check (RFC 5798 §7.1, RFC 3768 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    #[error("TTL / hop limit {ttl}, must be 255")]
    Ttl { ttl: u8 },
    #[error("{len} bytes, shorter than the 8-byte VRRP header")]
    Truncated { len: usize },
    #[error("VRRP version {version} (only 2 and 3 exist)")]
    Version { version: u8 },
    #[error("VRRPv2 over IPv6 (RFC 3768 is IPv4 only)")]
    V2OverIpv6,
    #[error("packet type {ty}, only 1 (advertisement) exists")]
    Type { ty: u8 },
    #[error("{actual} bytes, but the header announces {needed} ({count} addresses)")]
    Length {
        needed: usize,
        actual: usize,
        count: u8,
    },
    #[error("bad checksum {found:#06x}")]
    Checksum { found: u16 },
    #[error("advertisement interval 0")]
    ZeroInterval,
    #[error("authentication type 2 (IP Authentication Header) without an AH header")]
    AuthAh,
    #[error("unknown authentication type {ty}")]
    AuthType { ty: u8 },
    #[error("malformed IP header: {reason}")]
    IpHeader { reason: &'static str },
    #[error("not VRRP: IP protocol {protocol}")]
    NotVrrp { protocol: u8 },
    #[error("malformed IPsec AH header: {reason}")]
    AhHeader { reason: &'static str },
    #[error("AH ICV (HMAC-MD5-96) does not match: another auth_pass, or the packet was altered")]
    AhIcv,
    #[error("AH SPI {spi:#010x} is not the source address {src} (keepalived's rule)")]
    AhSpi { spi: u32, src: std::net::Ipv4Addr },
}

impl DecodeError {
    /// Stable snake_case name for counters and logs.
    pub const fn kind(&self) -> &'static str {
        match self {
            DecodeError::Ttl { .. } => "ttl",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::Version { .. } => "version",
            DecodeError::V2OverIpv6 => "version",
            DecodeError::Type { .. } => "type",
            DecodeError::Length { .. } => "length",
            DecodeError::Checksum { .. } => "checksum",
            DecodeError::ZeroInterval => "interval",
            DecodeError::AuthAh => "auth_type",
            DecodeError::AuthType { .. } => "auth_type",
            DecodeError::IpHeader { .. } => "ip_header",
            DecodeError::NotVrrp { .. } => "not_vrrp",
            DecodeError::AhHeader { .. } => "ah_header",
            // keepalived counts both as auth_failure.
            DecodeError::AhIcv | DecodeError::AhSpi { .. } => "auth_failure",
        }
    }
}

/// An [`Advert`](super::Advert) that cannot be put on the wire as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{count} addresses; an advert carries at most 255")]
    TooManyAddresses { count: usize },
    #[error("address {addr} is not of the family of the source address {src}")]
    MixedFamilies {
        addr: std::net::IpAddr,
        src: std::net::IpAddr,
    },
    #[error("VRRPv2 cannot be sent over IPv6")]
    V2OverIpv6,
    #[error("interval {interval} cannot be sent in {version:?}: {why}")]
    Interval {
        interval: super::Centisecs,
        version: Version,
        why: &'static str,
    },
    #[error("VRRPv3 has no authentication")]
    AuthInV3,
    #[error("only a VRRPv2 advert with AH authentication goes in an AH header")]
    NotAh,
}
