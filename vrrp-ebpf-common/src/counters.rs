//! Counter maps: layout of the per-CPU arrays the XDP program increments and the agent sums.
//!
//! * [`ADVERTS_MAP`]: `PerCpuArray<u64>` with one slot per (VRID, VRRP version, address
//!   family), counting the adverts passed to the agent; see [`advert_slot`].
//! * [`STATS_MAP`]: `PerCpuArray<u64>` indexed by [`Stat`].

/// Map name of the per-(VRID, version, family) counters of passed adverts.
pub const ADVERTS_MAP: &str = "VRRP_ADVERTS";
/// Map name of the per-kind frame counters.
pub const STATS_MAP: &str = "VRRP_STATS";

/// Address family of an advert, as used in [`advert_slot`].
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4 = 0,
    Ipv6 = 1,
}

/// Number of slots in [`ADVERTS_MAP`]: 256 VRIDs x 2 versions x 2 families.
pub const ADVERT_SLOTS: u32 = 256 * 2 * 2;

/// Slot of [`ADVERTS_MAP`] for an advert. `version` must be 2 or 3 (anything else is
/// malformed and never counted here); `v3` selects the version bit.
#[inline(always)]
pub const fn advert_slot(vrid: u8, v3: bool, family: Family) -> u32 {
    ((vrid as u32) << 2) | ((v3 as u32) << 1) | (family as u32)
}

/// Inverse of [`advert_slot`]: `(vrid, version, family)`.
pub const fn advert_slot_key(slot: u32) -> (u8, u8, Family) {
    let vrid = (slot >> 2) as u8;
    let version = if slot & 2 != 0 { 3 } else { 2 };
    let family = if slot & 1 != 0 {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    (vrid, version, family)
}

/// Indexes of [`STATS_MAP`].
///
/// `Frames` counts every frame the program saw; every frame is also counted in exactly one
/// *class*, the other kinds, which name the verdict and its reason:
///
/// | class | action |
/// |---|---|
/// | `NotVrrp` | pass untouched |
/// | `Adverts` | pass |
/// | `AdvertBadChecksum`, `AdvertUnverified` | pass (the agent refuses, counts and logs) |
/// | `Malformed*` | drop |
/// | `AdvertBadTtl`, `AdvertUnknownInstance`, `AdvertSpoofed` | drop |
/// | `VipPassed` | pass |
/// | `NotOwnedDropped`, `LeaseExpiredDropped`, `AcceptModeDropped` | drop |
/// | `Redirected` | redirect (forwarded by the fast path, translated if a floating IP) |
/// | `PassedToKernel`, `TtlExpiring`, `EgressNoXdp`, `KernelPath` | pass untouched |
///
/// So `Frames` equals the sum of all the other kinds.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stat {
    /// Every frame the program saw.
    Frames = 0,
    /// Well-formed frames that are neither VRRP nor to/from an address this program manages
    /// (or from a fixed IP whose floating IP does not apply: east-west, or not owned); passed
    /// untouched.
    NotVrrp = 1,
    /// Valid VRRP adverts of a configured instance, passed to the agent (also counted per VRID
    /// in [`ADVERTS_MAP`]).
    Adverts = 2,
    /// Shorter than an Ethernet header, or than the VLAN tag it announces.
    MalformedL2 = 3,
    /// IPv4/IPv6 header truncated, bad IHL, wrong IP version nibble, or an IP length field
    /// that claims more bytes than the frame holds; or an ARP header cut short.
    MalformedL3 = 4,
    /// VRRP (protocol 112) but shorter than the 8-byte VRRP header.
    MalformedVrrpTruncated = 5,
    /// VRRP version other than 2 or 3, or a type other than advertisement.
    MalformedVrrpVersion = 6,
    /// Address count (and v2 auth data) does not fit the IP payload length.
    MalformedVrrpLength = 7,
    /// VRRP in an IPv4 fragment (adverts are never fragmented).
    MalformedVrrpFragment = 8,
    /// Well-formed advert with an IPv4 TTL / IPv6 hop limit other than 255: dropped.
    AdvertBadTtl = 9,
    /// Well-formed advert for a (router, interface, VRID, family) with no instance: dropped.
    AdvertUnknownInstance = 10,
    /// Well-formed advert whose source is not in the instance's allow-list: dropped.
    AdvertSpoofed = 11,
    /// To a virtual address we own (or ARP / neighbour solicitation for it): passed.
    VipPassed = 12,
    /// To a virtual address we do not own (or ARP / neighbour solicitation for it): dropped.
    NotOwnedDropped = 13,
    /// Same, because the owner's lease ran out: dropped.
    LeaseExpiredDropped = 14,
    /// Forwarded by the fast path (`XDP_REDIRECT` through the devmap to a device that takes
    /// XDP frames), translated if it is floating-IP traffic.
    Redirected = 15,
    /// Of a fast-path class but left to the kernel untouched: fragment, IPv4 options, VLAN
    /// tag, a protocol or ICMP type the fast path does not handle, no route or unresolved
    /// neighbour, larger than the egress MTU.
    PassedToKernel = 16,
    /// Of a fast-path class with TTL <= 1: left to the kernel untouched, which answers with
    /// ICMP time exceeded.
    TtlExpiring = 17,
    /// Would have been forwarded, but the egress device does not take XDP frames (a veth
    /// whose peer runs no NAPI): left to the kernel untouched.
    EgressNoXdp = 18,
    /// Owned routed traffic for which the fast path is off or not eligible: left to the
    /// kernel untouched.
    KernelPath = 19,
    /// IPv4 / IPv6 addressed to a virtual address of a master whose Accept_Mode is off and
    /// which is not the address owner (RFC 9568 §6.4.3): dropped. ARP and IPv6 neighbour
    /// solicitations and advertisements are not (they are `VipPassed`).
    AcceptModeDropped = 20,
    /// Advert of a configured instance whose VRRP checksum matches no form (VRRPv2 and
    /// VRRPv3 over IPv6: their one form; VRRPv3 over IPv4: RFC 9568's message-only form or
    /// the pseudo-header form keepalived 2.2 and FRR send). Passed, not as an advert: the
    /// agent refuses it and logs it with its source.
    AdvertBadChecksum = 21,
    /// Advert of a configured instance too long for the program to verify its checksum
    /// (more than [`MAX_VERIFIED_VRRP_LEN`](crate::proto::MAX_VERIFIED_VRRP_LEN) bytes):
    /// passed for the agent to check.
    AdvertUnverified = 22,
}

/// Number of slots in [`STATS_MAP`].
pub const STAT_COUNT: u32 = 23;

impl Stat {
    /// All kinds in index order (for printing).
    pub const ALL: [Stat; STAT_COUNT as usize] = [
        Stat::Frames,
        Stat::NotVrrp,
        Stat::Adverts,
        Stat::MalformedL2,
        Stat::MalformedL3,
        Stat::MalformedVrrpTruncated,
        Stat::MalformedVrrpVersion,
        Stat::MalformedVrrpLength,
        Stat::MalformedVrrpFragment,
        Stat::AdvertBadTtl,
        Stat::AdvertUnknownInstance,
        Stat::AdvertSpoofed,
        Stat::VipPassed,
        Stat::NotOwnedDropped,
        Stat::LeaseExpiredDropped,
        Stat::Redirected,
        Stat::PassedToKernel,
        Stat::TtlExpiring,
        Stat::EgressNoXdp,
        Stat::KernelPath,
        Stat::AcceptModeDropped,
        Stat::AdvertBadChecksum,
        Stat::AdvertUnverified,
    ];

    /// Stable snake_case name used in logs and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Stat::Frames => "frames",
            Stat::NotVrrp => "not_vrrp",
            Stat::Adverts => "adverts",
            Stat::MalformedL2 => "malformed_l2",
            Stat::MalformedL3 => "malformed_l3",
            Stat::MalformedVrrpTruncated => "malformed_vrrp_truncated",
            Stat::MalformedVrrpVersion => "malformed_vrrp_version",
            Stat::MalformedVrrpLength => "malformed_vrrp_length",
            Stat::MalformedVrrpFragment => "malformed_vrrp_fragment",
            Stat::AdvertBadTtl => "advert_bad_ttl",
            Stat::AdvertUnknownInstance => "advert_unknown_instance",
            Stat::AdvertSpoofed => "advert_spoofed",
            Stat::VipPassed => "vip_passed",
            Stat::NotOwnedDropped => "not_owned_dropped",
            Stat::LeaseExpiredDropped => "lease_expired_dropped",
            Stat::Redirected => "redirected",
            Stat::PassedToKernel => "passed_to_kernel",
            Stat::TtlExpiring => "ttl_expiring",
            Stat::EgressNoXdp => "egress_no_xdp",
            Stat::KernelPath => "kernel_path",
            Stat::AcceptModeDropped => "accept_mode_dropped",
            Stat::AdvertBadChecksum => "advert_bad_checksum",
            Stat::AdvertUnverified => "advert_unverified",
        }
    }

    /// Whether this kind counts a malformed frame.
    pub const fn is_malformed(self) -> bool {
        matches!(
            self,
            Stat::MalformedL2
                | Stat::MalformedL3
                | Stat::MalformedVrrpTruncated
                | Stat::MalformedVrrpVersion
                | Stat::MalformedVrrpLength
                | Stat::MalformedVrrpFragment
        )
    }

    /// Whether frames of this kind are dropped.
    pub const fn is_drop(self) -> bool {
        self.is_malformed()
            || matches!(
                self,
                Stat::AdvertBadTtl
                    | Stat::AdvertUnknownInstance
                    | Stat::AdvertSpoofed
                    | Stat::NotOwnedDropped
                    | Stat::LeaseExpiredDropped
                    | Stat::AcceptModeDropped
            )
    }
}

const _: () = assert!(Stat::ALL.len() == STAT_COUNT as usize);
const _: () = assert!(Stat::AdvertUnverified as u32 == STAT_COUNT - 1);
const _: () = assert!(advert_slot(255, true, Family::Ipv6) == ADVERT_SLOTS - 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advert_slot_round_trips() {
        for vrid in 0..=255u8 {
            for v3 in [false, true] {
                for family in [Family::Ipv4, Family::Ipv6] {
                    let slot = advert_slot(vrid, v3, family);
                    assert!(slot < ADVERT_SLOTS);
                    assert_eq!(
                        advert_slot_key(slot),
                        (vrid, if v3 { 3 } else { 2 }, family)
                    );
                }
            }
        }
    }

    #[test]
    fn stat_indexes_are_dense() {
        for (i, s) in Stat::ALL.iter().enumerate() {
            assert_eq!(*s as u32, i as u32);
        }
    }

    #[test]
    fn stat_names_are_unique() {
        for (i, a) in Stat::ALL.iter().enumerate() {
            for b in &Stat::ALL[i + 1..] {
                assert_ne!(a.name(), b.name());
            }
        }
    }

    #[test]
    fn drops_are_the_malformed_kinds_and_the_policy_drops() {
        let drops: Vec<Stat> = Stat::ALL.into_iter().filter(|s| s.is_drop()).collect();
        assert_eq!(
            drops,
            [
                Stat::MalformedL2,
                Stat::MalformedL3,
                Stat::MalformedVrrpTruncated,
                Stat::MalformedVrrpVersion,
                Stat::MalformedVrrpLength,
                Stat::MalformedVrrpFragment,
                Stat::AdvertBadTtl,
                Stat::AdvertUnknownInstance,
                Stat::AdvertSpoofed,
                Stat::NotOwnedDropped,
                Stat::LeaseExpiredDropped,
                Stat::AcceptModeDropped,
            ]
        );
        assert_eq!(Stat::ALL.iter().filter(|s| s.is_malformed()).count(), 6);
    }
}
