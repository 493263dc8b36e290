//! What the numbers were measured on: CPU, cores, memory, kernel, toolchain, commit, date.
//! Read from /proc, `uname` and git; missing facts are "unknown", never an error.

use std::process::Command;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub rustc: String,
    pub commit: String,
    /// UTC, `YYYY-MM-DD HH:MM`.
    pub date: String,
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Machine {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let memory_kib: f64 = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0.0);
        let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|s| !s.is_empty());
        Self {
            cpu,
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: output("uname", &["-r"]).unwrap_or_else(|| "unknown".into()),
            rustc: output("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            commit: output("git", &["rev-parse", "--short", "HEAD"])
                .map(|c| {
                    if dirty {
                        format!("{c} (+ local changes)")
                    } else {
                        c
                    }
                })
                .unwrap_or_else(|| "unknown".into()),
            date: output("date", &["-u", "+%Y-%m-%d %H:%M"]).unwrap_or_else(|| "unknown".into()),
        }
    }

    /// One line for tables and logs.
    pub fn describe(&self) -> String {
        format!(
            "{} ({} CPUs), {} GiB, Linux {}, {}, commit {}, {} UTC",
            self.cpu, self.cpus, self.memory_gib, self.kernel, self.rustc, self.commit, self.date
        )
    }
}
