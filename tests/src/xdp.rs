//! Running the real XDP program on single frames with BPF_PROG_TEST_RUN and observing exactly
//! which counters moved (frame classes, passed adverts per VRID, and the per-instance counters
//! of the slots a test watches), plus writing the program's maps through the agent's API.

use std::collections::BTreeMap;

use vrrp_agent::dataplane::{CounterSnapshot, Dataplane, LoadOptions, TestRunOutcome};
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{
        AddrKey, INSTANCE_COUNTER_COUNT, InstanceCounter, InstanceKey, InstanceValue,
        NAT_OUT_FLAG_FAST, NO_SLOT, NatOutValue, OWNER_FLAG_ACCEPT, OwnerState, PORT_FLAG_GATEWAY,
        PORT_FLAG_TX, PeerKey, PortKey, PortValue, VIP_FLAG_FAST_IN, VIP_KIND_FLOATING, VipValue,
    },
};

use crate::netns::NetNs;

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_REDIRECT: u32 = 4;

/// Without an ingress interface, BPF_PROG_TEST_RUN runs the program as if the frame arrived
/// on the loopback device of the calling thread's namespace, whose index is always 1.
pub const LOOPBACK_IFINDEX: u32 = 1;

/// The kernel's monotonic clock (`bpf_ktime_get_ns`) now, in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("clock_gettime(CLOCK_MONOTONIC)");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// A loaded program instance with the test-side state to drive it.
pub struct Xdp {
    pub dp: Dataplane,
    pub router: u32,
    /// Slots whose per-instance counters [`Xdp::run`] compares.
    watched: Vec<u32>,
    /// Namespace and interface index the frames arrive on (`None`: this thread's loopback).
    ingress: Option<(String, u32)>,
}

impl Xdp {
    /// A private instance (its own maps, so parallel tests never see each other's counts)
    /// for router 0.
    pub fn load() -> Self {
        Self::load_router(0)
    }

    /// A private instance for `router`.
    pub fn load_router(router: u32) -> Self {
        crate::require_root();
        let opts = LoadOptions {
            router_id: router,
            ..Default::default()
        };
        Self::new(
            Dataplane::load(&opts).unwrap_or_else(|e| panic!("{e}")),
            router,
        )
    }

    pub fn new(dp: Dataplane, router: u32) -> Self {
        Self {
            dp,
            router,
            watched: Vec::new(),
            ingress: None,
        }
    }

    /// From now on, frames arrive on interface `ifindex` of `ns`.
    pub fn arrive_on(&mut self, ns: &NetNs, ifindex: u32) {
        self.ingress = Some((ns.name().to_string(), ifindex));
    }

    /// Compares the counters of `slot` in every run from now on.
    pub fn watch(&mut self, slot: u32) {
        if !self.watched.contains(&slot) {
            self.watched.push(slot);
        }
    }

    /// Registers a VRRP instance of this router and watches its slot.
    pub fn instance(&mut self, ifindex: u32, vrid: u8, family: u8, slot: u32, flags: u32) {
        let key = InstanceKey {
            router: self.router,
            ifindex,
            vrid,
            family,
            _pad: [0; 2],
        };
        self.dp
            .upsert_instance(key, InstanceValue { slot, flags })
            .expect("upsert instance");
        self.watch(slot);
    }

    /// Sets the lease of `slot` (0: released), with Accept_Mode on (the agent's default, as
    /// keepalived's without `vrrp_strict`).
    pub fn lease(&mut self, slot: u32, lease_deadline_ns: u64) {
        self.lease_with(slot, lease_deadline_ns, OWNER_FLAG_ACCEPT);
    }

    /// Sets the lease of `slot` and its owner flags (`OWNER_FLAG_ACCEPT` or 0).
    pub fn lease_with(&mut self, slot: u32, lease_deadline_ns: u64, flags: u32) {
        self.dp
            .set_owner(
                slot,
                OwnerState {
                    lease_deadline_ns,
                    flags,
                    _pad: 0,
                },
            )
            .expect("set owner");
        self.watch(slot);
    }

    /// Owns `slot` for the next minute (Accept_Mode on).
    pub fn own(&mut self, slot: u32) {
        self.lease(slot, monotonic_ns() + 60_000_000_000);
    }

    /// Owns `slot` for the next minute with Accept_Mode off, not the address owner: packets
    /// addressed to its virtual addresses are not accepted (RFC 9568 §6.4.3).
    pub fn own_without_accept(&mut self, slot: u32) {
        self.lease_with(slot, monotonic_ns() + 60_000_000_000, 0);
    }

    /// A key of this router's address maps.
    pub fn addr_key(&self, family: u8, addr: [u8; 16]) -> AddrKey {
        AddrKey {
            router: self.router,
            family,
            _pad: [0; 3],
            addr,
        }
    }

    /// Adds a virtual address of `kind` (`VIP_KIND_VIRTUAL` or `VIP_KIND_KERNEL`) and watches
    /// its slot.
    pub fn vip(&mut self, family: u8, addr: [u8; 16], slot: u32, kind: u8) {
        let key = self.addr_key(family, addr);
        self.dp
            .upsert_vip(
                key,
                VipValue {
                    slot,
                    kind,
                    flags: 0,
                    _pad: [0; 2],
                    nat_addr: [0; 4],
                    ext_ifindex: 0,
                    int_ifindex: 0,
                },
            )
            .expect("upsert vip");
        self.watch(slot);
    }

    /// Adds both sides of a floating IP `floating` ↔ `fixed` on external interface `ext`
    /// whose fixed IP is behind `int_ifindex`, with the fast path on for both directions or
    /// off, and watches its slot.
    pub fn floating(
        &mut self,
        floating: [u8; 4],
        fixed: [u8; 4],
        slot: u32,
        (ext_ifindex, int_ifindex): (u32, u32),
        fast: bool,
    ) {
        use vrrp_ebpf_common::dataplane::{FAMILY_IPV4, addr_v4};
        let key = self.addr_key(FAMILY_IPV4, addr_v4(floating));
        self.dp
            .upsert_vip(
                key,
                VipValue {
                    slot,
                    kind: VIP_KIND_FLOATING,
                    flags: if fast { VIP_FLAG_FAST_IN } else { 0 },
                    _pad: [0; 2],
                    nat_addr: fixed,
                    ext_ifindex,
                    int_ifindex,
                },
            )
            .expect("upsert floating vip");
        let key = self.addr_key(FAMILY_IPV4, addr_v4(fixed));
        self.dp
            .upsert_nat_out(
                key,
                NatOutValue {
                    slot,
                    ext_ifindex,
                    floating,
                    flags: if fast { NAT_OUT_FLAG_FAST } else { 0 },
                    int_ifindex,
                },
            )
            .expect("upsert nat out");
        self.watch(slot);
    }

    /// Describes interface `ifindex` (MAC `mac`) to the program: `slot` is the instance whose
    /// gateway it is (`None`: nobody's), `flags` the `PORT_FLAG_ROUTE_*` bits; with `tx`
    /// it also goes into the devmap (from inside the namespace frames arrive in, see
    /// [`Xdp::arrive_on`], which must be called first), so it takes redirected frames.
    pub fn port(&mut self, ifindex: u32, mac: [u8; 6], slot: Option<u32>, flags: u16, tx: bool) {
        let mut flags = flags;
        if slot.is_some() {
            flags |= PORT_FLAG_GATEWAY;
        }
        if tx {
            flags |= PORT_FLAG_TX;
            let key = 1000 + ifindex;
            let dp = &mut self.dp;
            let ns = self.ingress.as_ref().map(|(n, _)| n.clone());
            vrrp_agent::netns::run_in(ns.as_deref(), || dp.upsert_tx(key, ifindex))
                .expect("enter namespace")
                .expect("upsert tx");
        }
        self.dp
            .upsert_port(
                PortKey {
                    router: self.router,
                    ifindex,
                },
                PortValue {
                    slot: slot.unwrap_or(NO_SLOT),
                    mac,
                    flags,
                    tx: 1000 + ifindex,
                },
            )
            .expect("upsert port");
        if let Some(slot) = slot {
            self.watch(slot);
        }
    }

    /// Makes `ifindex` (with MAC `mac`) a gateway interface of `slot` (no fast path) and
    /// watches the slot.
    pub fn gateway(&mut self, ifindex: u32, slot: u32, mac: [u8; 6]) {
        self.port(ifindex, mac, Some(slot), 0, false);
    }

    /// Allows adverts from `addr` for `slot`.
    pub fn peer(&mut self, slot: u32, family: u8, addr: [u8; 16]) {
        self.dp
            .add_peer(PeerKey {
                slot,
                family,
                _pad: [0; 3],
                addr,
            })
            .expect("add peer");
    }

    pub fn counters(&self) -> CounterSnapshot {
        self.dp.counters().expect("read counters")
    }

    fn snapshot(
        &self,
    ) -> (
        CounterSnapshot,
        BTreeMap<u32, [u64; INSTANCE_COUNTER_COUNT]>,
    ) {
        let slots = self
            .watched
            .iter()
            .map(|s| (*s, self.dp.instance_counters(*s).expect("slot counters")))
            .collect();
        (self.counters(), slots)
    }

    /// BPF_PROG_TEST_RUN on the configured ingress.
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> anyhow::Result<TestRunOutcome> {
        match &self.ingress {
            None => Ok(self.dp.test_run(frame, repeat)?),
            Some((ns, ifindex)) => {
                let dp = &self.dp;
                Ok(vrrp_agent::netns::run_in(Some(ns), || {
                    dp.test_run_on(frame, Some(*ifindex), repeat)
                })??)
            }
        }
    }

    /// Runs the program once on `frame`.
    pub fn run(&self, frame: &[u8]) -> Observed {
        let before = self.snapshot();
        let outcome = self.test_run(frame, 1).expect("BPF_PROG_TEST_RUN");
        let after = self.snapshot();
        Observed {
            action: outcome.action,
            data_out: outcome.data_out,
            delta: Delta::between(&before, &after),
        }
    }
}

/// Counter changes caused by one frame: every non-zero delta, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub stats: BTreeMap<&'static str, u64>,
    pub adverts: BTreeMap<(u8, u8, &'static str), u64>,
    pub slots: BTreeMap<(u32, &'static str), u64>,
}

impl Delta {
    /// The delta of one frame counted in class `kind`.
    pub fn frame(kind: Stat) -> Self {
        let mut stats = BTreeMap::new();
        stats.insert(Stat::Frames.name(), 1);
        stats.insert(kind.name(), 1);
        Self {
            stats,
            ..Self::default()
        }
    }

    /// The delta of one passed advert (add its slot with [`Delta::slot`]).
    pub fn advert(vrid: u8, version: u8, ipv6: bool) -> Self {
        let mut d = Self::frame(Stat::Adverts);
        d.adverts
            .insert((vrid, version, if ipv6 { "ipv6" } else { "ipv4" }), 1);
        d
    }

    /// Adds one count of `counter` in `slot`.
    pub fn slot(mut self, slot: u32, counter: InstanceCounter) -> Self {
        *self.slots.entry((slot, counter.name())).or_default() += 1;
        self
    }

    fn between(
        before: &(
            CounterSnapshot,
            BTreeMap<u32, [u64; INSTANCE_COUNTER_COUNT]>,
        ),
        after: &(
            CounterSnapshot,
            BTreeMap<u32, [u64; INSTANCE_COUNTER_COUNT]>,
        ),
    ) -> Self {
        let mut d = Self::default();
        for (name, a) in &after.0.stats {
            let b = before.0.stats.get(name).copied().unwrap_or(0);
            assert!(*a >= b, "counter {name} went backwards");
            if a > &b {
                d.stats.insert(*name, a - b);
            }
        }
        for a in &after.0.adverts {
            let b = before
                .0
                .adverts
                .iter()
                .find(|x| (x.vrid, x.version, x.family) == (a.vrid, a.version, a.family))
                .map_or(0, |x| x.count);
            if a.count > b {
                d.adverts.insert((a.vrid, a.version, a.family), a.count - b);
            }
        }
        for (slot, values) in &after.1 {
            let old = before.1.get(slot).copied().unwrap_or_default();
            for (i, counter) in InstanceCounter::ALL.iter().enumerate() {
                assert!(
                    values[i] >= old[i],
                    "slot {slot} {counter:?} went backwards"
                );
                if values[i] > old[i] {
                    d.slots.insert((*slot, counter.name()), values[i] - old[i]);
                }
            }
        }
        d
    }
}

/// What one run of the program did.
#[derive(Debug)]
pub struct Observed {
    pub action: u32,
    pub data_out: Vec<u8>,
    pub delta: Delta,
}

/// Runs the program on `frame` and asserts: `action`, the frame unchanged, exactly `expected`
/// counter movement.
#[track_caller]
pub fn assert_untouched(xdp: &Xdp, frame: &[u8], action: u32, expected: Delta, what: &str) {
    let seen = xdp.run(frame);
    assert_eq!(seen.action, action, "{what}: verdict");
    assert_eq!(
        seen.data_out, frame,
        "{what}: the program must not modify the frame"
    );
    assert_eq!(seen.delta, expected, "{what}: counter movement");
}

/// XDP_PASS, frame unchanged, exactly `expected` counter movement.
#[track_caller]
pub fn assert_pass(xdp: &Xdp, frame: &[u8], expected: Delta, what: &str) {
    assert_untouched(xdp, frame, XDP_PASS, expected, what);
}

/// XDP_DROP, frame unchanged, exactly `expected` counter movement.
#[track_caller]
pub fn assert_drop(xdp: &Xdp, frame: &[u8], expected: Delta, what: &str) {
    assert_untouched(xdp, frame, XDP_DROP, expected, what);
}
