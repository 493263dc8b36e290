//! The fast path of each router as the maps hold it: floating IPs (found in the namespace's own
//! NAT rules) become floating entries of the instance whose virtual address they are, flagged
//! fast only where the analysis proved them eligible; addresses a rule singles out become
//! kernel-only entries; every router interface gets its port entry (MAC, gateway instance,
//! devmap key when it takes XDP frames, plain-routing flags). Written whenever the router's
//! plan or its instances change; what a previous plan wrote and the new one does not is taken
//! back (a floating IP goes back to being a plain virtual address).
//!
//! Devmap entries are written from inside the router's namespace: the kernel resolves the
//! interface index in the writing thread's namespace.

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv4Addr},
};

use vrrp_ebpf_common::dataplane::{
    AddrKey, NAT_OUT_FLAG_FAST, NO_SLOT, NatOutValue, PORT_FLAG_GATEWAY, PORT_FLAG_ROUTE_IN,
    PORT_FLAG_ROUTE_OUT, PORT_FLAG_TX, PortKey, PortValue, VIP_FLAG_FAST_IN, VIP_KIND_FLOATING,
    VIP_KIND_KERNEL, VIP_KIND_VIRTUAL, VipValue,
};

use super::{
    DataplaneError,
    manager::{Manager, addr_key},
};

/// A floating IP for the maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FipMap {
    pub floating: Ipv4Addr,
    pub fixed: Ipv4Addr,
    /// Where it lives (inbound translation applies only there).
    pub ext_ifindex: u32,
    /// Where its fixed IP is routed (0: unknown).
    pub int_ifindex: u32,
    /// Eligible for the fast path.
    pub fast: bool,
    /// Held back for now: conntrack still translates connections of the fixed IP another way,
    /// so both directions stay on the kernel path (a connection the fast path opened inbound
    /// would otherwise have its first reply judged by a conntrack that never saw it).
    pub hold: bool,
}

/// An interface of the router for the maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMap {
    pub ifindex: u32,
    pub mac: [u8; 6],
    /// Takes frames redirected by XDP.
    pub xmit: bool,
    /// Plain routing between the interfaces so marked is eligible.
    pub route: bool,
}

/// The fast path of one router namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FastPathMaps {
    /// Switched on (else only the floating entries are written, none of them fast).
    pub enabled: bool,
    pub fips: Vec<FipMap>,
    pub kernel_addrs: Vec<Ipv4Addr>,
    pub ports: Vec<PortMap>,
}

/// What was written for one router.
#[derive(Clone, Debug, Default)]
struct Written {
    vips: HashSet<AddrKey>,
    nat_out: HashSet<AddrKey>,
    ports: HashSet<PortKey>,
    tx: HashSet<u32>,
}

/// The plans and what they wrote, per router id.
#[derive(Default)]
pub struct Overlays {
    pub(super) plans: HashMap<u32, (Option<String>, FastPathMaps)>,
    written: HashMap<u32, Written>,
    tx_keys: HashMap<(u32, u32), u32>,
    next_tx: u32,
}

impl Overlays {
    /// Forgets a router whose entries were taken back (an empty plan written).
    pub(super) fn forget(&mut self, id: u32) {
        self.plans.remove(&id);
        self.written.remove(&id);
        self.tx_keys.retain(|(router, _), _| *router != id);
    }
}

impl Manager {
    /// Sets the fast path of the router of `netns` and writes it.
    pub fn apply_fastpath(
        &mut self,
        netns: &Option<String>,
        maps: FastPathMaps,
    ) -> Result<(), DataplaneError> {
        let id = self.router(netns)?.id;
        self.fastpath.plans.insert(id, (netns.clone(), maps));
        self.write_fastpath(id)
    }

    /// Writes router `id`'s fast path again (its instances changed).
    pub(super) fn write_fastpath(&mut self, id: u32) -> Result<(), DataplaneError> {
        let Some((netns, maps)) = self.fastpath.plans.get(&id).cloned() else {
            return Ok(());
        };
        // Who owns each virtual address, and whose gateway each interface is.
        let mut owners: HashMap<AddrKey, u32> = HashMap::new();
        let mut gateways: HashMap<PortKey, (u32, [u8; 6])> = HashMap::new();
        for (k, info) in &self.instances {
            if k.router != id {
                continue;
            }
            for v in &info.vips {
                owners.insert(*v, info.slot);
            }
            for (p, mac) in &info.gateways {
                gateways.insert(*p, (info.slot, *mac));
            }
        }
        let mut now = Written::default();
        for f in &maps.fips {
            let k = addr_key(id, IpAddr::V4(f.floating));
            let Some(slot) = owners.get(&k).copied() else {
                continue;
            };
            let fast = maps.enabled && f.fast && !f.hold && f.int_ifindex != 0;
            self.control.upsert_vip(
                k,
                VipValue {
                    slot,
                    kind: VIP_KIND_FLOATING,
                    flags: if fast { VIP_FLAG_FAST_IN } else { 0 },
                    _pad: [0; 2],
                    nat_addr: f.fixed.octets(),
                    ext_ifindex: f.ext_ifindex,
                    int_ifindex: f.int_ifindex,
                },
            )?;
            now.vips.insert(k);
            let k = addr_key(id, IpAddr::V4(f.fixed));
            self.control.upsert_nat_out(
                k,
                NatOutValue {
                    slot,
                    ext_ifindex: f.ext_ifindex,
                    floating: f.floating.octets(),
                    flags: if fast { NAT_OUT_FLAG_FAST } else { 0 },
                    int_ifindex: f.int_ifindex,
                },
            )?;
            now.nat_out.insert(k);
        }
        if maps.enabled {
            for a in &maps.kernel_addrs {
                let k = addr_key(id, IpAddr::V4(*a));
                if owners.contains_key(&k) || now.vips.contains(&k) {
                    continue;
                }
                self.control.upsert_vip(
                    k,
                    VipValue {
                        slot: NO_SLOT,
                        kind: VIP_KIND_KERNEL,
                        flags: 0,
                        _pad: [0; 2],
                        nat_addr: [0; 4],
                        ext_ifindex: 0,
                        int_ifindex: 0,
                    },
                )?;
                now.vips.insert(k);
            }
        }
        for p in &maps.ports {
            let k = PortKey {
                router: id,
                ifindex: p.ifindex,
            };
            let gateway = gateways.get(&k).copied();
            let mut flags = if gateway.is_some() {
                PORT_FLAG_GATEWAY
            } else {
                0
            };
            let next = self.fastpath.next_tx;
            let tx = *self
                .fastpath
                .tx_keys
                .entry((id, p.ifindex))
                .or_insert_with(|| next);
            if tx == next {
                self.fastpath.next_tx += 1;
            }
            if maps.enabled && p.xmit {
                let control = &mut self.control;
                let ifindex = p.ifindex;
                crate::netns::run_in(netns.as_deref(), || control.upsert_tx(tx, ifindex))??;
                now.tx.insert(tx);
                flags |= PORT_FLAG_TX;
            }
            if maps.enabled && p.route {
                flags |= PORT_FLAG_ROUTE_IN | PORT_FLAG_ROUTE_OUT;
            }
            self.control.upsert_port(
                k,
                PortValue {
                    slot: gateway.map_or(NO_SLOT, |(slot, _)| slot),
                    // With use_vmac, routed traffic is addressed to the virtual MAC the
                    // gateway was registered with, not to the interface's own.
                    mac: match gateway {
                        Some((_, mac)) if is_virtual_mac(mac) => mac,
                        _ => p.mac,
                    },
                    flags,
                    tx,
                },
            )?;
            now.ports.insert(k);
        }
        // Take back what the previous plan wrote and this one did not.
        let before = self.fastpath.written.remove(&id).unwrap_or_default();
        for k in before.vips.difference(&now.vips) {
            match owners.get(k) {
                Some(slot) => self.control.upsert_vip(
                    *k,
                    VipValue {
                        slot: *slot,
                        kind: VIP_KIND_VIRTUAL,
                        flags: 0,
                        _pad: [0; 2],
                        nat_addr: [0; 4],
                        ext_ifindex: 0,
                        int_ifindex: 0,
                    },
                )?,
                None => self.control.remove_vip(k)?,
            }
        }
        for k in before.nat_out.difference(&now.nat_out) {
            self.control.remove_nat_out(k)?;
        }
        for k in before.ports.difference(&now.ports) {
            let gateway = self
                .instances
                .values()
                .flat_map(|i| i.gateways.iter().map(move |g| (g, i.slot)))
                .find(|((p, _), _)| p == k);
            match gateway {
                Some(((_, mac), slot)) => self.control.upsert_port(
                    *k,
                    PortValue {
                        slot,
                        mac: *mac,
                        flags: PORT_FLAG_GATEWAY,
                        tx: 0,
                    },
                )?,
                None => self.control.remove_port(k)?,
            }
        }
        for k in before.tx.difference(&now.tx) {
            self.control.remove_tx(*k)?;
        }
        self.fastpath.written.insert(id, now);
        Ok(())
    }
}

/// Whether `mac` is an RFC 9568 virtual router MAC (`00:00:5e:00:01:xx` or `00:00:5e:00:02:xx`).
fn is_virtual_mac(mac: [u8; 6]) -> bool {
    mac[..4] == [0, 0, 0x5e, 0] && matches!(mac[4], 1 | 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_macs_are_those_of_rfc_9568() {
        assert!(is_virtual_mac([0, 0, 0x5e, 0, 1, 7]));
        assert!(is_virtual_mac([0, 0, 0x5e, 0, 2, 255]));
        assert!(!is_virtual_mac([0, 0, 0x5e, 0, 3, 7]));
        assert!(!is_virtual_mac([0x02, 0, 0x5e, 0, 1, 7]));
    }
}
