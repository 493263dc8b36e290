//! Counter maps: layout of the per-CPU arrays the XDP program increments and the agent sums.
//!
//! * [`ADVERTS_MAP`]: `PerCpuArray<u64>` with one slot per (VRID, VRRP version, address
//!   family); see [`advert_slot`].
//! * [`STATS_MAP`]: `PerCpuArray<u64>` indexed by [`Stat`].

/// Map name of the per-(VRID, version, family) advert counters.
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

/// Indexes of [`STATS_MAP`]. Every frame the program sees lands in exactly one of
/// `NotVrrp`, `Adverts` or one of the `Malformed*` kinds; `Frames` counts them all.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stat {
    /// Every frame the program saw.
    Frames = 0,
    /// Well-formed frames that are not VRRP; passed untouched.
    NotVrrp = 1,
    /// Well-formed VRRP adverts (also counted per VRID in [`ADVERTS_MAP`]).
    Adverts = 2,
    /// Shorter than an Ethernet header, or than the VLAN tag it announces.
    MalformedL2 = 3,
    /// IPv4/IPv6 header truncated, bad IHL, wrong IP version nibble, or an IP length field
    /// that claims more bytes than the frame holds.
    MalformedL3 = 4,
    /// VRRP (protocol 112) but shorter than the 8-byte VRRP header.
    MalformedVrrpTruncated = 5,
    /// VRRP version other than 2 or 3, or a type other than advertisement.
    MalformedVrrpVersion = 6,
    /// Address count (and v2 auth data) does not fit the IP payload length.
    MalformedVrrpLength = 7,
    /// VRRP in an IPv4 fragment (adverts are never fragmented).
    MalformedVrrpFragment = 8,
}

/// Number of slots in [`STATS_MAP`].
pub const STAT_COUNT: u32 = 9;

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
        }
    }

    /// Whether this kind counts a malformed frame.
    pub const fn is_malformed(self) -> bool {
        (self as u32) >= (Stat::MalformedL2 as u32)
    }
}

const _: () = assert!(Stat::ALL.len() == STAT_COUNT as usize);
const _: () = assert!(Stat::MalformedVrrpFragment as u32 == STAT_COUNT - 1);
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
}
