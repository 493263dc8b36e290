//! Per-instance statistics, matching RFC 6527 (VRRPv3 MIB) and keepalived's `vrrp_stats`.

use std::collections::BTreeMap;

/// Counters of one virtual router.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Adverts that passed every check (vrrpv3StatisticsRcvdAdvertisements).
    pub adverts_rx: u64,
    pub adverts_tx: u64,
    /// Transitions to MASTER (vrrpv3StatisticsMasterTransitions).
    pub became_master: u64,
    /// Transitions out of MASTER (keepalived's release_master).
    pub released_master: u64,
    pub priority_zero_rx: u64,
    pub priority_zero_tx: u64,
    /// Rejected packets by kind.
    pub rx_errors: RxErrorCounters,
}

/// Rejected packets by kind: the codec's decode errors and the instance's own checks, under
/// the names `DecodeError::kind` and `RxCheckError::kind` give.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct RxErrorCounters(pub BTreeMap<&'static str, u64>);

impl RxErrorCounters {
    pub fn bump(&mut self, kind: &'static str) {
        *self.0.entry(kind).or_default() += 1;
    }

    pub fn get(&self, kind: &str) -> u64 {
        self.0.get(kind).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}
