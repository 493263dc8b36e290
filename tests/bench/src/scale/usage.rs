//! A node's resource usage: its processes' CPU over a window and their memory at its end
//! (RSS, PSS, threads, open files, and the BPF programs and maps they hold in the kernel).

use std::collections::BTreeMap;

use super::procfs::{self, BpfTotals};

/// A process's CPU time at one moment, both ways the kernel tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// utime + stime in clock ticks: the whole process, but truncated to a tick (10 ms), which
    /// summed over hundreds of mostly idle processes is most of the signal.
    pub ticks: u64,
    /// Exact nanoseconds from `schedstat`, for a single-threaded process (where the main
    /// thread is the process).
    pub exact_ns: Option<u64>,
}

/// CPU time of each process, now.
pub fn cpu(pids: &[i32]) -> BTreeMap<i32, Cpu> {
    pids.iter()
        .filter_map(|p| {
            let st = procfs::stat(*p)?;
            let exact_ns = (st.threads == 1)
                .then(|| procfs::schedstat_ns(*p))
                .flatten();
            Some((
                *p,
                Cpu {
                    ticks: st.ticks,
                    exact_ns,
                },
            ))
        })
        .collect()
}

/// Percent of one CPU used between two samples `secs` apart: exact nanoseconds where both
/// samples have them, ticks otherwise. A process that appeared in between counts from zero;
/// one that went away is lost (its last times are unknown).
pub fn cpu_percent(
    before: &BTreeMap<i32, Cpu>,
    after: &BTreeMap<i32, Cpu>,
    secs: f64,
    ticks_per_s: u64,
) -> f64 {
    let tick_ns = 1e9 / ticks_per_s as f64;
    let used_ns: f64 = after
        .iter()
        .map(|(p, a)| match (before.get(p), a.exact_ns) {
            (Some(b), Some(ns)) if b.exact_ns.is_some() => {
                ns.saturating_sub(b.exact_ns.unwrap_or(0)) as f64
            }
            (Some(b), _) => a.ticks.saturating_sub(b.ticks) as f64 * tick_ns,
            (None, Some(ns)) => ns as f64,
            (None, None) => a.ticks as f64 * tick_ns,
        })
        .sum();
    used_ns / 1e9 / secs * 100.0
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Usage {
    pub processes: usize,
    pub threads: u64,
    pub fds: u64,
    pub rss_kib: u64,
    pub pss_kib: u64,
    /// Distinct BPF programs and maps held by the processes, and their kernel memory.
    pub bpf: BpfTotals,
    /// Percent of one CPU over the window.
    pub cpu_percent: f64,
}

impl Usage {
    /// Memory of `pids` now (CPU left at 0).
    pub fn memory(pids: &[i32]) -> Self {
        let mut u = Self::default();
        let mut bpf = Vec::new();
        for fp in pids.iter().filter_map(|p| procfs::footprint(*p)) {
            u.processes += 1;
            u.threads += fp.threads;
            u.fds += fp.fds;
            u.rss_kib += fp.rss_kib;
            u.pss_kib += fp.pss_kib;
            bpf.extend(fp.bpf);
        }
        u.bpf = procfs::bpf_totals(&bpf);
        u
    }

    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }

    pub fn pss_mib(&self) -> f64 {
        self.pss_kib as f64 / 1024.0
    }

    pub fn bpf_mib(&self) -> f64 {
        self.bpf.memlock_bytes as f64 / 1024.0 / 1024.0
    }

    /// PSS plus the kernel memory of BPF objects: what the node costs, all in.
    pub fn total_mib(&self) -> f64 {
        self.pss_mib() + self.bpf_mib()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks(t: u64) -> Cpu {
        Cpu {
            ticks: t,
            exact_ns: None,
        }
    }

    #[test]
    fn cpu_percent_over_a_window() {
        let before = BTreeMap::from([(1, ticks(100)), (2, ticks(50)), (3, ticks(7))]);
        // 1 used 50 ticks, 2 used 0, 3 went away, 4 appeared with 25.
        let after = BTreeMap::from([(1, ticks(150)), (2, ticks(50)), (4, ticks(25))]);
        let p = cpu_percent(&before, &after, 10.0, 100);
        assert!((p - 7.5).abs() < 1e-9, "{p}");
    }

    #[test]
    fn exact_nanoseconds_win_over_ticks() {
        let exact = |t, ns| Cpu {
            ticks: t,
            exact_ns: Some(ns),
        };
        // 3 ms of CPU that the ticks do not show at all.
        let before = BTreeMap::from([(1, exact(10, 100_000_000))]);
        let after = BTreeMap::from([(1, exact(10, 103_000_000))]);
        let p = cpu_percent(&before, &after, 1.0, 100);
        assert!((p - 0.3).abs() < 1e-9, "{p}");
        // A process that became multi-threaded falls back to ticks.
        let after = BTreeMap::from([(1, ticks(12))]);
        let p = cpu_percent(&before, &after, 1.0, 100);
        assert!((p - 2.0).abs() < 1e-9, "{p}");
    }

    #[test]
    fn totals_in_mib() {
        let u = Usage {
            pss_kib: 2048,
            bpf: BpfTotals {
                programs: 1,
                maps: 2,
                memlock_bytes: 1024 * 1024,
            },
            ..Default::default()
        };
        assert_eq!(u.total_mib(), 3.0);
    }

    #[test]
    fn memory_of_this_process() {
        let u = Usage::memory(&[std::process::id() as i32]);
        assert_eq!(u.processes, 1);
        assert!(u.rss_kib >= u.pss_kib && u.pss_kib > 0 && u.threads >= 1 && u.fds >= 3);
    }
}
