//! One network node run the way Neutron runs keepalived: per router namespace, its own
//! keepalived.conf and `ip netns exec <ns> keepalived -P -f <conf> -p <pid> -r <vrrp pid>`.
//! With the real keepalived that daemonizes and forks a VRRP child (two processes per
//! router); with ours (a `keepalived` link to vrrp-agent in the node's folder, the node's own
//! settings file) it is one small process per router plus the node agent the first one
//! starts. Every process whose command line names this node's folder is stopped on drop
//! (SIGTERM, then SIGKILL), also on error; leftovers of a crashed earlier bench run are killed
//! before starting.

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
    /// The `keepalived` to run: Debian's, or a link to vrrp-agent in `dir`.
    program: PathBuf,
    /// Ours: the settings file its processes read (node model, the node's own socket).
    settings: Option<PathBuf>,
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
    procfs::stat(pid).is_some_and(|s| s.comm == "keepalived" || s.comm == "vrrp-agent")
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
            program: PathBuf::from("keepalived"),
            settings: None,
        })
    }

    /// A node whose `keepalived` is vrrp-agent (`agent`) in the node process model with XDP,
    /// with a node agent of its own (its socket, log and pins named after the folder).
    pub fn start_empty_ours(dir: &Path, agent: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("bin"))?;
        let program = dir.join("bin").join("keepalived");
        std::os::unix::fs::symlink(agent, &program)?;
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("node")
            .to_string();
        let settings = dir.join("settings.toml");
        std::fs::write(
            &settings,
            format!(
                "process_model = \"node\"\ndataplane = \"xdp\"\n\
                 node_socket = \"/run/vrrp-agent/{name}.ctl\"\nnode_log = \"{}\"\n",
                dir.join("node.log").display()
            ),
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            routers: Vec::new(),
            program,
            settings: Some(settings),
        })
    }

    /// The node agent's control socket (ours).
    fn node_socket(&self) -> Option<PathBuf> {
        self.settings.as_ref()?;
        let name = self.dir.file_name()?.to_str()?;
        Some(PathBuf::from(format!("/run/vrrp-agent/{name}.ctl")))
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
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns])
                .arg(&self.program)
                .args(["-P", "-f"])
                .arg(&conf)
                .arg("-p")
                .arg(&r.pid_file)
                .arg("-r")
                .arg(&r.vrrp_pid_file);
            if let Some(settings) = &self.settings {
                cmd.env("VRRP_AGENT_SETTINGS", settings);
            }
            let out = cmd.output().context("running ip netns exec keepalived")?;
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
        let mut node_agent_told = false;
        loop {
            // Ours: once every router is released, the node agent goes too.
            if !node_agent_told
                && let Some(socket) = self.node_socket()
                && self
                    .routers
                    .iter()
                    .all(|r| Self::pid_in(&r.pid_file).is_none_or(|p| !procfs::alive(p)))
            {
                if let Some(p) = Self::pid_in(&socket.with_extension("pid")) {
                    kill(p, Signal::SIGTERM);
                }
                node_agent_told = true;
            }
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
        if let Some(socket) = self.node_socket() {
            for ext in ["ctl", "lock", "pid"] {
                let _ = std::fs::remove_file(socket.with_extension(ext));
            }
            if let Some(stem) = socket.file_stem() {
                let _ = std::fs::remove_dir_all(Path::new("/sys/fs/bpf/vrrp-xdp").join(stem));
            }
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
