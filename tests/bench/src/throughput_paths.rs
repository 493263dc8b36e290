//! The measurements of `bench throughput`: the two router topologies, vrrp-xdp configured
//! for the floating IP, the helper programs (generators, pass program, sink counter), and one
//! measured run per path: warm-up, generate in live-frames mode from inside the router
//! namespace on a pinned CPU, wait for the sink's count to settle.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use vrrp_agent::dataplane::{Dataplane, LoadOptions};
use vrrp_ebpf_common::counters::Stat;

use super::{
    cpu,
    fwd_topo::{self, FIP, FwdRouter, SPORT},
    rates::Sample,
};
use vrrp_tests::{
    rawbpf::{
        progs::{self, Flows},
        sys::{Map, MapType, Program},
    },
    router_ns::VM,
    xdp::{XDP_REDIRECT, Xdp, monotonic_ns},
};

/// Frames per live-frames batch (the kernel's default, NAPI's budget).
pub const BATCH: u32 = 64;
/// Flows of the many-flows variant (a power of two: source ports 40000..56383).
pub const MANY_FLOWS: u16 = 16384;
/// Frames run before each measurement (page pool, caches, conntrack entries of every flow).
pub const WARMUP: u32 = 65_536;
const FIP_SLOT: u32 = 1;
const LEASE_NS: u64 = 3_600_000_000_000;

/// One measured configuration.
pub(super) struct PathDef {
    pub id: &'static str,
    pub name: String,
    pub short: String,
    pub flows: u16,
    /// Runs through vrrp-xdp (whose counters must show every frame redirected).
    pub fast: bool,
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
    _programs: Vec<Program>,
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
    let redirect = Program::load_xdp(&progs::redirect(routers[0].qr_ifindex), "bench_redirect")?;
    let to_redirect = Map::array(MapType::ProgArray, 4, 1, "bench_to_redir")?;
    to_redirect.set_program(0, redirect.fd())?;
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
    // Short enough for the plot's category labels.
    let many = format!("{}k flows", MANY_FLOWS / 1024);
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
        def(
            "bare_redirect",
            "(ref) bare XDP redirect to qr (no lookups, no rewrite)",
            "(ref) bare redirect",
            1,
            false,
            0,
            &to_fip,
            &to_redirect,
        )?,
    ];
    Ok((
        paths,
        Helpers {
            sink_map,
            _sink_prog: sink_prog,
            _links: links,
            _maps: vec![to_vrrp, to_pass, to_redirect, counter],
            _programs: vec![pass, redirect],
        },
    ))
}

/// Everything one `bench throughput` run measured (the routers are kept for the report's
/// notes on what they hold).
pub(super) struct Measured {
    pub paths: Vec<PathDef>,
    pub routers: [FwdRouter; 2],
    /// Per path, one sample per round.
    pub samples: Vec<Vec<Sample>>,
    /// CPU time ksoftirqd used on the pinned CPU during the rounds.
    pub softirqd: Option<Duration>,
    pub pinned_cpu: usize,
}

/// Builds the routers and programs, checks that vrrp-xdp redirects the floating-IP frame,
/// then measures `rounds` rounds of every path with `frames` frames each.
pub(super) fn measure_all(frames: u32, rounds: usize) -> anyhow::Result<Measured> {
    let pin = cpu::last_allowed_cpu()?;
    let routers = [FwdRouter::new(true), FwdRouter::new(false)];
    // Measure the fast path only where the agent would take it.
    if let Err(why) = routers[0].fast_path_verdict() {
        bail!("the agent's analysis keeps the benchmark's floating IP on the kernel path: {why}");
    }
    let dp = Dataplane::load(&LoadOptions::default())?;
    let mut xdp = Xdp::new(dp, 0);
    xdp.floating(
        FIP,
        VM,
        FIP_SLOT,
        (routers[0].qg_ifindex, routers[0].qr_ifindex),
        true,
    );
    xdp.lease(FIP_SLOT, monotonic_ns() + LEASE_NS);
    xdp.arrive_on(&routers[0].router, routers[0].qg_ifindex);
    // The fast path as the agent sets it up for an eligible floating IP.
    xdp.port(routers[0].qg_ifindex, fwd_topo::QG_MAC, None, 0, true);
    xdp.port(routers[0].qr_ifindex, fwd_topo::QR_MAC, None, 0, true);
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
    drop(helpers);
    Ok(Measured {
        paths,
        routers,
        samples,
        softirqd,
        pinned_cpu: pin,
    })
}
