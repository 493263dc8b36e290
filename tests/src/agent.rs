//! Real `vrrp-agent` processes in end-to-end tests, as one type, [`Agent`]: either the daemon
//! (`vrrp-agent run` with a config, status socket, state folder and bpf pins in a test's
//! [`TempDir`]: [`Agent::run`]) or any other command line ([`Agent::spawn`]). Read JSON lines
//! from its stdout, its status over its socket, signal it, wait for its exit. Its stderr (the
//! logs) is kept and printed if the test fails; the process is killed on drop.
//!
//! May depend on `child`, `tempdir`, `topo` (waiting) and vrrp-agent's API client.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        mpsc::{self, Receiver, RecvTimeoutError},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use vrrp_agent::api::{
    client,
    model::{InstanceReport, StatusReport},
};

use crate::{child, tempdir::TempDir, topo::wait_for};

/// Path of the agent binary: `$VRRP_AGENT_BIN` (set by `cargo xtask test`), else the
/// `vrrp-agent` next to this test binary's target folder.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("VRRP_AGENT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> -> target/<profile>/vrrp-agent
    let candidate = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("vrrp-agent"))
        .expect("test binary lives in target/<profile>/deps");
    assert!(
        candidate.is_file(),
        "vrrp-agent binary not found at {}; run the suite with `cargo xtask test` (it builds \
         the agent with the XDP object embedded and sets VRRP_AGENT_BIN)",
        candidate.display()
    );
    candidate
}

/// A running agent.
pub struct Agent {
    label: String,
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// The thread copying stderr: done once the agent (and anything it forked that kept
    /// stderr open) has closed it.
    stderr_reader: Option<JoinHandle<()>>,
    /// The daemon's files, for an agent started with [`Agent::run`].
    daemon: Option<DaemonFiles>,
}

struct DaemonFiles {
    config: PathBuf,
    socket: PathBuf,
}

/// The state folder of the daemon `label` started in `dir` by [`Agent::run`].
fn state_dir(dir: &TempDir, label: &str) -> PathBuf {
    dir.path(&format!("{label}-state"))
}

impl Agent {
    /// Starts `vrrp-agent args...` (with RUST_LOG=info).
    pub fn spawn(label: &str, args: &[&str]) -> Self {
        Self::spawn_with_env(label, args, &[])
    }

    /// Starts `vrrp-agent args...` with RUST_LOG=info and then `env` set.
    pub fn spawn_with_env(label: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(binary())
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start vrrp-agent: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = child::copy_into(
            child.stderr.take().expect("piped stderr"),
            Arc::clone(&stderr),
        );
        Self {
            label: label.to_string(),
            child,
            lines,
            stderr,
            stderr_reader: Some(stderr_reader),
            daemon: None,
        }
    }

    /// Writes `toml` to `dir/<label>.toml` and starts `vrrp-agent run` on it, with its status
    /// socket, state folder and bpf pins ([`Self::pin_dir`]) in `dir` (`[global]`'s status
    /// socket is overridden).
    pub fn run(label: &str, dir: &TempDir, toml: &str) -> Self {
        Self::run_with(label, dir, toml, &[], &[])
    }

    /// As [`Self::run`], with more arguments for `vrrp-agent run` and `env` set.
    pub fn run_with(
        label: &str,
        dir: &TempDir,
        toml: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let config = dir.path(&format!("{label}.toml"));
        std::fs::write(&config, toml).expect("write config");
        let socket = dir.path(&format!("{label}.sock"));
        let state = state_dir(dir, label);
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
        let mut agent = Self::spawn_with_env(label, &args, env);
        agent.daemon = Some(DaemonFiles { config, socket });
        agent
    }

    /// The pin folder [`Self::run`] gives the daemon `label` started in `dir`.
    pub fn pin_dir(dir: &TempDir, label: &str) -> PathBuf {
        dir.bpf_dir().join(label)
    }

    fn daemon(&self) -> &DaemonFiles {
        self.daemon.as_ref().unwrap_or_else(|| {
            panic!(
                "{}: not started with Agent::run, so no config file or status socket",
                self.label
            )
        })
    }

    /// The config file of an agent started with [`Agent::run`] (rewrite it, then SIGHUP).
    pub fn config(&self) -> &Path {
        &self.daemon().config
    }

    /// The status socket of an agent started with [`Agent::run`].
    pub fn socket(&self) -> &Path {
        &self.daemon().socket
    }

    /// The agent's log output so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Its status, if it answers on its socket.
    pub fn status(&self) -> Option<StatusReport> {
        client::query(self.socket()).ok()
    }

    /// The status of instance `name`, if the agent answers and has it.
    pub fn instance(&self, name: &str) -> Option<InstanceReport> {
        self.status()?
            .instances
            .into_iter()
            .find(|i| i.name == name)
    }

    /// Waits until instance `name` is in `state` (MASTER, BACKUP, FAULT).
    pub fn wait_state(&self, name: &str, state: &str, timeout: Duration) -> InstanceReport {
        let what = format!("{} {name} in {state}", self.socket().display());
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
                self.logs()
            ),
        }
    }

    /// Reads stdout lines until one parses as JSON and satisfies `pred`; panics (with the
    /// agent's logs) if none does within `timeout`.
    pub fn wait_json(
        &self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                        if pred(&v) {
                            return v;
                        }
                        last = Some(v);
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: no output line with {what} within {timeout:?}; last line: {last:?}\n\
                     agent logs:\n{}",
                    self.label,
                    self.logs()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: agent closed stdout before {what}; last line: {last:?}\nagent logs:\n{}",
                    self.label,
                    self.logs()
                ),
            }
        }
    }

    /// Whether the agent process still runs (it has not exited; a zombie has).
    pub fn running(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .is_ok_and(|stat| !stat.contains(") Z "))
    }

    /// Sends a signal to the agent.
    pub fn signal(&self, sig: Signal) {
        nix::sys::signal::kill(Pid::from_raw(self.child.id() as i32), sig)
            .unwrap_or_else(|e| panic!("{}: kill({sig}): {e}", self.label));
    }

    /// Waits for the agent to exit and for its last log lines to be read (a forked daemon
    /// may keep stderr open: then at most 2 s more); panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let readers: Vec<_> = self.stderr_reader.iter().collect();
        let exited = child::wait_exit(&mut self.child, &readers, timeout);
        let status = exited.unwrap_or_else(|| {
            panic!(
                "{}: still running {timeout:?} after being asked to stop\nagent logs:\n{}",
                self.label,
                self.logs()
            )
        });
        if self
            .stderr_reader
            .as_ref()
            .is_some_and(std::thread::JoinHandle::is_finished)
        {
            let _ = self.stderr_reader.take().map(std::thread::JoinHandle::join);
        }
        status
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- {} logs ----\n{}", self.label, self.logs());
        }
    }
}

/// The state file of `instance` of the daemon `label` started in `dir` by [`Agent::run`].
pub fn state_file(dir: &TempDir, label: &str, instance: &str) -> Option<String> {
    std::fs::read_to_string(state_dir(dir, label).join(format!("{instance}.state"))).ok()
}

/// Lines a notify script appended to `log`.
pub fn notify_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
