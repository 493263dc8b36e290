//! Splitting the IPv4 header that a raw IPv4 socket delivers in front of the VRRP message,
//! with the same header checks as `packet::decode_ipv4_packet` (which also decodes the
//! advert; here the message is kept as bytes so that a bad advert is still received with its
//! metadata). Imports `crate::packet` only.

use std::net::{IpAddr, Ipv4Addr};

use crate::packet::{DecodeError, IPPROTO_VRRP, RxMeta};

/// The metadata of an IPv4 packet carrying VRRP and its payload. Honours the header length
/// (options are skipped) and the total length (trailing bytes are ignored).
pub(super) fn split(packet: &[u8]) -> Result<(RxMeta, &[u8]), DecodeError> {
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
    if packet[9] != IPPROTO_VRRP {
        return Err(DecodeError::NotVrrp {
            protocol: packet[9],
        });
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
    Ok((meta, &packet[ihl..total]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Advert, Auth, Centisecs, VRRP_GROUP_V4, Version, decode_ipv4_packet};

    /// An IPv4 packet around `vrrp` with `options` (a multiple of 4 bytes) and `trailer`.
    fn packet(vrrp: &[u8], options: &[u8], ttl: u8, trailer: &[u8]) -> Vec<u8> {
        let ihl = 20 + options.len();
        let total = (ihl + vrrp.len()) as u16;
        let mut p = vec![0x40 | (ihl / 4) as u8, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, ttl, IPPROTO_VRRP, 0, 0]);
        p.extend_from_slice(&[192, 0, 2, 1]);
        p.extend_from_slice(&VRRP_GROUP_V4.octets());
        p.extend_from_slice(options);
        p.extend_from_slice(vrrp);
        p.extend_from_slice(trailer);
        p
    }

    fn advert() -> (Advert, Vec<u8>) {
        let advert = Advert {
            version: Version::V3,
            vrid: 9,
            priority: 150,
            interval: Centisecs(100),
            addresses: vec![Ipv4Addr::new(192, 0, 2, 100).into()],
            auth: Auth::None,
        };
        let bytes = advert
            .encode(Ipv4Addr::new(192, 0, 2, 1).into(), VRRP_GROUP_V4.into())
            .unwrap();
        (advert, bytes)
    }

    #[test]
    fn agrees_with_the_codec_and_honours_options_and_total_length() {
        let (advert, vrrp) = advert();
        let with_options = packet(&vrrp, &[1, 1, 1, 0], 255, &[0xee; 6]);
        let (meta, payload) = split(&with_options).unwrap();
        assert_eq!(payload, &vrrp[..]);
        assert_eq!(meta.ttl, 255);
        assert_eq!(meta.dst, IpAddr::V4(VRRP_GROUP_V4));
        assert_eq!(
            decode_ipv4_packet(&with_options),
            Ok((advert.clone(), meta))
        );
        assert_eq!(Advert::decode(payload, &meta), Ok(advert));
    }

    #[test]
    fn keeps_the_ttl_for_the_caller_to_judge() {
        let (_, vrrp) = advert();
        let low_ttl = packet(&vrrp, &[], 64, &[]);
        let (meta, payload) = split(&low_ttl).unwrap();
        assert_eq!((meta.ttl, payload), (64, &vrrp[..]));
    }

    #[test]
    fn rejects_unusable_headers() {
        let (_, vrrp) = advert();
        let good = packet(&vrrp, &[], 255, &[]);
        let mut short_total = good.clone();
        short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
        let mut long_total = good.clone();
        long_total[2..4].copy_from_slice(&(good.len() as u16 + 1).to_be_bytes());
        let mut ihl_4 = good.clone();
        ihl_4[0] = 0x44;
        let mut fragment = good.clone();
        fragment[6] = 0x20; // more fragments
        let mut icmp = good.clone();
        icmp[9] = 1;
        for (bad, what) in [
            (&good[..19], "short"),
            (&short_total[..], "total below header"),
            (&long_total[..], "total beyond packet"),
            (&ihl_4[..], "ihl"),
            (&fragment[..], "fragment"),
        ] {
            assert!(
                matches!(split(bad), Err(DecodeError::IpHeader { .. })),
                "{what}"
            );
        }
        assert_eq!(split(&icmp), Err(DecodeError::NotVrrp { protocol: 1 }));
        let mut v6 = good;
        v6[0] = 0x65;
        assert!(matches!(split(&v6), Err(DecodeError::IpHeader { .. })));
    }
}
