//! The per-CPU counter maps, the functions that bump them, and [`Verdict`] (an XDP action with
//! the one class its frame is counted in). Layouts and names come from
//! `vrrp_ebpf_common::counters` and `vrrp_ebpf_common::dataplane`.

use aya_ebpf::{bindings::xdp_action, macros::map, maps::PerCpuArray};
use vrrp_ebpf_common::{
    counters::{ADVERT_SLOTS, Family, STAT_COUNT, Stat, advert_slot},
    dataplane::{InstanceCounter, InstanceCounters, MAX_SLOTS},
};

/// Passed adverts per (VRID, version, family); see `vrrp_ebpf_common::counters::ADVERTS_MAP`.
#[map]
static VRRP_ADVERTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(ADVERT_SLOTS, 0);

/// Frames per class; see `vrrp_ebpf_common::counters::STATS_MAP`.
#[map]
static VRRP_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(STAT_COUNT, 0);

/// Per-instance counters by slot; see `vrrp_ebpf_common::dataplane::INSTANCE_COUNTERS_MAP`.
#[map]
static VRRP_INSTANCE_COUNTERS: PerCpuArray<InstanceCounters> =
    PerCpuArray::with_max_entries(MAX_SLOTS, 0);

/// What happens to a frame: the XDP action, and the class it is counted in.
#[derive(Clone, Copy)]
pub struct Verdict {
    pub action: u32,
    pub class: Stat,
}

impl Verdict {
    pub const fn pass(class: Stat) -> Self {
        Self {
            action: xdp_action::XDP_PASS,
            class,
        }
    }

    pub const fn drop(class: Stat) -> Self {
        Self {
            action: xdp_action::XDP_DROP,
            class,
        }
    }
}

#[inline(always)]
fn bump(map: &PerCpuArray<u64>, index: u32) {
    if let Some(slot) = map.get_ptr_mut(index) {
        // SAFETY: the pointer comes from the map lookup and is valid for this CPU's slot;
        // per-CPU storage means no other program instance writes it concurrently.
        unsafe { *slot += 1 };
    }
}

/// Counts one frame: `Frames` plus its class. Called exactly once per frame.
#[inline(always)]
pub fn record(class: Stat) {
    bump(&VRRP_STATS, Stat::Frames as u32);
    bump(&VRRP_STATS, class as u32);
}

/// Counts one passed advert for its (VRID, version, family).
#[inline(always)]
pub fn advert(vrid: u8, v3: bool, family: Family) {
    bump(&VRRP_ADVERTS, advert_slot(vrid, v3, family));
}

/// Counts one event of an instance slot (slots beyond the map are ignored).
#[inline(always)]
pub fn slot(slot: u32, counter: InstanceCounter) {
    if let Some(c) = VRRP_INSTANCE_COUNTERS.get_ptr_mut(slot) {
        // SAFETY: as in `bump`.
        let values = unsafe { &mut (*c).values };
        // `get_mut`: no panic path for the verifier to reject (every counter is in range).
        if let Some(v) = values.get_mut(counter as usize) {
            *v += 1;
        }
    }
}
