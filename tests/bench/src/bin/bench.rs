//! `cargo xtask bench [PART...] [--quick]`: runs the benchmark parts (all by default), prints
//! their tables, and writes `bench/results.json`, `BENCHMARKS.md` and the PNG plots in
//! `bench/`. A part that cannot measure (missing tool, kernel feature) is reported and the
//! others still run; the exit status says whether every requested part produced numbers.

use std::{path::PathBuf, process::ExitCode};

use vrrp_bench::{
    self as bench, BenchOptions,
    report::{PART_ORDER, Results, Section},
};

const USAGE: &str = "usage: bench [xdp|throughput|failover|scale ...] [--quick] [--out DIR]
  xdp         XDP per-packet cost per verdict path (BPF_PROG_TEST_RUN), minus an empty program
  throughput  64-byte forwarding on veth: XDP fast path vs iptables NAT + conntrack vs routing
  failover    outage, TCP survival and dual forwarding on the test bed: vrrp-agent vs keepalived
  scale       one agent for 250 router namespaces vs keepalived as Neutron runs it
  --quick     fewer repetitions, shorter windows (to try the harness; marked in the report)
  --out DIR   where BENCHMARKS.md and bench/ go (default: the current directory)";

fn run_part(id: &str, opts: &BenchOptions) -> anyhow::Result<Section> {
    match id {
        "xdp" => bench::xdp::run(opts),
        "throughput" => bench::throughput::run(opts),
        "failover" => bench::failover::run(opts),
        "scale" => bench::scale::run(opts),
        _ => anyhow::bail!("part `{id}` is not implemented yet"),
    }
}

fn main() -> ExitCode {
    let mut parts: Vec<String> = vec![];
    let mut quick = false;
    let mut out_dir = PathBuf::from(".");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--out" => match args.next() {
                Some(d) => out_dir = d.into(),
                None => {
                    eprintln!("--out needs a directory\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            p if PART_ORDER.contains(&p) => parts.push(p.to_string()),
            other => {
                eprintln!("unknown part or option `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if parts.is_empty() {
        parts = PART_ORDER.iter().map(|s| s.to_string()).collect();
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("bench: needs root (XDP programs, network namespaces)");
        return ExitCode::FAILURE;
    }
    let agent_bin = std::env::var_os("VRRP_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/vrrp-agent"));
    let opts = BenchOptions {
        quick,
        out_dir,
        agent_bin,
    };
    let json = opts.plot_dir().join("results.json");
    let mut results = match Results::load(&json) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = vec![];
    for id in &parts {
        println!("\n==> bench {id}{}", if quick { " (quick)" } else { "" });
        let t0 = std::time::Instant::now();
        // The test-support code panics on setup failures: one part's panic is reported as
        // that part's failure, and the other parts still run.
        let outcome = std::panic::catch_unwind(|| run_part(id, &opts)).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into());
            Err(anyhow::anyhow!("panicked: {msg}"))
        });
        match outcome {
            Ok(section) => {
                print!("{}", section.text());
                for p in &section.plots {
                    if let Err(e) = p.render(&opts.plot_dir()) {
                        println!("  plot: {e}");
                    }
                }
                results.insert(section);
                // Saved after every part: a later part's failure keeps the earlier numbers.
                if let Err(e) = save(&results, &opts) {
                    eprintln!("bench: writing results: {e}");
                    return ExitCode::FAILURE;
                }
                println!("  ({id}: {:.0}s)", t0.elapsed().as_secs_f64());
            }
            Err(e) => {
                println!("  {id}: could not measure: {e:#}");
                failed.push(id.clone());
            }
        }
    }
    if failed.len() < parts.len() {
        println!(
            "\nwrote {}, {} and the plots beside it",
            opts.out_dir.join("BENCHMARKS.md").display(),
            json.display()
        );
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("bench: no numbers for: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

fn save(results: &Results, opts: &BenchOptions) -> anyhow::Result<()> {
    results.save(&opts.plot_dir().join("results.json"))?;
    std::fs::write(
        opts.out_dir.join("BENCHMARKS.md"),
        results.markdown("bench"),
    )?;
    Ok(())
}
