//! The simulated network: per-delivery delay, jitter, loss and duplication from one seeded
//! generator, and partitions between nodes.

use std::{collections::BTreeSet, time::Duration};

use rand::{Rng, SeedableRng, rngs::SmallRng};

/// Network behaviour of a simulation.
#[derive(Clone, Debug)]
pub struct NetConfig {
    pub seed: u64,
    /// Fixed one-way delay of every delivery.
    pub delay: Duration,
    /// Extra random delay, uniform in [0, jitter].
    pub jitter: Duration,
    /// Probability that a delivery is lost.
    pub loss: f64,
    /// Probability that a delivery arrives twice.
    pub duplicate: f64,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            delay: Duration::from_micros(100),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

pub(super) struct Network {
    pub config: NetConfig,
    rng: SmallRng,
    /// Unordered node pairs that cannot hear each other.
    cut: BTreeSet<(usize, usize)>,
}

impl Network {
    pub fn new(config: NetConfig) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(config.seed),
            config,
            cut: BTreeSet::new(),
        }
    }

    fn pair(a: usize, b: usize) -> (usize, usize) {
        (a.min(b), a.max(b))
    }

    pub fn cut(&mut self, a: usize, b: usize) {
        self.cut.insert(Self::pair(a, b));
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn is_whole(&self) -> bool {
        self.cut.is_empty() && self.config.loss == 0.0
    }

    pub fn connected(&self, a: usize, b: usize) -> bool {
        !self.cut.contains(&Self::pair(a, b))
    }

    /// The delays of the copies of one delivery between connected nodes (empty if lost).
    pub fn deliveries(&mut self) -> Vec<Duration> {
        let mut out = Vec::new();
        if self.config.loss > 0.0 && self.rng.random::<f64>() < self.config.loss {
            return out;
        }
        let copies =
            if self.config.duplicate > 0.0 && self.rng.random::<f64>() < self.config.duplicate {
                2
            } else {
                1
            };
        for _ in 0..copies {
            let jitter = if self.config.jitter.is_zero() {
                Duration::ZERO
            } else {
                self.config.jitter.mul_f64(self.rng.random::<f64>())
            };
            out.push(self.config.delay + jitter);
        }
        out
    }

    /// A random number for scenario generators that must stay reproducible from the seed.
    pub fn random_below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n.max(1))
    }
}
