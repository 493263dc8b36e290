//! One-line entries in keepalived's syntax, shared by the keepalived import (a line of a
//! block) and the native format (a string in a list): virtual addresses, virtual routes,
//! tracked objects and unicast peers. Each parser takes the entry's words and returns the
//! value plus notes (accepted but ignored options, to become warnings), or an error message.
//!
//! Imports `crate::fsm` (the address and route types) and `super::values`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::values;
use crate::fsm::{VirtualAddress, VirtualRoute};

/// A parsed entry and what was accepted but ignored.
#[derive(Debug)]
pub(crate) struct Parsed<T> {
    pub value: T,
    pub notes: Vec<String>,
}

/// The value after `words[i]`, or an error naming the option.
fn arg<'a>(words: &[&'a str], i: usize, what: &str) -> Result<&'a str, String> {
    words
        .get(i.saturating_add(1))
        .copied()
        .ok_or_else(|| format!("{what}: `{}` needs a value", words.get(i).unwrap_or(&"")))
}

/// `ADDR[/PFX] [dev IF] [scope S] [label L] [brd B] [no_track]` (plus iproute2 flags that are
/// accepted and ignored). `key` names the block for messages.
pub(crate) fn address(key: &str, words: &[&str]) -> Result<Parsed<VirtualAddress>, String> {
    let Some(first) = words.first() else {
        return Err(format!("{key}: expected an address"));
    };
    let (addr, prefix_len) = values::addr_prefix(key, first)?;
    let mut v = VirtualAddress::host(addr);
    v.prefix_len = prefix_len;
    let mut notes = Vec::new();
    let what = format!("{key} {first}");
    let mut i = 1;
    while let Some(&word) = words.get(i) {
        match word {
            "dev" => {
                v.dev = Some(values::ifname(
                    &format!("{what}: dev"),
                    arg(words, i, &what)?,
                )?);
            }
            "scope" => {
                v.scope = Some(values::scope(
                    &format!("{what}: scope"),
                    arg(words, i, &what)?,
                )?);
            }
            "label" => {
                v.label = Some(values::label(
                    &format!("{what}: label"),
                    arg(words, i, &what)?,
                )?);
            }
            "brd" | "broadcast" => {
                let b = arg(words, i, &what)?;
                v.broadcast = Some(broadcast(&what, addr, b)?);
                // keepalived: "Address prefix length N too long for broadcast", none set.
                if matches!(b, "+" | "-") && prefix_len > 30 {
                    notes.push(format!(
                        "{what}: brd {b}: prefix length {prefix_len} is too long for a broadcast address, ignored"
                    ));
                    v.broadcast = None;
                }
            }
            "preferred_lft" => {
                let lft = arg(words, i, &what)?;
                notes.push(format!(
                    "{what}: preferred_lft {lft} is not supported, ignored"
                ));
            }
            "no_track" => {
                v.no_track = true;
                i = i.saturating_add(1);
                continue;
            }
            "home" | "-nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" | "use_vmac" => {
                notes.push(format!("{what}: `{word}` is not supported, ignored"));
                i = i.saturating_add(1);
                continue;
            }
            "peer" => return Err(format!("{what}: peer addresses are not supported")),
            other => {
                return Err(format!(
                    "{what}: unknown option `{other}` (expected dev, scope, label, brd or no_track)"
                ));
            }
        }
        i = i.saturating_add(2);
    }
    Ok(Parsed { value: v, notes })
}

fn broadcast(what: &str, addr: IpAddr, b: &str) -> Result<String, String> {
    if addr.is_ipv6() {
        return Err(format!("{what}: IPv6 addresses have no broadcast address"));
    }
    if b == "+" || b == "-" || b.parse::<Ipv4Addr>().is_ok() {
        Ok(b.to_string())
    } else {
        Err(format!(
            "{what}: brd: expected an IPv4 address, `+` or `-`, got `{b}`"
        ))
    }
}

/// Address family while parsing a route: unknown until something says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    Unknown,
    V4,
    V6,
}

impl Family {
    fn of(addr: IpAddr) -> Self {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    /// Merges `other` in; `Err` if they disagree.
    fn merge(&mut self, other: Family, what: &str) -> Result<(), String> {
        match (*self, other) {
            (_, Family::Unknown) => Ok(()),
            (Family::Unknown, f) => {
                *self = f;
                Ok(())
            }
            (a, b) if a == b => Ok(()),
            _ => Err(format!("{what}: mixes IPv4 and IPv6")),
        }
    }
}

/// `[to] DST[/PFX]|default [via|gw [inet|inet6] ADDR] [dev IF] [scope S] [protocol P]
/// [table T] [metric M] [src ADDR] [no_track] [inet|inet6]`.
pub(crate) fn route(key: &str, words: &[&str]) -> Result<Parsed<VirtualRoute>, String> {
    let what = format!("{key} {}", words.join(" "));
    let mut family = Family::Unknown;
    let mut dst: Option<Option<(IpAddr, u8)>> = None; // Some(None): `default`
    let mut r = VirtualRoute {
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        prefix_len: 0,
        via: None,
        dev: None,
        scope: None,
        protocol: None,
        table: None,
        metric: None,
        src: None,
        no_track: false,
    };
    let mut notes = Vec::new();
    let mut i = 0;
    while let Some(&word) = words.get(i) {
        let mut step = 2;
        match word {
            "inet" | "inet6" => {
                family.merge(
                    if word == "inet" {
                        Family::V4
                    } else {
                        Family::V6
                    },
                    &what,
                )?;
                step = 1;
            }
            "via" | "gw" => {
                let mut a = arg(words, i, &what)?;
                if a == "inet" || a == "inet6" {
                    family.merge(if a == "inet" { Family::V4 } else { Family::V6 }, &what)?;
                    i = i.saturating_add(1);
                    a = arg(words, i, &what)?;
                }
                let (addr, note) = gateway(&what, a)?;
                notes.extend(note);
                family.merge(Family::of(addr), &what)?;
                r.via = Some(addr);
            }
            "dev" | "oif" => {
                r.dev = Some(values::ifname(
                    &format!("{what}: dev"),
                    arg(words, i, &what)?,
                )?);
            }
            "scope" => {
                r.scope = Some(values::scope(
                    &format!("{what}: scope"),
                    arg(words, i, &what)?,
                )?);
            }
            "protocol" | "proto" => {
                r.protocol = Some(values::protocol(
                    &format!("{what}: protocol"),
                    arg(words, i, &what)?,
                )?);
            }
            "table" => {
                r.table = Some(values::table(
                    &format!("{what}: table"),
                    arg(words, i, &what)?,
                )?);
            }
            "metric" | "priority" | "preference" => {
                r.metric = Some(values::u32_in(
                    &format!("{what}: metric"),
                    arg(words, i, &what)?,
                    0,
                    u32::MAX,
                )?);
            }
            "src" => {
                let a = values::ip(&format!("{what}: src"), arg(words, i, &what)?)?;
                family.merge(Family::of(a), &what)?;
                r.src = Some(a);
            }
            "no_track" => {
                r.no_track = true;
                step = 1;
            }
            "onlink" => {
                notes.push(format!("{what}: `onlink` is not supported, ignored"));
                step = 1;
            }
            "blackhole" | "unreachable" | "prohibit" | "throw" | "nexthop" | "encap" | "or" => {
                return Err(format!("{what}: `{word}` routes are not supported"));
            }
            _ => {
                if dst.is_some() {
                    return Err(format!(
                        "{what}: unknown option `{word}` (expected via, dev, scope, protocol, table, metric, src or no_track)"
                    ));
                }
                let text = if word == "to" {
                    let t = arg(words, i, &what)?;
                    i = i.saturating_add(1);
                    t
                } else {
                    word
                };
                if matches!(text, "default" | "any" | "all") {
                    dst = Some(None);
                } else {
                    let (a, p) = values::addr_prefix(&format!("{key}: destination"), text)?;
                    family.merge(Family::of(a), &what)?;
                    dst = Some(Some((a, p)));
                }
                step = 1;
            }
        }
        i = i.saturating_add(step);
    }
    match dst {
        None => return Err(format!("{what}: no destination")),
        Some(Some((a, p))) => {
            r.dst = a;
            r.prefix_len = p;
        }
        Some(None) => {
            r.dst = if family == Family::V6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            };
            r.prefix_len = 0;
        }
    }
    Ok(Parsed { value: r, notes })
}

/// A `via` address. keepalived refuses one with a prefix, but Neutron's own unit tests write
/// `via fe80::.../64`: accepted, prefix dropped, with a note.
fn gateway(what: &str, text: &str) -> Result<(IpAddr, Option<String>), String> {
    if text.contains('/') {
        let (a, _) = values::addr_prefix(&format!("{what}: via"), text)?;
        let note = format!("{what}: the prefix of via {text} is ignored");
        Ok((a, Some(note)))
    } else {
        Ok((values::ip(&format!("{what}: via"), text)?, None))
    }
}

/// `NAME [weight N [noreverse]]` of `track_interface` / `track_script`.
pub(crate) fn tracked(key: &str, words: &[&str]) -> Result<(String, Option<i32>), String> {
    let Some(&name) = words.first() else {
        return Err(format!("{key}: expected a name"));
    };
    let what = format!("{key} {name}");
    match words.get(1..).unwrap_or(&[]) {
        [] => Ok((name.to_string(), None)),
        ["weight", rest @ ..] => Ok((name.to_string(), Some(weight(&what, rest)?))),
        rest => Err(format!(
            "{what}: expected `weight N` after the name, got `{}`",
            rest.join(" ")
        )),
    }
}

/// The arguments of `weight`: `N [noreverse]` (`reverse` is refused: it inverts the meaning).
pub(crate) fn weight(what: &str, args: &[&str]) -> Result<i32, String> {
    match args {
        [w] | [w, "noreverse"] => values::weight(&format!("{what}: weight"), w),
        [_, "reverse"] => Err(format!("{what}: `reverse` weights are not supported")),
        [] => Err(format!("{what}: `weight` needs a value")),
        [_, rest @ ..] => Err(format!(
            "{what}: unexpected `{}` after the weight",
            rest.join(" ")
        )),
    }
}

/// `ADDR [min_ttl N] [max_ttl N]` of `unicast_peer` (the TTL limits are ignored).
pub(crate) fn peer(key: &str, words: &[&str]) -> Result<Parsed<IpAddr>, String> {
    let Some(first) = words.first() else {
        return Err(format!("{key}: expected an address"));
    };
    let addr = values::ip(key, first)?;
    let mut notes = Vec::new();
    let mut i = 1;
    while let Some(&word) = words.get(i) {
        match word {
            "min_ttl" | "max_ttl" => {
                let v = arg(words, i, key)?;
                values::u8_in(&format!("{key} {first}: {word}"), v, 0, 255)?;
                notes.push(format!("{key} {first}: {word} is not supported, ignored"));
            }
            other => return Err(format!("{key} {first}: unknown option `{other}`")),
        }
        i = i.saturating_add(2);
    }
    Ok(Parsed { value: addr, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn neutron_address_lines() {
        let a = address(
            "virtual_ipaddress",
            &w("fe80::1/64 dev qg-1 scope link no_track"),
        )
        .unwrap();
        assert_eq!(a.value.addr, "fe80::1".parse::<IpAddr>().unwrap());
        assert_eq!(a.value.prefix_len, 64);
        assert_eq!(a.value.dev.as_deref(), Some("qg-1"));
        assert_eq!(a.value.scope.as_deref(), Some("link"));
        assert!(a.value.no_track);
        assert!(a.notes.is_empty());
    }

    #[test]
    fn neutron_route_lines() {
        let r = route(
            "virtual_routes",
            &w("0.0.0.0/0 via 1.0.0.254 dev eth0 no_track protocol static"),
        )
        .unwrap();
        assert_eq!(r.value.via, Some("1.0.0.254".parse().unwrap()));
        assert_eq!(r.value.protocol.as_deref(), Some("static"));
        assert!(r.value.no_track);
        let r = route(
            "virtual_routes",
            &w("::/0 via fe80::3e97:eff:fe26:3bfa/64 dev eth1"),
        )
        .unwrap();
        assert_eq!(
            r.value.via,
            Some("fe80::3e97:eff:fe26:3bfa".parse().unwrap())
        );
        assert_eq!(r.notes.len(), 1);
        let r = route("virtual_routes", &w("default via fe80::1")).unwrap();
        assert_eq!(r.value.dst, "::".parse::<IpAddr>().unwrap());
        assert!(route("virtual_routes", &w("10.0.0.0/8 via fe80::1")).is_err());
        assert!(route("virtual_routes", &w("via 10.0.0.1")).is_err());
        assert!(route("virtual_routes", &w("10.0.0.0/8 10.1.0.0/16")).is_err());
    }

    #[test]
    fn tracked_weights() {
        assert_eq!(tracked("t", &w("eth0")), Ok(("eth0".into(), None)));
        assert_eq!(
            tracked("t", &w("eth0 weight -10")),
            Ok(("eth0".into(), Some(-10)))
        );
        assert!(tracked("t", &w("eth0 weight 10 reverse")).is_err());
        assert!(tracked("t", &w("eth0 weight 300")).is_err());
        assert!(tracked("t", &w("eth0 10")).is_err());
    }
}
