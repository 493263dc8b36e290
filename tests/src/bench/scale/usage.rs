//! A node's resource usage: its processes' CPU over a window and their memory at its end
//! (RSS, PSS, threads, open files, and the BPF programs and maps they hold in the kernel).

use std::collections::BTreeMap;

use super::procfs::{self, BpfTotals};

/// CPU ticks of each process, now.
pub fn ticks(pids: &[i32]) -> BTreeMap<i32, u64> {
    pids.iter()
        .filter_map(|p| Some((*p, procfs::stat(*p)?.ticks)))
        .collect()
}

/// Percent of one CPU used between two tick samples `secs` apart. A process that appeared
/// in between counts from zero; one that went away is lost (its last ticks are unknown).
pub fn cpu_percent(
    before: &BTreeMap<i32, u64>,
    after: &BTreeMap<i32, u64>,
    secs: f64,
    ticks_per_s: u64,
) -> f64 {
    let used: u64 = after
        .iter()
        .map(|(p, t)| t.saturating_sub(before.get(p).copied().unwrap_or(0)))
        .sum();
    used as f64 / ticks_per_s as f64 / secs * 100.0
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

    #[test]
    fn cpu_percent_over_a_window() {
        let before = BTreeMap::from([(1, 100), (2, 50), (3, 7)]);
        // 1 used 50 ticks, 2 used 0, 3 went away, 4 appeared with 25.
        let after = BTreeMap::from([(1, 150), (2, 50), (4, 25)]);
        let p = cpu_percent(&before, &after, 10.0, 100);
        assert!((p - 7.5).abs() < 1e-9, "{p}");
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
