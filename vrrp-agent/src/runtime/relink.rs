//! Interfaces deleted and created again under the same name (Neutron re-plugging a port, an
//! operator recreating a veth): the new interface has a new ifindex, so the VRRP socket bound
//! to the old one hears nothing and the XDP program went away with it. The engine rebinds
//! both and keeps the instances' state. Uses the engine's setup helpers; no I/O of its own.

use std::time::Instant;

use super::engine::{Engine, Slot};

/// Whether instance `slot` uses interface `name` of its namespace: its own, or one its
/// addresses or floating IPs live on (where its XDP program runs too).
fn uses_interface(slot: &Slot, name: &str) -> bool {
    let spec = &slot.spec;
    spec.interface == name
        || spec
            .vrrp
            .all_addresses()
            .any(|a| a.dev.as_deref() == Some(name))
        || spec.floating_ips.iter().any(|f| f.interface == name)
}

impl Engine {
    /// Called for every link event of an administratively up interface: when `name` had
    /// another index at setup, rebinds what was bound to the old one.
    pub(super) async fn follow_recreated_interface(
        &mut self,
        netns: &Option<String>,
        name: &str,
        index: u32,
        now: Instant,
    ) {
        let known = (netns.clone(), name.to_string());
        match self.link_indexes.get(&known) {
            Some(&old) if old != index => {
                tracing::warn!(
                    netns = netns.as_deref().unwrap_or("-"),
                    interface = name,
                    old_index = old,
                    index,
                    "interface was deleted and created again: rebinding its VRRP socket and XDP program"
                );
            }
            _ => return,
        }
        self.link_indexes.insert(known, index);
        self.dataplane.interface_recreated(netns, name);
        for ipv6 in [false, true] {
            let key = (netns.clone(), name.to_string(), ipv6);
            if let Some(reader) = self.socket_readers.remove(&key) {
                reader.abort();
            }
            self.sockets.remove(&key);
        }
        let netlink = match self.namespace(netns) {
            Ok(ns) => ns.netlink.clone(),
            Err(e) => {
                tracing::error!(interface = name, "cannot rebind: {e}");
                return;
            }
        };
        let affected: Vec<usize> = (0..self.slots.len())
            .filter(|&i| {
                self.slots[i]
                    .as_ref()
                    .is_some_and(|s| s.spec.netns == *netns && uses_interface(s, name))
            })
            .collect();
        for i in affected {
            let spec = self.slot(i).spec.clone();
            if spec.interface == name {
                // Its data-plane entry is keyed by the old ifindex. The instance is in FAULT
                // (its own interface went away), so no ownership is lost here.
                self.dataplane.unregister(&self.slot(i).owner_key());
                if let Some(slot) = self.slots[i].as_mut() {
                    slot.ifindex = index;
                }
                if let Err(e) = self.socket(&spec, index) {
                    tracing::error!(instance = spec.vrrp.name, "rebinding the VRRP socket: {e}");
                }
            }
            let ifindex = self.slot(i).ifindex;
            self.register_dataplane(&spec, ifindex, &netlink).await;
        }
        // Addresses may have arrived on the new interface before it came up.
        self.refresh_primaries(netns, None, now).await;
    }
}
