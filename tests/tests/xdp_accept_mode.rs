//! RFC 9568 Accept_Mode in the XDP program, via BPF_PROG_TEST_RUN: a master whose
//! Accept_Mode is off and which is not the address owner (priority 255) does not accept IPv4
//! or IPv6 packets addressed to its virtual addresses (§6.4.3), so the program drops them and
//! counts them (`accept_mode_dropped`); it still answers ARP requests and neighbour
//! solicitations for them (§6.4.3), and IPv6 neighbour solicitations and advertisements
//! addressed to them are never dropped for Accept_Mode (§6.1). With Accept_Mode on, or as the
//! address owner (the flags the agent writes for each), they pass; a backup drops everything
//! aimed at the addresses whatever its Accept_Mode. Each run asserts the verdict, the frame
//! untouched and the exact counter movement. Needs root.

use vrrp_agent::dataplane::manager::owner_flags;
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{FAMILY_IPV4, FAMILY_IPV6, InstanceCounter as C, VIP_KIND_VIRTUAL, addr_v4},
};
use vrrp_tests::{
    flows::{
        ALL_L4, Flow, L4, arp, echo6, neighbour_advertisement, neighbour_solicitation, udp6,
        unicast_neighbour_solicitation,
    },
    frames::with_vlan,
    xdp::{Delta, LOOPBACK_IFINDEX, XDP_PASS, Xdp, assert_drop, assert_pass, monotonic_ns},
};

const VIP: [u8; 4] = [10, 9, 0, 100];
const VIP_SLOT: u32 = 5;
const VIP6: [u8; 16] = [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
const VIP6_SLOT: u32 = 6;
const HOST: [u8; 4] = [10, 9, 0, 7];
const HOST6: [u8; 16] = [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x42];
const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// A floating IP (an excluded address of the instance that the namespace's NAT translates).
const FIP: [u8; 4] = [203, 0, 113, 10];
const FIP_SLOT: u32 = 7;
const MINUTE_NS: u64 = 60_000_000_000;

fn router() -> Xdp {
    let mut xdp = Xdp::load();
    xdp.vip(FAMILY_IPV4, addr_v4(VIP), VIP_SLOT, VIP_KIND_VIRTUAL);
    xdp.vip(FAMILY_IPV6, VIP6, VIP6_SLOT, VIP_KIND_VIRTUAL);
    xdp
}

/// Both slots owned for a minute with these owner flags.
fn owned_with(xdp: &mut Xdp, flags: u32) {
    xdp.lease_with(VIP_SLOT, monotonic_ns() + MINUTE_NS, flags);
    xdp.lease_with(VIP6_SLOT, monotonic_ns() + MINUTE_NS, flags);
}

fn to(dst: [u8; 4], l4: L4) -> Vec<u8> {
    Flow {
        src_mac: HOST_MAC,
        dst_mac: ROUTER_MAC,
        src: HOST,
        dst,
        ttl: 64,
    }
    .packet(l4)
}

/// IPv4 and IPv6 packets addressed to the virtual addresses (not address resolution), with
/// the slot whose address they are aimed at.
fn packets_to_the_addresses() -> Vec<(String, Vec<u8>, u32)> {
    let mut frames: Vec<(String, Vec<u8>, u32)> = ALL_L4
        .iter()
        .map(|l4| (format!("{l4:?} to the VIP"), to(VIP, *l4), VIP_SLOT))
        .collect();
    frames.push((
        "tagged TCP to the VIP".into(),
        with_vlan(&to(VIP, L4::Tcp), 0x8100, 12),
        VIP_SLOT,
    ));
    frames.push((
        "UDP to the IPv6 VIP".into(),
        udp6(HOST_MAC, ROUTER_MAC, HOST6, VIP6),
        VIP6_SLOT,
    ));
    frames.push((
        "echo request to the IPv6 VIP".into(),
        echo6(HOST_MAC, ROUTER_MAC, HOST6, VIP6),
        VIP6_SLOT,
    ));
    frames
}

/// ARP and neighbour discovery for (and to) the virtual addresses, with their slot.
fn address_resolution() -> Vec<(String, Vec<u8>, u32)> {
    vec![
        (
            "ARP request".into(),
            arp(HOST_MAC, HOST, VIP, false),
            VIP_SLOT,
        ),
        ("ARP reply".into(), arp(HOST_MAC, HOST, VIP, true), VIP_SLOT),
        (
            "neighbour solicitation to the solicited-node group".into(),
            neighbour_solicitation(HOST_MAC, HOST6, VIP6),
            VIP6_SLOT,
        ),
        (
            "neighbour solicitation to the VIP (unreachability detection)".into(),
            unicast_neighbour_solicitation(HOST_MAC, ROUTER_MAC, HOST6, VIP6),
            VIP6_SLOT,
        ),
        (
            "neighbour advertisement to the VIP".into(),
            neighbour_advertisement(HOST_MAC, ROUTER_MAC, HOST6, VIP6),
            VIP6_SLOT,
        ),
    ]
}

fn dropped_for_accept_mode(slot: u32) -> Delta {
    Delta::frame(Stat::AcceptModeDropped).slot(slot, C::AcceptModeDropped)
}

fn passed(slot: u32) -> Delta {
    Delta::frame(Stat::VipPassed).slot(slot, C::VipPassed)
}

#[test]
fn a_master_without_accept_mode_drops_and_counts_packets_to_its_addresses() {
    let mut xdp = router();
    xdp.own_without_accept(VIP_SLOT);
    xdp.own_without_accept(VIP6_SLOT);
    for (what, frame, slot) in packets_to_the_addresses() {
        assert_drop(&xdp, &frame, dropped_for_accept_mode(slot), &what);
    }
    // What the master does not accept is not what it forwards or sends: traffic from its
    // address and to other hosts is untouched.
    let from_vip = Flow {
        src_mac: ROUTER_MAC,
        dst_mac: HOST_MAC,
        src: VIP,
        dst: HOST,
        ttl: 64,
    };
    assert_pass(
        &xdp,
        &from_vip.packet(L4::Udp),
        Delta::frame(Stat::NotVrrp),
        "from the VIP",
    );
    assert_pass(
        &xdp,
        &to([10, 9, 0, 101], L4::Tcp),
        Delta::frame(Stat::NotVrrp),
        "to a neighbour of the VIP",
    );
}

#[test]
fn a_master_without_accept_mode_still_answers_arp_and_neighbour_discovery() {
    let mut xdp = router();
    xdp.own_without_accept(VIP_SLOT);
    xdp.own_without_accept(VIP6_SLOT);
    for (what, frame, slot) in address_resolution() {
        assert_pass(&xdp, &frame, passed(slot), &what);
    }
}

#[test]
fn a_master_with_accept_mode_accepts_packets_to_its_addresses() {
    let mut xdp = router();
    owned_with(&mut xdp, owner_flags(true, false));
    for (what, frame, slot) in packets_to_the_addresses()
        .into_iter()
        .chain(address_resolution())
    {
        assert_pass(&xdp, &frame, passed(slot), &what);
    }
}

#[test]
fn the_address_owner_accepts_packets_to_its_addresses_whatever_its_accept_mode() {
    let mut xdp = router();
    // What the agent writes for a priority-255 instance with Accept_Mode off.
    owned_with(&mut xdp, owner_flags(false, true));
    for (what, frame, slot) in packets_to_the_addresses()
        .into_iter()
        .chain(address_resolution())
    {
        assert_pass(&xdp, &frame, passed(slot), &what);
    }
}

#[test]
fn a_backup_drops_everything_aimed_at_the_addresses_whatever_its_accept_mode() {
    for flags in [owner_flags(false, false), owner_flags(true, false)] {
        let mut xdp = router();
        xdp.lease_with(VIP_SLOT, 0, flags);
        xdp.lease_with(VIP6_SLOT, 0, flags);
        for (what, frame, slot) in packets_to_the_addresses()
            .into_iter()
            .chain(address_resolution())
        {
            let d = Delta::frame(Stat::NotOwnedDropped).slot(slot, C::NotOwnedDropped);
            assert_drop(&xdp, &frame, d, &format!("{what} (flags {flags})"));
        }
        let past = monotonic_ns() - 1_000_000_000;
        xdp.lease_with(VIP_SLOT, past, flags);
        let d = Delta::frame(Stat::LeaseExpiredDropped).slot(VIP_SLOT, C::LeaseExpiredDropped);
        assert_drop(
            &xdp,
            &to(VIP, L4::Tcp),
            d,
            &format!("expired lease (flags {flags})"),
        );
    }
}

#[test]
fn a_floating_ip_of_a_master_without_accept_mode_is_dropped_like_its_other_addresses() {
    // The same verdict whether or not the fast path made it a floating entry: without the fast
    // path the agent writes floating IPs as plain virtual addresses.
    let mut xdp = Xdp::load();
    xdp.floating(FIP, [10, 0, 0, 5], FIP_SLOT, (LOOPBACK_IFINDEX, 0), false);
    xdp.own_without_accept(FIP_SLOT);
    assert_drop(
        &xdp,
        &to(FIP, L4::Tcp),
        dropped_for_accept_mode(FIP_SLOT),
        "TCP to the floating IP",
    );
    xdp.own(FIP_SLOT);
    assert_eq!(
        xdp.run(&to(FIP, L4::Tcp)).action,
        XDP_PASS,
        "with Accept_Mode on, the kernel's NAT gets it"
    );
}
