//! Faults with two real agents on the Neutron-like test bed: the master's HA link goes down
//! and comes back (admin down, carrier loss, interface deleted and created again); the HA segment is partitioned for VRRP and
//! heals (different and equal priorities); an attacker on the HA segment floods it with bad
//! adverts of every kind; spoofed adverts without XDP; an allow-list changed by a reload.
//! The tests assert the election (one master once settled, no flapping), where the
//! addresses are, who owns the data plane (the XDP counters of floating-IP traffic the
//! flooding bridges deliver to both routers), and the counters by kind. Needs root and the
//! XDP object (`cargo xtask test`).
//!
//! Kill -9, SIGSTOP fencing, restarts and reloads are covered by `agent_pair` and
//! `dataplane_e2e`.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;
use vrrp_agent::{
    api::{
        client,
        model::{InstanceReport, StatusReport},
    },
    packet::{Auth, Centisecs},
};
use vrrp_tests::{
    agent::Agent,
    attack::{Attacker, FloodReport, Forged, with_bad_checksum},
    netns::NetNs,
    require_root,
    tempdir::TempDir,
    testbed::{
        CLIENT_IP, FLOATING_IP, GATEWAY_IP, HA_IF, Options, PRIMARY_VIP, QG_IF, QR_IF,
        ROUTER_EXTERNAL, RouterConfig, Testbed,
    },
    topo::{addresses, routes, wait_for},
    traffic::{UdpSink, UdpSource},
};

const WAIT: Duration = Duration::from_secs(15);
/// The test bed's instance.
const VR: &str = "router-1";
const HA: [Ipv4Addr; 2] = [
    Ipv4Addr::new(169, 254, 192, 1),
    Ipv4Addr::new(169, 254, 192, 2),
];

/// One fault test at a time: on a small machine a flood of thousands of frames per second
/// could starve another test's agents (100 ms adverts) into a failover nobody caused.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Bed {
    bed: Testbed,
    dir: TempDir,
}

impl Bed {
    fn new() -> Self {
        Self {
            bed: Testbed::up(Options::for_test(2)),
            dir: TempDir::new("faults"),
        }
    }

    fn router(&self, i: usize) -> &NetNs {
        &self.bed.routers[i]
    }

    fn config(&self, i: usize, priority: u8, instance_extra: &str) -> String {
        self.bed.agent_config(
            i,
            &RouterConfig {
                priority,
                instance_extra: instance_extra.to_string(),
                ..RouterConfig::default()
            },
        )
    }

    /// r1 first, as master of every one of `instances`; then r2, as their backup.
    fn start_pair(&self, configs: [String; 2], instances: &[&str]) -> [Agent; 2] {
        let r1 = Agent::run("r1", &self.dir, &configs[0]);
        for i in instances {
            r1.wait_state(i, "MASTER", WAIT);
        }
        let r2 = Agent::run("r2", &self.dir, &configs[1]);
        for i in instances {
            r2.wait_state(i, "BACKUP", WAIT);
        }
        let agents = [r1, r2];
        wait_for(WAIT, "the master's addresses", || {
            (self.holds(0) == Some(true)).then_some(())
        });
        assert_eq!(self.holds(1), Some(false), "the backup holds nothing");
        agents
    }

    /// Whether router `i` holds the router's addresses and its default route: all of them
    /// (`Some(true)`), none (`Some(false)`), or some (`None`, only while they move).
    fn holds(&self, i: usize) -> Option<bool> {
        let r = self.router(i);
        // The HA interface may be gone (deleted by a test): then it holds nothing.
        let ha_exists = r
            .exec("ip", &["link", "show", "dev", HA_IF])
            .status
            .success();
        let (ha, qr, qg) = (
            if ha_exists {
                addresses(r, HA_IF)
            } else {
                Vec::new()
            },
            addresses(r, QR_IF),
            addresses(r, QG_IF),
        );
        let has = |list: &[String], a: &str| list.iter().any(|x| x == a);
        let parts = [
            has(&ha, PRIMARY_VIP),
            has(&qr, &format!("{GATEWAY_IP}/24")),
            has(&qg, &format!("{ROUTER_EXTERNAL}/24")),
            has(&qg, &format!("{FLOATING_IP}/32")),
            routes(r, "main").iter().any(|x| x.starts_with("default")),
        ];
        if parts.iter().all(|p| *p) {
            Some(true)
        } else if parts.iter().all(|p| !*p) {
            Some(false)
        } else {
            None
        }
    }

    /// Frames that the kernel dropped on the way from `attacker` to router `i`'s XDP
    /// program so far: at the attacker's bridge port (backlog), at the router's bridge port
    /// (the veth's XDP ring full) and at the router's HA interface.
    fn dropped_on_the_way(&self, attacker: &Attacker, i: usize) -> u64 {
        let stat = |ns: &NetNs, dev: &str, dir: &str| {
            let out = ns.ip(&["-s", "-j", "link", "show", "dev", dev]);
            let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j");
            v[0]["stats64"][dir]["dropped"]
                .as_u64()
                .expect("a drop counter")
        };
        let seg = &self.bed.ha.ns;
        stat(seg, &attacker.port, "rx")
            + stat(seg, &self.bed.ports[i].ha, "tx")
            + stat(self.router(i), HA_IF, "rx")
    }

    /// UDP from the outside host to the floating IP, received by the VM behind it. The WAN
    /// bridge floods, so both routers see every datagram: the owner translates it, the
    /// other's XDP program drops it.
    fn floating_ip_traffic(&self, port: u16) -> (UdpSink, UdpSource) {
        let sink = UdpSink::start(&self.bed.client, addr(CLIENT_IP, port));
        let source = UdpSource::start(
            &self.bed.server,
            addr(FLOATING_IP, port),
            Duration::from_millis(5),
        );
        wait_for(WAIT, "datagrams at the VM", || {
            (sink.count() >= 50).then_some(())
        });
        (sink, source)
    }
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().unwrap()
}

fn instance(a: &Agent, name: &str) -> InstanceReport {
    a.instance(name)
        .unwrap_or_else(|| panic!("no status for {name}\n{}", a.logs()))
}

/// A per-instance XDP counter.
fn xdp(a: &Agent, name: &str, counter: &str) -> u64 {
    instance(a, name)
        .dataplane
        .unwrap_or_else(|| panic!("{name}: no XDP counters (is the real object embedded?)"))
        .get(counter)
        .copied()
        .unwrap_or(0)
}

/// Sequence numbers received more than once among the datagrams that arrived after `from`.
fn duplicates_after(sink: &UdpSink, from: Instant) -> Vec<u64> {
    let mut seen = BTreeMap::<u64, u32>::new();
    for (_, s) in sink
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t >= from)
    {
        *seen.entry(*s).or_default() += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(s, _)| s)
        .collect()
}

/// When the reads began and ended, and the state of the instance on r1 and r2 (`None`: the
/// agent did not answer).
type Sample = (Instant, Instant, [Option<String>; 2]);

/// Samples the state of one instance on both agents every 25 ms, to check the election over
/// whole periods rather than at single points.
struct Watch {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    fn start(agents: &[Agent; 2], name: &'static str) -> Self {
        let sockets = [
            agents[0].socket().to_path_buf(),
            agents[1].socket().to_path_buf(),
        ];
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (out, halt) = (Arc::clone(&samples), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                // A sample counts for a window only if both reads happened inside it (stamped
                // when the first began and when the second ended).
                let began = Instant::now();
                let states = sockets.each_ref().map(|s| {
                    client::query(s)
                        .ok()?
                        .instances
                        .into_iter()
                        .find(|i| i.name == name)
                        .map(|i| i.state)
                });
                out.lock().unwrap().push((began, Instant::now(), states));
                std::thread::sleep(Duration::from_millis(25));
            }
        });
        Self {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    fn between(&self, from: Instant, to: Instant) -> Vec<[Option<String>; 2]> {
        self.samples
            .lock()
            .unwrap()
            .iter()
            .filter(|(began, ended, _)| *began >= from && *ended <= to)
            .map(|(_, _, s)| s.clone())
            .collect()
    }

    /// Every sample in `[from, to]` answered by both agents with `expected` states.
    fn assert_steady(&self, from: Instant, to: Instant, expected: [&str; 2], what: &str) {
        let samples = self.between(from, to);
        assert!(
            samples.len() >= 10,
            "{what}: only {} samples in {:?}",
            samples.len(),
            to - from
        );
        let bad: Vec<_> = samples
            .iter()
            .filter(|s| {
                s[0].as_deref() != Some(expected[0]) || s[1].as_deref() != Some(expected[1])
            })
            .collect();
        assert!(
            bad.is_empty(),
            "{what}: expected {expected:?} throughout {} samples, got {bad:?}",
            samples.len()
        );
    }

    /// The largest number of masters at once in `[from, to]`.
    fn max_masters(&self, from: Instant, to: Instant) -> usize {
        self.between(from, to)
            .iter()
            .map(|s| s.iter().filter(|x| x.as_deref() == Some("MASTER")).count())
            .max()
            .unwrap_or(0)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How the master loses its HA link.
#[derive(Clone, Copy, Debug)]
enum LinkCut {
    /// `ip link set ha-... down` inside the router.
    AdminDown,
    /// The switch port goes down: the router's interface stays up but loses carrier.
    CarrierLoss,
    /// The interface is deleted and later created again under the same name (a new ifindex,
    /// as when Neutron re-plugs a port): the agent must rebind its socket and XDP program.
    Recreate,
}

impl LinkCut {
    /// Cuts r1's HA link (`up` false) or restores it.
    fn apply(self, b: &Bed, up: bool) {
        let state = if up { "up" } else { "down" };
        match self {
            LinkCut::AdminDown => b.router(0).ip(&["link", "set", HA_IF, state]),
            LinkCut::CarrierLoss => b.bed.ha.ns.ip(&["link", "set", &b.bed.ports[0].ha, state]),
            LinkCut::Recreate if up => b.bed.ha.attach_ha_node(b.router(0), HA_IF, 1),
            LinkCut::Recreate => b.router(0).ip(&["link", "del", HA_IF]),
        };
    }
}

fn ha_link_down_and_up(cut: LinkCut) {
    require_root();
    let _serial = serial();
    let b = Bed::new();
    let agents = b.start_pair([b.config(0, 100, ""), b.config(1, 90, "")], &[VR]);
    let [r1, r2] = &agents;
    let (sink, source) = b.floating_ip_traffic(9300);
    let watch = Watch::start(&agents, VR);
    let watched = Instant::now();
    std::thread::sleep(Duration::from_millis(500));

    // Down: the master faults on its tracked HA interface, the backup takes over.
    let t_down = Instant::now();
    watch.assert_steady(watched, t_down, ["MASTER", "BACKUP"], "before the cut");
    cut.apply(&b, false);
    let fault = r1.wait_state(VR, "FAULT", WAIT);
    let reason = fault.last_transition.as_ref().unwrap().reason.clone();
    assert!(reason.contains(HA_IF), "the reason names {HA_IF}: {reason}");
    assert!(
        fault.tracked.iter().any(|t| t.name == HA_IF && !t.up),
        "{:?}",
        fault.tracked
    );
    let new = r2.wait_state(VR, "MASTER", WAIT);
    let reason = new.last_transition.unwrap().reason;
    assert!(reason.contains("master-down"), "{reason}");
    wait_for(WAIT, "the addresses on r2 only", || {
        (b.holds(0) == Some(false) && b.holds(1) == Some(true)).then_some(())
    });
    let settled = Instant::now();
    eprintln!("{cut:?}: r2 took over {:?} after the cut", settled - t_down);

    // The faulted node's data plane let go: it drops the floating IP's traffic, r2 takes it
    // (and its kernel translates: the fast path is off by default).
    let (nat1, drop1, nat2) = (
        xdp(r1, VR, "vip_passed"),
        xdp(r1, VR, "not_owned_dropped"),
        xdp(r2, VR, "vip_passed"),
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        xdp(r1, VR, "vip_passed"),
        nat1,
        "the faulted node takes no floating-IP traffic"
    );
    assert!(
        xdp(r1, VR, "not_owned_dropped") >= drop1 + 50,
        "the faulted node drops the floating IP's traffic"
    );
    assert!(
        xdp(r2, VR, "vip_passed") >= nat2 + 50,
        "the new master takes the floating IP's traffic"
    );
    let t_up_at = Instant::now();
    watch.assert_steady(
        settled,
        t_up_at,
        ["FAULT", "MASTER"],
        "while the link is down",
    );

    // Up: the node comes back as backup and stays there (no preemption, no flap).
    cut.apply(&b, true);
    let back = r1.wait_state(VR, "BACKUP", WAIT);
    assert!(
        back.last_transition
            .unwrap()
            .reason
            .contains("tracked objects are up"),
        "leaves FAULT because the link is back"
    );
    let backup_at = Instant::now();
    let heard = (
        instance(r1, VR).counters.adverts_rx,
        xdp(r1, VR, "adverts_passed"),
    );
    std::thread::sleep(Duration::from_secs(2));
    let end = Instant::now();
    // 2 s of 100 ms adverts from r2: r1 hears them again, through its XDP program.
    let now_heard = (
        instance(r1, VR).counters.adverts_rx,
        xdp(r1, VR, "adverts_passed"),
    );
    assert!(
        now_heard.0 >= heard.0 + 10 && now_heard.1 >= heard.1 + 10,
        "r1 hears r2 again (agent, XDP): {heard:?} -> {now_heard:?}"
    );
    watch.assert_steady(
        backup_at,
        end,
        ["BACKUP", "MASTER"],
        "after the link came back",
    );
    assert_eq!(
        watch.max_masters(t_down, end),
        1,
        "never two masters (the faulted node cannot have been master)"
    );
    let (i1, i2) = (instance(r1, VR), instance(r2, VR));
    assert_eq!(i1.counters.became_master, 1, "r1 only at startup: {i1:?}");
    assert_eq!(i2.counters.became_master, 1, "r2 once, at the cut: {i2:?}");
    assert_eq!(i2.counters.released_master, 0);
    assert_eq!(b.holds(0), Some(false));
    assert_eq!(b.holds(1), Some(true));
    let sent = source.stop();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        duplicates_after(&sink, t_down).is_empty(),
        "never two forwarders"
    );
    assert!(sink.count() as u64 > sent / 2, "{} of {sent}", sink.count());
}

#[test]
fn master_ha_link_down_faults_it_and_link_up_brings_it_back_as_backup() {
    ha_link_down_and_up(LinkCut::AdminDown);
}

#[test]
fn master_ha_carrier_loss_faults_it_and_carrier_back_brings_it_back_as_backup() {
    ha_link_down_and_up(LinkCut::CarrierLoss);
}

#[test]
fn master_ha_interface_deleted_faults_it_and_a_recreated_one_brings_it_back_as_backup() {
    ha_link_down_and_up(LinkCut::Recreate);
}

fn iptables(ns: &NetNs, op: &str) {
    for chain in ["INPUT", "OUTPUT"] {
        let out = ns.exec("iptables", &["-w", op, chain, "-p", "112", "-j", "DROP"]);
        assert!(
            out.status.success(),
            "iptables {op} {chain}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Partitions the HA segment for VRRP (r2 drops protocol 112 in and out), checks the dual
/// master, heals, and checks that the RFC 5798 winner (higher priority, else higher primary
/// address) stays master and the other one lets go of everything at once, for good.
fn partition_and_heal(priorities: [u8; 2], winner: usize, why: &str) {
    require_root();
    let _serial = serial();
    let b = Bed::new();
    let agents = b.start_pair(
        [
            b.config(0, priorities[0], ""),
            b.config(1, priorities[1], ""),
        ],
        &[VR],
    );
    let [r1, r2] = &agents;
    let (sink, source) = b.floating_ip_traffic(9400);
    let watch = Watch::start(&agents, VR);

    // Partition: r2 neither hears nor reaches r1 (VRRP only; everything else still flows).
    let t_cut = Instant::now();
    iptables(b.router(1), "-A");
    let dual = r2.wait_state(VR, "MASTER", WAIT);
    assert!(
        dual.last_transition.unwrap().reason.contains("master-down"),
        "r2 stopped hearing r1"
    );
    wait_for(WAIT, "the addresses on both", || {
        (b.holds(0) == Some(true) && b.holds(1) == Some(true)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(instance(r1, VR).state, "MASTER", "r1 hears nothing: stays");
    // Both own the floating IP: the flooding WAN makes both forward (the sink sees
    // duplicates, which shows that it would notice a second forwarder later).
    assert!(
        xdp(r2, VR, "vip_passed") > 0,
        "the second master takes floating-IP traffic too"
    );
    assert!(
        !duplicates_after(&sink, t_cut).is_empty(),
        "two forwarders while partitioned"
    );

    // Heal: exactly one master again within a few advert intervals.
    let (w, l) = (winner, 1 - winner);
    let mut expected = ["BACKUP"; 2];
    expected[w] = "MASTER";
    iptables(b.router(1), "-D");
    let t_heal = Instant::now();
    let one = wait_for(WAIT, "one master after healing", || {
        let s = [instance(r1, VR).state, instance(r2, VR).state];
        (s == expected).then_some(t_heal.elapsed())
    });
    eprintln!("partition healed ({priorities:?}): one master after {one:?}");
    assert!(
        one < Duration::from_secs(1),
        "one master within a few 100 ms advert intervals, took {one:?}"
    );
    let loser = instance(&agents[l], VR);
    let reason = loser.last_transition.as_ref().unwrap().reason.clone();
    assert!(reason.contains(why), "r{} lost: {reason}", l + 1);
    wait_for(WAIT, "the loser's addresses removed", || {
        (b.holds(l) == Some(false)).then_some(())
    });
    assert_eq!(b.holds(w), Some(true));
    let settled = Instant::now();

    // The loser released the data plane: it drops the floating IP's traffic, takes none.
    let (winner_in, loser_in, loser_drops) = (
        xdp(&agents[w], VR, "vip_passed"),
        xdp(&agents[l], VR, "vip_passed"),
        xdp(&agents[l], VR, "not_owned_dropped"),
    );
    std::thread::sleep(Duration::from_secs(2));
    let end = Instant::now();
    assert_eq!(
        xdp(&agents[l], VR, "vip_passed"),
        loser_in,
        "the loser takes no floating-IP traffic"
    );
    assert!(xdp(&agents[l], VR, "not_owned_dropped") >= loser_drops + 100);
    assert!(xdp(&agents[w], VR, "vip_passed") >= winner_in + 100);
    let dups = duplicates_after(&sink, settled);
    assert!(
        dups.is_empty(),
        "a second forwarder after healing: {}",
        dups.len()
    );

    // No flapping: the winner never left MASTER, the loser left it once and stayed BACKUP.
    watch.assert_steady(settled, end, expected, "after healing");
    assert_eq!(watch.max_masters(settled, end), 1);
    let (iw, il) = (instance(&agents[w], VR), instance(&agents[l], VR));
    assert_eq!(il.counters.released_master, 1, "{il:?}");
    assert_eq!(iw.counters.released_master, 0, "{iw:?}");
    // r1 became master at startup, r2 in the partition.
    assert_eq!(instance(r1, VR).counters.became_master, 1);
    assert_eq!(instance(r2, VR).counters.became_master, 1);
    source.stop();
}

#[test]
fn ha_partition_gives_two_masters_and_healing_leaves_the_higher_priority_one() {
    partition_and_heal([100, 90], 0, "higher priority");
}

#[test]
fn ha_partition_with_equal_priorities_heals_to_the_higher_address() {
    partition_and_heal([100, 100], 1, "higher address");
}

// ---- bad input on the HA segment ---------------------------------------------------------

/// A VRRPv2 instance with a password next to the test bed's VRRPv3 one, on the same HA
/// interface, accepting adverts from both routers only.
const VR2: &str = "router-2";
const VR2_VIP: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 2);
const PASSWORD: &str = "s3cret";

fn allowlist() -> String {
    format!("advert_sources = [\"{}\", \"{}\"]", HA[0], HA[1])
}

fn with_v2_instance(config: String, ns: &NetNs, priority: u8) -> String {
    format!(
        r#"{config}
[[instance]]
name = "{VR2}"
netns = "{ns}"
interface = "{HA_IF}"
vrid = 2
version = 2
priority = {priority}
advert_interval = 1
preempt = false
auth_pass = "{PASSWORD}"
virtual_addresses = ["{VR2_VIP}/24"]
{allow}
"#,
        ns = ns.name(),
        allow = allowlist(),
    )
}

/// Which layer drops a kind, and so which counter must count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layer {
    /// The XDP program: every frame counted (>= sent) on both routers.
    Xdp,
    /// The agent, after XDP passed it: counted by the master the forged source (r2's address)
    /// targets, nearly all of them (a socket buffer may overflow now and then at this rate).
    /// r2's kernel drops every packet that claims r2's own address as its source (a martian:
    /// the router namespaces do not set `accept_local`), so r2's agent never sees them and
    /// counts nothing.
    Agent,
}

struct Kind {
    name: &'static str,
    frames: Vec<Vec<u8>>,
    layer: Layer,
    /// The counters that must move: `xdp:<instance>:<name>` (per instance),
    /// `xdp:<name>` (agent level), `rx:<instance>:<kind>` (the agent's receive checks).
    expect: &'static [&'static str],
}

/// Every error counter of an agent, by a name as in [`Kind::expect`].
fn error_counters(s: &StatusReport) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for i in &s.instances {
        for (k, v) in &i.counters.rx_errors {
            out.insert(format!("rx:{}:{k}", i.name), *v);
        }
        for (k, v) in i.dataplane.iter().flatten() {
            if matches!(
                k.as_str(),
                "adverts_bad_ttl" | "adverts_spoofed" | "adverts_bad_checksum"
            ) {
                out.insert(format!("xdp:{}:{k}", i.name), *v);
            }
        }
    }
    for (k, v) in s.agent.dataplane_counters.iter().flatten() {
        if k.starts_with("malformed_") || k.starts_with("advert_") && k != "adverts" {
            out.insert(format!("xdp:{k}"), *v);
        }
    }
    out
}

fn moved(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, d)| *d > 0)
        .collect()
}

/// What must not change under attack: per instance, the state, the last transition, and
/// how often it became master.
fn election(s: &StatusReport) -> Vec<(String, String, Option<u64>, u64)> {
    s.instances
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                i.state.clone(),
                i.last_transition.as_ref().map(|t| t.unix_ms),
                i.counters.became_master,
            )
        })
        .collect()
}

fn status(a: &Agent) -> StatusReport {
    a.status()
        .unwrap_or_else(|| panic!("status unanswered\n{}", a.logs()))
}

const RATE: u32 = 4000;
const FLOOD: Duration = Duration::from_secs(2);

#[test]
fn bad_adverts_flooding_the_ha_segment_change_nothing_and_are_counted_by_kind() {
    require_root();
    let _serial = serial();
    let b = Bed::new();
    let configs = [0, 1].map(|i| {
        let p = [100, 90][i];
        with_v2_instance(b.config(i, p, &allowlist()), b.router(i), p)
    });
    let agents = b.start_pair(configs, &[VR, VR2]);
    let [r1, r2] = &agents;
    let attacker = Attacker::attach(&b.bed.ha, [0x02, 0xba, 0xd0, 0, 0, 0x66]);
    let mac = attacker.mac;
    let outsider = Ipv4Addr::new(169, 254, 192, 66);

    // Each forged advert would win the election if accepted: priority 254 against 100. They
    // claim r2's address (allowed, and not r1's own, which r1's kernel would drop) unless the
    // point is the source.
    let v3 = Forged::v3(1, 254, Centisecs(10), &[Ipv4Addr::new(169, 254, 0, 1)]).with_src(HA[1]);
    let v2 = Forged::v3(2, 254, Centisecs(100), &[VR2_VIP])
        .with_src(HA[1])
        .v2(Auth::simple(PASSWORD));
    let kinds = vec![
        Kind {
            name: "wrong TTL",
            frames: vec![
                v3.with_ttl(64).advert_frame(mac),
                v3.with_ttl(1).advert_frame(mac),
            ],
            layer: Layer::Xdp,
            expect: &["xdp:router-1:adverts_bad_ttl", "xdp:advert_bad_ttl"],
        },
        Kind {
            name: "wrong VRID",
            frames: vec![
                Forged {
                    vrid: 77,
                    ..v3.clone()
                }
                .advert_frame(mac),
                Forged {
                    vrid: 3,
                    ..v2.clone()
                }
                .advert_frame(mac),
            ],
            layer: Layer::Xdp,
            expect: &["xdp:advert_unknown_instance"],
        },
        Kind {
            name: "header cut short",
            frames: vec![v3.frame(mac, &v3.vrrp()[..4])],
            layer: Layer::Xdp,
            expect: &["xdp:malformed_vrrp_truncated"],
        },
        Kind {
            name: "address list cut short",
            frames: vec![
                v3.frame(mac, &v3.vrrp()[..8]),
                v2.frame(mac, &v2.vrrp()[..12]),
            ],
            layer: Layer::Xdp,
            expect: &["xdp:malformed_vrrp_length"],
        },
        Kind {
            name: "source outside the allow-list",
            frames: vec![v3.with_src(outsider).advert_frame(mac)],
            layer: Layer::Xdp,
            expect: &["xdp:router-1:adverts_spoofed", "xdp:advert_spoofed"],
        },
        Kind {
            name: "bad checksum",
            frames: vec![v3.frame(mac, &with_bad_checksum(&v3.vrrp()))],
            layer: Layer::Agent,
            // The XDP program verifies the checksum too, counts the failure under its own
            // name and passes the advert on for the agent to refuse and log.
            expect: &[
                "rx:router-1:checksum",
                "xdp:router-1:adverts_bad_checksum",
                "xdp:advert_bad_checksum",
            ],
        },
        Kind {
            name: "wrong password",
            frames: vec![v2.v2(Auth::simple("guess")).advert_frame(mac)],
            layer: Layer::Agent,
            expect: &["rx:router-2:auth_failure"],
        },
        Kind {
            name: "VRRPv2 advert for the VRRPv3 instance",
            frames: vec![
                Forged {
                    interval: Centisecs(100),
                    ..v3.clone()
                }
                .v2(Auth::None)
                .advert_frame(mac),
            ],
            layer: Layer::Agent,
            expect: &["rx:router-1:version_mismatch"],
        },
        Kind {
            name: "VRRPv3 advert for the VRRPv2 instance",
            frames: vec![
                Forged {
                    version: vrrp_agent::packet::Version::V3,
                    auth: Auth::None,
                    ..v2.clone()
                }
                .advert_frame(mac),
            ],
            layer: Layer::Agent,
            expect: &["rx:router-2:version_mismatch"],
        },
    ];

    let start = [status(r1), status(r2)];
    for s in &start {
        let mut errors = error_counters(s);
        // An agent attaches the program while registering its first instance: a peer's
        // advert for the next one, arriving in between, counts as for an unknown instance
        // (before any instance runs, so it changes nothing).
        let startup = errors.remove("xdp:advert_unknown_instance").unwrap_or(0);
        assert!(startup <= 5, "{startup} adverts for unknown instances");
        assert_eq!(
            errors.values().sum::<u64>(),
            0,
            "no errors before the attack: {errors:?}"
        );
    }
    let elections = start.each_ref().map(election);
    let mut report = Vec::new();
    for kind in &kinds {
        let before = [status(r1), status(r2)].map(|s| error_counters(&s));
        let dropped_before = [0, 1].map(|i| b.dropped_on_the_way(&attacker, i));
        // Flood from a thread; meanwhile ask both agents for their status, timing each answer.
        let (flood, latencies): (FloodReport, Vec<Duration>) = std::thread::scope(|s| {
            let flood = s.spawn(|| attacker.flood(&kind.frames, RATE, FLOOD));
            let mut latencies = Vec::new();
            while !flood.is_finished() {
                for a in [r1, r2] {
                    let t = Instant::now();
                    client::query(a.socket())
                        .unwrap_or_else(|e| panic!("{}: status during the flood: {e}", kind.name));
                    latencies.push(t.elapsed());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (flood.join().expect("flood thread"), latencies)
        });
        // Let the last frames through the agents' queues.
        std::thread::sleep(Duration::from_millis(300));
        let after = [status(r1), status(r2)];
        let slowest = latencies.iter().max().copied().unwrap_or_default();
        report.push(format!(
            "{:<40} sent {:>5} at {:>5.0}/s, refused {}, {} status queries, slowest {:?}",
            kind.name,
            flood.sent,
            flood.rate(),
            flood.refused,
            latencies.len(),
            slowest
        ));
        assert!(
            flood.sent >= u64::from(RATE),
            "{}: the flood was too thin: {flood:?}",
            kind.name
        );
        assert!(
            slowest < Duration::from_secs(1),
            "{}: a status query took {slowest:?} during the flood",
            kind.name
        );

        for (i, a) in after.iter().enumerate() {
            let delta = moved(&before[i], &error_counters(a));
            // Frames the kernel dropped before the XDP program saw them (queues overflowing
            // on a loaded machine): accounted for, but a flood must mostly get through.
            let lost = b.dropped_on_the_way(&attacker, i) - dropped_before[i];
            assert!(
                lost * 10 <= flood.sent,
                "{}: {lost} of {} frames to r{} dropped before XDP",
                kind.name,
                flood.sent,
                i + 1
            );
            report.push(format!(
                "    r{}: {delta:?} (lost on the way: {lost})",
                i + 1
            ));
            let unexpected: Vec<_> = delta
                .keys()
                .filter(|k| !kind.expect.contains(&k.as_str()))
                .collect();
            assert!(
                unexpected.is_empty(),
                "{}: r{} counted it under {unexpected:?} (all moves: {delta:?})",
                kind.name,
                i + 1
            );
            for e in kind.expect {
                let got = delta.get(*e).copied().unwrap_or(0);
                // An agent-layer kind may name XDP counters too: those move on every router.
                let layer = if e.starts_with("xdp:") {
                    Layer::Xdp
                } else {
                    kind.layer
                };
                match layer {
                    Layer::Xdp => assert!(
                        got + lost >= flood.sent,
                        "{}: r{} {e} moved by {got}, sent {}, {lost} lost on the way",
                        kind.name,
                        i + 1,
                        flood.sent
                    ),
                    Layer::Agent if i == 0 => assert!(
                        got <= flood.sent && got * 10 >= flood.sent * 9,
                        "{}: r{} {e} moved by {got}, sent {}",
                        kind.name,
                        i + 1,
                        flood.sent
                    ),
                    Layer::Agent => assert_eq!(
                        got, 0,
                        "{}: r2's kernel drops packets that claim its own address",
                        kind.name
                    ),
                }
            }
            assert_eq!(
                election(a),
                elections[i],
                "{}: the election changed on r{}",
                kind.name,
                i + 1
            );
        }
    }
    eprintln!("{}", report.join("\n"));

    // Still a working pair: the master resigns, the backup takes over both instances.
    let mut agents = agents;
    agents[0].signal(Signal::SIGTERM);
    agents[0].wait_exit(Duration::from_secs(5));
    for name in [VR, VR2] {
        let t = agents[1]
            .wait_state(name, "MASTER", WAIT)
            .last_transition
            .unwrap();
        assert!(t.reason.contains("resigned"), "{name}: {}", t.reason);
    }
}

/// Without the XDP program (`dataplane = "none"`) nothing drops spoofed adverts before the
/// agent: the agent must enforce `advert_sources` itself, or an outsider with a higher
/// priority takes the router over (and, holding no address, blackholes it).
#[test]
fn without_xdp_the_agent_itself_rejects_adverts_from_outside_the_allow_list() {
    require_root();
    let _serial = serial();
    let b = Bed::new();
    let configs = [0, 1].map(|i| {
        b.bed.agent_config(
            i,
            &RouterConfig {
                priority: [100, 90][i],
                dataplane: false,
                instance_extra: allowlist(),
                ..RouterConfig::default()
            },
        )
    });
    let agents = b.start_pair(configs, &[VR]);
    let [r1, r2] = &agents;
    assert!(status(r1).agent.dataplane.starts_with("none"));
    let before = [status(r1), status(r2)].map(|s| election(&s));
    let attacker = Attacker::attach(&b.bed.ha, [0x02, 0xba, 0xd0, 0, 0, 0x67]);
    let spoofed = Forged::v3(1, 254, Centisecs(10), &[Ipv4Addr::new(169, 254, 0, 1)])
        .with_src(Ipv4Addr::new(169, 254, 192, 66))
        .advert_frame(attacker.mac);
    let flood = attacker.flood(&[spoofed], 1000, Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(300));
    for (i, a) in agents.iter().enumerate() {
        let s = status(a);
        assert_eq!(election(&s), before[i], "r{}: the election changed", i + 1);
        let got = instance(a, VR).counters.rx_errors;
        let rejected = got.get("source_not_allowed").copied().unwrap_or(0);
        assert!(
            rejected <= flood.sent && rejected * 10 >= flood.sent * 9,
            "r{}: {rejected} of {} counted as source_not_allowed: {got:?}",
            i + 1,
            flood.sent
        );
        assert_eq!(got.values().sum::<u64>(), rejected, "r{}: {got:?}", i + 1);
    }
    assert_eq!(b.holds(0), Some(true), "r1 keeps the router");
}

/// A SIGHUP that changes an instance in place (here its `advert_sources`: a third router
/// joins, then leaves) must reach the XDP program too, not only the agent: otherwise the
/// program keeps dropping the new peer's adverts as spoofed (and keeps accepting a removed
/// one).
#[test]
fn a_reload_that_changes_advert_sources_reaches_the_data_plane() {
    require_root();
    let _serial = serial();
    let b = Bed::new();
    let agents = b.start_pair(
        [0, 1].map(|i| b.config(i, [100, 90][i], &allowlist())),
        &[VR],
    );
    let [r1, r2] = &agents;
    let newcomer = Ipv4Addr::new(169, 254, 192, 3);
    let attacker = Attacker::attach(&b.bed.ha, [0x02, 0xba, 0xd0, 0, 0, 0x68]);
    // A modest advert that changes nothing where accepted (priority 1 < the master's 100).
    let advert = Forged::v3(1, 1, Centisecs(10), &[Ipv4Addr::new(169, 254, 0, 1)])
        .with_src(newcomer)
        .advert_frame(attacker.mac);
    let elections = [status(r1), status(r2)].map(|s| election(&s));
    let reload = |sources: &str| {
        let config = b.config(0, 100, &format!("advert_sources = [{sources}]"));
        std::fs::write(r1.config(), config).unwrap();
        let before = r1.logs().matches("configuration reloaded").count();
        r1.signal(Signal::SIGHUP);
        wait_for(WAIT, "the reload", || {
            (r1.logs().matches("configuration reloaded").count() > before).then_some(())
        });
    };
    // Sends the advert for a while; returns what r1 and r2 counted meanwhile.
    let send = || {
        let c = |a: &Agent| {
            (
                xdp(a, VR, "adverts_spoofed"),
                xdp(a, VR, "adverts_passed"),
                instance(a, VR).counters.adverts_rx,
            )
        };
        let before = [c(r1), c(r2)];
        let flood = attacker.flood(std::slice::from_ref(&advert), 500, Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(300));
        let after = [c(r1), c(r2)];
        let d = |i: usize| {
            (
                after[i].0 - before[i].0,
                after[i].1 - before[i].1,
                after[i].2 - before[i].2,
            )
        };
        (flood.sent, [d(0), d(1)])
    };

    let (sent, [r1d, r2d]) = send();
    assert!(
        r1d.0 >= sent && r2d.0 >= sent,
        "not yet a peer: spoofed {r1d:?} {r2d:?}"
    );

    reload(&format!("\"{}\", \"{}\", \"{newcomer}\"", HA[0], HA[1]));
    let (sent, [r1d, r2d]) = send();
    assert_eq!(r1d.0, 0, "r1 allows the newcomer now: {r1d:?}");
    assert!(
        r1d.1 >= sent,
        "XDP passes its adverts: {r1d:?}, sent {sent}"
    );
    assert!(
        r1d.2 * 10 >= sent * 9,
        "and the agent hears them: {r1d:?}, sent {sent}"
    );
    assert!(r2d.0 >= sent, "r2 was not reloaded: {r2d:?}");

    reload(&format!("\"{}\", \"{}\"", HA[0], HA[1]));
    let (sent, [r1d, _]) = send();
    assert!(
        r1d.0 >= sent,
        "the newcomer left the list again: {r1d:?}, sent {sent}"
    );
    assert_eq!(r1d.2, 0, "{r1d:?}");

    assert_eq!([status(r1), status(r2)].map(|s| election(&s)), elections);
}

/// A backup that was not scheduled for longer than the master-down interval (frozen here by
/// SIGSTOP; CPU starvation or a paused VM do the same) must not take over from a master that
/// went on advertising: the adverts waiting in its socket when it resumes say the master is
/// alive. (Freezing the master is `dataplane_e2e`'s fencing test.)
#[test]
fn a_backup_frozen_longer_than_the_master_down_interval_resumes_as_backup() {
    require_root();
    let _serial = serial();
    let b = Bed::new();
    let agents = b.start_pair([b.config(0, 100, ""), b.config(1, 90, "")], &[VR]);
    let [r1, r2] = &agents;
    let master_down = Duration::from_millis(instance(r2, VR).master_advert_interval_ms * 3);
    for round in 0..10 {
        r2.signal(Signal::SIGSTOP);
        std::thread::sleep(master_down * 2);
        r2.signal(Signal::SIGCONT);
        std::thread::sleep(Duration::from_millis(400));
        let (i1, i2) = (instance(r1, VR), instance(r2, VR));
        assert_eq!(
            (i2.counters.became_master, i2.state.as_str()),
            (0, "BACKUP"),
            "round {round}: the frozen backup took over on resuming: {:?}",
            i2.last_transition
        );
        assert_eq!(
            (i1.counters.became_master, i1.counters.released_master),
            (1, 0),
            "round {round}"
        );
    }
    assert_eq!(b.holds(0), Some(true));
    assert_eq!(b.holds(1), Some(false));
}

/// When the agent's netlink event socket overruns (a burst of address changes in the router's
/// namespace while the agent is not reading: here it is frozen), the events lost include a
/// tracked interface going down. The agent must read the interfaces again: the master faults
/// on its `qr-` port though the event saying so was dropped (it came last, into a full buffer).
#[test]
fn a_tracked_interface_that_went_down_while_netlink_events_were_lost_still_faults_the_master() {
    require_root();
    let _serial = serial();
    let b = Bed::new();
    let agents = b.start_pair([b.config(0, 100, ""), b.config(1, 90, "")], &[VR]);
    let [r1, r2] = &agents;
    let r = b.router(0);
    // (No dummy module in every kernel: a veth pair inside the namespace does as well.)
    r.ip(&[
        "link", "add", "flood0", "type", "veth", "peer", "name", "flood1",
    ]);
    r.ip(&["link", "set", "flood0", "up"]);
    // More notifications than the receive buffer holds (each takes well over 100 bytes of
    // net.core.rmem_default, the agent's buffer), then the link change.
    let rmem: u32 = std::fs::read_to_string("/proc/sys/net/core/rmem_default")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    let count = (rmem / 100).clamp(4000, 60000);
    let mut batch: String = (0..count)
        .map(|i| {
            let [_, _, hi, lo] = i.to_be_bytes();
            format!("address add 10.222.{hi}.{lo}/32 dev flood0\n")
        })
        .collect();
    batch.push_str(&format!("link set {QR_IF} down\n"));
    let path = b.dir.path("netlink-flood.batch");
    std::fs::write(&path, batch).unwrap();
    r1.signal(Signal::SIGSTOP);
    r.ip(&["-batch", &path.to_string_lossy()]);
    r1.signal(Signal::SIGCONT);

    let fault = r1.wait_state(VR, "FAULT", WAIT);
    assert!(
        fault.tracked.iter().any(|t| t.name == QR_IF && !t.up),
        "{:?}",
        fault.tracked
    );
    assert!(
        r1.logs()
            .contains("netlink events were lost (event socket overrun)"),
        "the burst overran the agent's event socket and it read the interfaces again:\n{}",
        r1.logs()
    );
    r2.wait_state(VR, "MASTER", WAIT);
    wait_for(WAIT, "the addresses on r2 only", || {
        (b.holds(0) == Some(false) && b.holds(1) == Some(true)).then_some(())
    });
}
