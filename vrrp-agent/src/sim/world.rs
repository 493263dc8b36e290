//! The simulation itself: nodes, each a [`Router`] (what one agent runs) over its instances
//! on segments, the event queue and the virtual clock. The simulator is a driver of the core
//! as the agent's engine is: it delivers packets and tracked-object changes to each node's
//! router and carries out what comes out (adverts onto the segments, ownership into the
//! ledger, leases).

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    net::IpAddr,
    time::{Duration, Instant},
};

use super::{NetConfig, OwnershipLedger, network::Network};
use crate::{
    fsm::{
        BalanceSettings, BalanceStatus, Input, Instance, InstanceConfig, InstanceId, MemberSpec,
        Output, Packet, Reason, Router, RxPolicy, State,
    },
    packet::{
        Advert, AhIpv4, Auth, ChecksumForm, RxMeta, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_TTL,
        encode_ah_packet, split_ah_packet,
    },
};

/// A simulated socket: (segment, AH). AH instances listen on IP protocol 51 only, the others
/// on 112 only, as the agent's sockets do.
type SimSocket = (usize, bool);

/// An output some instance produced, when.
#[derive(Clone, Debug)]
pub struct Event {
    pub at: Instant,
    pub instance: usize,
    pub output: Output,
}

struct Node {
    name: String,
    alive: bool,
    /// The node's instances, sync groups and tracked objects (by name: node-local).
    router: Router<SimSocket, String>,
    /// Sync groups by name, over simulation indexes (the router's are rebuilt from these).
    groups: Vec<(String, Vec<usize>)>,
    /// The simulation index of each of the router's instances (outputs come out by id).
    index_of: std::collections::HashMap<InstanceId, usize>,
    /// The tracked objects as they are (the router learns them while the node is alive, and
    /// all of them when it restarts, as an agent reads its links when it starts).
    objects: std::collections::BTreeMap<String, bool>,
    /// The node's balancing settings (given to its router again when it restarts).
    balance: BalanceSettings,
}

struct SimInstance {
    node: usize,
    segment: usize,
    config: InstanceConfig,
    primary: IpAddr,
    /// Its id in its node's router (a new one after a restart).
    id: InstanceId,
    /// The data-plane lease of a master: until when its ownership outlives its last advert
    /// (renewed with `Instance::fencing_lease` before every advert it sends, as the agent does).
    lease_until: Option<Instant>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    at: Instant,
    seq: u64,
    to: usize,
    src: IpAddr,
    dst: IpAddr,
    /// The VRRP message, or with AH the whole IPv4 packet (header, AH, VRRP).
    bytes: Vec<u8>,
    ah: bool,
}

/// A deterministic simulation of routers running VRRP.
pub struct Sim {
    start: Instant,
    now: Instant,
    net: Network,
    nodes: Vec<Node>,
    instances: Vec<SimInstance>,
    queue: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    ledger: OwnershipLedger,
    events: Vec<Event>,
    /// Ownership of killed masters that runs out when their lease does: (deadline, instance).
    expiring: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Sim {
    pub fn new(net: NetConfig) -> Self {
        // The one clock read: an arbitrary origin; everything after is virtual.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        Self {
            start,
            now: start,
            net: Network::new(net),
            nodes: Vec::new(),
            instances: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            ledger: OwnershipLedger::new(start),
            events: Vec::new(),
            expiring: BinaryHeap::new(),
        }
    }

    // ---- building ---------------------------------------------------------------------

    pub fn add_node(&mut self, name: &str) -> usize {
        self.nodes.push(Node {
            name: name.to_string(),
            alive: true,
            router: Router::new(),
            index_of: std::collections::HashMap::new(),
            groups: Vec::new(),
            objects: std::collections::BTreeMap::new(),
            balance: BalanceSettings::default(),
        });
        self.nodes.len() - 1
    }

    /// Adds a (stopped) instance on `segment` of `node`; returns its index. Its tracked
    /// objects are the node's objects of the same names.
    pub fn add_instance(
        &mut self,
        node: usize,
        segment: usize,
        config: InstanceConfig,
        primary: IpAddr,
    ) -> usize {
        self.read_objects(node, &config);
        let id = self.nodes[node]
            .router
            .add_instance(member_spec(&config, segment), primary, self.now)
            .unwrap_or_else(|e| panic!("invalid simulated config: {e}"));
        self.instances.push(SimInstance {
            node,
            segment,
            config,
            primary,
            id,
            lease_until: None,
        });
        let i = self.instances.len() - 1;
        self.nodes[node].index_of.insert(id, i);
        i
    }

    /// The balancing settings of `node` (its balanced instances follow them; kept across
    /// restarts, as a configuration file would be).
    pub fn set_balance(&mut self, node: usize, settings: BalanceSettings) {
        self.nodes[node].balance = settings;
        if self.nodes[node].alive {
            let now = self.now;
            self.nodes[node].router.set_balance(settings, now);
            self.drain(node);
        }
    }

    /// Makes `members` (instances of `node`) a sync group.
    pub fn add_sync_group(&mut self, node: usize, name: &str, members: &[usize]) {
        for i in members {
            self.instances[*i].config.sync_group = Some(name.to_string());
            self.reconfigure(*i, self.instances[*i].config.clone());
        }
        self.nodes[node]
            .groups
            .push((name.to_string(), members.to_vec()));
        self.sync_groups(node);
    }

    /// Reloads instance `i` with a changed configuration (as SIGHUP does to the agent):
    /// in place, keeping its state unless the change demands otherwise.
    pub fn reconfigure(&mut self, i: usize, config: InstanceConfig) {
        let (node, segment, id) = {
            let inst = &self.instances[i];
            (inst.node, inst.segment, inst.id)
        };
        self.instances[i].config = config.clone();
        self.read_objects(node, &config);
        self.nodes[node]
            .router
            .reconfigure(id, member_spec(&config, segment), self.now)
            .unwrap_or_else(|e| panic!("invalid simulated config: {e}"));
        self.nodes[node].router.forget_untracked();
        self.drain(node);
    }

    /// What the agent does before it adds or reconfigures an instance: tells the router the
    /// state of the objects the instance will track, as they are.
    fn read_objects(&mut self, node: usize, config: &InstanceConfig) {
        if !self.nodes[node].alive {
            return;
        }
        for t in &config.tracked {
            if let Some(up) = self.nodes[node].objects.get(&t.name).copied() {
                self.nodes[node].router.set_object(&t.name, up, self.now);
            }
        }
        self.drain(node);
    }

    fn sync_groups(&mut self, node: usize) {
        let groups = self.nodes[node]
            .groups
            .iter()
            .map(|(name, members)| {
                let ids = members.iter().map(|i| self.instances[*i].id).collect();
                (name.clone(), ids)
            })
            .collect();
        self.nodes[node].router.set_sync_groups(groups);
    }

    // ---- driving ----------------------------------------------------------------------

    pub fn start(&mut self, instance: usize) {
        self.input(instance, Input::Startup);
    }

    pub fn start_all(&mut self) {
        for i in 0..self.instances.len() {
            self.start(i);
        }
    }

    /// Gives an instance an input now (ignored if its node is dead). `Input::Tracked` is
    /// the tracked object of that index (by its name, shared by the node's instances) going
    /// up or down, as [`set_object`](Self::set_object).
    pub fn input(&mut self, instance: usize, input: Input) {
        let (node, id) = (self.instances[instance].node, self.instances[instance].id);
        if !self.nodes[node].alive {
            return;
        }
        if let Input::Tracked { index, up } = input {
            let name = self.instances[instance].config.tracked[index].name.clone();
            self.set_object(node, &name, up);
            return;
        }
        let now = self.now;
        self.nodes[node].router.input(id, input, now);
        self.drain(node);
    }

    /// The tracked object `name` of `node` goes up or down (a dead node learns it when it
    /// restarts).
    pub fn set_object(&mut self, node: usize, name: &str, up: bool) {
        self.nodes[node].objects.insert(name.to_string(), up);
        if !self.nodes[node].alive {
            return;
        }
        let now = self.now;
        self.nodes[node]
            .router
            .set_object(&name.to_string(), up, now);
        self.drain(node);
    }

    /// Orderly shutdown of one instance.
    pub fn shutdown(&mut self, instance: usize) {
        self.input(instance, Input::Shutdown);
    }

    /// The process of `node` dies: no more outputs, no shutdown. Its data-plane ownership
    /// lasts until its lease runs out, as the XDP program's does (a master's lease is renewed
    /// before every advert it sends; anything else is dropped at once).
    pub fn kill_node(&mut self, node: usize) {
        self.nodes[node].alive = false;
        for i in self.node_instances(node) {
            match self.instances[i].lease_until.take() {
                Some(until) if until > self.now => self.expiring.push(Reverse((until, i))),
                _ => self.release(i),
            }
        }
    }

    fn release(&mut self, i: usize) {
        let (seg, vrid) = (self.instances[i].segment, self.instances[i].config.vrid);
        self.ledger.set(seg, vrid, i, false, self.now);
    }

    /// The process of `node` starts again with fresh state and starts its instances (what
    /// ownership a killed master still held ends: the restarted process starts over).
    pub fn restart_node(&mut self, node: usize) {
        self.nodes[node].alive = true;
        let mine = self.node_instances(node);
        self.expiring.retain(|Reverse((_, i))| !mine.contains(i));
        for i in mine.iter().copied() {
            self.release(i);
        }
        self.nodes[node].router = Router::new();
        self.nodes[node].index_of.clear();
        let settings = self.nodes[node].balance;
        self.nodes[node].router.set_balance(settings, self.now);
        let objects: Vec<(String, bool)> = self.nodes[node]
            .objects
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for (name, up) in objects {
            self.nodes[node].router.set_object(&name, up, self.now);
        }
        for i in mine.iter().copied() {
            let inst = &self.instances[i];
            let id = self.nodes[node]
                .router
                .add_instance(
                    member_spec(&inst.config, inst.segment),
                    inst.primary,
                    self.now,
                )
                .expect("validated before");
            self.instances[i].id = id;
            self.nodes[node].index_of.insert(id, i);
            self.instances[i].lease_until = None;
        }
        self.sync_groups(node);
        for i in mine {
            self.start(i);
        }
    }

    pub fn node_alive(&self, node: usize) -> bool {
        self.nodes[node].alive
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The balancing status of `node`'s router (its last run's, if it is dead).
    pub fn balance_status(&self, node: usize) -> BalanceStatus {
        self.nodes[node].router.balance_status()
    }

    /// Cuts every link between the nodes of `a` and those of `b`.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        for x in a {
            for y in b {
                self.net.cut(*x, *y);
            }
        }
        self.ledger.network_changed(self.net.is_whole(), self.now);
    }

    /// Cuts `node` off from every other node.
    pub fn isolate(&mut self, node: usize) {
        let others: Vec<usize> = (0..self.nodes.len()).filter(|n| *n != node).collect();
        self.partition(&[node], &others);
    }

    /// Removes all partitions.
    pub fn heal(&mut self) {
        self.net.heal();
        self.ledger.network_changed(self.net.is_whole(), self.now);
    }

    pub fn set_loss(&mut self, loss: f64) {
        self.net.config.loss = loss;
        self.ledger.network_changed(self.net.is_whole(), self.now);
    }

    pub fn network_whole(&self) -> bool {
        self.net.is_whole()
    }

    /// A reproducible random number below `n` (from the simulation's seed).
    pub fn random_below(&mut self, n: usize) -> usize {
        self.net.random_below(n)
    }

    /// Runs the simulation for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.next_time() {
            if t > end {
                break;
            }
            self.step(t);
        }
        self.now = end;
    }

    /// Runs until `pred` holds (checked after every step) or `max` passes; returns whether
    /// it held.
    pub fn run_until(&mut self, max: Duration, mut pred: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + max;
        if pred(self) {
            return true;
        }
        while let Some(t) = self.next_time() {
            if t > end {
                break;
            }
            self.step(t);
            if pred(self) {
                return true;
            }
        }
        self.now = end;
        pred(self)
    }

    // ---- looking ----------------------------------------------------------------------

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the simulation began.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn start_time(&self) -> Instant {
        self.start
    }

    pub fn instance(&self, i: usize) -> &Instance {
        let inst = &self.instances[i];
        self.nodes[inst.node]
            .router
            .instance(inst.id)
            .expect("every simulated instance is in its node's router")
    }

    pub fn state(&self, i: usize) -> State {
        self.instance(i).state()
    }

    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    pub fn node_of(&self, i: usize) -> usize {
        self.instances[i].node
    }

    pub fn node_name(&self, node: usize) -> &str {
        &self.nodes[node].name
    }

    pub fn segment_of(&self, i: usize) -> usize {
        self.instances[i].segment
    }

    pub fn primary_of(&self, i: usize) -> IpAddr {
        self.instances[i].primary
    }

    /// Live instances in MASTER for (segment, vrid).
    pub fn masters(&self, segment: usize, vrid: u8) -> Vec<usize> {
        (0..self.instances.len())
            .filter(|i| {
                let inst = &self.instances[*i];
                inst.segment == segment
                    && inst.config.vrid == vrid
                    && self.nodes[inst.node].alive
                    && self.instance(*i).state() == State::Master
            })
            .collect()
    }

    /// Every output so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Transitions of one instance: (when, from, to, reason).
    pub fn transitions(&self, i: usize) -> Vec<(Instant, State, State, Reason)> {
        self.events
            .iter()
            .filter(|e| e.instance == i)
            .filter_map(|e| match &e.output {
                Output::Transition {
                    from,
                    to,
                    reason,
                    at,
                } => Some((*at, *from, *to, reason.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn ledger(&self) -> &OwnershipLedger {
        &self.ledger
    }

    // ---- internals --------------------------------------------------------------------

    fn node_instances(&self, node: usize) -> Vec<usize> {
        (0..self.instances.len())
            .filter(|i| self.instances[*i].node == node)
            .collect()
    }

    fn next_time(&self) -> Option<Instant> {
        let timers = self
            .nodes
            .iter()
            .filter(|n| n.alive)
            .filter_map(|n| n.router.poll_timeout());
        let delivery = self.queue.peek().map(|Reverse(p)| p.at);
        let expiry = self.expiring.peek().map(|Reverse((at, _))| *at);
        timers.chain(delivery).chain(expiry).min()
    }

    fn step(&mut self, t: Instant) {
        self.now = self.now.max(t);
        let now = self.now;
        for _ in 0..100_000 {
            if let Some(Reverse((at, i))) = self.expiring.peek().copied()
                && at <= now
            {
                self.expiring.pop();
                self.release(i);
                continue;
            }
            if let Some(Reverse(p)) = self.queue.peek()
                && p.at <= now
            {
                let Reverse(p) = self.queue.pop().expect("peeked");
                self.deliver(p);
                continue;
            }
            let due = (0..self.nodes.len()).find(|n| {
                self.nodes[*n].alive
                    && self.nodes[*n]
                        .router
                        .poll_timeout()
                        .is_some_and(|d| d <= now)
            });
            match due {
                Some(n) => {
                    self.nodes[n].router.handle_timeout(now);
                    self.drain(n);
                }
                None => return,
            }
        }
        panic!(
            "simulation stuck at {:?}: a timer stays due after firing",
            now - self.start
        );
    }

    fn deliver(&mut self, p: Pending) {
        let (node, segment) = (self.instances[p.to].node, self.instances[p.to].segment);
        if !self.nodes[node].alive {
            return;
        }
        let meta = RxMeta {
            src: p.src,
            dst: p.dst,
            ttl: VRRP_TTL,
        };
        // As a raw socket delivers it: with AH the VRRP message inside and the whole packet.
        let packet = if p.ah {
            let Ok(split) = split_ah_packet(&p.bytes) else {
                return;
            };
            Packet {
                vrrp: split.vrrp(),
                ah: Some(&p.bytes),
                meta,
            }
        } else {
            Packet {
                vrrp: &p.bytes,
                ah: None,
                meta,
            }
        };
        let now = self.now;
        self.nodes[node]
            .router
            .receive(&(segment, p.ah), packet, now);
        self.drain(node);
    }

    /// Carries out the outputs of `node`'s router.
    fn drain(&mut self, node: usize) {
        while let Some((id, out)) = self.nodes[node].router.poll_output() {
            let Some(&i) = self.nodes[node].index_of.get(&id) else {
                continue;
            };
            self.events.push(Event {
                at: self.now,
                instance: i,
                output: out.clone(),
            });
            match out {
                Output::RenewLease(lease) => {
                    self.instances[i].lease_until = Some(self.now + lease);
                }
                Output::SendAdvert { advert, checksum } => self.broadcast(i, &advert, checksum),
                Output::SetOwnership { owned, .. } => {
                    let inst = &mut self.instances[i];
                    if !owned {
                        inst.lease_until = None;
                    }
                    let inst = &self.instances[i];
                    self.ledger
                        .set(inst.segment, inst.config.vrid, i, owned, self.now);
                }
                _ => {}
            }
        }
    }

    fn broadcast(&mut self, from: usize, advert: &Advert, checksum: ChecksumForm) {
        let src = self.instance(from).status().primary;
        let dst = if src.is_ipv4() {
            IpAddr::V4(VRRP_GROUP_V4)
        } else {
            IpAddr::V6(VRRP_GROUP_V6)
        };
        let ah = matches!(advert.auth, Auth::Ah { .. });
        let bytes = match (ah, src, dst) {
            (true, IpAddr::V4(src), IpAddr::V4(dst)) => encode_ah_packet(
                advert,
                &AhIpv4 {
                    src,
                    dst,
                    id: 1,
                    unicast: false,
                },
            ),
            _ => advert.encode_as(src, dst, checksum),
        }
        .unwrap_or_else(|e| panic!("the state machine produced an unencodable advert: {e}"));
        let (segment, vrid, node) = {
            let f = &self.instances[from];
            (f.segment, f.config.vrid, f.node)
        };
        for to in 0..self.instances.len() {
            let t = &self.instances[to];
            if to == from || t.segment != segment || t.config.vrid != vrid || t.node == node {
                continue;
            }
            if !self.net.connected(node, t.node) {
                continue;
            }
            for delay in self.net.deliveries() {
                self.seq += 1;
                self.queue.push(Reverse(Pending {
                    at: self.now + delay,
                    seq: self.seq,
                    to,
                    src,
                    dst,
                    bytes: bytes.clone(),
                    ah,
                }));
            }
        }
    }
}

/// What a node's router needs of a simulated instance: its socket is its segment (and AH or
/// not), its tracked objects are the node's objects of the same names.
fn member_spec(config: &InstanceConfig, segment: usize) -> MemberSpec<SimSocket, String> {
    MemberSpec {
        config: config.clone(),
        socket: (segment, matches!(config.auth, Auth::Ah { .. })),
        tracks: config.tracked.iter().map(|t| t.name.clone()).collect(),
        rx: RxPolicy::default(),
    }
}
