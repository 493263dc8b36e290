//! States of a virtual router and the reasons for moving between them (for logs and status).

use std::{fmt, net::IpAddr};

/// RFC 5798 states plus keepalived's FAULT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not running (before startup, after shutdown).
    Initialize,
    Backup,
    Master,
    /// A tracked object without weight failed (or the sync group is in fault): the router
    /// neither owns the addresses nor takes part in the election.
    Fault,
}

impl State {
    /// keepalived's spelling, as notify scripts and state files expect it.
    pub const fn keepalived_name(self) -> &'static str {
        match self {
            State::Initialize => "STOP",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        })
    }
}

/// Why a transition happened.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Startup as address owner (priority 255).
    StartupOwner,
    /// Startup with `state MASTER` configured.
    StartupWantMaster,
    /// Startup: wait for a master as backup.
    Startup,
    /// Restarted while master, with the data-plane lease still valid.
    Resumed,
    /// No advert from a master for Master_Down_Interval.
    MasterDown,
    /// The master resigned (priority 0) and Skew_Time passed without another master.
    MasterResigned { master: IpAddr },
    /// An advert with a higher priority arrived while master.
    HigherPriority { from: IpAddr, priority: u8 },
    /// An advert with our priority from a higher primary address arrived while master.
    HigherAddress { from: IpAddr, priority: u8 },
    /// Orderly shutdown.
    Shutdown,
    /// A tracked object without weight went down.
    Fault { object: String },
    /// Every failed tracked object is up again.
    FaultCleared,
    /// Another member of the sync group moved.
    SyncGroup { group: String, member: String },
    /// Balancing: took the router from `from`, whose node was master for `from_load`
    /// balanced routers; this node is now master for `to_load`.
    Balance {
        from: IpAddr,
        from_load: usize,
        to_load: usize,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::StartupOwner => write!(f, "startup as address owner (priority 255)"),
            Reason::StartupWantMaster => write!(f, "startup with state MASTER configured"),
            Reason::Startup => write!(f, "startup, waiting for a master"),
            Reason::Resumed => write!(
                f,
                "agent restarted while master; the data-plane lease was still valid"
            ),
            Reason::MasterDown => write!(f, "no advert from a master for the master-down interval"),
            Reason::MasterResigned { master } => {
                write!(
                    f,
                    "master {master} resigned (priority 0) and nobody took over within skew time"
                )
            }
            Reason::HigherPriority { from, priority } => {
                write!(f, "advert from {from} with higher priority {priority}")
            }
            Reason::HigherAddress { from, priority } => write!(
                f,
                "advert from {from} with equal priority {priority} and a higher address"
            ),
            Reason::Shutdown => write!(f, "shutdown"),
            Reason::Fault { object } => write!(f, "tracked object {object} is down"),
            Reason::FaultCleared => write!(f, "all tracked objects are up again"),
            Reason::SyncGroup { group, member } => {
                write!(f, "sync group {group}: member {member} moved")
            }
            Reason::Balance {
                from,
                from_load,
                to_load,
            } => write!(
                f,
                "balance: took the router from {from}, master for {from_load} routers; \
                 this node is now master for {to_load}"
            ),
        }
    }
}
