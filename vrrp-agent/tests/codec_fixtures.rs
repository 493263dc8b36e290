//! Every advert keepalived sent in the captures (all of `common::CAPTURES`: 2.2.7, and 2.3.3
//! with `v3_checksum_as_v2`) decodes to the expected fields with the checksum form the capture
//! was made with, and our encoder reproduces its bytes exactly in that form: the VRRP message,
//! or for AH the whole IPv4 packet (its ICV covers it). The list is the capture folder, and the
//! captures hold nothing but adverts and takeover frames.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{
    CAPTURES, Capture, CaptureKind, Frame, MAC_A, MAC_B, captures::captures_dir, classify,
    decode_ipv4_packet, eth_src, ipv4_payload,
};
use vrrp_agent::packet::{
    Advert, AhIpv4, Auth, Centisecs, ChecksumForm, RxMeta, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_TTL,
    Version, encode_ah_packet, split_ah_packet,
};

/// What every advert of one capture must say.
struct Expected {
    version: Version,
    interval: Centisecs,
    /// For AH, the key with sequence number 0 (the number is per packet; `codec_ah.rs` checks
    /// how it counts).
    auth: Auth,
    addresses: Vec<IpAddr>,
    /// The two nodes' source addresses.
    sources: [IpAddr; 2],
    count: usize,
    /// The form of every advert's checksum (VRRPv2 and VRRPv3 over IPv6 have one form each).
    checksum: ChecksumForm,
}

fn v4(a: [u8; 4]) -> IpAddr {
    Ipv4Addr::from(a).into()
}

fn v6(s: &str) -> IpAddr {
    s.parse::<Ipv6Addr>().unwrap().into()
}

fn node_sources_v4() -> [IpAddr; 2] {
    [v4([169, 254, 192, 1]), v4([169, 254, 192, 2])]
}

/// Decodes one frame of `capture` if it is an advert, and checks that our encoder rebuilds its
/// bytes. `None` for the takeover frames (GARPs, NAs) between the adverts.
fn decode_and_rebuild(frame: &[u8], exp: &Expected, ctx: &str) -> Option<(Advert, RxMeta)> {
    let (advert, meta, original, rebuilt) = match classify(frame) {
        Frame::V4Advert { ip_packet } => {
            let (advert, meta) =
                decode_ipv4_packet(ip_packet).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let vrrp = ipv4_payload(ip_packet);
            let (_, form) =
                Advert::decode_with_form(vrrp, &meta).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(form, exp.checksum, "{ctx}: checksum form");
            assert_eq!(advert.encoded_len(), vrrp.len(), "{ctx}");
            let rebuilt = advert.encode_as(meta.src, meta.dst, exp.checksum);
            (advert, meta, vrrp, rebuilt)
        }
        Frame::V6Advert { vrrp, meta } => {
            let (advert, form) =
                Advert::decode_with_form(vrrp, &meta).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(form, exp.checksum, "{ctx}: checksum form");
            assert_eq!(advert.encoded_len(), vrrp.len(), "{ctx}");
            let rebuilt = advert.encode_as(meta.src, meta.dst, exp.checksum);
            (advert, meta, vrrp, rebuilt)
        }
        Frame::V4AhAdvert { ip_packet } => {
            let Auth::Ah { key, .. } = exp.auth else {
                panic!("{ctx}: an AH advert in a capture without AH")
            };
            let packet = split_ah_packet(ip_packet).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let advert = packet
                .decode(&key, false, true)
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let meta = *packet.meta();
            let IpAddr::V4(src) = meta.src else {
                panic!("{ctx}: AH over IPv6")
            };
            let ip = AhIpv4 {
                src,
                dst: VRRP_GROUP_V4,
                id: u16::from_be_bytes([ip_packet[4], ip_packet[5]]),
                unicast: false,
            };
            let rebuilt = encode_ah_packet(&advert, &ip);
            (advert, meta, ip_packet, rebuilt)
        }
        Frame::Arp | Frame::Icmpv6 | Frame::Other => return None,
    };
    let rebuilt = rebuilt.unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(rebuilt, original, "{ctx}: re-encoded bytes differ");
    Some((advert, meta))
}

/// Decodes every advert of `capture` and checks it against `exp`.
fn check_capture(capture: Capture, exp: &Expected) {
    let mut adverts = Vec::new();
    for (i, frame) in capture.frames().iter().enumerate() {
        let ctx = format!("{capture} frame {i}");
        let Some((advert, meta)) = decode_and_rebuild(frame, exp, &ctx) else {
            continue;
        };
        let group = match meta.src {
            IpAddr::V4(_) => IpAddr::V4(VRRP_GROUP_V4),
            IpAddr::V6(_) => IpAddr::V6(VRRP_GROUP_V6),
        };
        assert_eq!(meta.dst, group, "{ctx}");
        assert_eq!(meta.ttl, VRRP_TTL, "{ctx}");
        assert!(
            exp.sources.contains(&meta.src),
            "{ctx}: source {}",
            meta.src
        );
        assert!([MAC_A, MAC_B].contains(&eth_src(frame)), "{ctx}");
        assert_eq!(advert.version, exp.version, "{ctx}");
        assert_eq!(advert.vrid, 1, "{ctx}");
        assert!(
            [50, 0].contains(&advert.priority),
            "{ctx}: {}",
            advert.priority
        );
        assert_eq!(advert.interval, exp.interval, "{ctx}");
        assert_eq!(advert.addresses, exp.addresses, "{ctx}");
        let auth = match advert.auth {
            Auth::Ah { key, .. } => Auth::Ah { key, seq: 0 },
            other => other,
        };
        assert_eq!(auth, exp.auth, "{ctx}");
        adverts.push((advert, meta.src));
    }
    assert_eq!(adverts.len(), exp.count, "{capture}: adverts");
    // Each node stopped once with a priority-0 advert: exactly two, one per source.
    let mut zero_sources: Vec<_> = adverts
        .iter()
        .filter(|(a, _)| a.priority == 0)
        .map(|(_, src)| *src)
        .collect();
    zero_sources.sort();
    let mut sources = exp.sources;
    sources.sort();
    assert_eq!(zero_sources, sources, "{capture}: priority-0 adverts");
}

/// What each capture of the list must hold (the README beside the captures says how they were
/// made). A capture added to the list without expectations fails here.
fn expected(capture: Capture) -> Expected {
    match capture.name {
        "v2-pass" => Expected {
            version: Version::V2,
            interval: Centisecs::from_secs(1),
            auth: Auth::Simple(*b"secret12"),
            addresses: vec![v4([169, 254, 0, 1])],
            sources: node_sources_v4(),
            count: 11,
            checksum: ChecksumForm::MessageOnly,
        },
        "v3-ipv4" => Expected {
            version: Version::V3,
            interval: Centisecs(100),
            auth: Auth::None,
            addresses: vec![v4([169, 254, 0, 1])],
            sources: node_sources_v4(),
            count: 11,
            // keepalived's default (RFC 5798 as it reads it).
            checksum: ChecksumForm::WithPseudoHeader,
        },
        // v3-ipv4 with `v3_checksum_as_v2` (keepalived 2.3.3): RFC 9568's form.
        "v3-rfc9568" => Expected {
            version: Version::V3,
            interval: Centisecs(100),
            auth: Auth::None,
            addresses: vec![v4([169, 254, 0, 1])],
            sources: node_sources_v4(),
            count: 13,
            checksum: ChecksumForm::MessageOnly,
        },
        "v3-ipv6" => Expected {
            version: Version::V3,
            interval: Centisecs(100),
            auth: Auth::None,
            addresses: vec![v6("fd00:1::100")],
            sources: [
                v6("fe80::f816:3eff:fe84:247f"),
                v6("fe80::f816:3eff:fe09:29d4"),
            ],
            count: 11,
            checksum: ChecksumForm::WithPseudoHeader,
        },
        "v3-cs" => Expected {
            version: Version::V3,
            interval: Centisecs(5),
            auth: Auth::None,
            addresses: vec![v4([169, 254, 0, 1])],
            sources: node_sources_v4(),
            count: 237,
            checksum: ChecksumForm::WithPseudoHeader,
        },
        "v2-ah" => Expected {
            version: Version::V2,
            interval: Centisecs::from_secs(1),
            auth: Auth::Ah {
                key: *b"secret12",
                seq: 0,
            },
            addresses: vec![v4([169, 254, 0, 1])],
            sources: node_sources_v4(),
            count: 15,
            checksum: ChecksumForm::MessageOnly,
        },
        other => panic!("no expectations for capture `{other}`"),
    }
}

#[test]
fn every_capture_decodes_to_its_expected_fields_and_re_encodes() {
    for capture in CAPTURES {
        check_capture(capture, &expected(capture));
    }
}

/// The list's `v3_checksum_as_v2` says which VRRPv3-over-IPv4 captures have RFC 9568's form
/// (tests choose the form to rebuild or forge adverts in by it), and at least one has each.
#[test]
fn the_list_says_which_captures_have_the_message_only_checksum() {
    let mut forms = Vec::new();
    for capture in CAPTURES
        .into_iter()
        .filter(|c| c.kind == CaptureKind::V3Ipv4)
    {
        let want = if capture.v3_checksum_as_v2 {
            ChecksumForm::MessageOnly
        } else {
            ChecksumForm::WithPseudoHeader
        };
        assert_eq!(expected(capture).checksum, want, "{capture}");
        forms.push(want);
    }
    for form in [ChecksumForm::WithPseudoHeader, ChecksumForm::MessageOnly] {
        assert!(
            forms.contains(&form),
            "no VRRPv3 IPv4 capture with {form:?}"
        );
    }
    for capture in CAPTURES
        .into_iter()
        .filter(|c| c.kind != CaptureKind::V3Ipv4)
    {
        assert!(
            !capture.v3_checksum_as_v2,
            "{capture}: not VRRPv3 over IPv4"
        );
    }
}

/// The list is the folder: every `.pcap` there is in it, and nothing else.
#[test]
fn the_list_of_captures_is_the_folder() {
    let mut in_folder: Vec<String> = std::fs::read_dir(captures_dir())
        .expect("the captures folder")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".pcap"))
        .collect();
    in_folder.sort();
    let mut listed: Vec<String> = CAPTURES
        .iter()
        .map(common::captures::Capture::pcap_file)
        .collect();
    listed.sort();
    assert_eq!(listed, in_folder);
}

/// The captures hold adverts, ARP and ICMPv6 only: nothing was skipped unnoticed.
#[test]
fn captures_hold_nothing_else() {
    for capture in CAPTURES {
        for (i, frame) in capture.frames().iter().enumerate() {
            assert!(
                !matches!(classify(frame), Frame::Other),
                "{capture} frame {i}: unexpected frame"
            );
        }
    }
}
