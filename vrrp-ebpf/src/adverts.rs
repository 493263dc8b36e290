//! The checks a well-formed VRRP advert must pass before the agent sees it: TTL / hop limit
//! 255 (RFC 9568 §7.1; waived for the configured peers of a unicast instance, as keepalived
//! waives it), a configured instance for (router, ingress interface, VRID, family), and,
//! when the instance has an allow-list, a source address in it. Then its checksum
//! (`advert_csum`): an advert that fails it, or is too long to verify, is passed to the
//! agent under its own counter, never as a passed advert. Owns the instance and peer maps.

use aya_ebpf::{bindings::BPF_F_NO_PREALLOC, macros::map, maps::HashMap, programs::XdpContext};
use vrrp_ebpf_common::{
    counters::{Family, Stat},
    dataplane::{
        FAMILY_IPV4, FAMILY_IPV6, INSTANCE_FLAG_ALLOWLIST, INSTANCE_FLAG_UNICAST_ANY_TTL,
        InstanceCounter, InstanceKey, InstanceValue, MAX_ADDRESSES, MAX_SLOTS, PeerKey,
    },
};

use crate::{
    advert_csum::{self, Check},
    counters::{self, Verdict},
    parse::Vrrp,
};

/// See `vrrp_ebpf_common::dataplane::INSTANCES_MAP`.
#[map]
static VRRP_INSTANCES: HashMap<InstanceKey, InstanceValue> =
    HashMap::with_max_entries(MAX_SLOTS, BPF_F_NO_PREALLOC);

/// See `vrrp_ebpf_common::dataplane::PEERS_MAP`.
#[map]
static VRRP_PEERS: HashMap<PeerKey, u8> =
    HashMap::with_max_entries(MAX_ADDRESSES, BPF_F_NO_PREALLOC);

/// A structurally valid advert and the IP fields the checks need.
pub struct Advert {
    pub vrrp: Vrrp,
    pub family: Family,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Source and destination addresses (IPv4 in the first 4 bytes, the rest zero).
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

/// RFC 5798 §5.1.1.3 / §5.1.2.3: adverts are sent with TTL / hop limit 255 and a receiver
/// must drop anything else (which can only come from off-link).
const VRRP_TTL: u8 = 255;

/// The verdict for one advert; counts it per slot (when the instance is known) and per VRID
/// (when passed). A BPF subprogram (not inlined): the IPv4 and IPv6 paths share one copy.
#[inline(never)]
pub fn check(ctx: &XdpContext, advert: &Advert) -> Verdict {
    let family = match advert.family {
        Family::Ipv4 => FAMILY_IPV4,
        Family::Ipv6 => FAMILY_IPV6,
    };
    let key = InstanceKey {
        router: crate::router_id(),
        ifindex: ctx.ingress_ifindex() as u32,
        vrid: advert.vrrp.vrid,
        family,
        _pad: [0; 2],
    };
    let instance = VRRP_INSTANCES.get_ptr(key).map(|p| {
        // SAFETY: a pointer from a map lookup is valid for reading the value.
        unsafe { *p }
    });
    let listed = |slot: u32| {
        VRRP_PEERS
            .get_ptr(PeerKey {
                slot,
                family,
                _pad: [0; 3],
                addr: advert.src,
            })
            .is_some()
    };
    if advert.ttl != VRRP_TTL {
        let Some(i) = instance else {
            return Verdict::drop(Stat::AdvertBadTtl);
        };
        if i.flags & INSTANCE_FLAG_UNICAST_ANY_TTL == 0 || !listed(i.slot) {
            counters::slot(i.slot, InstanceCounter::AdvertsBadTtl);
            return Verdict::drop(Stat::AdvertBadTtl);
        }
    }
    let Some(instance) = instance else {
        return Verdict::drop(Stat::AdvertUnknownInstance);
    };
    if instance.flags & INSTANCE_FLAG_ALLOWLIST != 0 && !listed(instance.slot) {
        counters::slot(instance.slot, InstanceCounter::AdvertsSpoofed);
        return Verdict::drop(Stat::AdvertSpoofed);
    }
    let (counter, stat) = match advert_csum::check(ctx, advert) {
        Check::Valid => (InstanceCounter::AdvertsPassed, Stat::Adverts),
        Check::Invalid => (InstanceCounter::AdvertsBadChecksum, Stat::AdvertBadChecksum),
        Check::Unverified => (InstanceCounter::AdvertsUnverified, Stat::AdvertUnverified),
    };
    counters::slot(instance.slot, counter);
    if stat != Stat::Adverts {
        return Verdict::pass(stat);
    }
    counters::advert(advert.vrrp.vrid, advert.vrrp.v3, advert.family);
    Verdict::pass(Stat::Adverts)
}
