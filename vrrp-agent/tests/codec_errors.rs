//! One test per decode error kind and per encode error: each malformed input differs from a
//! valid advert in one fault only (checksums re-computed where the fault is elsewhere).

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{
    SRC_V4, SRC_V6, decode_ipv4_packet, fix_checksum, ipv4_packet, ipv4_payload, meta_from,
    sample_v2, sample_v3_v4, sample_v3_v6, samples,
};
use vrrp_agent::packet::{
    Advert, Auth, Centisecs, DecodeError, EncodeError, RxMeta, VRRP_GROUP_V4, VRRP_GROUP_V6,
    VRRP_HEADER_LEN, Version,
};

/// A sample encoded from its source to its group, with the RxMeta it would arrive with.
fn encoded(advert: &Advert, src: IpAddr) -> (Vec<u8>, RxMeta) {
    let meta = meta_from(src);
    (advert.encode(meta.src, meta.dst).unwrap(), meta)
}

/// The v3-over-IPv4 sample as a whole IPv4 packet with the given TTL and options.
fn v4_packet(ttl: u8, options: &[u8]) -> Vec<u8> {
    let (vrrp, _) = encoded(&sample_v3_v4(), SRC_V4.into());
    ipv4_packet(&vrrp, SRC_V4, VRRP_GROUP_V4, ttl, options)
}

#[test]
fn samples_are_valid() {
    for (advert, src) in samples() {
        let (vrrp, meta) = encoded(&advert, src);
        assert_eq!(Advert::decode(&vrrp, &meta), Ok(advert));
    }
    assert_eq!(
        decode_ipv4_packet(&v4_packet(255, &[])).map(|(a, _)| a),
        Ok(sample_v3_v4())
    );
}

#[test]
fn ttl_other_than_255() {
    for (advert, src) in samples() {
        let (vrrp, meta) = encoded(&advert, src);
        for ttl in 0..=254 {
            let err = Advert::decode(&vrrp, &RxMeta { ttl, ..meta }).unwrap_err();
            assert_eq!(err, DecodeError::Ttl { ttl });
            assert_eq!(err.kind(), "ttl");
        }
    }
    for ttl in [254, 0, 1, 64] {
        assert_eq!(
            decode_ipv4_packet(&v4_packet(ttl, &[])),
            Err(DecodeError::Ttl { ttl })
        );
    }
}

#[test]
fn decode_any_ttl_skips_only_the_ttl_check() {
    // For unicast peers (keepalived sends IPv6 unicast with hop limit 64).
    for (advert, src) in samples() {
        let (vrrp, meta) = encoded(&advert, src);
        for ttl in [0u8, 64, 255] {
            assert_eq!(
                Advert::decode_any_ttl(&vrrp, &RxMeta { ttl, ..meta }),
                Ok(advert.clone())
            );
        }
        // Everything else is still checked.
        let mut bad = vrrp.clone();
        bad[6] ^= 0xff;
        assert!(matches!(
            Advert::decode_any_ttl(&bad, &RxMeta { ttl: 64, ..meta }),
            Err(DecodeError::Checksum { .. })
        ));
    }
}

#[test]
fn truncated_below_the_header() {
    for (advert, src) in samples() {
        let (vrrp, meta) = encoded(&advert, src);
        for len in 0..VRRP_HEADER_LEN {
            let err = Advert::decode(&vrrp[..len], &meta).unwrap_err();
            assert_eq!(err, DecodeError::Truncated { len });
            assert_eq!(err.kind(), "truncated");
        }
    }
    // The same through the IPv4 header (total length set to match).
    let (vrrp, _) = encoded(&sample_v3_v4(), SRC_V4.into());
    for len in 0..VRRP_HEADER_LEN {
        let packet = ipv4_packet(&vrrp[..len], SRC_V4, VRRP_GROUP_V4, 255, &[]);
        assert_eq!(
            decode_ipv4_packet(&packet),
            Err(DecodeError::Truncated { len })
        );
    }
}

#[test]
fn version_other_than_2_and_3() {
    for (advert, src) in samples() {
        let (mut vrrp, meta) = encoded(&advert, src);
        for version in [0u8, 1, 4, 15] {
            vrrp[0] = (version << 4) | 1;
            fix_checksum(&mut vrrp, Version::V3, &meta);
            let err = Advert::decode(&vrrp, &meta).unwrap_err();
            assert_eq!(err, DecodeError::Version { version });
            assert_eq!(err.kind(), "version");
        }
    }
}

#[test]
fn v2_over_ipv6() {
    // A v2 message carrying one IPv6-sized address slot would be 8 + 16 + 8 bytes; whatever
    // its content, v2 from an IPv6 source is refused before anything else.
    let meta = meta_from(SRC_V6.into());
    let mut vrrp = vec![0x21, 7, 100, 1, 0, 1, 0, 0];
    vrrp.extend_from_slice(&[0; 24]);
    fix_checksum(&mut vrrp, Version::V2, &meta);
    let err = Advert::decode(&vrrp, &meta).unwrap_err();
    assert_eq!(err, DecodeError::V2OverIpv6);
    assert_eq!(err.kind(), "version");
}

#[test]
fn type_other_than_advertisement() {
    for (advert, src) in samples() {
        let (mut vrrp, meta) = encoded(&advert, src);
        for ty in [0u8, 2, 15] {
            vrrp[0] = (advert.version.number() << 4) | ty;
            fix_checksum(&mut vrrp, advert.version, &meta);
            let err = Advert::decode(&vrrp, &meta).unwrap_err();
            assert_eq!(err, DecodeError::Type { ty });
            assert_eq!(err.kind(), "type");
        }
    }
}

#[test]
fn too_short_for_the_address_count() {
    for (advert, src) in samples() {
        let (mut vrrp, meta) = encoded(&advert, src);
        let addr_len = if src.is_ipv6() { 16 } else { 4 };
        let auth_len = if advert.version == Version::V2 { 8 } else { 0 };
        // Announce one address more than the message holds.
        vrrp[3] = 3;
        fix_checksum(&mut vrrp, advert.version, &meta);
        let err = Advert::decode(&vrrp, &meta).unwrap_err();
        let needed = VRRP_HEADER_LEN + 3 * addr_len + auth_len;
        assert_eq!(
            err,
            DecodeError::Length {
                needed,
                actual: vrrp.len(),
                count: 3
            }
        );
        assert_eq!(err.kind(), "length");
        // Count 255 (the most the field holds) on a short message.
        vrrp[3] = 255;
        fix_checksum(&mut vrrp, advert.version, &meta);
        assert!(matches!(
            Advert::decode(&vrrp, &meta),
            Err(DecodeError::Length { count: 255, .. })
        ));
    }
}

#[test]
fn too_short_for_the_v2_auth_data() {
    let meta = meta_from(SRC_V4.into());
    let (vrrp, _) = encoded(&sample_v2(), SRC_V4.into());
    let full = vrrp.len();
    // Cut 1..=8 bytes of the authentication data.
    for len in full - 8..full {
        let mut cut = vrrp[..len].to_vec();
        fix_checksum(&mut cut, Version::V2, &meta);
        assert_eq!(
            Advert::decode(&cut, &meta),
            Err(DecodeError::Length {
                needed: full,
                actual: len,
                count: 2
            })
        );
    }
}

#[test]
fn zero_interval() {
    for (advert, src) in samples() {
        let (mut vrrp, meta) = encoded(&advert, src);
        match advert.version {
            Version::V2 => vrrp[5] = 0,
            // The 4 reserved bits are ignored: only the 12-bit interval counts.
            Version::V3 => vrrp[4..6].copy_from_slice(&[0xf0, 0]),
        }
        fix_checksum(&mut vrrp, advert.version, &meta);
        let err = Advert::decode(&vrrp, &meta).unwrap_err();
        assert_eq!(err, DecodeError::ZeroInterval);
        assert_eq!(err.kind(), "interval");
    }
}

#[test]
fn v3_reserved_bits_are_ignored() {
    let (mut vrrp, meta) = encoded(&sample_v3_v4(), SRC_V4.into());
    vrrp[4] |= 0xf0;
    fix_checksum(&mut vrrp, Version::V3, &meta);
    assert_eq!(Advert::decode(&vrrp, &meta), Ok(sample_v3_v4()));
}

#[test]
fn auth_type_ah_and_unknown() {
    let (vrrp, meta) = encoded(&sample_v2(), SRC_V4.into());
    for ty in 2..=255u8 {
        let mut bad = vrrp.clone();
        bad[4] = ty;
        fix_checksum(&mut bad, Version::V2, &meta);
        let err = Advert::decode(&bad, &meta).unwrap_err();
        if ty == 2 {
            assert_eq!(err, DecodeError::AuthAh);
            assert!(err.to_string().contains("Authentication Header"), "{err}");
        } else {
            assert_eq!(err, DecodeError::AuthType { ty });
        }
        assert_eq!(err.kind(), "auth_type");
    }
    // Type 0 ignores the authentication data; type 1 returns it.
    let mut none = vrrp.clone();
    none[4] = 0;
    fix_checksum(&mut none, Version::V2, &meta);
    assert_eq!(Advert::decode(&none, &meta).unwrap().auth, Auth::None);
    assert_eq!(
        Advert::decode(&vrrp, &meta).unwrap().auth,
        Auth::Simple(*b"secret12")
    );
}

/// Sets a field of an IPv4 packet and re-computes its header checksum.
fn with_ip_field(mut packet: Vec<u8>, at: usize, value: u8) -> Vec<u8> {
    packet[at] = value;
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    packet[10..12].fill(0);
    let csum = vrrp_agent::packet::internet_checksum(&packet[..ihl.min(packet.len())]);
    packet[10..12].copy_from_slice(&csum.to_be_bytes());
    packet
}

fn assert_ip_header_error(packet: &[u8], what: &str) {
    match decode_ipv4_packet(packet) {
        Err(err @ DecodeError::IpHeader { .. }) => assert_eq!(err.kind(), "ip_header"),
        other => panic!("{what}: {other:?}"),
    }
}

#[test]
fn ipv4_header_length_below_5() {
    for ihl in 0..5u8 {
        let packet = with_ip_field(v4_packet(255, &[]), 0, 0x40 | ihl);
        assert_ip_header_error(&packet, &format!("IHL {ihl}"));
    }
}

#[test]
fn ipv4_shorter_than_its_header() {
    let packet = v4_packet(255, &[]);
    for len in 0..20 {
        assert_ip_header_error(&packet[..len], &format!("{len} bytes"));
    }
}

#[test]
fn ipv4_version_other_than_4() {
    for version in [0u8, 6, 15] {
        let packet = with_ip_field(v4_packet(255, &[]), 0, (version << 4) | 5);
        assert_ip_header_error(&packet, &format!("version {version}"));
    }
}

#[test]
fn ipv4_options_are_skipped() {
    for words in 1..=10 {
        // Router Alert (RFC 2113) first, then NOPs: any option bytes work, IHL decides.
        let mut options = vec![0x94, 0x04, 0, 0];
        options.resize(words * 4, 0x01);
        let packet = v4_packet(255, &options);
        let (advert, meta) = decode_ipv4_packet(&packet).unwrap();
        assert_eq!(advert, sample_v3_v4(), "{} bytes of options", words * 4);
        assert_eq!(meta, meta_from(SRC_V4.into()));
        assert_eq!(ipv4_payload(&packet).len(), advert.encoded_len());
    }
}

#[test]
fn ipv4_total_length_beyond_the_buffer() {
    let packet = v4_packet(255, &[]);
    // Every truncation of a valid packet: the total length no longer fits.
    for len in 20..packet.len() {
        assert_ip_header_error(&packet[..len], &format!("cut to {len}"));
    }
    // Total length one more than the buffer, and total length below the header.
    let total = packet.len() as u16;
    let mut longer = packet.clone();
    longer[2..4].copy_from_slice(&(total + 1).to_be_bytes());
    assert_ip_header_error(&longer, "total length + 1");
    let mut short = packet.clone();
    short[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_ip_header_error(&short, "total length 19");
}

#[test]
fn trailing_padding_is_ignored() {
    let mut packet = v4_packet(255, &[]);
    // Ethernet pads frames to 60 bytes: this 36-byte IPv4 packet arrives with 10 more.
    assert_eq!(packet.len(), 36);
    packet.extend_from_slice(&[0xa5; 10]);
    assert_eq!(
        decode_ipv4_packet(&packet).map(|(a, _)| a),
        Ok(sample_v3_v4())
    );
}

#[test]
fn fragments_are_rejected() {
    // Flags and fragment offset live in bytes 6..8: MF set, or any non-zero offset.
    for (b6, b7) in [(0x20, 0), (0, 1), (0x1f, 0xff), (0x20, 0x10)] {
        let packet = with_ip_field(with_ip_field(v4_packet(255, &[]), 6, b6), 7, b7);
        assert_ip_header_error(&packet, &format!("flags/offset {b6:#04x}{b7:02x}"));
    }
    // Don't Fragment alone is fine.
    let packet = with_ip_field(v4_packet(255, &[]), 6, 0x40);
    assert!(decode_ipv4_packet(&packet).is_ok());
}

#[test]
fn protocol_other_than_112() {
    for protocol in [0u8, 1, 6, 17, 51, 111, 113, 255] {
        let packet = with_ip_field(v4_packet(255, &[]), 9, protocol);
        let err = decode_ipv4_packet(&packet).unwrap_err();
        assert_eq!(err, DecodeError::NotVrrp { protocol });
        assert_eq!(err.kind(), "not_vrrp");
    }
}

fn src_v4() -> IpAddr {
    SRC_V4.into()
}

fn group_v4() -> IpAddr {
    VRRP_GROUP_V4.into()
}

#[test]
fn encode_too_many_addresses() {
    let mut advert = sample_v3_v4();
    advert.addresses = (0..=255u8)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
        .collect();
    assert_eq!(
        advert.encode(src_v4(), group_v4()),
        Err(EncodeError::TooManyAddresses { count: 256 })
    );
    advert.addresses.pop();
    let vrrp = advert.encode(src_v4(), group_v4()).unwrap();
    assert_eq!(vrrp[3], 255);
    assert_eq!(Advert::decode(&vrrp, &meta_from(src_v4())).unwrap(), advert);
}

#[test]
fn encode_mixed_families() {
    let v6_addr: IpAddr = "2001:db8::1".parse::<Ipv6Addr>().unwrap().into();
    let mut advert = sample_v3_v4();
    advert.addresses.push(v6_addr);
    assert_eq!(
        advert.encode(src_v4(), group_v4()),
        Err(EncodeError::MixedFamilies {
            addr: v6_addr,
            src: src_v4()
        })
    );
    let mut advert = sample_v3_v6();
    advert.addresses.insert(0, "192.0.2.9".parse().unwrap());
    assert!(matches!(
        advert.encode(SRC_V6.into(), VRRP_GROUP_V6.into()),
        Err(EncodeError::MixedFamilies { .. })
    ));
    // The destination must be of the source's family too.
    assert_eq!(
        sample_v3_v4().encode(src_v4(), VRRP_GROUP_V6.into()),
        Err(EncodeError::MixedFamilies {
            addr: VRRP_GROUP_V6.into(),
            src: src_v4()
        })
    );
}

#[test]
fn encode_v2_over_ipv6() {
    let mut advert = sample_v2();
    advert.addresses = vec!["2001:db8::1".parse::<Ipv6Addr>().unwrap().into()];
    assert_eq!(
        advert.encode(SRC_V6.into(), VRRP_GROUP_V6.into()),
        Err(EncodeError::V2OverIpv6)
    );
}

#[test]
fn encode_v2_interval() {
    for cs in [0, 50, 150, 199, 25_600, 100_000] {
        let advert = Advert {
            interval: Centisecs(cs),
            ..sample_v2()
        };
        assert!(
            matches!(
                advert.encode(src_v4(), group_v4()),
                Err(EncodeError::Interval {
                    version: Version::V2,
                    ..
                })
            ),
            "{cs} cs"
        );
    }
    for secs in [1, 255] {
        let advert = Advert {
            interval: Centisecs::from_secs(secs),
            ..sample_v2()
        };
        assert_eq!(advert.encode(src_v4(), group_v4()).unwrap()[5], secs as u8);
    }
}

#[test]
fn encode_v3_interval() {
    for (advert, src) in [(sample_v3_v4(), src_v4()), (sample_v3_v6(), SRC_V6.into())] {
        let dst = meta_from(src).dst;
        for cs in [0, 4096, 10_000] {
            let bad = Advert {
                interval: Centisecs(cs),
                ..advert.clone()
            };
            assert!(
                matches!(
                    bad.encode(src, dst),
                    Err(EncodeError::Interval {
                        version: Version::V3,
                        ..
                    })
                ),
                "{cs} cs"
            );
        }
        for cs in [1, 4095] {
            let ok = Advert {
                interval: Centisecs(cs),
                ..advert.clone()
            };
            let vrrp = ok.encode(src, dst).unwrap();
            assert_eq!(u16::from_be_bytes([vrrp[4], vrrp[5]]), cs as u16);
        }
    }
}

#[test]
fn encode_auth_in_v3() {
    let advert = Advert {
        auth: Auth::simple("secret12"),
        ..sample_v3_v4()
    };
    assert_eq!(
        advert.encode(src_v4(), group_v4()),
        Err(EncodeError::AuthInV3)
    );
}
