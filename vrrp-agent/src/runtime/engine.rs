//! The engine: one task owning every state machine. It waits for the next event or the
//! earliest deadline, feeds the state machines, and carries out their outputs: ownership
//! synchronously (data plane first), adverts on the VRRP sockets, addresses/routes/GARP/state
//! files through each namespace's ordered worker, notify scripts in the background.

use std::{
    collections::HashMap,
    net::IpAddr,
    path::PathBuf,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::{sync::mpsc, task::JoinHandle};

use super::{
    effects::Effect,
    events::{EngineEvent, SlotRef, SocketKey},
    notify::{Notification, Notifier},
    ownership::{DataplaneSink, OwnerKey},
    primary::may_change_primary,
    reload::{Change, plan},
    setup::{Namespace, SetupError},
};
use crate::{
    api::model::{AgentInfo, InstanceReport, StatusReport},
    config::{AgentConfig, InstanceSpec, TrackSpec},
    fsm::{Input, Instance, Output, Reason, State, SyncGroup},
    net::AsyncVrrpSocket,
    netlink::{AddrInfo, NetlinkEvent},
    packet::{
        Advert, AhIpv4, Auth, VRRP_GROUP_V4, VRRP_GROUP_V6, encode_ah_packet, split_ah_packet,
    },
};

/// One running instance.
pub(super) struct Slot {
    pub generation: u64,
    /// As configured (compared on reload).
    pub spec: InstanceSpec,
    /// What is tracked, including the implicit tracking of the instance's own interface;
    /// parallel to the state machine's tracked objects.
    pub track: Vec<TrackSpec>,
    pub fsm: Instance,
    pub ifindex: u32,
    pub tracked_up: Vec<bool>,
    pub tasks: Vec<JoinHandle<()>>,
    pub last_transition: Option<(SystemTime, State, State, Reason)>,
    /// Start as master at once (restart with a valid data-plane lease).
    pub resume: bool,
    /// The IPv4 identification of our last AH advert (keepalived: 1, 2, ... skipping 0; the
    /// AH ICV covers it, so the agent chooses it, not the kernel).
    pub ip_id: u16,
}

impl Slot {
    pub fn owner_key(&self) -> OwnerKey {
        OwnerKey {
            netns: self.spec.netns.clone(),
            interface: self.spec.interface.clone(),
            vrid: self.spec.vrrp.vrid,
            ipv6: self.spec.vrrp.is_ipv6(),
        }
    }

    fn socket_key(&self) -> SocketKey {
        (
            self.spec.netns.clone(),
            self.spec.interface.clone(),
            self.spec.vrrp.is_ipv6(),
            self.ah_key().is_some(),
        )
    }

    /// Whether this slot's socket is `socket` (`socket_key() == *socket` without building
    /// the key: packet dispatch asks this of every slot for every packet).
    fn uses_socket(&self, socket: &SocketKey) -> bool {
        self.spec.interface == socket.1
            && self.spec.netns == socket.0
            && self.spec.vrrp.is_ipv6() == socket.2
            && self.ah_key().is_some() == socket.3
    }

    /// The AH key of a VRRPv2 instance with `auth_type AH`.
    fn ah_key(&self) -> Option<[u8; 8]> {
        match self.spec.vrrp.auth {
            Auth::Ah { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// A VRRP socket and the task reading it into the engine's queue; dropping it (the socket is
/// replaced) stops the reader, which would otherwise wait on the old socket forever.
pub(super) struct OpenSocket {
    pub socket: std::sync::Arc<AsyncVrrpSocket>,
    pub reader: tokio::task::AbortHandle,
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Settings of the engine beyond the configuration.
pub struct EngineOptions {
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
    /// The keepalived entry point's settings in force, for `status`.
    pub settings: Option<String>,
    /// The `keepalived` process a node-run router belongs to, for `status`.
    pub keepalived_pid: Option<u32>,
}

pub struct Engine {
    pub(super) config: AgentConfig,
    pub(super) options: EngineOptions,
    pub(super) slots: Vec<Option<Slot>>,
    pub(super) next_generation: u64,
    pub(super) groups: Vec<SyncGroup>,
    pub(super) namespaces: HashMap<Option<String>, Namespace>,
    pub(super) sockets: HashMap<SocketKey, OpenSocket>,
    /// The ifindex each interface an instance uses had when it was set up, by namespace and
    /// name: a link event with another index means it was deleted and created again.
    pub(super) link_indexes: HashMap<(Option<String>, String), u32>,
    pub(super) script_tasks: HashMap<String, JoinHandle<()>>,
    pub(super) script_up: HashMap<String, bool>,
    pub(super) notifier: Notifier,
    pub(super) dataplane: Box<dyn DataplaneSink>,
    /// The floating-IP NAT script last written per namespace (`super::kernel_nat`).
    pub(super) kernel_nat: HashMap<Option<String>, String>,
    /// The fast path per namespace (`super::fastpath`).
    pub(super) fastpath: HashMap<Option<String>, super::fastpath::NamespaceFastPath>,
    pub(super) events_tx: mpsc::Sender<EngineEvent>,
    events_rx: mpsc::Receiver<EngineEvent>,
    started: Instant,
}

/// How long shutdown may take in all (Neutron expects an exit within 5 s of SIGTERM).
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(4);

impl Engine {
    pub fn new(
        config: AgentConfig,
        options: EngineOptions,
        dataplane: Box<dyn DataplaneSink>,
    ) -> Self {
        let (events_tx, events_rx) = mpsc::channel(4096);
        Self {
            notifier: Notifier::new(
                config.global.notify_timeout,
                config.global.script_netns.clone(),
            ),
            config,
            options,
            slots: Vec::new(),
            next_generation: 1,
            groups: Vec::new(),
            namespaces: HashMap::new(),
            sockets: HashMap::new(),
            link_indexes: HashMap::new(),
            script_tasks: HashMap::new(),
            script_up: HashMap::new(),
            dataplane,
            kernel_nat: HashMap::new(),
            fastpath: HashMap::new(),
            events_tx,
            events_rx,
            started: Instant::now(),
        }
    }

    /// A sender for events (signals, status queries).
    pub fn events(&self) -> mpsc::Sender<EngineEvent> {
        self.events_tx.clone()
    }

    /// Starts every configured instance, then runs until shutdown.
    pub async fn run(mut self) -> Result<(), SetupError> {
        let specs = self.config.instances.clone();
        for spec in specs {
            self.add_instance(spec).await?;
        }
        self.dataplane.reconcile();
        self.sync_kernel_nat().await;
        self.sync_fastpath();
        self.rebuild_groups();
        self.start_scripts();
        let now = Instant::now();
        for i in 0..self.slots.len() {
            self.start_slot(i, now);
        }
        loop {
            let deadline = self
                .slots
                .iter()
                .flatten()
                .filter_map(|s| s.fsm.poll_timeout())
                .min();
            let event = match deadline {
                Some(d) => {
                    tokio::select! {
                        ev = self.events_rx.recv() => ev,
                        _ = tokio::time::sleep_until(d.into()) => {
                            match self.take_pending().await {
                                Some(shutdown) => Some(shutdown),
                                None => {
                                    self.fire_timers(Instant::now());
                                    continue;
                                }
                            }
                        }
                    }
                }
                None => self.events_rx.recv().await,
            };
            let Some(event) = event else { break };
            if let EngineEvent::Shutdown = event {
                self.shutdown().await;
                break;
            }
            self.handle(event).await;
        }
        Ok(())
    }

    /// Handles what arrived before a timer came due but was not handled yet because the
    /// agent was not scheduled in time (CPU starvation, a stopped process, a burst of
    /// packets): the packets still waiting in the VRRP sockets, then the events queued now.
    /// In that order: each socket's reader task (on another worker thread, woken at the same
    /// moment) queues every packet it takes right after taking it, so a packet is either still
    /// in the socket or queued by the time the queue is read — checked the other way round, a
    /// reader could empty the socket between the two looks and the timer fire anyway (seen
    /// once in ten SIGSTOP rounds).
    /// Without this, `select!` picks the overdue timer or the waiting advert at random, and a
    /// backup that was merely late declares a live master down (and flaps back at once).
    /// Bounded, so timers still fire under a flood. Returns a shutdown request met on the way
    /// (the rest is left for later).
    async fn take_pending(&mut self) -> Option<EngineEvent> {
        let sockets: Vec<_> = self
            .sockets
            .iter()
            .map(|(k, s)| (k.clone(), std::sync::Arc::clone(&s.socket)))
            .collect();
        for (key, socket) in sockets {
            // At most about what a socket buffer holds.
            for _ in 0..4096 {
                match socket.try_recv() {
                    None | Some(Err(crate::net::RecvError::Io(_))) => break,
                    Some(Ok(received)) => self.on_packet(&key, received, Instant::now()),
                    Some(Err(error)) => {
                        tracing::debug!(netns = ?key.0, interface = key.1, "unusable packet: {error}");
                    }
                }
            }
        }
        for _ in 0..self.events_rx.len() {
            let Ok(event) = self.events_rx.try_recv() else {
                break;
            };
            if let EngineEvent::Shutdown = event {
                return Some(event);
            }
            self.handle(event).await;
        }
        None
    }

    async fn handle(&mut self, event: EngineEvent) {
        let now = Instant::now();
        match event {
            EngineEvent::Packet { socket, received } => self.on_packet(&socket, received, now),
            EngineEvent::RecvError { socket, error } => {
                tracing::debug!(netns = ?socket.0, interface = socket.1, "unusable packet: {error}");
            }
            EngineEvent::Netlink { netns, event } => self.on_netlink(netns, event, now).await,
            EngineEvent::PathState { netns, snapshot } => self.on_path_state(netns, *snapshot),
            EngineEvent::Script { name, up } => {
                tracing::info!(script = name, up, "vrrp_script changed state");
                self.script_up.insert(name.clone(), up);
                let wanted = name.as_str();
                let targets: Vec<(usize, usize)> = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
                    .flat_map(|(i, s)| {
                        s.track.iter().enumerate().filter_map(move |(t, spec)| {
                            matches!(spec, TrackSpec::Script { name: n } if n == wanted)
                                .then_some((i, t))
                        })
                    })
                    .collect();
                for (i, t) in targets {
                    self.set_tracked(i, t, up, now);
                }
            }
            EngineEvent::Probe { slot, index, up } => {
                if self.live(slot) {
                    let name = self.slot(slot.index).fsm.config().tracked[index]
                        .name
                        .clone();
                    tracing::info!(
                        instance = self.slot(slot.index).spec.vrrp.name,
                        check = name,
                        up,
                        "reachability changed"
                    );
                    self.set_tracked(slot.index, index, up, now);
                }
            }
            EngineEvent::Status(reply) => {
                let _ = reply.send(self.report());
            }
            EngineEvent::Reload(config) => self.reload(*config, now).await,
            EngineEvent::Shutdown => {}
        }
    }

    // ---- instances ------------------------------------------------------------------------

    pub(super) fn slot(&self, i: usize) -> &Slot {
        self.slots[i].as_ref().expect("live slot")
    }

    fn live(&self, r: SlotRef) -> bool {
        self.slots
            .get(r.index)
            .and_then(|s| s.as_ref())
            .is_some_and(|s| s.generation == r.generation)
    }

    pub(super) fn input(&mut self, i: usize, input: Input, now: Instant) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        slot.fsm.handle_input(input, now);
        self.drain(i, now);
    }

    fn fire_timers(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let due = self.slots[i]
                .as_ref()
                .and_then(|s| s.fsm.poll_timeout())
                .is_some_and(|d| d <= now);
            if due {
                self.slots[i]
                    .as_mut()
                    .expect("checked")
                    .fsm
                    .handle_timeout(now);
                self.drain(i, now);
            }
        }
    }

    fn set_tracked(&mut self, i: usize, index: usize, up: bool, now: Instant) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        if slot.tracked_up.get(index) == Some(&up) {
            return;
        }
        if let Some(v) = slot.tracked_up.get_mut(index) {
            *v = up;
        }
        self.input(i, Input::Tracked { index, up }, now);
    }

    /// Carries out the outputs of instance `i` (and of sync-group members they move).
    fn drain(&mut self, i: usize, now: Instant) {
        let mut follow_ups: Vec<(usize, Input)> = Vec::new();
        loop {
            let Some(slot) = self.slots[i].as_mut() else {
                return;
            };
            let Some(out) = slot.fsm.poll_output() else {
                break;
            };
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
                    slot.last_transition = Some((SystemTime::now(), from, to, reason.clone()));
                    for g in &mut self.groups {
                        follow_ups.extend(g.on_transition(i, to, &reason));
                    }
                }
                Output::SetOwnership { owned, accept } => {
                    let key = slot.owner_key();
                    let addresses: Vec<IpAddr> =
                        slot.spec.vrrp.all_addresses().map(|a| a.addr).collect();
                    self.dataplane.set_owned(&key, owned, accept, &addresses);
                }
                Output::SendAdvert(advert) => {
                    if advert.priority > 0 && slot.fsm.state() == State::Master {
                        let key = slot.owner_key();
                        self.dataplane.renew(&key, slot.fsm.fencing_lease());
                    }
                    self.send_advert(i, &advert);
                }
                Output::AddAddresses(list) => self.effect(i, |s| Effect::AddAddresses {
                    instance: s.spec.vrrp.name.clone(),
                    ifindex: s.ifindex,
                    list,
                }),
                Output::RemoveAddresses(list) => self.effect(i, |s| Effect::RemoveAddresses {
                    instance: s.spec.vrrp.name.clone(),
                    ifindex: s.ifindex,
                    list,
                }),
                Output::AddRoutes(list) => self.effect(i, |s| Effect::AddRoutes {
                    instance: s.spec.vrrp.name.clone(),
                    ifindex: s.ifindex,
                    list,
                }),
                Output::RemoveRoutes(list) => self.effect(i, |s| Effect::RemoveRoutes {
                    instance: s.spec.vrrp.name.clone(),
                    ifindex: s.ifindex,
                    list,
                }),
                Output::SendGratuitous { addresses, repeat } => self.effect(i, |s| {
                    let all = s.spec.vrrp.all_addresses();
                    let targets = addresses
                        .iter()
                        .map(|addr| {
                            let dev = all
                                .clone()
                                .find(|a| a.addr == *addr)
                                .and_then(|a| a.dev.clone())
                                .unwrap_or_else(|| s.spec.interface.clone());
                            (*addr, dev)
                        })
                        .collect();
                    Effect::Gratuitous {
                        instance: s.spec.vrrp.name.clone(),
                        targets,
                        repeat,
                    }
                }),
                Output::WriteState(state) => {
                    let dir = self.options.state_dir.clone();
                    self.effect(i, |s| Effect::WriteState {
                        dir,
                        instance: s.spec.vrrp.name.clone(),
                        state,
                    })
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
                Output::SyncWantsMaster => {
                    let slots = &self.slots;
                    for g in &self.groups {
                        follow_ups.extend(g.on_wants_master(i, |j| {
                            slots
                                .get(j)
                                .and_then(|s| s.as_ref())
                                .is_some_and(|s| s.fsm.wants_master())
                        }));
                    }
                }
            }
        }
        for (j, input) in follow_ups {
            self.input(j, input, now);
        }
    }

    fn effect(&self, i: usize, make: impl FnOnce(&Slot) -> Effect) {
        let slot = self.slot(i);
        if let Some(ns) = self.namespaces.get(&slot.spec.netns) {
            let _ = ns.effects.send(make(slot));
        }
    }

    fn send_advert(&mut self, i: usize, advert: &Advert) {
        let ip_id = self.next_ip_id(i);
        let slot = self.slot(i);
        let Some(socket) = self
            .sockets
            .get(&slot.socket_key())
            .map(|s| std::sync::Arc::clone(&s.socket))
        else {
            return;
        };
        // The primary address (chosen at setup from unicast_src, mcast_src or the interface)
        // is also the state machine's side of the tie-break.
        let src = slot.fsm.status().primary;
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
        let name = slot.spec.vrrp.name.clone();
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
                _ => advert.encode(src, dst),
            };
            let bytes = match encoded {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(instance = name, "cannot encode our advert: {e}");
                    return;
                }
            };
            let socket = socket.clone();
            let name = name.clone();
            // Sending never blocks the engine; a full socket buffer only delays this advert.
            tokio::spawn(async move {
                if let Err(e) = socket.send(&bytes, src, dst).await {
                    tracing::warn!(instance = name, %dst, "sending advert failed: {e}");
                }
            });
        }
    }

    /// For an AH instance, the IPv4 identification of its next advert (keepalived's
    /// `ip_id`: counts from 1 and skips 0, which the kernel would replace).
    fn next_ip_id(&mut self, i: usize) -> Option<u16> {
        let slot = self.slots[i].as_mut()?;
        slot.ah_key()?;
        slot.ip_id = slot.ip_id.wrapping_add(1).max(1);
        Some(slot.ip_id)
    }

    // ---- packets and netlink ------------------------------------------------------------

    fn on_packet(&mut self, socket: &SocketKey, received: crate::net::Received, now: Instant) {
        let vrid = received.vrrp.get(1).copied();
        let target = vrid.and_then(|vrid| {
            self.slots.iter().position(|s| {
                s.as_ref()
                    .is_some_and(|s| s.spec.vrrp.vrid == vrid && s.uses_socket(socket))
            })
        });
        let Some(i) = target else {
            tracing::trace!(netns = ?socket.0, interface = socket.1, ?vrid, "advert for a VRID we do not run");
            return;
        };
        let src = received.meta.src;
        let slot = self.slot(i);
        let from_unicast_peer = slot.spec.unicast_peers.contains(&src);
        let decoded = if let (Some(key), Some(packet)) = (slot.ah_key(), &received.ah_packet) {
            // The ICV (with our key) and the SPI; the sequence number is the state
            // machine's to judge. keepalived leaves the TTL out of the ICV of unicast
            // instances and does not check it there.
            let unicast = !slot.spec.unicast_peers.is_empty();
            split_ah_packet(packet).and_then(|p| p.decode(&key, unicast, !from_unicast_peer))
        } else if from_unicast_peer {
            Advert::decode_any_ttl(&received.vrrp, &received.meta)
        } else {
            Advert::decode(&received.vrrp, &received.meta)
        };
        match decoded {
            Ok(advert) => {
                let slot = self.slot(i);
                // The XDP program drops these before they get here; without it (dataplane
                // "none", or a node where it could not be loaded) this is the only check.
                if !slot.spec.accepts_advert_from(src) {
                    tracing::debug!(instance = slot.spec.vrrp.name, %src, "advert from a source outside the allow-list (advert_sources / unicast_peers)");
                    self.input(i, Input::RxSourceNotAllowed, now);
                    return;
                }
                tracing::trace!(instance = slot.spec.vrrp.name, %src, priority = advert.priority, "advert");
                self.input(i, Input::Advert { src, advert }, now);
            }
            Err(e) => {
                tracing::debug!(instance = self.slot(i).spec.vrrp.name, %src, "rejected packet: {e}");
                self.input(i, Input::RxDecodeError(e), now);
            }
        }
    }

    async fn on_netlink(&mut self, netns: Option<String>, event: NetlinkEvent, now: Instant) {
        match event {
            NetlinkEvent::Link(link) => {
                if link.admin_up {
                    self.follow_recreated_interface(&netns, &link.name, link.index, now)
                        .await;
                }
                let up = link.admin_up && link.carrier;
                self.interface_state(&netns, &link.name, up, now);
            }
            NetlinkEvent::LinkRemoved { name, .. } => {
                self.interface_state(&netns, &name, false, now)
            }
            NetlinkEvent::AddressAdded(a) | NetlinkEvent::AddressRemoved(a) => {
                // Addresses bring and take connected routes: the routes of the fixed IPs
                // behind floating IPs may have changed.
                self.nudge_fastpath(&netns);
                self.refresh_primaries(&netns, Some(&a), now).await;
            }
            NetlinkEvent::Resync => {
                self.resync_links(&netns, now).await;
                self.refresh_primaries(&netns, None, now).await
            }
        }
    }

    pub(super) fn interface_state(
        &mut self,
        netns: &Option<String>,
        name: &str,
        up: bool,
        now: Instant,
    ) {
        let targets: Vec<(usize, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .filter(|(_, s)| s.spec.netns == *netns)
            .flat_map(|(i, s)| {
                s.track.iter().enumerate().filter_map(move |(t, spec)| {
                    matches!(spec, TrackSpec::Interface { name: n } if n == name).then_some((i, t))
                })
            })
            .collect();
        for (i, t) in targets {
            self.set_tracked(i, t, up, now);
        }
    }

    /// Re-reads the primary address of the instances in `netns` that address change
    /// `changed` may concern (all of them when `None`: events were lost). Each re-read is a
    /// netlink round trip that holds up the engine, so the instances' own addresses coming
    /// and going (every transition) must not cause one.
    pub(super) async fn refresh_primaries(
        &mut self,
        netns: &Option<String>,
        changed: Option<&AddrInfo>,
        now: Instant,
    ) {
        let Some(ns) = self.namespaces.get(netns) else {
            return;
        };
        let netlink = ns.netlink.clone();
        for i in 0..self.slots.len() {
            let Some(slot) = self.slots[i].as_ref() else {
                continue;
            };
            // A configured source (unicast_src, mcast_src) never follows the interface: our
            // adverts must keep leaving from it, or peers that check sources drop them.
            if slot.spec.netns != *netns || slot.spec.configured_source().is_some() {
                continue;
            }
            let exclude: Vec<IpAddr> = slot.spec.vrrp.all_addresses().map(|a| a.addr).collect();
            if changed.is_some_and(|a| !may_change_primary(slot.ifindex, &exclude, a)) {
                continue;
            }
            let current = slot.fsm.status().primary;
            match netlink
                .primary_address(slot.ifindex, slot.spec.vrrp.is_ipv6(), &exclude)
                .await
            {
                Ok(Some(addr)) if addr != current => {
                    tracing::info!(instance = slot.spec.vrrp.name, %addr, "primary address changed");
                    self.input(i, Input::PrimaryAddress(addr), now);
                }
                _ => {}
            }
        }
    }

    // ---- reload and shutdown -------------------------------------------------------------

    async fn reload(&mut self, config: AgentConfig, now: Instant) {
        let old: Vec<InstanceSpec> = self
            .slots
            .iter()
            .flatten()
            .map(|s| s.spec.clone())
            .collect();
        let index_of = |name: &str, slots: &[Option<Slot>]| {
            slots
                .iter()
                .position(|s| s.as_ref().is_some_and(|s| s.spec.vrrp.name == name))
        };
        let changes = plan(&old, &config.instances);
        let mut kept = 0;
        for change in changes {
            match change {
                Change::Keep { .. } => kept += 1,
                Change::Update { old: o, new: n } => {
                    let spec = config.instances[n].clone();
                    let Some(i) = index_of(&old[o].vrrp.name, &self.slots) else {
                        continue;
                    };
                    tracing::info!(instance = spec.vrrp.name, "reload: updating in place");
                    self.update_instance(i, spec, now).await;
                }
                Change::Replace { old: o, new: n } => {
                    if let Some(i) = index_of(&old[o].vrrp.name, &self.slots) {
                        tracing::info!(
                            instance = old[o].vrrp.name,
                            "reload: replacing (identity changed)"
                        );
                        self.remove_instance(i, now);
                    }
                    self.add_and_start(config.instances[n].clone(), now).await;
                }
                Change::Add { new: n } => {
                    tracing::info!(instance = config.instances[n].vrrp.name, "reload: adding");
                    self.add_and_start(config.instances[n].clone(), now).await;
                }
                Change::Remove { old: o } => {
                    if let Some(i) = index_of(&old[o].vrrp.name, &self.slots) {
                        tracing::info!(instance = old[o].vrrp.name, "reload: removing");
                        self.remove_instance(i, now);
                    }
                }
            }
        }
        self.config = config;
        self.sync_kernel_nat().await;
        self.sync_fastpath();
        self.rebuild_groups();
        self.start_scripts();
        tracing::info!(unchanged = kept, "configuration reloaded");
    }

    /// Startup, or resume as master when the data plane says so.
    fn start_slot(&mut self, i: usize, now: Instant) {
        let Some(slot) = self.slots[i].as_ref() else {
            return;
        };
        let input = if slot.resume {
            tracing::info!(
                instance = slot.spec.vrrp.name,
                "resuming as MASTER: the data-plane lease is still valid"
            );
            Input::Resume
        } else {
            Input::Startup
        };
        self.input(i, input, now);
    }

    async fn add_and_start(&mut self, spec: InstanceSpec, now: Instant) {
        match self.add_instance(spec.clone()).await {
            Ok(i) => self.start_slot(i, now),
            Err(e) => tracing::error!(instance = spec.vrrp.name, "cannot start: {e}"),
        }
    }

    async fn update_instance(&mut self, i: usize, spec: InstanceSpec, now: Instant) {
        let tracking_changed = self.slot(i).spec.track != spec.track;
        let source_changed = self.slot(i).spec.configured_source() != spec.configured_source();
        let (vrrp, track) = super::setup::effective(&spec);
        let slot = self.slots[i].as_mut().expect("live");
        if let Err(e) = slot.fsm.reconfigure(vrrp, now) {
            tracing::error!(instance = spec.vrrp.name, "reload refused: {e}");
            return;
        }
        slot.tracked_up.resize(track.len(), true);
        slot.track = track;
        slot.spec = spec.clone();
        let ifindex = slot.ifindex;
        // Switching to or from auth_type AH moves the instance to the other protocol's socket.
        if let Err(e) = self.socket(&spec, ifindex) {
            tracing::error!(instance = spec.vrrp.name, "reload: {e}");
        }
        // Addresses, floating IPs and the advert allow-list may have changed: the data plane
        // must enforce the new ones (same identity, so same slot; ownership is kept).
        match self.namespace(&spec.netns) {
            Ok(ns) => {
                let netlink = ns.netlink.clone();
                self.register_dataplane(&spec, ifindex, &netlink).await;
            }
            Err(e) => tracing::error!(instance = spec.vrrp.name, "data plane not updated: {e}"),
        }
        if tracking_changed {
            self.restart_tracking(i).await;
        }
        if source_changed {
            // Our adverts leave from the new configured source at once; without one any
            // more, from the interface's primary address again (re-read below).
            match spec.configured_source() {
                Some(src) if src != self.slot(i).fsm.status().primary => {
                    tracing::info!(instance = spec.vrrp.name, %src, "reload: adverts now leave from the configured source");
                    self.input(i, Input::PrimaryAddress(src), now);
                }
                Some(_) => {}
                None => self.refresh_primaries(&spec.netns, None, now).await,
            }
        }
        self.drain(i, now);
    }

    fn remove_instance(&mut self, i: usize, now: Instant) {
        self.input(i, Input::Shutdown, now);
        if let Some(slot) = self.slots[i].take() {
            self.dataplane.unregister(&slot.owner_key());
            for t in slot.tasks {
                t.abort();
            }
        }
    }

    async fn shutdown(&mut self) {
        tracing::info!("shutting down: resigning mastership and releasing addresses");
        let now = Instant::now();
        for i in 0..self.slots.len() {
            self.input(i, Input::Shutdown, now);
        }
        let barriers: Vec<_> = self
            .namespaces
            .values()
            .map(|ns| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let _ = ns.effects.send(Effect::Barrier(tx));
                rx
            })
            .collect();
        let all = futures::future::join_all(barriers);
        if tokio::time::timeout(SHUTDOWN_BUDGET, all).await.is_err() {
            tracing::warn!("shutdown: some addresses or routes could not be released in time");
        }
        // Let the priority-0 adverts leave before the sockets close.
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.dataplane.shutdown();
        self.remove_kernel_nat().await;
    }

    // ---- status ----------------------------------------------------------------------------

    fn report(&self) -> StatusReport {
        let instances = self
            .slots
            .iter()
            .flatten()
            .map(|s| {
                let mut r = super::status::instance_report(s);
                r.dataplane = self.dataplane.counters(&s.owner_key());
                r
            })
            .collect::<Vec<InstanceReport>>();
        StatusReport {
            agent: AgentInfo {
                version: env!("CARGO_PKG_VERSION").to_string(),
                pid: std::process::id(),
                config: self.options.config_path.display().to_string(),
                uptime_secs: self.started.elapsed().as_secs_f64(),
                dataplane: self.dataplane.describe(),
                pin_dir: self.dataplane.pin_dir(),
                dataplane_counters: self.dataplane.global_counters(),
                settings: self.options.settings.clone(),
                keepalived_pid: self.options.keepalived_pid,
            },
            instances,
            fastpath: self.fastpath_reports(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub(super) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}
