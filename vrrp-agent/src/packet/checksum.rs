//! The Internet checksum (RFC 1071), the same under an IPv4 / IPv6 pseudo-header (RFC 768,
//! RFC 8200 §8.1; ICMPv6 uses it too), and the VRRP checksum: VRRPv2 over the VRRP message only
//! (RFC 3768 §5.3.8), VRRPv3 over the message plus the pseudo-header with next header 112
//! (RFC 5798 §5.2.8). Depends on nothing but the VRRP constants.

use std::net::IpAddr;

use super::{IPPROTO_VRRP, Version};

/// One's-complement sum of 16-bit big-endian words (an odd last byte is padded with zero),
/// not yet folded or inverted.
fn sum_words(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The Internet checksum of `data`: the value to store in a zeroed checksum field, or zero
/// when verifying a buffer whose checksum field is filled in correctly.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !fold(sum_words(data, 0))
}

/// The checksum of an upper-layer message `data` (checksum field zeroed when computing,
/// filled in when verifying: then a correct message yields 0) under the IPv4 or IPv6
/// pseudo-header of `src`, `dst`, `next_header` and the length of `data`.
///
/// The IPv4 pseudo-header (src, dst, zero, protocol, 16-bit length) and the IPv6 one (src,
/// dst, 32-bit length, three zero bytes, next header) have the same one's-complement sum.
/// With `src` and `dst` of different families (no packet has them) the addresses are left out.
pub fn pseudo_header_checksum(src: IpAddr, dst: IpAddr, next_header: u8, data: &[u8]) -> u16 {
    let mut acc = 0u64;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum_words(&s.octets(), acc);
            acc = sum_words(&d.octets(), acc);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            acc = sum_words(&s.octets(), acc);
            acc = sum_words(&d.octets(), acc);
        }
        _ => {}
    }
    acc += u64::from(next_header);
    acc += data.len() as u64;
    !fold(sum_words(data, acc))
}

/// The checksum of a VRRP message (`vrrp` with its checksum field zeroed, or filled in when
/// verifying: then a correct message yields 0). `src`/`dst` are used for VRRPv3 only.
pub fn vrrp_checksum(version: Version, vrrp: &[u8], src: IpAddr, dst: IpAddr) -> u16 {
    match version {
        Version::V2 => internet_checksum(vrrp),
        Version::V3 => pseudo_header_checksum(src, dst, IPPROTO_VRRP, vrrp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (before inversion).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(internet_checksum(&[0x12]), !0x1200);
    }
}
