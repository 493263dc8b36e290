//! Balancing masters across nodes (opt-in, `InstanceConfig::balance`) with nothing but the
//! VRRP priority byte: the formulas and one instance's share of it. The node's share (one
//! move at a time, the cooldown, status) is [`balance_gate`](super::balance_gate).
//!
//! # Why
//! Neutron gives every node priority 50 and `nopreempt`: masters pile up on the node that
//! started first and never move back after a node returns. With `balance`, every node's
//! agent advertises how loaded it is, and a less loaded node takes routers over, one at a
//! time, by ordinary preemption. No controller, no new message.
//!
//! # Formulas
//! * The load `L` of a node is the number of its balanced instances in MASTER. The
//!   [`Router`](super::Router) counts it and tells each balanced instance how many *other*
//!   balanced instances of the node are MASTER ([`Input::NodeLoad`](super::Input)), `o`.
//! * A balanced instance's priority is `f(o + 1)` with `f(L) = 254 − min(L, 252)`: for a
//!   master its node's load (itself included), for a backup the load its node would have if
//!   it took this router. The configured priority and the weights of tracked objects do not
//!   count (objects of weight 0 still put it in FAULT); priority 255 is refused.
//! * A balanced backup wants the router of a master advertising `p` when
//!   `f(o + 1) ≥ p + 1 + H` (`H`, the hysteresis, node-wide, default 0), that is when the
//!   master's node has `L_m ≥ L_b + 2 + H` (`L_b = o`). Otherwise it follows the master as a
//!   backup that does not preempt, whatever `preempt` says (Neutron's `nopreempt` must not
//!   stop balancing).
//! * Stable state: no backup wants, i.e. `max L − min L ≤ 1 + H` over the nodes: with the
//!   default `H = 0` every node is master for ⌊M/n⌋ or ⌈M/n⌉ of M routers.
//!
//! # A move
//! The backup asks its node for the one move it may make ([`Output::BalanceWanted`](super::Output)); once
//! granted ([`Input::BalanceGrant`](super::Input)) it goes on following the master and takes over on the
//! [`CONFIRM`]-th consecutive advert from it that still shows the imbalance (with
//! [`Reason::Balance`](super::Reason)). The master steps down on the first advert of the new
//! one, whose priority is higher than the one it advertised itself: a balanced master *is*,
//! until its next scheduled advert, the priority of its last one (what the taker judged),
//! whatever its node's load does meanwhile; it compares with it and answers lower masters
//! with it. So masters that meet (two takers at once, startup, a healed partition) all judge
//! the same values and resolve in one delivery, as with fixed priorities. This is RFC
//! preemption, with two refinements:
//! * taking over right after an advert (rather than when a master-down timer, armed before
//!   the discarded adverts, expires) means the master was alive a delivery ago: it steps down
//!   one delivery after the takeover. Had the backup discarded the adverts instead, a master
//!   killed meanwhile would forward until its data-plane lease ran out next to the new one;
//! * following the master meanwhile keeps the failover timer running: if the master dies
//!   during the move, the backup takes over on master-down as any backup, after the lease.
//!
//! A master killed within a delivery of a takeover (it never heard the new master) still
//! forwards until its lease runs out: the race of any preemption.
//!
//! # Data-plane lease
//! A balanced master's [`fencing_lease`](super::Instance::fencing_lease) is the
//! Master_Down_Interval of priority [`TOP`], the highest any balanced backup can have: a
//! backup follows with the skew of the lower of its priority and the master's (never shorter
//! than that), so a killed master stops forwarding before any backup takes over.
//!
//! # Rate limit
//! Per node (the taking side): at most one move in progress, and after each takeover a
//! cooldown (default 2 × the taker's Master_Down_Interval, or
//! [`BalanceSettings::cooldown`](super::BalanceSettings)). When the node may move again it
//! grants the wanting instance whose master advertises the lowest priority (the busiest
//! node), ties broken by a hash of (our address, VRID) so that two idle nodes rarely pick
//! the same router; it waits one advert interval after the first wish so that every wanting
//! instance has spoken.
//!
//! # Convergence
//! Let Φ = Σ L² over the nodes. A move from a node of load `L_m` to one of load `L_b` with
//! `L_m − L_b ≥ 2` changes Φ by `(L_m − 1)² + (L_b + 1)² − L_m² − L_b² = 2(L_b − L_m) + 2 ≤ −2`.
//! Φ is a non-negative integer, so moves stop. Moves made at the same time by `k` different
//! nodes against one master node (each judged on its advert before the others landed) change
//! Φ by at most `k(k − 3)`: still a decrease for `k ≤ 2` and never an increase for `k = 3`
//! (4 nodes); the per-node limit makes `k ≤ n − 1`. Two nodes taking the *same* router at
//! once resolve like any two masters (higher priority, then address): one move stands, the
//! other is undone one delivery later. Failovers of a dead node's routers go, as without
//! balancing, to the backup that times out first; balancing then evens the rest.
//!
//! All routers of a balanced VRID must run balanced agents: the priorities are loads, and a
//! router with a configured priority would look like a node of load `254 − priority`.
//!
//! May import `crate::packet` and the rest of `fsm` only.

use std::net::IpAddr;

/// The priority of a node of load 0; balance priorities are `TOP − load`, at least 2.
pub const BASE: u8 = 254;

/// The highest priority a balanced router advertises or elects with (a node of load 1, the
/// only router of its node): what a balanced master's fencing lease is computed for.
pub const TOP: u8 = BASE - 1;

/// Consecutive adverts, once granted, that must show the imbalance before the takeover
/// (about a Master_Down_Interval, the cost of an RFC preemption).
pub const CONFIRM: u8 = 3;

/// `f(load)`: the priority of a balanced router on a node of `load` balanced masters.
pub fn priority(load: usize) -> u8 {
    BASE - load.min(usize::from(BASE) - 2) as u8
}

/// The load a balance priority stands for (`f⁻¹`).
pub fn load_of(priority: u8) -> usize {
    usize::from(BASE.saturating_sub(priority))
}

/// Whether a backup whose node has `other_masters` balanced masters wants the router of a
/// master advertising `master_priority`, with hysteresis `hysteresis`.
pub fn wants(other_masters: usize, master_priority: u8, hysteresis: u8) -> bool {
    master_priority != 0
        && master_priority != 255
        && u32::from(priority(other_masters + 1))
            >= u32::from(master_priority) + 1 + u32::from(hysteresis)
}

/// What a balanced backup does after an advert or a load change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Nothing,
    /// It started wanting the router: ask the node for a move.
    Ask,
    /// Take the router over now.
    TakeOver {
        from: IpAddr,
        from_load: usize,
        to_load: usize,
    },
}

/// The router a balanced backup wants: its master and what that master advertised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wish {
    master: IpAddr,
    priority: u8,
}

/// One instance's share of balancing (all of it inert unless the instance is balanced).
#[derive(Clone, Debug, Default)]
pub(super) struct BalanceState {
    /// Other balanced instances of the node in MASTER.
    other_masters: usize,
    hysteresis: u8,
    wish: Option<Wish>,
    /// The node granted us its move.
    granted: bool,
    /// Wanting adverts from the wished master since the grant.
    streak: u8,
}

impl BalanceState {
    /// The priority to advertise or elect with.
    pub fn priority(&self) -> u8 {
        priority(self.other_masters + 1)
    }

    pub fn granted(&self) -> bool {
        self.granted
    }

    /// What the wished master advertises, while we want its router and wait for a grant.
    pub fn candidate(&self) -> Option<u8> {
        self.wish.filter(|_| !self.granted).map(|w| w.priority)
    }

    /// New node load and hysteresis; `master` is the master we follow (with its advertised
    /// priority), judged again.
    pub fn set_view(
        &mut self,
        other_masters: usize,
        hysteresis: u8,
        master: Option<(IpAddr, u8)>,
    ) -> Step {
        self.other_masters = other_masters;
        self.hysteresis = hysteresis;
        match master {
            Some((m, p)) if wants(other_masters, p, hysteresis) => {
                let was = self.wish.is_some();
                self.wish = Some(Wish {
                    master: m,
                    priority: p,
                });
                if was { Step::Nothing } else { Step::Ask }
            }
            _ => {
                self.forget();
                Step::Nothing
            }
        }
    }

    /// A backup followed an advert of `priority` from master `src`.
    pub fn on_advert(&mut self, src: IpAddr, priority: u8) -> Step {
        if !wants(self.other_masters, priority, self.hysteresis) {
            self.forget();
            return Step::Nothing;
        }
        let before = self.wish.replace(Wish {
            master: src,
            priority,
        });
        match before {
            None => Step::Ask,
            Some(w) if w.master != src => {
                // Another master (a move elsewhere, a failover): count again.
                self.streak = 0;
                if self.granted {
                    Step::Nothing
                } else {
                    Step::Ask
                }
            }
            Some(_) if self.granted => {
                self.streak += 1;
                if self.streak >= CONFIRM {
                    Step::TakeOver {
                        from: src,
                        from_load: load_of(priority),
                        to_load: self.other_masters + 1,
                    }
                } else {
                    Step::Nothing
                }
            }
            Some(_) => Step::Nothing,
        }
    }

    /// The node grants the move: taken only while we still want it.
    pub fn grant(&mut self) {
        if self.wish.is_some() {
            self.granted = true;
            self.streak = 0;
        }
    }

    /// No wish, no grant (state change, or the imbalance is gone).
    pub fn forget(&mut self) {
        self.wish = None;
        self.granted = false;
        self.streak = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn f_is_254_minus_the_load_and_stays_a_valid_priority() {
        assert_eq!(priority(0), 254);
        assert_eq!(priority(1), 253);
        assert_eq!(priority(30), 224);
        assert_eq!(priority(252), 2);
        assert_eq!(priority(10_000), 2);
        for l in 0..=252 {
            assert_eq!(load_of(priority(l)), l);
        }
    }

    #[test]
    fn a_backup_wants_a_router_when_the_masters_node_has_two_more_plus_hysteresis() {
        // Backup with load 3: master loads 5 and more are wanted, 4 is not.
        assert!(wants(3, priority(5), 0));
        assert!(!wants(3, priority(4), 0));
        assert!(!wants(3, priority(5), 1));
        assert!(wants(3, priority(6), 1));
        assert!(!wants(0, 255, 0), "never the owner's");
        assert!(!wants(0, 0, 0), "not a resignation");
    }

    #[test]
    fn takeover_on_the_confirm_th_wanting_advert_after_the_grant() {
        let mut b = BalanceState::default();
        assert_eq!(b.on_advert(M, priority(4)), Step::Ask);
        assert_eq!(b.candidate(), Some(priority(4)));
        assert_eq!(b.on_advert(M, priority(4)), Step::Nothing, "asked once");
        b.grant();
        assert!(b.granted());
        for _ in 1..CONFIRM {
            assert_eq!(b.on_advert(M, priority(4)), Step::Nothing);
        }
        assert_eq!(
            b.on_advert(M, priority(4)),
            Step::TakeOver {
                from: M,
                from_load: 4,
                to_load: 1
            }
        );
    }

    #[test]
    fn the_wish_and_grant_go_when_the_imbalance_does() {
        let mut b = BalanceState::default();
        b.on_advert(M, priority(3));
        b.grant();
        assert_eq!(b.on_advert(M, priority(1)), Step::Nothing);
        assert!(!b.granted());
        assert_eq!(b.candidate(), None);
        // A load change judges the master again.
        assert_eq!(b.set_view(0, 0, Some((M, priority(2)))), Step::Ask);
        assert_eq!(b.set_view(1, 0, Some((M, priority(2)))), Step::Nothing);
        assert_eq!(b.candidate(), None);
    }
}
