//! One network node run by keepalived as Neutron runs it: per router namespace, its own
//! keepalived.conf and `ip netns exec <ns> keepalived -P -f <conf> -p <pid> -r <vrrp pid>`,
//! which daemonizes and forks a VRRP child (two processes per router). Every process whose
//! command line names this node's folder is stopped on drop (SIGTERM, then SIGKILL), also on
//! error; leftovers of a crashed earlier bench run are killed before starting.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::Context;
use nix::{sys::signal::Signal, unistd::Pid};

use super::{
    interrupt,
    layout::{self, Node, Router},
    procfs,
};

/// Label of the bench's temporary folders (`/tmp/vxt-<LABEL>-<pid>-<n>`).
pub const DIR_LABEL: &str = "scalebench";

struct KaRouter {
    pid_file: PathBuf,
    vrrp_pid_file: PathBuf,
}

pub struct KeepalivedNode {
    /// Every process of this node has this folder in its command line.
    dir: PathBuf,
    routers: Vec<KaRouter>,
}

/// `keepalived --version`'s first line, or why it cannot run.
pub fn version() -> anyhow::Result<String> {
    let out = Command::new("keepalived")
        .arg("--version")
        .output()
        .context("keepalived not found (install it: `cargo xtask setup`)")?;
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .next()
        .unwrap_or("keepalived")
        .trim()
        .to_string())
}

fn is_keepalived(pid: i32) -> bool {
    procfs::stat(pid).is_some_and(|s| s.comm == "keepalived")
}

fn kill(pid: i32, sig: Signal) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
}

/// Kills keepalived processes started by bench runs that no longer exist.
pub fn reap_stale() {
    let marker = format!("/vxt-{DIR_LABEL}-");
    for (pid, _) in procfs::all_processes() {
        let cmd = procfs::cmdline(pid);
        let Some(rest) = cmd.split(&marker).nth(1) else {
            continue;
        };
        let Some(owner) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if owner != std::process::id() as i32 && !procfs::alive(owner) && is_keepalived(pid) {
            kill(pid, Signal::SIGKILL);
        }
    }
}

impl KeepalivedNode {
    /// A node without routers yet, whose processes will all name `dir` (a fresh folder).
    pub fn start_empty(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            routers: Vec::new(),
        })
    }

    /// Writes the configurations and starts keepalived in each namespace, one after the
    /// other as Neutron does.
    pub fn launch(
        &mut self,
        node: Node,
        namespaces: &[String],
        interval: f64,
    ) -> anyhow::Result<()> {
        for (i, ns) in namespaces.iter().enumerate() {
            interrupt::check()?;
            let rdir = self.dir.join(format!("router-{i}"));
            std::fs::create_dir_all(&rdir)?;
            let conf = rdir.join("keepalived.conf");
            std::fs::write(&conf, layout::keepalived_conf(Router(i), node, interval))?;
            let r = KaRouter {
                pid_file: rdir.join("pid.keepalived"),
                vrrp_pid_file: rdir.join("pid.keepalived-vrrp"),
            };
            let out = Command::new("ip")
                .args(["netns", "exec", ns, "keepalived", "-P", "-f"])
                .arg(&conf)
                .arg("-p")
                .arg(&r.pid_file)
                .arg("-r")
                .arg(&r.vrrp_pid_file)
                .output()
                .context("running ip netns exec keepalived")?;
            self.routers.push(r);
            anyhow::ensure!(
                out.status.success(),
                "keepalived in {ns}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn pid_in(path: &Path) -> Option<i32> {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// Waits until every router has both pid files naming a live keepalived.
    pub fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let end = Instant::now() + timeout;
        loop {
            interrupt::check()?;
            let missing = self
                .routers
                .iter()
                .filter(|r| {
                    ![&r.pid_file, &r.vrrp_pid_file].iter().all(|f| {
                        Self::pid_in(f).is_some_and(|p| procfs::alive(p) && is_keepalived(p))
                    })
                })
                .count();
            if missing == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < end,
                "{missing} of {} keepalived routers have no live parent and VRRP child after {timeout:?}",
                self.routers.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every live keepalived process of this node (and anything they started).
    pub fn pids(&self) -> Vec<i32> {
        let all = procfs::all_processes();
        let marker = self.dir.to_string_lossy().to_string() + "/";
        let roots: Vec<i32> = all
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| procfs::alive(*p) && procfs::cmdline(*p).contains(&marker))
            .collect();
        procfs::descendants(&all, &roots)
            .into_iter()
            .filter(|p| procfs::alive(*p))
            .collect()
    }

    /// SIGTERM to every parent (they stop their VRRP child, which resigns and removes its
    /// addresses); SIGKILL to whatever is left after `timeout`. The time until all were gone.
    pub fn stop(&mut self, timeout: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        let pids = self.pids();
        if pids.is_empty() {
            return None;
        }
        for r in &self.routers {
            if let Some(p) = Self::pid_in(&r.pid_file).filter(|p| pids.contains(p)) {
                kill(p, Signal::SIGTERM);
            }
        }
        loop {
            let left = self.pids();
            if left.is_empty() {
                return Some(t0.elapsed());
            }
            if t0.elapsed() > timeout {
                for p in left {
                    kill(p, Signal::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(200));
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for KeepalivedNode {
    fn drop(&mut self) {
        if !self.pids().is_empty() {
            self.stop(Duration::from_secs(15));
        }
        // SIGKILLed ones may need a moment; try twice more.
        for _ in 0..2 {
            let left = self.pids();
            if left.is_empty() {
                break;
            }
            for p in left {
                kill(p, Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}
