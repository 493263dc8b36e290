//! Every XDP program instance of one agent: one per router (network namespace), each loaded
//! with that router's id (allocated and recorded by `super::router_ids`), all sharing the
//! maps pinned under `<pin_dir>/maps-v<layout>`; the instance slots; ownership leases on the
//! kernel's monotonic clock; and the pinned links under `<pin_dir>/links`. A restarted agent
//! finds its router ids, slots, leases and links again.

use std::{
    collections::{BTreeSet, HashMap},
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use vrrp_ebpf_common::dataplane::{
    AddrKey, FAMILY_IPV4, FAMILY_IPV6, INSTANCE_COUNTER_COUNT, INSTANCE_FLAG_ALLOWLIST,
    INSTANCE_FLAG_UNICAST_ANY_TTL, InstanceKey, InstanceValue, LAYOUT_VERSION, MAX_SLOTS,
    OWNER_FLAG_ACCEPT, OwnerState, PORT_FLAG_GATEWAY, PeerKey, PortKey, PortValue,
    VIP_KIND_VIRTUAL, VipValue, addr_v4,
};

use super::{
    Dataplane, DataplaneError, LoadOptions, PersistentLink, XdpModePreference,
    router_ids::{Held, RouterIds, link_prefix},
};

/// The router id of the never-attached program instance used for map access.
const CONTROL_ROUTER: u32 = u32::MAX;
/// `statfs` magic of the bpf filesystem.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// What the data plane needs to know about one VRRP instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub netns: Option<String>,
    /// The VRRP interface.
    pub ifindex: u32,
    pub vrid: u8,
    pub ipv6: bool,
    /// Interfaces the program must run on (name, index), in `netns`.
    pub attach: Vec<(String, u32)>,
    /// Virtual addresses (advertised and excluded).
    pub vips: Vec<IpAddr>,
    /// Allowed advert sources (empty: anyone).
    pub allowlist: Vec<IpAddr>,
    /// Unicast peers are configured: adverts from the allow-list may have any TTL.
    pub unicast: bool,
    /// Interfaces on which this instance is the gateway (they carry its addresses), with
    /// their MACs: routed traffic there is forwarded only while owned.
    pub gateways: Vec<(u32, [u8; 6])>,
    /// How long a renewal keeps the instance owning.
    pub lease: Duration,
    /// RFC 9568 Accept_Mode as configured (ownership writes from the state machine carry
    /// it too; this is what a resumed master's lease keeps until then).
    pub accept: bool,
    /// Priority 255: the address owner, which accepts packets addressed to its addresses
    /// whatever its Accept_Mode (RFC 9568 §6.4.3).
    pub address_owner: bool,
}

/// The outcome of a registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registered {
    pub key: InstanceKey,
    pub slot: u32,
    /// The instance was master before a restart and its lease has not run out: it should
    /// resume as master at once (the data plane never stopped forwarding).
    pub resume_master: bool,
}

pub(super) struct SlotInfo {
    pub(super) slot: u32,
    lease: Duration,
    /// Accept_Mode, as last set.
    accept: bool,
    /// Priority 255 (accepts whatever its Accept_Mode).
    address_owner: bool,
    owned: bool,
    pub(super) vips: Vec<AddrKey>,
    peers: Vec<PeerKey>,
    /// Interfaces carrying the instance's addresses, with their MACs.
    pub(super) gateways: Vec<(PortKey, [u8; 6])>,
}

pub(super) struct Router {
    pub(super) id: u32,
    /// This process's claim on the id.
    held: Held,
    dataplane: Dataplane,
    links: HashMap<String, PersistentLink>,
}

/// All program instances, maps and links of one agent.
pub struct Manager {
    pub(super) pin_dir: PathBuf,
    ids: RouterIds,
    pref: XdpModePreference,
    log_level: Option<aya_log::Level>,
    pub(super) control: Dataplane,
    pub(super) routers: HashMap<Option<String>, Router>,
    pub(super) instances: HashMap<InstanceKey, SlotInfo>,
    used: BTreeSet<u32>,
    /// The fast path of each router (`super::fastpath_maps`).
    pub(super) fastpath: super::fastpath_maps::Overlays,
    /// Pins of the pass-through links on veth peers (`super::peer_napi`).
    pub(super) peer_pins: BTreeSet<PathBuf>,
}

/// The owner-map flags of an instance: it accepts packets addressed to its virtual addresses
/// when its Accept_Mode is on or it is the address owner (RFC 9568 §6.4.3), as keepalived
/// does (which leaves the addresses of a priority-255 instance out of its `no_accept` rule).
pub fn owner_flags(accept: bool, address_owner: bool) -> u32 {
    if accept || address_owner {
        OWNER_FLAG_ACCEPT
    } else {
        0
    }
}

/// Nanoseconds of CLOCK_MONOTONIC, the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC always exists");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// Mounts the bpf filesystem at /sys/fs/bpf if it is not there yet (pins under the host's
/// bpffs reached through `/proc/1/root` need nothing mounted here).
pub fn ensure_bpffs(pin_dir: &Path) -> Result<(), DataplaneError> {
    let root = Path::new(super::pin_root::BPFFS);
    if !pin_dir.starts_with(root) || super::pin_root::is_host_path(pin_dir) {
        return Ok(());
    }
    let mounted = nix::sys::statfs::statfs(root)
        .map(|s| s.filesystem_type().0 == BPF_FS_MAGIC)
        .unwrap_or(false);
    if !mounted {
        nix::mount::mount(
            Some("bpf"),
            root,
            Some("bpf"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| DataplaneError::PinDir {
            dir: root.to_path_buf(),
            error: format!("mounting the bpf filesystem: {e}"),
        })?;
        tracing::info!("mounted the bpf filesystem at /sys/fs/bpf");
    }
    Ok(())
}

/// Where the maps of this layout are pinned.
pub fn maps_dir(pin_dir: &Path) -> PathBuf {
    pin_dir.join(format!("maps-v{LAYOUT_VERSION}"))
}

pub(super) fn addr_key(router: u32, addr: IpAddr) -> AddrKey {
    match addr {
        IpAddr::V4(a) => AddrKey {
            router,
            family: FAMILY_IPV4,
            _pad: [0; 3],
            addr: addr_v4(a.octets()),
        },
        IpAddr::V6(a) => AddrKey {
            router,
            family: FAMILY_IPV6,
            _pad: [0; 3],
            addr: a.octets(),
        },
    }
}

fn peer_key(slot: u32, addr: IpAddr) -> PeerKey {
    let k = addr_key(0, addr);
    PeerKey {
        slot,
        family: k.family,
        _pad: [0; 3],
        addr: k.addr,
    }
}

impl Manager {
    /// Opens (or creates) the pinned maps under `pin_dir`.
    pub fn open(
        pin_dir: &Path,
        pref: XdpModePreference,
        log_level: Option<aya_log::Level>,
    ) -> Result<Self, DataplaneError> {
        ensure_bpffs(pin_dir)?;
        let control = Dataplane::load(&LoadOptions {
            ebpf_log_level: None,
            router_id: CONTROL_ROUTER,
            pin_dir: Some(maps_dir(pin_dir)),
        })?;
        let used = control.instances()?.iter().map(|(_, v)| v.slot).collect();
        Ok(Self {
            ids: RouterIds::open(pin_dir)?,
            pin_dir: pin_dir.to_path_buf(),
            pref,
            log_level,
            control,
            routers: HashMap::new(),
            instances: HashMap::new(),
            used,
            fastpath: Default::default(),
            peer_pins: BTreeSet::new(),
        })
    }

    pub(super) fn router(&mut self, netns: &Option<String>) -> Result<&mut Router, DataplaneError> {
        if !self.routers.contains_key(netns) {
            let held = self.ids.acquire(netns.as_deref())?;
            let id = held.id;
            let dataplane = Dataplane::load(&LoadOptions {
                ebpf_log_level: self.log_level,
                router_id: id,
                pin_dir: Some(maps_dir(&self.pin_dir)),
            })?;
            tracing::debug!(netns = netns.as_deref().unwrap_or("-"), id, "router id");
            self.routers.insert(
                netns.clone(),
                Router {
                    id,
                    held,
                    dataplane,
                    links: HashMap::new(),
                },
            );
        }
        Ok(self.routers.get_mut(netns).expect("just inserted"))
    }

    /// Registers an instance: program on its interfaces, slot, addresses, NAT, peers. Called
    /// again for a registered instance (a reload changed it in place), it keeps the slot and
    /// its ownership, adds what is new and removes what the instance no longer has.
    pub fn register(&mut self, reg: &Registration) -> Result<Registered, DataplaneError> {
        let pref = self.pref;
        let links_dir = self.pin_dir.join("links");
        let router = self.router(&reg.netns)?;
        let id = router.id;
        for (ifname, ifindex) in &reg.attach {
            if router.links.contains_key(ifname) {
                continue;
            }
            let pin = links_dir.join(format!("{}{ifname}", link_prefix(id)));
            let link = router.dataplane.attach_persistent(
                reg.netns.as_deref(),
                ifname,
                *ifindex,
                pref,
                &pin,
            )?;
            router.links.insert(ifname.clone(), link);
        }
        let key = InstanceKey {
            router: id,
            ifindex: reg.ifindex,
            vrid: reg.vrid,
            family: if reg.ipv6 { FAMILY_IPV6 } else { FAMILY_IPV4 },
            _pad: [0; 2],
        };
        let existing = self
            .control
            .instances()?
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.slot);
        let slot = match existing {
            Some(s) => s,
            None => (0..MAX_SLOTS)
                .find(|s| !self.used.contains(s))
                .ok_or(DataplaneError::Link(format!(
                    "all {MAX_SLOTS} instance slots are in use"
                )))?,
        };
        self.used.insert(slot);
        let owner = self.control.owner(slot)?;
        let resume_master = existing.is_some() && owner.lease_deadline_ns > monotonic_ns();
        if resume_master {
            // The lease runs on; the flags follow the configuration now in force.
            self.control.set_owner(
                slot,
                OwnerState {
                    flags: owner_flags(reg.accept, reg.address_owner),
                    ..owner
                },
            )?;
        } else {
            self.control.set_owner(slot, OwnerState::default())?;
        }
        let flags = match (reg.allowlist.is_empty(), reg.unicast) {
            (true, _) => 0,
            (false, false) => INSTANCE_FLAG_ALLOWLIST,
            (false, true) => INSTANCE_FLAG_ALLOWLIST | INSTANCE_FLAG_UNICAST_ANY_TTL,
        };
        // The allowed peers go in before the instance entry that switches the allow-list on,
        // so no advert of a peer is ever dropped as spoofed in between.
        let mut peers = Vec::new();
        for peer in &reg.allowlist {
            let k = peer_key(slot, *peer);
            self.control.add_peer(k)?;
            peers.push(k);
        }
        self.control
            .upsert_instance(key, InstanceValue { slot, flags })?;
        let mut info = SlotInfo {
            slot,
            lease: reg.lease,
            accept: reg.accept,
            address_owner: reg.address_owner,
            owned: resume_master,
            vips: Vec::new(),
            peers,
            gateways: Vec::new(),
        };
        // Floating IPs among them become floating entries when the fast path of the router
        // says so (`fastpath_maps`), written again below.
        for vip in &reg.vips {
            let k = addr_key(id, *vip);
            self.control.upsert_vip(
                k,
                VipValue {
                    slot,
                    kind: VIP_KIND_VIRTUAL,
                    flags: 0,
                    _pad: [0; 2],
                    nat_addr: [0; 4],
                    ext_ifindex: 0,
                    int_ifindex: 0,
                },
            )?;
            info.vips.push(k);
        }
        for (ifindex, mac) in &reg.gateways {
            let k = PortKey {
                router: id,
                ifindex: *ifindex,
            };
            self.control.upsert_port(
                k,
                PortValue {
                    slot,
                    mac: *mac,
                    flags: PORT_FLAG_GATEWAY,
                    tx: 0,
                },
            )?;
            info.gateways.push((k, *mac));
        }
        // Registered before (a reload changed the instance in place): what the new
        // registration no longer has goes, now that everything it has is in.
        if let Some(old) = self.instances.insert(key, info) {
            let new = &self.instances[&key];
            for k in old.vips.iter().filter(|k| !new.vips.contains(k)) {
                self.control.remove_vip(k)?;
            }
            for k in old.peers.iter().filter(|k| !new.peers.contains(k)) {
                self.control.remove_peer(k)?;
            }
            for (k, _) in old.gateways.iter().filter(|g| !new.gateways.contains(g)) {
                self.control.remove_port(k)?;
            }
        }
        self.write_fastpath(id)?;
        Ok(Registered {
            key,
            slot,
            resume_master,
        })
    }

    /// Forgets the attachment to `interface` in `netns`: the interface was deleted (the kernel
    /// detached the program with it) and created again under the same name, so the next
    /// registration that names it attaches afresh to the new one.
    pub fn forget_link(&mut self, netns: &Option<String>, interface: &str) {
        if let Some(router) = self.routers.get_mut(netns)
            && let Some(link) = router.links.remove(interface)
        {
            router.dataplane.release_persistent(link);
        }
    }

    /// Removes an instance's entries and releases its slot.
    pub fn unregister(&mut self, key: &InstanceKey) -> Result<(), DataplaneError> {
        let Some(info) = self.instances.remove(key) else {
            return Ok(());
        };
        self.control.set_owner(info.slot, OwnerState::default())?;
        self.control.remove_instance(key)?;
        for k in &info.vips {
            self.control.remove_vip(k)?;
        }
        for k in &info.peers {
            self.control.remove_peer(k)?;
        }
        for (k, _) in &info.gateways {
            self.control.remove_port(k)?;
        }
        self.used.remove(&info.slot);
        self.write_fastpath(key.router)?;
        Ok(())
    }

    /// Removes every entry left by an earlier run that no registered instance claims (call
    /// once all configured instances are registered).
    pub fn reconcile(&mut self) -> Result<usize, DataplaneError> {
        let live: BTreeSet<u32> = self.instances.values().map(|i| i.slot).collect();
        let mut removed = 0;
        for (k, v) in self.control.instances()? {
            if !live.contains(&v.slot) {
                self.control.remove_instance(&k)?;
                self.control.set_owner(v.slot, OwnerState::default())?;
                removed += 1;
            }
        }
        for (k, v) in self.control.vips()? {
            if !live.contains(&v.slot) {
                self.control.remove_vip(&k)?;
            }
        }
        for (k, v) in self.control.nat_outs()? {
            if !live.contains(&v.slot) {
                self.control.remove_nat_out(&k)?;
            }
        }
        for k in self.control.peers()? {
            if !live.contains(&k.slot) {
                self.control.remove_peer(&k)?;
            }
        }
        for (k, v) in self.control.ports()? {
            if !live.contains(&v.slot) {
                self.control.remove_port(&k)?;
            }
        }
        self.used = live;
        Ok(removed)
    }

    /// Sets ownership: owned with a fresh lease, or released (lease 0).
    pub fn set_owned(
        &mut self,
        key: &InstanceKey,
        owned: bool,
        accept: bool,
    ) -> Result<(), DataplaneError> {
        let Some(info) = self.instances.get_mut(key) else {
            return Ok(());
        };
        info.owned = owned;
        info.accept = accept;
        let state = OwnerState {
            lease_deadline_ns: if owned {
                monotonic_ns() + info.lease.as_nanos() as u64
            } else {
                0
            },
            flags: owner_flags(accept, info.address_owner),
            _pad: 0,
        };
        let slot = info.slot;
        self.control.set_owner(slot, state)
    }

    /// Extends the lease of an owning instance to `lease` from now (also the duration later
    /// ownership grants use).
    pub fn renew(&mut self, key: &InstanceKey, lease: Duration) -> Result<(), DataplaneError> {
        match self.instances.get_mut(key) {
            Some(info) if info.owned => {
                info.lease = lease;
                let accept = info.accept;
                self.set_owned(key, true, accept)
            }
            _ => Ok(()),
        }
    }

    /// The data plane's counters of an instance.
    pub fn counters(&self, key: &InstanceKey) -> Option<[u64; INSTANCE_COUNTER_COUNT]> {
        let info = self.instances.get(key)?;
        self.control.instance_counters(info.slot).ok()
    }

    /// The program's frame counters by kind, over all routers of this agent.
    pub fn stats(&self) -> Option<std::collections::BTreeMap<&'static str, u64>> {
        self.control.stats().ok()
    }

    /// One line for status.
    pub fn describe(&self) -> String {
        let mut modes: HashMap<&'static str, usize> = HashMap::new();
        for r in self.routers.values() {
            for l in r.links.values() {
                *modes.entry(l.describe()).or_default() += 1;
            }
        }
        let mut parts: Vec<String> = modes.iter().map(|(m, n)| format!("{n} {m}")).collect();
        parts.sort();
        format!(
            "xdp: {} router(s), {} interface(s) ({}), maps at {}",
            self.routers.len(),
            modes.values().sum::<usize>(),
            parts.join(", "),
            maps_dir(&self.pin_dir).display()
        )
    }

    /// Clean stop of one router while the others run on (the node agent serves many): release
    /// its instances, take back its fast-path entries, unpin and detach its links, and drop
    /// its program instance. The pinned maps stay.
    pub fn shutdown_router(&mut self, netns: &Option<String>) {
        let Some(id) = self.routers.get(netns).map(|r| r.id) else {
            return;
        };
        let keys: Vec<InstanceKey> = self
            .instances
            .keys()
            .filter(|k| k.router == id)
            .copied()
            .collect();
        for k in keys {
            if let Err(e) = self.unregister(&k) {
                tracing::warn!("releasing data-plane state: {e}");
            }
        }
        if let Some(plan) = self.fastpath.plans.get_mut(&id) {
            *plan = (netns.clone(), super::fastpath_maps::FastPathMaps::default());
            if let Err(e) = self.write_fastpath(id) {
                tracing::warn!("taking back the router's fast path: {e}");
            }
            self.fastpath.forget(id);
        }
        if let Some(mut router) = self.routers.remove(netns) {
            for (_, link) in router.links.drain() {
                router.dataplane.release_persistent(link);
            }
            // Another process on these pins may run the same namespace (its entries stay).
            let in_maps = self.router_in_maps(id);
            match self.ids.release(router.held, in_maps) {
                Ok(true) => tracing::debug!(id, "router id released"),
                Ok(false) => {}
                Err(e) => tracing::warn!("releasing router id {id}: {e}"),
            }
        }
    }

    /// Whether map entries carry router `id` (unreadable maps count as yes).
    fn router_in_maps(&self, id: u32) -> bool {
        let c = &self.control;
        [
            c.instances()
                .map(|all| all.iter().any(|(k, _)| k.router == id)),
            c.vips().map(|all| all.iter().any(|(k, _)| k.router == id)),
            c.nat_outs()
                .map(|all| all.iter().any(|(k, _)| k.router == id)),
            c.ports().map(|all| all.iter().any(|(k, _)| k.router == id)),
        ]
        .into_iter()
        .any(|found| found.unwrap_or(true))
    }

    /// Clean stop: release every instance, unpin and detach every link, and remove the pinned
    /// maps (nothing runs on them any more).
    pub fn shutdown(&mut self) {
        let keys: Vec<InstanceKey> = self.instances.keys().copied().collect();
        for k in keys {
            if let Err(e) = self.unregister(&k) {
                tracing::warn!("releasing data-plane state: {e}");
            }
        }
        for (_, mut router) in self.routers.drain() {
            for (_, link) in router.links.drain() {
                router.dataplane.release_persistent(link);
            }
        }
        for pin in std::mem::take(&mut self.peer_pins) {
            super::peer_napi::detach_pass(&pin);
        }
        if let Err(e) = std::fs::remove_dir_all(&self.pin_dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(pin_dir = %self.pin_dir.display(), "removing pinned maps: {e}");
        }
    }
}
