//! The per-CPU counter maps and the one function that updates them from a classification.
//! Layout and names come from `vrrp_ebpf_common::counters`.

use aya_ebpf::{macros::map, maps::PerCpuArray};
use vrrp_ebpf_common::counters::{ADVERT_SLOTS, STAT_COUNT, Stat, advert_slot};

use crate::parse::Frame;

/// Adverts per (VRID, version, family); see `vrrp_ebpf_common::counters::ADVERTS_MAP`.
#[map]
static VRRP_ADVERTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(ADVERT_SLOTS, 0);

/// Frames per kind; see `vrrp_ebpf_common::counters::STATS_MAP`.
#[map]
static VRRP_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(STAT_COUNT, 0);

#[inline(always)]
fn bump(map: &PerCpuArray<u64>, index: u32) {
    if let Some(slot) = map.get_ptr_mut(index) {
        // SAFETY: the pointer comes from the map lookup and is valid for this CPU's slot;
        // per-CPU storage means no other program instance writes it concurrently.
        unsafe { *slot += 1 };
    }
}

/// Counts one classified frame: always `Frames`, plus exactly one kind.
#[inline(always)]
pub fn record(frame: Frame) {
    bump(&VRRP_STATS, Stat::Frames as u32);
    match frame {
        Frame::NotVrrp => bump(&VRRP_STATS, Stat::NotVrrp as u32),
        Frame::Advert { vrid, v3, family } => {
            bump(&VRRP_STATS, Stat::Adverts as u32);
            bump(&VRRP_ADVERTS, advert_slot(vrid, v3, family));
        }
        Frame::Malformed(kind) => bump(&VRRP_STATS, kind as u32),
    }
}
