//! Ctrl-C during the scale bench: SIGINT/SIGTERM only set a flag while the bench runs, so it
//! stops at the next check and its guards (processes, namespaces) clean up on the way out.
//! The previous handlers come back when the guard goes.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installed handlers; restores the old ones on drop.
pub struct Guard {
    old: Vec<(Signal, SigAction)>,
}

const SIGNALS: [Signal; 2] = [Signal::SIGINT, Signal::SIGTERM];

impl Guard {
    pub fn install() -> Self {
        INTERRUPTED.store(false, Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let mut old = Vec::new();
        for sig in SIGNALS {
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
            if let Ok(prev) = unsafe { sigaction(sig, &action) } {
                old.push((sig, prev));
            }
        }
        Self { old }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restores the handler that was installed before (default or the caller's).
            let _ = unsafe { sigaction(*sig, prev) };
        }
    }
}

/// Whether Ctrl-C (or SIGTERM) arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// An error when interrupted.
pub fn check() -> anyhow::Result<()> {
    if interrupted() {
        anyhow::bail!("interrupted; cleaning up");
    }
    Ok(())
}

/// Sleeps `d`, waking every 100 ms to notice an interruption.
pub fn sleep(d: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + d;
    loop {
        check()?;
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}
