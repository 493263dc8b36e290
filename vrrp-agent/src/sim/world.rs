//! The simulation itself: nodes, their instances on segments, the event queue and the
//! virtual clock.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    net::IpAddr,
    time::{Duration, Instant},
};

use super::{NetConfig, OwnershipLedger, network::Network};
use crate::{
    fsm::{Input, Instance, InstanceConfig, Output, Reason, State, SyncGroup},
    packet::{
        Advert, AhIpv4, Auth, RxMeta, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_TTL, encode_ah_packet,
        split_ah_packet,
    },
};

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
    groups: Vec<SyncGroup>,
}

struct SimInstance {
    node: usize,
    segment: usize,
    config: InstanceConfig,
    primary: IpAddr,
    fsm: Instance,
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
            groups: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// Adds a (stopped) instance on `segment` of `node`; returns its index.
    pub fn add_instance(
        &mut self,
        node: usize,
        segment: usize,
        config: InstanceConfig,
        primary: IpAddr,
    ) -> usize {
        let fsm = Instance::new(config.clone(), primary)
            .unwrap_or_else(|e| panic!("invalid simulated config: {e}"));
        self.instances.push(SimInstance {
            node,
            segment,
            config,
            primary,
            fsm,
            lease_until: None,
        });
        self.instances.len() - 1
    }

    /// Makes `members` (instances of `node`) a sync group.
    pub fn add_sync_group(&mut self, node: usize, name: &str, members: &[usize]) {
        for i in members {
            let inst = &mut self.instances[*i];
            inst.config.sync_group = Some(name.to_string());
            inst.fsm
                .reconfigure(inst.config.clone(), self.now)
                .expect("validated before");
        }
        let members = members
            .iter()
            .map(|i| (*i, self.instances[*i].config.name.clone()))
            .collect();
        self.nodes[node].groups.push(SyncGroup::new(name, members));
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

    /// Gives an instance an input now (ignored if its node is dead).
    pub fn input(&mut self, instance: usize, input: Input) {
        if !self.nodes[self.instances[instance].node].alive {
            return;
        }
        let now = self.now;
        self.instances[instance].fsm.handle_input(input, now);
        self.drain(instance);
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
        for i in self.node_instances(node) {
            let inst = &mut self.instances[i];
            inst.fsm = Instance::new(inst.config.clone(), inst.primary).expect("validated before");
            self.start(i);
        }
    }

    pub fn node_alive(&self, node: usize) -> bool {
        self.nodes[node].alive
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
        &self.instances[i].fsm
    }

    pub fn state(&self, i: usize) -> State {
        self.instances[i].fsm.state()
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
                    && inst.fsm.state() == State::Master
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
            .instances
            .iter()
            .filter(|i| self.nodes[i.node].alive)
            .filter_map(|i| i.fsm.poll_timeout());
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
            let due = (0..self.instances.len()).find(|i| {
                self.nodes[self.instances[*i].node].alive
                    && self.instances[*i]
                        .fsm
                        .poll_timeout()
                        .is_some_and(|d| d <= now)
            });
            match due {
                Some(i) => {
                    self.instances[i].fsm.handle_timeout(now);
                    self.drain(i);
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
        if !self.nodes[self.instances[p.to].node].alive {
            return;
        }
        let meta = RxMeta {
            src: p.src,
            dst: p.dst,
            ttl: VRRP_TTL,
        };
        // An AH instance listens on protocol 51 only, the others on 112 only (as the agent's
        // sockets do): what the receiver does not listen to never reaches it.
        let decoded = match (self.instances[p.to].config.auth, p.ah) {
            (Auth::Ah { key, .. }, true) => {
                split_ah_packet(&p.bytes).and_then(|packet| packet.decode(&key, false, true))
            }
            (Auth::Ah { .. }, false) | (_, true) => return,
            (_, false) => Advert::decode(&p.bytes, &meta),
        };
        let input = match decoded {
            Ok(advert) => Input::Advert { src: p.src, advert },
            Err(e) => Input::RxDecodeError(e),
        };
        self.input(p.to, input);
    }

    /// Carries out the outputs of instance `i` (and of the group members they move).
    fn drain(&mut self, i: usize) {
        let mut follow_ups = Vec::new();
        while let Some(out) = self.instances[i].fsm.poll_output() {
            self.events.push(Event {
                at: self.now,
                instance: i,
                output: out.clone(),
            });
            match out {
                Output::SendAdvert(advert) => {
                    let inst = &mut self.instances[i];
                    if advert.priority > 0 && inst.fsm.state() == State::Master {
                        inst.lease_until = Some(self.now + inst.fsm.fencing_lease());
                    }
                    self.broadcast(i, &advert)
                }
                Output::SetOwnership { owned, .. } => {
                    let inst = &mut self.instances[i];
                    if !owned {
                        inst.lease_until = None;
                    }
                    let inst = &self.instances[i];
                    self.ledger
                        .set(inst.segment, inst.config.vrid, i, owned, self.now);
                }
                Output::Transition { to, reason, .. } => {
                    let node = self.instances[i].node;
                    for g in &mut self.nodes[node].groups {
                        follow_ups.extend(g.on_transition(i, to, &reason));
                    }
                }
                Output::SyncWantsMaster => {
                    let node = self.instances[i].node;
                    let instances = &self.instances;
                    for g in &self.nodes[node].groups {
                        follow_ups
                            .extend(g.on_wants_master(i, |j| instances[j].fsm.wants_master()));
                    }
                }
                _ => {}
            }
        }
        for (j, input) in follow_ups {
            self.input(j, input);
        }
    }

    fn broadcast(&mut self, from: usize, advert: &Advert) {
        let src = self.instances[from].primary;
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
            _ => advert.encode(src, dst),
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
