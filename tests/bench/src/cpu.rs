//! Pinning a measuring thread to one CPU, and facts about the kernel's BPF settings that
//! change per-packet numbers (JIT, run-time statistics), read from /proc.

use nix::{
    sched::{CpuSet, sched_getaffinity, sched_setaffinity},
    unistd::Pid,
};

/// The highest-numbered CPU this process may run on (the last one is usually the least busy
/// with interrupts and housekeeping).
pub fn last_allowed_cpu() -> anyhow::Result<usize> {
    let set = sched_getaffinity(Pid::from_raw(0))?;
    (0..CpuSet::count())
        .rev()
        .find(|c| set.is_set(*c).unwrap_or(false))
        .ok_or_else(|| anyhow::anyhow!("no CPU in this process's affinity mask"))
}

/// Pins the calling thread to `cpu`.
pub fn pin_current_thread(cpu: usize) -> anyhow::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)
        .map_err(|e| anyhow::anyhow!("pinning to CPU {cpu}: {e}"))
}

/// A sysctl under /proc/sys as text (`None` when unreadable).
pub fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// One sentence on the BPF JIT and run-time statistics (both change per-packet costs).
pub fn bpf_settings() -> String {
    format!(
        "net.core.bpf_jit_enable = {}, kernel.bpf_stats_enabled = {}",
        sysctl("net/core/bpf_jit_enable").unwrap_or_else(|| "unknown".into()),
        sysctl("kernel/bpf_stats_enabled").unwrap_or_else(|| "unknown".into())
    )
}

/// CPU time used so far by `ksoftirqd/<cpu>`, the thread that takes over softirq work (such
/// as NAPI polls) that could not be done right away on that CPU. `None` when not found.
pub fn ksoftirqd_time(cpu: usize) -> Option<std::time::Duration> {
    let name = format!("ksoftirqd/{cpu}");
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let dir = entry.path();
        if std::fs::read_to_string(dir.join("comm")).is_ok_and(|c| c.trim() == name) {
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            // Fields after the parenthesized command: state is field 3, utime 14, stime 15.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let used: u64 =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            return Some(std::time::Duration::from_secs_f64(
                used as f64 / ticks as f64,
            ));
        }
    }
    None
}
