//! The measurements of `bench xdp`: the router namespace and the program's maps set up for
//! every verdict path, the helper programs (empty program, restoring wrappers, building
//! blocks), and one round of BPF_PROG_TEST_RUN calls, each checked against the program's
//! counters so a number always belongs to the path it is reported for.

use anyhow::{Context, bail};
use vrrp_agent::dataplane::{Dataplane, LoadOptions, ProgramSize};
use vrrp_ebpf_common::{
    counters::Stat,
    dataplane::{AddrKey, FAMILY_IPV4, VIP_KIND_VIRTUAL, VipValue, addr_v4},
};

use super::cpu;
use vrrp_tests::{
    fixtures,
    flows::{Flow, L4},
    rawbpf::{
        asm, progs,
        sys::{Map, MapType, Program},
    },
    router_ns::{CLIENT, RouterNs, SENDER_MAC, VM, VM2},
    xdp::{XDP_DROP, XDP_PASS, XDP_REDIRECT, Xdp, monotonic_ns},
};

const ADVERT_SLOT: u32 = 1;
const VIP_SLOT: u32 = 2;
const RELEASED_SLOT: u32 = 3;
const FIP_SLOT: u32 = 4;
const VIP_OWNED: [u8; 4] = [203, 0, 113, 2];
const VIP_RELEASED: [u8; 4] = [203, 0, 113, 3];
const FIP: [u8; 4] = [203, 0, 113, 10];
/// Bytes the wrapper writes back before each run (covers Ethernet, IPv4 and UDP headers).
pub(super) const RESTORE_LEN: usize = 60;
/// The owner's lease: far beyond any run.
const LEASE_NS: u64 = 3_600_000_000_000;

/// One verdict path: a frame and what the program must do with it.
pub(super) struct Path {
    pub id: &'static str,
    pub name: &'static str,
    /// Label in the plot.
    pub short: &'static str,
    pub frame: Vec<u8>,
    pub action: u32,
    pub class: Stat,
    /// Rewrites the frame (only measurable through the restoring wrapper).
    pub rewrites: bool,
}

pub(super) fn action_name(a: u32) -> &'static str {
    match a {
        XDP_DROP => "drop",
        XDP_PASS => "pass",
        XDP_REDIRECT => "redirect",
        _ => "other",
    }
}

/// Router 0 with every path configured on the router's external port.
fn configure(xdp: &mut Xdp, topo: &RouterNs) -> Vec<Path> {
    let ext = topo.ext_ifindex;
    let advert = fixtures::first_advert("v3-ipv4");
    let vrid = advert[fixtures_vrid_offset(&advert)];
    xdp.instance(ext, vrid, FAMILY_IPV4, ADVERT_SLOT, 0);
    xdp.vip(FAMILY_IPV4, addr_v4(VIP_OWNED), VIP_SLOT, VIP_KIND_VIRTUAL);
    xdp.vip(
        FAMILY_IPV4,
        addr_v4(VIP_RELEASED),
        RELEASED_SLOT,
        VIP_KIND_VIRTUAL,
    );
    xdp.floating(FIP, VM, FIP_SLOT, (ext, topo.int_ifindex), true);
    for slot in [VIP_SLOT, FIP_SLOT] {
        xdp.lease(slot, monotonic_ns() + LEASE_NS);
    }
    xdp.lease(RELEASED_SLOT, 0);
    xdp.arrive_on(&topo.ns, ext);
    // The fast path as the agent sets it up for an eligible floating IP: the external port,
    // and the internal port as a redirect target.
    xdp.port(ext, topo.ext_mac, None, 0, true);
    xdp.port(topo.int_ifindex, topo.int_mac, None, 0, true);
    let udp_to = |dst| {
        Flow {
            src_mac: SENDER_MAC,
            dst_mac: topo.ext_mac,
            src: CLIENT,
            dst,
            ttl: 64,
        }
        .packet(L4::Udp)
    };
    vec![
        Path {
            id: "advert",
            short: "advert",
            name: "VRRP advert (valid, configured instance)",
            frame: advert,
            action: XDP_PASS,
            class: Stat::Adverts,
            rewrites: false,
        },
        Path {
            id: "owned_vip",
            short: "owned VIP",
            name: "owned VIP",
            frame: udp_to(VIP_OWNED),
            action: XDP_PASS,
            class: Stat::VipPassed,
            rewrites: false,
        },
        Path {
            id: "not_owned_vip",
            short: "not-owned VIP",
            name: "not-owned VIP",
            frame: udp_to(VIP_RELEASED),
            action: XDP_DROP,
            class: Stat::NotOwnedDropped,
            rewrites: false,
        },
        Path {
            id: "floating_nat",
            short: "floating IP NAT",
            name: "floating IP: DNAT + FIB lookup + redirect",
            frame: udp_to(FIP),
            action: XDP_REDIRECT,
            class: Stat::Redirected,
            rewrites: true,
        },
        Path {
            id: "non_vip",
            short: "non-VIP",
            name: "non-VIP traffic (routed by the kernel)",
            frame: udp_to(VM2),
            action: XDP_PASS,
            class: Stat::NotVrrp,
            rewrites: false,
        },
    ]
}

/// Where the VRID sits in an untagged IPv4 advert.
fn fixtures_vrid_offset(frame: &[u8]) -> usize {
    vrrp_tests::frames::vrrp_offset(frame) + 1
}

/// The kernel-measured ns/run of every program in one round.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(super) struct Round {
    pub floor: f64,
    /// Per path; `None` for paths that rewrite the frame.
    pub direct: Vec<Option<f64>>,
    pub wrapped_floor: f64,
    pub wrapped: Vec<f64>,
    /// The empty program plus one `bpf_ktime_get_ns()`.
    pub clock: f64,
    /// The empty program plus one `bpf_ktime_get_coarse_ns()`.
    pub coarse_clock: f64,
    /// The empty program plus one hash lookup hit with the VIP map's key size.
    pub lookup: f64,
    /// The empty program plus the NAT path's `bpf_fib_lookup()` (to the fixed IP).
    pub fib: f64,
}

/// The path `id` of [`configure`]'s list (a fixed list: a missing id is a bug here).
pub(super) fn by_id<'a>(paths: &'a [Path], id: &str) -> &'a Path {
    paths
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no path `{id}`"))
}

/// The IPv4 total length of an untagged frame (what the program passes for the MTU check).
fn fib_len(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[16], frame[17]])
}

/// The bytes the wrapper writes back for `p`.
fn restore(p: &Path) -> &[u8] {
    &p.frame[..RESTORE_LEN.min(p.frame.len())]
}

/// Programs and maps of the measurement (kept alive together).
struct Helpers {
    empty: Program,
    wrapped_floor: Program,
    wrappers: Vec<Program>,
    clock: Program,
    coarse_clock: Program,
    lookup: Program,
    fib: Program,
    _maps: [Map; 3],
}

fn load_helpers(dp: &Dataplane, paths: &[Path]) -> anyhow::Result<Helpers> {
    let empty = Program::load_xdp(&progs::empty(), "bench_empty")?;
    let real = Map::array(MapType::ProgArray, 4, 1, "bench_real")?;
    real.set_program(0, dp.program_fd()?)
        .context("putting vrrp-xdp into a program array")?;
    let none = Map::array(MapType::ProgArray, 4, 1, "bench_none")?;
    none.set_program(0, empty.fd())?;
    let wrappers = paths
        .iter()
        .map(|p| {
            Program::load_xdp(
                &progs::generator(restore(p), real.raw_fd(), None)?,
                "bench_wrap",
            )
            .map_err(anyhow::Error::from)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let floor_template = restore(by_id(paths, "owned_vip"));
    let wrapped_floor = Program::load_xdp(
        &progs::generator(floor_template, none.raw_fd(), None)?,
        "bench_wrap_none",
    )?;
    let key_size = std::mem::size_of::<AddrKey>();
    let hash = Map::hash(
        key_size as u32,
        std::mem::size_of::<VipValue>() as u32,
        16,
        "bench_hash",
    )?;
    hash.update(
        &vec![0; key_size],
        &vec![0; std::mem::size_of::<VipValue>()],
    )?;
    Ok(Helpers {
        empty,
        wrapped_floor,
        wrappers,
        clock: Program::load_xdp(&progs::helper_call(asm::HELPER_KTIME_GET_NS), "bench_clock")?,
        coarse_clock: Program::load_xdp(
            &progs::helper_call(asm::HELPER_KTIME_GET_COARSE_NS),
            "bench_coarse_clock",
        )?,
        lookup: Program::load_xdp(
            &progs::hash_lookup(hash.raw_fd(), key_size as i16),
            "bench_lookup",
        )?,
        fib: Program::load_xdp(
            &progs::fib_lookup(CLIENT, VM, fib_len(&by_id(paths, "floating_nat").frame)),
            "bench_fib",
        )?,
        _maps: [real, none, hash],
    })
}

/// Runs `f` (one measurement of `repeat` runs) and checks that the program counted exactly
/// `repeat` frames in `class`.
fn counted(
    dp: &Dataplane,
    class: Stat,
    repeat: u32,
    what: &str,
    f: impl FnOnce() -> anyhow::Result<f64>,
) -> anyhow::Result<f64> {
    let before = dp.counters()?.stat(class);
    let ns = f()?;
    let moved = dp.counters()?.stat(class) - before;
    if moved != u64::from(repeat) {
        bail!(
            "{what}: the program counted {moved} frames as {} instead of {repeat}: the path \
             measured is not the one intended",
            class.name()
        );
    }
    Ok(ns)
}

fn ns_of(d: std::time::Duration) -> f64 {
    d.as_nanos() as f64
}

/// One round: the floor, every path directly, then everything through the wrapper.
fn round(
    dp: &Dataplane,
    ifindex: u32,
    paths: &[Path],
    h: &Helpers,
    repeat: u32,
) -> anyhow::Result<Round> {
    let frame0 = &by_id(paths, "owned_vip").frame;
    let run = |p: &Program| -> anyhow::Result<f64> {
        Ok(ns_of(p.test_run(frame0, ifindex, repeat, None)?.duration))
    };
    let mut r = Round {
        floor: run(&h.empty)?,
        clock: run(&h.clock)?,
        coarse_clock: run(&h.coarse_clock)?,
        lookup: run(&h.lookup)?,
        ..Round::default()
    };
    let fib = h.fib.test_run(frame0, ifindex, repeat, None)?;
    if fib.retval != XDP_PASS {
        bail!("the reference bpf_fib_lookup() did not find the fixed IP's route and neighbour");
    }
    r.fib = ns_of(fib.duration);
    for p in paths {
        r.direct.push(if p.rewrites {
            None
        } else {
            Some(counted(dp, p.class, repeat, p.name, || {
                let out = dp.test_run_on(&p.frame, Some(ifindex), repeat)?;
                if out.action != p.action {
                    bail!("{}: verdict {} instead of {}", p.name, out.action, p.action);
                }
                Ok(ns_of(out.duration))
            })?)
        });
    }
    r.wrapped_floor = run(&h.wrapped_floor)?;
    for (p, w) in paths.iter().zip(&h.wrappers) {
        r.wrapped.push(counted(dp, p.class, repeat, p.name, || {
            let out = w.test_run(&p.frame, ifindex, repeat, None)?;
            if out.retval != p.action {
                bail!(
                    "{} (wrapped): verdict {} instead of {}",
                    p.name,
                    out.retval,
                    p.action
                );
            }
            Ok(ns_of(out.duration))
        })?);
    }
    Ok(r)
}

/// Everything one `bench xdp` run measured.
pub(super) struct Measured {
    pub paths: Vec<Path>,
    pub rounds: Vec<Round>,
    pub size: ProgramSize,
    pub pinned_cpu: usize,
}

/// Sets up the router and the program, checks every path's verdict once, then measures
/// `rounds` rounds of `repeat` runs per program.
pub(super) fn measure(repeat: u32, rounds: usize) -> anyhow::Result<Measured> {
    let topo = RouterNs::new();
    let dp = Dataplane::load(&LoadOptions::default())?;
    let mut xdp = Xdp::new(dp, 0);
    let paths = configure(&mut xdp, &topo);
    for p in &paths {
        let seen = xdp.run(&p.frame);
        if seen.action != p.action || seen.delta.stats.get(p.class.name()) != Some(&1) {
            bail!(
                "{}: expected {} counted as {}, saw action {} and {:?}",
                p.name,
                action_name(p.action),
                p.class.name(),
                seen.action,
                seen.delta.stats
            );
        }
    }
    let size = xdp.dp.program_size()?;
    let helpers = load_helpers(&xdp.dp, &paths)?;
    let pin = cpu::last_allowed_cpu()?;
    let ifindex = topo.ext_ifindex;
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let dp = &xdp.dp;
        let (paths, helpers) = (&paths, &helpers);
        samples.push(vrrp_agent::netns::run_in(
            Some(topo.ns.name()),
            move || {
                cpu::pin_current_thread(pin)?;
                round(dp, ifindex, paths, helpers, repeat)
            },
        )??);
    }
    Ok(Measured {
        paths,
        rounds: samples,
        size,
        pinned_cpu: pin,
    })
}
