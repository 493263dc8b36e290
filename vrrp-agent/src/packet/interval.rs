//! Advertisement intervals in centiseconds: VRRPv3's unit (12 bits on the wire); VRRPv2's
//! whole seconds convert exactly. One type for both versions so that seconds and centiseconds
//! can never be mixed up.

use std::{fmt, time::Duration};

/// A duration in centiseconds (1/100 s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Centisecs(pub u32);

impl Centisecs {
    /// Largest interval VRRPv3 can carry (12 bits): 40.95 s.
    pub const V3_MAX: Centisecs = Centisecs(0x0fff);

    /// `secs` whole seconds; saturates at `u32::MAX` centiseconds (497 days) instead of
    /// overflowing, so no input panics. Such intervals are refused by every encoder anyway.
    pub const fn from_secs(secs: u32) -> Self {
        Centisecs(secs.saturating_mul(100))
    }

    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whole seconds, if this is a whole number of seconds.
    pub const fn whole_secs(self) -> Option<u32> {
        if self.0.is_multiple_of(100) {
            Some(self.0 / 100)
        } else {
            None
        }
    }

    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }

    pub const fn as_micros(self) -> u64 {
        self.0 as u64 * 10_000
    }
}

impl fmt::Display for Centisecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(100) {
            write!(f, "{}s", self.0 / 100)
        } else {
            write!(f, "{}.{:02}s", self.0 / 100, self.0 % 100)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact() {
        assert_eq!(Centisecs::from_secs(2).get(), 200);
        assert_eq!(Centisecs(250).whole_secs(), None);
        assert_eq!(Centisecs(300).whole_secs(), Some(3));
        assert_eq!(Centisecs(5).as_duration(), Duration::from_millis(50));
        assert_eq!(Centisecs(5).to_string(), "0.05s");
        assert_eq!(Centisecs(200).to_string(), "2s");
    }

    #[test]
    fn from_secs_saturates_instead_of_overflowing() {
        assert_eq!(Centisecs::from_secs(u32::MAX), Centisecs(u32::MAX));
        assert_eq!(Centisecs::from_secs(42_949_673).get(), u32::MAX);
        assert_eq!(Centisecs::from_secs(42_949_672).get(), 4_294_967_200);
    }
}
