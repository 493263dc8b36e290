//! The native TOML format as serde types: exactly the keys a file may contain (unknown keys
//! are errors), with spans where later checks need a line. Values that need friendly range
//! messages are read as plain numbers or strings and checked in `convert`/`instance`.
//!
//! Imports `super::either`.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::either::Either;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    #[serde(default)]
    pub global: Option<Global>,
    #[serde(default)]
    pub script: Vec<Spanned<Script>>,
    #[serde(default)]
    pub sync_group: Vec<Spanned<SyncGroup>>,
    #[serde(default)]
    pub instance: Vec<Spanned<Instance>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Global {
    pub router_id: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub status_socket: Option<PathBuf>,
    /// Seconds.
    pub notify_timeout: Option<Spanned<f64>>,
    /// Who notify and check scripts run as (keepalived's `script_user`).
    pub script_user: Option<Spanned<String>>,
    /// Their group (default: the script user's primary group).
    pub script_group: Option<Spanned<String>>,
    /// keepalived's `enable_script_security` (default false).
    pub script_security: Option<bool>,
    /// "xdp" (default) or "none".
    pub dataplane: Option<Spanned<String>>,
    /// "auto" (default), "native" or "generic".
    pub xdp_mode: Option<Spanned<String>>,
    pub bpf_pin_dir: Option<PathBuf>,
    /// Let the XDP program forward traffic the analysis proves equivalent (default false).
    pub fast_path: Option<bool>,
    /// Attach a pass-through XDP program to the veth peers of router ports (default false).
    pub fast_path_peer_napi: Option<bool>,
    /// Seconds a starting instance listens before claiming mastership (default: see
    /// `fsm::default_startup_delay`).
    pub startup_delay: Option<Spanned<f64>>,
    /// Balance masters across nodes, for instances that do not say (default false).
    pub balance: Option<bool>,
    /// A node takes a router when the master's node is master for at least 2 + this many
    /// more balanced routers (default 0).
    pub balance_hysteresis: Option<Spanned<i64>>,
    /// Seconds between a node's balance moves (default: 2 master-down intervals).
    pub balance_cooldown: Option<Spanned<f64>>,
    /// The default of every instance's `conntrack_sync` (default false).
    pub conntrack_sync: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Script {
    pub name: String,
    pub command: Spanned<String>,
    pub interval: Option<Spanned<f64>>,
    pub timeout: Option<Spanned<f64>>,
    pub fall: Option<Spanned<i64>>,
    pub rise: Option<Spanned<i64>>,
    pub weight: Option<Spanned<i64>>,
    /// Who it runs as (default: the global script user).
    pub user: Option<Spanned<String>>,
    /// Its group (default: the user's primary group).
    pub group: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncGroup {
    pub name: String,
    pub members: Vec<Spanned<String>>,
    pub notify: Option<Spanned<String>>,
    pub notify_master: Option<Spanned<String>>,
    pub notify_backup: Option<Spanned<String>>,
    pub notify_fault: Option<Spanned<String>>,
    pub notify_stop: Option<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    Backup,
    Master,
}

/// `auth_type`: what `auth_pass` is (VRRPv2 only).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuthType {
    /// Simple password, sent in clear text (the default).
    Pass,
    /// IPsec AH with HMAC-MD5-96, as keepalived's `auth_type AH`.
    Ah,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Instance {
    pub name: Spanned<String>,
    pub netns: Option<Spanned<String>>,
    pub interface: Spanned<String>,
    pub vrid: Spanned<i64>,
    pub priority: Option<Spanned<i64>>,
    pub version: Option<Spanned<i64>>,
    /// Seconds.
    pub advert_interval: Option<Spanned<f64>>,
    pub preempt: Option<bool>,
    /// Seconds.
    pub preempt_delay: Option<Spanned<f64>>,
    /// Accept_Mode (default true, as keepalived without `vrrp_strict`).
    pub accept: Option<bool>,
    /// VRRPv3 over IPv4: "auto" (default), "pseudo_header" or "message_only".
    pub v3_checksum: Option<Spanned<String>>,
    pub state: Option<State>,
    pub auth_type: Option<Spanned<AuthType>>,
    pub auth_pass: Option<Spanned<String>>,
    pub unicast_src: Option<Spanned<String>>,
    pub mcast_src: Option<Spanned<String>>,
    #[serde(default)]
    pub unicast_peers: Vec<Spanned<String>>,
    #[serde(default)]
    pub virtual_addresses: Vec<Spanned<Either<AddressTable>>>,
    #[serde(default)]
    pub excluded_addresses: Vec<Spanned<Either<AddressTable>>>,
    #[serde(default)]
    pub routes: Vec<Spanned<Either<RouteTable>>>,
    #[serde(default)]
    pub track_interfaces: Vec<Spanned<Either<TrackTable>>>,
    #[serde(default)]
    pub track_scripts: Vec<Spanned<Either<TrackTable>>>,
    #[serde(default)]
    pub track_reachability: Vec<Spanned<Reachability>>,
    #[serde(default)]
    pub floating_ips: Vec<Spanned<FloatingTable>>,
    #[serde(default)]
    pub advert_sources: Vec<Spanned<String>>,
    pub garp: Option<Spanned<Garp>>,
    pub notify: Option<Spanned<String>>,
    pub notify_master: Option<Spanned<String>>,
    pub notify_backup: Option<Spanned<String>>,
    pub notify_fault: Option<Spanned<String>>,
    pub notify_stop: Option<Spanned<String>>,
    /// keepalived's `use_vmac`: `true` (the macvlan is named `vrrp.VRID`) or its name.
    pub use_vmac: Option<Spanned<UseVmac>>,
    /// keepalived's `vmac_xmit_base` (default false).
    pub vmac_xmit_base: Option<Spanned<bool>>,
    /// Balance masters across nodes (default: `[global] balance`).
    pub balance: Option<bool>,
    /// Run a conntrackd in the instance's namespace and commit its connections into the
    /// kernel before taking over (default: `[global] conntrack_sync`, else false).
    pub conntrack_sync: Option<bool>,
}

/// `use_vmac = true` or `use_vmac = "vrrp.1"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum UseVmac {
    Flag(bool),
    Name(String),
}

/// `{ floating = "203.0.113.20", fixed = "10.0.10.5", interface = "qg-1" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FloatingTable {
    pub floating: String,
    pub fixed: String,
    pub interface: String,
}

/// `{ address = "10.0.0.1/24", dev = "qr-1", scope = "link", label = "...", broadcast = "+",
/// no_track = true }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressTable {
    pub address: String,
    pub dev: Option<String>,
    pub scope: Option<String>,
    pub label: Option<String>,
    pub broadcast: Option<String>,
    #[serde(default)]
    pub no_track: bool,
}

/// `{ destination = "0.0.0.0/0", via = "...", dev = "...", ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteTable {
    pub destination: String,
    pub via: Option<String>,
    pub dev: Option<String>,
    pub scope: Option<String>,
    pub protocol: Option<String>,
    pub table: Option<i64>,
    pub metric: Option<i64>,
    pub src: Option<String>,
    #[serde(default)]
    pub no_track: bool,
}

/// `{ name = "qg-1", weight = -10 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrackTable {
    pub name: String,
    pub weight: Option<i64>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Method {
    #[serde(alias = "neighbor")]
    Neighbour,
    Icmp,
}

/// A reachability check of a next hop from inside the instance's namespace.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reachability {
    pub name: Option<String>,
    pub address: String,
    pub interface: String,
    pub method: Option<Method>,
    pub interval: Option<f64>,
    pub timeout: Option<f64>,
    pub fall: Option<i64>,
    pub rise: Option<i64>,
    pub weight: Option<i64>,
}

/// Seconds for delays; `refresh = 0` (the default) turns the refresh off.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Garp {
    pub master_delay: Option<f64>,
    pub master_repeat: Option<i64>,
    pub refresh: Option<f64>,
    pub refresh_repeat: Option<i64>,
}
