//! `cargo xtask bench scale`: one vrrp-agent serving N router namespaces (250 by default)
//! against keepalived as Neutron runs it (a keepalived per router namespace, each a parent
//! and a VRRP child): processes, memory (RSS, PSS, and the kernel memory of the XDP
//! programs and maps), CPU over a window, and the advert rate reaching userspace, at 1 s and
//! at 10 ms adverts. Two nodes (A and B) run the same implementation so adverts really flow;
//! node A is the one measured.
//!
//! Environment: `VXT_SCALE_ROUTERS` (routers per node; default 250, quick 50),
//! `VXT_SCALE_SECS` (window; default 60, quick 10), `VXT_SCALE_ONLY` (comma-separated
//! scenario ids such as `agent-xdp-10ms,keepalived-1s`, or implementation ids).

mod agent_node;
mod interrupt;
mod keepalived_node;
mod layout;
mod probe;
mod procfs;
mod scenario;
mod section;
mod topology;
mod usage;

use std::time::Duration;

use anyhow::Context;

use super::{BenchOptions, report::Section};
use scenario::{Implementation, Outcome, Scenario, Timing};

fn env_number(name: &str) -> anyhow::Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(
            v.trim()
                .parse()
                .with_context(|| format!("{name}={v}: not a number"))?,
        )),
        Err(_) => Ok(None),
    }
}

/// Every scenario, in the order they run.
fn scenarios() -> Vec<Scenario> {
    let mut out = Vec::new();
    for implementation in [
        Implementation::AgentXdp,
        Implementation::AgentNoXdp,
        Implementation::AgentNeutron,
        Implementation::Keepalived,
    ] {
        for interval in [1.0, 0.01] {
            out.push(Scenario {
                implementation,
                interval,
            });
        }
    }
    out
}

/// The scenarios `VXT_SCALE_ONLY` selects (all without it).
fn selected(only: Option<&str>) -> Vec<Scenario> {
    let all = scenarios();
    let Some(only) = only.filter(|s| !s.trim().is_empty()) else {
        return all;
    };
    let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
    all.into_iter()
        .filter(|s| wanted.contains(&s.id().as_str()) || wanted.contains(&s.implementation.id()))
        .collect()
}

pub fn run(opts: &BenchOptions) -> anyhow::Result<Section> {
    let _guard = interrupt::Guard::install();
    match std::panic::catch_unwind(|| measure(opts)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            anyhow::bail!("scale bench panicked (everything it started was removed): {msg}")
        }
    }
}

fn measure(opts: &BenchOptions) -> anyhow::Result<Section> {
    // Agents start through `vrrp_tests::agent::binary()`: $VRRP_AGENT_BIN (what `opts.agent_bin`
    // comes from), else the vrrp-agent beside this binary.
    let routers = env_number("VXT_SCALE_ROUTERS")?.map_or(opts.pick(250, 50), |n| n as usize);
    anyhow::ensure!(routers >= 2, "VXT_SCALE_ROUTERS must be at least 2");
    let window = Duration::from_secs(env_number("VXT_SCALE_SECS")?.unwrap_or(opts.pick(60, 10)));
    let timing = Timing {
        window,
        warmup: Duration::from_secs(5),
        settle_timeout: Duration::from_secs(opts.pick(180, 90)),
        check_every: Duration::from_secs(opts.pick(10, 5)),
    };
    let list = selected(std::env::var("VXT_SCALE_ONLY").ok().as_deref());
    anyhow::ensure!(!list.is_empty(), "VXT_SCALE_ONLY selects no scenario");
    let keepalived = if list
        .iter()
        .any(|s| s.implementation == Implementation::Keepalived)
    {
        Some(keepalived_node::version()?)
    } else {
        None
    };
    keepalived_node::reap_stale();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut failures: Vec<(Scenario, String)> = Vec::new();
    for s in list {
        match scenario::run(s, routers, timing) {
            Ok(o) => outcomes.push(o),
            Err(e) if interrupt::interrupted() => return Err(e),
            Err(e) => {
                println!("  [{}] could not measure: {e:#}", s.id());
                failures.push((s, format!("{e:#}")));
            }
        }
    }
    anyhow::ensure!(
        !outcomes.is_empty(),
        "no scenario could be measured: {}",
        failures
            .iter()
            .map(|(s, e)| format!("{}: {e}", s.id()))
            .collect::<Vec<_>>()
            .join("; ")
    );
    Ok(section::build(
        opts,
        routers,
        timing,
        keepalived.as_deref(),
        &outcomes,
        &failures,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_selection() {
        assert_eq!(selected(None).len(), 8);
        let ids: Vec<String> = selected(Some("agent-xdp-10ms, keepalived"))
            .iter()
            .map(Scenario::id)
            .collect();
        assert_eq!(ids, ["agent-xdp-10ms", "keepalived-1s", "keepalived-10ms"]);
        assert!(selected(Some("nothing")).is_empty());
        let ids: Vec<String> = selected(Some("agent-neutron"))
            .iter()
            .map(Scenario::id)
            .collect();
        assert_eq!(ids, ["agent-neutron-1s", "agent-neutron-10ms"]);
    }
}
