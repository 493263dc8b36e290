//! Child processes of tests (an agent, a keepalived): copying their output pipes into a log
//! the test can read, and waiting for one to exit and then for those copies to reach end of
//! file, so the last log lines are in before anyone looks.
//!
//! Depends on std only.

use std::{
    io::Read,
    process::{Child, ExitStatus},
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// How long the pipe readers get after the exit: a process the child left behind (a forked
/// daemon, a script) may keep a pipe open, and then the readers never finish.
const DRAIN: Duration = Duration::from_secs(2);

/// Copies everything `from` yields into `sink` (lossy UTF-8) on a thread, until end of file.
pub fn copy_into(mut from: impl Read + Send + 'static, sink: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .expect("log lock")
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
}

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
