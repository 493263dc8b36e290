//! The engine: one task owning the core's [`Router`] (every state machine of this process).
//! It waits for the next event or the router's earliest deadline, feeds packets, tracked
//! objects, signals and reloads into the router, and has `outputs` carry out what comes
//! out. Setup (`setup`), interfaces recreated (`relink`), the fast path, the kernel NAT and
//! status reports (`status`) are in files of their own.

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use tokio::{sync::mpsc, task::JoinHandle};

use super::{
    effects::Effect,
    events::EngineEvent,
    notify::Notifier,
    ownership::DataplaneSink,
    primary::may_change_primary,
    reload::{Change, plan},
    setup::SetupError,
    slot::{Namespace, ObjectKey, OpenSocket, Slot, SocketKey},
};
use crate::{
    api::model::{AgentInfo, InstanceReport, StatusReport},
    config::{AgentConfig, InstanceSpec},
    fsm::{Delivery, Input, InstanceId, Packet, Router},
    netlink::{AddrInfo, NetlinkEvent},
};

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
    /// Every instance's state machine, sync group and tracked object.
    pub(super) router: Router<SocketKey, ObjectKey>,
    /// What the engine keeps per instance beside it.
    pub(super) slots: BTreeMap<InstanceId, Slot>,
    pub(super) namespaces: HashMap<Option<String>, Namespace>,
    pub(super) sockets: HashMap<SocketKey, OpenSocket>,
    /// The ifindex each interface an instance uses had when it was set up, by namespace and
    /// name: a link event with another index means it was deleted and created again.
    pub(super) link_indexes: HashMap<(Option<String>, String), u32>,
    /// The task checking each tracked script and reachability probe.
    pub(super) checks: HashMap<ObjectKey, JoinHandle<()>>,
    pub(super) notifier: Notifier,
    pub(super) dataplane: Box<dyn DataplaneSink>,
    /// The floating-IP NAT script last written per namespace (`super::kernel_nat`).
    pub(super) kernel_nat: HashMap<Option<String>, String>,
    /// The fast path per namespace (`super::fastpath`).
    pub(super) fastpath: HashMap<Option<String>, super::fastpath::NamespaceFastPath>,
    /// conntrackd per namespace and takeovers on hold (`super::conntrack_sync`).
    pub(super) conntrack: super::conntrack_sync::ConntrackSync,
    pub(super) events_tx: mpsc::Sender<EngineEvent>,
    events_rx: mpsc::Receiver<EngineEvent>,
    started: Instant,
}

/// How long shutdown may take in all (Neutron expects an exit within 5 s of SIGTERM).
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(4);
/// Deleting the macvlans (`use_vmac`) after that may take at most this (still within 5 s).
const VMAC_BUDGET: Duration = Duration::from_millis(500);

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
            router: Router::new(),
            slots: BTreeMap::new(),
            namespaces: HashMap::new(),
            sockets: HashMap::new(),
            link_indexes: HashMap::new(),
            checks: HashMap::new(),
            dataplane,
            kernel_nat: HashMap::new(),
            fastpath: HashMap::new(),
            conntrack: super::conntrack_sync::ConntrackSync::default(),
            events_tx,
            events_rx,
            started: Instant::now(),
        }
    }

    /// The node's balancing settings into the core (at start and after a reload).
    fn apply_balance(&mut self, now: Instant) {
        self.router
            .set_balance(self.config.global.balance_settings, now);
        self.carry_out();
    }

    /// A sender for events (signals, status queries).
    pub fn events(&self) -> mpsc::Sender<EngineEvent> {
        self.events_tx.clone()
    }

    /// Starts every configured instance, then runs until shutdown.
    pub async fn run(mut self) -> Result<(), SetupError> {
        let specs = self.config.instances.clone();
        let mut ids = Vec::new();
        for spec in specs {
            ids.push(self.add_instance(spec).await?);
        }
        self.dataplane.reconcile();
        self.sync_kernel_nat().await;
        self.sync_fastpath();
        self.rebuild_groups();
        self.sync_checks();
        let now = Instant::now();
        self.apply_balance(now);
        for id in ids {
            self.start_instance(id, now);
        }
        loop {
            let event = match self.router.poll_timeout() {
                Some(d) => {
                    tokio::select! {
                        ev = self.events_rx.recv() => ev,
                        _ = tokio::time::sleep_until(d.into()) => {
                            match self.take_pending().await {
                                Some(shutdown) => Some(shutdown),
                                None => {
                                    let now = Instant::now();
                                    self.router.handle_timeout(now);
                                    self.carry_out();
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
            EngineEvent::Check { key, up } => {
                match &key {
                    ObjectKey::Script(name) => {
                        tracing::info!(script = name, up, "vrrp_script changed state");
                    }
                    ObjectKey::Probe { netns, spec } => tracing::info!(
                        netns = netns.as_deref().unwrap_or("-"),
                        address = %spec.address,
                        interface = spec.interface,
                        up,
                        "reachability changed"
                    ),
                    ObjectKey::Link { .. } => {}
                }
                self.set_object(&key, up, now);
            }
            EngineEvent::Status(reply) => {
                let _ = reply.send(self.report());
            }
            EngineEvent::Reload(config) => self.reload(*config, now).await,
            EngineEvent::ConntrackCommitted {
                id,
                generation,
                outcome,
            } => self.on_commit(id, generation, outcome),
            EngineEvent::Shutdown => {}
        }
    }

    // ---- into the core ---------------------------------------------------------------------

    pub(super) fn slot(&self, id: InstanceId) -> &Slot {
        &self.slots[&id]
    }

    /// Gives instance `id` an input and carries out what follows.
    pub(super) fn input(&mut self, id: InstanceId, input: Input, now: Instant) {
        self.router.input(id, input, now);
        self.carry_out();
    }

    /// A tracked object is up or down; every instance tracking it follows.
    pub(super) fn set_object(&mut self, key: &ObjectKey, up: bool, now: Instant) {
        self.router.set_object(key, up, now);
        self.carry_out();
    }

    // ---- packets and netlink ------------------------------------------------------------

    fn on_packet(&mut self, socket: &SocketKey, received: crate::net::Received, now: Instant) {
        let packet = Packet {
            vrrp: &received.vrrp,
            ah: received.ah_packet.as_deref(),
            meta: received.meta,
        };
        let src = received.meta.src;
        match self.router.receive(socket, packet, now) {
            Delivery::NotOurs => {
                let vrid = received.vrrp.get(1);
                tracing::trace!(netns = ?socket.0, interface = socket.1, ?vrid, "advert for a VRID we do not run");
            }
            Delivery::Advert(id) => {
                tracing::trace!(instance = self.slot(id).spec.vrrp.name, %src, "advert");
            }
            Delivery::SourceNotAllowed(id) => {
                tracing::debug!(instance = self.slot(id).spec.vrrp.name, %src, "advert from a source outside the allow-list (advert_sources / unicast_peers)");
            }
            Delivery::Undecodable(id, e) => {
                tracing::debug!(instance = self.slot(id).spec.vrrp.name, %src, "rejected packet: {e}");
            }
        }
        self.carry_out();
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
                self.interface_state(&netns, &name, false, now);
            }
            NetlinkEvent::AddressAdded(a) | NetlinkEvent::AddressRemoved(a) => {
                // Addresses bring and take connected routes: the routes of the fixed IPs
                // behind floating IPs may have changed.
                self.nudge_fastpath(&netns);
                self.refresh_primaries(&netns, Some(&a), now).await;
            }
            NetlinkEvent::Resync => {
                self.resync_links(&netns, now).await;
                self.refresh_primaries(&netns, None, now).await;
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
        let key = ObjectKey::Link {
            netns: netns.clone(),
            name: name.to_string(),
        };
        self.set_object(&key, up, now);
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
        let ids: Vec<InstanceId> = self.slots.keys().copied().collect();
        for id in ids {
            let Some(slot) = self.slots.get(&id) else {
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
            let Some(current) = self.router.instance(id).map(|i| i.status().primary) else {
                continue;
            };
            match netlink
                .primary_address(slot.ifindex, slot.spec.vrrp.is_ipv6(), &exclude)
                .await
            {
                Ok(Some(addr)) if addr != current => {
                    tracing::info!(instance = slot.spec.vrrp.name, %addr, "primary address changed");
                    self.input(id, Input::PrimaryAddress(addr), now);
                    // conntrackd syncs from the primary address.
                    self.sync_conntrack_ns(netns);
                }
                _ => {}
            }
        }
    }

    // ---- reload and shutdown -------------------------------------------------------------

    /// The running instance named `name`.
    fn id_of(&self, name: &str) -> Option<InstanceId> {
        self.slots
            .values()
            .find(|s| s.spec.vrrp.name == name)
            .map(|s| s.id)
    }

    async fn reload(&mut self, config: AgentConfig, now: Instant) {
        let old: Vec<InstanceSpec> = self.slots.values().map(|s| s.spec.clone()).collect();
        let changes = plan(&old, &config.instances);
        let mut kept = 0;
        for change in changes {
            match change {
                Change::Keep { .. } => kept += 1,
                Change::Update { old: o, new: n } => {
                    let spec = config.instances[n].clone();
                    let Some(id) = self.id_of(&old[o].vrrp.name) else {
                        continue;
                    };
                    tracing::info!(instance = spec.vrrp.name, "reload: updating in place");
                    self.update_instance(id, spec, now).await;
                }
                Change::Replace { old: o, new: n } => {
                    if let Some(id) = self.id_of(&old[o].vrrp.name) {
                        tracing::info!(
                            instance = old[o].vrrp.name,
                            "reload: replacing (identity changed)"
                        );
                        self.remove_instance(id, now);
                    }
                    self.add_and_start(config.instances[n].clone(), now).await;
                }
                Change::Add { new: n } => {
                    tracing::info!(instance = config.instances[n].vrrp.name, "reload: adding");
                    self.add_and_start(config.instances[n].clone(), now).await;
                }
                Change::Remove { old: o } => {
                    if let Some(id) = self.id_of(&old[o].vrrp.name) {
                        tracing::info!(instance = old[o].vrrp.name, "reload: removing");
                        self.remove_instance(id, now);
                    }
                }
            }
        }
        self.config = config;
        self.apply_balance(now);
        self.sync_kernel_nat().await;
        self.sync_fastpath();
        self.rebuild_groups();
        self.sync_checks();
        self.sync_conntrack();
        tracing::info!(unchanged = kept, "configuration reloaded");
    }

    /// Startup, or resume as master when the data plane says so.
    fn start_instance(&mut self, id: InstanceId, now: Instant) {
        let Some(slot) = self.slots.get(&id) else {
            return;
        };
        if slot.resume {
            tracing::info!(
                instance = slot.spec.vrrp.name,
                "resuming as MASTER: the data-plane lease is still valid"
            );
        }
        let resume = slot.resume;
        let netns = slot.spec.netns.clone();
        self.sync_conntrack_ns(&netns);
        self.router.start(id, resume, now);
        self.carry_out();
    }

    async fn add_and_start(&mut self, spec: InstanceSpec, now: Instant) {
        match self.add_instance(spec.clone()).await {
            Ok(id) => self.start_instance(id, now),
            Err(e) => tracing::error!(instance = spec.vrrp.name, "cannot start: {e}"),
        }
    }

    async fn update_instance(&mut self, id: InstanceId, spec: InstanceSpec, now: Instant) {
        let source_changed = self.slot(id).spec.configured_source() != spec.configured_source();
        // Links it will track are read now, not assumed up.
        self.read_links(&spec, now).await;
        let member = super::setup::member_spec(&spec);
        if let Err(e) = self.router.reconfigure(id, member, now) {
            tracing::error!(instance = spec.vrrp.name, "reload refused: {e}");
            return;
        }
        let slot = self.slots.get_mut(&id).expect("live");
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
        if source_changed {
            // Our adverts leave from the new configured source at once; without one any
            // more, from the interface's primary address again (re-read below).
            let primary = self.router.instance(id).map(|i| i.status().primary);
            match spec.configured_source() {
                Some(src) if Some(src) != primary => {
                    tracing::info!(instance = spec.vrrp.name, %src, "reload: adverts now leave from the configured source");
                    self.input(id, Input::PrimaryAddress(src), now);
                }
                Some(_) => {}
                None => self.refresh_primaries(&spec.netns, None, now).await,
            }
        }
        self.carry_out();
    }

    fn remove_instance(&mut self, id: InstanceId, now: Instant) {
        self.router.remove_instance(id, now);
        self.carry_out();
        self.release_hold(id);
        if let Some(slot) = self.slots.remove(&id) {
            self.dataplane.unregister(&slot.owner_key());
            // Deleted after the adverts and the "down" its release queued.
            if let Some(v) = &slot.vmac {
                drop(v.remove());
            }
        }
    }

    async fn shutdown(&mut self) {
        tracing::info!("shutting down: resigning mastership and releasing addresses");
        self.conntrack_shutdown_begins();
        let now = Instant::now();
        let ids: Vec<InstanceId> = self.slots.keys().copied().collect();
        for id in ids {
            self.input(id, Input::Shutdown, now);
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
        // use_vmac: the macvlans go after the priority-0 adverts queued through them.
        let removed: Vec<_> = self
            .slots
            .values()
            .filter_map(|s| s.vmac.as_ref().map(super::vmac::Vmac::remove))
            .collect();
        if !removed.is_empty()
            && tokio::time::timeout(VMAC_BUDGET, futures::future::join_all(removed))
                .await
                .is_err()
        {
            tracing::warn!("shutdown: some macvlans (use_vmac) could not be deleted in time");
        }
        // Let the priority-0 adverts leave before the sockets close.
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.dataplane.shutdown();
        self.remove_kernel_nat().await;
        self.stop_conntrack().await;
    }

    // ---- status ----------------------------------------------------------------------------

    fn report(&self) -> StatusReport {
        let instances = self
            .slots
            .values()
            .filter_map(|s| {
                let instance = self.router.instance(s.id)?;
                let mut r = super::status::instance_report(s, instance, &self.router.tracked(s.id));
                r.dataplane = self.dataplane.counters(&s.owner_key());
                Some(r)
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
            balance: super::status::balance_report(&self.router.balance_status(), Instant::now()),
            conntrackd: self.conntrack.reports(),
        }
    }
}
