//! The Internet checksum (RFC 1071), the same under an IPv4 / IPv6 pseudo-header (RFC 768,
//! RFC 8200 §8.1; ICMPv6 uses it too), and the VRRP checksum: VRRPv2 over the VRRP message only
//! (RFC 3768 §5.3.8); VRRPv3 over IPv6 over the message plus the pseudo-header with next
//! header 112; VRRPv3 over IPv4 in either of two forms that both exist on the wire
//! ([`ChecksumForm`]). Depends on nothing but the VRRP constants.

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

/// What the checksum of a VRRPv3 advert over IPv4 covers. The two VRRPv3 texts disagree and
/// both forms are deployed:
///
/// * RFC 5798 §5.2.8 was read as "the message plus the IPv4 pseudo-header" by keepalived 2.2
///   and by FRR's vrrpd by default ([`WithPseudoHeader`](Self::WithPseudoHeader));
/// * RFC 9568 §5.2.8, which obsoletes it, keeps the pseudo-header for IPv6 only, so over IPv4
///   the checksum covers the VRRP message alone, as in VRRPv2 (keepalived's
///   `v3_checksum_as_v2`, FRR's `no vrrp N checksum-with-ipv4-pseudoheader`)
///   ([`MessageOnly`](Self::MessageOnly)).
///
/// VRRPv2 always has the message-only form and VRRPv3 over IPv6 always the pseudo-header one;
/// decoding reports the form a message had.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChecksumForm {
    #[default]
    WithPseudoHeader,
    MessageOnly,
}

impl ChecksumForm {
    /// Plain words for logs.
    pub const fn describe(self) -> &'static str {
        match self {
            ChecksumForm::WithPseudoHeader => {
                "over the IPv4 pseudo-header and the message (RFC 5798 as keepalived 2.2 and FRR read it)"
            }
            ChecksumForm::MessageOnly => "over the VRRP message only (RFC 9568)",
        }
    }

    /// Stable snake_case name (config values, status).
    pub const fn name(self) -> &'static str {
        match self {
            ChecksumForm::WithPseudoHeader => "pseudo_header",
            ChecksumForm::MessageOnly => "message_only",
        }
    }
}

/// The checksum of a VRRP message in the form a VRRPv3-over-IPv4 sender chose (`form` is
/// ignored where only one form exists): `vrrp` with its checksum field zeroed, or filled in
/// when verifying (then a correct message yields 0). `src`/`dst` are used for VRRPv3 only.
pub fn vrrp_checksum_as(
    version: Version,
    form: ChecksumForm,
    vrrp: &[u8],
    src: IpAddr,
    dst: IpAddr,
) -> u16 {
    match (version, form, src) {
        (Version::V2, ..) | (Version::V3, ChecksumForm::MessageOnly, IpAddr::V4(_)) => {
            internet_checksum(vrrp)
        }
        (Version::V3, ..) => pseudo_header_checksum(src, dst, IPPROTO_VRRP, vrrp),
    }
}

/// The checksum of a VRRP message in the pseudo-header form for VRRPv3 (see
/// [`vrrp_checksum_as`]).
pub fn vrrp_checksum(version: Version, vrrp: &[u8], src: IpAddr, dst: IpAddr) -> u16 {
    vrrp_checksum_as(version, ChecksumForm::WithPseudoHeader, vrrp, src, dst)
}

/// Verifies the checksum of a received VRRP message: the form it was computed in, or `None`
/// when no form matches. A VRRPv3 advert over IPv4 is valid in either form (RFC 9568's, or
/// RFC 5798's as deployed); the pseudo-header form is tried first.
pub fn verify_vrrp_checksum(
    version: Version,
    vrrp: &[u8],
    src: IpAddr,
    dst: IpAddr,
) -> Option<ChecksumForm> {
    let ok = |form| vrrp_checksum_as(version, form, vrrp, src, dst) == 0;
    match (version, src) {
        (Version::V2, _) => ok(ChecksumForm::MessageOnly).then_some(ChecksumForm::MessageOnly),
        (Version::V3, IpAddr::V6(_)) => {
            ok(ChecksumForm::WithPseudoHeader).then_some(ChecksumForm::WithPseudoHeader)
        }
        (Version::V3, IpAddr::V4(_)) => [ChecksumForm::WithPseudoHeader, ChecksumForm::MessageOnly]
            .into_iter()
            .find(|form| ok(*form)),
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
