//! The validated configuration model both formats produce and the runtime consumes.
//!
//! Imports `crate::fsm` (an instance's protocol part is `fsm::InstanceConfig`).

use std::{net::IpAddr, path::PathBuf, time::Duration};

use crate::fsm::{BalanceSettings, InstanceConfig};

/// Everything one agent runs.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentConfig {
    pub global: GlobalConfig,
    pub instances: Vec<InstanceSpec>,
    /// `vrrp_script` definitions, referenced by name from `InstanceSpec::track`.
    pub scripts: Vec<ScriptSpec>,
    pub sync_groups: Vec<SyncGroupSpec>,
}

/// Settings for the whole agent.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalConfig {
    /// keepalived's `router_id` (informational).
    pub router_id: Option<String>,
    /// Where per-instance state files go (default `/run/vrrp-agent/state`).
    pub state_dir: PathBuf,
    /// Unix socket for `vrrp-agent status` (default `/run/vrrp-agent/agent.sock`).
    pub status_socket: PathBuf,
    /// Time limit for notify scripts (keepalived kills them after this).
    pub notify_timeout: Duration,
    /// Who notify and check scripts run as (keepalived's `script_user USER [GROUP]`); a
    /// `vrrp_script` may name its own ([`ScriptSpec::user`]). `None`: keepalived's default,
    /// the user `keepalived_script` if it exists, else the agent's own user (root), with a
    /// warning. Resolved when the agent starts or reloads (`runtime::script_policy`).
    pub script_user: Option<ScriptUser>,
    /// keepalived's `enable_script_security`: a script that runs as root (or group root)
    /// from a path that users other than root could change (a file or folder on its way not
    /// owned by root, or writable by a group or everyone) is not run. Off: such scripts run,
    /// with a warning naming the path.
    pub script_security: bool,
    /// Whether the XDP data plane enforces ownership (default) or only addresses do.
    pub dataplane: DataplaneMode,
    /// How to attach the XDP program.
    pub xdp_mode: XdpAttach,
    /// Where the data plane's maps and links are pinned (default: a folder per agent under
    /// /sys/fs/bpf/vrrp-xdp), so an agent restart keeps forwarding.
    pub bpf_pin_dir: Option<PathBuf>,
    /// The XDP fast path: the program may forward (and translate floating IPs of) traffic that
    /// the analysis of each router namespace's own rules proves equivalent to the kernel path.
    /// Off: the program only restricts (ownership, fencing, advert checks).
    pub fast_path: bool,
    /// With the fast path on: attach a pass-through XDP program to the veth peers of router
    /// ports that do not take redirected frames yet (a veth takes them only while its peer runs
    /// NAPI), so the fast path can forward into them. Changes devices outside the router
    /// namespace, so it is asked for separately.
    pub fast_path_peer_napi: bool,
    /// Notify and check scripts run inside this named network namespace (through
    /// `ip netns exec`): set by the node agent for a router whose `keepalived` process Neutron
    /// started there, so the scripts see what they would under keepalived.
    pub script_netns: Option<String>,
    /// How long a starting instance listens as BACKUP at least before it claims mastership
    /// (native `startup_delay`, keepalived's `vrrp_startup_delay`). `None`: the default of
    /// [`fsm::default_startup_delay`](crate::fsm::default_startup_delay) per instance.
    pub startup_delay: Option<Duration>,
    /// Whether instances balance their masters across nodes unless they say otherwise
    /// (native `[global] balance`; see [`fsm::balance`](crate::fsm::balance)).
    pub balance: bool,
    /// The node's balancing settings (`balance_hysteresis`, `balance_cooldown`).
    pub balance_settings: BalanceSettings,
    /// The default of every instance's `conntrack_sync` (native `[global] conntrack_sync`;
    /// off).
    pub conntrack_sync: bool,
}

/// Whether the XDP data plane runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataplaneMode {
    /// XDP on every interface of every instance (when the binary carries the program).
    #[default]
    Xdp,
    /// No XDP: like keepalived, ownership is only the addresses on the interfaces.
    None,
}

/// XDP attach mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpAttach {
    /// Native, falling back to generic (with a warning) where a driver lacks it.
    #[default]
    Auto,
    Native,
    Generic,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            router_id: None,
            state_dir: PathBuf::from("/run/vrrp-agent/state"),
            status_socket: PathBuf::from("/run/vrrp-agent/agent.sock"),
            notify_timeout: Duration::from_secs(10),
            script_user: None,
            script_security: false,
            dataplane: DataplaneMode::default(),
            xdp_mode: XdpAttach::default(),
            bpf_pin_dir: None,
            fast_path: false,
            fast_path_peer_napi: false,
            script_netns: None,
            startup_delay: None,
            balance: false,
            balance_settings: BalanceSettings::default(),
            conntrack_sync: false,
        }
    }
}

/// One virtual router: the protocol part for the state machine, plus where and how it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceSpec {
    /// Protocol configuration. Its `tracked` list has one entry per element of `track`, in
    /// the same order (name and weight), and `sync_group` names the group if any.
    pub vrrp: InstanceConfig,
    /// Network namespace (`ip netns` name) the instance lives in; `None`: the agent's own.
    pub netns: Option<String>,
    /// Interface the adverts are sent and received on (also the default `dev` of addresses).
    pub interface: String,
    /// Unicast peers (keepalived's `unicast_peer`); empty: multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// Source address for unicast adverts (keepalived's `unicast_src_ip`).
    pub unicast_src: Option<IpAddr>,
    /// Source address for multicast adverts (keepalived's `mcast_src_ip`, which Neutron
    /// writes); `None`: the interface's primary address.
    pub mcast_src: Option<IpAddr>,
    pub notify: NotifySpec,
    /// What each tracked object is (parallel to `vrrp.tracked`).
    pub track: Vec<TrackSpec>,
    /// Floating IPs the data plane translates 1:1 while this instance is master.
    pub floating_ips: Vec<FloatingIp>,
    /// Adverts are accepted only from these sources (dropped by the XDP program, and by the
    /// agent itself, so also without XDP); empty: from anyone, unless `unicast_peers` is set
    /// (then from them only, as keepalived does).
    pub advert_sources: Vec<IpAddr>,
    /// keepalived's `use_vmac`: the instance's addresses live on a macvlan of `interface`
    /// whose MAC is the RFC 9568 virtual MAC, so the addresses keep their MAC across
    /// failovers (`None`: on `interface` itself, answered with its own MAC).
    pub vmac: Option<VmacSpec>,
    /// `conntrack_sync`: a conntrackd in the instance's namespace keeps the connections the
    /// router tracks in sync with the other routers, and a takeover commits them into the
    /// kernel before it takes the addresses (`runtime::conntrack_sync`). `None`: the node's
    /// default, [`GlobalConfig::conntrack_sync`].
    pub conntrack_sync: Option<bool>,
}

/// keepalived's `use_vmac [NAME]` with `vmac_xmit_base`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmacSpec {
    /// The macvlan's name (keepalived's `vrrp.VRID` unless configured; `config::vmac`).
    pub name: String,
    /// Adverts are sent (and received) on the instance's interface instead of the macvlan.
    pub xmit_base: bool,
}

impl InstanceSpec {
    /// The allow-list of advert sources the data plane enforces (empty: none).
    pub fn advert_allowlist(&self) -> Vec<IpAddr> {
        self.allowlist().to_vec()
    }

    /// Whether an advert from `src` passes the allow-list (the agent's own check, the same
    /// list the data plane enforces).
    pub fn accepts_advert_from(&self, src: IpAddr) -> bool {
        let list = self.allowlist();
        list.is_empty() || list.contains(&src)
    }

    fn allowlist(&self) -> &[IpAddr] {
        if self.advert_sources.is_empty() {
            &self.unicast_peers
        } else {
            &self.advert_sources
        }
    }

    /// The configured source of our adverts: `unicast_src` (else `mcast_src`) with unicast
    /// peers, `mcast_src` without. `None`: the interface's primary address, followed as it
    /// changes. A configured source is fixed, as in keepalived: peers may accept adverts
    /// from it only (keepalived's `check_unicast_src`, our `unicast_peers` allow-list).
    pub fn configured_source(&self) -> Option<IpAddr> {
        if self.unicast_peers.is_empty() {
            self.mcast_src
        } else {
            self.unicast_src.or(self.mcast_src)
        }
    }

    /// The macvlan's MAC with `use_vmac` (RFC 9568 §7.3).
    pub fn vmac_mac(&self) -> Option<[u8; 6]> {
        self.vmac
            .as_ref()
            .map(|_| crate::packet::virtual_mac(self.vrrp.vrid, self.vrrp.is_ipv6()))
    }

    /// Whether the instance syncs connections (`conntrack_sync`), its own setting or the
    /// node's default.
    pub fn syncs_conntrack(&self, global: &GlobalConfig) -> bool {
        self.conntrack_sync.unwrap_or(global.conntrack_sync)
    }

    /// Whether `address` goes on the macvlan (with `use_vmac`): as keepalived, an address of
    /// the instance's family that names no interface or the instance's own.
    pub fn on_vmac(&self, address: &crate::fsm::VirtualAddress) -> bool {
        self.vmac.is_some()
            && address.addr.is_ipv6() == self.vrrp.is_ipv6()
            && address.dev.as_deref().is_none_or(|d| d == self.interface)
    }

    /// Every interface the instance uses, its own first: its VRRP interface, those its
    /// addresses name (`dev`) and its floating IPs' external ones, each once. The data plane
    /// runs on all of them.
    pub fn interfaces(&self) -> Vec<&str> {
        let mut names = vec![self.interface.as_str()];
        let others = self
            .vrrp
            .all_addresses()
            .filter_map(|a| a.dev.as_deref())
            .chain(self.floating_ips.iter().map(|f| f.interface.as_str()));
        for name in others {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

/// A floating IP: stateless 1:1 NAT between `floating` (outside) and `fixed` (inside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloatingIp {
    pub floating: std::net::Ipv4Addr,
    pub fixed: std::net::Ipv4Addr,
    /// The router's external interface (Neutron's qg-): only traffic leaving through it gets
    /// its source translated.
    pub interface: String,
}

/// Notify scripts (keepalived's arguments: `INSTANCE <name> <STATE> <priority>` for `notify`;
/// none for the per-state ones). They run as the global script user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifySpec {
    pub any: Option<String>,
    pub master: Option<String>,
    pub backup: Option<String>,
    pub fault: Option<String>,
    pub stop: Option<String>,
    /// Who they run as, once the runtime resolved the script user (`None`: as the agent).
    pub run_as: Option<RunAs>,
}

/// A script user by name: keepalived's `script_user USER [GROUP]` and a `vrrp_script`'s
/// `user USER [GROUP]`. Without a group, the user's primary group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

impl std::fmt::Display for ScriptUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.group {
            Some(group) => write!(f, "{}:{group}", self.user),
            None => f.write_str(&self.user),
        }
    }
}

/// The identity a script runs as, resolved from a [`ScriptUser`] (or keepalived's default)
/// when the agent starts or reloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// The user's name, for messages.
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl std::fmt::Display for RunAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (uid {}, gid {})", self.name, self.uid, self.gid)
    }
}

/// A tracked object's kind. Its name and weight live in `vrrp.tracked`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackSpec {
    /// Interface link: down when administratively down or without carrier.
    Interface { name: String },
    /// A `vrrp_script` by name (see [`AgentConfig::scripts`]).
    Script { name: String },
    /// Reachability of a next hop (e.g. the external gateway) from inside the instance's
    /// namespace, probed on `interface`.
    Reachability(ReachabilitySpec),
}

/// How to probe a next hop.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReachabilitySpec {
    pub address: IpAddr,
    pub interface: String,
    pub method: ProbeMethod,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures before down.
    pub fall: u32,
    /// Consecutive successes before up.
    pub rise: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeMethod {
    /// ARP request (IPv4) / neighbour solicitation (IPv6), answered by any live host.
    Neighbour,
    /// ICMP / ICMPv6 echo.
    Icmp,
}

/// A `vrrp_script`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptSpec {
    pub name: String,
    /// Command line, run through `/bin/sh -c`.
    pub command: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures before down (default 1).
    pub fall: u32,
    /// Consecutive successes before up (default 1).
    pub rise: u32,
    /// Default weight of instances tracking it (0: FAULT on failure).
    pub weight: i32,
    /// Who it runs as (keepalived's `user USER [GROUP]`); `None`: the global script user.
    pub user: Option<ScriptUser>,
    /// Who it runs as, once the runtime resolved the script user (`None`: as the agent).
    pub run_as: Option<RunAs>,
}

/// A `vrrp_sync_group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroupSpec {
    pub name: String,
    /// Instance names.
    pub members: Vec<String>,
    pub notify: NotifySpec,
}

/// A problem found in a configuration file: where, and what is expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not tied to a line (e.g. a missing file).
    pub line: usize,
    pub message: String,
}

/// Something accepted but worth telling (an unknown keyword, an ignored setting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(advert_sources: &[&str], unicast_peers: &[&str]) -> InstanceSpec {
        let ips = |l: &[&str]| l.iter().map(|a| a.parse().unwrap()).collect();
        InstanceSpec {
            vrrp: InstanceConfig::new("vr", 1, "10.0.0.100".parse().unwrap()),
            netns: None,
            interface: "eth0".into(),
            unicast_peers: ips(unicast_peers),
            unicast_src: None,
            mcast_src: None,
            notify: NotifySpec::default(),
            track: vec![],
            floating_ips: vec![],
            advert_sources: ips(advert_sources),
            vmac: None,
            conntrack_sync: None,
        }
    }

    #[test]
    fn the_agent_accepts_adverts_from_the_list_the_data_plane_enforces() {
        let from = |s: &InstanceSpec, a: &str| s.accepts_advert_from(a.parse().unwrap());
        let open = spec(&[], &[]);
        assert!(from(&open, "192.0.2.9") && open.advert_allowlist().is_empty());
        let peers = spec(&[], &["192.0.2.2"]);
        assert!(from(&peers, "192.0.2.2") && !from(&peers, "192.0.2.9"));
        let both = spec(&["192.0.2.3"], &["192.0.2.2"]);
        assert!(from(&both, "192.0.2.3") && !from(&both, "192.0.2.2"));
        assert_eq!(
            both.advert_allowlist(),
            vec!["192.0.2.3".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn interfaces_are_its_own_first_then_those_of_addresses_and_floating_ips_once_each() {
        let mut s = spec(&[], &[]);
        let on = |a: &str, dev: Option<&str>| crate::fsm::VirtualAddress {
            dev: dev.map(str::to_string),
            ..crate::fsm::VirtualAddress::host(a.parse().unwrap())
        };
        s.vrrp.excluded_addresses = vec![
            on("10.0.10.1", Some("qr")),
            on("203.0.113.10", Some("qg")),
            on("10.0.11.1", Some("qr")),
            on("10.0.12.1", None),
        ];
        s.floating_ips = vec![FloatingIp {
            floating: "203.0.113.20".parse().unwrap(),
            fixed: "10.0.10.5".parse().unwrap(),
            interface: "qg".into(),
        }];
        assert_eq!(s.interfaces(), ["eth0", "qr", "qg"]);
        assert_eq!(spec(&[], &[]).interfaces(), ["eth0"]);
    }

    #[test]
    fn with_use_vmac_addresses_of_the_family_on_the_own_interface_go_on_the_macvlan() {
        let mut s = spec(&[], &[]);
        let on = |a: &str, dev: Option<&str>| crate::fsm::VirtualAddress {
            dev: dev.map(str::to_string),
            ..crate::fsm::VirtualAddress::host(a.parse().unwrap())
        };
        assert!(!s.on_vmac(&on("10.0.0.1", None)), "without use_vmac");
        assert_eq!(s.vmac_mac(), None);
        s.vmac = Some(VmacSpec {
            name: "vrrp.1".into(),
            xmit_base: false,
        });
        assert_eq!(s.vmac_mac(), Some([0, 0, 0x5e, 0, 1, 1]));
        assert!(s.on_vmac(&on("10.0.0.1", None)));
        assert!(s.on_vmac(&on("10.0.0.2", Some("eth0"))));
        assert!(!s.on_vmac(&on("10.0.0.3", Some("qr"))), "another interface");
        assert!(!s.on_vmac(&on("2001:db8::1", None)), "the other family");
    }
}
