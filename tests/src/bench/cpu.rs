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
