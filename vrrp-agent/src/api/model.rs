//! The status report: what `vrrp-agent status [--json]` shows. Serializable both ways so the
//! client can read what the server wrote.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fsm::Counters;

/// One agent's status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub agent: AgentInfo,
    pub instances: Vec<InstanceReport>,
    /// The XDP fast path per router namespace (empty without the XDP data plane).
    #[serde(default)]
    pub fastpath: Vec<FastPathReport>,
    /// Balancing of masters across nodes (`None`: no balanced instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<BalanceReport>,
    /// The conntrackd of each namespace with `conntrack_sync` (empty without it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conntrackd: Vec<ConntrackdReport>,
}

/// This agent's share of balancing (`fsm::balance`): how many balanced routers it is master
/// for, the move in progress and the last move it made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BalanceReport {
    /// Balanced instances.
    pub balanced: usize,
    /// Of those, the ones in MASTER: the load this node advertises.
    pub masters: usize,
    pub hysteresis: u8,
    /// The configured cooldown between moves (`None`: 2 master-down intervals).
    pub cooldown_secs: Option<f64>,
    /// The instance whose move is in progress.
    pub moving: Option<String>,
    /// Balance takeovers since the agent started.
    pub moves: u64,
    pub last_move: Option<BalanceMoveReport>,
}

/// A balance takeover: the router `instance` taken from `from`, whose node was master for
/// `from_load` routers; this node is master for `to_load` with it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BalanceMoveReport {
    pub instance: String,
    pub vrid: u8,
    pub from: String,
    pub from_load: usize,
    pub to_load: usize,
    pub seconds_ago: f64,
}

/// One namespace's conntrackd (`conntrack_sync`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConntrackdReport {
    pub netns: Option<String>,
    /// Its pid while it runs.
    pub pid: Option<i32>,
    /// How many times the agent started it (more than 1: it died and was started again).
    pub starts: u64,
    /// Its configuration file.
    pub config: String,
}

/// The XDP fast path of one router namespace: switched on or not, what the analysis of the
/// namespace's own rules found eligible, and why the rest stays on the kernel path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FastPathReport {
    pub netns: Option<String>,
    /// `fast_path` in the configuration (or the keepalived entry point's settings).
    pub enabled: bool,
    /// One line: what is on, and the first reason something is off.
    pub summary: String,
    pub floating_ips: Vec<FloatingIpReport>,
    /// Interfaces between which plain routing is forwarded by XDP.
    pub route_ports: Vec<String>,
    /// Destinations the fast path leaves to the kernel because a rule names them.
    pub kernel_addrs: Vec<String>,
    /// Router interfaces that do not take frames redirected by XDP (a veth whose peer runs
    /// no NAPI): the fast path cannot forward into them.
    pub egress_without_xdp: Vec<String>,
    /// Reasons that keep every class on the kernel path (policy routing, IPsec, ...), and
    /// problems reading the namespace's state.
    pub blockers: Vec<String>,
    /// When the namespace's state was last read and analysed (ms since the epoch).
    pub analysed_unix_ms: u64,
}

/// One floating IP found in the namespace's NAT rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FloatingIpReport {
    pub floating: String,
    pub fixed: String,
    pub external: Option<String>,
    pub internal: Option<String>,
    /// The fast path translates and forwards it (switched on, eligible, owned).
    pub fast: bool,
    pub eligible: bool,
    /// Why it is not eligible: the table, chain and rule, or the setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub version: String,
    pub pid: u32,
    pub config: String,
    pub uptime_secs: f64,
    /// How the data plane runs ("xdp native on 3 interfaces", "none", ...).
    pub dataplane: String,
    /// Where the XDP data plane's maps and links are pinned (`None`: no XDP data plane), as
    /// this agent sees it: a path under `/proc/self/` is through its own descriptors
    /// (`dataplane::pin_root`). `dataplane-stats` reads the counters there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_dir: Option<std::path::PathBuf>,
    /// The data plane's frame counters by kind (malformed, unknown VRID, drops, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataplane_counters: Option<BTreeMap<String, u64>>,
    /// The keepalived entry point's settings in force (file and values), when it started
    /// this agent or router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
    /// For a router the node agent runs: the pid of the `keepalived` process that registered
    /// it (`pid` is then the node agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalived_pid: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceReport {
    pub name: String,
    pub netns: Option<String>,
    pub interface: String,
    /// With `use_vmac`: the macvlan carrying the instance's addresses (on `interface`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmac: Option<String>,
    pub vrid: u8,
    pub version: u8,
    pub family: String,
    /// MASTER, BACKUP, FAULT or INIT.
    pub state: String,
    pub priority: u8,
    pub base_priority: u8,
    /// The current master's address, if known (ours when master).
    pub master: Option<String>,
    pub master_is_self: bool,
    pub advert_interval_ms: u64,
    pub master_advert_interval_ms: u64,
    pub last_transition: Option<TransitionReport>,
    pub tracked: Vec<TrackedReport>,
    pub counters: CountersReport,
    /// With `auth_type AH`: the AH sequence number last sent or accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ah_sequence: Option<u32>,
    /// VRRPv3 over IPv4: the checksum form our adverts have now (`pseudo_header` or
    /// `message_only`; with `v3_checksum = "auto"` the one the other routers use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v3_checksum: Option<String>,
    /// Data-plane counters for this instance, when the XDP program runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataplane: Option<BTreeMap<String, u64>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransitionReport {
    pub from: String,
    pub to: String,
    pub reason: String,
    pub seconds_ago: f64,
    pub unix_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackedReport {
    pub name: String,
    pub up: bool,
    pub weight: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountersReport {
    pub adverts_rx: u64,
    pub adverts_tx: u64,
    pub became_master: u64,
    pub released_master: u64,
    pub priority_zero_rx: u64,
    pub priority_zero_tx: u64,
    pub rx_errors: BTreeMap<String, u64>,
}

impl From<&Counters> for CountersReport {
    fn from(c: &Counters) -> Self {
        Self {
            adverts_rx: c.adverts_rx,
            adverts_tx: c.adverts_tx,
            became_master: c.became_master,
            released_master: c.released_master,
            priority_zero_rx: c.priority_zero_rx,
            priority_zero_tx: c.priority_zero_tx,
            rx_errors: c
                .rx_errors
                .0
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        }
    }
}
