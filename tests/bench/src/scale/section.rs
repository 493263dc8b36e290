//! The scale part's report section: how it was measured, the tables (memory, CPU and
//! adverts, startup), the memory target, notes drawn from the numbers, and two plots.
//! Pure given the outcomes.

use super::{
    layout,
    scenario::{Implementation, Outcome, Scenario, Timing},
};
use crate::{
    BenchOptions,
    plot::{Plot, Series},
    report::{Section, Table, Target},
};

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

fn f2(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

fn opt_s(v: Option<f64>) -> String {
    v.map_or("—".into(), f1)
}

fn find(outcomes: &[Outcome], i: Implementation, interval: f64) -> Option<&Outcome> {
    outcomes
        .iter()
        .find(|o| o.scenario.implementation == i && o.scenario.interval == interval)
}

/// (ours, keepalived, ours / keepalived) in MiB: PSS + BPF kernel memory at 1 s adverts.
pub fn memory_ratio(outcomes: &[Outcome]) -> Option<(f64, f64, f64)> {
    memory_ratio_of(outcomes, Implementation::AgentXdp)
}

/// As [`memory_ratio`] for one of our implementations.
pub fn memory_ratio_of(outcomes: &[Outcome], ours: Implementation) -> Option<(f64, f64, f64)> {
    let ours = find(outcomes, ours, 1.0)?.a.total_mib();
    let theirs = find(outcomes, Implementation::Keepalived, 1.0)?
        .a
        .total_mib();
    (theirs > 0.0).then(|| (ours, theirs, ours / theirs))
}

fn method(routers: usize, timing: Timing, keepalived: Option<&str>) -> String {
    format!(
        "Two simulated network nodes, A and B. Each of {routers} routers is a namespace on \
         each node; its two copies are linked by a veth pair (its own HA network, \
         169.254.192.1-2/18) and has `qr-`/`qg-` ports (veth pairs within the namespace). The master holds the primary \
         VIP 169.254.0.<vrid>/24 on the HA port, the gateway and external addresses on \
         `qr-`/`qg-` and a default route (Neutron's keepalived.conf shape, VRRPv3 for both \
         implementations at both intervals, `preempt` with priorities 150/100 so that A is \
         master of the even routers and B of the odd ones: each node sends adverts for half \
         and receives them for the other half). Both nodes run the same implementation:\n\n\
         - **vrrp-agent**: one process per node, one `[[instance]]` per router with \
         `netns = ...`; with its XDP data plane (default) and with `dataplane = \"none\"`.\n\
         - **keepalived** ({ka}): as Neutron runs it, one `keepalived -P -f <conf> -p <pid> \
         -r <vrrp pid>` per router, started with `ip netns exec` inside the router's \
         namespace, one after the other; each forks a VRRP child. `advert_int 0.01` with \
         `version 3` is accepted by this keepalived.\n\
         - **vrrp-agent as keepalived**: started exactly like keepalived above (a link named \
         `keepalived` to vrrp-agent, the same keepalived.conf files and command lines), in its \
         default node process model with XDP on: one small process per router, plus the node \
         agent the first one starts, which runs every router and holds the XDP data plane.\n\n\
         Node A is measured. **Processes**: the agent, or every process whose command line \
         names node A's keepalived folder, plus their descendants. **RSS and PSS**: sums of \
         `Rss`/`Pss` from `/proc/<pid>/smaps_rollup` at the end of the window (keepalived's \
         processes share pages, so PSS is the fair sum). **BPF kernel memory**: the XDP \
         programs and maps are kernel memory, not in RSS: `memlock` of the distinct \
         programs and maps behind the process's file descriptors (`/proc/<pid>/fdinfo`, \
         deduplicated by id). **CPU**: CPU time used over a {w} s window, as percent of one \
         CPU: for single-threaded processes (keepalived) the exact nanoseconds of \
         `/proc/<pid>/schedstat` (the utime+stime ticks of `/proc/<pid>/stat` are truncated \
         to 10 ms, which summed over 500 mostly idle processes would be most of the \
         signal), for the multi-threaded agent the utime+stime of `/proc/<pid>/stat` (which \
         also counts exited threads). The XDP program runs in softirq context and is in no \
         process's time. **Adverts**: packets received and sent on node A's HA \
         ports (`/proc/net/dev` read inside each namespace) per second over the window — \
         every advert on a router's HA link is for that router, so all of them reach the \
         process listening there; for vrrp-agent also the adverts its state machines \
         handled (`adverts_rx` of `vrrp-agent status`), the count that reached userspace. \
         **Startup**: both nodes are started together; *ready* is when every router is set \
         up (the agent's status socket answers with every instance; keepalived: both pid \
         files of every router name live processes); *settled* is when every router's VIP \
         is on its expected master only (checked inside every namespace). Measuring starts \
         {wu} s after settling; every {ce} s during the window the VIP placement is checked \
         again. Each scenario gets a fresh topology; everything is removed afterwards. Node \
         B's CPU is in the table too: it is the same load mirrored.",
        ka = keepalived.unwrap_or("not run"),
        w = timing.window.as_secs(),
        wu = timing.warmup.as_secs(),
        ce = timing.check_every.as_secs(),
    )
}

fn label(s: &Scenario) -> (String, String) {
    (s.implementation.label().to_string(), s.interval_label())
}

pub fn build(
    opts: &BenchOptions,
    routers: usize,
    timing: Timing,
    keepalived: Option<&str>,
    outcomes: &[Outcome],
    failures: &[(Scenario, String)],
) -> Section {
    let mut sec = Section::new(
        "scale",
        &format!(
            "Scale: one agent for {routers} router namespaces vs keepalived as Neutron runs it"
        ),
        opts.quick,
    );
    sec.method = method(routers, timing, keepalived);

    let mut mem = Table::new(
        &format!("Memory of node A ({routers} routers), end of the window"),
        &[
            "implementation",
            "adverts every",
            "processes",
            "threads",
            "open fds",
            "RSS MiB",
            "PSS MiB",
            "BPF progs / maps",
            "BPF kernel MiB",
            "PSS + BPF MiB",
        ],
    );
    let mut cpu = Table::new(
        &format!(
            "CPU and adverts over {} s (node A; B mirrors it)",
            timing.window.as_secs()
        ),
        &[
            "implementation",
            "adverts every",
            "CPU % of one core (A)",
            "CPU % (B)",
            "adverts in/s (A's HA ports)",
            "expected in/s",
            "adverts out/s",
            "handled in userspace/s",
            "state changes",
            "VIP checks off",
        ],
    );
    let mut start = Table::new(
        &format!("Startup and shutdown ({routers} routers per node, both nodes started together)"),
        &[
            "implementation",
            "adverts every",
            "all started (s)",
            "all set up (s)",
            "all VIPs on their master (s)",
            "node A stop (s)",
        ],
    );
    for o in outcomes {
        let (imp, every) = label(&o.scenario);
        mem.row(vec![
            imp.clone(),
            every.clone(),
            o.a.processes.to_string(),
            o.a.threads.to_string(),
            o.a.fds.to_string(),
            f1(o.a.rss_mib()),
            f1(o.a.pss_mib()),
            format!("{} / {}", o.a.bpf.programs, o.a.bpf.maps),
            f1(o.a.bpf_mib()),
            f1(o.a.total_mib()),
        ]);
        cpu.row(vec![
            imp.clone(),
            every.clone(),
            f2(o.a.cpu_percent),
            f2(o.b.cpu_percent),
            f1(o.a_ha_rx_per_s),
            f1(o.expected_rx_per_s),
            f1(o.a_ha_tx_per_s),
            o.a_agent
                .map_or("(all of them)".into(), |a| f1(a.adverts_rx_per_s)),
            o.a_agent.map_or("—".into(), |a| a.transitions.to_string()),
            format!("{} of {}", o.checks_misplaced, o.checks),
        ]);
        start.row(vec![
            imp,
            every,
            f1(o.launched_s),
            f1(o.ready_s),
            opt_s(o.settled_s),
            opt_s(o.stop_a_s),
        ]);
    }
    sec.tables = vec![mem, cpu, start];

    let ratio = memory_ratio(outcomes);
    sec.targets.push(Target {
        what: format!(
            "memory of one node with {routers} routers (PSS + BPF kernel memory, 1 s adverts)"
        ),
        wanted: "≤ 1/10 of keepalived's".into(),
        measured: ratio.map_or("not measured".into(), |(ours, theirs, r)| {
            format!("{ours:.1} MiB vs {theirs:.1} MiB (1/{:.0})", 1.0 / r)
        }),
        met: ratio.map(|(_, _, r)| r <= 0.1),
    });
    let neutron = memory_ratio_of(outcomes, Implementation::AgentNeutron);
    sec.targets.push(Target {
        what: format!(
            "memory of one node with {routers} routers in Neutron's process model, XDP on \
             (PSS + BPF kernel memory, 1 s adverts)"
        ),
        wanted: "≤ keepalived's".into(),
        measured: neutron.map_or("not measured".into(), |(ours, theirs, r)| {
            format!("{ours:.1} MiB vs {theirs:.1} MiB ({:.2}x)", r)
        }),
        met: neutron.map(|(_, _, r)| r <= 1.0),
    });

    sec.notes = notes(routers, outcomes, failures);
    sec.plots = plots(outcomes);
    sec.data = serde_json::json!({
        "routers": routers,
        "timing": timing,
        "keepalived": keepalived,
        "outcomes": outcomes,
        "failures": failures.iter().map(|(s, e)| serde_json::json!({"scenario": s.id(), "error": e})).collect::<Vec<_>>(),
    });
    sec
}

fn notes(routers: usize, outcomes: &[Outcome], failures: &[(Scenario, String)]) -> Vec<String> {
    let mut n = Vec::new();
    if let (Some(ours), Some(ka)) = (
        find(outcomes, Implementation::AgentXdp, 1.0),
        find(outcomes, Implementation::Keepalived, 1.0),
    ) {
        n.push(format!(
            "Per router at 1 s adverts: keepalived {:.0} KiB PSS ({:.0} KiB RSS) in 2 processes; \
             vrrp-agent {:.0} KiB PSS + {:.0} KiB of XDP kernel memory, everything included \
             (by RSS the agent is 1/{:.0} of keepalived).",
            ka.a.pss_kib as f64 / routers as f64,
            ka.a.rss_kib as f64 / routers as f64,
            ours.a.pss_kib as f64 / routers as f64,
            ours.a.bpf.memlock_bytes as f64 / 1024.0 / routers as f64,
            ka.a.rss_kib as f64 / ours.a.rss_kib.max(1) as f64,
        ));
        if ours.a.bpf.programs > 0 {
            n.push(format!(
                "The agent loads one XDP program instance per router namespace ({} programs, \
                 {} maps for {routers} routers): most of its BPF kernel memory is per-router \
                 program and global-data copies; the lookup maps are shared.",
                ours.a.bpf.programs, ours.a.bpf.maps
            ));
        }
    }
    for o in outcomes {
        let id = o.scenario.id();
        if o.settled_s.is_none() {
            n.push(format!(
                "{id}: not every VIP reached its expected master within the timeout ({:?} at \
                 the end of it).",
                o.settle_tally
            ));
        }
        if o.checks_misplaced > 0 {
            n.push(format!(
                "{id}: {} of {} VIP placement checks during the window found routers off \
                 their expected master (worst: {} other node, {} both, {} neither).",
                o.checks_misplaced, o.checks, o.worst.other, o.worst.both, o.worst.neither
            ));
        }
        let shortfall = 1.0 - o.a_ha_rx_per_s / o.expected_rx_per_s.max(1e-9);
        if shortfall > 0.05 {
            n.push(format!(
                "{id}: node A received {:.0} adverts/s of the {:.0} expected ({:.0}% short): \
                 masters on node B did not keep their interval.",
                o.a_ha_rx_per_s,
                o.expected_rx_per_s,
                shortfall * 100.0
            ));
        }
        if let Some(a) = o.a_agent.filter(|a| a.transitions > 0) {
            n.push(format!(
                "{id}: {} state changes on node A during the window.",
                a.transitions
            ));
        }
    }
    n.push(
        "Not counted for keepalived: Neutron also runs a `neutron-keepalived-state-change` \
         monitor (a Python process) per router; with it, Neutron has three processes per \
         router where vrrp-agent has one process in all."
            .into(),
    );
    n.push(format!(
        "The machine-wide CPU, which includes node B, the kernel's packet processing and \
         whatever else ran, is in the raw data (`machine_busy_percent`). Advert interval \
         spelled `{}` and `{}` in both configurations.",
        layout::interval_text(1.0),
        layout::interval_text(0.01)
    ));
    for (s, e) in failures {
        n.push(format!("{}: could not measure: {e}", s.id()));
    }
    n
}

fn plots(outcomes: &[Outcome]) -> Vec<Plot> {
    let imps = [
        Implementation::AgentXdp,
        Implementation::AgentNoXdp,
        Implementation::AgentNeutron,
        Implementation::Keepalived,
    ];
    let present: Vec<Implementation> = imps
        .into_iter()
        .filter(|i| outcomes.iter().any(|o| o.scenario.implementation == *i))
        .collect();
    let memory = Plot {
        file: "scale-memory.png".into(),
        title: "Memory of one node serving all routers (1 s adverts)".into(),
        y_label: "MiB".into(),
        categories: vec!["RSS".into(), "PSS".into(), "PSS + BPF kernel memory".into()],
        series: present
            .iter()
            .map(|i| Series {
                name: i.label().into(),
                values: match find(outcomes, *i, 1.0) {
                    Some(o) => vec![
                        Some(o.a.rss_mib()),
                        Some(o.a.pss_mib()),
                        Some(o.a.total_mib()),
                    ],
                    None => vec![None; 3],
                },
            })
            .collect(),
        log_y: true,
    };
    let cpu = Plot {
        file: "scale-cpu.png".into(),
        title: "CPU of one node serving all routers".into(),
        y_label: "% of one core".into(),
        categories: vec!["1 s adverts".into(), "10 ms adverts".into()],
        series: present
            .iter()
            .map(|i| Series {
                name: i.label().into(),
                values: [1.0, 0.01]
                    .iter()
                    .map(|iv| find(outcomes, *i, *iv).map(|o| o.a.cpu_percent.max(0.01)))
                    .collect(),
            })
            .collect(),
        log_y: true,
    };
    vec![memory, cpu]
}
