//! Twin routers: two identical Neutron HA router namespaces, each run by its own real agent and
//! each with its own copy of the wire. The `fast` twin's agent has the XDP fast path on
//! (`fast_path = true`, `fast_path_peer_napi = true`), the `kernel` twin's has it off (its XDP
//! program only restricts: ownership and fencing), so whatever differs between the frames the
//! two send is the fast path's doing.
//!
//! One twin:
//!
//! ```text
//!   router namespace (Neutron's sysctls and iptables rules)           wire namespace
//!   qr-0a1b2c3d-4e fa:16:3e:00:10:01  10.0.10.1/24   mtu 1450  ── veth ── lan   (tap)
//!   qr-1b2c3d4e-5f fa:16:3e:00:20:01  10.0.20.1/24   mtu 1450  ── veth ── lan2  (tap)
//!   qg-5f6a7b8c-9d fa:16:3e:00:71:01  203.0.113.10/24 + floating IPs /32,
//!                  default via 203.0.113.1           mtu 1500  ── veth ── wan   (tap)
//!   ha-9e8d7c6b-5a 169.254.192.1/18 (VRRP, primary VIP 169.254.0.1/24) ── veth ── ha
//! ```
//!
//! The router's addresses and default route are the agent's (virtual addresses and a virtual
//! route, as Neutron writes them into keepalived.conf); the agent starts as MASTER at once
//! (`state = "master"`, one node). Every host the corpus talks to has a permanent neighbour
//! entry, so neither router ever ARPs. IPv6 is off on both sides of every port (no router
//! solicitations or MLD reports that would differ in timing; the fast path is IPv4 only).
//! The internal ports have the MTU of a VXLAN tenant network (1450), the external port 1500,
//! as in a default Neutron deployment.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    os::unix::net::UnixStream,
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;
use serde_json::Value;

use super::wire::{Captured, Tap};
use crate::{
    agent::Agent,
    flows::{Mac, ip4, mac_str},
    netns::{NetNs, veth_with_macs},
    neutron_rules::NeutronRouter,
    tempdir::TempDir,
    topo::addresses,
};

pub const QR: &str = "qr-0a1b2c3d-4e";
pub const QR2: &str = "qr-1b2c3d4e-5f";
pub const QG: &str = "qg-5f6a7b8c-9d";
pub const HA: &str = "ha-9e8d7c6b-5a";
pub const QR_MAC: Mac = [0xfa, 0x16, 0x3e, 0x00, 0x10, 0x01];
pub const QR2_MAC: Mac = [0xfa, 0x16, 0x3e, 0x00, 0x20, 0x01];
pub const QG_MAC: Mac = [0xfa, 0x16, 0x3e, 0x00, 0x71, 0x01];

/// The router's own addresses (the only sources of frames the router originates itself).
pub const ROUTER_QR: [u8; 4] = [10, 0, 10, 1];
pub const ROUTER_QR2: [u8; 4] = [10, 0, 20, 1];
pub const ROUTER_QG: [u8; 4] = [203, 0, 113, 10];
pub const ROUTER_ADDRESSES: [[u8; 4]; 3] = [ROUTER_QR, ROUTER_QR2, ROUTER_QG];

/// A VM with a floating IP ([`FIP1`]), one without (it gets [`FIP2`] in the scenario that adds
/// and removes a floating IP), and one on the second internal network.
pub const VM1: [u8; 4] = [10, 0, 10, 5];
pub const VM1_MAC: Mac = [0xfa, 0x16, 0x3e, 0xaa, 0x10, 0x05];
pub const VM2: [u8; 4] = [10, 0, 10, 6];
pub const VM2_MAC: Mac = [0xfa, 0x16, 0x3e, 0xaa, 0x10, 0x06];
pub const VM3: [u8; 4] = [10, 0, 20, 7];
pub const VM3_MAC: Mac = [0xfa, 0x16, 0x3e, 0xaa, 0x20, 0x07];
pub const FIP1: [u8; 4] = [203, 0, 113, 20];
pub const FIP2: [u8; 4] = [203, 0, 113, 22];
/// The external gateway (the default route's next hop) and a server behind it.
pub const EXT_GW: [u8; 4] = [203, 0, 113, 1];
pub const EXT_GW_MAC: Mac = [0x02, 0x00, 0x5e, 0x00, 0x71, 0x01];
pub const SERVER: [u8; 4] = [198, 51, 100, 7];
/// A host on the external network itself.
pub const WAN_HOST: [u8; 4] = [203, 0, 113, 100];
pub const WAN_HOST_MAC: Mac = [0x02, 0x00, 0x5e, 0x00, 0x71, 0x64];
pub const METADATA: [u8; 4] = [169, 254, 169, 254];

pub const LAN_MTU: u16 = 1450;
pub const WAN_MTU: u16 = 1500;

/// A router port (and its wire end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Port {
    Qr,
    Qr2,
    Qg,
}

impl Port {
    pub const ALL: [Port; 3] = [Port::Qr, Port::Qr2, Port::Qg];

    /// The router's interface.
    pub fn ifname(self) -> &'static str {
        match self {
            Port::Qr => QR,
            Port::Qr2 => QR2,
            Port::Qg => QG,
        }
    }

    /// The router interface's MAC.
    pub fn mac(self) -> Mac {
        match self {
            Port::Qr => QR_MAC,
            Port::Qr2 => QR2_MAC,
            Port::Qg => QG_MAC,
        }
    }

    /// The wire end's name in the harness namespace.
    fn wire(self) -> &'static str {
        match self {
            Port::Qr => "lan",
            Port::Qr2 => "lan2",
            Port::Qg => "wan",
        }
    }

    fn wire_mac(self) -> &'static str {
        match self {
            Port::Qr => "02:00:00:00:00:01",
            Port::Qr2 => "02:00:00:00:00:02",
            Port::Qg => "02:00:00:00:00:03",
        }
    }

    fn mtu(self) -> u16 {
        match self {
            Port::Qr | Port::Qr2 => LAN_MTU,
            Port::Qg => WAN_MTU,
        }
    }
}

/// How both twins are set up.
#[derive(Clone, Debug)]
pub struct Setup {
    /// Neutron's `use_random_fully` (its default is true).
    pub random_fully: bool,
    /// Floating IPs at start: (floating, fixed).
    pub fips: Vec<([u8; 4], [u8; 4])>,
    /// `iptables-restore -n` input loaded into both routers after Neutron's rules.
    pub extra_rules: Option<String>,
}

impl Setup {
    /// Neutron's rules for a router with [`FIP1`] → [`VM1`].
    pub fn neutron(random_fully: bool) -> Self {
        Self {
            random_fully,
            fips: vec![(FIP1, VM1)],
            extra_rules: None,
        }
    }
}

/// One of the twins.
pub struct Router {
    pub label: &'static str,
    pub fast_path: bool,
    taps: BTreeMap<Port, Tap>,
    step: Arc<AtomicUsize>,
    /// In a mutex only so that both twins can be driven from two threads at once.
    agent: Mutex<Agent>,
    _dir: TempDir,
    neutron: NeutronRouter,
    pub ns: NetNs,
    pub wire: NetNs,
}

fn fips_text(fips: &[([u8; 4], [u8; 4])]) -> Vec<(String, String)> {
    fips.iter().map(|(f, x)| (ip4(*f), ip4(*x))).collect()
}

impl Router {
    /// Builds one twin and starts its agent; returns once it is MASTER with its addresses
    /// and route in place and its wire is quiet.
    pub fn new(label: &'static str, fast_path: bool, setup: &Setup) -> Self {
        let ns = NetNs::new();
        let wire = NetNs::new();
        for n in [&ns, &wire] {
            n.sysctl("net.ipv6.conf.all.disable_ipv6=1");
            n.sysctl("net.ipv6.conf.default.disable_ipv6=1");
        }
        // What Neutron's HaRouterNamespace.create sets (neutron/agent/l3/namespaces.py,
        // ha_router.py); conntrack's be_liberal follows once the rules loaded conntrack.
        // rp_filter is the kernel's default for a new namespace (0), written out because
        // the fast path's analysis depends on it.
        for s in [
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.arp_ignore=1",
            "net.ipv4.conf.all.arp_announce=2",
            "net.ipv4.ip_nonlocal_bind=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
        ] {
            ns.sysctl(s);
        }
        for port in Port::ALL {
            veth_with_macs(
                &ns,
                port.ifname(),
                &mac_str(port.mac()),
                &wire,
                port.wire(),
                port.wire_mac(),
            );
            let mtu = port.mtu().to_string();
            ns.ip(&["link", "set", port.ifname(), "mtu", &mtu]);
            wire.ip(&["link", "set", port.wire(), "mtu", &mtu]);
        }
        veth_with_macs(
            &ns,
            HA,
            "fa:16:3e:00:99:01",
            &wire,
            "ha",
            "02:00:00:00:00:04",
        );
        ns.ip(&["addr", "add", "169.254.192.1/18", "dev", HA]);
        for (addr, mac, port) in [
            (VM1, VM1_MAC, Port::Qr),
            (VM2, VM2_MAC, Port::Qr),
            (VM3, VM3_MAC, Port::Qr2),
            (EXT_GW, EXT_GW_MAC, Port::Qg),
            (WAN_HOST, WAN_HOST_MAC, Port::Qg),
        ] {
            ns.permanent_neighbour(&ip4(addr), &mac_str(mac), port.ifname());
        }

        let neutron = NeutronRouter {
            qr: vec![
                (QR.to_string(), "10.0.10.1/24".to_string()),
                (QR2.to_string(), "10.0.20.1/24".to_string()),
            ],
            qg: QG.to_string(),
            gateway_ip: ip4(ROUTER_QG),
            fips: fips_text(&setup.fips),
            random_fully: setup.random_fully,
        };
        neutron.install(&ns);
        if let Some(rules) = &setup.extra_rules {
            iptables_restore(&ns, rules);
        }
        ns.sysctl("net.netfilter.nf_conntrack_tcp_be_liberal=1");

        let step = Arc::new(AtomicUsize::new(0));
        let taps = Port::ALL
            .into_iter()
            .map(|p| (p, Tap::open(&wire, p.wire(), step.clone())))
            .collect();

        let dir = TempDir::new(&format!("diff-{label}"));
        let agent = Agent::run(label, &dir, &config(&ns, fast_path, &setup.fips));
        let router = Self {
            label,
            fast_path,
            taps,
            step,
            agent: Mutex::new(agent),
            _dir: dir,
            neutron,
            ns,
            wire,
        };
        router
            .agent()
            .wait_state("router", "MASTER", Duration::from_secs(10));
        router.wait_addresses(&setup.fips);
        router
    }

    /// Waits until the router's addresses (with exactly the floating IPs `fips`) and its
    /// default route are in the kernel.
    fn wait_addresses(&self, fips: &[([u8; 4], [u8; 4])]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let qr = addresses(&self.ns, QR);
            let qr2 = addresses(&self.ns, QR2);
            let qg = addresses(&self.ns, QG);
            let route = self.ns.ip(&["route", "show", "default"]);
            let mut want_qg = vec![format!("{}/24", ip4(ROUTER_QG))];
            want_qg.extend(fips.iter().map(|(f, _)| format!("{}/32", ip4(*f))));
            let fips_ok = want_qg.iter().all(|a| qg.contains(a))
                && qg
                    .iter()
                    .filter(|a| a.ends_with("/32"))
                    .all(|a| want_qg.contains(a));
            if qr.contains(&"10.0.10.1/24".to_string())
                && qr2.contains(&"10.0.20.1/24".to_string())
                && fips_ok
                && route.contains("via 203.0.113.1")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: addresses qr {qr:?} qr2 {qr2:?} qg {qg:?} (want {want_qg:?}), route \
                 {route:?}\nagent logs:\n{}",
                self.label,
                self.agent().logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn agent(&self) -> std::sync::MutexGuard<'_, Agent> {
        self.agent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The port's tap.
    pub fn tap(&self, port: Port) -> &Tap {
        &self.taps[&port]
    }

    /// Marks frames captured from now on as caused by step `i`.
    pub fn set_step(&self, i: usize) {
        self.step.store(i, Ordering::SeqCst);
    }

    /// Takes everything captured so far, per port.
    pub fn take(&self) -> BTreeMap<Port, Vec<Captured>> {
        self.taps.iter().map(|(p, t)| (*p, t.take())).collect()
    }

    /// The agent's status report as JSON (read raw, so the harness does not depend on the
    /// report's Rust type).
    pub fn status(&self) -> Value {
        let mut last = String::new();
        for _ in 0..50 {
            let socket = self.agent().socket().to_path_buf();
            match status_raw(&socket) {
                Ok(v) => return v,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{}: status: {last}", self.label)
    }

    /// The instance's data-plane counters (`redirected`, `nat_in`, `nat_out`,
    /// `passed_to_kernel`, `egress_no_xdp`, `vip_passed`, `kernel_path`, ...).
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let status = self.status();
        let Some(map) = status["instances"][0]["dataplane"].as_object() else {
            panic!(
                "{}: no data-plane counters in the status: {status}",
                self.label
            )
        };
        map.iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
            .collect()
    }

    /// The `fastpath` section of this router's namespace in the status (`enabled`,
    /// `floating_ips` with `eligible`/`fast`/`reason`, `route_ports`, `kernel_addrs`,
    /// `egress_without_xdp`, `summary`), if the agent reports one.
    pub fn fastpath(&self) -> Option<Value> {
        let status = self.status();
        status["fastpath"]
            .as_array()?
            .iter()
            .find(|f| f["netns"].as_str() == Some(self.ns.name()))
            .cloned()
    }

    /// Waits until `cond` holds for the fast-path section; panics with the last one after
    /// 10 s.
    pub fn wait_fastpath(&self, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let fp = self.fastpath();
            if let Some(fp) = &fp
                && cond(fp)
            {
                return fp.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{}: fast path never {what}; last: {}\nagent logs:\n{}",
                self.label,
                fp.map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
                    .unwrap_or_else(|| "no fastpath section".into()),
                self.agent().logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Changes the floating IPs as Neutron does on a router update: the NAT rules
    /// ([`NeutronRouter::set_fips`]) and keepalived's virtual addresses (the configuration
    /// rewritten, then SIGHUP); returns once the addresses are in place.
    pub fn set_fips(&self, fips: &[([u8; 4], [u8; 4])]) {
        self.neutron.set_fips(&self.ns, &fips_text(fips));
        let agent = self.agent();
        std::fs::write(agent.config(), config(&self.ns, self.fast_path, fips))
            .expect("rewrite config");
        agent.signal(Signal::SIGHUP);
        drop(agent);
        self.wait_addresses(fips);
    }

    /// Runs `iptables args...` in the router namespace; panics with its error.
    pub fn iptables(&self, args: &[&str]) -> String {
        let out = self.ns.exec("iptables", args);
        assert!(
            out.status.success(),
            "iptables {} in {}: {}",
            args.join(" "),
            self.ns.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The agent's log so far.
    pub fn logs(&self) -> String {
        self.agent().logs()
    }
}

/// The agent configuration of one twin: one instance on the HA port, Neutron's addresses as
/// keepalived.conf has them (primary VIP, then the ports' addresses and floating IPs as
/// excluded addresses), the default route as a virtual route.
fn config(ns: &NetNs, fast_path: bool, fips: &[([u8; 4], [u8; 4])]) -> String {
    let global = if fast_path {
        "fast_path = true\nfast_path_peer_napi = true\n"
    } else {
        ""
    };
    let fip_lines: String = fips
        .iter()
        .map(|(f, _)| format!("    \"{}/32 dev {QG}\",\n", ip4(*f)))
        .collect();
    format!(
        r#"[global]
{global}
[[instance]]
name = "router"
netns = "{ns}"
interface = "{HA}"
vrid = 1
version = 3
priority = 100
advert_interval = 1
preempt = false
state = "master"
virtual_addresses = ["169.254.0.1/24 dev {HA}"]
excluded_addresses = [
    "10.0.10.1/24 dev {QR}",
    "10.0.20.1/24 dev {QR2}",
    "203.0.113.10/24 dev {QG}",
{fip_lines}]
routes = ["0.0.0.0/0 via 203.0.113.1 dev {QG} protocol static"]
garp = {{ master_delay = 0, master_repeat = 1 }}
"#,
        ns = ns.name()
    )
}

fn status_raw(socket: &std::path::Path) -> Result<Value, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"status\n").map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    serde_json::from_slice(&buf).map_err(|e| e.to_string())
}

/// Loads `input` with `iptables-restore -n` in `ns`; panics with iptables' error.
pub fn iptables_restore(ns: &NetNs, input: &str) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name(), "iptables-restore", "-n"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run iptables-restore");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .expect("write rules");
    let out = child.wait_with_output().expect("iptables-restore");
    assert!(
        out.status.success(),
        "iptables-restore -n in {}: {}\ninput:\n{input}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Both twins.
pub struct Twins {
    pub fast: Router,
    pub kernel: Router,
}

impl Twins {
    /// Builds both twins (in parallel) and waits until they are ready and their wires quiet.
    pub fn start(setup: &Setup) -> Self {
        let (fast, kernel) = std::thread::scope(|s| {
            let fast = s.spawn(|| Router::new("fast", true, setup));
            let kernel = s.spawn(|| Router::new("kernel", false, setup));
            (
                fast.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                kernel
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            )
        });
        let twins = Self { fast, kernel };
        twins.quiet();
        twins
    }

    /// Both routers, fast first.
    pub fn both(&self) -> [&Router; 2] {
        [&self.fast, &self.kernel]
    }

    /// Lets the gratuitous ARPs of the MASTER transition pass, then forgets everything
    /// captured so far.
    pub fn quiet(&self) {
        std::thread::sleep(Duration::from_millis(300));
        for r in self.both() {
            r.take();
        }
    }

    /// Runs `f` on both twins at once.
    pub fn each(&self, f: impl Fn(&Router) + Sync) {
        std::thread::scope(|s| {
            let a = s.spawn(|| f(&self.fast));
            let b = s.spawn(|| f(&self.kernel));
            for h in [a, b] {
                h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            }
        });
    }
}

/// Whether a `fastpath` status section says floating IP `f` is forwarded by XDP.
/// Whether floating IP `f` is eligible but held back on the kernel path (conntrack still
/// translates connections of its fixed IP another way).
pub fn fip_is_held_back(fp: &Value, f: [u8; 4]) -> bool {
    fp["floating_ips"].as_array().is_some_and(|l| {
        l.iter().any(|x| {
            x["floating"].as_str() == Some(&ip4(f))
                && x["eligible"] == true
                && x["fast"] == false
                && x["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("held back"))
        })
    })
}

pub fn fip_is_fast(fp: &Value, f: [u8; 4]) -> bool {
    fp["floating_ips"].as_array().is_some_and(|l| {
        l.iter()
            .any(|x| x["floating"].as_str() == Some(&ip4(f)) && x["fast"] == true)
    })
}
