//! The engine's side of `conntrack_sync` (the daemons are `super::conntrackd`): it keeps one
//! conntrackd per namespace that has an instance with `conntrack_sync` (configured from the
//! first such IPv4 instance: its interface, primary address, VRID and unicast peer), tells it
//! about every transition, and holds a takeover until the commit is done.
//!
//! **The hold.** The core emits a takeover as `Transition` (to MASTER), `SetOwnership`,
//! `AddAddresses`, `AddRoutes`, `RenewLease`, `SendAdvert`, ... in that order. After the
//! `Transition`, every output of that instance waits in a queue, in order, until conntrackd
//! answers the commit (`conntrackd -c`: the connections the old master synced are now in the
//! kernel) or [`COMMIT_BUDGET`] passed (logged as a warning), then they are carried out as if
//! they had just come. Until then the node neither owns the addresses in the data plane nor
//! holds them, so no packet of a synced connection can reach its kernel first and be tracked
//! anew (with `--random-fully`, under another port). Adverts wait too: the lease a
//! `RenewLease` grants counts from the advert right after it. A restarted master resuming with
//! its lease (its kernel already tracks everything) is not held.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use super::{
    conntrackd::{Conf, ControlError, Daemon, Request, Stopped, Transport},
    engine::Engine,
    events::EngineEvent,
};
use crate::{
    api::model::ConntrackdReport,
    fsm::{InstanceId, Output, Reason, State},
};

/// How long a takeover waits for conntrackd's commit at most.
pub const COMMIT_BUDGET: Duration = Duration::from_secs(2);
/// How long conntrackd gets to exit on shutdown before it is killed.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// What became of a commit a takeover waited for.
#[derive(Debug)]
pub enum CommitOutcome {
    /// Done, in this long.
    Committed(Duration),
    Failed(ControlError),
    /// No answer within [`COMMIT_BUDGET`].
    NoAnswer,
}

/// The daemons and the takeovers on hold.
#[derive(Default)]
pub struct ConntrackSync {
    daemons: HashMap<Option<String>, Daemon>,
    holds: HashMap<InstanceId, Hold>,
    next: u64,
}

struct Hold {
    generation: u64,
    queue: VecDeque<Output>,
    since: Instant,
}

impl ConntrackSync {
    /// The conntrackd of each namespace, for `status`.
    pub fn reports(&self) -> Vec<ConntrackdReport> {
        let mut out: Vec<_> = self
            .daemons
            .iter()
            .map(|(ns, d)| ConntrackdReport {
                netns: ns.clone(),
                pid: d.pid(),
                starts: d.starts(),
                config: d.conf.file().display().to_string(),
            })
            .collect();
        out.sort_by(|a, b| a.netns.cmp(&b.netns));
        out
    }
}

impl Engine {
    /// Carries out one output of the core, or queues it behind a takeover on hold.
    pub(super) fn dispatch(&mut self, id: InstanceId, out: Output) {
        if let Some(hold) = self.conntrack.holds.get_mut(&id) {
            hold.queue.push_back(out);
            return;
        }
        let transition = match &out {
            Output::Transition { to, reason, .. } => Some((*to, *reason == Reason::Resumed)),
            _ => None,
        };
        self.execute(id, out);
        let Some((to, resumed)) = transition else {
            return;
        };
        let Some(daemon) = self.daemon_of(id) else {
            return;
        };
        match to {
            State::Master => {
                let (committed, answer) = oneshot::channel();
                let asked = Instant::now();
                daemon.request(Request::Master { committed });
                if !resumed {
                    self.hold(id, answer, asked);
                }
            }
            State::Backup | State::Fault => daemon.request(Request::Backup),
            State::Initialize => {}
        }
    }

    /// The conntrackd serving instance `id`, if it syncs.
    fn daemon_of(&self, id: InstanceId) -> Option<&Daemon> {
        let slot = self.slots.get(&id)?;
        if !slot.spec.syncs_conntrack(&self.config.global) {
            return None;
        }
        self.conntrack.daemons.get(&slot.spec.netns)
    }

    /// Holds `id`'s outputs until `answer` to the commit asked for at `asked` (bounded by
    /// [`COMMIT_BUDGET`]).
    fn hold(
        &mut self,
        id: InstanceId,
        answer: oneshot::Receiver<Result<Duration, ControlError>>,
        asked: Instant,
    ) {
        self.conntrack.next += 1;
        let generation = self.conntrack.next;
        self.conntrack.holds.insert(
            id,
            Hold {
                generation,
                queue: VecDeque::new(),
                since: asked,
            },
        );
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            let outcome = match tokio::time::timeout(COMMIT_BUDGET, answer).await {
                Ok(Ok(Ok(took))) => CommitOutcome::Committed(took),
                Ok(Ok(Err(e))) => CommitOutcome::Failed(e),
                // The worker went away (the namespace's conntrackd was replaced).
                Ok(Err(_)) => CommitOutcome::NoAnswer,
                Err(_) => CommitOutcome::NoAnswer,
            };
            let _ = events
                .send(EngineEvent::ConntrackCommitted {
                    id,
                    generation,
                    outcome,
                })
                .await;
        });
    }

    /// The commit a takeover waited for is done (or will not be): carry the takeover out.
    pub(super) fn on_commit(&mut self, id: InstanceId, generation: u64, outcome: CommitOutcome) {
        let Some(hold) = self.conntrack.holds.get(&id) else {
            return;
        };
        if hold.generation != generation {
            return;
        }
        let waited = hold.since.elapsed();
        let name = self
            .slots
            .get(&id)
            .map(|s| s.spec.vrrp.name.clone())
            .unwrap_or_default();
        match outcome {
            CommitOutcome::Committed(took) => tracing::info!(
                instance = name,
                ?took,
                ?waited,
                "conntrack_sync: connections committed into the kernel; taking over"
            ),
            CommitOutcome::Failed(e) => tracing::warn!(
                instance = name,
                ?waited,
                "conntrack_sync: the commit failed ({e}); taking over without it"
            ),
            CommitOutcome::NoAnswer => tracing::warn!(
                instance = name,
                budget = ?COMMIT_BUDGET,
                "conntrack_sync: conntrackd did not answer the commit in time; taking over \
                 without it"
            ),
        }
        self.release_hold(id);
    }

    /// Carries out what `id` held back, in order (a takeover among it holds again).
    pub(super) fn release_hold(&mut self, id: InstanceId) {
        let Some(hold) = self.conntrack.holds.remove(&id) else {
            return;
        };
        let mut queue = hold.queue;
        while let Some(out) = queue.pop_front() {
            if let Some(again) = self.conntrack.holds.get_mut(&id) {
                again.queue.push_back(out);
                again.queue.extend(queue.drain(..));
                return;
            }
            if self.slots.contains_key(&id) {
                self.dispatch(id, out);
            }
        }
    }

    /// Every takeover on hold goes ahead now (shutdown).
    fn release_all_holds(&mut self) {
        let ids: Vec<InstanceId> = self.conntrack.holds.keys().copied().collect();
        for id in ids {
            self.release_hold(id);
        }
    }

    /// What namespace `netns`'s conntrackd should be: from its first IPv4 instance with
    /// `conntrack_sync` (None: no such instance).
    fn wanted_conf(&self, netns: &Option<String>) -> Option<Conf> {
        let mut syncing = self
            .slots
            .values()
            .filter(|s| s.spec.netns == *netns && s.spec.syncs_conntrack(&self.config.global))
            .peekable();
        syncing.peek()?;
        let mut first_v6 = None;
        for slot in syncing {
            let Some(IpAddr::V4(address)) =
                self.router.instance(slot.id).map(|i| i.status().primary)
            else {
                first_v6.get_or_insert(slot.spec.vrrp.name.clone());
                continue;
            };
            let peers: Vec<_> = slot
                .spec
                .unicast_peers
                .iter()
                .filter_map(|p| match p {
                    IpAddr::V4(a) => Some(*a),
                    IpAddr::V6(_) => None,
                })
                .collect();
            let transport = match peers[..] {
                [peer] => Transport::Udp { peer },
                _ => Transport::Multicast,
            };
            return Some(Conf {
                dir: Conf::dir_for(&self.options.state_dir, netns.as_deref()),
                interface: slot.spec.interface.clone(),
                address,
                vrid: slot.spec.vrrp.vrid,
                transport,
            });
        }
        if let Some(name) = first_v6 {
            tracing::warn!(
                instance = name,
                netns = netns.as_deref().unwrap_or("-"),
                "conntrack_sync needs an IPv4 instance in the namespace (conntrackd syncs \
                 over IPv4 here); no conntrackd"
            );
        }
        None
    }

    /// Starts, replaces or stops namespace `netns`'s conntrackd to match its instances.
    pub(super) fn sync_conntrack_ns(&mut self, netns: &Option<String>) {
        let want = self.wanted_conf(netns);
        if let (Some(d), Some(w)) = (self.conntrack.daemons.get(netns), &want)
            && d.conf == *w
        {
            return;
        }
        let previous: Option<Stopped> = self.conntrack.daemons.remove(netns).map(Daemon::stop);
        let ns = netns.as_deref().unwrap_or("-");
        let Some(conf) = want else {
            if previous.is_some() {
                tracing::info!(netns = ns, "conntrack_sync: conntrackd stopped");
            }
            return;
        };
        if let Err(e) = conf.check() {
            tracing::error!(netns = ns, "conntrack_sync: no conntrackd: {e}");
            return;
        }
        tracing::info!(
            netns = ns,
            interface = conf.interface,
            address = %conf.address,
            transport = ?conf.transport,
            config = %conf.file().display(),
            "conntrack_sync: starting conntrackd"
        );
        self.conntrack
            .daemons
            .insert(netns.clone(), Daemon::start(netns.clone(), conf, previous));
    }

    /// Every namespace's conntrackd to match the instances (after a reload).
    pub(super) fn sync_conntrack(&mut self) {
        let mut namespaces: Vec<Option<String>> =
            self.slots.values().map(|s| s.spec.netns.clone()).collect();
        namespaces.extend(self.conntrack.daemons.keys().cloned());
        namespaces.sort();
        namespaces.dedup();
        for ns in namespaces {
            self.sync_conntrack_ns(&ns);
        }
    }

    /// Shutdown: takeovers on hold go ahead (and are released by the shutdown after them).
    pub(super) fn conntrack_shutdown_begins(&mut self) {
        self.release_all_holds();
    }

    /// Shutdown: every conntrackd stops (SIGTERM, then SIGKILL after a grace period).
    pub(super) async fn stop_conntrack(&mut self) {
        let stopped: Vec<Stopped> = self
            .conntrack
            .daemons
            .drain()
            .map(|(_, d)| d.stop())
            .collect();
        if stopped.is_empty() {
            return;
        }
        let _ = tokio::task::spawn_blocking(move || {
            for s in stopped {
                s.wait(STOP_GRACE);
            }
        })
        .await;
    }
}
