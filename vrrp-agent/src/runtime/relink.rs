//! Interfaces that changed behind the engine's back. One deleted and created again under the
//! same name (Neutron re-plugging a port, an operator recreating a veth) has a new ifindex, so
//! the VRRP socket bound to the old one hears nothing and the XDP program went away with it:
//! the engine rebinds both (and creates a `use_vmac` macvlan again, which went with it) and
//! keeps the instances' state. And when the namespace's netlink
//! events were lost (socket overrun), every interface is read again and what the lost events
//! would have said is replayed. Uses the engine's setup helpers; no I/O of its own.

use std::time::Instant;

use super::{engine::Engine, slot::ObjectKey};
use crate::fsm::InstanceId;

impl Engine {
    /// Netlink events of `netns` were lost (the event socket overran): reads its interfaces
    /// again and replays what the lost events would have said — tracked interfaces up or down
    /// (a missing one is down), interfaces created again under their name.
    pub(super) async fn resync_links(&mut self, netns: &Option<String>, now: Instant) {
        let ns_name = netns.as_deref().unwrap_or("-");
        let links = match self.namespace(netns) {
            Ok(ns) => ns.netlink.clone().links().await,
            Err(e) => {
                tracing::error!(netns = ns_name, "cannot resync: {e}");
                return;
            }
        };
        let links = match links {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(
                    netns = ns_name,
                    "netlink events were lost and the interfaces cannot be read again: {e}"
                );
                return;
            }
        };
        tracing::warn!(
            netns = ns_name,
            interfaces = links.len(),
            "netlink events were lost (event socket overrun): interfaces and addresses read again"
        );
        for link in &links {
            if link.admin_up {
                self.follow_recreated_interface(netns, &link.name, link.index, now)
                    .await;
            }
            self.interface_state(netns, &link.name, link.admin_up && link.carrier, now);
        }
        let gone: Vec<String> = self
            .router
            .objects()
            .into_iter()
            .filter_map(|k| match k {
                ObjectKey::Link { netns: n, name }
                    if n == netns && !links.iter().any(|l| l.name == *name) =>
                {
                    Some(name.clone())
                }
                _ => None,
            })
            .collect();
        for name in gone {
            self.interface_state(netns, &name, false, now);
        }
    }

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
        for (ipv6, ah) in [(false, false), (true, false), (false, true)] {
            self.sockets
                .remove(&(netns.clone(), name.to_string(), ipv6, ah));
        }
        let netlink = match self.namespace(netns) {
            Ok(ns) => ns.netlink.clone(),
            Err(e) => {
                tracing::error!(interface = name, "cannot rebind: {e}");
                return;
            }
        };
        let affected: Vec<InstanceId> = self
            .slots
            .values()
            .filter(|s| s.spec.netns == *netns && s.spec.interfaces().contains(&name))
            .map(|s| s.id)
            .collect();
        for i in affected {
            let spec = self.slot(i).spec.clone();
            if spec.interface == name {
                // Its data-plane entry is keyed by the old ifindex. The instance is in FAULT
                // (its own interface went away), so no ownership is lost here.
                self.dataplane.unregister(&self.slot(i).owner_key());
                if let Some(slot) = self.slots.get_mut(&i) {
                    slot.ifindex = index;
                }
                if let Err(e) = self.socket(&spec, index) {
                    tracing::error!(instance = spec.vrrp.name, "rebinding the VRRP socket: {e}");
                }
                // use_vmac: the macvlan went away with the interface below it.
                if spec.vmac.is_some() {
                    self.recreate_vmac(i, &spec, &netlink).await;
                }
            }
            let ifindex = self.slot(i).ifindex;
            self.register_dataplane(&spec, ifindex, &netlink).await;
        }
        // Addresses may have arrived on the new interface before it came up.
        self.refresh_primaries(netns, None, now).await;
    }

    /// Creates instance `id`'s macvlan again on its recreated interface. The instance is in
    /// FAULT (its interface went away), so the new macvlan stays down until it takes over.
    async fn recreate_vmac(
        &mut self,
        id: InstanceId,
        spec: &crate::config::InstanceSpec,
        netlink: &crate::netlink::Netlink,
    ) {
        let Ok(Some(base)) = netlink.link_by_name(&spec.interface).await else {
            return;
        };
        let opened = super::vmac::Vmac::open(netlink, spec, &base, false);
        match opened.await {
            Ok(v) => {
                if let Some(slot) = self.slots.get_mut(&id) {
                    slot.vmac = Some(v);
                }
            }
            Err(e) => tracing::error!(instance = spec.vrrp.name, "recreating the macvlan: {e}"),
        }
    }
}
