//! One failover trial on a fresh test bed: two routers elect r1 (priority 100, nopreempt),
//! probes flow every 1 ms through the gateway (client -> server) and through the floating IP
//! (server -> client), one TCP stream runs through the floating IP, the fault hits r1, and the
//! probes say how long traffic stopped and whether two routers forwarded at once.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use super::{
    daemon::{Daemon, Fault, Implementation},
    measure::{dual_forwarding, lost_run, outage},
};
use vrrp_tests::{
    tempdir::TempDir,
    testbed::{
        CLIENT_IP, FLOATING_IP, GATEWAY_IP, HA_IF, Options, PRIMARY_VIP, QR_IF, RouterConfig,
        SERVER_IP, Testbed,
    },
    topo::addresses,
    traffic::{TcpStreamer, UdpSink, UdpSource, tcp_echo_server},
};

/// What a trial runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    pub implementation: Implementation,
    pub version: u8,
    /// Advertisement interval, seconds.
    pub interval: f64,
    pub fault: Fault,
}

/// What a trial measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// From the fault until r2 reported MASTER (its status socket or notify script).
    pub takeover_ms: Option<f64>,
    /// Longest run of lost 1 ms probes client -> server through the gateway (sender's clock).
    pub outage_gateway_ms: f64,
    /// Longest run of lost 1 ms probes server -> floating IP (sender's clock).
    pub outage_floating_ms: f64,
    /// Longest silence at either receiver after the fault (its own clock; includes any time
    /// the scheduler held the sender or receiver up).
    pub silence_ms: f64,
    /// Probes that arrived twice (both directions).
    pub duplicated: u64,
    /// How long two routers forwarded at once (longer of the two directions).
    pub dual_forwarding_ms: f64,
    /// Duplicates went on until the end of the observation.
    pub dual_until_end: bool,
    pub tcp_survived: bool,
    pub tcp_error: Option<String>,
    pub tcp_longest_wait_ms: f64,
    /// The old master still had virtual addresses at the end of the observation.
    pub old_master_holds_vips: bool,
    /// Observation after the fault, ms.
    pub observed_ms: f64,
}

impl Outcome {
    /// The outage through the router: the worse of the two directions.
    pub fn outage_ms(&self) -> f64 {
        self.outage_gateway_ms.max(self.outage_floating_ms)
    }
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().expect("address")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Time for an election to settle: the master-down interval and some.
fn settle(interval: f64) -> Duration {
    Duration::from_secs_f64(interval * 4.0 + 5.0)
}

/// Runs one trial. Errors describe what did not happen (no master, no traffic).
pub fn run(setup: &Setup, tag: &str) -> anyhow::Result<Outcome> {
    let bed = Testbed::up(Options {
        tag: tag.to_string(),
        routers: 2,
        persistent: false,
        flood: true,
        random_fully: true,
    });
    let dir = TempDir::new("failover");
    let config = |priority| RouterConfig {
        priority,
        advert_interval: setup.interval,
        preempt: false,
        version: setup.version,
        dataplane: true,
        track_gateway: false,
        bpf_pin_dir: Some(dir.bpf_dir().join(format!("p{priority}"))),
        ..RouterConfig::default()
    };
    if setup.implementation == Implementation::Keepalived {
        // What Neutron does for a floating IP without vrrp-xdp, on every router of the group.
        bed.install_iptables_nat(0);
        bed.install_iptables_nat(1);
    }
    let r1 = Daemon::start(setup.implementation, &bed, 0, &dir, &config(100));
    if !r1.wait_state("MASTER", settle(setup.interval)) {
        anyhow::bail!("r1 never became MASTER: {:?}\n{}", r1.state(), r1.logs());
    }
    let r2 = Daemon::start(setup.implementation, &bed, 1, &dir, &config(90));
    if !r2.wait_state("BACKUP", settle(setup.interval)) {
        anyhow::bail!("r2 never became BACKUP: {:?}\n{}", r2.state(), r2.logs());
    }
    // BACKUP is reported at once on startup, before the first advert from r1 arrives. A fault
    // injected then would find r2 still counting its master-down interval from its own start
    // (at 1 s and 2 s adverts r2 often heard nothing before the fault, which added up to one
    // interval to the measured outage). Wait until r2 has heard r1 at least twice.
    std::thread::sleep(Duration::from_secs_f64(setup.interval * 2.5));

    let to_server = UdpSink::start(&bed.server, addr(SERVER_IP, 9200));
    let to_client = UdpSink::start(&bed.client, addr(CLIENT_IP, 9201));
    let _echo = tcp_echo_server(&bed.client, addr(CLIENT_IP, 7000));
    let up = UdpSource::start(&bed.client, addr(SERVER_IP, 9200), Duration::from_millis(1));
    let down = UdpSource::start(
        &bed.server,
        addr(FLOATING_IP, 9201),
        Duration::from_millis(1),
    );
    let tcp = TcpStreamer::start(
        &bed.server,
        addr(FLOATING_IP, 7000),
        Duration::from_millis(10),
    );
    let flowing = Instant::now();
    while to_server.count() < 200 || to_client.count() < 200 {
        if flowing.elapsed() > Duration::from_secs(10) {
            anyhow::bail!(
                "no traffic through r1: {} / {} probes arrived",
                to_server.count(),
                to_client.count()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));

    let t0 = Instant::now();
    r1.inject(setup.fault, &bed.routers[0]);
    let took_over = r2
        .wait_state("MASTER", settle(setup.interval))
        .then(|| ms(t0.elapsed()));
    // Watch a while after the takeover: long enough to see dual forwarding and the stream
    // recover, at least a second.
    std::thread::sleep(Duration::from_secs_f64((setup.interval * 3.0).max(1.0)));
    let held = [HA_IF, QR_IF]
        .iter()
        .flat_map(|i| addresses(&bed.routers[0], i))
        .any(|a| {
            a.starts_with(PRIMARY_VIP.split('/').next().unwrap_or_default())
                || a.starts_with(&format!("{GATEWAY_IP}/"))
        });
    let until = Instant::now();
    let report = tcp.stop();
    let sent_up = up.stop_with_times();
    let sent_down = down.stop_with_times();
    std::thread::sleep(Duration::from_millis(100));
    r1.recover(setup.fault, &bed.routers[0]);

    let slack = Duration::from_millis(100);
    let (a_up, a_down) = (
        to_server.received.lock().expect("sink").clone(),
        to_client.received.lock().expect("sink").clone(),
    );
    let (d_up, d_down) = (
        dual_forwarding(&a_up, t0, until, slack),
        dual_forwarding(&a_down, t0, until, slack),
    );
    Ok(Outcome {
        takeover_ms: took_over,
        outage_gateway_ms: ms(lost_run(&sent_up, &a_up, t0, until)),
        outage_floating_ms: ms(lost_run(&sent_down, &a_down, t0, until)),
        silence_ms: ms(outage(&a_up, t0, until).max(outage(&a_down, t0, until))),
        duplicated: d_up.duplicated + d_down.duplicated,
        dual_forwarding_ms: ms(d_up.span.max(d_down.span)),
        dual_until_end: d_up.until_end || d_down.until_end,
        tcp_survived: report.error.is_none() && report.echoed > 0,
        tcp_error: report.error,
        tcp_longest_wait_ms: ms(report.longest_wait),
        old_master_holds_vips: held,
        observed_ms: ms(until - t0),
    })
}
