//! The VRRP checksum: every single-bit flip of a valid advert is rejected (in keepalived's AH
//! adverts by the ICV, which covers the whole message), the v3 checksum covers the
//! pseudo-header (source and destination), the v2 checksum does not, and VRRPv3 over IPv4
//! comes in two forms, both accepted (RFC 9568 §5.2.8).

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{
    CAPTURES, CaptureKind, Frame, SRC_V4, SRC_V6, classify, decode_ipv4_packet, ipv4_packet,
    meta_from, sample_v2, sample_v3_v4, sample_v3_v6, samples,
};
use vrrp_agent::packet::{
    Advert, ChecksumForm, DecodeError, RxMeta, VRRP_GROUP_V4, VRRP_HEADER_LEN, Version,
    split_ah_packet, vrrp_checksum,
};

/// Flips every bit of `vrrp` one at a time: decoding must fail every time. Flips in the
/// version/type byte may be reported as version or type errors, flips in the count as length
/// errors; every other byte (VRID, priority, interval, checksum, addresses, auth data) is
/// covered by the checksum alone, so there the error must be the checksum.
fn every_bit_flip_is_rejected(vrrp: &[u8], meta: &RxMeta, ctx: &str) -> usize {
    let original = Advert::decode(vrrp, meta).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let mut flips = 0;
    for byte in 0..vrrp.len() {
        for bit in 0..8 {
            let mut bad = vrrp.to_vec();
            bad[byte] ^= 1 << bit;
            let result = Advert::decode(&bad, meta);
            let where_ = format!("{ctx}: bit {bit} of byte {byte}");
            match (byte, result) {
                (_, Ok(advert)) => panic!("{where_}: accepted as {advert:?} (was {original:?})"),
                (0, Err(_)) => {}
                (3, Err(DecodeError::Length { .. } | DecodeError::Checksum { .. })) => {}
                (_, Err(DecodeError::Checksum { .. })) => {}
                (_, Err(e)) => panic!("{where_}: {e:?}, expected a checksum error"),
            }
            flips += 1;
        }
    }
    flips
}

#[test]
fn single_bit_flips_of_the_samples() {
    for (advert, src) in samples() {
        let meta = meta_from(src);
        let vrrp = advert.encode(meta.src, meta.dst).unwrap();
        let flips = every_bit_flip_is_rejected(&vrrp, &meta, &format!("{advert:?}"));
        assert_eq!(flips, vrrp.len() * 8);
    }
}

/// Flips every bit of the VRRP message inside an AH advert (`ip_packet`, valid with `key`):
/// the ICV covers the whole message and is checked before the message is decoded, so it is
/// what rejects each flip.
fn every_bit_flip_of_an_ah_message_is_rejected(ip_packet: &[u8], key: &[u8; 8], ctx: &str) {
    let packet = split_ah_packet(ip_packet).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    packet
        .decode(key, false, true)
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let total = usize::from(u16::from_be_bytes([ip_packet[2], ip_packet[3]]));
    let vrrp_at = total - packet.vrrp().len();
    for byte in vrrp_at..total {
        for bit in 0..8 {
            let mut bad = ip_packet.to_vec();
            bad[byte] ^= 1 << bit;
            let result = split_ah_packet(&bad).and_then(|p| p.decode(key, false, true));
            assert_eq!(
                result,
                Err(DecodeError::AhIcv),
                "{ctx}: bit {bit} of VRRP byte {}",
                byte - vrrp_at
            );
        }
    }
}

#[test]
fn single_bit_flips_of_the_first_captured_advert_of_each_capture() {
    for capture in CAPTURES {
        let frames = capture.frames();
        let ctx = capture.name;
        if capture.kind == CaptureKind::V2Ah {
            let ip_packet = frames
                .iter()
                .find_map(|frame| match classify(frame) {
                    Frame::V4AhAdvert { ip_packet } => Some(ip_packet),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{ctx}: no AH advert"));
            every_bit_flip_of_an_ah_message_is_rejected(ip_packet, b"secret12", ctx);
            continue;
        }
        let (vrrp, meta) = frames
            .iter()
            .find_map(|frame| match classify(frame) {
                Frame::V4Advert { ip_packet } => {
                    let (_, meta) = decode_ipv4_packet(ip_packet).unwrap();
                    Some((common::ipv4_payload(ip_packet).to_vec(), meta))
                }
                Frame::V6Advert { vrrp, meta } => Some((vrrp.to_vec(), meta)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{ctx}: no advert"));
        every_bit_flip_is_rejected(&vrrp, &meta, ctx);
    }
}

/// Flips in the address bytes specifically are checksum errors (the count stays right).
#[test]
fn flips_in_the_addresses_are_checksum_errors() {
    for (advert, src) in samples() {
        let meta = meta_from(src);
        let vrrp = advert.encode(meta.src, meta.dst).unwrap();
        let addr_len = if src.is_ipv6() { 16 } else { 4 };
        let list = VRRP_HEADER_LEN..VRRP_HEADER_LEN + advert.addresses.len() * addr_len;
        for byte in list {
            for bit in 0..8 {
                let mut bad = vrrp.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    matches!(
                        Advert::decode(&bad, &meta),
                        Err(DecodeError::Checksum { .. })
                    ),
                    "bit {bit} of byte {byte}"
                );
            }
        }
    }
}

#[test]
fn v3_checksum_covers_the_source_address() {
    for (advert, src, other_src) in [
        (
            sample_v3_v4(),
            IpAddr::from(SRC_V4),
            IpAddr::from(Ipv4Addr::new(192, 0, 2, 2)),
        ),
        (
            sample_v3_v6(),
            IpAddr::from(SRC_V6),
            IpAddr::from("fe80::2".parse::<Ipv6Addr>().unwrap()),
        ),
    ] {
        let meta = meta_from(src);
        let a = advert.encode(src, meta.dst).unwrap();
        let b = advert.encode(other_src, meta.dst).unwrap();
        assert_ne!(a[6..8], b[6..8], "same checksum for two sources");
        assert_eq!(a[..6], b[..6]);
        assert_eq!(a[8..], b[8..]);
        // Decoding with the wrong source: a checksum error carrying the checksum found.
        let wrong = RxMeta {
            src: other_src,
            ..meta
        };
        assert_eq!(
            Advert::decode(&a, &wrong),
            Err(DecodeError::Checksum {
                found: u16::from_be_bytes([a[6], a[7]])
            })
        );
        assert_eq!(Advert::decode(&b, &wrong), Ok(advert.clone()));
        // The destination is covered too.
        let other_dst = match src {
            IpAddr::V4(_) => IpAddr::from(Ipv4Addr::new(224, 0, 0, 19)),
            IpAddr::V6(_) => IpAddr::from("ff02::13".parse::<Ipv6Addr>().unwrap()),
        };
        let wrong_dst = RxMeta {
            dst: other_dst,
            ..meta
        };
        assert!(matches!(
            Advert::decode(&a, &wrong_dst),
            Err(DecodeError::Checksum { .. })
        ));
    }
}

#[test]
fn v3_checksum_covers_the_source_through_the_ipv4_header() {
    let vrrp = sample_v3_v4()
        .encode(SRC_V4.into(), VRRP_GROUP_V4.into())
        .unwrap();
    let spoofed = ipv4_packet(&vrrp, Ipv4Addr::new(192, 0, 2, 2), VRRP_GROUP_V4, 255, &[]);
    assert!(matches!(
        decode_ipv4_packet(&spoofed),
        Err(DecodeError::Checksum { .. })
    ));
}

#[test]
fn v2_checksum_does_not_depend_on_addresses() {
    let advert = sample_v2();
    let a = advert.encode(SRC_V4.into(), VRRP_GROUP_V4.into()).unwrap();
    let b = advert
        .encode(
            Ipv4Addr::new(203, 0, 113, 9).into(),
            Ipv4Addr::new(10, 1, 2, 3).into(),
        )
        .unwrap();
    assert_eq!(a, b);
    // It is the plain Internet checksum of the message.
    assert_eq!(vrrp_agent::packet::internet_checksum(&a), 0);
    assert_eq!(
        vrrp_checksum(
            Version::V2,
            &a,
            Ipv4Addr::UNSPECIFIED.into(),
            Ipv4Addr::BROADCAST.into()
        ),
        0
    );
    let elsewhere = RxMeta {
        src: Ipv4Addr::new(203, 0, 113, 9).into(),
        dst: Ipv4Addr::new(10, 1, 2, 3).into(),
        ttl: 255,
    };
    assert_eq!(Advert::decode(&a, &elsewhere), Ok(advert.clone()));
    let packet = ipv4_packet(&a, Ipv4Addr::new(203, 0, 113, 9), VRRP_GROUP_V4, 255, &[]);
    assert_eq!(decode_ipv4_packet(&packet).map(|(a, _)| a), Ok(advert));
}

/// RFC 9568 change (§5.2.8): over IPv4 the VRRPv3 checksum covers the VRRP message only;
/// RFC 5798 as keepalived 2.2 and FRR read it adds the pseudo-header. Both are on the wire, so
/// both decode, and the decoder says which one the message had.
#[test]
fn rfc9568_5_2_8_v3_over_ipv4_decodes_in_either_form_and_reports_it() {
    let advert = sample_v3_v4();
    let meta = meta_from(SRC_V4.into());
    for form in [ChecksumForm::WithPseudoHeader, ChecksumForm::MessageOnly] {
        let vrrp = advert.encode_as(meta.src, meta.dst, form).unwrap();
        assert_eq!(
            Advert::decode_with_form(&vrrp, &meta),
            Ok((advert.clone(), form))
        );
    }
    let pseudo = advert
        .encode_as(meta.src, meta.dst, ChecksumForm::WithPseudoHeader)
        .unwrap();
    let message_only = advert
        .encode_as(meta.src, meta.dst, ChecksumForm::MessageOnly)
        .unwrap();
    assert_ne!(pseudo[6..8], message_only[6..8]);
    // The message-only form does not depend on the addresses of the IP header.
    let elsewhere = RxMeta {
        src: Ipv4Addr::new(192, 0, 2, 99).into(),
        ..meta
    };
    assert_eq!(
        Advert::decode_with_form(&message_only, &elsewhere),
        Ok((advert.clone(), ChecksumForm::MessageOnly))
    );
    // Neither form: refused.
    let mut bad = message_only.clone();
    bad[7] ^= 1;
    assert!(matches!(
        Advert::decode(&bad, &meta),
        Err(DecodeError::Checksum { .. })
    ));
}

/// RFC 9568 §5.2.8: over IPv6 the pseudo-header is part of the checksum, one form only.
#[test]
fn rfc9568_5_2_8_v3_over_ipv6_has_only_the_pseudo_header_form() {
    let advert = sample_v3_v6();
    let meta = meta_from(SRC_V6.into());
    let vrrp = advert
        .encode_as(meta.src, meta.dst, ChecksumForm::MessageOnly)
        .unwrap();
    assert_eq!(
        Advert::decode_with_form(&vrrp, &meta),
        Ok((advert.clone(), ChecksumForm::WithPseudoHeader)),
        "the form is ignored where only one exists"
    );
    let mut message_only = vrrp.clone();
    message_only[6..8].copy_from_slice(&[0, 0]);
    let csum = vrrp_agent::packet::internet_checksum(&message_only);
    message_only[6..8].copy_from_slice(&csum.to_be_bytes());
    assert!(matches!(
        Advert::decode(&message_only, &meta),
        Err(DecodeError::Checksum { .. })
    ));
}

/// RFC 3768 §5.3.8: VRRPv2 over the message only; a pseudo-header sum is refused.
#[test]
fn rfc3768_5_3_8_v2_has_only_the_message_form() {
    let advert = sample_v2();
    let meta = meta_from(SRC_V4.into());
    let mut vrrp = advert.encode(meta.src, meta.dst).unwrap();
    assert_eq!(
        Advert::decode_with_form(&vrrp, &meta),
        Ok((advert.clone(), ChecksumForm::MessageOnly))
    );
    vrrp[6..8].copy_from_slice(&[0, 0]);
    let csum = vrrp_agent::packet::pseudo_header_checksum(meta.src, meta.dst, 112, &vrrp);
    vrrp[6..8].copy_from_slice(&csum.to_be_bytes());
    assert!(matches!(
        Advert::decode(&vrrp, &meta),
        Err(DecodeError::Checksum { .. })
    ));
}
