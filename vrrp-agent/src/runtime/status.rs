//! Building the status report of one instance, and of the node's balancing. Depends on the
//! slot and the core only.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::slot::{ObjectKey, Slot};
use crate::{
    api::model::{
        BalanceMoveReport, BalanceReport, CountersReport, InstanceReport, TrackedReport,
        TransitionReport,
    },
    fsm::{BalanceStatus, Instance, State, TrackedState},
    packet::Auth,
};

/// The report of one instance: the engine's `slot`, the core's `fsm` and what it tracks.
pub(super) fn instance_report(
    s: &Slot,
    fsm: &Instance,
    tracked: &[TrackedState<'_, ObjectKey>],
) -> InstanceReport {
    let status = fsm.status();
    let tracked = tracked
        .iter()
        .map(|t| TrackedReport {
            name: t.name.to_string(),
            up: t.up,
            weight: t.weight,
        })
        .collect();
    InstanceReport {
        name: s.spec.vrrp.name.clone(),
        netns: s.spec.netns.clone(),
        interface: s.spec.interface.clone(),
        vmac: s.vmac.as_ref().map(|v| v.link.name.clone()),
        vrid: s.spec.vrrp.vrid,
        version: s.spec.vrrp.version.number(),
        family: if s.spec.vrrp.is_ipv6() {
            "ipv6"
        } else {
            "ipv4"
        }
        .into(),
        state: status.state.to_string(),
        // What it advertises and elects with (with `balance`, its node's load).
        priority: status.election_priority,
        base_priority: status.base_priority,
        master: status.master.map(|m| m.to_string()),
        master_is_self: status.state == State::Master,
        advert_interval_ms: status.advert_interval.as_duration().as_millis() as u64,
        master_advert_interval_ms: status.master_adver_interval.as_duration().as_millis() as u64,
        last_transition: s.last_transition.as_ref().map(|(at, from, to, reason)| {
            TransitionReport {
                from: from.to_string(),
                to: to.to_string(),
                reason: reason.to_string(),
                seconds_ago: SystemTime::now()
                    .duration_since(*at)
                    .unwrap_or_default()
                    .as_secs_f64(),
                unix_ms: unix_ms(*at),
            }
        }),
        tracked,
        counters: CountersReport::from(&status.counters),
        ah_sequence: matches!(s.spec.vrrp.auth, Auth::Ah { .. }).then(|| fsm.ah_sequence()),
        v3_checksum: status.checksum_form.map(|f| f.name().to_string()),
        dataplane: None,
    }
}

/// The node's balancing, if any instance is balanced.
pub(super) fn balance_report(b: &BalanceStatus, now: Instant) -> Option<BalanceReport> {
    (b.balanced > 0).then(|| BalanceReport {
        balanced: b.balanced,
        masters: b.masters,
        hysteresis: b.settings.hysteresis,
        cooldown_secs: b.settings.cooldown.map(|c| c.as_secs_f64()),
        moving: b.moving.clone(),
        moves: b.moves,
        last_move: b.last_move.as_ref().map(|m| BalanceMoveReport {
            instance: m.instance.clone(),
            vrid: m.vrid,
            from: m.from.to_string(),
            from_load: m.from_load,
            to_load: m.to_load,
            seconds_ago: now.saturating_duration_since(m.at).as_secs_f64(),
        }),
    })
}

/// Milliseconds since the Unix epoch.
fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}
