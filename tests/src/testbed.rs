//! The Neutron-like test bed shared by tests, the demo and the benchmarks.
//!
//! ```text
//!   client 10.0.10.5 ──┐ LAN 10.0.10.0/24 (gateway VIP 10.0.10.1 on qr-*)
//!      (and 10.0.10.6) │
//!                      ├── r1, r2 (, r3): qr-* (same MAC everywhere), qg-* (same MAC),
//!                      │   ha-* 169.254.192.<n>/18, primary VIP 169.254.0.<vrid>/24
//!   server 203.0.113.100 (and 203.0.113.1, the external gateway) ── WAN 203.0.113.0/24
//!   router external address 203.0.113.10, floating IP 203.0.113.20 -> client
//! ```
//!
//! Namespaces are `vxtb-<tag>-<role>`; each segment is a bridge in a namespace of its own.
//!
//! The bed is shaped like a deployment, not like the code under test: the bridge-side ports
//! stay as `ip link add` makes them (no GRO, no XDP: a veth whose peer runs no NAPI takes no
//! XDP-redirected frames, as on a Neutron node), and every router namespace carries the
//! iptables rules Neutron's L3 agent writes ([`crate::neutron_rules::NeutronRouter`]: floating
//! IP 203.0.113.20 -> 10.0.10.5, default SNAT to 203.0.113.10, `--random-fully` as Neutron's
//! default configuration has it) whichever VRRP implementation runs the router. The kernel
//! translates; the XDP fast path only takes over where a test switches it on.
//! A persistent bed (`cargo xtask testbed up`) stays until `down`, which removes every
//! `vxtb-*` namespace, leftover agents and pinned XDP state of earlier runs, except beds
//! a live process still owns (a running test, demo or bench marks its bed in [`OWNER_DIR`]).

use std::process::Command;

use crate::{netns::NetNs, topo::Segment};

pub const VRID: u8 = 1;
pub const PRIMARY_VIP: &str = "169.254.0.1/24";
pub const CLIENT_IP: &str = "10.0.10.5";
/// A second address of the client, without a floating IP: leaves through the router's
/// default SNAT (as [`ROUTER_EXTERNAL`]).
pub const CLIENT_IP_NO_FIP: &str = "10.0.10.6";
pub const GATEWAY_IP: &str = "10.0.10.1";
pub const SERVER_IP: &str = "203.0.113.100";
pub const EXTERNAL_GATEWAY: &str = "203.0.113.1";
pub const ROUTER_EXTERNAL: &str = "203.0.113.10";
pub const FLOATING_IP: &str = "203.0.113.20";
pub const HA_IF: &str = "ha-0a1b2c3d-4e";
pub const QR_IF: &str = "qr-0a1b2c3d-4e";
pub const QG_IF: &str = "qg-0a1b2c3d-4e";
pub const QR_MAC: &str = "fa:16:3e:00:10:01";
pub const QG_MAC: &str = "fa:16:3e:00:20:01";
const PREFIX: &str = "vxtb";
/// One file per bed in use by a running process: named by the tag, holding the owner's pid.
pub const OWNER_DIR: &str = "/run/vxtb-owners";

/// How to build the bed.
#[derive(Clone, Debug)]
pub struct Options {
    pub tag: String,
    pub routers: usize,
    /// Left in place when this value goes away (`testbed up`).
    pub persistent: bool,
    /// LAN and WAN bridges flood every frame: every router sees every packet, so a second
    /// forwarder shows up as duplicates.
    pub flood: bool,
    /// Neutron's `[AGENT] use_random_fully` (true by default in Neutron): `--random-fully` on
    /// the SNAT rules of every router.
    pub random_fully: bool,
}

impl Default for Options {
    /// A bed tagged `bed` with two routers, removed on drop, flooding bridges, Neutron's
    /// default rules.
    fn default() -> Self {
        Self {
            tag: "bed".into(),
            routers: 2,
            persistent: false,
            flood: true,
            random_fully: true,
        }
    }
}

impl Options {
    /// A private bed for one test (unique tag, removed on drop).
    pub fn for_test(routers: usize) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        Self {
            tag: format!(
                "t{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            routers,
            ..Self::default()
        }
    }
}

/// The bridge-side port names of one router.
#[derive(Clone, Debug)]
pub struct Ports {
    pub lan: String,
    pub wan: String,
    pub ha: String,
}

pub struct Testbed {
    pub options: Options,
    pub lan: Segment,
    pub wan: Segment,
    pub ha: Segment,
    pub client: NetNs,
    pub server: NetNs,
    pub routers: Vec<NetNs>,
    pub ports: Vec<Ports>,
    /// Dropped last: the bed is torn down before `down` may take it.
    _owner: Option<OwnerMark>,
}

/// Marks a bed as owned by this process while it lives; `down` leaves such beds alone.
struct OwnerMark(std::path::PathBuf);

impl OwnerMark {
    fn new(tag: &str) -> Option<Self> {
        let path = std::path::Path::new(OWNER_DIR).join(tag);
        std::fs::create_dir_all(OWNER_DIR).ok()?;
        std::fs::write(&path, std::process::id().to_string()).ok()?;
        Some(Self(path))
    }
}

impl Drop for OwnerMark {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The tags of beds whose owner process is alive (not counting this process).
fn owned_tags() -> Vec<String> {
    let Ok(d) = std::fs::read_dir(OWNER_DIR) else {
        return Vec::new();
    };
    d.flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path())
                .ok()
                .and_then(|pid| pid.trim().parse::<u32>().ok())
                .is_some_and(|pid| {
                    pid != std::process::id()
                        && std::path::Path::new(&format!("/proc/{pid}")).exists()
                })
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The tag of a bed's namespace or pin directory name: `vxtb-<tag>-<role>`.
fn tag_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PREFIX)?.strip_prefix('-')?;
    Some(&rest[..rest.rfind('-')?])
}

/// Whether a process command line mentions a bed with one of `tags` (`vxtb-<tag>-…` or
/// `/tmp/vxtb-<tag>/…`).
fn mentions_any(cmdline: &str, tags: &[String]) -> bool {
    tags.iter().any(|t| {
        let needle = format!("{PREFIX}-{t}");
        cmdline.match_indices(&needle).any(|(i, _)| {
            let after = &cmdline[i + needle.len()..];
            match after.strip_prefix('-') {
                // `vxtb-<tag>-<role>` where role has no further '-' (else it is a longer tag).
                Some(role) => !role
                    .split(|c: char| c == '/' || c == '.' || c.is_whitespace() || c == '\0')
                    .next()
                    .unwrap_or_default()
                    .contains('-'),
                None => after.is_empty() || after.starts_with('/'),
            }
        })
    })
}

/// Sends SIGTERM to every process whose command line names a bed (agents, keepalived,
/// probes), except those of beds in `keep` and this process.
fn kill_bed_processes(keep: &[String]) {
    let Ok(d) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in d.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(&format!("{PREFIX}-")) && !mentions_any(&cmdline, keep) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

/// How an agent (or keepalived) runs a router of the bed.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    pub priority: u8,
    /// Seconds (fractional for VRRPv3).
    pub advert_interval: f64,
    pub preempt: bool,
    /// 2 or 3.
    pub version: u8,
    /// The XDP data plane: checks adverts, fences addresses this router does not own (agent
    /// only; `false` writes `dataplane = "none"`).
    pub dataplane: bool,
    /// `[global] fast_path = true`: forward what the agent proved equivalent to the kernel
    /// path in XDP (agent only; written only when true, so the configs also work with agents
    /// that do not know the key yet).
    pub fast_path: bool,
    /// `[global] fast_path_peer_napi = true`: the agent attaches a pass-through XDP program to
    /// the veth peers of router ports so they take redirected frames (agent only; written only
    /// when true).
    pub peer_napi: bool,
    /// Probe the external gateway from inside the router (agent only).
    pub track_gateway: bool,
    /// Where the agent pins its XDP state.
    pub bpf_pin_dir: Option<std::path::PathBuf>,
    /// More TOML lines for the agent's instance table (e.g. `advert_sources = [...]`).
    pub instance_extra: String,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            priority: 50,
            advert_interval: 0.1,
            preempt: false,
            version: 3,
            dataplane: true,
            fast_path: false,
            peer_napi: false,
            track_gateway: false,
            bpf_pin_dir: None,
            instance_extra: String::new(),
        }
    }
}

impl Testbed {
    pub fn name(tag: &str, role: &str) -> String {
        format!("{PREFIX}-{tag}-{role}")
    }

    /// Builds the bed.
    pub fn up(options: Options) -> Self {
        let n = |role: &str| Self::name(&options.tag, role);
        let p = options.persistent;
        // Marked before the first namespace exists: `down` never sees it unowned.
        let owner = (!p).then(|| OwnerMark::new(&options.tag)).flatten();
        let (lan, wan, ha) = (
            Segment::named(&n("lan"), p),
            Segment::named(&n("wan"), p),
            Segment::named(&n("ha"), p),
        );
        if options.flood {
            lan.flood();
            wan.flood();
        }
        let mut routers = Vec::new();
        let mut ports = Vec::new();
        for i in 0..options.routers {
            let r = NetNs::named(&n(&format!("r{}", i + 1)), p);
            let ha_port = ha.attach_ha_node(&r, HA_IF, i + 1);
            let lan_port = lan.attach(&r, QR_IF, Some(QR_MAC));
            let wan_port = wan.attach(&r, QG_IF, Some(QG_MAC));
            r.sysctl("net.ipv4.ip_forward=1");
            neutron_router(options.random_fully).install(&r);
            routers.push(r);
            ports.push(Ports {
                lan: lan_port,
                wan: wan_port,
                ha: ha_port,
            });
        }
        let client = NetNs::named(&n("client"), p);
        lan.attach(&client, "eth0", None);
        client.ip(&["addr", "add", &format!("{CLIENT_IP}/24"), "dev", "eth0"]);
        client.ip(&[
            "addr",
            "add",
            &format!("{CLIENT_IP_NO_FIP}/24"),
            "dev",
            "eth0",
        ]);
        client.ip(&["route", "add", "default", "via", GATEWAY_IP]);
        client.tx_checksum_off("eth0");
        let server = NetNs::named(&n("server"), p);
        wan.attach(&server, "eth0", None);
        server.ip(&["addr", "add", &format!("{SERVER_IP}/24"), "dev", "eth0"]);
        server.ip(&[
            "addr",
            "add",
            &format!("{EXTERNAL_GATEWAY}/24"),
            "dev",
            "eth0",
        ]);
        server.tx_checksum_off("eth0");
        Self {
            lan,
            wan,
            ha,
            client,
            server,
            routers,
            ports,
            _owner: owner,
            options,
        }
    }

    /// Removes every test bed namespace (`vxtb-*`), agents still running for one, and
    /// pinned XDP state under /sys/fs/bpf/vxtb-*, except the beds of live owners (a test,
    /// the demo or a bench that is running). Returns how many namespaces went and the tags
    /// of the beds left in place.
    pub fn down_all() -> (usize, Vec<String>) {
        let owned = owned_tags();
        let keep = |name: &str| tag_of(name).is_some_and(|t| owned.iter().any(|o| o == t));
        let entries = |dir: &str| -> Vec<(String, std::path::PathBuf)> {
            std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten()
                        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                        .filter(|(n, _)| n.starts_with(&format!("{PREFIX}-")) && !keep(n))
                        .collect()
                })
                .unwrap_or_default()
        };
        kill_bed_processes(&owned);
        let names = entries(vrrp_agent::netns::NETNS_RUN_DIR);
        for (n, _) in &names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
        for (_, path) in entries("/sys/fs/bpf") {
            let _ = std::fs::remove_dir_all(path);
        }
        let mut kept = owned;
        kept.sort();
        (names.len(), kept)
    }

    /// The agent's TOML for router `i`. The floating IP is an excluded virtual address on
    /// `qg-` as in Neutron's keepalived.conf ([`Self::keepalived_config`] lists the same
    /// addresses); its NAT is Neutron's iptables rules (no native `floating_ips`).
    pub fn agent_config(&self, i: usize, c: &RouterConfig) -> String {
        let ns = self.routers[i].name();
        let mut s = String::from("[global]\n");
        if !c.dataplane {
            s.push_str("dataplane = \"none\"\n");
        }
        if let Some(d) = &c.bpf_pin_dir {
            s.push_str(&format!("bpf_pin_dir = \"{}\"\n", d.display()));
        }
        if c.fast_path {
            s.push_str("fast_path = true\n");
        }
        if c.peer_napi {
            s.push_str("fast_path_peer_napi = true\n");
        }
        s.push_str(&format!(
            r#"
[[instance]]
name = "router-1"
netns = "{ns}"
interface = "{HA_IF}"
vrid = {VRID}
version = {version}
priority = {priority}
advert_interval = {interval}
preempt = {preempt}
virtual_addresses = ["{PRIMARY_VIP}"]
excluded_addresses = [{excluded}]
routes = [{routes}]
track_interfaces = ["{QR_IF}", "{QG_IF}"]
garp = {{ master_delay = 0, master_repeat = 3 }}
{extra}
"#,
            extra = c.instance_extra,
            excluded = toml_list(&excluded_addresses()),
            routes = toml_list(&routes()),
            version = c.version,
            priority = c.priority,
            interval = c.advert_interval,
            preempt = c.preempt,
        ));
        if c.track_gateway {
            s.push_str(&format!(
                r#"
[[instance.track_reachability]]
name = "external-gateway"
address = "{EXTERNAL_GATEWAY}"
interface = "{QG_IF}"
method = "neighbour"
interval = 0.2
timeout = 0.2
fall = 3
rise = 2
weight = 0
"#
            ));
        }
        s
    }

    /// Loads Neutron's rules into router `i` again (removes them first). Every router has them
    /// from [`Self::up`] on, whichever implementation runs it: callers that installed the NAT
    /// for keepalived-run routers themselves get the same rules.
    pub fn install_iptables_nat(&self, i: usize) {
        crate::neutron_rules::NeutronRouter::remove(&self.routers[i]);
        self.neutron_router().install(&self.routers[i]);
    }

    /// The router as Neutron's iptables rules see it (what [`Self::up`] installs).
    pub fn neutron_router(&self) -> crate::neutron_rules::NeutronRouter {
        neutron_router(self.options.random_fully)
    }

    /// The same router as keepalived.conf, shaped like the one Neutron writes (VRRP, addresses
    /// and routes; no NAT: that is Neutron's iptables rules, in every router from [`Self::up`]
    /// on). The addresses are those of [`Self::agent_config`].
    pub fn keepalived_config(&self, c: &RouterConfig, notify: Option<&str>) -> String {
        let mut s = format!(
            "global_defs {{\n  vrrp_garp_master_delay 1\n  vrrp_garp_master_repeat 3\n}}\n\
             vrrp_instance router-1 {{\n  state BACKUP\n  interface {HA_IF}\n  \
             virtual_router_id {VRID}\n  priority {}\n  advert_int {}\n  version {}\n",
            c.priority, c.advert_interval, c.version
        );
        if !c.preempt {
            s.push_str("  nopreempt\n");
        }
        let block = |entries: Vec<String>| -> String {
            entries.iter().map(|e| format!("    {e}\n")).collect()
        };
        s.push_str(&format!(
            "  track_interface {{\n    {HA_IF}\n  }}\n  virtual_ipaddress {{\n    \
             {PRIMARY_VIP} dev {HA_IF}\n  }}\n  virtual_ipaddress_excluded {{\n{}  }}\n  \
             virtual_routes {{\n{}  }}\n",
            block(excluded_addresses()),
            block(routes()),
        ));
        if let Some(n) = notify {
            s.push_str(&format!("  notify \"{n}\"\n"));
        }
        s.push_str("}\n");
        s
    }

    /// A description for `testbed up` / `status`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "test bed `{}`: {} routers\n  client  {}  {CLIENT_IP}/24 via {GATEWAY_IP} (floating IP {FLOATING_IP}), \
             {CLIENT_IP_NO_FIP}/24 (no floating IP)\n  \
             server  {}  {SERVER_IP}/24 (also the external gateway {EXTERNAL_GATEWAY})\n",
            self.options.tag,
            self.routers.len(),
            self.client.name(),
            self.server.name(),
        );
        for (i, r) in self.routers.iter().enumerate() {
            s.push_str(&format!(
                "  r{}      {}  {HA_IF} 169.254.192.{}/18, {QR_IF} {QR_MAC}, {QG_IF} {QG_MAC}\n",
                i + 1,
                r.name(),
                i + 1
            ));
        }
        s.push_str(&format!(
            "  segments {} (LAN), {} (WAN), {} (HA); primary VIP {PRIMARY_VIP}, gateway {GATEWAY_IP}, router {ROUTER_EXTERNAL}\n",
            self.lan.ns.name(),
            self.wan.ns.name(),
            self.ha.ns.name()
        ));
        s.push_str(&format!(
            "  NAT      Neutron's iptables rules in every router: {FLOATING_IP} <-> {CLIENT_IP}, others SNAT to {ROUTER_EXTERNAL}{}\n",
            if self.options.random_fully {
                " (--random-fully)"
            } else {
                ""
            }
        ));
        s
    }
}

/// The addresses only the master holds besides the primary VIP, as Neutron's keepalived.conf
/// lists them (`virtual_ipaddress_excluded`): the gateway on `qr-`, the router's external
/// address and the floating IP on `qg-`, none of them tracked. The agent's TOML and the
/// keepalived.conf of the bed both use this list.
fn excluded_addresses() -> Vec<String> {
    vec![
        format!("{GATEWAY_IP}/24 dev {QR_IF} no_track"),
        format!("{ROUTER_EXTERNAL}/24 dev {QG_IF} no_track"),
        format!("{FLOATING_IP}/32 dev {QG_IF} no_track"),
    ]
}

/// The master's routes, as Neutron's keepalived.conf lists them (`virtual_routes`).
fn routes() -> Vec<String> {
    vec![format!(
        "0.0.0.0/0 via {EXTERNAL_GATEWAY} dev {QG_IF} no_track protocol static"
    )]
}

/// `"a", "b"` for a TOML array.
fn toml_list(entries: &[String]) -> String {
    entries
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bed's router as Neutron's L3 agent sets it up: one internal port on the LAN, the
/// gateway port, the client's floating IP.
fn neutron_router(random_fully: bool) -> crate::neutron_rules::NeutronRouter {
    crate::neutron_rules::NeutronRouter {
        qr: vec![(QR_IF.into(), format!("{GATEWAY_IP}/24"))],
        qg: QG_IF.into(),
        gateway_ip: ROUTER_EXTERNAL.into(),
        fips: vec![(FLOATING_IP.into(), CLIENT_IP.into())],
        random_fully,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_everything_between_the_prefix_and_the_role() {
        assert_eq!(tag_of("vxtb-fo1687-47-r1"), Some("fo1687-47"));
        assert_eq!(tag_of("vxtb-demo-client"), Some("demo"));
        assert_eq!(tag_of("vxtb-demo-r2"), Some("demo"));
        assert_eq!(tag_of("vxtb-demo"), None);
        assert_eq!(tag_of("other-demo-r1"), None);
    }

    #[test]
    fn a_command_line_mentions_a_bed_only_with_its_exact_tag() {
        let keep = vec!["fo12-4".to_string()];
        assert!(mentions_any(
            "vrrp-agent run -c /tmp/vxtb-fo12-4/r1.toml",
            &keep
        ));
        assert!(mentions_any(
            "ip netns exec vxtb-fo12-4-r1 keepalived",
            &keep
        ));
        assert!(!mentions_any(
            "ip netns exec vxtb-fo12-47-r1 keepalived",
            &keep
        ));
        assert!(!mentions_any(
            "vrrp-agent run -c /tmp/vxtb-fo12-47/r1.toml",
            &keep
        ));
        // `fo12` is a prefix of the kept tag, not the kept tag.
        assert!(!mentions_any(
            "ip netns exec vxtb-fo12-r1 x",
            &["fo12-4".to_string()]
        ));
        assert!(!mentions_any(
            "ip netns exec vxtb-fo12-4-r1 x",
            &["fo12".to_string()]
        ));
        assert!(!mentions_any("vrrp-agent run", &keep));
    }
}
