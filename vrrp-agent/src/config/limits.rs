//! The ranges both formats accept for numeric settings, in one place (keepalived's where it
//! has one; otherwise generous but finite, so that typos such as an extra zero are caught).
//!
//! Imports nothing.

/// `preempt_delay`: up to 1000 s (keepalived's limit), in milliseconds.
pub(crate) const PREEMPT_DELAY_MAX_MS: u64 = 1_000_000;
/// `vrrp_script` interval and timeout: 1 ms to an hour.
pub(crate) const SCRIPT_MIN_MS: u64 = 1;
pub(crate) const SCRIPT_MAX_MS: u64 = 3_600_000;
/// Reachability probe interval and timeout: 10 ms to an hour.
pub(crate) const PROBE_MIN_MS: u64 = 10;
pub(crate) const PROBE_MAX_MS: u64 = 3_600_000;
/// `fall` / `rise` of scripts and probes.
pub(crate) const COUNT_MAX: u32 = 1000;
/// `garp_master_delay`: 0 (no second burst) to an hour, in seconds.
pub(crate) const GARP_DELAY_MAX_S: u32 = 3600;
/// `garp_master_refresh`: 0 (off) to a day, in seconds.
pub(crate) const GARP_REFRESH_MAX_S: u32 = 86_400;
/// `garp_master_repeat` / `garp_master_refresh_repeat`: 1 to 1000 frames.
pub(crate) const GARP_REPEAT_MAX: u32 = 1000;
/// `notify_timeout`: 1 ms to an hour.
pub(crate) const NOTIFY_TIMEOUT_MAX_MS: u64 = 3_600_000;
/// `startup_delay` / `vrrp_startup_delay`: at most an hour.
pub(crate) const STARTUP_DELAY_MAX_MS: u64 = 3_600_000;
/// `balance_hysteresis`: 0 to 100 routers.
pub(crate) const BALANCE_HYSTERESIS_MAX: i64 = 100;
/// `balance_cooldown`: 10 ms to an hour.
pub(crate) const BALANCE_COOLDOWN_MIN_MS: u64 = 10;
pub(crate) const BALANCE_COOLDOWN_MAX_MS: u64 = 3_600_000;
