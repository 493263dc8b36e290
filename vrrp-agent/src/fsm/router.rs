//! Every virtual router of one agent (or of one simulated node), sans-IO: the instances, their
//! sync groups and tracked objects, packet dispatch by (socket, VRID) with decoding and the
//! source allow-list, the node's share of balancing (its load told to the balanced instances,
//! their one move at a time, see `balance`), and one combined timer. Inputs arrive with `now`; effects leave as
//! `(InstanceId, Output)` in the order they must be carried out.
//!
//! The agent's engine and the simulator are thin drivers over this type, so what the
//! simulator's property tests cover is what the daemon runs. The driver chooses what
//! identifies a socket (`S`) and a tracked object (`K`); equal keys are the same socket or
//! object.
//!
//! May import `crate::packet` and the rest of `fsm` only.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    fmt::Debug,
    hash::Hash,
    net::IpAddr,
    time::{Duration, Instant},
};

use super::{
    BalanceMove, BalanceSettings, BalanceStatus, ConfigError, Input, Instance, InstanceConfig,
    Output, Reason, State, SyncGroup,
    balance_gate::{Gate, rank},
    timing::master_down_interval,
};
use crate::packet::{Advert, Auth, ChecksumForm, DecodeError, RxMeta, split_ah_packet};

/// An instance of a [`Router`]: never reused, so a stale id cannot reach a newer instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(u64);

impl InstanceId {
    /// The number behind the id (for logs and maps).
    pub fn get(self) -> u64 {
        self.0
    }

    #[cfg(test)]
    pub(super) fn for_tests(n: u64) -> Self {
        Self(n)
    }
}

/// Who may send us adverts, and how they arrive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RxPolicy {
    /// Unicast peers (keepalived's `unicast_peer`): their adverts are accepted with any TTL,
    /// and with AH the TTL is outside the ICV.
    pub unicast_peers: Vec<IpAddr>,
    /// The allow-list: adverts from other sources are counted and dropped. Empty: any source.
    pub allowed_sources: Vec<IpAddr>,
}

impl RxPolicy {
    fn allows(&self, src: IpAddr) -> bool {
        self.allowed_sources.is_empty() || self.allowed_sources.contains(&src)
    }
}

/// What an instance is, as the router needs it.
#[derive(Clone, Debug)]
pub struct MemberSpec<S, K> {
    pub config: InstanceConfig,
    /// The socket its adverts arrive on (with its VRID, the dispatch key).
    pub socket: S,
    /// The object behind each of `config.tracked`, in the same order.
    pub tracks: Vec<K>,
    pub rx: RxPolicy,
}

/// A packet as a VRRP socket delivers it.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// The VRRP message.
    pub vrrp: &'a [u8],
    /// With IPsec AH, the whole IPv4 packet (header, AH, VRRP).
    pub ah: Option<&'a [u8]>,
    pub meta: RxMeta,
}

/// What became of a received packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// No instance runs its VRID on that socket (or it is too short to name one).
    NotOurs,
    /// An advert, handed to the instance.
    Advert(InstanceId),
    /// From a source outside the instance's allow-list: counted only.
    SourceNotAllowed(InstanceId),
    /// Failed a codec or authentication check: counted only.
    Undecodable(InstanceId, DecodeError),
}

/// What a router refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("instance {name}: {tracks} tracked object keys for {objects} tracked objects")]
    TrackCount {
        name: String,
        tracks: usize,
        objects: usize,
    },
    #[error("instance {name}: VRID {vrid} is already run on that socket by {other}")]
    Duplicate {
        name: String,
        vrid: u8,
        other: String,
    },
    #[error("no such instance")]
    Unknown,
}

/// A tracked object: its last known state and who tracks it.
#[derive(Clone, Debug)]
pub struct TrackedState<'a, K> {
    pub key: &'a K,
    pub name: &'a str,
    pub weight: i32,
    pub up: bool,
}

struct Member<S, K> {
    instance: Instance,
    socket: S,
    tracks: Vec<K>,
    rx: RxPolicy,
}

/// The virtual routers of one node. See the module doc.
pub struct Router<S, K> {
    members: BTreeMap<InstanceId, Member<S, K>>,
    next_id: u64,
    dispatch: HashMap<(S, u8), InstanceId>,
    /// The last reported state of every object (see [`forget_untracked`](Self::forget_untracked)).
    /// Unknown objects count as up.
    objects: HashMap<K, bool>,
    groups: Vec<SyncGroup>,
    /// The node's share of balancing.
    balance: Gate,
    outputs: VecDeque<(InstanceId, Output)>,
}

impl<S, K> Default for Router<S, K>
where
    S: Clone + Eq + Hash + Debug,
    K: Clone + Eq + Hash + Debug,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<S, K> Router<S, K>
where
    S: Clone + Eq + Hash + Debug,
    K: Clone + Eq + Hash + Debug,
{
    pub fn new() -> Self {
        Self {
            members: BTreeMap::new(),
            next_id: 1,
            dispatch: HashMap::new(),
            objects: HashMap::new(),
            groups: Vec::new(),
            balance: Gate::default(),
            outputs: VecDeque::new(),
        }
    }

    // ---- membership -----------------------------------------------------------------------

    /// Adds a stopped instance (start it with [`start`](Self::start)). Its tracked objects
    /// take their last reported state (report fresh readings with
    /// [`set_object`](Self::set_object) first; what was never reported counts as up).
    pub fn add_instance(
        &mut self,
        spec: MemberSpec<S, K>,
        primary: IpAddr,
        now: Instant,
    ) -> Result<InstanceId, RouterError> {
        check_tracks(&spec)?;
        self.check_free(&spec, None)?;
        let mut instance = Instance::new(spec.config, primary)?;
        let id = InstanceId(self.next_id);
        self.next_id += 1;
        for (index, key) in spec.tracks.iter().enumerate() {
            if !self.object_up(key) {
                // Not running yet: only recorded, no transition.
                instance.handle_input(Input::Tracked { index, up: false }, now);
            }
        }
        self.dispatch
            .insert((spec.socket.clone(), instance.config().vrid), id);
        let balanced = instance.config().balance;
        self.members.insert(
            id,
            Member {
                instance,
                socket: spec.socket,
                tracks: spec.tracks,
                rx: spec.rx,
            },
        );
        if balanced {
            self.refresh_balance(now);
        }
        Ok(id)
    }

    /// Applies a changed configuration in place (reload): the instance keeps its state unless
    /// the change demands otherwise, and its tracked objects take their last reported state
    /// by key, whatever their position in the new list.
    pub fn reconfigure(
        &mut self,
        id: InstanceId,
        spec: MemberSpec<S, K>,
        now: Instant,
    ) -> Result<(), RouterError> {
        check_tracks(&spec)?;
        self.check_free(&spec, Some(id))?;
        let up: Vec<bool> = spec.tracks.iter().map(|k| self.object_up(k)).collect();
        let member = self.members.get_mut(&id).ok_or(RouterError::Unknown)?;
        member.instance.reconfigure_tracked(spec.config, &up, now)?;
        self.dispatch.retain(|_, v| *v != id);
        self.dispatch
            .insert((spec.socket.clone(), member.instance.config().vrid), id);
        member.socket = spec.socket;
        member.tracks = spec.tracks;
        member.rx = spec.rx;
        self.drain(id, now);
        // `balance` may have been switched: recount the load and tell everyone.
        self.refresh_balance(now);
        Ok(())
    }

    /// Stops an instance (a master resigns, see [`Input::Shutdown`]) and forgets it; its last
    /// outputs are still to be polled.
    pub fn remove_instance(&mut self, id: InstanceId, now: Instant) {
        self.input(id, Input::Shutdown, now);
        if let Some(m) = self.members.remove(&id) {
            self.dispatch.remove(&(m.socket, m.instance.config().vrid));
        }
        for g in &mut self.groups {
            g.remove(id);
        }
        if self.balance.moving == Some(id) {
            self.balance.abandoned(now, DEFAULT_GATHER);
        }
        self.refresh_balance(now);
    }

    /// The node's balancing settings (see `balance`); every balanced instance learns them.
    pub fn set_balance(&mut self, settings: BalanceSettings, now: Instant) {
        self.balance.settings = settings;
        self.refresh_balance(now);
    }

    /// The sync groups: `(name, members)`. Replaces the previous ones.
    pub fn set_sync_groups(&mut self, groups: Vec<(String, Vec<InstanceId>)>) {
        self.groups = groups
            .into_iter()
            .map(|(name, ids)| {
                let members = ids
                    .into_iter()
                    .filter_map(|id| {
                        let m = self.members.get(&id)?;
                        Some((id, m.instance.config().name.clone()))
                    })
                    .collect();
                SyncGroup::new(&name, members)
            })
            .collect();
    }

    // ---- inputs ---------------------------------------------------------------------------

    /// Starts an instance: the election ([`Input::Startup`]), or as master at once when
    /// `resume` (the data plane's lease of an earlier run is still valid, [`Input::Resume`]).
    pub fn start(&mut self, id: InstanceId, resume: bool, now: Instant) {
        let input = if resume {
            Input::Resume
        } else {
            Input::Startup
        };
        self.input(id, input, now);
    }

    /// Gives one instance an input: `Startup`, `Resume`, `Shutdown`, `PrimaryAddress`.
    /// (Adverts arrive through [`receive`](Self::receive), tracked objects through
    /// [`set_object`](Self::set_object), sync-group commands from the router itself.)
    pub fn input(&mut self, id: InstanceId, input: Input, now: Instant) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        m.instance.handle_input(input, now);
        self.drain(id, now);
    }

    /// A packet arrived on `socket`: dispatched by its VRID to the instance that runs it
    /// there (nothing happens when none does), decoded (with AH, authenticated with the
    /// instance's key), checked against the allow-list and handed to the state machine
    /// (refused packets are counted by it).
    pub fn receive(&mut self, socket: &S, packet: Packet<'_>, now: Instant) -> Delivery {
        let Some(&vrid) = packet.vrrp.get(1) else {
            return Delivery::NotOurs;
        };
        let Some(&id) = self.dispatch.get(&(socket.clone(), vrid)) else {
            return Delivery::NotOurs;
        };
        let Some(m) = self.members.get(&id) else {
            return Delivery::NotOurs;
        };
        let src = packet.meta.src;
        let from_unicast_peer = m.rx.unicast_peers.contains(&src);
        let decoded = match (&m.instance.config().auth, packet.ah) {
            (Auth::Ah { key, .. }, Some(ah)) => {
                // The ICV (with our key) and the SPI; the sequence number is the state
                // machine's to judge. keepalived leaves the TTL out of the ICV of unicast
                // instances and does not check it from unicast peers.
                let unicast = !m.rx.unicast_peers.is_empty();
                split_ah_packet(ah)
                    .and_then(|p| p.decode(key, unicast, !from_unicast_peer))
                    .map(|advert| (advert, ChecksumForm::MessageOnly))
            }
            _ if from_unicast_peer => Advert::decode_any_ttl_with_form(packet.vrrp, &packet.meta),
            _ => Advert::decode_with_form(packet.vrrp, &packet.meta),
        };
        let (input, delivery) = match decoded {
            // The XDP program drops these before they get here; without it this is the only
            // check.
            Ok(_) if !m.rx.allows(src) => (
                Input::RxSourceNotAllowed { src },
                Delivery::SourceNotAllowed(id),
            ),
            Ok((advert, checksum)) => (
                Input::Advert {
                    src,
                    advert,
                    checksum,
                },
                Delivery::Advert(id),
            ),
            Err(error) => (
                Input::RxDecodeError { src, error },
                Delivery::Undecodable(id, error),
            ),
        };
        self.input(id, input, now);
        delivery
    }

    /// A tracked object is up or down: every instance tracking it follows. Reporting the
    /// state it already has does nothing.
    pub fn set_object(&mut self, key: &K, up: bool, now: Instant) {
        if self.objects.get(key) == Some(&up) {
            return;
        }
        self.objects.insert(key.clone(), up);
        let targets: Vec<(InstanceId, usize)> = self
            .members
            .iter()
            .flat_map(|(id, m)| {
                m.tracks
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| *k == key)
                    .map(|(index, _)| (*id, index))
            })
            .collect();
        for (id, index) in targets {
            self.input(id, Input::Tracked { index, up }, now);
        }
    }

    // ---- timers and outputs ---------------------------------------------------------------

    /// The earliest deadline of any instance.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.members
            .values()
            .filter_map(|m| m.instance.poll_timeout())
            .chain(self.balance.deadline())
            .min()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<InstanceId> = self
            .members
            .iter()
            .filter(|(_, m)| m.instance.poll_timeout().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            // An earlier one's sync group may have moved this one meanwhile.
            let Some(m) = self.members.get_mut(&id) else {
                continue;
            };
            if m.instance.poll_timeout().is_some_and(|d| d <= now) {
                m.instance.handle_timeout(now);
                self.drain(id, now);
            }
        }
        if self.balance.deadline().is_some_and(|d| d <= now) {
            self.grant_move(now);
        }
    }

    /// The next effect to carry out, in order.
    pub fn poll_output(&mut self) -> Option<(InstanceId, Output)> {
        self.outputs.pop_front()
    }

    // ---- looking --------------------------------------------------------------------------

    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.members.get(&id).map(|m| &m.instance)
    }

    /// Every instance, in the order they were added.
    pub fn instances(&self) -> impl Iterator<Item = (InstanceId, &Instance)> {
        self.members.iter().map(|(id, m)| (*id, &m.instance))
    }

    /// The objects an instance tracks, with their state, in its configuration's order.
    pub fn tracked(&self, id: InstanceId) -> Vec<TrackedState<'_, K>> {
        let Some(m) = self.members.get(&id) else {
            return Vec::new();
        };
        m.tracks
            .iter()
            .zip(&m.instance.config().tracked)
            .map(|(key, o)| TrackedState {
                key,
                name: &o.name,
                weight: o.weight,
                up: self.object_up(key),
            })
            .collect()
    }

    /// The node's balancing: its load, the move in progress, the last move (see `balance`).
    pub fn balance_status(&self) -> BalanceStatus {
        let balanced = self
            .members
            .values()
            .filter(|m| m.instance.config().balance)
            .count();
        let moving = self
            .balance
            .moving
            .and_then(|id| self.members.get(&id))
            .map(|m| m.instance.config().name.clone());
        self.balance.status(balanced, moving)
    }

    /// Every object some instance tracks, once each.
    pub fn objects(&self) -> Vec<&K> {
        let mut all: Vec<&K> = Vec::new();
        for k in self.members.values().flat_map(|m| &m.tracks) {
            if !all.contains(&k) {
                all.push(k);
            }
        }
        all
    }

    // ---- internals ------------------------------------------------------------------------

    fn object_up(&self, key: &K) -> bool {
        self.objects.get(key).copied().unwrap_or(true)
    }

    /// Forgets the state of objects no instance tracks (after a reload, once the driver has
    /// stopped checking them). Until then a state is kept, so that an instance replaced by a
    /// reload finds the state of a script whose check goes on and only reports changes.
    pub fn forget_untracked(&mut self) {
        let members = &self.members;
        self.objects
            .retain(|k, _| members.values().any(|m| m.tracks.contains(k)));
    }

    fn check_free(
        &self,
        spec: &MemberSpec<S, K>,
        except: Option<InstanceId>,
    ) -> Result<(), RouterError> {
        let vrid = spec.config.vrid;
        match self.dispatch.get(&(spec.socket.clone(), vrid)) {
            Some(other) if Some(*other) != except => Err(RouterError::Duplicate {
                name: spec.config.name.clone(),
                vrid,
                other: self.members[other].instance.config().name.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Moves the outputs of instance `id` to the queue, and carries out what its sync groups
    /// make of them (other members follow, in turn drained).
    fn drain(&mut self, id: InstanceId, now: Instant) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        let outputs: Vec<Output> = std::iter::from_fn(|| m.instance.poll_output()).collect();
        let balanced = m.instance.config().balance;
        let mut follow_ups: Vec<(InstanceId, Input)> = Vec::new();
        let mut load_changed = false;
        for out in outputs {
            match &out {
                Output::Transition {
                    from, to, reason, ..
                } => {
                    for g in &mut self.groups {
                        follow_ups.extend(g.on_transition(id, *to, reason));
                    }
                    load_changed |= balanced && (*from == State::Master) != (*to == State::Master);
                    if let (State::Master, Reason::Balance { .. }) = (to, reason) {
                        self.balance_completed(id, reason, now);
                    }
                }
                Output::BalanceWanted => {
                    let gather = self.gather(id);
                    self.balance.request(now, gather);
                }
                Output::SyncWantsMaster => {
                    let members = &self.members;
                    for g in &self.groups {
                        follow_ups.extend(g.on_wants_master(id, |j| {
                            members.get(&j).is_some_and(|o| o.instance.wants_master())
                        }));
                    }
                }
                _ => {}
            }
            self.outputs.push_back((id, out));
        }
        for (j, input) in follow_ups {
            self.input(j, input, now);
        }
        if load_changed {
            self.refresh_balance(now);
        }
        if let Some(m) = self.balance.moving
            && !self
                .members
                .get(&m)
                .is_some_and(|o| o.instance.balance_granted())
        {
            let gather = self.gather(m);
            self.balance.abandoned(now, gather);
        }
    }

    // ---- balancing --------------------------------------------------------------------------

    /// Counts the node's balanced masters and tells every balanced instance how many others
    /// there are (each judges again whether it wants its router).
    fn refresh_balance(&mut self, now: Instant) {
        let is_master = |m: &Member<S, K>| m.instance.state() == State::Master;
        let load = self
            .members
            .values()
            .filter(|m| m.instance.config().balance && is_master(m))
            .count();
        self.balance.load = load;
        let hysteresis = self.balance.settings.hysteresis;
        let views: Vec<(InstanceId, usize)> = self
            .members
            .iter()
            .filter(|(_, m)| m.instance.config().balance)
            .map(|(id, m)| (*id, load - usize::from(is_master(m))))
            .collect();
        for (id, other_masters) in views {
            let input = Input::NodeLoad {
                other_masters,
                hysteresis,
            };
            self.input(id, input, now);
        }
    }

    /// The move deadline passed: the best wanting instance gets the node's move.
    fn grant_move(&mut self, now: Instant) {
        let best = self
            .members
            .iter()
            .filter_map(|(id, m)| {
                let p = m.instance.balance_candidate()?;
                let cfg = m.instance.config();
                Some((rank(p, m.instance.primary(), cfg.vrid), *id))
            })
            .min()
            .map(|(_, id)| id);
        self.balance.decide(best);
        if let Some(id) = best {
            self.input(id, Input::BalanceGrant, now);
        }
    }

    /// Instance `id` took its router over by balancing: the node's cooldown starts.
    fn balance_completed(&mut self, id: InstanceId, reason: &Reason, now: Instant) {
        let (
            Some(m),
            Reason::Balance {
                from,
                from_load,
                to_load,
            },
        ) = (self.members.get(&id), reason)
        else {
            return;
        };
        let cfg = m.instance.config();
        let record = BalanceMove {
            instance: cfg.name.clone(),
            vrid: cfg.vrid,
            from: *from,
            from_load: *from_load,
            to_load: *to_load,
            at: now,
        };
        let mdi = master_down_interval(
            cfg.version,
            m.instance.election_priority(),
            cfg.advert_interval,
        );
        self.balance.completed(id, record, 2 * mdi);
    }

    /// How long a node waits, once an instance wants a move, for the others to speak: one
    /// advert interval of its master.
    fn gather(&self, id: InstanceId) -> Duration {
        self.members.get(&id).map_or(DEFAULT_GATHER, |m| {
            m.instance.master_adver_interval().as_duration()
        })
    }
}

/// The gather time when the instance is gone: VRRP's default interval.
const DEFAULT_GATHER: Duration = Duration::from_secs(1);

fn check_tracks<S, K>(spec: &MemberSpec<S, K>) -> Result<(), RouterError> {
    if spec.tracks.len() == spec.config.tracked.len() {
        Ok(())
    } else {
        Err(RouterError::TrackCount {
            name: spec.config.name.clone(),
            tracks: spec.tracks.len(),
            objects: spec.config.tracked.len(),
        })
    }
}
