//! A node's share of balancing (see [`balance`](super::balance)): its load, the one move it
//! may have in progress, the cooldown after each takeover, which wanting instance gets the
//! next move, and what status shows of it. Plain data driven by the
//! [`Router`](super::Router), with time passed in.
//!
//! May import `crate::packet` and the rest of `fsm` only.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use super::InstanceId;

/// Node-wide balancing settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BalanceSettings {
    /// `H`: a backup wants a router when the master's node has at least `2 + H` more
    /// balanced masters than its own (0: spread within ±1 of even).
    pub hysteresis: u8,
    /// Pause after each takeover before the next move (default: 2 × the taker's
    /// Master_Down_Interval).
    pub cooldown: Option<Duration>,
}

/// A balance move this node made (a takeover with `Reason::Balance`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BalanceMove {
    pub instance: String,
    pub vrid: u8,
    /// The master it took the router from.
    pub from: IpAddr,
    /// That master's node load as its last advert said.
    pub from_load: usize,
    /// This node's load with the router.
    pub to_load: usize,
    #[serde(skip)]
    pub at: Instant,
}

/// What a node's balancing looks like, for status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BalanceStatus {
    pub settings: BalanceSettings,
    /// Balanced instances of the node.
    pub balanced: usize,
    /// Of those, the ones in MASTER (the node's load).
    pub masters: usize,
    /// The instance whose move is in progress.
    pub moving: Option<String>,
    /// Until when the node makes no new move.
    #[serde(skip)]
    pub cooldown_until: Option<Instant>,
    /// Balance takeovers so far.
    pub moves: u64,
    pub last_move: Option<BalanceMove>,
}

/// The node's balancing state.
#[derive(Clone, Debug, Default)]
pub(super) struct Gate {
    pub settings: BalanceSettings,
    /// Balanced instances in MASTER, as last told to them.
    pub load: usize,
    pub moving: Option<InstanceId>,
    /// When to pick the next move (set while someone may want one).
    deadline: Option<Instant>,
    cooldown_until: Option<Instant>,
    moves: u64,
    last_move: Option<BalanceMove>,
}

impl Gate {
    /// When the router must call [`decide`](Self::decide).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// An instance started wanting a move: pick one after `gather` (so that every instance
    /// that wants one has heard its master), and not before the cooldown ends.
    pub fn request(&mut self, now: Instant, gather: Duration) {
        if self.moving.is_none() && self.deadline.is_none() {
            self.deadline = Some(self.not_before(now + gather));
        }
    }

    /// The deadline passed: the router grants the move to `granted` (the best candidate,
    /// if any).
    pub fn decide(&mut self, granted: Option<InstanceId>) {
        self.deadline = None;
        self.moving = granted;
    }

    /// Instance `id` took its router over: the move is done, the cooldown starts.
    pub fn completed(&mut self, id: InstanceId, record: BalanceMove, cooldown: Duration) {
        if self.moving == Some(id) {
            self.moving = None;
        }
        let until = record.at + self.settings.cooldown.unwrap_or(cooldown);
        self.cooldown_until = Some(until);
        self.deadline = Some(until);
        self.moves += 1;
        self.last_move = Some(record);
    }

    /// The move in progress ended without a takeover (the imbalance went, the instance left
    /// BACKUP or was removed): pick again after `gather`.
    pub fn abandoned(&mut self, now: Instant, gather: Duration) {
        self.moving = None;
        self.deadline = Some(self.not_before(now + gather));
    }

    fn not_before(&self, t: Instant) -> Instant {
        self.cooldown_until.map_or(t, |c| c.max(t))
    }

    pub fn status(&self, balanced: usize, moving: Option<String>) -> BalanceStatus {
        BalanceStatus {
            settings: self.settings,
            balanced,
            masters: self.load,
            moving,
            cooldown_until: self.cooldown_until,
            moves: self.moves,
            last_move: self.last_move.clone(),
        }
    }
}

/// The order in which a node grants wanting instances: the one whose master advertises the
/// lowest priority (the busiest node) first, then by a hash of (our address, VRID), which
/// differs from node to node, so that two idle nodes seldom pick the same router.
pub(super) fn rank(master_priority: u8, primary: IpAddr, vrid: u8) -> (u8, u64) {
    // FNV-1a: stable across releases and platforms (the simulator replays from a seed).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let octets: Vec<u8> = match primary {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    for b in octets.into_iter().chain([vrid]) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (master_priority, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_move_at_a_time_then_a_cooldown() {
        #[allow(clippy::disallowed_methods)] // an arbitrary origin for virtual time
        let t0 = Instant::now();
        let gather = Duration::from_millis(100);
        let mut g = Gate::default();
        g.request(t0, gather);
        assert_eq!(g.deadline(), Some(t0 + gather));
        let id = InstanceId::for_tests(7);
        g.decide(Some(id));
        assert_eq!(g.deadline(), None);
        g.request(t0 + gather, gather);
        assert_eq!(g.deadline(), None, "a move is in progress");
        let at = t0 + Duration::from_secs(1);
        let record = BalanceMove {
            instance: "VR_7".into(),
            vrid: 7,
            from: "10.0.0.1".parse().unwrap(),
            from_load: 5,
            to_load: 1,
            at,
        };
        g.completed(id, record, Duration::from_secs(2));
        assert_eq!(g.moving, None);
        assert_eq!(g.deadline(), Some(at + Duration::from_secs(2)));
        g.decide(None);
        g.request(at, gather);
        assert_eq!(
            g.deadline(),
            Some(at + Duration::from_secs(2)),
            "not before the cooldown ends"
        );
        assert_eq!(g.status(3, None).moves, 1);
    }

    #[test]
    fn the_rank_prefers_the_busiest_master_and_differs_between_nodes() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(rank(200, a, 1) < rank(201, a, 2));
        let order = |me: IpAddr| {
            let mut v: Vec<u8> = (1..=30).collect();
            v.sort_by_key(|vrid| rank(200, me, *vrid));
            v
        };
        assert_ne!(order(a)[0], order(b)[0]);
    }
}
