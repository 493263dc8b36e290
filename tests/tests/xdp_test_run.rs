//! The XDP program on crafted and captured frames via BPF_PROG_TEST_RUN: verdicts, untouched
//! bytes, and exact counter movement for every frame. Adverts (also keepalived's AH ones) pass
//! only for a configured instance (registered here on the loopback interface the test runs
//! arrive on) and with a checksum in a form of their kind (else they pass to the agent counted
//! as bad checksums); malformed frames are dropped. Needs root.

use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{FAMILY_IPV4, FAMILY_IPV6, InstanceCounter},
};
use vrrp_tests::{
    fixtures::{self, CAPTURES, CaptureKind, Kind, one_per_kind},
    frames::{self, l3_offset, vrrp_offset, with_ipv4_options, with_vlan, with_vrid},
    xdp::{Delta, LOOPBACK_IFINDEX, Xdp, assert_drop, assert_pass},
};

/// The slot this file gives the instance of (VRID, family).
fn slot_of(vrid: u8, ipv6: bool) -> u32 {
    u32::from(vrid) * 2 + u32::from(ipv6)
}

/// A private program instance with IPv4 and IPv6 instances for `vrids` on loopback.
fn load_with(vrids: impl IntoIterator<Item = u8>) -> Xdp {
    let mut xdp = Xdp::load();
    for vrid in vrids {
        xdp.instance(LOOPBACK_IFINDEX, vrid, FAMILY_IPV4, slot_of(vrid, false), 0);
        xdp.instance(LOOPBACK_IFINDEX, vrid, FAMILY_IPV6, slot_of(vrid, true), 0);
    }
    xdp
}

/// Every capture uses VRID 1.
fn load() -> Xdp {
    load_with([1])
}

fn expected_for(frame: &[u8]) -> Delta {
    match fixtures::kind(frame) {
        Kind::Advert {
            vrid,
            version,
            ipv6,
        } => Delta::advert(vrid, version, ipv6)
            .slot(slot_of(vrid, ipv6), InstanceCounter::AdvertsPassed),
        Kind::Other => Delta::frame(Stat::NotVrrp),
    }
}

#[test]
fn every_captured_frame_passes_and_is_counted_by_kind() {
    let dp = load();
    for capture in CAPTURES {
        let frames = capture.frames();
        let adverts = frames
            .iter()
            .filter(|f| matches!(fixtures::kind(f), Kind::Advert { .. }))
            .count();
        assert!(
            adverts >= 10,
            "{capture}: expected keepalived adverts in the capture"
        );
        for (i, frame) in frames.iter().enumerate() {
            assert_pass(
                &dp,
                frame,
                expected_for(frame),
                &format!("{capture} frame {i}"),
            );
        }
    }
    // Totals over the whole run, as an end-to-end cross-check of the per-frame deltas.
    let all: Vec<Vec<u8>> = CAPTURES
        .iter()
        .flat_map(vrrp_tests::fixtures::Capture::frames)
        .collect();
    let snap = dp.counters();
    assert_eq!(snap.stat(Stat::Frames), all.len() as u64);
    assert_eq!(snap.malformed(), 0);
    let adverts_of = |version: u8, ipv6: bool| -> u64 {
        CAPTURES
            .iter()
            .filter(|c| (c.kind.version(), c.kind.ipv6()) == (version, ipv6))
            .map(|c| fixtures::adverts(c.name).len() as u64)
            .sum()
    };
    let (v2, v3v4, v3v6) = (
        adverts_of(2, false),
        adverts_of(3, false),
        adverts_of(3, true),
    );
    use vrrp_ebpf_common::counters::Family;
    assert_eq!(snap.adverts(1, 2, Family::Ipv4), v2);
    assert_eq!(snap.adverts(1, 3, Family::Ipv4), v3v4);
    assert_eq!(snap.adverts(1, 3, Family::Ipv6), v3v6);
    assert_eq!(snap.stat(Stat::Adverts), v2 + v3v4 + v3v6);
    let per_slot = |ipv6| {
        dp.dp.instance_counters(slot_of(1, ipv6)).unwrap()[InstanceCounter::AdvertsPassed as usize]
    };
    assert_eq!(per_slot(false), v2 + v3v4);
    assert_eq!(per_slot(true), v3v6);
}

#[test]
fn adverts_for_a_vrid_without_instance_are_dropped_and_counted() {
    let dp = load();
    for capture in one_per_kind() {
        let advert = fixtures::first_advert(capture.name);
        for vrid in [0u8, 2, 255] {
            assert_drop(
                &dp,
                &with_vrid(&advert, vrid),
                Delta::frame(Stat::AdvertUnknownInstance),
                &format!("{capture} vrid {vrid}"),
            );
        }
        // The configured VRID still passes.
        assert_pass(&dp, &advert, expected_for(&advert), capture.name);
    }
    // An IPv4 instance does not admit IPv6 adverts of the same VRID, and vice versa.
    let mut v4_only = Xdp::load();
    v4_only.instance(LOOPBACK_IFINDEX, 1, FAMILY_IPV4, 9, 0);
    let v6 = fixtures::first_advert("v3-ipv6");
    assert_drop(
        &v4_only,
        &v6,
        Delta::frame(Stat::AdvertUnknownInstance),
        "IPv6 advert, IPv4 instance",
    );
    let v4 = fixtures::first_advert("v3-ipv4");
    assert_pass(
        &v4_only,
        &v4,
        Delta::advert(1, 3, false).slot(9, InstanceCounter::AdvertsPassed),
        "IPv4 advert, IPv4 instance",
    );
}

#[test]
fn vlan_tagged_adverts_count_like_untagged_ones() {
    let dp = load();
    for capture in CAPTURES {
        let advert = fixtures::first_advert(capture.name);
        for tpid in [0x8100, 0x88a8] {
            let tagged = with_vlan(&advert, tpid, 42);
            assert_pass(
                &dp,
                &tagged,
                expected_for(&advert),
                &format!("{capture} tagged {tpid:#06x}"),
            );
        }
    }
}

#[test]
fn ipv4_header_options_are_skipped_by_ihl() {
    let dp = load();
    // Router Alert (4 bytes), then NOP padding up to the 40-byte maximum.
    let mut options = vec![0x94, 0x04, 0x00, 0x00];
    // IPv4 options: one advert of each IPv4 kind (AH included).
    for capture in one_per_kind().into_iter().filter(|c| !c.kind.ipv6()) {
        let advert = fixtures::first_advert(capture.name);
        // The VRRP message follows the options, and in AH adverts the 24-byte AH header.
        let ah_len = if capture.kind.ah() { 24 } else { 0 };
        for extra in (0..=36).step_by(4) {
            options.resize(4 + extra, 0x01);
            let framed = with_ipv4_options(&advert, &options);
            assert_eq!(vrrp_offset(&framed), 14 + 20 + options.len() + ah_len);
            assert_pass(
                &dp,
                &framed,
                expected_for(&advert),
                &format!("{capture} with {} option bytes", options.len()),
            );
            let tagged = with_vlan(&framed, 0x8100, 7);
            assert_pass(
                &dp,
                &tagged,
                expected_for(&advert),
                &format!("{capture} tagged, {} option bytes", options.len()),
            );
        }
        options.truncate(4);
    }
}

#[test]
fn each_vrid_has_its_own_counter() {
    let dp = load_with(0..=255);
    let kinds = one_per_kind();
    for capture in &kinds {
        let advert = fixtures::first_advert(capture.name);
        for vrid in 0..=255u8 {
            let frame = with_vrid(&advert, vrid);
            assert_pass(
                &dp,
                &frame,
                expected_for(&frame),
                &format!("{capture} vrid {vrid}"),
            );
        }
    }
    let snap = dp.counters();
    assert_eq!(
        snap.adverts.len(),
        3 * 256,
        "one slot per (vrid, version, family)"
    );
    // One advert per kind and VRID: v2 over IPv4 twice (password and AH), the others once.
    let sent = |version: Option<u8>, ipv6: bool| -> u64 {
        kinds
            .iter()
            .filter(|c| version.is_none_or(|v| v == c.kind.version()) && c.kind.ipv6() == ipv6)
            .count() as u64
    };
    for a in &snap.adverts {
        assert_eq!(
            a.count,
            sent(Some(a.version), a.family == "ipv6"),
            "vrid {} v{} {}",
            a.vrid,
            a.version,
            a.family
        );
    }
    for vrid in 0..=255u8 {
        for ipv6 in [false, true] {
            let passed = dp.dp.instance_counters(slot_of(vrid, ipv6)).unwrap()
                [InstanceCounter::AdvertsPassed as usize];
            assert_eq!(passed, sent(None, ipv6), "vrid {vrid} ipv6 {ipv6}");
        }
    }
}

/// The malformed kind a truncated copy of `full` must be counted as. Truncation always cuts
/// into the IP packet, whose length field then claims more than the frame holds.
fn truncated_kind(full: &[u8], len: usize) -> Stat {
    let l3 = l3_offset(full);
    if len < l3 {
        Stat::MalformedL2
    } else {
        Stat::MalformedL3
    }
}

#[test]
fn adverts_truncated_at_every_length_are_malformed_dropped_and_never_counted_as_adverts() {
    let dp = load();
    let mut variants = Vec::new();
    for capture in one_per_kind() {
        let advert = fixtures::first_advert(capture.name);
        variants.push((format!("{capture} tagged"), with_vlan(&advert, 0x8100, 3)));
        variants.push((capture.to_string(), advert));
    }
    let v2 = fixtures::first_advert("v2-pass");
    variants.push(("v2 with options".into(), with_ipv4_options(&v2, &[1; 12])));
    for (name, full) in &variants {
        for len in 0..full.len() {
            let cut = &full[..len];
            if len < frames::ETH_HLEN {
                // No device delivers frames shorter than an Ethernet header to XDP, and the
                // kernel refuses them as test input too.
                assert!(
                    dp.test_run(cut, 1).is_err(),
                    "{name}: the kernel accepted a {len}-byte frame"
                );
                continue;
            }
            assert_drop(
                &dp,
                cut,
                Delta::frame(truncated_kind(full, len)),
                &format!("{name} cut to {len} of {} bytes", full.len()),
            );
        }
    }
}

/// Sets the IPv4 total length / IPv6 payload length of an advert to `vrrp_len` bytes of VRRP
/// and cuts the frame to match.
fn with_vrrp_len(frame: &[u8], vrrp_len: usize) -> Vec<u8> {
    let l3 = l3_offset(frame);
    let off = vrrp_offset(frame);
    let mut out = frame[..off + vrrp_len].to_vec();
    if out[l3] >> 4 == 4 {
        let tot = (off - l3 + vrrp_len) as u16;
        out[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
        frames::fix_ipv4_checksum(&mut out, l3);
    } else {
        out[l3 + 4..l3 + 6].copy_from_slice(&(vrrp_len as u16).to_be_bytes());
    }
    out
}

/// Malformed plain adverts (v2 with a password, v3 over IPv4 and IPv6). AH adverts carry the
/// same VRRP message behind 24 more bytes: `malformed_ah_adverts_are_dropped_and_counted_by_kind`
/// covers them, with the AH header's own faults.
#[test]
fn malformed_vrrp_is_dropped_and_counted_by_kind() {
    let dp = load();
    let v2 = fixtures::first_advert("v2-pass");
    let v3 = fixtures::first_advert("v3-ipv4");
    let v6 = fixtures::first_advert("v3-ipv6");
    let mut cases: Vec<(String, Vec<u8>, Stat)> = Vec::new();

    // IP says the VRRP packet is shorter than its 8-byte header.
    for (name, f) in [("v2", &v2), ("v3", &v3), ("v6", &v6)] {
        for len in 0..8 {
            cases.push((
                format!("{name}: {len}-byte VRRP"),
                with_vrrp_len(f, len),
                Stat::MalformedVrrpTruncated,
            ));
        }
    }
    // Version and type.
    for (name, f) in [("v2", &v2), ("v3", &v3), ("v6", &v6)] {
        for version in [0u8, 1, 4, 15] {
            let mut bad = f.clone();
            let o = vrrp_offset(&bad);
            bad[o] = (version << 4) | 1;
            cases.push((
                format!("{name}: version {version}"),
                bad,
                Stat::MalformedVrrpVersion,
            ));
        }
        for ty in [0u8, 2, 15] {
            let mut bad = f.clone();
            let o = vrrp_offset(&bad);
            bad[o] = (bad[o] & 0xf0) | ty;
            cases.push((
                format!("{name}: type {ty}"),
                bad,
                Stat::MalformedVrrpVersion,
            ));
        }
    }
    // VRRPv2 exists only for IPv4.
    let mut v2_over_v6 = v6.clone();
    let o = vrrp_offset(&v2_over_v6);
    v2_over_v6[o] = 0x21;
    cases.push((
        "v2 over IPv6".into(),
        v2_over_v6,
        Stat::MalformedVrrpVersion,
    ));
    // Address count larger than the packet; v2 without room for its auth data.
    for (name, f) in [("v2", &v2), ("v3", &v3), ("v6", &v6)] {
        let mut bad = f.clone();
        let o = vrrp_offset(&bad);
        bad[o + 3] += 1;
        cases.push((
            format!("{name}: one address more than carried"),
            bad,
            Stat::MalformedVrrpLength,
        ));
    }
    let v2_len = v2.len() - vrrp_offset(&v2);
    cases.push((
        "v2 without auth data".into(),
        with_vrrp_len(&v2, v2_len - 8),
        Stat::MalformedVrrpLength,
    ));
    // Fragments: more-fragments flag, or a non-zero offset.
    for (flags, what) in [
        (0x2000u16, "MF set"),
        (0x0001, "offset 8"),
        (0x3fff, "MF + max offset"),
    ] {
        let mut frag = v3.clone();
        frag[14 + 6..14 + 8].copy_from_slice(&flags.to_be_bytes());
        frames::fix_ipv4_checksum(&mut frag, 14);
        cases.push((
            format!("fragment: {what}"),
            frag,
            Stat::MalformedVrrpFragment,
        ));
    }
    // The don't-fragment flag alone is fine.
    let mut df = v3.clone();
    df[14 + 6] = 0x40;
    frames::fix_ipv4_checksum(&mut df, 14);
    assert_pass(&dp, &df, expected_for(&df), "DF set");
    // Broken IP headers.
    for ihl in 0..5u8 {
        let mut bad = v3.clone();
        bad[14] = 0x40 | ihl;
        cases.push((format!("IPv4 IHL {ihl}"), bad, Stat::MalformedL3));
    }
    let mut wrong_version = v3.clone();
    wrong_version[14] = 0x65;
    cases.push((
        "IPv4 ethertype, version 6".into(),
        wrong_version,
        Stat::MalformedL3,
    ));
    let mut wrong_version6 = v6.clone();
    wrong_version6[14] = 0x40 | (wrong_version6[14] & 0x0f);
    cases.push((
        "IPv6 ethertype, version 4".into(),
        wrong_version6,
        Stat::MalformedL3,
    ));
    let mut short_total = v3.clone();
    short_total[14 + 2..14 + 4].copy_from_slice(&19u16.to_be_bytes());
    cases.push((
        "IPv4 total length < IHL".into(),
        short_total,
        Stat::MalformedL3,
    ));
    let mut long_total = v3.clone();
    long_total[14 + 2..14 + 4].copy_from_slice(&1500u16.to_be_bytes());
    cases.push((
        "IPv4 total length > frame".into(),
        long_total,
        Stat::MalformedL3,
    ));
    let mut long_payload = v6.clone();
    long_payload[14 + 4..14 + 6].copy_from_slice(&1000u16.to_be_bytes());
    cases.push((
        "IPv6 payload length > frame".into(),
        long_payload,
        Stat::MalformedL3,
    ));
    // A tag announced but cut off.
    let tagged = with_vlan(&v3, 0x8100, 1);
    cases.push((
        "VLAN tag cut".into(),
        tagged[..16].to_vec(),
        Stat::MalformedL2,
    ));

    for (what, frame, kind) in &cases {
        assert_drop(&dp, frame, Delta::frame(*kind), what);
    }
}

#[test]
fn adverts_with_trailing_padding_are_fine() {
    // Ethernet pads short frames to 60 bytes; the IP length, not the frame, bounds the packet.
    let dp = load();
    for capture in one_per_kind() {
        let mut padded = fixtures::first_advert(capture.name);
        padded.resize(padded.len().max(60) + 8, 0);
        assert_pass(
            &dp,
            &padded,
            expected_for(&padded),
            &format!("{capture} padded"),
        );
    }
}

#[test]
fn non_vrrp_traffic_passes_and_is_counted_as_such() {
    let dp = load();
    for (name, frame) in frames::non_vrrp_frames() {
        assert_eq!(
            fixtures::kind(&frame),
            Kind::Other,
            "{name}: test frame is not VRRP"
        );
        assert_pass(&dp, &frame, Delta::frame(Stat::NotVrrp), name);
    }
}

/// keepalived's `auth_type AH` (capture `v2-ah`): VRRPv2 in an IPsec AH header, IPv4
/// protocol 51 with next header 112. The program checks these adverts like any other (a
/// configured instance, TTL 255) and passes them untouched, counted as VRRPv2 adverts of their
/// instance; it has no key, so it leaves the ICV to the agent (a wrong one passes too).
#[test]
fn ah_adverts_are_checked_like_adverts_and_passed_for_the_agent_to_authenticate() {
    let dp = load();
    let ah = fixtures::first_advert("v2-ah");
    let l3 = l3_offset(&ah);
    assert_eq!((ah[l3 + 9], ah[l3 + 20]), (51, 112), "AH carrying VRRP");
    assert_eq!(
        expected_for(&ah),
        Delta::advert(1, 2, false).slot(slot_of(1, false), InstanceCounter::AdvertsPassed)
    );
    assert_pass(&dp, &ah, expected_for(&ah), "AH advert");
    let mut wrong_icv = ah.clone();
    wrong_icv[l3 + 20 + 12] ^= 0xff;
    assert_pass(&dp, &wrong_icv, expected_for(&ah), "AH advert, wrong ICV");
    assert_pass(
        &dp,
        &with_vlan(&ah, 0x8100, 5),
        expected_for(&ah),
        "AH advert, tagged",
    );
    for vrid in [0u8, 2, 255] {
        assert_drop(
            &dp,
            &with_vrid(&ah, vrid),
            Delta::frame(Stat::AdvertUnknownInstance),
            &format!("AH advert for vrid {vrid}"),
        );
    }
    let mut ttl = ah.clone();
    ttl[l3 + 8] = 64;
    frames::fix_ipv4_checksum(&mut ttl, l3);
    assert_drop(
        &dp,
        &ttl,
        Delta::frame(Stat::AdvertBadTtl).slot(slot_of(1, false), InstanceCounter::AdvertsBadTtl),
        "AH advert with TTL 64",
    );
}

/// AH protecting another protocol (real IPsec), or a later fragment of an AH packet, is not
/// an advert: it goes to the kernel untouched, counted as such.
#[test]
fn ah_for_anything_else_is_not_an_advert() {
    let dp = load();
    let ah = fixtures::first_advert("v2-ah");
    let l3 = l3_offset(&ah);
    for next in [6u8, 17, 50, 4] {
        let mut other = ah.clone();
        other[l3 + 20] = next;
        assert_eq!(fixtures::kind(&other), Kind::Other);
        assert_pass(
            &dp,
            &other,
            Delta::frame(Stat::NotVrrp),
            &format!("AH around protocol {next}"),
        );
    }
    let mut later_fragment = ah.clone();
    later_fragment[l3 + 6..l3 + 8].copy_from_slice(&0x0003u16.to_be_bytes());
    frames::fix_ipv4_checksum(&mut later_fragment, l3);
    assert_pass(
        &dp,
        &later_fragment,
        Delta::frame(Stat::NotVrrp),
        "a later fragment of an AH packet",
    );
}

/// Sets the IPv4 total length of an AH frame to its header plus `payload` bytes (AH and VRRP)
/// and cuts the frame to match.
fn with_ah_payload_len(frame: &[u8], payload: usize) -> Vec<u8> {
    let l3 = l3_offset(frame);
    let ihl = usize::from(frame[l3] & 0x0f) * 4;
    let mut out = frame[..l3 + ihl + payload].to_vec();
    out[l3 + 2..l3 + 4].copy_from_slice(&((ihl + payload) as u16).to_be_bytes());
    frames::fix_ipv4_checksum(&mut out, l3);
    out
}

#[test]
fn malformed_ah_adverts_are_dropped_and_counted_by_kind() {
    let dp = load();
    let ah = fixtures::first_advert("v2-ah");
    let l3 = l3_offset(&ah);
    let vrrp = vrrp_offset(&ah);
    let mut cases: Vec<(String, Vec<u8>, Stat)> = Vec::new();
    // Room for the first AH bytes (next header 112), not for the 24-byte header.
    for payload in [2, 12, 23] {
        cases.push((
            format!("{payload} bytes of AH"),
            with_ah_payload_len(&ah, payload),
            Stat::MalformedVrrpTruncated,
        ));
    }
    // The AH header, then less than the VRRP header.
    for vrrp_len in [0, 7] {
        cases.push((
            format!("AH and {vrrp_len} bytes of VRRP"),
            with_ah_payload_len(&ah, 24 + vrrp_len),
            Stat::MalformedVrrpTruncated,
        ));
    }
    // Another ICV length than keepalived's 96 bits.
    let mut long_icv = ah.clone();
    long_icv[l3 + 21] = 5;
    cases.push((
        "AH payload length 5".into(),
        long_icv,
        Stat::MalformedVrrpLength,
    ));
    // The VRRP message inside: one address more than carried; version 3 is fine structurally
    // (the agent refuses it), version 1 is not.
    let mut count = ah.clone();
    count[vrrp + 3] += 1;
    cases.push(("one address more".into(), count, Stat::MalformedVrrpLength));
    let mut version = ah.clone();
    version[vrrp] = 0x11;
    cases.push(("VRRP version 1".into(), version, Stat::MalformedVrrpVersion));
    // A first fragment: AH carrying VRRP never fragments.
    let mut fragment = ah.clone();
    fragment[l3 + 6..l3 + 8].copy_from_slice(&0x2000u16.to_be_bytes());
    frames::fix_ipv4_checksum(&mut fragment, l3);
    cases.push((
        "first fragment".into(),
        fragment,
        Stat::MalformedVrrpFragment,
    ));
    for (what, frame, kind) in &cases {
        assert_drop(&dp, frame, Delta::frame(*kind), what);
    }
}

/// `frame` (an advert) with its VRRP checksum recomputed over the VRRP message only: RFC
/// 9568's form for VRRPv3 over IPv4.
fn with_message_only_checksum(frame: &[u8]) -> Vec<u8> {
    let mut out = frame.to_vec();
    let l3 = l3_offset(frame);
    let at = vrrp_offset(frame);
    let field = |i: usize| usize::from(u16::from_be_bytes([frame[i], frame[i + 1]]));
    let end = match frame[l3] >> 4 {
        4 => l3 + field(l3 + 2),
        _ => l3 + 40 + field(l3 + 4),
    };
    out[at + 6..at + 8].copy_from_slice(&[0, 0]);
    let csum = vrrp_agent::packet::internet_checksum(&out[at..end]);
    out[at + 6..at + 8].copy_from_slice(&csum.to_be_bytes());
    out
}

/// RFC 9568 §5.2.8 in the program: a VRRPv3-over-IPv4 advert passes in either checksum form
/// (keepalived's captures have the pseudo-header form; here also RFC 9568's); an advert whose
/// checksum matches no form of its kind passes for the agent to refuse and log, counted as
/// `advert_bad_checksum`, never as an advert.
#[test]
fn checksums_are_verified_in_every_form_of_each_kind() {
    let dp = load();
    for capture in one_per_kind() {
        let advert = fixtures::first_advert(capture.name);
        let ipv6 = capture.kind.ipv6();
        let bad = Delta::frame(Stat::AdvertBadChecksum)
            .slot(slot_of(1, ipv6), InstanceCounter::AdvertsBadChecksum);
        // One flipped bit in the checksum field: no form matches.
        let mut flipped = advert.clone();
        flipped[vrrp_offset(&advert) + 7] ^= 0x10;
        assert_pass(&dp, &flipped, bad.clone(), &format!("{capture}: flipped"));
        let message_only = with_message_only_checksum(&advert);
        let expected = match capture.kind {
            // VRRPv2's one form is the message-only one: nothing changed.
            CaptureKind::V2Pass | CaptureKind::V2Ah => expected_for(&advert),
            CaptureKind::V3Ipv4 => expected_for(&advert),
            // IPv6 always includes the pseudo-header.
            CaptureKind::V3Ipv6 => bad,
        };
        assert_pass(
            &dp,
            &message_only,
            expected,
            &format!("{capture}: message-only checksum"),
        );
    }
}

/// An advert longer than the program verifies passes unverified, under its own counter.
#[test]
fn adverts_too_long_to_verify_pass_unverified() {
    use vrrp_agent::packet::{Advert, Auth, Centisecs, Version};
    let dp = load();
    let src: std::net::Ipv6Addr = "fe80::1".parse().unwrap();
    let dst = vrrp_agent::packet::VRRP_GROUP_V6;
    let addresses: Vec<std::net::IpAddr> = (0..65u16)
        .map(|i| std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i + 1).into())
        .collect();
    let vrrp = Advert {
        version: Version::V3,
        vrid: 1,
        priority: 100,
        interval: Centisecs(100),
        addresses,
        auth: Auth::None,
    }
    .encode(src.into(), dst.into())
    .unwrap();
    assert!(vrrp.len() > vrrp_ebpf_common::proto::MAX_VERIFIED_VRRP_LEN);
    let mut frame = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [0x33, 0x33, 0, 0, 0, 0x12])
        .ipv6(src.octets(), dst.octets(), 255)
        .write(&mut frame, etherparse::IpNumber(112), &vrrp)
        .unwrap();
    assert_pass(
        &dp,
        &frame,
        Delta::frame(Stat::AdvertUnverified)
            .slot(slot_of(1, true), InstanceCounter::AdvertsUnverified),
        "65 IPv6 addresses",
    );
}
