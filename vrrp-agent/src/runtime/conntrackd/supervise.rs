//! Keeps one conntrackd running in a router namespace: a thread of its own enters the
//! namespace, writes the configuration, removes a lock file and control socket a killed run
//! left (as Neutron's `ConntrackdManager` does before it starts one), starts `conntrackd -C
//! FILE` in the foreground and waits for it; when it dies it is started again after a delay
//! that doubles from 100 ms to 10 s (back to 100 ms once a run lasted a minute). conntrackd
//! gets SIGTERM when this thread ends (the parent-death signal), so it never outlives the
//! agent, not even a `kill -9` of it. Stopping sends it SIGTERM (it removes its lock file and
//! socket itself), then SIGKILL if it does not go.

use std::{
    fs::OpenOptions,
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    sync::{Arc, Condvar, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use nix::{
    sys::{
        signal::{Signal, kill},
        wait::{Id, WaitPidFlag, waitid},
    },
    unistd::Pid,
};

use super::conf::Conf;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(10);
/// A run this long resets the delay.
const STABLE: Duration = Duration::from_secs(60);
/// How long a replacement waits for the conntrackd it replaces to be gone (it shares its
/// files) before it kills it.
const HANDOVER: Duration = Duration::from_secs(3);

/// What the thread and its handle share.
#[derive(Default)]
struct State {
    /// conntrackd's pid while it runs (or is a zombie not yet reaped: never a reused pid).
    pid: Option<i32>,
    stopping: bool,
    /// The thread is done: no conntrackd of it runs any more.
    exited: bool,
    /// How many times it was started.
    starts: u64,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Signals conntrackd if it runs.
    fn signal(&self, sig: Signal) {
        let s = self.lock();
        if let Some(pid) = s.pid {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    /// Waits until the thread is done, at most `timeout`; whether it is.
    fn wait_exited(&self, timeout: Duration) -> bool {
        let s = self.lock();
        let (s, _) = self
            .changed
            .wait_timeout_while(s, timeout, |s| !s.exited)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.exited
    }

    /// Sleeps `d` unless stopped meanwhile; whether to go on.
    fn pause(&self, d: Duration) -> bool {
        let s = self.lock();
        let (s, _) = self
            .changed
            .wait_timeout_while(s, d, |s| !s.stopping)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        !s.stopping
    }
}

/// The handle of one supervised conntrackd. Dropping it stops it (without waiting).
pub struct Supervisor {
    shared: Arc<Shared>,
    _thread: Option<JoinHandle<()>>,
}

/// A stopped supervisor, to wait for (its conntrackd shares files with a successor).
#[derive(Clone)]
pub struct Stopped(Arc<Shared>);

impl Stopped {
    /// Waits (blocking) until its conntrackd is gone, killing it after `grace`.
    pub fn wait(&self, grace: Duration) {
        if !self.0.wait_exited(grace) {
            tracing::warn!(?grace, "conntrackd did not stop after SIGTERM; killing it");
            self.0.signal(Signal::SIGKILL);
            self.0.wait_exited(grace);
        }
    }
}

impl Supervisor {
    /// Starts supervising conntrackd for `conf` in `netns` (after `previous`, the one it
    /// replaces, is gone).
    pub fn start(netns: Option<String>, conf: Conf, previous: Option<Stopped>) -> Self {
        let shared = Arc::new(Shared::default());
        let inner = Arc::clone(&shared);
        let name = format!(
            "conntrackd-{}",
            netns
                .as_deref()
                .unwrap_or("-")
                .chars()
                .take(4)
                .collect::<String>()
        );
        let thread = std::thread::Builder::new()
            .name(name)
            .stack_size(256 * 1024)
            .spawn(move || {
                if let Some(p) = previous {
                    p.wait(HANDOVER);
                }
                supervise(netns.as_deref(), &conf, &inner);
                inner.lock().exited = true;
                inner.changed.notify_all();
            });
        match thread {
            Ok(t) => Self {
                shared,
                _thread: Some(t),
            },
            Err(e) => {
                tracing::error!("cannot start the thread supervising conntrackd: {e}");
                shared.lock().exited = true;
                Self {
                    shared,
                    _thread: None,
                }
            }
        }
    }

    /// Asks conntrackd to stop (SIGTERM) and the supervision to end; see [`Stopped::wait`].
    pub fn stop(&self) -> Stopped {
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
        self.shared.signal(Signal::SIGTERM);
        Stopped(Arc::clone(&self.shared))
    }

    /// conntrackd's pid, while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.shared.lock().pid
    }

    /// How many times conntrackd was started.
    pub fn starts(&self) -> u64 {
        self.shared.lock().starts
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        drop(self.stop());
    }
}

fn supervise(netns: Option<&str>, conf: &Conf, shared: &Shared) {
    let ns = netns.unwrap_or("-");
    if let Some(name) = netns {
        // This thread is conntrackd's parent: in the namespace, conntrackd is too.
        let entered = crate::netns::open(name).and_then(|handle| {
            nix::sched::setns(&handle, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|error| {
                crate::netns::NetnsError::Enter {
                    name: name.to_string(),
                    error,
                }
            })
        });
        if let Err(e) = entered {
            tracing::error!(netns = ns, "conntrack_sync: conntrackd not started: {e}");
            return;
        }
    }
    let mut delay = FIRST_DELAY;
    loop {
        if shared.lock().stopping {
            return;
        }
        let started = Instant::now();
        match run_once(conf, shared) {
            Ok(None) => return,
            Ok(Some(status)) => tracing::warn!(
                netns = ns,
                %status,
                log = %conf.log_file().display(),
                "conntrack_sync: conntrackd exited; starting it again in {delay:?}"
            ),
            Err(e) => tracing::warn!(
                netns = ns,
                "conntrack_sync: cannot start conntrackd ({e}); trying again in {delay:?}"
            ),
        }
        if started.elapsed() >= STABLE {
            delay = FIRST_DELAY;
        }
        if !shared.pause(delay) {
            return;
        }
        delay = (delay * 2).min(MAX_DELAY);
    }
}

/// Starts conntrackd and waits for it: its exit status, or `None` when it was stopped.
fn run_once(conf: &Conf, shared: &Shared) -> std::io::Result<Option<std::process::ExitStatus>> {
    std::fs::create_dir_all(&conf.dir)?;
    std::fs::write(conf.file(), conf.text())?;
    for leftover in [conf.lock_file(), conf.socket()] {
        match std::fs::remove_file(&leftover) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    // What it prints before its log file is open (configuration errors) goes there too.
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(conf.log_file())?;
    let parent = nix::unistd::getpid();
    let mut cmd = Command::new("conntrackd");
    cmd.arg("-C")
        .arg(conf.file())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: runs in the child between fork and exec, where only async-signal-safe calls
    // are allowed: prctl(PR_SET_PDEATHSIG) and getppid are plain system calls, and the
    // closure allocates nothing. The parent-death signal ends conntrackd when this thread
    // (its parent) ends, also when the agent is killed; if the agent is gone already, the
    // child does not start.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other("the agent is gone"));
            }
            Ok(())
        });
    }
    let mut child = {
        let mut s = shared.lock();
        if s.stopping {
            return Ok(None);
        }
        let child = cmd.spawn()?;
        s.pid = i32::try_from(child.id()).ok();
        s.starts += 1;
        child
    };
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    // Waits for the exit without reaping (the pid stays ours while `stop` may signal it).
    while let Err(nix::errno::Errno::EINTR) =
        waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
    {}
    let stopping = {
        let mut s = shared.lock();
        s.pid = None;
        s.stopping
    };
    let status = child.wait()?;
    Ok((!stopping).then_some(status))
}
