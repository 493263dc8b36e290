//! Cross-checks between items of one configuration: unique names, one instance per
//! (namespace, interface, VRID, family), unicast addresses of the instance's family, notify
//! commands not empty. Each error names the line of the offending item.
//!
//! Imports `super::{diag, draft, types}`.

use std::{collections::HashMap, net::IpAddr};

use super::{
    diag::Diag,
    draft::{InstanceLines, NotifyLines},
    types::{ConfigError, InstanceSpec, NotifySpec},
};

/// Every name appears once; the second occurrence is blamed.
pub(crate) fn unique<'a>(
    diag: &Diag,
    what: &str,
    items: impl Iterator<Item = (&'a str, usize)>,
) -> Result<(), ConfigError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (name, line) in items {
        if let Some(first) = seen.get(name) {
            return Err(diag.error(
                line,
                format!("{what} `{name}` is defined twice (first at line {first})"),
            ));
        }
        seen.insert(name, line);
    }
    Ok(())
}

/// (netns, interface, VRID, IPv6): what one instance owns.
type OwnerKey<'a> = (Option<&'a str>, &'a str, u8, bool);

/// Checks over all instances; `lines` is parallel to `instances` (instance line, details).
pub(crate) fn instances(
    diag: &mut Diag,
    instances: &[InstanceSpec],
    lines: &[(usize, InstanceLines)],
) -> Result<(), ConfigError> {
    let mut owners: HashMap<OwnerKey, (&str, usize)> = HashMap::new();
    for (spec, (line, detail)) in instances.iter().zip(lines) {
        let line = *line;
        let name = spec.vrrp.name.as_str();
        let v6 = spec.vrrp.is_ipv6();
        let key = (
            spec.netns.as_deref(),
            spec.interface.as_str(),
            spec.vrrp.vrid,
            v6,
        );
        if let Some((other, other_line)) = owners.get(&key) {
            return Err(diag.error(
                line,
                format!(
                    "instance `{name}`: VRID {} on {}{} ({}) is already used by instance `{other}` (line {other_line})",
                    spec.vrrp.vrid,
                    spec.interface,
                    spec.netns.as_deref().map(|n| format!(" in netns {n}")).unwrap_or_default(),
                    family(v6),
                ),
            ));
        }
        owners.insert(key, (name, line));
        same_family(diag, name, v6, spec, detail, line)?;
        notify(
            diag,
            &format!("instance `{name}`"),
            &spec.notify,
            detail.notify,
            line,
        )?;
        for f in &spec.floating_ips {
            if !spec
                .vrrp
                .all_addresses()
                .any(|a| a.addr == IpAddr::V4(f.floating))
            {
                diag.warn(
                    line,
                    format!(
                        "instance `{name}`: floating IP {} is not one of its virtual addresses: \
                         the master will not answer ARP for it and no lease decides who may \
                         forward it (add \"{}/32 dev {} no_track\" to virtual_addresses)",
                        f.floating, f.floating, f.interface
                    ),
                );
            }
        }
        if let Some(src) = spec.mcast_src.filter(IpAddr::is_multicast) {
            diag.warn(
                InstanceLines::or(detail.mcast_src, line),
                format!("instance `{name}`: mcast_src_ip {src} is a multicast address; adverts cannot be sent from it"),
            );
        }
    }
    Ok(())
}

fn family(v6: bool) -> &'static str {
    if v6 { "IPv6" } else { "IPv4" }
}

/// Unicast peers and source addresses have the instance's family.
fn same_family(
    diag: &Diag,
    name: &str,
    v6: bool,
    spec: &InstanceSpec,
    lines: &InstanceLines,
    line: usize,
) -> Result<(), ConfigError> {
    let wrong = |addr: &IpAddr| addr.is_ipv6() != v6;
    for (i, peer) in spec.unicast_peers.iter().enumerate() {
        if wrong(peer) {
            let at = InstanceLines::or(lines.unicast_peers.get(i).copied().unwrap_or(0), line);
            return Err(diag.error(
                at,
                format!(
                    "instance `{name}`: unicast peer {peer} is {} but the instance is {}",
                    family(peer.is_ipv6()),
                    family(v6)
                ),
            ));
        }
    }
    for (key, addr, at) in [
        ("unicast_src_ip", spec.unicast_src, lines.unicast_src),
        ("mcast_src_ip", spec.mcast_src, lines.mcast_src),
    ] {
        if let Some(a) = addr.filter(wrong) {
            return Err(diag.error(
                InstanceLines::or(at, line),
                format!(
                    "instance `{name}`: {key} {a} is {} but the instance is {}",
                    family(a.is_ipv6()),
                    family(v6)
                ),
            ));
        }
    }
    Ok(())
}

/// Notify commands, when set, are not blank.
pub(crate) fn notify(
    diag: &Diag,
    owner: &str,
    n: &NotifySpec,
    lines: NotifyLines,
    line: usize,
) -> Result<(), ConfigError> {
    for (key, value, at) in [
        ("notify", &n.any, lines.any),
        ("notify_master", &n.master, lines.master),
        ("notify_backup", &n.backup, lines.backup),
        ("notify_fault", &n.fault, lines.fault),
        ("notify_stop", &n.stop, lines.stop),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(diag.error(
                InstanceLines::or(at, line),
                format!("{owner}: {key}: expected a script path, got an empty string"),
            ));
        }
    }
    Ok(())
}
