//! A short human-readable description of a configuration, for `vrrp-agent check-config`:
//! one line per instance, script and sync group.
//!
//! Imports `super::types` and `crate::packet`.

use std::{fmt::Write, time::Duration};

use super::types::{AgentConfig, InstanceSpec, TrackSpec};
use crate::packet::Version;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// The description, ending in a newline.
pub fn summary(config: &AgentConfig) -> String {
    let mut out = format!(
        "{}, {}, {}\n",
        plural(config.instances.len(), "instance", "instances"),
        plural(config.scripts.len(), "script", "scripts"),
        plural(config.sync_groups.len(), "sync group", "sync groups"),
    );
    for inst in &config.instances {
        out.push_str(&instance_line(inst));
        if inst.syncs_conntrack(&config.global) {
            out.push_str(", conntrack_sync");
        }
        out.push('\n');
    }
    for s in &config.scripts {
        let _ = writeln!(
            out,
            "script {}: `{}` every {} (timeout {}), fall {}, rise {}, weight {}",
            s.name,
            s.command,
            secs(s.interval),
            secs(s.timeout),
            s.fall,
            s.rise,
            s.weight
        );
    }
    for g in &config.sync_groups {
        let _ = writeln!(out, "sync group {}: {}", g.name, g.members.join(", "));
    }
    out
}

fn instance_line(inst: &InstanceSpec) -> String {
    let v = &inst.vrrp;
    let version = match v.version {
        Version::V2 => "VRRPv2",
        Version::V3 => "VRRPv3",
    };
    let family = if v.is_ipv6() { "IPv6" } else { "IPv4" };
    let interface = match &inst.vmac {
        Some(m) if m.xmit_base => format!(
            "{} (use_vmac {}, adverts on {})",
            inst.interface, m.name, inst.interface
        ),
        Some(m) => format!("{} (use_vmac {})", inst.interface, m.name),
        None => inst.interface.clone(),
    };
    let mut line = format!(
        "instance {}: netns {}, interface {interface}, VRID {}, {version} {family}, priority {}, interval {}, {}",
        v.name,
        inst.netns.as_deref().unwrap_or("-"),
        v.vrid,
        v.priority,
        v.advert_interval,
        plural(v.virtual_addresses.len(), "address", "addresses"),
    );
    if !v.excluded_addresses.is_empty() {
        let _ = write!(line, " (+{} excluded)", v.excluded_addresses.len());
    }
    let _ = write!(line, ", {}", plural(v.routes.len(), "route", "routes"));
    if v.balance {
        line.push_str(", balanced (priority: the node's load)");
    } else if !v.preempt {
        line.push_str(", nopreempt");
    }
    if let crate::fsm::ChecksumPolicy::Fixed(form) = v.v3_checksum
        && v.version == Version::V3
        && !v.is_ipv6()
    {
        let _ = write!(line, ", checksum {}", form.name());
    }
    if !v.startup_delay.is_zero() {
        let _ = write!(
            line,
            ", listens {:.1} s at startup",
            v.startup_delay.as_secs_f64()
        );
    }
    if let Some(g) = &v.sync_group {
        let _ = write!(line, ", sync group {g}");
    }
    if inst.track.is_empty() {
        line.push_str(", tracking nothing");
    } else {
        let tracked: Vec<String> = inst
            .track
            .iter()
            .zip(&v.tracked)
            .map(|(kind, t)| {
                let what = match kind {
                    TrackSpec::Interface { .. } => "interface",
                    TrackSpec::Script { .. } => "script",
                    TrackSpec::Reachability(_) => "reachability",
                };
                let effect = if t.weight == 0 {
                    "fault".to_string()
                } else {
                    format!("weight {:+}", t.weight)
                };
                format!("{} ({what}, {effect})", t.name)
            })
            .collect();
        let _ = write!(line, ", tracking {}", tracked.join(", "));
    }
    line
}
