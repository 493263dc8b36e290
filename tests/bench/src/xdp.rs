//! `bench xdp`: what the XDP program costs per packet on each verdict path, measured with
//! BPF_PROG_TEST_RUN in a router namespace (frames arrive on its external port), next to an
//! empty program measured the same way (the floor: the kernel's own per-run overhead).
//!
//! The floating-IP path rewrites the frame, and BPF_PROG_TEST_RUN repeats a program on the
//! same buffer, so from the second repetition on it would see an already translated frame
//! (and take the "not a VIP" path). It is therefore measured through a small wrapper that
//! writes the original bytes back and tail-calls the program, minus the same wrapper
//! tail-calling the empty program. Every path is also measured through the wrapper, as a
//! cross-check of that subtraction. The measuring itself is in `xdp_paths`; this file turns
//! the samples into the report.

use serde_json::json;

use super::{
    BenchOptions, cpu,
    plot::{Plot, Series},
    report::{Section, Table, Target},
    stats::median,
    xdp_paths::{Measured, Path, RESTORE_LEN, Round, action_name, measure},
};

/// The owned-VIP decision the project wants to stay cheap (ns over the floor).
pub const TARGET_OWNED_VIP_NS: f64 = 20.0;

/// Per path: (ns/packet, ns over the floor), medians over rounds of per-round values. Paths
/// that rewrite the frame use the wrapper's numbers minus the wrapper's own floor.
fn summarize(rounds: &[Round], paths: usize) -> Vec<(f64, f64)> {
    let med = |f: &dyn Fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    (0..paths)
        .map(|i| {
            let over = |r: &Round| match r.direct[i] {
                Some(d) => d - r.floor,
                None => r.wrapped[i] - r.wrapped_floor,
            };
            let value = |r: &Round| r.floor + over(r);
            (med(&value).unwrap_or(0.0), med(&over).unwrap_or(0.0))
        })
        .collect()
}

/// The median of `f` over the rounds (0 without rounds).
fn med_of(rounds: &[Round], f: impl Fn(&Round) -> f64) -> f64 {
    median(&rounds.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0)
}

/// Nanoseconds as the kernel reports them (whole), halves kept for even round counts.
pub fn fmt_ns(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

pub fn run(opts: &BenchOptions) -> anyhow::Result<Section> {
    let repeat: u32 = opts.pick(1_000_000, 100_000);
    let rounds: usize = opts.pick(7, 3);
    let m = measure(repeat, rounds)?;
    let summary = summarize(&m.rounds, m.paths.len());
    let floor = med_of(&m.rounds, |r| r.floor);
    let mut s = Section::new("xdp", "XDP per-packet cost", opts.quick);
    s.method = method(repeat, rounds, m.pinned_cpu);
    s.tables.push(cost_table(&m.paths, &summary, floor));
    s.tables.push(wrapper_table(&m));
    s.tables.push(blocks_table(&m.rounds));
    s.tables.push(size_table(&m));
    let owned = m
        .paths
        .iter()
        .position(|p| p.id == "owned_vip")
        .map_or(f64::NAN, |i| summary[i].1);
    s.targets.push(Target {
        what: "owned-VIP decision".into(),
        wanted: format!("≤ {} ns over the floor", fmt_ns(TARGET_OWNED_VIP_NS)),
        measured: format!("{} ns", fmt_ns(owned)),
        met: (!owned.is_nan()).then_some(owned <= TARGET_OWNED_VIP_NS),
    });
    s.notes.push(format!(
        "BPF settings: {}. The kernel reports whole nanoseconds per run (its average over \
         the repetitions, truncated), so differences of 1 ns are at the resolution limit.",
        cpu::bpf_settings()
    ));
    s.notes.push(format!(
        "On this machine one `bpf_ktime_get_ns()` costs {} ns, one `bpf_ktime_get_coarse_ns()` \
         {} ns, one hash lookup {} ns and one `bpf_fib_lookup()` {} ns over the floor. The \
         owned-VIP path does one VIP lookup (hash), reads the coarse clock for the lease (the \
         precise one only within 20 ms of the deadline, which a renewing master never reaches) \
         and updates two counter maps; the floating-IP path \
         adds a lookup of the source in the NAT map, the translation, one FIB lookup and the \
         redirect. The machine's clock, hash and FIB costs bound what each path can reach.",
        fmt_ns(med_of(&m.rounds, |r| r.clock - r.floor)),
        fmt_ns(med_of(&m.rounds, |r| r.coarse_clock - r.floor)),
        fmt_ns(med_of(&m.rounds, |r| r.lookup - r.floor)),
        fmt_ns(med_of(&m.rounds, |r| r.fib - r.floor))
    ));
    s.notes.push(
        "Program cost includes the program's own counter updates (a per-CPU array per frame \
         class, plus per-instance counters on the VIP and NAT paths)."
            .into(),
    );
    s.plots.push(plot(&m.paths, &summary, floor));
    s.data = json!({
        "repeat": repeat,
        "rounds": m.rounds,
        "paths": m.paths.iter().map(|p| json!({
            "id": p.id, "name": p.name, "verdict": action_name(p.action),
            "frame_bytes": p.frame.len(), "rewrites": p.rewrites,
        })).collect::<Vec<_>>(),
        "median_ns": m.paths.iter().zip(&summary).map(|(p, (v, o))| json!({
            "id": p.id, "ns_per_packet": v, "ns_over_floor": o,
        })).collect::<Vec<_>>(),
        "floor_ns": floor,
        "wrapper_floor_ns": med_of(&m.rounds, |r| r.wrapped_floor),
        "program_size": m.size,
        "pinned_cpu": m.pinned_cpu,
        "bpf_jit_enable": cpu::sysctl("net/core/bpf_jit_enable"),
        "bpf_stats_enabled": cpu::sysctl("kernel/bpf_stats_enabled"),
    });
    Ok(s)
}

fn cost_table(paths: &[Path], summary: &[(f64, f64)], floor: f64) -> Table {
    let mut t = Table::new(
        "Per-packet cost by verdict path (median of rounds)",
        &["path", "verdict", "ns/packet", "ns over floor", "measured"],
    );
    t.row(vec![
        "empty XDP program (floor)".into(),
        "pass".into(),
        fmt_ns(floor),
        "0".into(),
        "directly".into(),
    ]);
    for (p, (v, over)) in paths.iter().zip(summary) {
        t.row(vec![
            p.name.into(),
            action_name(p.action).into(),
            fmt_ns(*v),
            fmt_ns(*over),
            if p.rewrites {
                "through the restoring wrapper, its cost subtracted".into()
            } else {
                "directly".into()
            },
        ]);
    }
    t
}

fn wrapper_table(m: &Measured) -> Table {
    let mut w = Table::new(
        &format!(
            "Cross-check: every path through the restoring wrapper (restore {RESTORE_LEN} \
             bytes + tail call)"
        ),
        &[
            "path",
            "ns/packet",
            "ns over wrapper floor",
            "directly: ns over floor",
        ],
    );
    w.row(vec![
        "wrapper → empty program (floor)".into(),
        fmt_ns(med_of(&m.rounds, |r| r.wrapped_floor)),
        "0".into(),
        "0".into(),
    ]);
    let col = |f: &dyn Fn(&Round) -> Option<f64>| {
        let v: Vec<f64> = m.rounds.iter().filter_map(f).collect();
        median(&v).map_or("—".to_string(), fmt_ns)
    };
    for (i, p) in m.paths.iter().enumerate() {
        w.row(vec![
            p.name.into(),
            col(&|r| Some(r.wrapped[i])),
            col(&|r| Some(r.wrapped[i] - r.wrapped_floor)),
            col(&|r| r.direct[i].map(|d| d - r.floor)),
        ]);
    }
    w
}

/// One number of a round.
type RoundValue = fn(&Round) -> f64;

fn blocks_table(rounds: &[Round]) -> Table {
    let mut b = Table::new(
        "Building blocks, measured the same way (for reading the numbers above)",
        &["program", "ns/packet", "ns over floor"],
    );
    let blocks: [(&str, RoundValue); 4] = [
        (
            "empty program + one bpf_ktime_get_ns() (the lease check near a deadline)",
            |r| r.clock,
        ),
        (
            "empty program + one bpf_ktime_get_coarse_ns() (the lease check otherwise)",
            |r| r.coarse_clock,
        ),
        (
            "empty program + one hash-map lookup hit (24-byte key, like the VIP map)",
            |r| r.lookup,
        ),
        (
            "empty program + one bpf_fib_lookup() (the NAT path's route to the fixed IP)",
            |r| r.fib,
        ),
    ];
    for (what, f) in blocks {
        b.row(vec![
            what.into(),
            fmt_ns(med_of(rounds, f)),
            fmt_ns(med_of(rounds, |r| f(r) - r.floor)),
        ]);
    }
    b
}

fn size_table(m: &Measured) -> Table {
    let mut z = Table::new("Program size", &["figure", "value"]);
    let opt = |v: Option<u32>| v.map_or("not reported".to_string(), |v| v.to_string());
    z.row(vec![
        "instructions processed by the verifier".into(),
        opt(m.size.verified_insns),
    ]);
    z.row(vec![
        "instructions after verification".into(),
        opt(m.size.xlated_insns),
    ]);
    z.row(vec![
        "JIT-compiled bytes".into(),
        m.size.jited_bytes.to_string(),
    ]);
    z
}

fn plot(paths: &[Path], summary: &[(f64, f64)], floor: f64) -> Plot {
    let categories: Vec<String> = paths.iter().map(|p| p.short.to_string()).collect();
    Plot {
        file: "xdp-cost.png".into(),
        title: "XDP cost per packet by verdict path (BPF_PROG_TEST_RUN)".into(),
        y_label: "ns per packet".into(),
        series: vec![
            Series {
                name: "ns/packet".into(),
                values: summary.iter().map(|(v, _)| Some(*v)).collect(),
            },
            Series {
                name: "empty program (floor)".into(),
                values: vec![Some(floor); categories.len()],
            },
        ],
        categories,
        log_y: false,
    }
}

fn method(repeat: u32, rounds: usize, pin: usize) -> String {
    format!(
        "BPF_PROG_TEST_RUN of the real vrrp-xdp program (loaded privately, maps written \
         through the agent's API) with `repeat` = {repeat}, {rounds} rounds; each number is \
         the kernel-reported mean duration per run, median over the rounds (\"over floor\": \
         median of the per-round differences). Frames arrive on the external port of a \
         router namespace (`ctx_in.ingress_ifindex`), whose routes and permanent neighbour \
         entries make the FIB lookup succeed; the measuring thread runs inside that namespace, \
         pinned to CPU {pin}. Frames: a keepalived VRRPv3 advert for a configured instance; \
         UDP (74 bytes) from an external client to an owned VIP, a released VIP, an owned \
         floating IP (DNAT to a fixed IP behind the internal port, FIB lookup, MAC rewrite, \
         TTL − 1, `bpf_redirect`), and to an ordinary routed address (no VIP: the program \
         looks it up in the VIP, NAT and gateway maps and passes it). Every measurement also \
         checks that the program counted exactly `repeat` frames in the expected class.\n\n\
         The floor is an empty XDP program (`r0 = XDP_PASS; exit`, loaded with the raw \
         `bpf()` call) run the same way on the same frame and interface in the same round. \
         The floating-IP path rewrites the frame and the kernel repeats a program on the same \
         buffer, so it is run through a wrapper program that writes the original first \
         {RESTORE_LEN} bytes back and tail-calls vrrp-xdp; the same wrapper tail-calling the \
         empty program is subtracted. The second table measures every path through that \
         wrapper, so its differences can be compared with the direct ones."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdp_paths::Round;

    fn round(floor: f64, direct: Option<f64>, wfloor: f64, wrapped: f64) -> Round {
        Round {
            floor,
            direct: vec![direct],
            wrapped_floor: wfloor,
            wrapped: vec![wrapped],
            ..Round::default()
        }
    }

    #[test]
    fn direct_paths_subtract_the_floor_of_their_round() {
        let r = [
            round(10.0, Some(30.0), 20.0, 41.0),
            round(12.0, Some(31.0), 22.0, 43.0),
            round(9.0, Some(40.0), 19.0, 50.0),
        ];
        // Differences 20, 19, 31 → 20; values 30, 31, 40 → 31.
        assert_eq!(summarize(&r, 1), vec![(31.0, 20.0)]);
    }

    #[test]
    fn rewriting_paths_use_the_wrapper_minus_its_floor() {
        let r = [
            round(10.0, None, 20.0, 45.0),
            round(11.0, None, 21.0, 47.0),
            round(10.0, None, 20.0, 44.0),
        ];
        // Wrapped − wrapper floor: 25, 26, 24 → 25; plus the round's floor: 35, 37, 34 → 35.
        assert_eq!(summarize(&r, 1), vec![(35.0, 25.0)]);
    }

    #[test]
    fn nanoseconds_print_whole_unless_halved() {
        assert_eq!(fmt_ns(12.0), "12");
        assert_eq!(fmt_ns(12.5), "12.5");
    }
}
