//! The VRRP daemon of one router in a failover trial, either implementation behind one face:
//! vrrp-agent (state from its status socket) or keepalived (state from its notify script), and
//! the faults a trial injects into it.

use std::time::Duration;

use nix::{sys::signal::Signal, unistd::Pid};

use vrrp_tests::{
    agent::Agent,
    keepalived::{self, Keepalived},
    netns::NetNs,
    tempdir::TempDir,
    testbed::{HA_IF, RouterConfig, Testbed},
};

/// Which implementation runs the routers.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Implementation {
    /// vrrp-agent with its XDP data plane (floating IPs translated in XDP).
    VrrpXdp,
    /// keepalived, with Neutron's iptables NAT for the floating IP.
    Keepalived,
}

impl Implementation {
    pub fn name(self) -> &'static str {
        match self {
            Self::VrrpXdp => "vrrp-xdp",
            Self::Keepalived => "keepalived",
        }
    }
}

/// What happens to the master.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Fault {
    /// `kill -9` of the daemon (keepalived: its parent and VRRP child).
    Kill9,
    /// SIGSTOP of the daemon: hung, not dead (resumed after the observation).
    Sigstop,
    /// The master's `ha-` link goes down.
    HaLinkDown,
    /// SIGTERM: the daemon hands over (priority 0) and removes its addresses.
    Graceful,
}

impl Fault {
    pub const ALL: [Fault; 4] = [Self::Kill9, Self::Sigstop, Self::HaLinkDown, Self::Graceful];

    pub fn name(self) -> &'static str {
        match self {
            Self::Kill9 => "kill -9",
            Self::Sigstop => "SIGSTOP",
            Self::HaLinkDown => "ha- link down",
            Self::Graceful => "graceful stop",
        }
    }
}

pub const INSTANCE: &str = "router-1";

pub enum Daemon {
    Agent(Agent),
    Keepalived(Keepalived),
}

impl Daemon {
    /// Starts router `i` of `bed`.
    pub fn start(
        imp: Implementation,
        bed: &Testbed,
        i: usize,
        dir: &TempDir,
        config: &RouterConfig,
    ) -> Self {
        let label = format!("r{}", i + 1);
        match imp {
            Implementation::VrrpXdp => {
                Self::Agent(Agent::run(&label, dir, &bed.agent_config(i, config)))
            }
            Implementation::Keepalived => {
                let notify = keepalived::notify_script(dir, &label);
                let conf = bed.keepalived_config(config, Some(notify.to_str().expect("utf-8")));
                Self::Keepalived(Keepalived::start(&label, &bed.routers[i], dir, &conf))
            }
        }
    }

    /// MASTER, BACKUP, FAULT ... as the daemon reports it.
    pub fn state(&self) -> Option<String> {
        match self {
            Self::Agent(a) => a.instance(INSTANCE).map(|i| i.state),
            Self::Keepalived(k) => k.state(INSTANCE),
        }
    }

    /// Sends `sig` to every process of the daemon at once (keepalived: the process group).
    fn signal_all(&self, sig: Signal) {
        match self {
            Self::Agent(a) => a.signal(sig),
            Self::Keepalived(k) => {
                let _ = nix::sys::signal::kill(Pid::from_raw(-k.pid()), sig);
            }
        }
    }

    /// Injects `fault` into this daemon running router `ns`.
    pub fn inject(&self, fault: Fault, ns: &NetNs) {
        match fault {
            Fault::Kill9 => self.signal_all(Signal::SIGKILL),
            Fault::Sigstop => self.signal_all(Signal::SIGSTOP),
            Fault::HaLinkDown => {
                ns.ip(&["link", "set", HA_IF, "down"]);
            }
            // keepalived's parent passes SIGTERM on to its VRRP child.
            Fault::Graceful => match self {
                Self::Agent(a) => a.signal(Signal::SIGTERM),
                Self::Keepalived(k) => k.signal(Signal::SIGTERM),
            },
        }
    }

    /// Undoes what can be undone before teardown (a stopped daemon is continued so it can be
    /// killed cleanly; the link comes back up).
    pub fn recover(&self, fault: Fault, ns: &NetNs) {
        match fault {
            Fault::Sigstop => self.signal_all(Signal::SIGCONT),
            Fault::HaLinkDown => {
                ns.ip(&["link", "set", HA_IF, "up"]);
            }
            Fault::Kill9 | Fault::Graceful => {}
        }
    }

    /// Waits up to `timeout` for `state`; false if it never came.
    pub fn wait_state(&self, state: &str, timeout: Duration) -> bool {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < timeout {
            if self.state().as_deref() == Some(state) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// The daemon's own log, for a trial that went wrong.
    pub fn logs(&self) -> String {
        match self {
            Self::Agent(a) => a.logs(),
            Self::Keepalived(k) => k.logs(),
        }
    }
}
