//! `bench throughput`: 64-byte UDP frames forwarded by one router namespace on veth, through
//! (a) vrrp-xdp's fast path (XDP DNAT + FIB lookup + redirect), (b) what Neutron does today
//! (the frame enters the stack; routing, iptables DNAT/SNAT and conntrack), and (c) Linux
//! routing alone. Frames are generated in the kernel by BPF_PROG_TEST_RUN in live-frames
//! mode as if they arrived on the router's `qg` port, and counted by an XDP program on the
//! sink's interface (see `fwd_topo` for the namespaces, `throughput_paths` for the
//! measuring and `rawbpf::progs` for the helper programs). This file builds the report.

use std::time::Duration;

use serde_json::json;

use super::{
    BenchOptions, cpu,
    fwd_topo::FRAME_LEN,
    plot::{Plot, Series},
    rates::{PathRates, Sample, fmt_mpps, fmt_percent, fmt_ratio, ratio},
    report::{Section, Table, Target},
    throughput_paths::{BATCH, MANY_FLOWS, Measured, WARMUP, measure_all, pktgen_status},
};

/// The project's target: the fast path forwards at least this many times what iptables does.
pub const TARGET_RATIO: f64 = 5.0;

pub fn run(opts: &BenchOptions) -> anyhow::Result<Section> {
    let frames: u32 = opts.pick(5_000_000, 300_000);
    let rounds: usize = opts.pick(5, 3);
    let m = measure_all(frames, rounds)?;
    let rates: Vec<PathRates> = m.samples.iter().map(|s| PathRates::of(s)).collect();
    let mut s = section(opts, &m, &rates, frames, rounds);
    let worst = m
        .samples
        .iter()
        .flatten()
        .map(Sample::kernel_vs_thread_cpu)
        .fold(0.0, f64::max);
    let measured_cpu: u64 = m.samples.iter().flatten().map(|x| x.thread_cpu_ns).sum();
    s.notes
        .push(softirq_note(worst, m.softirqd, measured_cpu, m.pinned_cpu));
    Ok(s)
}

/// What the cross-checks say about the kernel-time column.
fn softirq_note(
    worst: f64,
    softirqd: Option<Duration>,
    measured_cpu_ns: u64,
    pin: usize,
) -> String {
    let mut note = format!(
        "Cross-check of the kernel-time column: over all runs the kernel's time and the \
         generating thread's CPU time differ by at most {}.",
        fmt_percent(worst)
    );
    match softirqd {
        Some(d) => {
            let share = d.as_nanos() as f64 / measured_cpu_ns.max(1) as f64;
            note.push_str(&format!(
                " ksoftirqd/{pin} (softirq work the CPU could not do at once) used {} ms \
                 during the benchmark, {} of the measured threads' CPU time{}.",
                d.as_millis(),
                fmt_percent(share),
                if share < 0.01 {
                    ": forwarding work deferred out of the measured thread is negligible"
                } else {
                    "; other work on the machine also runs softirqs there, but up to that \
                     share of forwarding work may be missing from the kernel-time column"
                }
            ));
        }
        None => note.push_str(" ksoftirqd's CPU time could not be read."),
    }
    note.push_str(
        " A wall clock well above the CPU time means the thread waited for the CPU (other \
         work on the machine).",
    );
    note
}

fn section(
    opts: &BenchOptions,
    m: &Measured,
    rates: &[PathRates],
    frames: u32,
    rounds: usize,
) -> Section {
    let (paths, routers, samples, pin) = (&m.paths, &m.routers, &m.samples, m.pinned_cpu);
    let mut s = Section::new("throughput", "Forwarding throughput on veth", opts.quick);
    s.method = method(frames, rounds, pin);
    let mut t = Table::new(
        &format!(
            "64-byte UDP frames through one router, one CPU (median of {rounds} rounds of \
             {frames} frames)"
        ),
        &[
            "path",
            "flows",
            "generated Mpps",
            "delivered Mpps",
            "delivered / generated",
            "delivered Mpps (kernel time)",
        ],
    );
    for (p, r) in paths.iter().zip(rates) {
        t.row(vec![
            p.name.clone(),
            p.flows.to_string(),
            fmt_mpps(r.generated_mpps),
            fmt_mpps(r.delivered_mpps),
            fmt_percent(r.delivery),
            fmt_mpps(r.delivered_mpps_kernel_time),
        ]);
    }
    s.tables.push(t);
    let by = |id: &str| {
        paths
            .iter()
            .position(|p| p.id == id)
            .map(|i| rates[i].delivered_mpps)
            .unwrap_or(0.0)
    };
    let (a, b, c) = (by("xdp"), by("iptables"), by("routing"));
    let (am, bm) = (by("xdp_many"), by("iptables_many"));
    let mut r = Table::new(
        "Ratios of delivered packets per second",
        &[
            "comparison",
            "1 flow",
            &format!("{MANY_FLOWS} flows"),
            "1 flow, by kernel time",
        ],
    );
    let kt = |id: &str| {
        paths
            .iter()
            .position(|p| p.id == id)
            .map(|i| rates[i].delivered_mpps_kernel_time)
            .unwrap_or(0.0)
    };
    r.row(vec![
        "(a) / (b): fast path vs iptables NAT".into(),
        fmt_ratio(ratio(a, b)),
        fmt_ratio(ratio(am, bm)),
        fmt_ratio(ratio(kt("xdp"), kt("iptables"))),
    ]);
    r.row(vec![
        "(a) / (c): fast path vs plain routing".into(),
        fmt_ratio(ratio(a, c)),
        "—".into(),
        fmt_ratio(ratio(kt("xdp"), kt("routing"))),
    ]);
    let bare = by("bare_redirect");
    r.row(vec![
        "(ref) / (b): bare XDP redirect vs iptables NAT (ceiling of any XDP fast path here)".into(),
        fmt_ratio(ratio(bare, b)),
        "—".into(),
        fmt_ratio(ratio(kt("bare_redirect"), kt("iptables"))),
    ]);
    r.row(vec![
        "(a) / (ref): fast path vs bare redirect".into(),
        fmt_ratio(ratio(a, bare)),
        "—".into(),
        fmt_ratio(ratio(kt("xdp"), kt("bare_redirect"))),
    ]);
    r.row(vec![
        "(c) / (b): plain routing vs iptables NAT".into(),
        fmt_ratio(ratio(c, b)),
        "—".into(),
        fmt_ratio(ratio(kt("routing"), kt("iptables"))),
    ]);
    s.tables.push(r);
    let ab = ratio(a, b);
    s.targets.push(Target {
        what: "fast path vs iptables NAT path (delivered pps, 1 flow)".into(),
        wanted: format!("≥ {TARGET_RATIO:.0}×"),
        measured: fmt_ratio(ab),
        met: ab.map(|v| v >= TARGET_RATIO),
    });
    s.notes.push(pktgen_status());
    let nat = &routers[0];
    let plain = &routers[1];
    s.notes.push(format!(
        "What is loaded: the NAT router (paths a and b) has iptables tables [{}] and held {} \
         conntrack entries after the runs; the plain router (path c) has tables [{}] and {} \
         conntrack entries (conntrack never hooked into it). Frames on path (a) never reach \
         netfilter although the rules exist in that namespace.",
        nat.iptables_tables().join(", "),
        nat.conntrack_entries()
            .map_or("unknown".into(), |n| n.to_string()),
        plain.iptables_tables().join(", "),
        plain
            .conntrack_entries()
            .map_or("unknown".into(), |n| n.to_string()),
    ));
    s.notes.push(format!(
        "The 1-flow iptables numbers are its best case (one conntrack entry, hot in cache; \
         the frames do traverse Neutron's raw, mangle, nat and filter chains, as on a real \
         router). Neutron writes its SNAT rules with `--random-fully` by default; the agent \
         then keeps floating IPs on the kernel path (path b), so path (a) needs \
         `use_random_fully = false` in Neutron's L3 agent, which is how this router is set \
         up (the analysis the agent runs is asked before measuring). The {MANY_FLOWS}-flow variant varies the UDP source port per frame \
         (every flow created during the warm-up, so the measured frames look existing \
         entries up in a table of {MANY_FLOWS}+)."
    ));
    s.notes.push(
        "Everything (generator, router, sink) runs on one CPU, so these rates are per-core \
         forwarding capacity including the generator's own cost, which is the same for all \
         paths. On a machine running other work the wall-clock rates drop when the thread is \
         preempted; the kernel-time column excludes that."
            .into(),
    );
    s.plots.push(Plot {
        file: "throughput.png".into(),
        title: "64-byte forwarding on veth, one CPU".into(),
        y_label: "Mpps".into(),
        categories: paths.iter().map(|p| p.short.clone()).collect(),
        series: vec![
            Series {
                name: "delivered Mpps (wall clock)".into(),
                values: rates.iter().map(|r| Some(r.delivered_mpps)).collect(),
            },
            Series {
                name: "delivered Mpps (kernel time)".into(),
                values: rates
                    .iter()
                    .map(|r| Some(r.delivered_mpps_kernel_time))
                    .collect(),
            },
        ],
        log_y: false,
    });
    s.data = json!({
        "frames_per_run": frames,
        "frame_bytes": FRAME_LEN,
        "batch": BATCH,
        "warmup_frames": WARMUP,
        "pinned_cpu": pin,
        "generator": "BPF_PROG_TEST_RUN live frames",
        "pktgen": pktgen_status(),
        "nf_conntrack_buckets": cpu::sysctl("net/netfilter/nf_conntrack_buckets"),
        "paths": paths.iter().zip(samples).zip(rates).map(|((p, s), r)| json!({
            "id": p.id, "name": p.name, "flows": p.flows, "samples": s, "median": r,
        })).collect::<Vec<_>>(),
    });
    s
}

fn method(frames: u32, rounds: usize, pin: usize) -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "Topology (namespaces created for the run): an external namespace on the router's \
         `qg` port (203.0.113.1/24, default route to the gateway at .254), the router \
         namespace (forwarding on, permanent neighbour entries for the gateway and the VM), \
         and a sink namespace holding the VM's fixed IP 10.0.0.5 on the router's `qr` port. \
         Frames are 60-byte IPv4 UDP frames (64 bytes on a wire with the FCS; UDP checksum 0) \
         from an external client (192.0.2.50) that arrive on `qg`: they are produced in the \
         kernel (Linux {}) by BPF_PROG_TEST_RUN in live-frames mode \
         (`BPF_F_TEST_XDP_LIVE_FRAMES`, `ctx_in.ingress_ifindex` = `qg`, batch {BATCH}, \
         repeat {frames}), called from a thread inside the router namespace pinned to CPU \
         {pin}. The generator is a small XDP program that writes the frame's first 60 bytes \
         back from a template (the kernel recycles frame pages without restoring their \
         contents, and both NAT paths rewrite them), sets the UDP source port from a per-CPU \
         counter (1 flow, or {MANY_FLOWS} flows), and tail-calls the program under test:\n\n\
         - (a) the real vrrp-xdp program with the floating IP 203.0.113.10 owned (DNAT to \
         10.0.0.5, FIB lookup, MAC rewrite, TTL − 1, `bpf_redirect` to `qr`); every run checks \
         that its counters show every frame redirected;\n\
         - (b) an empty program returning XDP_PASS: the frame enters the stack on `qg`, where \
         Neutron's rules (all four tables as Neutron 29.0.0's own code writes them for this \
         router, `neutron_rules`: the floating IP's DNAT in PREROUTING/OUTPUT and SNAT in \
         POSTROUTING, the subnet's default SNAT, the floating IP as a /32 on `qg`) translate \
         it with conntrack before routing it to `qr`; same router namespace as (a);\n\
         - (c) the same XDP_PASS program on frames addressed to the fixed IP directly, in an \
         identical router namespace without any iptables rules;\n\
         - (ref) a program that only calls `bpf_redirect` to `qr` (no lookups, no rewrite): \
         what XDP forwarding itself costs here, the ceiling of any XDP fast path.\n\n\
         Delivered frames are counted at the sink by an XDP program on the VM's interface \
         (native mode) that counts UDP frames to the benchmark's port in a per-CPU map and \
         drops them; it also gives the veth peer the NAPI context that XDP redirects into a \
         veth need. It counts the same thing on every path: frames that left the router on \
         `qr`. Rates are frames over the wall-clock time of the generating system call \
         (which includes the sink's processing: the veth NAPI poll runs in the softirq on \
         the same CPU); the last column uses the kernel's own time per repetition instead. \
         Before each measurement, {WARMUP} frames warm up caches and conntrack; {rounds} \
         rounds, all paths in each round, medians reported.",
        kernel.trim()
    )
}
