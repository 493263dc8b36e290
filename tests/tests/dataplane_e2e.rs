//! The XDP data plane with real agents, in a Neutron-like topology: routers r1 and r2 with
//! shared qr-/qg- MACs, a VM behind a floating IP on the LAN, an outside host on the WAN.
//! The LAN and WAN bridges flood every frame (ageing 0), so both routers see every packet:
//! exactly one of them may forward, and a second forwarder shows up as duplicates at the
//! receiver. Needs root and the XDP object (`cargo xtask test`).

use std::{net::SocketAddr, time::Duration};

use nix::sys::signal::Signal;
use vrrp_tests::{
    agents::{RunningAgent, TempDir},
    netns::NetNs,
    require_root,
    topo::{Segment, wait_for},
    traffic::{TcpStreamer, UdpSink, UdpSource, tcp_echo_server},
};

const WAIT: Duration = Duration::from_secs(15);
const QR_MAC: &str = "fa:16:3e:00:10:01";
const QG_MAC: &str = "fa:16:3e:00:20:01";
const FIP: &str = "203.0.113.20";
const FIXED: &str = "10.0.10.5";
const EXT: &str = "203.0.113.100";

struct Topo {
    _ha: Segment,
    _lan: Segment,
    _wan: Segment,
    routers: Vec<NetNs>,
    vm: NetNs,
    ext: NetNs,
    dir: TempDir,
    pin_root: std::path::PathBuf,
}

impl Topo {
    fn new() -> Self {
        let (ha, lan, wan) = (Segment::new(), Segment::new(), Segment::new());
        lan.flood();
        wan.flood();
        let mut routers = Vec::new();
        for i in 0..2 {
            let r = NetNs::new();
            ha.attach_ha_node(&r, "ha", i + 1);
            let p = lan.attach(&r, "qr", Some(QR_MAC));
            lan.gro_on(&p);
            let p = wan.attach(&r, "qg", Some(QG_MAC));
            wan.gro_on(&p);
            r.sysctl("net.ipv4.ip_forward=1");
            routers.push(r);
        }
        let vm = NetNs::new();
        let p = lan.attach(&vm, "eth0", None);
        lan.gro_on(&p);
        vm.ip(&["addr", "add", &format!("{FIXED}/24"), "dev", "eth0"]);
        vm.ip(&["route", "add", "default", "via", "10.0.10.1"]);
        vm.tx_checksum_off("eth0");
        let ext = NetNs::new();
        let p = wan.attach(&ext, "eth0", None);
        wan.gro_on(&p);
        ext.ip(&["addr", "add", &format!("{EXT}/24"), "dev", "eth0"]);
        ext.tx_checksum_off("eth0");
        let dir = TempDir::new("dp");
        let pin_root = dir.bpf_dir();
        Self {
            _ha: ha,
            _lan: lan,
            _wan: wan,
            routers,
            vm,
            ext,
            dir,
            pin_root,
        }
    }

    fn config(&self, i: usize, priority: u8) -> String {
        self.config_with(i, priority, 0.1)
    }

    fn config_with(&self, i: usize, priority: u8, interval: f64) -> String {
        format!(
            r#"
[global]
bpf_pin_dir = "{pins}"

[[instance]]
name = "VR_1"
netns = "{ns}"
interface = "ha"
vrid = 1
priority = {priority}
advert_interval = {interval}
preempt = false
virtual_addresses = ["169.254.0.1/24"]
excluded_addresses = [
    "10.0.10.1/24 dev qr",
    "203.0.113.10/24 dev qg",
    "{FIP}/32 dev qg",
]
floating_ips = [{{ floating = "{FIP}", fixed = "{FIXED}", interface = "qg" }}]
garp = {{ master_delay = 0, master_repeat = 3 }}
"#,
            pins = self.pin_root.join(format!("r{}", i + 1)).display(),
            ns = self.routers[i].name(),
        )
    }

    fn start_pair(&self) -> (RunningAgent, RunningAgent) {
        let r1 = RunningAgent::start("r1", &self.dir, &self.config(0, 100));
        r1.wait_state("VR_1", "MASTER", WAIT);
        let r2 = RunningAgent::start("r2", &self.dir, &self.config(1, 90));
        r2.wait_state("VR_1", "BACKUP", WAIT);
        (r1, r2)
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        // Links and maps a killed agent left pinned.
        let _ = std::fs::remove_dir_all(&self.pin_root);
    }
}

fn counter(a: &RunningAgent, name: &str) -> u64 {
    a.instance("VR_1")
        .and_then(|i| i.dataplane)
        .and_then(|d| d.get(name).copied())
        .unwrap_or(0)
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().unwrap()
}

#[test]
fn floating_ip_traffic_goes_through_the_master_and_the_backup_drops_it() {
    require_root();
    let t = Topo::new();
    let (r1, r2) = t.start_pair();
    assert!(
        r1.status().unwrap().agent.dataplane.starts_with("xdp:"),
        "{}",
        r1.status().unwrap().agent.dataplane
    );

    // Inbound: the outside host talks to the floating IP; the VM sees it on its fixed IP.
    let sink = UdpSink::start(&t.vm, addr(FIXED, 9000));
    let source = UdpSource::start(&t.ext, addr(FIP, 9000), Duration::from_millis(5));
    wait_for(WAIT, "datagrams at the VM", || {
        (sink.count() >= 50).then_some(())
    });
    let sent = source.stop();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        sink.duplicates().is_empty(),
        "a second forwarder: {:?}",
        sink.duplicates()
    );
    assert_eq!(sink.count() as u64, sent, "every datagram arrived once");
    let seen: Vec<String> = sink
        .sources
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.ip().to_string())
        .collect();
    assert_eq!(
        seen,
        [EXT],
        "inbound keeps the outside source (destination NAT only)"
    );

    // Outbound: the VM's traffic leaves with the floating IP as source.
    let outside = UdpSink::start(&t.ext, addr(EXT, 9001));
    let from_vm = UdpSource::start(&t.vm, addr(EXT, 9001), Duration::from_millis(5));
    wait_for(WAIT, "datagrams from the VM outside", || {
        (outside.count() >= 50).then_some(())
    });
    from_vm.stop();
    let sources: Vec<String> = outside
        .sources
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.ip().to_string())
        .collect();
    assert_eq!(sources, [FIP], "SNAT to the floating IP");

    // A TCP connection through the floating IP.
    let _server = tcp_echo_server(&t.vm, addr(FIXED, 7000));
    let stream = TcpStreamer::start(&t.ext, addr(FIP, 7000), Duration::from_millis(10));
    std::thread::sleep(Duration::from_millis(500));
    let report = stream.stop();
    assert!(report.error.is_none(), "{report:?}");
    assert!(
        report.echoed > 10 && report.echoed == report.sent,
        "{report:?}"
    );

    // The master let the kernel translate (its NAT table, written by the agent; the fast
    // path is off by default); the backup saw the same frames (flooding) and dropped them.
    assert!(
        counter(&r1, "vip_passed") >= sent,
        "r1 vip_passed {}",
        counter(&r1, "vip_passed")
    );
    for c in ["nat_in", "nat_out", "redirected"] {
        assert_eq!(counter(&r1, c), 0, "r1 {c}: the fast path is off");
        assert_eq!(counter(&r2, c), 0, "r2 {c}");
    }
    assert!(
        counter(&r2, "not_owned_dropped") >= sent,
        "the backup drops floating-IP traffic: {}",
        counter(&r2, "not_owned_dropped")
    );
}

#[test]
fn a_long_lived_tcp_connection_through_the_floating_ip_survives_failover() {
    require_root();
    let t = Topo::new();
    let (mut r1, r2) = t.start_pair();
    let _server = tcp_echo_server(&t.vm, addr(FIXED, 7001));
    let stream = TcpStreamer::start(&t.ext, addr(FIP, 7001), Duration::from_millis(10));
    std::thread::sleep(Duration::from_millis(500));
    r1.process.signal(Signal::SIGTERM);
    r1.process.wait_exit(Duration::from_secs(5));
    r2.wait_state("VR_1", "MASTER", WAIT);
    std::thread::sleep(Duration::from_secs(1));
    let report = stream.stop();
    assert!(report.error.is_none(), "the connection broke: {report:?}");
    assert_eq!(report.echoed, report.sent, "{report:?}");
    assert!(report.sent > 100, "{report:?}");
    assert!(
        counter(&r2, "vip_passed") > 0,
        "the new master takes the floating IP's traffic"
    );
}

/// What the fencing tests send: to the floating IP (translated), or routed to the VM's fixed
/// address through the router's external address (no translation).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    FloatingIp,
    Routed,
}

fn fence_test(signal: Signal) {
    fence_test_via(signal, Via::FloatingIp);
}

fn fence_test_via(signal: Signal, via: Via) {
    require_root();
    let t = Topo::new();
    let (r1, r2) = t.start_pair();
    let sink = UdpSink::start(&t.vm, addr(FIXED, 9100));
    let target = match via {
        Via::FloatingIp => addr(FIP, 9100),
        Via::Routed => {
            t.ext
                .ip(&["route", "add", "10.0.10.0/24", "via", "203.0.113.10"]);
            addr(FIXED, 9100)
        }
    };
    let source = UdpSource::start(&t.ext, target, Duration::from_millis(2));
    wait_for(WAIT, "traffic through r1", || {
        (sink.count() >= 50).then_some(())
    });
    r1.process.signal(signal);
    let t0 = std::time::Instant::now();
    r2.wait_state("VR_1", "MASTER", WAIT);
    std::thread::sleep(Duration::from_secs(2));
    let sent = source.stop();
    std::thread::sleep(Duration::from_millis(200));
    let dups = sink.duplicates();
    assert!(
        dups.is_empty(),
        "both routers forwarded {} datagrams ({via:?}) after {signal}",
        dups.len()
    );
    let outage = sink.longest_gap_after(t0);
    assert!(outage < Duration::from_secs(2), "outage {outage:?}");
    assert!(
        sink.count() as u64 > sent / 2,
        "traffic flows again: {} of {sent}",
        sink.count()
    );
    if signal == Signal::SIGSTOP {
        r1.process.signal(Signal::SIGCONT);
        // Back from the freeze: exactly one master afterwards.
        wait_for(WAIT, "exactly one master", || {
            let m = [&r1, &r2]
                .iter()
                .filter(|a| a.instance("VR_1").is_some_and(|i| i.state == "MASTER"))
                .count();
            (m == 1).then_some(())
        });
        let resumed = r1.instance("VR_1").unwrap();
        assert!(
            resumed.dataplane.as_ref().unwrap()["lease_expired_dropped"] > 0,
            "the frozen master's lease ran out and it dropped: {resumed:?}"
        );
        // The loser holds no virtual address, and only one router forwards: a fresh burst
        // arrives once, and through whichever router won.
        std::thread::sleep(Duration::from_millis(500));
        let loser = if r1.instance("VR_1").unwrap().state == "MASTER" {
            1
        } else {
            0
        };
        let held = vrrp_tests::topo::addresses(&t.routers[loser], "ha")
            .into_iter()
            .chain(vrrp_tests::topo::addresses(&t.routers[loser], "qr"))
            .chain(vrrp_tests::topo::addresses(&t.routers[loser], "qg"))
            .filter(|a| {
                [
                    "169.254.0.1/",
                    "10.0.10.1/",
                    "203.0.113.10/",
                    "203.0.113.20/",
                ]
                .iter()
                .any(|v| a.starts_with(v))
            })
            .collect::<Vec<_>>();
        assert!(held.is_empty(), "r{} lost but holds {held:?}", loser + 1);
        let sink = UdpSink::start(&t.vm, addr(FIXED, 9101));
        let target = match via {
            Via::FloatingIp => addr(FIP, 9101),
            Via::Routed => addr(FIXED, 9101),
        };
        let source = UdpSource::start(&t.ext, target, Duration::from_millis(2));
        std::thread::sleep(Duration::from_secs(1));
        let sent = source.stop();
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            sink.duplicates().is_empty(),
            "two forwarders after SIGCONT: {} duplicates",
            sink.duplicates().len()
        );
        assert!(
            sink.count() as u64 > sent * 9 / 10,
            "after SIGCONT traffic flows: {} of {sent}",
            sink.count()
        );
    }
}

#[test]
fn kill_9_of_the_master_agent_fences_it_by_lease_and_never_two_forward() {
    fence_test(Signal::SIGKILL);
}

#[test]
fn sigstop_of_the_master_agent_fences_it_by_lease_and_never_two_forward() {
    fence_test(Signal::SIGSTOP);
}

#[test]
fn a_killed_master_stops_routing_too_not_only_its_floating_ips() {
    fence_test_via(Signal::SIGKILL, Via::Routed);
}

#[test]
fn restarting_the_master_agent_keeps_forwarding_and_does_not_flap() {
    require_root();
    let t = Topo::new();
    // 0.5 s adverts: a 1.5 s lease for the restart to complete in.
    let r1 = RunningAgent::start("r1", &t.dir, &t.config_with(0, 100, 0.5));
    r1.wait_state("VR_1", "MASTER", WAIT);
    let r2 = RunningAgent::start("r2", &t.dir, &t.config_with(1, 90, 0.5));
    r2.wait_state("VR_1", "BACKUP", WAIT);
    let sink = UdpSink::start(&t.vm, addr(FIXED, 9200));
    let source = UdpSource::start(&t.ext, addr(FIP, 9200), Duration::from_millis(5));
    wait_for(WAIT, "traffic", || (sink.count() >= 50).then_some(()));

    let mut r1 = r1;
    r1.process.signal(Signal::SIGKILL);
    r1.process.wait_exit(WAIT);
    let t0 = std::time::Instant::now();
    let r1 = RunningAgent::start("r1", &t.dir, &t.config_with(0, 100, 0.5));
    let resumed = r1.wait_state("VR_1", "MASTER", WAIT);
    let restart = t0.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    source.stop();
    std::thread::sleep(Duration::from_millis(200));

    let reason = resumed.last_transition.unwrap().reason;
    assert!(
        reason.contains("lease was still valid"),
        "{reason} (restart took {restart:?})"
    );
    let backup = r2.instance("VR_1").unwrap();
    assert_eq!(backup.state, "BACKUP");
    assert_eq!(
        backup.counters.became_master, 0,
        "the backup never took over"
    );
    assert!(sink.duplicates().is_empty());
    let gap = sink.longest_gap_after(t0);
    assert!(
        gap < Duration::from_millis(500),
        "forwarding continued through the restart: gap {gap:?}"
    );
}
