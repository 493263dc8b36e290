//! Waiting for a child process (an agent, a keepalived) to exit, and then for the threads that
//! read its pipes to reach end of file, so the last log lines are in before anyone looks.

use std::{
    process::{Child, ExitStatus},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// How long the pipe readers get after the exit: a process the child left behind (a forked
/// daemon, a script) may keep a pipe open, and then the readers never finish.
const DRAIN: Duration = Duration::from_secs(2);

/// Waits up to `timeout` for `child` to exit, then up to [`DRAIN`] for `readers` to finish.
/// `None`: still running at the deadline.
pub fn wait_exit(
    child: &mut Child,
    readers: &[&JoinHandle<()>],
    timeout: Duration,
) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let drained = Instant::now() + DRAIN;
            while !readers.iter().all(|r| r.is_finished()) && Instant::now() < drained {
                std::thread::sleep(Duration::from_millis(5));
            }
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
