//! Bringing instances up: the namespace context (netlink handle, event forwarding, effects
//! worker), the instance's interface and primary address, its macvlan (`use_vmac`), its VRRP
//! socket with its reader and writer tasks, the state of the links it tracks, and the checks
//! (scripts, probes) of every tracked object.

use std::{net::IpAddr, sync::Arc, time::Instant};

use futures::StreamExt;

use super::{
    effects,
    engine::Engine,
    events::EngineEvent,
    ownership::OwnerKey,
    send_queue,
    slot::{Namespace, ObjectKey, OpenSocket, Slot, SocketKey, rx_policy, socket_key},
    tracking,
};
use crate::{
    config::{InstanceSpec, TrackSpec},
    dataplane::manager::Registration,
    fsm::{InstanceConfig, InstanceId, MemberSpec, TrackedObject},
    net::{AsyncVrrpSocket, RecvError, VrrpSocket},
    netlink::Netlink,
    netns,
    packet::Auth,
};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("network namespace {netns}: {error}")]
    Namespace { netns: String, error: String },
    #[error("instance {instance}: interface {interface} not found{}", in_ns(.netns))]
    NoInterface {
        instance: String,
        interface: String,
        netns: Option<String>,
    },
    #[error(
        "instance {instance}: interface {interface}{} has no {family} address to send adverts \
         from (configure one, or set unicast_src)",
        in_ns(.netns)
    )]
    NoPrimary {
        instance: String,
        interface: String,
        netns: Option<String>,
        family: &'static str,
    },
    #[error("instance {instance}: cannot open the VRRP socket on {interface}: {error}")]
    Socket {
        instance: String,
        interface: String,
        error: String,
    },
    #[error("instance {instance}: {error}")]
    Config { instance: String, error: String },
}

fn in_ns(netns: &Option<String>) -> String {
    netns
        .as_deref()
        .map(|n| format!(" in network namespace {n}"))
        .unwrap_or_default()
}

/// The state machine's configuration and the tracked objects, with keepalived's implicit
/// tracking of the instance's own interface added (unless it is tracked already).
pub fn effective(spec: &InstanceSpec) -> (InstanceConfig, Vec<TrackSpec>) {
    let mut vrrp = spec.vrrp.clone();
    let mut track = spec.track.clone();
    let own = TrackSpec::Interface {
        name: spec.interface.clone(),
    };
    if !track.contains(&own) {
        track.push(own);
        vrrp.tracked.push(TrackedObject {
            name: spec.interface.clone(),
            weight: 0,
        });
    }
    (vrrp, track)
}

/// How the data plane knows an instance.
fn owner_key(spec: &InstanceSpec) -> OwnerKey {
    OwnerKey {
        netns: spec.netns.clone(),
        interface: spec.interface.clone(),
        vrid: spec.vrrp.vrid,
        ipv6: spec.vrrp.is_ipv6(),
    }
}

/// What the core's router needs of an instance.
pub fn member_spec(spec: &InstanceSpec) -> MemberSpec<SocketKey, ObjectKey> {
    let (config, track) = effective(spec);
    MemberSpec {
        config,
        socket: socket_key(spec),
        tracks: track
            .iter()
            .map(|t| ObjectKey::of(&spec.netns, t))
            .collect(),
        rx: rx_policy(spec),
    }
}

impl Engine {
    /// The namespace context, opened on first use.
    pub(super) fn namespace(&mut self, netns: &Option<String>) -> Result<&Namespace, SetupError> {
        if !self.namespaces.contains_key(netns) {
            let (netlink, mut events) =
                Netlink::open(netns.as_deref()).map_err(|e| SetupError::Namespace {
                    netns: netns.clone().unwrap_or_else(|| "(agent's own)".into()),
                    error: e.to_string(),
                })?;
            let tx = self.events_tx.clone();
            let name = netns.clone();
            tokio::spawn(async move {
                while let Some(event) = events.next().await {
                    let ev = EngineEvent::Netlink {
                        netns: name.clone(),
                        event,
                    };
                    if tx.send(ev).await.is_err() {
                        break;
                    }
                }
            });
            let effects = effects::spawn(netns.clone(), netlink.clone());
            self.namespaces
                .insert(netns.clone(), Namespace { netlink, effects });
        }
        Ok(&self.namespaces[netns])
    }

    /// Sets up an instance (not started yet); returns its id.
    pub(super) async fn add_instance(
        &mut self,
        spec: InstanceSpec,
    ) -> Result<InstanceId, SetupError> {
        let name = spec.vrrp.name.clone();
        let netlink = self.namespace(&spec.netns)?.netlink.clone();
        let link = netlink
            .link_by_name(&spec.interface)
            .await
            .ok()
            .flatten()
            .ok_or_else(|| SetupError::NoInterface {
                instance: name.clone(),
                interface: spec.interface.clone(),
                netns: spec.netns.clone(),
            })?;
        let ipv6 = spec.vrrp.is_ipv6();
        let exclude: Vec<IpAddr> = spec.vrrp.all_addresses().map(|a| a.addr).collect();
        let primary = match spec.configured_source() {
            Some(src) => Some(src),
            None => netlink
                .primary_address(link.index, ipv6, &exclude)
                .await
                .ok()
                .flatten(),
        };
        let primary = primary.ok_or_else(|| SetupError::NoPrimary {
            instance: name.clone(),
            interface: spec.interface.clone(),
            netns: spec.netns.clone(),
            family: if ipv6 { "IPv6 link-local" } else { "IPv4" },
        })?;
        self.socket(&spec, link.index)?;

        let resume = self.register_dataplane(&spec, link.index, &netlink).await;
        // use_vmac: the macvlan, down unless the instance resumes as master.
        let vmac = match &spec.vmac {
            None => None,
            Some(_) => {
                let opened = super::vmac::Vmac::open(&netlink, &spec, &link, resume).await;
                match opened {
                    Ok(v) => Some(v),
                    Err(e) => {
                        self.dataplane.unregister(&owner_key(&spec));
                        return Err(SetupError::Config {
                            instance: name.clone(),
                            error: e.to_string(),
                        });
                    }
                }
            }
        };
        // The links it tracks, as they are now (scripts and probes report when they run).
        let now = Instant::now();
        self.read_links(&spec, now).await;
        let id = self
            .router
            .add_instance(member_spec(&spec), primary, now)
            .map_err(|e| SetupError::Config {
                instance: name.clone(),
                error: e.to_string(),
            })?;
        tracing::info!(
            instance = name,
            netns = spec.netns.as_deref().unwrap_or("-"),
            interface = spec.interface,
            vmac = vmac.as_ref().map_or("-", |v| v.link.name.as_str()),
            vrid = spec.vrrp.vrid,
            %primary,
            "instance ready"
        );
        self.slots.insert(
            id,
            Slot {
                id,
                spec,
                ifindex: link.index,
                last_transition: None,
                resume,
                ip_id: 0,
                vmac,
            },
        );
        Ok(id)
    }

    /// Reads the state of the links `spec` tracks and tells the router (before it adds or
    /// reconfigures the instance, which then starts from what is true, not from "up").
    pub(super) async fn read_links(&mut self, spec: &InstanceSpec, now: Instant) {
        let Some(ns) = self.namespaces.get(&spec.netns) else {
            return;
        };
        let netlink = ns.netlink.clone();
        let (_, track) = effective(spec);
        for t in &track {
            if let TrackSpec::Interface { name } = t {
                let up = match netlink.link_by_name(name).await {
                    Ok(Some(l)) => l.admin_up && l.carrier,
                    _ => false,
                };
                self.router
                    .set_object(&ObjectKey::of(&spec.netns, t), up, now);
            }
        }
        self.carry_out();
    }

    /// Registers the instance with the data plane (program on its interfaces, addresses,
    /// floating IPs, allow-list), at setup and again when a reload changes it in place;
    /// returns whether it should resume as master. A failure is logged and the instance runs
    /// without data-plane enforcement.
    pub(super) async fn register_dataplane(
        &mut self,
        spec: &InstanceSpec,
        ifindex: u32,
        netlink: &Netlink,
    ) -> bool {
        // Interfaces carrying the instance's addresses: where it is the gateway.
        let mut gateway_names: Vec<String> = spec
            .vrrp
            .all_addresses()
            .map(|a| a.dev.clone().unwrap_or_else(|| spec.interface.clone()))
            .collect();
        gateway_names.sort();
        gateway_names.dedup();
        // use_vmac: traffic routed through the instance's addresses on its macvlan reaches
        // the program on the interface below it (XDP runs before the macvlan takes the
        // frame), addressed to the virtual MAC.
        let vmac_gateway = spec
            .vmac_mac()
            .filter(|_| spec.vrrp.all_addresses().any(|a| spec.on_vmac(a)));
        let mut attach: Vec<(String, u32)> = Vec::new();
        let mut gateways: Vec<(u32, [u8; 6])> = Vec::new();
        for name in spec.interfaces() {
            match netlink.link_by_name(name).await {
                Ok(Some(l)) => {
                    if let Some(mac) = l.mac.filter(|_| gateway_names.iter().any(|g| g == name)) {
                        let mac = match vmac_gateway {
                            Some(v) if name == spec.interface => v,
                            _ => mac,
                        };
                        gateways.push((l.index, mac));
                    }
                    attach.push((name.to_string(), l.index));
                }
                _ => tracing::warn!(
                    instance = spec.vrrp.name,
                    interface = name,
                    "interface not found; no XDP on it"
                ),
            }
        }
        for (name, index) in &attach {
            self.link_indexes
                .insert((spec.netns.clone(), name.clone()), *index);
        }
        let reg = Registration {
            netns: spec.netns.clone(),
            ifindex,
            vrid: spec.vrrp.vrid,
            ipv6: spec.vrrp.is_ipv6(),
            attach,
            vips: spec.vrrp.all_addresses().map(|a| a.addr).collect(),
            allowlist: spec.advert_allowlist(),
            unicast: !spec.unicast_peers.is_empty(),
            gateways,
            // A backup's master-down interval at our priority; refined at every advert
            // (`Instance::fencing_lease`): a silent master fences itself just before a backup
            // takes over.
            lease: crate::fsm::master_down_interval(
                spec.vrrp.version,
                spec.vrrp.priority,
                spec.vrrp.advert_interval,
            ),
            accept: spec.vrrp.accept_mode,
            address_owner: spec.vrrp.priority == 255,
        };
        match self.dataplane.register(&owner_key(spec), reg) {
            Ok(resume) => resume,
            Err(e) => {
                tracing::error!(
                    instance = spec.vrrp.name,
                    "data plane registration failed, running without it: {e}"
                );
                false
            }
        }
    }

    /// Opens the VRRP socket for the instance's (namespace, interface, family, AH or not) if
    /// needed and starts its reader.
    pub(super) fn socket(&mut self, spec: &InstanceSpec, ifindex: u32) -> Result<(), SetupError> {
        let ipv6 = spec.vrrp.is_ipv6();
        let ah = matches!(spec.vrrp.auth, Auth::Ah { .. });
        let key: SocketKey = (spec.netns.clone(), spec.interface.clone(), ipv6, ah);
        if self.sockets.contains_key(&key) {
            return Ok(());
        }
        let sock_err = |error: String| SetupError::Socket {
            instance: spec.vrrp.name.clone(),
            interface: spec.interface.clone(),
            error,
        };
        let ifname = spec.interface.clone();
        let socket = netns::run_in(spec.netns.as_deref(), move || {
            if ah {
                VrrpSocket::open_ah(ifindex, &ifname)
            } else {
                VrrpSocket::open(ifindex, &ifname, ipv6)
            }
        })
        .map_err(|e| sock_err(e.to_string()))?
        .map_err(|e| sock_err(e.to_string()))?;
        let socket: Arc<AsyncVrrpSocket> =
            Arc::new(socket.into_async().map_err(|e| sock_err(e.to_string()))?);
        let reader = Arc::clone(&socket);
        let tx = self.events_tx.clone();
        let k = key.clone();
        let reader_task = tokio::spawn(async move {
            loop {
                let event = match reader.recv().await {
                    Ok(received) => EngineEvent::Packet {
                        socket: k.clone(),
                        received,
                    },
                    Err(RecvError::Io(e)) => {
                        // A socket that keeps failing (its interface went away) must not spin.
                        tracing::warn!(netns = ?k.0, interface = k.1, "VRRP socket: {e}; retrying in 1 s");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                    Err(error) => EngineEvent::RecvError {
                        socket: k.clone(),
                        error,
                    },
                };
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        });
        let out = Arc::clone(&socket);
        let (sender, writer) = send_queue::spawn_writer(move |advert: super::slot::Outgoing| {
            let socket = Arc::clone(&out);
            async move {
                let result = socket.send(&advert.bytes, advert.src, advert.dst).await;
                (advert, result)
            }
        });
        self.sockets.insert(
            key,
            OpenSocket {
                socket,
                reader: reader_task.abort_handle(),
                sender,
                writer,
            },
        );
        Ok(())
    }

    /// Sync groups from the configuration, over the running instances.
    pub(super) fn rebuild_groups(&mut self) {
        let groups = self
            .config
            .sync_groups
            .iter()
            .map(|g| {
                let members = g
                    .members
                    .iter()
                    .filter_map(|m| {
                        self.slots
                            .values()
                            .find(|s| s.spec.vrrp.name == *m)
                            .map(|s| s.id)
                    })
                    .collect();
                (g.name.clone(), members)
            })
            .collect();
        self.router.set_sync_groups(groups);
    }

    /// One task per tracked `vrrp_script` and reachability probe (each object checked once,
    /// however many instances track it); stops those nothing tracks any more, and the core
    /// forgets their state.
    pub(super) fn sync_checks(&mut self) {
        self.router.forget_untracked();
        let wanted: Vec<ObjectKey> = self
            .router
            .objects()
            .into_iter()
            .filter(|k| !matches!(k, ObjectKey::Link { .. }))
            .cloned()
            .collect();
        self.checks.retain(|key, task| {
            let keep = wanted.contains(key);
            if !keep {
                task.abort();
            }
            keep
        });
        for key in wanted {
            if self.checks.contains_key(&key) {
                continue;
            }
            let task = match &key {
                ObjectKey::Script(name) => {
                    let Some(script) = self.config.scripts.iter().find(|s| s.name == *name) else {
                        continue;
                    };
                    tracking::spawn_script(
                        script.clone(),
                        self.config.global.script_netns.clone(),
                        self.events_tx.clone(),
                    )
                }
                ObjectKey::Probe { netns, spec } => tracking::spawn_probe(
                    key.clone(),
                    netns.clone(),
                    spec.clone(),
                    self.events_tx.clone(),
                ),
                ObjectKey::Link { .. } => continue,
            };
            self.checks.insert(key, task);
        }
    }
}
