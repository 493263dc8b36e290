//! RFC timer formulas in integer math.
//!
//! * VRRPv3 (RFC 9568 §6.1): Skew_Time = ((256 − Priority) × Master_Adver_Interval) / 256,
//!   in centiseconds (truncated); Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
//! * VRRPv2 (RFC 3768 §6.1): Skew_Time = (256 − Priority) / 256 seconds (independent of the
//!   interval), here in microseconds; Master_Down_Interval = 3 × Advertisement_Interval +
//!   Skew_Time.

use std::time::Duration;

use crate::packet::{Centisecs, Version};

/// Skew_Time for a router of `priority` whose master advertises every `interval`.
pub fn skew_time(version: Version, priority: u8, interval: Centisecs) -> Duration {
    let weight = 256 - u64::from(priority);
    match version {
        Version::V3 => Centisecs(((weight * u64::from(interval.get())) / 256) as u32).as_duration(),
        Version::V2 => Duration::from_micros(weight * 1_000_000 / 256),
    }
}

/// Master_Down_Interval for a router of `priority` whose master advertises every `interval`.
pub fn master_down_interval(version: Version, priority: u8, interval: Centisecs) -> Duration {
    interval.as_duration() * 3 + skew_time(version, priority, interval)
}

/// How long a starting instance listens at least before claiming mastership, unless
/// configured (`startup_delay`): as long as it would wait for a master advertising every
/// second, VRRP's default interval, when its own interval is shorter; nothing more than the
/// RFC's Master_Down_Interval otherwise.
///
/// Why: a backup times the master out on *its own* interval until it has heard one advert
/// (RFC 9568 §6.4.1). Started at 100 ms next to a master at 1 s, it claims the addresses
/// after 0.36 s, announces them with gratuitous ARPs, and gives them back at the master's
/// next advert: hosts that followed the ARPs lose traffic for seconds. A 1 s master speaks
/// within 1 s, well inside this wait; a master slower than about 3 s still needs
/// `startup_delay`.
pub fn default_startup_delay(version: Version, priority: u8, interval: Centisecs) -> Duration {
    let one_second = Centisecs::from_secs(1);
    if interval >= one_second {
        Duration::ZERO
    } else {
        master_down_interval(version, priority, one_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5798_section_6_1_skew_time_uses_the_master_interval_in_centiseconds() {
        // (256 - 100) * 100 / 256 = 60.9 -> 60 cs.
        assert_eq!(
            skew_time(Version::V3, 100, Centisecs(100)),
            Duration::from_millis(600)
        );
        // Small intervals do not collapse to zero: (256 - 50) * 5 / 256 = 4.02 -> 4 cs.
        assert_eq!(
            skew_time(Version::V3, 50, Centisecs(5)),
            Duration::from_millis(40)
        );
        // Owner: (256 - 255) * 100 / 256 = 0.39 -> 0.
        assert_eq!(skew_time(Version::V3, 255, Centisecs(100)), Duration::ZERO);
    }

    #[test]
    fn rfc5798_section_6_1_master_down_interval() {
        assert_eq!(
            master_down_interval(Version::V3, 100, Centisecs(100)),
            Duration::from_millis(3600)
        );
        assert_eq!(
            master_down_interval(Version::V3, 50, Centisecs(5)),
            Duration::from_millis(190)
        );
    }

    #[test]
    fn rfc3768_section_6_1_skew_time_is_priority_only() {
        // (256 - 50) / 256 s = 804.6875 ms, whatever the interval.
        assert_eq!(
            skew_time(Version::V2, 50, Centisecs::from_secs(1)),
            Duration::from_micros(804_687)
        );
        assert_eq!(
            skew_time(Version::V2, 50, Centisecs::from_secs(2)),
            Duration::from_micros(804_687)
        );
        assert_eq!(
            master_down_interval(Version::V2, 50, Centisecs::from_secs(2)),
            Duration::from_micros(6_804_687)
        );
    }

    #[test]
    fn the_default_startup_delay_waits_for_a_one_second_master_only_below_one_second() {
        assert_eq!(
            default_startup_delay(Version::V3, 100, Centisecs(10)),
            Duration::from_millis(3600)
        );
        assert_eq!(
            default_startup_delay(Version::V3, 100, Centisecs(100)),
            Duration::ZERO
        );
        assert_eq!(
            default_startup_delay(Version::V3, 100, Centisecs(200)),
            Duration::ZERO
        );
    }

    #[test]
    fn higher_priority_means_shorter_skew() {
        for version in [Version::V2, Version::V3] {
            for p in 1..255u8 {
                assert!(
                    skew_time(version, p + 1, Centisecs(100))
                        <= skew_time(version, p, Centisecs(100))
                );
            }
        }
    }
}
