//! Every verdict of the XDP data plane via BPF_PROG_TEST_RUN: advert checks, VIP ownership
//! (IPv4, IPv6, ARP, neighbour solicitations, leases against the kernel's monotonic clock),
//! the floating-IP fast path inbound and outbound in a router namespace (only where the agent
//! marked it eligible, only to devices that take XDP frames), every case left to the kernel
//! untouched, routed traffic through gateways (fenced when not owned), and router isolation
//! over shared maps. Each run asserts the action, the
//! exact output bytes (expected frames built from scratch by etherparse; checksums also
//! re-verified by a full computation) and the exact counter movement. Needs root.

use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{
        FAMILY_IPV4, FAMILY_IPV6, INSTANCE_FLAG_ALLOWLIST, INSTANCE_FLAG_UNICAST_ANY_TTL,
        InstanceCounter as C, PORT_FLAG_ROUTE_IN, PORT_FLAG_ROUTE_OUT, VIP_KIND_KERNEL,
        VIP_KIND_VIRTUAL, addr_v4,
    },
};
use vrrp_tests::{
    checksum::{l4_checksum, verify_ipv4_frame},
    fixtures,
    flows::{ALL_L4, Flow, L4, arp, fragment, neighbour_solicitation, udp6},
    frames::{fix_ipv4_checksum, with_ipv4_options, with_vlan, with_vrid},
    pinned,
    router_ns::{
        CLIENT, GATEWAY_MAC, RouterNs, SENDER_MAC, UNRESOLVED_NET_HOST, VM, VM_MAC, VM_UNRESOLVED,
        VM2,
    },
    xdp::{
        Delta, LOOPBACK_IFINDEX, XDP_PASS, XDP_REDIRECT, Xdp, assert_drop, assert_pass,
        monotonic_ns,
    },
};

// ---------------------------------------------------------------------------------------
// Helpers

/// Asserts that two frames are equal, naming the first differing byte.
#[track_caller]
fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: output differs at byte {at} (got {} bytes, want {})\n got: {:02x?}\nwant: {:02x?}",
            got.len(),
            want.len(),
            got,
            want
        );
    }
}

/// Runs `input`, asserts the action, the exact output bytes and counter movement.
#[track_caller]
fn assert_rewritten(
    xdp: &Xdp,
    input: &[u8],
    action: u32,
    want: &[u8],
    delta: Delta,
    what: &str,
) -> Vec<u8> {
    let seen = xdp.run(input);
    assert_eq!(seen.action, action, "{what}: verdict");
    assert_bytes(&seen.data_out, want, what);
    assert_eq!(seen.delta, delta, "{what}: counter movement");
    seen.data_out
}

/// Sets the IPv4 TTL / IPv6 hop limit of an untagged frame (fixing the IPv4 checksum).
fn with_ttl(frame: &[u8], ttl: u8) -> Vec<u8> {
    let mut out = frame.to_vec();
    if out[14] >> 4 == 4 {
        out[14 + 8] = ttl;
        fix_ipv4_checksum(&mut out, 14);
    } else {
        out[14 + 7] = ttl;
    }
    out
}

/// The source address of an untagged IP frame, as stored in keys.
fn source(frame: &[u8]) -> [u8; 16] {
    if frame[14] >> 4 == 4 {
        addr_v4(frame[26..30].try_into().unwrap())
    } else {
        frame[22..38].try_into().unwrap()
    }
}

/// Replaces the source address of an untagged IP frame (fixing the IPv4 checksum).
fn with_source(frame: &[u8], addr: [u8; 16]) -> Vec<u8> {
    let mut out = frame.to_vec();
    if out[14] >> 4 == 4 {
        out[26..30].copy_from_slice(&addr[..4]);
        fix_ipv4_checksum(&mut out, 14);
    } else {
        out[22..38].copy_from_slice(&addr);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Program size

#[test]
fn the_program_stays_well_under_the_verifier_limits() {
    let xdp = Xdp::load();
    let size = xdp.dp.program_size().expect("program info");
    println!("program size: {size:?}");
    let verified = size
        .verified_insns
        .expect("kernel reports verified instructions");
    let xlated = size
        .xlated_insns
        .expect("kernel reports the translated length");
    // The verifier's budget is 1,000,000 processed instructions; stay under a tenth of it.
    assert!(verified < 100_000, "{verified} instructions verified");
    // Fits even the old 4096-instruction limit for a single program.
    assert!(xlated < 4096, "{xlated} instructions after verification");
}

// ---------------------------------------------------------------------------------------
// Adverts

const V4_SLOT: u32 = 1;
const V6_SLOT: u32 = 2;
const GUARDED_SLOT: u32 = 3;

/// Router 0 on loopback: VRID 1 for IPv4 (open) and IPv6 (allow-list with the capture's
/// sender), VRID 2 for IPv4 with an empty allow-list.
fn advert_router() -> (Xdp, Vec<u8>, Vec<u8>) {
    let v4 = fixtures::first_advert("v3-ipv4");
    let v6 = fixtures::first_advert("v3-ipv6");
    let mut xdp = Xdp::load();
    xdp.instance(LOOPBACK_IFINDEX, 1, FAMILY_IPV4, V4_SLOT, 0);
    xdp.instance(
        LOOPBACK_IFINDEX,
        1,
        FAMILY_IPV6,
        V6_SLOT,
        INSTANCE_FLAG_ALLOWLIST,
    );
    xdp.peer(V6_SLOT, FAMILY_IPV6, source(&v6));
    xdp.instance(
        LOOPBACK_IFINDEX,
        2,
        FAMILY_IPV4,
        GUARDED_SLOT,
        INSTANCE_FLAG_ALLOWLIST,
    );
    (xdp, v4, v6)
}

#[test]
fn valid_adverts_of_configured_instances_pass() {
    let (xdp, v4, v6) = advert_router();
    assert_eq!(v4[14 + 8], 255, "keepalived sends TTL 255");
    assert_pass(
        &xdp,
        &v4,
        Delta::advert(1, 3, false).slot(V4_SLOT, C::AdvertsPassed),
        "IPv4, no allow-list",
    );
    let v2 = fixtures::first_advert("v2-pass");
    assert_pass(
        &xdp,
        &v2,
        Delta::advert(1, 2, false).slot(V4_SLOT, C::AdvertsPassed),
        "VRRPv2 on the same instance",
    );
    assert_pass(
        &xdp,
        &v6,
        Delta::advert(1, 3, true).slot(V6_SLOT, C::AdvertsPassed),
        "IPv6 from an allowed peer",
    );
}

#[test]
fn adverts_with_a_ttl_other_than_255_are_dropped() {
    let (xdp, v4, v6) = advert_router();
    for ttl in [0u8, 1, 64, 254] {
        assert_drop(
            &xdp,
            &with_ttl(&v4, ttl),
            Delta::frame(Stat::AdvertBadTtl).slot(V4_SLOT, C::AdvertsBadTtl),
            &format!("IPv4 TTL {ttl}"),
        );
        assert_drop(
            &xdp,
            &with_ttl(&v6, ttl),
            Delta::frame(Stat::AdvertBadTtl).slot(V6_SLOT, C::AdvertsBadTtl),
            &format!("IPv6 hop limit {ttl}"),
        );
    }
    // Without an instance there is no slot to count in.
    assert_drop(
        &xdp,
        &with_vrid(&with_ttl(&v4, 1), 9),
        Delta::frame(Stat::AdvertBadTtl),
        "bad TTL, unknown VRID",
    );
}

#[test]
fn unicast_instances_accept_any_ttl_from_their_peers_only() {
    // keepalived sends IPv6 unicast adverts with hop limit 64 and does not check it on
    // unicast; a unicast instance waives the check for its configured peers, nobody else.
    let (mut xdp, _, v6) = advert_router();
    const UNICAST_SLOT: u32 = 4;
    let unicast = with_vrid(&v6, 5);
    xdp.instance(
        LOOPBACK_IFINDEX,
        5,
        FAMILY_IPV6,
        UNICAST_SLOT,
        INSTANCE_FLAG_ALLOWLIST | INSTANCE_FLAG_UNICAST_ANY_TTL,
    );
    xdp.peer(UNICAST_SLOT, FAMILY_IPV6, source(&v6));
    for ttl in [64u8, 1, 255] {
        assert_pass(
            &xdp,
            &with_ttl(&unicast, ttl),
            Delta::advert(5, 3, true).slot(UNICAST_SLOT, C::AdvertsPassed),
            &format!("peer, hop limit {ttl}"),
        );
    }
    let mut stranger = source(&v6);
    stranger[15] ^= 0x55;
    assert_drop(
        &xdp,
        &with_source(&with_ttl(&unicast, 64), stranger),
        Delta::frame(Stat::AdvertBadTtl).slot(UNICAST_SLOT, C::AdvertsBadTtl),
        "not a peer, hop limit 64",
    );
    assert_drop(
        &xdp,
        &with_source(&unicast, stranger),
        Delta::frame(Stat::AdvertSpoofed).slot(UNICAST_SLOT, C::AdvertsSpoofed),
        "not a peer, hop limit 255",
    );
    // A multicast instance with an allow-list still insists on 255 from its peers.
    assert_drop(
        &xdp,
        &with_ttl(&v6, 64),
        Delta::frame(Stat::AdvertBadTtl).slot(V6_SLOT, C::AdvertsBadTtl),
        "allow-list without unicast, hop limit 64",
    );
}

#[test]
fn adverts_for_unknown_instances_are_dropped() {
    let (xdp, v4, v6) = advert_router();
    for vrid in [0u8, 3, 200] {
        assert_drop(
            &xdp,
            &with_vrid(&v4, vrid),
            Delta::frame(Stat::AdvertUnknownInstance),
            &format!("IPv4 VRID {vrid}"),
        );
    }
    // VRID 2 exists for IPv4 only.
    assert_drop(
        &xdp,
        &with_vrid(&v6, 2),
        Delta::frame(Stat::AdvertUnknownInstance),
        "IPv6 VRID 2",
    );
}

#[test]
fn adverts_from_sources_outside_the_allow_list_are_dropped_as_spoofed() {
    let (mut xdp, v4, v6) = advert_router();
    let mut stranger6 = source(&v6);
    stranger6[15] ^= 0x55;
    assert_drop(
        &xdp,
        &with_source(&v6, stranger6),
        Delta::frame(Stat::AdvertSpoofed).slot(V6_SLOT, C::AdvertsSpoofed),
        "IPv6 from a stranger",
    );
    let guarded = with_vrid(&v4, 2);
    assert_drop(
        &xdp,
        &guarded,
        Delta::frame(Stat::AdvertSpoofed).slot(GUARDED_SLOT, C::AdvertsSpoofed),
        "IPv4, empty allow-list",
    );
    // Allowed for another slot or family does not count.
    xdp.peer(V4_SLOT, FAMILY_IPV4, source(&v4));
    xdp.peer(GUARDED_SLOT, FAMILY_IPV6, source(&v4));
    assert_drop(
        &xdp,
        &guarded,
        Delta::frame(Stat::AdvertSpoofed).slot(GUARDED_SLOT, C::AdvertsSpoofed),
        "IPv4, peer allowed elsewhere",
    );
    xdp.peer(GUARDED_SLOT, FAMILY_IPV4, source(&v4));
    assert_pass(
        &xdp,
        &guarded,
        Delta::advert(2, 3, false).slot(GUARDED_SLOT, C::AdvertsPassed),
        "IPv4, allowed peer",
    );
}

#[test]
fn adverts_count_only_on_the_interface_of_their_instance() {
    let topo = RouterNs::new();
    let mut xdp = Xdp::load();
    xdp.instance(topo.ext_ifindex, 1, FAMILY_IPV4, V4_SLOT, 0);
    let v4 = fixtures::first_advert("v3-ipv4");
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    assert_pass(
        &xdp,
        &v4,
        Delta::advert(1, 3, false).slot(V4_SLOT, C::AdvertsPassed),
        "on the instance's interface",
    );
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    assert_drop(
        &xdp,
        &v4,
        Delta::frame(Stat::AdvertUnknownInstance),
        "on another interface",
    );
}

// ---------------------------------------------------------------------------------------
// Virtual addresses

const VIP: [u8; 4] = [10, 9, 0, 100];
const VIP_SLOT: u32 = 5;
const VIP6: [u8; 16] = [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
const VIP6_SLOT: u32 = 6;
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x42];
const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

fn vip_router() -> Xdp {
    let mut xdp = Xdp::load();
    xdp.vip(FAMILY_IPV4, addr_v4(VIP), VIP_SLOT, VIP_KIND_VIRTUAL);
    xdp.vip(FAMILY_IPV6, VIP6, VIP6_SLOT, VIP_KIND_VIRTUAL);
    xdp
}

fn to_vip(l4: L4) -> Vec<u8> {
    Flow {
        src_mac: HOST_MAC,
        dst_mac: ROUTER_MAC,
        src: [10, 9, 0, 7],
        dst: VIP,
        ttl: 64,
    }
    .packet(l4)
}

/// Everything aimed at the IPv4 VIP: traffic of each transport, ARP requests and replies.
fn ipv4_vip_frames() -> Vec<(String, Vec<u8>)> {
    let mut frames: Vec<(String, Vec<u8>)> = ALL_L4
        .iter()
        .map(|l4| (format!("{l4:?} to the VIP"), to_vip(*l4)))
        .collect();
    frames.push((
        "ARP request".into(),
        arp(HOST_MAC, [10, 9, 0, 7], VIP, false),
    ));
    frames.push(("ARP reply".into(), arp(HOST_MAC, [10, 9, 0, 7], VIP, true)));
    frames.push(("tagged UDP".into(), with_vlan(&to_vip(L4::Udp), 0x8100, 12)));
    frames
}

fn ipv6_vip_frames() -> Vec<(String, Vec<u8>)> {
    let host6 = [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    vec![
        (
            "UDP to the IPv6 VIP".into(),
            udp6(HOST_MAC, ROUTER_MAC, host6, VIP6),
        ),
        (
            "neighbour solicitation".into(),
            neighbour_solicitation(HOST_MAC, host6, VIP6),
        ),
    ]
}

#[test]
fn traffic_and_address_resolution_for_a_released_vip_are_dropped() {
    let mut xdp = vip_router();
    xdp.lease(VIP_SLOT, 0);
    xdp.lease(VIP6_SLOT, 0);
    for (what, frame) in ipv4_vip_frames() {
        let d = Delta::frame(Stat::NotOwnedDropped).slot(VIP_SLOT, C::NotOwnedDropped);
        assert_drop(&xdp, &frame, d, &what);
    }
    for (what, frame) in ipv6_vip_frames() {
        let d = Delta::frame(Stat::NotOwnedDropped).slot(VIP6_SLOT, C::NotOwnedDropped);
        assert_drop(&xdp, &frame, d, &what);
    }
    // A slot that was never written reads as released too.
    let mut fresh = Xdp::load();
    fresh.vip(FAMILY_IPV4, addr_v4(VIP), 77, VIP_KIND_VIRTUAL);
    assert_drop(
        &fresh,
        &to_vip(L4::Udp),
        Delta::frame(Stat::NotOwnedDropped).slot(77, C::NotOwnedDropped),
        "never-owned slot",
    );
}

#[test]
fn traffic_for_a_vip_whose_lease_ran_out_is_dropped() {
    let mut xdp = vip_router();
    let past = monotonic_ns() - 1_000_000_000;
    xdp.lease(VIP_SLOT, past);
    xdp.lease(VIP6_SLOT, past);
    for (what, frame) in ipv4_vip_frames() {
        let d = Delta::frame(Stat::LeaseExpiredDropped).slot(VIP_SLOT, C::LeaseExpiredDropped);
        assert_drop(&xdp, &frame, d, &what);
    }
    for (what, frame) in ipv6_vip_frames() {
        let d = Delta::frame(Stat::LeaseExpiredDropped).slot(VIP6_SLOT, C::LeaseExpiredDropped);
        assert_drop(&xdp, &frame, d, &what);
    }
}

#[test]
fn traffic_and_address_resolution_for_an_owned_vip_pass() {
    let mut xdp = vip_router();
    xdp.own(VIP_SLOT);
    xdp.own(VIP6_SLOT);
    for (what, frame) in ipv4_vip_frames() {
        let d = Delta::frame(Stat::VipPassed).slot(VIP_SLOT, C::VipPassed);
        assert_pass(&xdp, &frame, d, &what);
    }
    for (what, frame) in ipv6_vip_frames() {
        let d = Delta::frame(Stat::VipPassed).slot(VIP6_SLOT, C::VipPassed);
        assert_pass(&xdp, &frame, d, &what);
    }
}

#[test]
fn a_lease_runs_out_by_itself_on_the_kernel_clock() {
    let mut xdp = vip_router();
    // Generous against a loaded machine: the first run only has to start within a second.
    xdp.lease(VIP_SLOT, monotonic_ns() + 1_000_000_000);
    let frame = to_vip(L4::Udp);
    assert_pass(
        &xdp,
        &frame,
        Delta::frame(Stat::VipPassed).slot(VIP_SLOT, C::VipPassed),
        "before the deadline",
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_drop(
        &xdp,
        &frame,
        Delta::frame(Stat::LeaseExpiredDropped).slot(VIP_SLOT, C::LeaseExpiredDropped),
        "after the deadline",
    );
}

/// Deadlines close to now, where the coarse clock (the last tick) cannot decide alone: the
/// precise clock does, both ways. A run that straddles the deadline proves nothing and is
/// tried again; one that ends before it must pass, one that starts after it must drop.
#[test]
fn a_lease_close_to_its_deadline_is_decided_by_the_precise_clock() {
    let mut xdp = vip_router();
    let frame = to_vip(L4::Udp);
    // 5 ms ahead: within one tick of the coarse clock, so only the precise one can tell.
    let mut passed = 0;
    for _ in 0..200 {
        let lease = monotonic_ns() + 5_000_000;
        xdp.lease(VIP_SLOT, lease);
        let seen = xdp.run(&frame);
        if monotonic_ns() < lease {
            assert_eq!(
                seen.action, XDP_PASS,
                "a run that ended before the deadline"
            );
            passed += 1;
        }
        if passed == 20 {
            break;
        }
    }
    assert!(passed >= 20, "only {passed} runs finished within 5 ms");
    // Deadlines just passed (1 ns to 3 ms ago): the coarse clock may still be before them.
    for ago in [1, 1_000, 1_000_000, 3_000_000] {
        xdp.lease(VIP_SLOT, monotonic_ns() - ago);
        assert_drop(
            &xdp,
            &frame,
            Delta::frame(Stat::LeaseExpiredDropped).slot(VIP_SLOT, C::LeaseExpiredDropped),
            &format!("deadline {ago} ns ago"),
        );
    }
}

#[test]
fn traffic_not_aimed_at_a_vip_is_untouched_whatever_the_ownership() {
    let mut xdp = vip_router();
    xdp.lease(VIP_SLOT, 0);
    xdp.lease(VIP6_SLOT, 0);
    let host6 = [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    let mut other6 = VIP6;
    other6[15] = 0x99;
    let from_vip = Flow {
        src_mac: ROUTER_MAC,
        dst_mac: HOST_MAC,
        src: VIP,
        dst: [10, 9, 0, 7],
        ttl: 64,
    };
    let cases = [
        ("from the VIP", from_vip.packet(L4::Udp)),
        (
            "to a neighbour of the VIP",
            from_vip
                .addresses([10, 9, 0, 7], [10, 9, 0, 101])
                .packet(L4::Tcp),
        ),
        (
            "ARP for another address",
            arp(HOST_MAC, [10, 9, 0, 7], [10, 9, 0, 101], false),
        ),
        ("ARP from the VIP", arp(HOST_MAC, VIP, [10, 9, 0, 7], false)),
        (
            "NS for another address",
            neighbour_solicitation(HOST_MAC, host6, other6),
        ),
        (
            "UDP from the IPv6 VIP",
            udp6(HOST_MAC, ROUTER_MAC, VIP6, host6),
        ),
    ];
    for (what, frame) in cases {
        assert_pass(&xdp, &frame, Delta::frame(Stat::NotVrrp), what);
    }
}

// ---------------------------------------------------------------------------------------
// Floating IPs: the fast path in a router namespace

const FIP: [u8; 4] = [203, 0, 113, 10];
const FIP_SLOT: u32 = 7;
/// Maps to a VM without a neighbour entry.
const FIP2: [u8; 4] = [203, 0, 113, 11];
const FIP2_SLOT: u32 = 8;

/// A router with two floating IPs, both owned; with `fast`, the agent found both eligible
/// and set the ports up as it does then (the internal port takes translated inbound traffic
/// and is where outbound traffic comes from, the external port takes translated outbound
/// traffic; both take XDP frames).
fn nat_router_with(fast: bool) -> (RouterNs, Xdp) {
    let topo = RouterNs::new();
    let mut xdp = Xdp::load();
    xdp.floating(
        FIP,
        VM,
        FIP_SLOT,
        (topo.ext_ifindex, topo.int_ifindex),
        fast,
    );
    xdp.floating(
        FIP2,
        VM_UNRESOLVED,
        FIP2_SLOT,
        (topo.ext_ifindex, topo.int_ifindex),
        fast,
    );
    xdp.own(FIP_SLOT);
    xdp.own(FIP2_SLOT);
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    xdp.port(topo.ext_ifindex, topo.ext_mac, None, 0, true);
    xdp.port(topo.int_ifindex, topo.int_mac, None, 0, true);
    (topo, xdp)
}

fn nat_router() -> (RouterNs, Xdp) {
    nat_router_with(true)
}

/// A client on the Internet to the floating IP, as it arrives on the external port.
fn inbound(topo: &RouterNs) -> Flow {
    Flow {
        src_mac: SENDER_MAC,
        dst_mac: topo.ext_mac,
        src: CLIENT,
        dst: FIP,
        ttl: 64,
    }
}

/// The VM to a client on the Internet, as it arrives on the internal port.
fn outbound(topo: &RouterNs) -> Flow {
    Flow {
        src_mac: VM_MAC,
        dst_mac: topo.int_mac,
        src: VM,
        dst: CLIENT,
        ttl: 64,
    }
}

fn redirected(slot: u32, nat: C) -> Delta {
    Delta::frame(Stat::Redirected)
        .slot(slot, nat)
        .slot(slot, C::Redirected)
}

/// A fast-path packet left to the kernel untouched.
fn left(slot: u32, class: Stat) -> Delta {
    Delta::frame(class).slot(slot, C::PassedToKernel)
}

#[test]
fn inbound_to_a_floating_ip_is_translated_and_forwarded_by_xdp() {
    let (topo, mut xdp) = nat_router();
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    let flow = inbound(&topo);
    let want = flow.addresses(CLIENT, VM).forwarded(topo.int_mac, VM_MAC);
    for l4 in ALL_L4 {
        let input = flow.packet(l4);
        let out = assert_rewritten(
            &xdp,
            &input,
            XDP_REDIRECT,
            &want.packet(l4),
            redirected(FIP_SLOT, C::NatIn),
            &format!("{l4:?} in"),
        );
        verify_ipv4_frame(&out).unwrap_or_else(|e| panic!("{l4:?} in: {e}"));
        match l4 {
            L4::UdpNoChecksum => assert_eq!(&out[40..42], &[0, 0], "no UDP checksum stays 0"),
            L4::IcmpEcho => assert_eq!(&out[36..38], &input[36..38], "ICMP checksum unchanged"),
            _ => {}
        }
    }
}

#[test]
fn outbound_from_a_fixed_ip_is_translated_and_forwarded_by_xdp() {
    let (topo, mut xdp) = nat_router();
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    let flow = outbound(&topo);
    let want = flow
        .addresses(FIP, CLIENT)
        .forwarded(topo.ext_mac, GATEWAY_MAC);
    for l4 in ALL_L4 {
        let out = assert_rewritten(
            &xdp,
            &flow.packet(l4),
            XDP_REDIRECT,
            &want.packet(l4),
            redirected(FIP_SLOT, C::NatOut),
            &format!("{l4:?} out"),
        );
        verify_ipv4_frame(&out).unwrap_or_else(|e| panic!("{l4:?} out: {e}"));
    }
}

#[test]
fn a_udp_checksum_that_becomes_zero_is_sent_as_ffff_and_ffff_translates_correctly() {
    let (topo, mut xdp) = nat_router();
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    let flow = inbound(&topo);
    let want = flow.addresses(CLIENT, VM).forwarded(topo.int_mac, VM_MAC);
    // Choose the first payload word so that the translated datagram sums to zero: adding the
    // checksum it would have to that word (ones' complement) makes the new checksum 0.
    let zero_after = |frame_of: &dyn Fn(&[u8]) -> Vec<u8>| {
        let mut payload = b"checksum to zero!".to_vec();
        payload[0] = 0;
        payload[1] = 0;
        let probe = frame_of(&payload);
        let c = u16::from_be_bytes([probe[40], probe[41]]);
        let c = if c == 0xffff { 0 } else { c };
        payload[..2].copy_from_slice(&c.to_be_bytes());
        payload
    };
    // 1. The translation produces 0: sent as 0xffff.
    let payload = zero_after(&|p| want.packet_with(L4::Udp, p));
    let expected = want.packet_with(L4::Udp, &payload);
    assert_eq!(&expected[40..42], &[0xff, 0xff], "test setup: computed 0");
    assert_eq!(
        l4_checksum(CLIENT, VM, 17, &expected[34..], 6),
        0xffff,
        "test setup: independent sum agrees"
    );
    let input = flow.packet_with(L4::Udp, &payload);
    assert_ne!(&input[40..42], &[0xff, 0xff]);
    assert_rewritten(
        &xdp,
        &input,
        XDP_REDIRECT,
        &expected,
        redirected(FIP_SLOT, C::NatIn),
        "translated checksum 0",
    );
    // 2. The original carries 0xffff (computed 0): translated like any other value.
    let payload = zero_after(&|p| flow.packet_with(L4::Udp, p));
    let input = flow.packet_with(L4::Udp, &payload);
    assert_eq!(&input[40..42], &[0xff, 0xff], "test setup: original 0xffff");
    let out = assert_rewritten(
        &xdp,
        &input,
        XDP_REDIRECT,
        &want.packet_with(L4::Udp, &payload),
        redirected(FIP_SLOT, C::NatIn),
        "original checksum 0xffff",
    );
    verify_ipv4_frame(&out).unwrap();
}

#[test]
fn without_the_fast_path_floating_ip_traffic_goes_to_the_kernel_untouched() {
    let (topo, mut xdp) = nat_router_with(false);
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    for l4 in ALL_L4 {
        assert_pass(
            &xdp,
            &inbound(&topo).packet(l4),
            Delta::frame(Stat::VipPassed).slot(FIP_SLOT, C::VipPassed),
            &format!("{l4:?} in, fast path off"),
        );
    }
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    for l4 in ALL_L4 {
        assert_pass(
            &xdp,
            &outbound(&topo).packet(l4),
            Delta::frame(Stat::NotVrrp),
            &format!("{l4:?} out, fast path off"),
        );
    }
}

#[test]
fn outbound_traffic_that_stays_inside_is_not_translated() {
    let (topo, mut xdp) = nat_router();
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    let flow = outbound(&topo);
    for (what, dst) in [
        ("east-west to another VM", VM2),
        ("to the router itself", [10, 0, 0, 1]),
        ("to the internal broadcast", [10, 0, 0, 255]),
        ("to a multicast group", [239, 1, 2, 3]),
    ] {
        for l4 in ALL_L4 {
            assert_pass(
                &xdp,
                &flow.addresses(VM, dst).packet(l4),
                Delta::frame(Stat::NotVrrp),
                &format!("{what}, {l4:?}"),
            );
        }
    }
}

#[test]
fn floating_ips_of_a_released_instance_are_not_translated() {
    let (topo, mut xdp) = nat_router();
    xdp.lease(FIP_SLOT, 0);
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    assert_drop(
        &xdp,
        &inbound(&topo).packet(L4::Tcp),
        Delta::frame(Stat::NotOwnedDropped).slot(FIP_SLOT, C::NotOwnedDropped),
        "inbound to a released floating IP",
    );
    xdp.lease(FIP_SLOT, monotonic_ns() - 1_000_000_000);
    assert_drop(
        &xdp,
        &inbound(&topo).packet(L4::Tcp),
        Delta::frame(Stat::LeaseExpiredDropped).slot(FIP_SLOT, C::LeaseExpiredDropped),
        "inbound to an expired floating IP",
    );
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    assert_pass(
        &xdp,
        &outbound(&topo).packet(L4::Tcp),
        Delta::frame(Stat::NotVrrp),
        "outbound from the fixed IP of an expired floating IP",
    );
}

#[test]
fn without_a_resolved_next_hop_the_packet_goes_to_the_kernel_untouched() {
    let (topo, mut xdp) = nat_router();
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    let flow = inbound(&topo).addresses(CLIENT, FIP2);
    for l4 in ALL_L4 {
        assert_pass(
            &xdp,
            &flow.packet(l4),
            left(FIP2_SLOT, Stat::PassedToKernel),
            &format!("{l4:?} in, no neighbour"),
        );
    }
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    let flow = outbound(&topo).addresses(VM, UNRESOLVED_NET_HOST);
    for l4 in ALL_L4 {
        assert_pass(
            &xdp,
            &flow.packet(l4),
            left(FIP_SLOT, Stat::PassedToKernel),
            &format!("{l4:?} out, gateway unresolved"),
        );
    }
}

#[test]
fn expiring_ttl_goes_to_the_kernel_untouched() {
    let (topo, mut xdp) = nat_router();
    for (ingress, flow, nat, want) in [
        (
            topo.ext_ifindex,
            inbound(&topo),
            C::NatIn,
            inbound(&topo)
                .addresses(CLIENT, VM)
                .forwarded(topo.int_mac, VM_MAC),
        ),
        (
            topo.int_ifindex,
            outbound(&topo),
            C::NatOut,
            outbound(&topo)
                .addresses(FIP, CLIENT)
                .forwarded(topo.ext_mac, GATEWAY_MAC),
        ),
    ] {
        xdp.arrive_on(&topo.ns, ingress);
        for ttl in [0u8, 1] {
            assert_pass(
                &xdp,
                &Flow { ttl, ..flow }.packet(L4::Udp),
                left(FIP_SLOT, Stat::TtlExpiring),
                &format!("{nat:?} TTL {ttl}"),
            );
        }
        // TTL 2 still leaves with TTL 1.
        let out = assert_rewritten(
            &xdp,
            &Flow { ttl: 2, ..flow }.packet(L4::Udp),
            XDP_REDIRECT,
            &Flow { ttl: 1, ..want }.packet(L4::Udp),
            redirected(FIP_SLOT, nat),
            &format!("{nat:?} TTL 2"),
        );
        assert_eq!(out[22], 1);
    }
}

#[test]
fn fragments_options_and_vlan_tags_go_to_the_kernel_untouched() {
    let (topo, mut xdp) = nat_router();
    let payload = [0x5au8; 64];
    for (ingress, flow, what) in [
        (topo.ext_ifindex, inbound(&topo), "in"),
        (topo.int_ifindex, outbound(&topo), "out"),
    ] {
        xdp.arrive_on(&topo.ns, ingress);
        for l4 in [L4::Tcp, L4::Udp, L4::IcmpEcho] {
            let sent = fragment(&flow.packet_with(l4, &payload), 32);
            assert_eq!(sent.len(), 3);
            for (i, s) in sent.iter().enumerate() {
                assert_pass(
                    &xdp,
                    s,
                    left(FIP_SLOT, Stat::PassedToKernel),
                    &format!("{what} {l4:?} fragment {i}"),
                );
            }
            // Router alert option plus padding.
            let options = [0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00];
            assert_pass(
                &xdp,
                &with_ipv4_options(&flow.packet(l4), &options),
                left(FIP_SLOT, Stat::PassedToKernel),
                &format!("{what} {l4:?} with options"),
            );
            // The program reads the FIB of the untagged device: a tag goes to the kernel.
            let tagged = with_vlan(&flow.packet(l4), 0x8100, 100);
            let seen = xdp.run(&tagged);
            assert_eq!(seen.action, XDP_PASS, "{what} {l4:?} tagged");
            assert_bytes(&seen.data_out, &tagged, &format!("{what} {l4:?} tagged"));
        }
    }
}

/// The IPv4 packet of an untagged frame, cut after `l4_bytes` bytes of its transport
/// header and payload (what an ICMP error quotes).
fn quote(frame: &[u8], l4_bytes: usize) -> Vec<u8> {
    frame[14..14 + 20 + l4_bytes].to_vec()
}

#[test]
fn icmp_errors_are_translated_with_the_packet_they_quote_as_the_kernel_does() {
    let (topo, mut xdp) = nat_router();
    // Inbound: the client's port unreachable about what the VM sent (it left as the floating
    // IP). The kernel translates the outer destination and the quoted source, fixes the quoted
    // header and transport checksums and recomputes the ICMP checksum.
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    let from_vm = outbound(&topo);
    let error = inbound(&topo);
    let want_error = error.addresses(CLIENT, VM).forwarded(topo.int_mac, VM_MAC);
    for (what, l4, bytes) in [
        ("UDP", L4::Udp, 8 + 32),
        ("UDP without checksum", L4::UdpNoChecksum, 8 + 32),
        ("TCP, whole header quoted", L4::Tcp, 20),
        ("TCP, 8 bytes quoted", L4::Tcp, 8),
        ("ICMP echo", L4::IcmpEcho, 8),
    ] {
        let sent_by_vm = from_vm.addresses(FIP, CLIENT).packet(l4);
        let original = from_vm.packet(l4);
        let mut want_quote = quote(&original, bytes);
        if l4 == L4::Tcp && bytes < 20 {
            // Only the ports are quoted: the kernel leaves the (absent) checksum alone, and
            // the quote keeps what it had.
            want_quote = quote(&sent_by_vm, bytes);
            want_quote[12..16].copy_from_slice(&VM);
            fix_ipv4_checksum(&mut want_quote, 0);
        }
        let input = error.port_unreachable(&quote(&sent_by_vm, bytes));
        let want = want_error.port_unreachable(&want_quote);
        let out = assert_rewritten(
            &xdp,
            &input,
            XDP_REDIRECT,
            &want,
            redirected(FIP_SLOT, C::NatIn),
            &format!("inbound error about {what}"),
        );
        verify_ipv4_frame(&out).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    // Outbound: the VM's port unreachable about what the client sent it (it arrived for the
    // floating IP and was translated to the fixed one).
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    let to_vm = inbound(&topo);
    let input = from_vm.port_unreachable(&quote(&to_vm.addresses(CLIENT, VM).packet(L4::Udp), 40));
    let want = from_vm
        .addresses(FIP, CLIENT)
        .forwarded(topo.ext_mac, GATEWAY_MAC)
        .port_unreachable(&quote(&to_vm.packet(L4::Udp), 40));
    let out = assert_rewritten(
        &xdp,
        &input,
        XDP_REDIRECT,
        &want,
        redirected(FIP_SLOT, C::NatOut),
        "outbound error",
    );
    verify_ipv4_frame(&out).unwrap();
    // An error quoting a packet of another address is not the floating IP's: the kernel.
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    let stray = error.port_unreachable(&quote(
        &from_vm.addresses([203, 0, 113, 99], CLIENT).packet(L4::Udp),
        40,
    ));
    assert_pass(
        &xdp,
        &stray,
        left(FIP_SLOT, Stat::PassedToKernel),
        "error about another address",
    );
    // A quote with IP options, or cut inside the transport header's first 8 bytes.
    let optioned = with_ipv4_options(
        &from_vm.addresses(FIP, CLIENT).packet(L4::Udp),
        &[1, 1, 1, 0],
    );
    assert_pass(
        &xdp,
        &error.port_unreachable(&quote(&optioned, 12)),
        left(FIP_SLOT, Stat::PassedToKernel),
        "quoted packet with options",
    );
    assert_pass(
        &xdp,
        &error.port_unreachable(&quote(&from_vm.addresses(FIP, CLIENT).packet(L4::Udp), 4)),
        left(FIP_SLOT, Stat::PassedToKernel),
        "quote cut short",
    );
}

/// Sets the TCP flags byte of an untagged TCP frame (no checksum fix: the fast path never
/// reads it, and a frame it refuses must come back as sent).
fn with_tcp_flags(frame: &[u8], flags: u8) -> Vec<u8> {
    let mut out = frame.to_vec();
    out[14 + 20 + 13] = flags;
    out
}

#[test]
fn packets_conntrack_would_not_translate_go_to_the_kernel_untouched() {
    let (topo, mut xdp) = nat_router();
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    let flow = inbound(&topo);
    let tcp = flow.packet(L4::Tcp);
    let mut cases: Vec<(String, Vec<u8>)> = vec![];
    // conntrack's invalid TCP flag combinations (PSH, ECE and CWR do not count).
    for flags in [0x00u8, 0x03, 0x05, 0x06, 0x07, 0x01, 0x29, 0x3f] {
        cases.push((
            format!("TCP flags {flags:#04x}"),
            with_tcp_flags(&tcp, flags),
        ));
    }
    // A data offset below 5 words, and one beyond the segment.
    let mut short_doff = tcp.clone();
    short_doff[14 + 20 + 12] = 0x40;
    cases.push(("TCP data offset 4".into(), short_doff));
    let mut long_doff = tcp.clone();
    long_doff[14 + 20 + 12] = 0xf0;
    cases.push(("TCP data offset past the end".into(), long_doff));
    // A UDP length field longer than the datagram.
    let mut udp = flow.packet(L4::Udp);
    udp[14 + 20 + 4] = 0x40;
    cases.push(("UDP length past the end".into(), udp));
    // ICMP redirects (the kernel drops them for translated connections) and non-query types.
    let mut redirect = flow.packet(L4::IcmpEcho);
    redirect[14 + 20] = 5;
    cases.push(("ICMP redirect".into(), redirect));
    // Protocols the fast path does not translate (GRE: its checksum and keys are conntrack's).
    let mut gre = flow.packet(L4::Udp);
    gre[14 + 9] = 47;
    fix_ipv4_checksum(&mut gre, 14);
    cases.push(("GRE".into(), gre));
    // Martian sources.
    for src in [
        [127, 0, 0, 1],
        [0, 0, 0, 7],
        [224, 0, 0, 9],
        [255, 255, 255, 255],
    ] {
        cases.push((
            format!("source {src:?}"),
            flow.addresses(src, FIP).packet(L4::Udp),
        ));
    }
    for (what, frame) in cases {
        assert_pass(&xdp, &frame, left(FIP_SLOT, Stat::PassedToKernel), &what);
    }
}

#[test]
fn floating_ip_traffic_outside_its_class_goes_to_the_kernel_untouched() {
    let (topo, mut xdp) = nat_router();
    // To the floating IP from inside (hairpin): the kernel's NAT differs (it also rewrites
    // the source), so only traffic arriving on the external port is the inbound class.
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    let hairpin = Flow {
        src_mac: VM_MAC,
        dst_mac: topo.int_mac,
        src: VM2,
        dst: FIP,
        ttl: 64,
    };
    assert_pass(
        &xdp,
        &hairpin.packet(L4::Tcp),
        Delta::frame(Stat::VipPassed).slot(FIP_SLOT, C::VipPassed),
        "hairpin to the floating IP",
    );
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    // A frame on the external segment for another host.
    let other = Flow {
        dst_mac: VM_MAC,
        ..inbound(&topo)
    };
    assert_pass(
        &xdp,
        &other.packet(L4::Udp),
        Delta::frame(Stat::VipPassed).slot(FIP_SLOT, C::VipPassed),
        "frame for another MAC",
    );
    // From outside with a fixed IP that has a floating IP as its source: the kernel's
    // source NAT rule for that fixed IP would apply too.
    assert_pass(
        &xdp,
        &inbound(&topo).addresses(VM_UNRESOLVED, FIP).packet(L4::Udp),
        left(FIP_SLOT, Stat::PassedToKernel),
        "source is another floating IP's fixed IP",
    );
}

#[test]
fn an_egress_that_does_not_take_xdp_frames_gets_nothing_redirected() {
    let (topo, mut xdp) = nat_router();
    // The internal port loses its place in the devmap (its peer stopped running NAPI).
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    xdp.port(topo.int_ifindex, topo.int_mac, None, 0, false);
    for l4 in ALL_L4 {
        assert_pass(
            &xdp,
            &inbound(&topo).packet(l4),
            Delta::frame(Stat::EgressNoXdp).slot(FIP_SLOT, C::EgressNoXdp),
            &format!("{l4:?} in, egress without XDP"),
        );
    }
    // The FIB sends the fixed IP elsewhere than through the interface the agent checked.
    xdp.port(topo.int_ifindex, topo.int_mac, None, 0, true);
    xdp.floating(
        FIP,
        VM,
        FIP_SLOT,
        (topo.ext_ifindex, topo.ext_ifindex),
        true,
    );
    assert_pass(
        &xdp,
        &inbound(&topo).packet(L4::Udp),
        left(FIP_SLOT, Stat::PassedToKernel),
        "routed out of another interface than the one checked",
    );
    // Outbound from another interface than the one checked: not the class.
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    assert_pass(
        &xdp,
        &outbound(&topo).packet(L4::Udp),
        Delta::frame(Stat::NotVrrp),
        "outbound arriving on another interface than the one checked",
    );
}

#[test]
fn addresses_the_kernel_keeps_for_itself_are_never_touched() {
    let (topo, mut xdp) = nat_router();
    let metadata = [169, 254, 169, 254];
    xdp.vip(FAMILY_IPV4, addr_v4(metadata), 99, VIP_KIND_KERNEL);
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    for owned in [true, false] {
        xdp.lease(
            99,
            if owned {
                monotonic_ns() + 60_000_000_000
            } else {
                0
            },
        );
        for l4 in ALL_L4 {
            assert_pass(
                &xdp,
                &outbound(&topo).addresses(VM, metadata).packet(l4),
                Delta::frame(Stat::NotVrrp),
                &format!("{l4:?} to the metadata address, slot owned: {owned}"),
            );
        }
        assert_pass(
            &xdp,
            &arp(VM_MAC, VM, metadata, false),
            Delta::frame(Stat::NotVrrp),
            "ARP for the metadata address",
        );
    }
}

// ---------------------------------------------------------------------------------------
// Routed traffic through a gateway interface (no NAT)

const GW_SLOT: u32 = 9;

/// A router whose two ports are gateway interfaces of one instance; with `fast`, plain
/// routing between them is eligible and both take XDP frames.
fn gateway_router_with(fast: bool) -> (RouterNs, Xdp) {
    let topo = RouterNs::new();
    let mut xdp = Xdp::load();
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    let flags = if fast {
        PORT_FLAG_ROUTE_IN | PORT_FLAG_ROUTE_OUT
    } else {
        0
    };
    xdp.port(topo.int_ifindex, topo.int_mac, Some(GW_SLOT), flags, fast);
    xdp.port(topo.ext_ifindex, topo.ext_mac, Some(GW_SLOT), flags, fast);
    (topo, xdp)
}

fn gateway_router() -> (RouterNs, Xdp) {
    gateway_router_with(false)
}

/// The VM to a client on the Internet, no floating IP: plain routing.
fn routed_out(topo: &RouterNs) -> Flow {
    Flow {
        src_mac: VM_MAC,
        dst_mac: topo.int_mac,
        src: VM2,
        dst: CLIENT,
        ttl: 64,
    }
}

#[test]
fn routed_traffic_through_an_owned_gateway_goes_to_the_kernel_untouched() {
    let (topo, mut xdp) = gateway_router();
    xdp.own(GW_SLOT);
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    for l4 in ALL_L4 {
        assert_pass(
            &xdp,
            &routed_out(&topo).packet(l4),
            Delta::frame(Stat::KernelPath).slot(GW_SLOT, C::KernelPath),
            &format!("{l4:?} routed out, routing fast path off"),
        );
    }
}

#[test]
fn routed_traffic_through_an_eligible_owned_gateway_is_forwarded_by_xdp() {
    let (topo, mut xdp) = gateway_router_with(true);
    xdp.own(GW_SLOT);
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    let flow = routed_out(&topo);
    let want = flow.forwarded(topo.ext_mac, GATEWAY_MAC);
    for l4 in ALL_L4 {
        let out = assert_rewritten(
            &xdp,
            &flow.packet(l4),
            XDP_REDIRECT,
            &want.packet(l4),
            Delta::frame(Stat::Redirected).slot(GW_SLOT, C::Redirected),
            &format!("{l4:?} routed out"),
        );
        verify_ipv4_frame(&out).unwrap_or_else(|e| panic!("{l4:?}: {e}"));
    }
    // Inbound to the VM, arriving on the external port.
    xdp.arrive_on(&topo.ns, topo.ext_ifindex);
    let inbound = Flow {
        src_mac: SENDER_MAC,
        dst_mac: topo.ext_mac,
        src: CLIENT,
        dst: VM,
        ttl: 64,
    };
    let want = inbound.forwarded(topo.int_mac, VM_MAC);
    assert_rewritten(
        &xdp,
        &inbound.packet(L4::Tcp),
        XDP_REDIRECT,
        &want.packet(L4::Tcp),
        Delta::frame(Stat::Redirected).slot(GW_SLOT, C::Redirected),
        "routed in",
    );
    // An unresolved next hop: the kernel resolves it; the frame is untouched.
    assert_pass(
        &xdp,
        &inbound.addresses(CLIENT, VM_UNRESOLVED).packet(L4::Udp),
        Delta::frame(Stat::PassedToKernel).slot(GW_SLOT, C::PassedToKernel),
        "unresolved",
    );
    // The egress leaves the devmap.
    xdp.port(
        topo.int_ifindex,
        topo.int_mac,
        Some(GW_SLOT),
        PORT_FLAG_ROUTE_IN | PORT_FLAG_ROUTE_OUT,
        false,
    );
    assert_pass(
        &xdp,
        &inbound.packet(L4::Tcp),
        Delta::frame(Stat::EgressNoXdp).slot(GW_SLOT, C::EgressNoXdp),
        "egress without XDP",
    );
    // The egress is not eligible for plain routing.
    xdp.port(
        topo.int_ifindex,
        topo.int_mac,
        Some(GW_SLOT),
        PORT_FLAG_ROUTE_IN,
        true,
    );
    assert_pass(
        &xdp,
        &inbound.packet(L4::Tcp),
        Delta::frame(Stat::KernelPath).slot(GW_SLOT, C::KernelPath),
        "egress not eligible",
    );
}

#[test]
fn routed_traffic_through_a_released_or_expired_gateway_is_dropped() {
    let (topo, mut xdp) = gateway_router();
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    let frame = routed_out(&topo).packet(L4::Udp);
    xdp.lease(GW_SLOT, 0);
    assert_drop(
        &xdp,
        &frame,
        Delta::frame(Stat::NotOwnedDropped).slot(GW_SLOT, C::NotOwnedDropped),
        "released gateway",
    );
    xdp.lease(GW_SLOT, monotonic_ns() - 1);
    assert_drop(
        &xdp,
        &frame,
        Delta::frame(Stat::LeaseExpiredDropped).slot(GW_SLOT, C::LeaseExpiredDropped),
        "gateway whose lease ran out",
    );
}

#[test]
fn gateway_traffic_for_the_router_itself_or_for_other_hosts_passes_untouched() {
    let (topo, mut xdp) = gateway_router();
    xdp.arrive_on(&topo.ns, topo.int_ifindex);
    xdp.lease(GW_SLOT, 0);
    let flow = routed_out(&topo);
    // For the router's own (non-virtual) address: the FIB does not forward it.
    let own = flow.addresses(VM2, [10, 0, 0, 1]).packet(L4::Tcp);
    assert_pass(
        &xdp,
        &own,
        Delta::frame(Stat::NotVrrp),
        "to the router itself",
    );
    // Multicast.
    let mcast = flow.addresses(VM2, [224, 0, 0, 5]).packet(L4::Udp);
    assert_pass(&xdp, &mcast, Delta::frame(Stat::NotVrrp), "multicast");
    // A frame for another host on a flooding segment, even while owned.
    xdp.own(GW_SLOT);
    let other = Flow {
        dst_mac: VM_MAC,
        ..flow
    }
    .packet(L4::Udp);
    assert_pass(
        &xdp,
        &other,
        Delta::frame(Stat::NotVrrp),
        "frame for another MAC",
    );
}

#[test]
fn two_routers_with_the_same_vip_and_vrid_do_not_see_each_other() {
    let mut routers = pinned::load_shared(&[1, 2]);
    let mut r2 = routers.pop().unwrap();
    let mut r1 = routers.pop().unwrap();
    // Same interface index, VRID and address in both routers; different slots.
    r1.instance(LOOPBACK_IFINDEX, 1, FAMILY_IPV4, 10, 0);
    r2.instance(
        LOOPBACK_IFINDEX,
        1,
        FAMILY_IPV4,
        20,
        INSTANCE_FLAG_ALLOWLIST,
    );
    r1.instance(LOOPBACK_IFINDEX, 2, FAMILY_IPV4, 11, 0);
    r1.vip(FAMILY_IPV4, addr_v4(VIP), 10, VIP_KIND_VIRTUAL);
    r2.vip(FAMILY_IPV4, addr_v4(VIP), 20, VIP_KIND_VIRTUAL);
    r1.own(10);
    r2.lease(20, 0);
    // Each sees the other's counters move (the maps are shared), so watch both slots.
    for r in [&mut r1, &mut r2] {
        r.watch(10);
        r.watch(20);
        r.watch(11);
    }
    assert_eq!(
        r2.dp.vips().unwrap().len(),
        2,
        "one VIP map holds both routers' entries"
    );

    let frame = to_vip(L4::Udp);
    assert_pass(
        &r1,
        &frame,
        Delta::frame(Stat::VipPassed).slot(10, C::VipPassed),
        "router 1: its VIP is owned",
    );
    assert_drop(
        &r2,
        &frame,
        Delta::frame(Stat::NotOwnedDropped).slot(20, C::NotOwnedDropped),
        "router 2: the same address is not owned there",
    );
    let advert = fixtures::first_advert("v3-ipv4");
    assert_pass(
        &r1,
        &advert,
        Delta::advert(1, 3, false).slot(10, C::AdvertsPassed),
        "router 1: open instance",
    );
    assert_drop(
        &r2,
        &advert,
        Delta::frame(Stat::AdvertSpoofed).slot(20, C::AdvertsSpoofed),
        "router 2: allow-list of its own",
    );
    let vrid2 = with_vrid(&advert, 2);
    assert_pass(
        &r1,
        &vrid2,
        Delta::advert(2, 3, false).slot(11, C::AdvertsPassed),
        "router 1: VRID 2",
    );
    assert_drop(
        &r2,
        &vrid2,
        Delta::frame(Stat::AdvertUnknownInstance),
        "router 2: no VRID 2",
    );
    // Peers are per slot: allowing the sender for router 1's slot changes nothing for 2.
    r1.peer(10, FAMILY_IPV4, source(&advert));
    assert_drop(
        &r2,
        &advert,
        Delta::frame(Stat::AdvertSpoofed).slot(20, C::AdvertsSpoofed),
        "router 2: still spoofed",
    );
}

// ---------------------------------------------------------------------------------------
// Cost

/// Median of `n` single runs as timed by the kernel, and the action they returned. Single
/// runs because a repeated test run reuses the frame the previous run rewrote.
fn median_single_run(xdp: &Xdp, frame: &[u8], n: usize) -> (u32, u128) {
    let mut times = Vec::with_capacity(n);
    let mut action = None;
    for _ in 0..n {
        let out = xdp.test_run(frame, 1).expect("test run");
        assert!(action.is_none_or(|a| a == out.action), "action changed");
        action = Some(out.action);
        times.push(out.duration.as_nanos());
    }
    times.sort_unstable();
    (action.unwrap(), times[n / 2])
}

#[test]
fn per_packet_cost_is_reported() {
    let (topo, mut xdp) = nat_router();
    xdp.instance(topo.ext_ifindex, 1, FAMILY_IPV4, 30, 0);
    let advert = fixtures::first_advert("v3-ipv4");
    let plain = Flow {
        src_mac: SENDER_MAC,
        dst_mac: topo.ext_mac,
        src: CLIENT,
        dst: [203, 0, 113, 99],
        ttl: 64,
    }
    .packet(L4::Udp);
    let cases = [
        ("plain UDP, no VIP", topo.ext_ifindex, plain, XDP_PASS),
        ("valid advert", topo.ext_ifindex, advert, XDP_PASS),
        (
            "DNAT + redirect",
            topo.ext_ifindex,
            inbound(&topo).packet(L4::Tcp),
            XDP_REDIRECT,
        ),
        (
            "SNAT + redirect",
            topo.int_ifindex,
            outbound(&topo).packet(L4::Tcp),
            XDP_REDIRECT,
        ),
    ];
    for (what, ingress, frame, action) in cases {
        xdp.arrive_on(&topo.ns, ingress);
        let (seen, single) = median_single_run(&xdp, &frame, 501);
        assert_eq!(seen, action, "{what}");
        // The untouched cases can also run repeated in the kernel (less timer overhead).
        let repeated = (action == XDP_PASS).then(|| {
            let out = xdp.test_run(&frame, 100_000).expect("test run");
            assert_eq!(out.action, action, "{what}");
            out.duration.as_nanos()
        });
        println!("{what:<20} single run (median) {single:>6} ns, repeated {repeated:?} ns");
        assert!(single < 20_000, "{what}: {single} ns per packet");
    }
}
