//! When to send gratuitous ARP / unsolicited NA batches while master: one batch at takeover,
//! one after `garp_master_delay`, then one every `garp_master_refresh` (if set); a reload that
//! adds an address restarts the refresh period (the instance sends that reload's batch).

use std::time::Instant;

use super::GarpConfig;

/// The pending batches of one instance.
#[derive(Clone, Debug, Default)]
pub struct GarpSchedule {
    /// (when, frames per address)
    second: Option<(Instant, u32)>,
    refresh: Option<Instant>,
}

impl GarpSchedule {
    /// Takeover at `now`: returns the repeat count of the immediate batch and plans the rest.
    pub fn start(&mut self, config: &GarpConfig, now: Instant) -> u32 {
        self.second = (!config.master_delay.is_zero())
            .then(|| (now + config.master_delay, config.master_repeat));
        self.refresh = config.refresh.map(|r| now + r);
        config.master_repeat
    }

    /// A batch was just sent outside the schedule (a reload added an address): the next
    /// refresh is one `garp_master_refresh` from `now`, as keepalived restarts its timer.
    pub fn restart_refresh(&mut self, config: &GarpConfig, now: Instant) {
        self.refresh = config.refresh.map(|r| now + r);
    }

    /// Forget everything (leaving master).
    pub fn stop(&mut self) {
        *self = Self::default();
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.second.map(|(t, _)| t), self.refresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The batches due at `now` (frames per address of each).
    pub fn due(&mut self, config: &GarpConfig, now: Instant) -> Vec<u32> {
        let mut batches = Vec::new();
        if let Some((t, repeat)) = self.second
            && t <= now
        {
            batches.push(repeat);
            self.second = None;
        }
        if let (Some(t), Some(every)) = (self.refresh, config.refresh)
            && t <= now
        {
            batches.push(config.refresh_repeat);
            // Next refresh from now, not from t: a late driver never bursts to catch up.
            self.refresh = Some(now + every);
        }
        batches
    }
}
