//! Real `vrrp-agent` processes for end-to-end tests: spawn, read JSON lines from stdout,
//! signal, and wait. The agent's stderr (its logs) is kept and printed if the test fails.
//! The process is killed on drop.

use std::{
    io::{BufRead, BufReader, Read},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        mpsc::{self, Receiver, RecvTimeoutError},
    },
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};

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
pub struct AgentProcess {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// The thread copying stderr: done once the agent (and anything it forked that kept
    /// stderr open) has closed it.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    label: String,
}

impl AgentProcess {
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
        let sink = Arc::clone(&stderr);
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            lines,
            stderr,
            stderr_reader: Some(stderr_reader),
            label: label.to_string(),
        }
    }

    /// The agent's log output so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
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

    /// Sends a signal to the agent.
    pub fn signal(&self, sig: Signal) {
        nix::sys::signal::kill(Pid::from_raw(self.child.id() as i32), sig)
            .unwrap_or_else(|e| panic!("{}: kill({sig}): {e}", self.label));
    }

    /// Waits for the agent to exit and for its last log lines to be read (a forked daemon
    /// may keep stderr open: then at most 2 s more); panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let readers: Vec<_> = self.stderr_reader.iter().collect();
        let exited = crate::child::wait_exit(&mut self.child, &readers, timeout);
        let status = exited.unwrap_or_else(|| {
            panic!(
                "{}: still running {timeout:?} after being asked to stop\nagent logs:\n{}",
                self.label,
                self.logs()
            )
        });
        if self.stderr_reader.as_ref().is_some_and(|r| r.is_finished()) {
            let _ = self.stderr_reader.take().map(|r| r.join());
        }
        status
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- {} logs ----\n{}", self.label, self.logs());
        }
    }
}
