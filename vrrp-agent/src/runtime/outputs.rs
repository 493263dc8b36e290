//! Carrying out the core's outputs, in the order they come: ownership and leases into the
//! data plane at once, adverts onto their socket's ordered writer, addresses, routes, GARP/NA
//! and state files through the namespace's effects worker, notify scripts in the background.
//! With `conntrack_sync`, outputs pass `super::conntrack_sync` first, which may hold a
//! takeover's until conntrackd has committed. Part of the engine; depends on the slot types
//! and the workers, not on setup or status.

use std::{net::IpAddr, time::SystemTime};

use super::{
    effects::Effect,
    engine::Engine,
    notify::Notification,
    slot::{Outgoing, Slot},
};
use crate::{
    fsm::{InstanceId, Output},
    packet::{Advert, AhIpv4, ChecksumForm, VRRP_GROUP_V4, VRRP_GROUP_V6, encode_ah_packet},
};

impl Engine {
    /// Carries out every output of the core, in order.
    pub(super) fn carry_out(&mut self) {
        while let Some((id, out)) = self.router.poll_output() {
            if self.slots.contains_key(&id) {
                // Through `conntrack_sync`, which may hold a takeover until its commit.
                self.dispatch(id, out);
            }
        }
    }

    pub(super) fn execute(&mut self, id: InstanceId, out: Output) {
        let slot = self.slots.get_mut(&id).expect("checked");
        match out {
            Output::Transition {
                from, to, reason, ..
            } => {
                tracing::info!(
                    instance = slot.spec.vrrp.name,
                    netns = slot.spec.netns.as_deref().unwrap_or("-"),
                    interface = slot.spec.interface,
                    vrid = slot.spec.vrrp.vrid,
                    %from,
                    %to,
                    "{from} -> {to}: {reason}"
                );
                slot.last_transition = Some((SystemTime::now(), from, to, reason));
            }
            Output::SetOwnership { owned, accept } => {
                let key = slot.owner_key();
                let addresses: Vec<IpAddr> =
                    slot.spec.vrrp.all_addresses().map(|a| a.addr).collect();
                self.dataplane.set_owned(&key, owned, accept, &addresses);
                // use_vmac: the macvlan is up exactly while master (`super::vmac`).
                if let Some(v) = self.slots.get(&id).and_then(|s| s.vmac.as_ref()) {
                    if owned {
                        v.take_over();
                    } else {
                        v.give_up();
                    }
                }
            }
            Output::RenewLease(lease) => {
                let key = slot.owner_key();
                self.dataplane.renew(&key, lease);
            }
            Output::SendAdvert { advert, checksum } => self.send_advert(id, &advert, checksum),
            Output::Notice(notice) => tracing::info!(
                instance = slot.spec.vrrp.name,
                netns = slot.spec.netns.as_deref().unwrap_or("-"),
                interface = slot.spec.interface,
                vrid = slot.spec.vrrp.vrid,
                "{notice}"
            ),
            Output::AddAddresses(list) => self.effect(id, |s| Effect::AddAddresses {
                instance: s.spec.vrrp.name.clone(),
                ifindex: s.addr_ifindex(),
                list: s.placed(list),
            }),
            Output::RemoveAddresses(list) => {
                self.effect(id, |s| Effect::RemoveAddresses {
                    instance: s.spec.vrrp.name.clone(),
                    ifindex: s.addr_ifindex(),
                    list: s.placed(list),
                });
                // Every release ends with this: a macvlan given up goes down now.
                if let Some(v) = self.slots.get(&id).and_then(|s| s.vmac.as_ref()) {
                    v.queue_down();
                }
            }
            Output::AddRoutes(list) => self.effect(id, |s| Effect::AddRoutes {
                instance: s.spec.vrrp.name.clone(),
                ifindex: s.addr_ifindex(),
                list,
            }),
            Output::RemoveRoutes(list) => self.effect(id, |s| Effect::RemoveRoutes {
                instance: s.spec.vrrp.name.clone(),
                ifindex: s.addr_ifindex(),
                list,
            }),
            Output::SendGratuitous { addresses, repeat } => self.effect(id, |s| {
                let targets = addresses
                    .iter()
                    .map(|addr| (*addr, s.announce_dev(*addr)))
                    .collect();
                Effect::Gratuitous {
                    instance: s.spec.vrrp.name.clone(),
                    targets,
                    repeat,
                }
            }),
            Output::WriteState(state) => {
                let dir = self.options.state_dir.clone();
                self.effect(id, |s| Effect::WriteState {
                    dir,
                    instance: s.spec.vrrp.name.clone(),
                    state,
                });
            }
            Output::RunNotify { state, priority } => {
                let n = Notification {
                    kind: "INSTANCE",
                    name: slot.spec.vrrp.name.clone(),
                    state,
                    priority,
                };
                self.notifier.notify(&slot.spec.notify, n);
            }
            // The router has asked the instance's sync group (or granted a balance move)
            // already.
            Output::SyncWantsMaster | Output::BalanceWanted => {}
        }
    }

    fn effect(&self, id: InstanceId, make: impl FnOnce(&Slot) -> Effect) {
        let slot = self.slot(id);
        if let Some(ns) = self.namespaces.get(&slot.spec.netns) {
            let _ = ns.effects.send(make(slot));
        }
    }

    /// Queues an advert on the instance's socket (its writer sends them in order), or with
    /// `use_vmac` on its macvlan's worker.
    fn send_advert(&mut self, id: InstanceId, advert: &Advert, checksum: ChecksumForm) {
        let ip_id = self.next_ip_id(id);
        let slot = self.slot(id);
        let vmac = slot.vmac.as_ref().filter(|v| v.carries_adverts());
        let sender = self
            .sockets
            .get(&slot.socket_key())
            .map(|s| s.sender.clone());
        if vmac.is_none() && sender.is_none() {
            return;
        }
        // The primary address (chosen at setup from unicast_src, mcast_src or the interface)
        // is also the state machine's side of the tie-break.
        let Some(src) = self.router.instance(id).map(|i| i.status().primary) else {
            return;
        };
        let unicast = !slot.spec.unicast_peers.is_empty();
        let dsts: Vec<IpAddr> = if !unicast {
            vec![if slot.spec.vrrp.is_ipv6() {
                IpAddr::V6(VRRP_GROUP_V6)
            } else {
                IpAddr::V4(VRRP_GROUP_V4)
            }]
        } else {
            slot.spec.unicast_peers.clone()
        };
        let name = &slot.spec.vrrp.name;
        for dst in dsts {
            let encoded = match (ip_id, src, dst) {
                // With AH the whole IPv4 packet, as keepalived builds it: the same
                // identification and sequence number for every unicast peer.
                (Some(id), IpAddr::V4(src), IpAddr::V4(dst)) => encode_ah_packet(
                    advert,
                    &AhIpv4 {
                        src,
                        dst,
                        id,
                        unicast,
                    },
                ),
                _ => advert.encode_as(src, dst, checksum),
            };
            let bytes = match encoded {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(instance = name, "cannot encode our advert: {e}");
                    return;
                }
            };
            let outgoing = Outgoing {
                bytes,
                src,
                dst,
                instance: name.clone(),
            };
            match (vmac, &sender) {
                (Some(v), _) => v.send(outgoing),
                (None, Some(s)) => {
                    let _ = s.send(outgoing);
                }
                (None, None) => {}
            }
        }
    }

    /// For an AH instance, the IPv4 identification of its next advert (keepalived's
    /// `ip_id`: counts from 1 and skips 0, which the kernel would replace).
    fn next_ip_id(&mut self, id: InstanceId) -> Option<u16> {
        let slot = self.slots.get_mut(&id)?;
        slot.ah_key()?;
        slot.ip_id = slot.ip_id.wrapping_add(1).max(1);
        Some(slot.ip_id)
    }
}
