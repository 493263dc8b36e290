//! Real agents in end-to-end tests: a config file in a private temporary folder, the agent
//! process (`vrrp-agent run -c ...`), and its status read over its own socket.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use vrrp_agent::api::{
    client,
    model::{InstanceReport, StatusReport},
};

use crate::{agent::AgentProcess, topo::wait_for};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "vxt-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl TempDir {
    /// A private folder on the bpf filesystem for this test's pinned maps and links.
    pub fn bpf_dir(&self) -> PathBuf {
        PathBuf::from("/sys/fs/bpf").join(self.0.file_name().expect("named"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // Pins a killed agent left behind.
        let _ = std::fs::remove_dir_all(self.bpf_dir());
    }
}

/// A running `vrrp-agent run`.
pub struct RunningAgent {
    pub process: AgentProcess,
    pub socket: PathBuf,
    pub config: PathBuf,
}

impl RunningAgent {
    /// Writes `toml` and starts the agent with it, its status socket `<dir>/<label>.sock`,
    /// its state in `<dir>/<label>-state` and its pins in [`Self::pin_dir`].
    pub fn start(label: &str, dir: &TempDir, toml: &str) -> Self {
        Self::start_with(label, dir, toml, &[], &[])
    }

    /// As [`Self::start`], with more arguments for `vrrp-agent` and `env` set.
    pub fn start_with(
        label: &str,
        dir: &TempDir,
        toml: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let config = dir.path(&format!("{label}.toml"));
        std::fs::write(&config, toml).expect("write config");
        let socket = dir.path(&format!("{label}.sock"));
        let state = dir.path(&format!("{label}-state"));
        let pins = Self::pin_dir(dir, label);
        let mut args = vec![
            "run",
            "-c",
            config.to_str().unwrap(),
            "--status-socket",
            socket.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--bpf-pin-dir",
            pins.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let process = AgentProcess::spawn_with_env(label, &args, env);
        Self {
            process,
            socket,
            config,
        }
    }

    /// The pin folder of the agent `label` started in `dir`.
    pub fn pin_dir(dir: &TempDir, label: &str) -> PathBuf {
        dir.bpf_dir().join(label)
    }

    pub fn status(&self) -> Option<StatusReport> {
        client::query(&self.socket).ok()
    }

    pub fn instance(&self, name: &str) -> Option<InstanceReport> {
        self.status()?
            .instances
            .into_iter()
            .find(|i| i.name == name)
    }

    /// Waits until instance `name` is in `state` (MASTER, BACKUP, FAULT).
    pub fn wait_state(&self, name: &str, state: &str, timeout: Duration) -> InstanceReport {
        let what = format!("{} {name} in {state}", self.socket.display());
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(timeout, &what, || {
                self.instance(name).filter(|i| i.state == state)
            })
        }));
        match found {
            Ok(i) => i,
            Err(_) => panic!(
                "{what}: timed out; last status {:?}\nagent logs:\n{}",
                self.instance(name),
                self.process.logs()
            ),
        }
    }
}

/// The state file of `instance` in the agent's state folder.
pub fn state_file(dir: &TempDir, label: &str, instance: &str) -> Option<String> {
    std::fs::read_to_string(
        dir.path(&format!("{label}-state"))
            .join(format!("{instance}.state")),
    )
    .ok()
}

/// Lines a notify script appended to `log`.
pub fn notify_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
