//! VRRPv2 adverts in an IPsec Authentication Header (authentication type 2, RFC 2338
//! §5.3.6.3), byte for byte as keepalived 2.2.7 sends and checks them (`auth_type AH`; its
//! `vrrp_build_ip4`, `vrrp_update_pkt` and `vrrp_in_chk_ipsecah`):
//!
//! ```text
//!  IPv4 header: TOS 0xc0, ID (keepalived: 1, 2, ... per instance), no flags, TTL 255,
//!               protocol 51 (AH), checksum, source, destination
//!  AH (RFC 2402, 24 bytes):
//!       | next header 112 | payload length 4 | reserved 0    |
//!       | SPI: the IPv4 source address                      |
//!       | sequence number                                   |
//!       | ICV: HMAC-MD5-96 (12 bytes)                       |
//!  VRRPv2 message: auth type 2, 8 zero bytes of authentication data
//! ```
//!
//! The ICV is the first 12 bytes of HMAC-MD5 (RFC 2104, RFC 2403), keyed with the 8-byte
//! password (zero padded), over the IPv4 header (options included) with TOS, flags/fragment
//! offset and header checksum zeroed, then the AH header with its ICV zeroed, then the VRRP
//! message. The TTL is covered as sent, except in unicast instances, where keepalived zeroes
//! it on both sides. The SPI must equal the source address. Sequence numbers (anti-replay)
//! are the state machine's business: this layer only carries them.
//!
//! Pure like the rest of `packet`; HMAC-MD5 comes from RustCrypto's `hmac` and `md-5`.

use std::net::Ipv4Addr;

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;

use super::{
    Advert, Auth, DecodeError, EncodeError, IPPROTO_VRRP, RxMeta, VRRP_TTL, Version,
    bytes::array_at, checksum::internet_checksum, ipv4::split_ipv4,
};

/// IP protocol number of the IPsec Authentication Header.
pub const IPPROTO_AH: u8 = 51;
/// Length of keepalived's AH header (with a 96-bit ICV).
pub const AH_HEADER_LEN: usize = 24;
/// The AH payload length field: the header in 32-bit words, minus 2 (RFC 2402 §2.2).
const AH_PAYLOAD_LEN: u8 = 4;
const ICV_AT: usize = 12;
const ICV_LEN: usize = 12;
const IPV4_HEADER_LEN: usize = 20;
/// keepalived's TOS: Internet network control.
const TOS_NETWORK_CONTROL: u8 = 0xc0;
/// MD5's block size: keys shorter than this are zero padded to it (RFC 2104 §2).
const HMAC_MD5_BLOCK: usize = 64;

/// The fields of the IPv4 header of an AH advert that the advert itself does not hold (the
/// ICV covers them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AhIpv4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// Identification: keepalived counts 1, 2, ... per instance, skipping 0 (which the
    /// kernel would replace).
    pub id: u16,
    /// The sending instance is a unicast one: keepalived then leaves the TTL out of the ICV.
    pub unicast: bool,
}

/// The complete IPv4 packet (header, AH, VRRP message) of `advert`, which must be VRRPv2
/// with [`Auth::Ah`] (its key and sequence number are used), as keepalived builds it. The
/// header checksum is filled in (the kernel computes the same one when it sends the packet
/// with `IP_HDRINCL`).
pub fn encode_ah_packet(advert: &Advert, ip: &AhIpv4) -> Result<Vec<u8>, EncodeError> {
    let (Version::V2, Auth::Ah { key, seq }) = (advert.version, advert.auth) else {
        return Err(EncodeError::NotAh);
    };
    let vrrp = advert.encode(ip.src.into(), ip.dst.into())?;
    let total = u16::try_from(IPV4_HEADER_LEN + AH_HEADER_LEN + vrrp.len()).map_err(|_| {
        EncodeError::TooManyAddresses {
            count: advert.addresses.len(),
        }
    })?;
    let mut header = Vec::with_capacity(usize::from(total));
    header.extend_from_slice(&[0x45, TOS_NETWORK_CONTROL]);
    header.extend_from_slice(&total.to_be_bytes());
    header.extend_from_slice(&ip.id.to_be_bytes());
    header.extend_from_slice(&[0, 0, VRRP_TTL, IPPROTO_AH, 0, 0]);
    header.extend_from_slice(&ip.src.octets());
    header.extend_from_slice(&ip.dst.octets());
    let mut ah = [0u8; AH_HEADER_LEN];
    ah[0] = IPPROTO_VRRP;
    ah[1] = AH_PAYLOAD_LEN;
    ah[4..8].copy_from_slice(&ip.src.octets());
    ah[8..12].copy_from_slice(&seq.to_be_bytes());
    let icv = compute_icv(&key, &header, &ah, &vrrp, ip.unicast);
    ah[ICV_AT..].copy_from_slice(&icv);
    let csum = internet_checksum(&header);
    header[10..12].copy_from_slice(&csum.to_be_bytes());
    header.extend_from_slice(&ah);
    header.extend_from_slice(&vrrp);
    Ok(header)
}

/// A received IPv4 packet with protocol 51 whose AH header announces VRRP: split, not yet
/// authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AhPacket<'a> {
    meta: RxMeta,
    /// The IPv4 header, options included.
    header: &'a [u8],
    ah: [u8; AH_HEADER_LEN],
    vrrp: &'a [u8],
}

/// Splits an IPv4 packet (as a raw socket delivers it) carrying VRRP in an AH header. Honours
/// the header length and the total length; rejects fragments, other protocols, AH headers
/// for other protocols ([`DecodeError::NotVrrp`]) and AH headers of another length than
/// keepalived's.
pub fn split_ah_packet(packet: &[u8]) -> Result<AhPacket<'_>, DecodeError> {
    let split = split_ipv4(packet)?;
    if split.protocol != IPPROTO_AH {
        return Err(DecodeError::NotVrrp {
            protocol: split.protocol,
        });
    }
    let Some(ah) = array_at::<AH_HEADER_LEN>(split.payload, 0) else {
        return Err(DecodeError::AhHeader {
            reason: "shorter than 24 bytes",
        });
    };
    if ah[0] != IPPROTO_VRRP {
        return Err(DecodeError::NotVrrp { protocol: ah[0] });
    }
    if ah[1] != AH_PAYLOAD_LEN {
        return Err(DecodeError::AhHeader {
            reason: "payload length is not 4 (a 96-bit ICV)",
        });
    }
    Ok(AhPacket {
        meta: split.meta,
        header: split.header,
        ah,
        vrrp: &split.payload[AH_HEADER_LEN..],
    })
}

impl<'a> AhPacket<'a> {
    /// Source, destination and TTL of the IPv4 header.
    pub fn meta(&self) -> &RxMeta {
        &self.meta
    }

    /// The VRRP message (not authenticated until [`AhPacket::authenticate`] said so).
    pub fn vrrp(&self) -> &'a [u8] {
        self.vrrp
    }

    /// The Security Parameters Index (keepalived: the sender's IPv4 address).
    pub fn spi(&self) -> u32 {
        u32::from_be_bytes([self.ah[4], self.ah[5], self.ah[6], self.ah[7]])
    }

    /// The AH sequence number.
    pub fn seq(&self) -> u32 {
        u32::from_be_bytes([self.ah[8], self.ah[9], self.ah[10], self.ah[11]])
    }

    /// The ICV as received.
    pub fn icv(&self) -> [u8; ICV_LEN] {
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(&self.ah[ICV_AT..]);
        icv
    }

    /// keepalived's `vrrp_in_chk_ipsecah` without the sequence number: the ICV, computed
    /// with `key` (compared in constant time; `unicast`: the receiving instance is a unicast
    /// one, so the TTL is left out), then the SPI, which must be the source address.
    pub fn authenticate(&self, key: &[u8; 8], unicast: bool) -> Result<(), DecodeError> {
        icv_mac(key, self.header, &self.ah, self.vrrp, unicast)
            .verify_truncated_left(&self.ah[ICV_AT..])
            .map_err(|_| DecodeError::AhIcv)?;
        let src = match self.meta.src {
            std::net::IpAddr::V4(src) => src,
            std::net::IpAddr::V6(_) => return Err(DecodeError::V2OverIpv6),
        };
        if self.spi() != u32::from(src) {
            return Err(DecodeError::AhSpi {
                spi: self.spi(),
                src,
            });
        }
        Ok(())
    }

    /// Checks the TTL (when `check_ttl`: 255, as for any advert), authenticates the packet
    /// with `key` ([`AhPacket::authenticate`]), then decodes the VRRP message, whose auth type
    /// 2 becomes [`Auth::Ah`] with `key` and this packet's sequence number.
    pub fn decode(
        &self,
        key: &[u8; 8],
        unicast: bool,
        check_ttl: bool,
    ) -> Result<Advert, DecodeError> {
        if check_ttl && self.meta.ttl != VRRP_TTL {
            return Err(DecodeError::Ttl { ttl: self.meta.ttl });
        }
        self.authenticate(key, unicast)?;
        let auth = Auth::Ah {
            key: *key,
            seq: self.seq(),
        };
        Advert::decode_unchecked_ttl(self.vrrp, &self.meta, Some(auth)).map(|(advert, _)| advert)
    }
}

/// The ICV of an AH advert: HMAC-MD5 over the IPv4 `header` with its mutable fields zeroed,
/// the `ah` header with its ICV zeroed and the `vrrp` message, truncated to 96 bits.
pub fn compute_icv(
    key: &[u8; 8],
    header: &[u8],
    ah: &[u8; AH_HEADER_LEN],
    vrrp: &[u8],
    unicast: bool,
) -> [u8; ICV_LEN] {
    let digest = icv_mac(key, header, ah, vrrp, unicast)
        .finalize()
        .into_bytes();
    let mut icv = [0u8; ICV_LEN];
    icv.copy_from_slice(&digest[..ICV_LEN]);
    icv
}

fn icv_mac(
    key: &[u8; 8],
    header: &[u8],
    ah: &[u8; AH_HEADER_LEN],
    vrrp: &[u8],
    unicast: bool,
) -> Hmac<Md5> {
    // RFC 2104 pads a short key with zeros to the block size: padding it here is the same
    // HMAC and makes the constructor infallible.
    let mut block = [0u8; HMAC_MD5_BLOCK];
    block[..key.len()].copy_from_slice(key);
    let mut mac = Hmac::<Md5>::new(&block.into());
    let mut fixed = [0u8; IPV4_HEADER_LEN];
    let (first, options) = header.split_at(header.len().min(IPV4_HEADER_LEN));
    fixed[..first.len()].copy_from_slice(first);
    fixed[1] = 0; // TOS
    fixed[6..8].fill(0); // flags, fragment offset
    fixed[10..12].fill(0); // header checksum
    if unicast {
        fixed[8] = 0; // TTL
    }
    mac.update(&fixed[..first.len()]);
    mac.update(options);
    let mut ah = *ah;
    ah[ICV_AT..].fill(0);
    mac.update(&ah);
    mac.update(vrrp);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Centisecs;

    fn advert(seq: u32) -> Advert {
        Advert {
            version: Version::V2,
            vrid: 1,
            priority: 50,
            interval: Centisecs::from_secs(1),
            addresses: vec![Ipv4Addr::new(169, 254, 0, 1).into()],
            auth: Auth::ah("secret12").with_seq(seq),
        }
    }

    fn ip() -> AhIpv4 {
        AhIpv4 {
            src: Ipv4Addr::new(169, 254, 192, 2),
            dst: Ipv4Addr::new(224, 0, 0, 18),
            id: 1,
            unicast: false,
        }
    }

    /// The first advert keepalived 2.2.7 sent in `v2-ah.pcap` (IPv4 header on), rebuilt
    /// from its fields; the capture itself is checked by `tests/codec_ah.rs`.
    const KEEPALIVED_FIRST: &str = "45c0004000010000ff3370b6a9fec002e000001270040000a9fec00200000001\
                                    8eeb0be839836cf3274b7c7d21013201020100fda9fe00010000000000000000";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn encodes_keepalived_bytes() {
        let bytes = encode_ah_packet(&advert(1), &ip()).unwrap();
        assert_eq!(bytes, hex(KEEPALIVED_FIRST));
    }

    #[test]
    fn decodes_and_authenticates_keepalived_bytes() {
        let bytes = hex(KEEPALIVED_FIRST);
        let packet = split_ah_packet(&bytes).unwrap();
        assert_eq!(packet.seq(), 1);
        assert_eq!(packet.spi(), u32::from(Ipv4Addr::new(169, 254, 192, 2)));
        assert_eq!(packet.decode(b"secret12", false, true), Ok(advert(1)));
        // Another key, or the same bytes judged as a unicast instance would (TTL zeroed).
        assert_eq!(
            packet.decode(b"secret13", false, true),
            Err(DecodeError::AhIcv)
        );
        assert_eq!(
            packet.decode(b"secret12", true, true),
            Err(DecodeError::AhIcv)
        );
    }

    /// Every field the ICV covers changes it; the mutable ones (TOS, flags and fragment
    /// offset, header checksum) do not; the TTL does except in unicast instances.
    #[test]
    fn icv_covers_exactly_the_immutable_fields() {
        let original = hex(KEEPALIVED_FIRST);
        for at in 0..original.len() {
            let mut bytes = original.clone();
            // In the flags byte, flip DF (any other bit makes a fragment).
            bytes[at] ^= if at == 6 { 0x40 } else { 0x01 };
            let result = split_ah_packet(&bytes).and_then(|p| p.authenticate(b"secret12", false));
            match at {
                // TOS, DF, header checksum: mutable, outside the ICV.
                1 | 6 | 10 | 11 => assert_eq!(result, Ok(()), "byte {at} is mutable"),
                // Structure: version/IHL, total length, fragment offset, protocol, next
                // header, payload length.
                0 | 2 | 3 | 7 | 9 | 20 | 21 => assert!(
                    matches!(
                        result,
                        Err(DecodeError::IpHeader { .. }
                            | DecodeError::NotVrrp { .. }
                            | DecodeError::AhHeader { .. })
                    ),
                    "byte {at}: {result:?}"
                ),
                // Everything else is covered: ID, TTL, addresses, SPI, sequence number, the
                // ICV itself, the VRRP message.
                _ => assert_eq!(result, Err(DecodeError::AhIcv), "byte {at} is covered"),
            }
        }
        let mut ttl = original.clone();
        ttl[8] = 64;
        let packet = split_ah_packet(&ttl).unwrap();
        assert_eq!(
            packet.authenticate(b"secret12", false),
            Err(DecodeError::AhIcv)
        );
        assert_eq!(
            packet.decode(b"secret12", false, true),
            Err(DecodeError::Ttl { ttl: 64 })
        );
    }

    /// keepalived zeroes the TTL in the ICV of unicast instances, on both sides.
    #[test]
    fn unicast_icv_leaves_the_ttl_out() {
        let unicast = AhIpv4 {
            dst: Ipv4Addr::new(169, 254, 192, 1),
            unicast: true,
            ..ip()
        };
        let mut bytes = encode_ah_packet(&advert(7), &unicast).unwrap();
        bytes[8] = 64;
        let packet = split_ah_packet(&bytes).unwrap();
        assert_eq!(packet.decode(b"secret12", true, false), Ok(advert(7)));
        assert_eq!(
            packet.authenticate(b"secret12", false),
            Err(DecodeError::AhIcv)
        );
    }

    #[test]
    fn the_spi_must_be_the_source_address() {
        let mut bytes = hex(KEEPALIVED_FIRST);
        // Source 169.254.192.3: the ICV is recomputed so only the SPI rule can fail.
        bytes[15] = 3;
        let mut header: Vec<u8> = bytes[..20].to_vec();
        header[10..12].fill(0);
        let mut ah: [u8; 24] = bytes[20..44].try_into().unwrap();
        let icv = compute_icv(b"secret12", &header, &ah, &bytes[44..], false);
        ah[12..].copy_from_slice(&icv);
        bytes[20..44].copy_from_slice(&ah);
        let packet = split_ah_packet(&bytes).unwrap();
        assert_eq!(
            packet.authenticate(b"secret12", false),
            Err(DecodeError::AhSpi {
                spi: 0xa9fe_c002,
                src: Ipv4Addr::new(169, 254, 192, 3)
            })
        );
    }

    #[test]
    fn only_v2_ah_adverts_are_encoded_in_ah() {
        let mut plain = advert(1);
        plain.auth = Auth::simple("secret12");
        assert_eq!(encode_ah_packet(&plain, &ip()), Err(EncodeError::NotAh));
    }

    #[test]
    fn split_rejects_what_is_not_an_ah_advert() {
        let bytes = hex(KEEPALIVED_FIRST);
        let mut other = bytes.clone();
        other[20] = 6; // AH around TCP
        assert_eq!(
            split_ah_packet(&other),
            Err(DecodeError::NotVrrp { protocol: 6 })
        );
        let mut long_icv = bytes.clone();
        long_icv[21] = 5;
        assert!(matches!(
            split_ah_packet(&long_icv),
            Err(DecodeError::AhHeader { .. })
        ));
        let mut short = bytes[..40].to_vec();
        short[2..4].copy_from_slice(&40u16.to_be_bytes());
        assert!(matches!(
            split_ah_packet(&short),
            Err(DecodeError::AhHeader { .. })
        ));
        let mut vrrp = bytes.clone();
        vrrp[9] = IPPROTO_VRRP;
        assert_eq!(
            split_ah_packet(&vrrp),
            Err(DecodeError::NotVrrp {
                protocol: IPPROTO_VRRP
            })
        );
        // Without the AH layer, auth type 2 is refused.
        let meta = split_ah_packet(&bytes).unwrap().meta;
        assert_eq!(
            Advert::decode(&bytes[44..], &meta),
            Err(DecodeError::AuthAh)
        );
    }
}
