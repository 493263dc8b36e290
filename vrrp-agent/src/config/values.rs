//! Parsers for single values, shared by both formats: numbers in a range, decimal seconds,
//! addresses with an optional prefix, interface names and iproute2's scope, protocol and table
//! names. Each returns the message part of a diagnostic (`key: expected ..., got `x``); the
//! caller adds file and line.
//!
//! Imports `crate::packet` (advert intervals).

use std::{net::IpAddr, time::Duration};

use crate::packet::{Centisecs, Version};

/// `text` as an integer in `min..=max`.
pub(crate) fn int_in(key: &str, text: &str, min: i64, max: i64) -> Result<i64, String> {
    match text.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{key}: expected {}, got `{text}`",
            range_text(min, max)
        )),
    }
}

/// "a number 1-255" / "a number from -253 to 253".
pub(crate) fn range_text(min: i64, max: i64) -> String {
    if min < 0 {
        format!("a number from {min} to {max}")
    } else {
        format!("a number {min}-{max}")
    }
}

/// [`int_in`] for values that fit `u32` (`min..=max` must lie within `u32`).
pub(crate) fn u32_in(key: &str, text: &str, min: u32, max: u32) -> Result<u32, String> {
    int_in(key, text, i64::from(min), i64::from(max))
        .and_then(|n| u32::try_from(n).map_err(|_| format!("{key}: out of range, got `{text}`")))
}

/// [`int_in`] for `u8` values.
pub(crate) fn u8_in(key: &str, text: &str, min: u8, max: u8) -> Result<u8, String> {
    int_in(key, text, i64::from(min), i64::from(max))
        .and_then(|n| u8::try_from(n).map_err(|_| format!("{key}: out of range, got `{text}`")))
}

/// A track weight (keepalived's range, -253 to 253).
pub(crate) fn weight(key: &str, text: &str) -> Result<i32, String> {
    int_in(key, text, -253, 253)
        .and_then(|n| i32::try_from(n).map_err(|_| format!("{key}: out of range, got `{text}`")))
}

/// A non-negative decimal number with at most `digits` fractional digits (extra trailing
/// zeros allowed), scaled by `10^digits`: `decimal("1.5", 2) == Some(150)`. `None` for
/// anything else, including values of a billion or more.
pub(crate) fn decimal(text: &str, digits: u32) -> Option<u64> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(frac) || whole.len() > 9 {
        return None;
    }
    let digits_usize = usize::try_from(digits).ok()?;
    let (kept, rest) = frac.split_at(frac.len().min(digits_usize));
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let scale = 10u64.checked_pow(digits)?;
    let whole_value = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().ok()?
    };
    let mut frac_value = if kept.is_empty() {
        0
    } else {
        kept.parse::<u64>().ok()?
    };
    let missing = u32::try_from(digits_usize.saturating_sub(kept.len())).ok()?;
    frac_value = frac_value.checked_mul(10u64.checked_pow(missing)?)?;
    whole_value.checked_mul(scale)?.checked_add(frac_value)
}

/// Decimal seconds (millisecond precision) from `min_ms` to `max_ms` milliseconds.
pub(crate) fn secs_in(key: &str, text: &str, min_ms: u64, max_ms: u64) -> Result<Duration, String> {
    match decimal(text, 3) {
        Some(ms) if (min_ms..=max_ms).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(format!(
            "{key}: expected seconds from {} to {}, got `{text}`",
            ms_text(min_ms),
            ms_text(max_ms)
        )),
    }
}

/// Milliseconds as seconds for messages: 1500 → "1.5", 2000 → "2".
pub(crate) fn ms_text(ms: u64) -> String {
    let (s, rest) = (ms / 1000, ms % 1000);
    if rest == 0 {
        s.to_string()
    } else {
        format!("{s}.{:03}", rest).trim_end_matches('0').to_string()
    }
}

/// Seconds given as a TOML float (or integer) in `min_ms..=max_ms` milliseconds, exact to
/// the millisecond.
pub(crate) fn float_secs_in(
    key: &str,
    secs: f64,
    min_ms: u64,
    max_ms: u64,
) -> Result<Duration, String> {
    let expected = || {
        format!(
            "{key}: expected seconds from {} to {}, got {secs}",
            ms_text(min_ms),
            ms_text(max_ms)
        )
    };
    let ms = secs * 1000.0;
    if !ms.is_finite() || !(0.0..=4.0e12).contains(&ms) {
        return Err(expected());
    }
    let rounded = ms.round();
    if (ms - rounded).abs() > 1e-6 {
        return Err(format!("{key}: expected a multiple of 0.001 s, got {secs}"));
    }
    // In range and whole: the conversion is exact.
    let ms = rounded as u64;
    if (min_ms..=max_ms).contains(&ms) {
        Ok(Duration::from_millis(ms))
    } else {
        Err(expected())
    }
}

/// An advert interval of `cs` centiseconds (written as `text`) checked for `version`:
/// whole seconds 1-255 for VRRPv2, 0.01 to 40.95 s for VRRPv3.
pub(crate) fn advert_interval(
    key: &str,
    cs: u64,
    text: &str,
    version: Version,
) -> Result<Centisecs, String> {
    let ok = match version {
        Version::V2 => cs.is_multiple_of(100) && (100..=25_500).contains(&cs),
        Version::V3 => (1..=u64::from(Centisecs::V3_MAX.get())).contains(&cs),
    };
    match u32::try_from(cs) {
        Ok(cs) if ok => Ok(Centisecs(cs)),
        _ => Err(match version {
            Version::V2 => {
                format!("{key}: expected a whole number of seconds 1-255 for VRRPv2, got `{text}`")
            }
            Version::V3 => {
                format!("{key}: expected 0.01 to 40.95 seconds for VRRPv3, got `{text}`")
            }
        }),
    }
}

/// `ADDR[/PREFIX]`; without a prefix, a host prefix (/32 or /128).
pub(crate) fn addr_prefix(key: &str, text: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("{key}: expected an IP address with an optional /prefix, got `{text}`");
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix_len = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && !p.starts_with('+') => n,
            _ => {
                return Err(format!("{key}: prefix length of `{text}` must be 0-{max}"));
            }
        },
    };
    Ok((addr, prefix_len))
}

/// A plain IP address.
pub(crate) fn ip(key: &str, text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("{key}: expected an IP address, got `{text}`"))
}

/// A Linux interface name: 1-15 bytes, no `/`, `:` or whitespace, not `.` or `..`.
pub(crate) fn ifname(key: &str, text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 15
        && text != "."
        && text != ".."
        && !text
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace());
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{key}: expected an interface name (1-15 characters, no `/`, `:` or spaces), got `{text}`"
        ))
    }
}

/// An address label: at most 15 bytes, no whitespace (keepalived: `eth0:1`).
pub(crate) fn label(key: &str, text: &str) -> Result<String, String> {
    if !text.is_empty() && text.len() <= 15 && !text.chars().any(char::is_whitespace) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{key}: expected a label of 1-15 characters, got `{text}`"
        ))
    }
}

const SCOPES: [&str; 5] = ["global", "site", "link", "host", "nowhere"];

/// An iproute2 scope: a name from `/etc/iproute2/rt_scopes` or a number 0-255.
pub(crate) fn scope(key: &str, text: &str) -> Result<String, String> {
    if SCOPES.contains(&text) || text.parse::<u8>().is_ok() {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{key}: expected global, site, link, host, nowhere or a number 0-255, got `{text}`"
        ))
    }
}

const PROTOCOLS: [&str; 22] = [
    "redirect",
    "kernel",
    "boot",
    "static",
    "gated",
    "ra",
    "mrt",
    "zebra",
    "bird",
    "dnrouter",
    "xorp",
    "ntk",
    "dhcp",
    "keepalived",
    "babel",
    "openr",
    "bgp",
    "isis",
    "ospf",
    "rip",
    "eigrp",
    "unspec",
];

/// An iproute2 route protocol: a name from `/etc/iproute2/rt_protos` or a number 0-255.
pub(crate) fn protocol(key: &str, text: &str) -> Result<String, String> {
    if PROTOCOLS.contains(&text) || text.parse::<u8>().is_ok() {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{key}: expected a route protocol (static, kernel, boot, keepalived, ... or a number 0-255), got `{text}`"
        ))
    }
}

/// A routing table: `main`, `local`, `default` or a number 1-4294967295.
pub(crate) fn table(key: &str, text: &str) -> Result<u32, String> {
    match text {
        "main" => Ok(254),
        "local" => Ok(255),
        "default" => Ok(253),
        _ => match text.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "{key}: expected main, local, default or a number 1-4294967295, got `{text}`"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_scales_and_rejects_excess_precision() {
        assert_eq!(decimal("2", 2), Some(200));
        assert_eq!(decimal("0.05", 2), Some(5));
        assert_eq!(decimal("1.5", 2), Some(150));
        assert_eq!(decimal(".5", 2), Some(50));
        assert_eq!(decimal("1.", 2), Some(100));
        assert_eq!(decimal("1.250", 2), Some(125));
        assert_eq!(decimal("1.255", 2), None);
        assert_eq!(decimal("-1", 2), None);
        assert_eq!(decimal("", 2), None);
        assert_eq!(decimal(".", 2), None);
        assert_eq!(decimal("1e3", 2), None);
        assert_eq!(decimal("9999999999", 2), None);
        assert_eq!(decimal("999999999.999", 3), Some(999_999_999_999));
    }

    #[test]
    fn int_in_names_key_range_and_value() {
        assert_eq!(int_in("priority", "50", 1, 255), Ok(50));
        assert_eq!(
            int_in("virtual_router_id", "300", 1, 255),
            Err("virtual_router_id: expected a number 1-255, got `300`".into())
        );
        assert_eq!(
            weight("weight", "-300"),
            Err("weight: expected a number from -253 to 253, got `-300`".into())
        );
    }

    #[test]
    fn addresses_get_host_prefixes_by_default() {
        assert_eq!(
            addr_prefix("a", "10.0.0.1"),
            Ok(("10.0.0.1".parse().unwrap(), 32))
        );
        assert_eq!(
            addr_prefix("a", "fe80::1/64"),
            Ok(("fe80::1".parse().unwrap(), 64))
        );
        assert!(addr_prefix("a", "10.0.0.1/33").is_err());
        assert!(addr_prefix("a", "10.0.0.1/+8").is_err());
        assert!(addr_prefix("a", "10.0.0/8").is_err());
    }

    #[test]
    fn float_seconds_are_exact_to_the_millisecond() {
        assert_eq!(
            float_secs_in("t", 0.05, 0, 10_000),
            Ok(Duration::from_millis(50))
        );
        assert_eq!(
            float_secs_in("t", 2.0, 0, 10_000),
            Ok(Duration::from_secs(2))
        );
        assert!(float_secs_in("t", 0.0005, 0, 10_000).is_err());
        assert!(float_secs_in("t", -1.0, 0, 10_000).is_err());
        assert!(float_secs_in("t", f64::NAN, 0, 10_000).is_err());
        assert!(float_secs_in("t", 11.0, 0, 10_000).is_err());
    }

    #[test]
    fn ms_text_prints_seconds() {
        assert_eq!(ms_text(1500), "1.5");
        assert_eq!(ms_text(2000), "2");
        assert_eq!(ms_text(10), "0.01");
    }
}
