//! Who owns an address: the virtual-address map (`VRRP_VIPS`), the per-slot leases
//! (`VRRP_OWNERS`, deadlines on the kernel's monotonic clock) with the owner's Accept_Mode,
//! and the verdict for traffic, ARP and neighbour solicitations aimed at a virtual address.

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    helpers::{bpf_ktime_get_coarse_ns, bpf_ktime_get_ns},
    macros::map,
    maps::{Array, HashMap},
};
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{
        AddrKey, InstanceCounter, MAX_ADDRESSES, MAX_SLOTS, OWNER_FLAG_ACCEPT, OwnerState, VipValue,
    },
};

use crate::counters::{self, Verdict};

/// See `vrrp_ebpf_common::dataplane::VIPS_MAP`.
#[map]
static VRRP_VIPS: HashMap<AddrKey, VipValue> =
    HashMap::with_max_entries(MAX_ADDRESSES, BPF_F_NO_PREALLOC);

/// See `vrrp_ebpf_common::dataplane::OWNERS_MAP`.
#[map]
static VRRP_OWNERS: Array<OwnerState> = Array::with_max_entries(MAX_SLOTS, 0);

/// How far the coarse monotonic clock may lag the precise one and still decide alone. It lags
/// by at most one scheduler tick (1-10 ms for HZ 1000-100); a lease further ahead than this
/// is owned whichever clock reads it.
const COARSE_LAG_NS: u64 = 20_000_000;

/// A slot's ownership right now.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The lease is in the future.
    Owned,
    /// Lease 0 (BACKUP, FAULT, INIT), or a slot beyond the map.
    Released,
    /// A lease that is in the past: the agent stopped renewing it.
    Expired,
}

/// The key of `addr` (IPv4 in the first 4 bytes) in this router.
#[inline(always)]
pub fn addr_key(family: u8, addr: [u8; 16]) -> AddrKey {
    AddrKey {
        router: crate::router_id(),
        family,
        _pad: [0; 3],
        addr,
    }
}

/// The virtual-address entry of `addr`, if it is one.
#[inline(always)]
pub fn vip(family: u8, addr: [u8; 16]) -> Option<VipValue> {
    VRRP_VIPS.get_ptr(addr_key(family, addr)).map(|p| {
        // SAFETY: a pointer from a map lookup is valid for reading the value.
        unsafe { *p }
    })
}

/// The ownership of `slot` now.
#[inline(always)]
pub fn owner(slot: u32) -> Owner {
    owner_of(slot).0
}

/// The ownership of `slot` now, and whether its owner accepts IPv4 / IPv6 packets addressed
/// to its virtual addresses (`OWNER_FLAG_ACCEPT`: Accept_Mode on, or the address owner).
#[inline(always)]
pub fn owner_of(slot: u32) -> (Owner, bool) {
    let Some(state) = VRRP_OWNERS.get_ptr(slot) else {
        return (Owner::Released, false);
    };
    // SAFETY: a pointer from an array lookup is valid for reading; the agent replaces the
    // value with one 8-byte-aligned write of the lease, so the read sees the old or new one.
    let lease = unsafe { core::ptr::read_volatile(&(*state).lease_deadline_ns) };
    // SAFETY: as above. A plain read, so callers that only want the lease do not pay for it;
    // flags torn from their lease (a concurrent write) only last until the next packet.
    let accept = unsafe { (*state).flags } & OWNER_FLAG_ACCEPT != 0;
    (lease_owner(lease), accept)
}

/// Whether a lease deadline is in the future.
#[inline(always)]
fn lease_owner(lease: u64) -> Owner {
    if lease == 0 {
        return Owner::Released;
    }
    // The coarse clock (the time of the last tick, a few ns to read) decides unless the
    // deadline is within its lag; only then is the precise clock read (~40 ns on a VM, more
    // than the rest of the owned-VIP path). A master renews its lease every advert, long
    // before its last 20 ms, so forwarding never reads the precise clock; expiry is exact.
    // SAFETY: a helper without arguments or side effects.
    let coarse = unsafe { bpf_ktime_get_coarse_ns() };
    if lease > coarse.saturating_add(COARSE_LAG_NS) {
        return Owner::Owned;
    }
    // The coarse clock never runs ahead of the precise one: a deadline it has passed has
    // passed.
    if lease <= coarse {
        return Owner::Expired;
    }
    // SAFETY: as above.
    let now = unsafe { bpf_ktime_get_ns() };
    if lease > now {
        Owner::Owned
    } else {
        Owner::Expired
    }
}

/// The verdict for an ARP request / reply or an ICMPv6 neighbour solicitation for a virtual
/// address: passed while owned (the master must answer them, RFC 9568 §6.4.3, whatever its
/// Accept_Mode), dropped otherwise; counted in its slot.
#[inline(always)]
pub fn check(vip: &VipValue) -> Verdict {
    match owner(vip.slot) {
        Owner::Owned => passed(vip.slot),
        owner => deny(vip.slot, owner),
    }
}

/// The verdict for an IPv4 / IPv6 packet addressed to a virtual address (not a floating IP
/// the fast path may translate, see `main`): dropped while not owned; while owned, passed if the owner accepts such packets
/// (RFC 9568 §6.4.3: Accept_Mode on, or the address owner) or `is_nd()` says it is an IPv6
/// neighbour solicitation or advertisement (never dropped for Accept_Mode, §6.1), dropped
/// otherwise. Counted in its slot.
#[inline(always)]
pub fn check_traffic(vip: &VipValue, is_nd: impl FnOnce() -> bool) -> Verdict {
    match owner_of(vip.slot) {
        (Owner::Owned, accept) if accept || is_nd() => passed(vip.slot),
        (Owner::Owned, _) => refuse(vip.slot),
        (owner, _) => deny(vip.slot, owner),
    }
}

/// The drop verdict for a packet addressed to a virtual address of an owned slot whose owner
/// does not accept such packets (Accept_Mode off, not the address owner).
#[inline(always)]
pub fn refuse(slot: u32) -> Verdict {
    count_refused(slot);
    Verdict::drop(Stat::AcceptModeDropped)
}

/// Not inlined: three paths refuse, and only a master with Accept_Mode off ever does (a
/// BPF-to-BPF call keeps the program small).
#[inline(never)]
fn count_refused(slot: u32) {
    counters::slot(slot, InstanceCounter::AcceptModeDropped);
}

#[inline(always)]
fn passed(slot: u32) -> Verdict {
    counters::slot(slot, InstanceCounter::VipPassed);
    Verdict::pass(Stat::VipPassed)
}

/// The drop verdict for traffic of a slot that is not owned, counted by why.
#[inline(always)]
pub fn deny(slot: u32, owner: Owner) -> Verdict {
    if owner == Owner::Expired {
        counters::slot(slot, InstanceCounter::LeaseExpiredDropped);
        Verdict::drop(Stat::LeaseExpiredDropped)
    } else {
        counters::slot(slot, InstanceCounter::NotOwnedDropped);
        Verdict::drop(Stat::NotOwnedDropped)
    }
}
