//! `conntrack_sync`: one conntrackd per router namespace, so connections the router tracks
//! (its SNAT above all: Neutron's default `--random-fully` picks ports a new master could not
//! guess) survive a failover. Files: `conf` (the configuration, Neutron's shape), `supervise`
//! (the process: started in the namespace, restarted when it dies, stopped with the agent),
//! `control` (what each transition asks of it, in Neutron's order). The engine's side, which
//! holds a takeover until the commit is done, is `super::conntrack_sync`.

mod conf;
mod control;
mod supervise;

pub use conf::{Conf, Transport};
pub use control::{ControlError, Request};
pub use supervise::Stopped;

use tokio::sync::mpsc;

/// One namespace's conntrackd: the supervised process and the queue of its requests.
pub struct Daemon {
    pub conf: Conf,
    supervisor: supervise::Supervisor,
    requests: mpsc::UnboundedSender<Request>,
}

impl Daemon {
    /// Starts conntrackd for `conf` in `netns`, after `previous` (the one it replaces, which
    /// shares its files) is gone.
    pub fn start(netns: Option<String>, conf: Conf, previous: Option<Stopped>) -> Self {
        let requests = control::spawn(netns.clone(), conf.file(), conf.socket());
        let supervisor = supervise::Supervisor::start(netns, conf.clone(), previous);
        Self {
            conf,
            supervisor,
            requests,
        }
    }

    pub fn request(&self, r: Request) {
        let _ = self.requests.send(r);
    }

    /// Stops it (SIGTERM); wait on the result for it to be gone.
    pub fn stop(self) -> Stopped {
        self.supervisor.stop()
    }

    /// conntrackd's pid while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.supervisor.pid()
    }

    /// How many times conntrackd was started (1 unless it died).
    pub fn starts(&self) -> u64 {
        self.supervisor.starts()
    }
}
