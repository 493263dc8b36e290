//! `bench throughput`: 64-byte UDP frames forwarded by one router namespace on veth, through
//! (a) vrrp-xdp's fast path (XDP DNAT + FIB lookup + redirect), (b) what Neutron does today
//! (the frame enters the stack; routing, iptables DNAT/SNAT and conntrack), and (c) Linux
//! routing alone. Frames are generated in the kernel by BPF_PROG_TEST_RUN in live-frames
//! mode as if they arrived on the router's `qg` port, and counted by an XDP program on the
//! sink's interface (see `fwd_topo` for the namespaces and `rawbpf::progs` for the helper
//! programs).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use vrrp_agent::dataplane::{Dataplane, LoadOptions};
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{FAMILY_IPV4, VIP_KIND_FLOATING, addr_v4},
};

use super::{
    BenchOptions, cpu,
    fwd_topo::{self, FIP, FRAME_LEN, FwdRouter, SPORT},
    plot::{Plot, Series},
    rates::{PathRates, Sample, fmt_mpps, fmt_percent, fmt_ratio, ratio},
    report::{Section, Table, Target},
};
use crate::{
    rawbpf::{
        progs::{self, Flows},
        sys::{Map, MapType, Program},
    },
    router_ns::VM,
    xdp::{XDP_REDIRECT, Xdp, monotonic_ns},
};

/// Frames per live-frames batch (the kernel's default, NAPI's budget).
const BATCH: u32 = 64;
/// Flows of the many-flows variant (a power of two: source ports 40000..56383).
pub const MANY_FLOWS: u16 = 16384;
/// Frames run before each measurement (page pool, caches, conntrack entries of every flow).
const WARMUP: u32 = 65_536;
const FIP_SLOT: u32 = 1;
const LEASE_NS: u64 = 3_600_000_000_000;

/// The project's target: the fast path forwards at least this many times what iptables does.
pub const TARGET_RATIO: f64 = 5.0;

/// One measured configuration.
struct PathDef {
    id: &'static str,
    name: String,
    short: String,
    flows: u16,
    /// Runs through vrrp-xdp (whose counters must show every frame redirected).
    fast: bool,
    /// Index into the routers.
    router: usize,
    frame: Vec<u8>,
    generator: Program,
}

/// Whether the kernel's packet generator could be used, and why not.
pub fn pktgen_status() -> String {
    if std::path::Path::new("/proc/net/pktgen").exists() {
        return "pktgen is loaded (/proc/net/pktgen) but not used: this benchmark uses \
                BPF_PROG_TEST_RUN live frames"
            .into();
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let dir = format!("/lib/modules/{}", release.trim());
    let module = std::process::Command::new("find")
        .args([dir.as_str(), "-name", "pktgen.ko*"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    if module {
        "pktgen module installed but not loaded; not used: this benchmark uses \
         BPF_PROG_TEST_RUN live frames"
            .into()
    } else {
        "no pktgen on this kernel (no /proc/net/pktgen, no pktgen module): frames come from \
         BPF_PROG_TEST_RUN live frames"
            .into()
    }
}

/// Reads the sink counter until it stops moving (frames still in rings when the generator
/// returned), at most half a second.
fn settle(sink: &Map) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut last = sink.read_u64_sum(0)?;
    loop {
        std::thread::sleep(Duration::from_millis(5));
        let now = sink.read_u64_sum(0)?;
        if now == last || Instant::now() > deadline {
            return Ok(now);
        }
        last = now;
    }
}

/// CPU time the calling thread has used (user and system, including softirq work done on
/// its behalf while it ran).
fn thread_cpu_time() -> anyhow::Result<Duration> {
    Ok(nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)?.into())
}

/// How long one generating system call took.
struct Times {
    wall: Duration,
    kernel_per_frame: Duration,
    thread_cpu: Duration,
}

/// Runs the generator of `p` for `frames` frames inside its router namespace, pinned to
/// `pin`.
fn generate(p: &PathDef, router: &FwdRouter, frames: u32, pin: usize) -> anyhow::Result<Times> {
    let (generator, frame, ifindex) = (&p.generator, &p.frame, router.qg_ifindex);
    vrrp_agent::netns::run_in(Some(router.router.name()), move || {
        cpu::pin_current_thread(pin)?;
        let cpu0 = thread_cpu_time()?;
        let t0 = Instant::now();
        let r = generator.test_run(frame, ifindex, frames, Some(BATCH))?;
        let wall = t0.elapsed();
        Ok(Times {
            wall,
            kernel_per_frame: r.duration,
            thread_cpu: thread_cpu_time()? - cpu0,
        })
    })?
}

/// One measurement of `p` (after a warm-up).
fn measure(
    p: &PathDef,
    routers: &[FwdRouter],
    dp: &Dataplane,
    sink: &Map,
    frames: u32,
    pin: usize,
) -> anyhow::Result<Sample> {
    let router = &routers[p.router];
    generate(p, router, WARMUP, pin)?;
    settle(sink)?;
    let before = sink.read_u64_sum(0)?;
    let redirected = dp.counters()?.stat(Stat::Redirected);
    let times = generate(p, router, frames, pin)?;
    let delivered = settle(sink)? - before;
    if p.fast {
        let moved = dp.counters()?.stat(Stat::Redirected) - redirected;
        if moved != u64::from(frames) {
            bail!(
                "{}: vrrp-xdp redirected {moved} of {frames} frames: the fast path was not \
                 the path measured",
                p.name
            );
        }
    }
    Ok(Sample {
        generated: u64::from(frames),
        delivered,
        wall_ns: times.wall.as_nanos() as u64,
        kernel_ns_per_frame: times.kernel_per_frame.as_nanos() as u64,
        thread_cpu_ns: times.thread_cpu.as_nanos() as u64,
    })
}

/// The helper programs and maps, kept alive for the whole run.
struct Helpers {
    sink_map: Map,
    _sink_prog: Program,
    _links: Vec<std::os::fd::OwnedFd>,
    _maps: Vec<Map>,
    _pass: Program,
}

fn paths_and_helpers(
    routers: &[FwdRouter],
    dp: &Dataplane,
) -> anyhow::Result<(Vec<PathDef>, Helpers)> {
    let sink_map = Map::array(MapType::PerCpuArray, 8, 1, "bench_sink")?;
    let sink_prog = Program::load_xdp(
        &progs::sink_counter(sink_map.raw_fd(), fwd_topo::DPORT)?,
        "bench_sink",
    )?;
    let mut links = vec![];
    for r in routers {
        let (prog, ifindex) = (&sink_prog, r.sink_ifindex);
        links.push(
            vrrp_agent::netns::run_in(Some(r.sink.name()), move || prog.attach_native(ifindex))?
                .context("attaching the sink counter (native XDP on veth)")?,
        );
    }
    let pass = Program::load_xdp(&progs::empty(), "bench_pass")?;
    let to_vrrp = Map::array(MapType::ProgArray, 4, 1, "bench_to_vrrp")?;
    to_vrrp.set_program(0, dp.program_fd()?)?;
    let to_pass = Map::array(MapType::ProgArray, 4, 1, "bench_to_pass")?;
    to_pass.set_program(0, pass.fd())?;
    let counter = Map::array(MapType::PerCpuArray, 8, 1, "bench_flows")?;
    let generator = |frame: &[u8], target: &Map, flows: u16| -> anyhow::Result<Program> {
        let f = Flows {
            counter_map_fd: counter.raw_fd(),
            mask: flows - 1,
            base_port: SPORT,
        };
        Ok(Program::load_xdp(
            &progs::generator(frame, target.raw_fd(), Some(f))?,
            "bench_gen",
        )?)
    };
    let to_fip = fwd_topo::inbound_frame(FIP);
    let to_vm = fwd_topo::inbound_frame(VM);
    let def = |id, name: &str, short: &str, flows, fast, router, frame: &Vec<u8>, target| {
        Ok::<_, anyhow::Error>(PathDef {
            id,
            name: name.to_string(),
            short: short.to_string(),
            flows,
            fast,
            router,
            frame: frame.clone(),
            generator: generator(frame, target, flows)?,
        })
    };
    let many = format!("{MANY_FLOWS} flows");
    let paths = vec![
        def(
            "xdp",
            "(a) vrrp-xdp: XDP DNAT + FIB lookup + redirect",
            "(a) XDP",
            1,
            true,
            0,
            &to_fip,
            &to_vrrp,
        )?,
        def(
            "iptables",
            "(b) Neutron today: stack + iptables DNAT/SNAT + conntrack",
            "(b) iptables",
            1,
            false,
            0,
            &to_fip,
            &to_pass,
        )?,
        def(
            "routing",
            "(c) Linux routing only (fixed IP, no NAT, no conntrack)",
            "(c) routing",
            1,
            false,
            1,
            &to_vm,
            &to_pass,
        )?,
        def(
            "xdp_many",
            "(a) vrrp-xdp, many flows",
            &format!("(a) XDP, {many}"),
            MANY_FLOWS,
            true,
            0,
            &to_fip,
            &to_vrrp,
        )?,
        def(
            "iptables_many",
            "(b) iptables + conntrack, many flows",
            &format!("(b) iptables, {many}"),
            MANY_FLOWS,
            false,
            0,
            &to_fip,
            &to_pass,
        )?,
    ];
    Ok((
        paths,
        Helpers {
            sink_map,
            _sink_prog: sink_prog,
            _links: links,
            _maps: vec![to_vrrp, to_pass, counter],
            _pass: pass,
        },
    ))
}

pub fn run(opts: &BenchOptions) -> anyhow::Result<Section> {
    let frames: u32 = opts.pick(5_000_000, 300_000);
    let rounds: usize = opts.pick(5, 3);
    let pin = cpu::last_allowed_cpu()?;
    let routers = [FwdRouter::new(true), FwdRouter::new(false)];
    let dp = Dataplane::load(&LoadOptions::default())?;
    let mut xdp = Xdp::new(dp, 0);
    xdp.vip(FAMILY_IPV4, addr_v4(FIP), FIP_SLOT, VIP_KIND_FLOATING, VM);
    xdp.nat_out(VM, FIP_SLOT, routers[0].qg_ifindex, FIP);
    xdp.lease(FIP_SLOT, monotonic_ns() + LEASE_NS);
    xdp.arrive_on(&routers[0].router, routers[0].qg_ifindex);
    let seen = xdp.run(&fwd_topo::inbound_frame(FIP));
    if seen.action != XDP_REDIRECT {
        bail!(
            "vrrp-xdp does not redirect the floating-IP frame in the benchmark router (action \
             {}, counters {:?})",
            seen.action,
            seen.delta.stats
        );
    }
    let (paths, helpers) = paths_and_helpers(&routers, &xdp.dp)?;
    let softirqd_before = cpu::ksoftirqd_time(pin);
    let mut samples: Vec<Vec<Sample>> = vec![vec![]; paths.len()];
    for _ in 0..rounds {
        xdp.lease(FIP_SLOT, monotonic_ns() + LEASE_NS);
        for (i, p) in paths.iter().enumerate() {
            samples[i].push(measure(
                p,
                &routers,
                &xdp.dp,
                &helpers.sink_map,
                frames,
                pin,
            )?);
        }
    }
    let softirqd = cpu::ksoftirqd_time(pin)
        .zip(softirqd_before)
        .map(|(after, before)| after.saturating_sub(before));
    let rates: Vec<PathRates> = samples.iter().map(|s| PathRates::of(s)).collect();
    let mut s = section(
        opts, &paths, &routers, &samples, &rates, frames, rounds, pin,
    );
    let worst = samples
        .iter()
        .flatten()
        .map(Sample::kernel_vs_thread_cpu)
        .fold(0.0, f64::max);
    let measured_cpu: u64 = samples.iter().flatten().map(|x| x.thread_cpu_ns).sum();
    s.notes
        .push(softirq_note(worst, softirqd, measured_cpu, pin));
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

#[allow(clippy::too_many_arguments)]
fn section(
    opts: &BenchOptions,
    paths: &[PathDef],
    routers: &[FwdRouter],
    samples: &[Vec<Sample>],
    rates: &[PathRates],
    frames: u32,
    rounds: usize,
    pin: usize,
) -> Section {
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
        "The 1-flow iptables numbers are its best case (one conntrack entry, hot in cache, \
         and only the nat table: Neutron's real routers also traverse filter and mangle \
         chains). The {MANY_FLOWS}-flow variant varies the UDP source port per frame \
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
         Neutron's rules (`neutron_nat`: PREROUTING/OUTPUT DNAT, POSTROUTING SNAT for the \
         fixed IP and the subnet's default SNAT, the floating IP as a /32 on `qg`) translate \
         it with conntrack before routing it to `qr`; same router namespace as (a);\n\
         - (c) the same XDP_PASS program on frames addressed to the fixed IP directly, in an \
         identical router namespace without any iptables rules.\n\n\
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
