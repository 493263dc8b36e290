//! The XDP data plane with real agents on the shared Neutron-like test bed
//! (`vrrp_tests::testbed`): routers r1 and r2 with shared qr-/qg- MACs and Neutron's iptables
//! rules, a VM (the bed's client) behind a floating IP on the LAN, an outside host (the bed's
//! server) on the WAN. The LAN and WAN bridges flood every frame (ageing 0), so both routers
//! see every packet: exactly one of them may forward, and a second forwarder shows up as
//! duplicates at the receiver. The fast path is off (the agent's default): the owner's XDP
//! program hands the traffic to its kernel, which routes and translates with Neutron's rules;
//! the other's drops it. Needs root and the XDP object (`cargo xtask test`).

use std::{net::SocketAddr, time::Duration};

use nix::sys::signal::Signal;
use vrrp_tests::{
    agent::Agent,
    require_root,
    tempdir::TempDir,
    testbed::{
        CLIENT_IP, FLOATING_IP, GATEWAY_IP, HA_IF, Options, PRIMARY_VIP, QG_IF, QR_IF,
        ROUTER_EXTERNAL, RouterConfig, SERVER_IP, Testbed,
    },
    topo::wait_for,
    traffic::{TcpStreamer, UdpSink, UdpSource, tcp_echo_server},
};

const WAIT: Duration = Duration::from_secs(15);
/// The bed's instance.
const VR: &str = "router-1";

struct Topo {
    bed: Testbed,
    dir: TempDir,
}

impl Topo {
    fn new() -> Self {
        Self::with(Options::for_test(2))
    }

    fn with(options: Options) -> Self {
        Self {
            bed: Testbed::up(options),
            dir: TempDir::new("dp"),
        }
    }

    fn config(&self, i: usize, priority: u8) -> String {
        self.config_with(i, priority, 0.1)
    }

    fn config_with(&self, i: usize, priority: u8, interval: f64) -> String {
        self.bed.agent_config(
            i,
            &RouterConfig {
                priority,
                advert_interval: interval,
                ..RouterConfig::default()
            },
        )
    }

    fn start_pair(&self) -> (Agent, Agent) {
        let r1 = Agent::run("r1", &self.dir, &self.config(0, 100));
        r1.wait_state(VR, "MASTER", WAIT);
        let r2 = Agent::run("r2", &self.dir, &self.config(1, 90));
        r2.wait_state(VR, "BACKUP", WAIT);
        (r1, r2)
    }
}

fn counter(a: &Agent, name: &str) -> u64 {
    a.instance(VR)
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
    let sink = UdpSink::start(&t.bed.client, addr(CLIENT_IP, 9000));
    let source = UdpSource::start(
        &t.bed.server,
        addr(FLOATING_IP, 9000),
        Duration::from_millis(5),
    );
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
        [SERVER_IP],
        "inbound keeps the outside source (destination NAT only)"
    );

    // Outbound: the VM's traffic leaves with the floating IP as source.
    let outside = UdpSink::start(&t.bed.server, addr(SERVER_IP, 9001));
    let from_vm = UdpSource::start(
        &t.bed.client,
        addr(SERVER_IP, 9001),
        Duration::from_millis(5),
    );
    wait_for(WAIT, "datagrams from the VM outside", || {
        (outside.count() >= 50).then_some(())
    });
    let sent_out = from_vm.stop();
    let sources: Vec<String> = outside
        .sources
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.ip().to_string())
        .collect();
    assert_eq!(sources, [FLOATING_IP], "SNAT to the floating IP");

    // A TCP connection through the floating IP.
    let _server = tcp_echo_server(&t.bed.client, addr(CLIENT_IP, 7000));
    let stream = TcpStreamer::start(
        &t.bed.server,
        addr(FLOATING_IP, 7000),
        Duration::from_millis(10),
    );
    std::thread::sleep(Duration::from_millis(500));
    let report = stream.stop();
    assert!(report.error.is_none(), "{report:?}");
    assert!(
        report.echoed > 10 && report.echoed == report.sent,
        "{report:?}"
    );

    // The master let its kernel translate (Neutron's iptables rules; the fast path is off by
    // default); the backup saw the same frames (flooding) and dropped them.
    assert!(
        counter(&r1, "vip_passed") >= sent,
        "r1 vip_passed {}",
        counter(&r1, "vip_passed")
    );
    // The VM's traffic out is routed through the gateway r1 owns: its kernel's path too.
    assert!(
        counter(&r1, "kernel_path") >= sent_out,
        "r1 kernel_path {}, the VM sent {sent_out}",
        counter(&r1, "kernel_path")
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

/// Neutron's routers SNAT with `--random-fully` by default, and a new master has no conntrack
/// entry for a connection that was established through the old one: when the first packet of
/// it the new master sees comes from the VM (an echo, a retransmission), its kernel takes it
/// for a new connection and the floating IP's SNAT rule picks a random source port, so the
/// outside host answers with a reset. Whether the connection survives then depends on which
/// side speaks first after the takeover (seen on this bed: the VM's echo left as
/// 203.0.113.20:39546 instead of :7001, and the stream was reset). That is Neutron's kernel
/// NAT, the same under keepalived; this test is about the handover, so its routers SNAT
/// without `--random-fully` (Neutron's `[AGENT] use_random_fully = false`).
#[test]
fn a_long_lived_tcp_connection_through_the_floating_ip_survives_failover() {
    require_root();
    let t = Topo::with(Options {
        random_fully: false,
        ..Options::for_test(2)
    });
    let (mut r1, r2) = t.start_pair();
    let _server = tcp_echo_server(&t.bed.client, addr(CLIENT_IP, 7001));
    let stream = TcpStreamer::start(
        &t.bed.server,
        addr(FLOATING_IP, 7001),
        Duration::from_millis(10),
    );
    std::thread::sleep(Duration::from_millis(500));
    r1.signal(Signal::SIGTERM);
    r1.wait_exit(Duration::from_secs(5));
    r2.wait_state(VR, "MASTER", WAIT);
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
    let sink = UdpSink::start(&t.bed.client, addr(CLIENT_IP, 9100));
    let target = match via {
        Via::FloatingIp => addr(FLOATING_IP, 9100),
        Via::Routed => {
            t.bed
                .server
                .ip(&["route", "add", "10.0.10.0/24", "via", ROUTER_EXTERNAL]);
            addr(CLIENT_IP, 9100)
        }
    };
    let source = UdpSource::start(&t.bed.server, target, Duration::from_millis(2));
    wait_for(WAIT, "traffic through r1", || {
        (sink.count() >= 50).then_some(())
    });
    r1.signal(signal);
    let t0 = std::time::Instant::now();
    r2.wait_state(VR, "MASTER", WAIT);
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
        r1.signal(Signal::SIGCONT);
        // Back from the freeze: exactly one master afterwards.
        wait_for(WAIT, "exactly one master", || {
            let m = [&r1, &r2]
                .iter()
                .filter(|a| a.instance(VR).is_some_and(|i| i.state == "MASTER"))
                .count();
            (m == 1).then_some(())
        });
        let resumed = r1.instance(VR).unwrap();
        assert!(
            resumed.dataplane.as_ref().unwrap()["lease_expired_dropped"] > 0,
            "the frozen master's lease ran out and it dropped: {resumed:?}"
        );
        // The loser holds no virtual address, and only one router forwards: a fresh burst
        // arrives once, and through whichever router won.
        std::thread::sleep(Duration::from_millis(500));
        let loser = if r1.instance(VR).unwrap().state == "MASTER" {
            1
        } else {
            0
        };
        let r = &t.bed.routers[loser];
        let virtual_addresses = [PRIMARY_VIP, GATEWAY_IP, ROUTER_EXTERNAL, FLOATING_IP]
            .map(|a| format!("{}/", a.split('/').next().unwrap_or_default()));
        let held = [HA_IF, QR_IF, QG_IF]
            .iter()
            .flat_map(|i| vrrp_tests::topo::addresses(r, i))
            .filter(|a| virtual_addresses.iter().any(|v| a.starts_with(v.as_str())))
            .collect::<Vec<_>>();
        assert!(held.is_empty(), "r{} lost but holds {held:?}", loser + 1);
        let sink = UdpSink::start(&t.bed.client, addr(CLIENT_IP, 9101));
        let target = match via {
            Via::FloatingIp => addr(FLOATING_IP, 9101),
            Via::Routed => addr(CLIENT_IP, 9101),
        };
        let source = UdpSource::start(&t.bed.server, target, Duration::from_millis(2));
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
    let r1 = Agent::run("r1", &t.dir, &t.config_with(0, 100, 0.5));
    r1.wait_state(VR, "MASTER", WAIT);
    let r2 = Agent::run("r2", &t.dir, &t.config_with(1, 90, 0.5));
    r2.wait_state(VR, "BACKUP", WAIT);
    let sink = UdpSink::start(&t.bed.client, addr(CLIENT_IP, 9200));
    let source = UdpSource::start(
        &t.bed.server,
        addr(FLOATING_IP, 9200),
        Duration::from_millis(5),
    );
    wait_for(WAIT, "traffic", || (sink.count() >= 50).then_some(()));

    let mut r1 = r1;
    r1.signal(Signal::SIGKILL);
    r1.wait_exit(WAIT);
    let t0 = std::time::Instant::now();
    let r1 = Agent::run("r1", &t.dir, &t.config_with(0, 100, 0.5));
    let resumed = r1.wait_state(VR, "MASTER", WAIT);
    let restart = t0.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    source.stop();
    std::thread::sleep(Duration::from_millis(200));

    let reason = resumed.last_transition.unwrap().reason;
    assert!(
        reason.contains("lease was still valid"),
        "{reason} (restart took {restart:?})"
    );
    let backup = r2.instance(VR).unwrap();
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
