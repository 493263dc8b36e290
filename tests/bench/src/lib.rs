//! `cargo xtask bench`: the numbers that decide whether vrrp-xdp is worth running, measured the
//! same way every time. Each part (`xdp`, `throughput`, `failover`, `scale`) produces a
//! [`report::Section`]; the runner prints its tables, merges it into `bench/results.json` and
//! re-renders `BENCHMARKS.md` and the PNG plots. Benchmarks report numbers; they never fail
//! because a number is bad (only because a measurement could not be made).
//!
//! The crate also holds the tools built on the same test bed: `bench` (this runner), `demo`
//! (`cargo xtask demo`) and `testbed` (`cargo xtask testbed`), in `src/bin/`.
//!
//! May depend on `vrrp-tests` (namespaces, test bed, agents, XDP helpers), `vrrp-agent` and
//! `vrrp-ebpf-common`; nothing depends on it.

pub mod cpu;
pub mod failover;
pub mod fwd_topo;
pub mod machine;
pub mod plot;
pub mod rates;
pub mod report;
pub mod scale;
pub mod stats;
pub mod throughput;
mod throughput_paths;
pub mod xdp;
mod xdp_paths;

use std::path::PathBuf;

/// What every part gets.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Fewer repetitions and shorter windows: for trying the harness, not for publishing.
    pub quick: bool,
    /// Where `BENCHMARKS.md` and `bench/` go (the workspace root).
    pub out_dir: PathBuf,
    /// Directory of the release binaries (agent).
    pub agent_bin: PathBuf,
}

impl BenchOptions {
    /// `full` normally, `quick` with `--quick`.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// Where PNG plots go.
    pub fn plot_dir(&self) -> PathBuf {
        self.out_dir.join("bench")
    }
}
