//! What one virtual router is configured to be, validated. Plain data: the config layer
//! (TOML, keepalived.conf import) builds it, the state machine only reads it.

use std::{net::IpAddr, time::Duration};

use crate::packet::{Auth, Centisecs, ChecksumForm, Version};

/// A virtual address (`virtual_ipaddress` or `virtual_ipaddress_excluded`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct VirtualAddress {
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// Interface to put it on (default: the instance's interface).
    pub dev: Option<String>,
    /// `scope` as iproute2 spells it (global, link, host, ...).
    pub scope: Option<String>,
    pub label: Option<String>,
    /// `brd` as iproute2 spells it: an IPv4 address, `+` (set host bits) or `-` (clear them).
    pub broadcast: Option<String>,
    /// keepalived's `no_track`: a problem with this address does not fault the instance.
    pub no_track: bool,
}

impl VirtualAddress {
    /// A bare address with a host prefix, on the instance's interface.
    pub fn host(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix_len: if addr.is_ipv4() { 32 } else { 128 },
            dev: None,
            scope: None,
            label: None,
            broadcast: None,
            no_track: false,
        }
    }
}

/// A virtual route (`virtual_routes`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct VirtualRoute {
    pub dst: IpAddr,
    pub prefix_len: u8,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// `scope link` and friends, as iproute2 spells them.
    pub scope: Option<String>,
    /// `protocol static` and friends.
    pub protocol: Option<String>,
    pub table: Option<u32>,
    /// `metric` (also spelt `priority` / `preference`).
    pub metric: Option<u32>,
    /// Preferred source address (`src`).
    pub src: Option<IpAddr>,
    pub no_track: bool,
}

/// Gratuitous ARP / unsolicited NA schedule after becoming master (keepalived's defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GarpConfig {
    /// Frames per address in each batch (`garp_master_repeat`, default 5).
    pub master_repeat: u32,
    /// Delay of the second batch after becoming master (`garp_master_delay`, default 5 s;
    /// zero: no second batch).
    pub master_delay: Duration,
    /// Periodic refresh while master (`garp_master_refresh`, default off).
    pub refresh: Option<Duration>,
    /// Frames per address in each refresh (`garp_master_refresh_repeat`, default 1).
    pub refresh_repeat: u32,
}

impl Default for GarpConfig {
    fn default() -> Self {
        Self {
            master_repeat: 5,
            master_delay: Duration::from_secs(5),
            refresh: None,
            refresh_repeat: 1,
        }
    }
}

/// What `state` says about startup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum InitialState {
    /// Start as backup and wait for a master (Neutron's choice).
    #[default]
    Backup,
    /// Become master at once, as keepalived does for `state MASTER`.
    Master,
}

/// Which checksum form a VRRPv3-over-IPv4 instance sends ([`ChecksumForm`]). It accepts
/// adverts in either form whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChecksumPolicy {
    /// Send the pseudo-header form (what keepalived 2.2 and FRR send and, by default, accept)
    /// until another router's advert arrives in the other form, then send that one: a peer
    /// set to RFC 9568's form refuses the pseudo-header form, and the reverse.
    #[default]
    Auto,
    /// Always send this form.
    Fixed(ChecksumForm),
}

/// A tracked object (interface, script, reachability check) as the state machine sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TrackedObject {
    pub name: String,
    /// keepalived semantics: 0 = the instance goes to FAULT while the object is down;
    /// > 0 = added to the priority while up; < 0 = added (subtracted) while down.
    pub weight: i32,
}

/// Configuration of one virtual router instance. (Not `Serialize`: it holds the VRRPv2
/// password.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    pub name: String,
    pub vrid: u8,
    pub version: Version,
    /// 1-255; 255 means this router owns the addresses.
    pub priority: u8,
    pub advert_interval: Centisecs,
    pub preempt: bool,
    /// With preemption: how long a lower-priority master is tolerated after first seen.
    pub preempt_delay: Duration,
    /// RFC 5798 Accept_Mode: whether the master accepts packets addressed to the virtual
    /// addresses it does not own (passed to the data plane with ownership).
    pub accept_mode: bool,
    pub initial_state: InitialState,
    /// Advertised addresses (`virtual_ipaddress`); at least one.
    pub virtual_addresses: Vec<VirtualAddress>,
    /// Managed on takeover but not advertised (`virtual_ipaddress_excluded`).
    pub excluded_addresses: Vec<VirtualAddress>,
    pub routes: Vec<VirtualRoute>,
    /// VRRPv2 only.
    pub auth: Auth,
    pub garp: GarpConfig,
    pub tracked: Vec<TrackedObject>,
    /// Name of the sync group this instance belongs to: it then becomes master only
    /// together with every other member (see [`SyncGroup`](super::SyncGroup)).
    pub sync_group: Option<String>,
    /// The checksum form of VRRPv3 adverts over IPv4 (`v3_checksum`).
    pub v3_checksum: ChecksumPolicy,
    /// After startup, how long at least to listen as BACKUP before claiming mastership when
    /// no advert arrived (the Master_Down_Timer of RFC 9568 §6.4.1, when longer). Zero: the
    /// RFC's Master_Down_Interval alone.
    pub startup_delay: Duration,
    /// Balance masters across nodes (see [`balance`](super::balance)): the priority becomes
    /// the node's load, and a less loaded node takes the router over (even without
    /// `preempt`). Every router of the VRID must be balanced.
    pub balance: bool,
}

/// A configuration the state machine cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("instance {name}: virtual_router_id 0 is invalid (1-255)")]
    Vrid { name: String },
    #[error("instance {name}: priority 0 is reserved for a resigning master (1-255)")]
    Priority { name: String },
    #[error("instance {name}: advert interval {interval} {why}")]
    Interval {
        name: String,
        interval: Centisecs,
        why: &'static str,
    },
    #[error("instance {name}: no virtual address to advertise")]
    NoAddresses { name: String },
    #[error("instance {name}: advertised addresses mix IPv4 and IPv6 ({addr})")]
    MixedFamilies { name: String, addr: IpAddr },
    #[error("instance {name}: VRRPv2 is IPv4 only")]
    V2Ipv6 { name: String },
    #[error("instance {name}: authentication exists in VRRPv2 only")]
    AuthInV3 { name: String },
    #[error("instance {name}: garp_master_repeat must be at least 1")]
    GarpRepeat { name: String },
    #[error(
        "instance {name}: balance and priority 255 exclude each other (a balanced router's \
         priority is its node's load; an address owner never gives its router away)"
    )]
    BalanceOwner { name: String },
    #[error(
        "instance {name}: balance and sync groups exclude each other (a sync group moves its \
         members together, balancing moves routers one by one)"
    )]
    BalanceSyncGroup { name: String },
}

impl InstanceConfig {
    /// A minimal valid configuration (VRRPv3, priority 100, 1 s, preempt, one address).
    pub fn new(name: &str, vrid: u8, vip: IpAddr) -> Self {
        Self {
            name: name.to_string(),
            vrid,
            version: Version::V3,
            priority: 100,
            advert_interval: Centisecs(100),
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept_mode: false,
            initial_state: InitialState::Backup,
            virtual_addresses: vec![VirtualAddress::host(vip)],
            excluded_addresses: Vec::new(),
            routes: Vec::new(),
            auth: Auth::None,
            garp: GarpConfig::default(),
            tracked: Vec::new(),
            sync_group: None,
            v3_checksum: ChecksumPolicy::Auto,
            startup_delay: Duration::ZERO,
            balance: false,
        }
    }

    /// Advertised and excluded addresses: everything a master configures.
    pub fn all_addresses(&self) -> impl Iterator<Item = &VirtualAddress> + Clone {
        self.virtual_addresses
            .iter()
            .chain(&self.excluded_addresses)
    }

    /// True for IPv6 instances (decided by the advertised addresses).
    pub fn is_ipv6(&self) -> bool {
        self.virtual_addresses
            .first()
            .is_some_and(|a| a.addr.is_ipv6())
    }

    /// Checks everything the state machine relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name = self.name.clone();
        if self.vrid == 0 {
            return Err(ConfigError::Vrid { name });
        }
        if self.priority == 0 {
            return Err(ConfigError::Priority { name });
        }
        let interval_err = |why| ConfigError::Interval {
            name: self.name.clone(),
            interval: self.advert_interval,
            why,
        };
        match self.version {
            Version::V3 => {
                if self.advert_interval.get() == 0 || self.advert_interval > Centisecs::V3_MAX {
                    return Err(interval_err("must be 0.01 to 40.95 s for VRRPv3"));
                }
                if self.auth != Auth::None {
                    return Err(ConfigError::AuthInV3 { name });
                }
            }
            Version::V2 => {
                if !matches!(self.advert_interval.whole_secs(), Some(1..=255)) {
                    return Err(interval_err(
                        "must be whole seconds from 1 to 255 for VRRPv2",
                    ));
                }
            }
        }
        let Some(first) = self.virtual_addresses.first() else {
            return Err(ConfigError::NoAddresses { name });
        };
        if let Some(other) = self
            .virtual_addresses
            .iter()
            .find(|a| a.addr.is_ipv4() != first.addr.is_ipv4())
        {
            return Err(ConfigError::MixedFamilies {
                name,
                addr: other.addr,
            });
        }
        if self.version == Version::V2 && first.addr.is_ipv6() {
            return Err(ConfigError::V2Ipv6 { name });
        }
        if self.garp.master_repeat == 0 {
            return Err(ConfigError::GarpRepeat { name });
        }
        if self.balance && self.priority == 255 {
            return Err(ConfigError::BalanceOwner { name });
        }
        if self.balance && self.sync_group.is_some() {
            return Err(ConfigError::BalanceSyncGroup { name });
        }
        Ok(())
    }
}
