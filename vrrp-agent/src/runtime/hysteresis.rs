//! Fall/rise hysteresis for tracked checks (scripts, reachability probes): an object goes down
//! after `fall` consecutive failures and up after `rise` consecutive successes. Pure.

/// The up/down state of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hysteresis {
    fall: u32,
    rise: u32,
    up: bool,
    streak: u32,
}

impl Hysteresis {
    /// Starts up (a check must fail `fall` times before it counts as down).
    pub fn new(fall: u32, rise: u32) -> Self {
        Self {
            fall: fall.max(1),
            rise: rise.max(1),
            up: true,
            streak: 0,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Records one result; returns the new state if it changed.
    pub fn observe(&mut self, ok: bool) -> Option<bool> {
        if ok == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if self.up { self.fall } else { self.rise };
        if self.streak >= needed {
            self.up = ok;
            self.streak = 0;
            Some(ok)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_after_fall_failures_and_rises_after_rise_successes() {
        let mut h = Hysteresis::new(3, 2);
        assert_eq!(h.observe(false), None);
        assert_eq!(h.observe(false), None);
        assert_eq!(h.observe(true), None, "a success resets the failure streak");
        assert_eq!(h.observe(false), None);
        assert_eq!(h.observe(false), None);
        assert_eq!(h.observe(false), Some(false));
        assert!(!h.is_up());
        assert_eq!(h.observe(true), None);
        assert_eq!(
            h.observe(false),
            None,
            "a failure resets the success streak"
        );
        assert_eq!(h.observe(true), None);
        assert_eq!(h.observe(true), Some(true));
        assert_eq!(h.observe(true), None);
    }

    #[test]
    fn zero_counts_mean_one() {
        let mut h = Hysteresis::new(0, 0);
        assert_eq!(h.observe(false), Some(false));
        assert_eq!(h.observe(true), Some(true));
    }
}
