//! The README's demo (`cargo xtask demo`): two routers on the Neutron-like test bed run by
//! vrrp-agent with its XDP data plane and its fast path on; traffic through the gateway and the
//! floating IP, whose NAT (Neutron's iptables rules) the fast path does in XDP once the agent's
//! analysis of the router's rules proved it the same; the master is killed; the outage and the
//! fate of a TCP connection are measured; the old master comes back without a flap. Everything is torn down at the end (also on Ctrl-C of a step:
//! namespaces and agents go with their guards).

use std::{
    io::{IsTerminal, Write},
    net::SocketAddr,
    process::ExitCode,
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;
use vrrp_agent::api::{model::FloatingIpReport, table};
use vrrp_tests::{
    agent::Agent,
    tempdir::TempDir,
    testbed::{CLIENT_IP, FLOATING_IP, Options, RouterConfig, SERVER_IP, Testbed},
    traffic::{TcpStreamer, UdpSink, UdpSource, tcp_echo_server},
};

const INSTANCE: &str = "router-1";

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().expect("address")
}

/// Waits for `cond`, showing a progress line with the elapsed time.
fn wait_for<T>(what: &str, limit: Duration, mut cond: impl FnMut() -> Option<T>) -> Option<T> {
    let t0 = Instant::now();
    let spinner = ['|', '/', '-', '\\'];
    // A spinner only on a terminal: in a log or a pipe it would repeat the line many times.
    let tty = std::io::stdout().is_terminal();
    let clear = if tty { "\r\x1b[2K" } else { "" };
    let mut i = 0;
    loop {
        if let Some(v) = cond() {
            print!("{clear}");
            return Some(v);
        }
        if t0.elapsed() > limit {
            println!("{clear}      gave up waiting for {what} after {limit:?}");
            return None;
        }
        if !tty {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        print!(
            "\r      {} waiting for {what} ... {:.1}s",
            spinner[i % 4],
            t0.elapsed().as_secs_f64()
        );
        let _ = std::io::stdout().flush();
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn state(a: &Agent) -> Option<(String, String)> {
    let i = a.instance(INSTANCE)?;
    let reason = i.last_transition.map(|t| t.reason).unwrap_or_default();
    Some((i.state, reason))
}

/// The agent's report on the floating IP (its fast-path section).
fn fast_floating_ip(a: &Agent) -> Option<FloatingIpReport> {
    a.status()?
        .fastpath
        .into_iter()
        .flat_map(|f| f.floating_ips)
        .find(|f| f.floating == FLOATING_IP)
}

fn show_table(agents: &[&Agent]) {
    let reports: Vec<_> = agents.iter().filter_map(|a| a.status()).collect();
    for line in table::render(&reports).lines() {
        println!("      {line}");
    }
}

fn main() -> ExitCode {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("demo: needs root (network namespaces, XDP)");
        return ExitCode::FAILURE;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\ndemo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    println!("vrrp-xdp demo: one virtual router on two nodes, a client behind a floating IP\n");
    println!("[1/7] test bed (network namespaces, Neutron-like)");
    let bed = Testbed::up(Options {
        tag: format!("demo{}", std::process::id()),
        routers: 2,
        persistent: false,
        flood: false,
        // Neutron's default SNAT is `--random-fully`: a connection then survives a takeover
        // only if the new master first sees a packet of it from the outside (a reply from the
        // VM first gets a random source port and the far end resets it), and the agent keeps
        // floating IPs on the kernel path (XDP cannot pick ports as the kernel would). The
        // demo shows the handover and the fast path, so its routers SNAT without (Neutron's
        // `use_random_fully = false`).
        random_fully: false,
    });
    for line in bed.describe().lines() {
        println!("      {line}");
    }
    let dir = TempDir::new("demo");

    println!("\n[2/7] vrrp-agent on r1 (priority 100) and r2 (priority 90): VRRPv3 every 100 ms,");
    println!(
        "      nopreempt (as Neutron), XDP data plane on every router interface: it fences what"
    );
    println!(
        "      the node does not own; its fast path (fast_path = true) forwards what the agent"
    );
    println!("      proved the kernel would send the same way, and hands the rest to the kernel");
    let config = |priority| RouterConfig {
        priority,
        advert_interval: 0.1,
        fast_path: true,
        peer_napi: true,
        ..RouterConfig::default()
    };
    let r1 = Agent::run("r1", &dir, &bed.agent_config(0, &config(100)));
    wait_for("r1 to elect itself", Duration::from_secs(15), || {
        state(&r1).filter(|(s, _)| s == "MASTER")
    })
    .ok_or("r1 never became master")?;
    let r2 = Agent::run("r2", &dir, &bed.agent_config(1, &config(90)));
    wait_for("r2 to settle as backup", Duration::from_secs(15), || {
        r2.instance(INSTANCE)
            .filter(|i| i.state == "BACKUP" && i.master.is_some())
    })
    .ok_or("r2 never settled")?;
    let (s1, why1) = state(&r1).ok_or("r1 status")?;
    let (s2, _) = state(&r2).ok_or("r2 status")?;
    println!("      r1 is {s1}: {why1}");
    println!(
        "      r2 is {s2}: it hears r1's adverts (master {}) and, without preemption, waits",
        r2.instance(INSTANCE)
            .and_then(|i| i.master)
            .unwrap_or_default()
    );
    println!("      {}", r1.status().ok_or("r1 status")?.agent.dataplane);
    let fip = wait_for("r1's fast path", Duration::from_secs(15), || {
        fast_floating_ip(&r1).filter(|f| f.fast)
    })
    .ok_or("r1's fast path never took the floating IP")?;
    println!(
        "      r1's fast path read Neutron's rules in its namespace: floating IP {} <-> {} ({} <-> {})",
        fip.floating,
        fip.fixed,
        fip.external.unwrap_or_default(),
        fip.internal.unwrap_or_default()
    );
    println!(
        "        is forwarded by XDP; everything else (the router's own SNAT, metadata, ...) by the kernel"
    );

    println!("\n[3/7] traffic through the router");
    let probes_sink = UdpSink::start(&bed.server, addr(SERVER_IP, 9000));
    let probes = UdpSource::start(&bed.client, addr(SERVER_IP, 9000), Duration::from_millis(1));
    let _echo = tcp_echo_server(&bed.client, addr(CLIENT_IP, 7000));
    let stream = TcpStreamer::start(
        &bed.server,
        addr(FLOATING_IP, 7000),
        Duration::from_millis(10),
    );
    wait_for("traffic to flow", Duration::from_secs(10), || {
        (probes_sink.count() > 500).then_some(())
    })
    .ok_or("no traffic through the gateway")?;
    let counters = r1
        .instance(INSTANCE)
        .and_then(|i| i.dataplane)
        .unwrap_or_default();
    let seen: Vec<String> = probes_sink
        .sources
        .lock()
        .expect("sink")
        .iter()
        .map(|s| s.ip().to_string())
        .collect();
    println!("      client -> server, a UDP probe every 1 ms through the gateway");
    println!(
        "        the server sees them from {} (the client's floating IP: Neutron's SNAT, done in XDP)",
        seen.join(", ")
    );
    println!(
        "        r1's XDP so far: {} translated out, {} in, {} forwarded by the fast path",
        counters.get("nat_out").copied().unwrap_or(0),
        counters.get("nat_in").copied().unwrap_or(0),
        counters.get("redirected").copied().unwrap_or(0)
    );
    println!(
        "      server -> {FLOATING_IP}:7000, one long-lived TCP connection to the client, a line every 10 ms"
    );

    println!(
        "\n[4/7] kill -9 of r1's agent (its XDP program stays attached and fences r1 when the lease runs out)"
    );
    let mut r1 = r1;
    let killed = Instant::now();
    r1.signal(Signal::SIGKILL);
    let _ = r1.wait_exit(Duration::from_secs(5));
    let (_, why2) = wait_for("r2 to take over", Duration::from_secs(15), || {
        state(&r2).filter(|(s, _)| s == "MASTER")
    })
    .ok_or("r2 never took over")?;
    let took_over = killed.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let sent = probes.stop();
    let report = stream.stop();
    std::thread::sleep(Duration::from_millis(100));
    let outage = probes_sink.longest_gap_after(killed);
    let lost = sent.saturating_sub(probes_sink.count() as u64);
    let dups = probes_sink.duplicates().len();
    println!(
        "      r2 became MASTER {} ms after the kill: {why2}",
        took_over.as_millis()
    );
    println!(
        "      measured outage through the gateway: {} ms (longest gap between 1 ms probes; {lost} of {sent} lost, {dups} duplicated)",
        outage.as_millis()
    );
    match &report.error {
        None => println!(
            "      TCP stream through the floating IP: SURVIVED ({} lines echoed, longest wait {} ms, no reset, no reconnect)",
            report.echoed,
            report.longest_wait.as_millis()
        ),
        Some(e) => println!("      TCP stream through the floating IP: BROKE ({e})"),
    }

    println!("\n[5/7] vrrp-agent status");
    show_table(&[&r2]);

    println!("\n[6/7] r1's agent comes back (it adopts its pinned XDP links: no detach, no gap)");
    let r1 = Agent::run("r1", &dir, &bed.agent_config(0, &config(100)));
    wait_for("r1 to start", Duration::from_secs(15), || {
        state(&r1).filter(|(s, _)| s == "BACKUP")
    })
    .ok_or("r1 did not come back")?;
    std::thread::sleep(Duration::from_secs(1));
    let (s1, _) = state(&r1).ok_or("r1 status")?;
    let (s2, _) = state(&r2).ok_or("r2 status")?;
    println!("      r1 is {s1} and r2 stays {s2}: nopreempt, so no second failover (no flap)");
    show_table(&[&r1, &r2]);

    println!("\n[7/7] tearing down (agents, namespaces, pinned XDP state)");
    drop((r1, r2));
    drop(bed);
    drop(dir);
    println!("      done.");
    if report.error.is_some() {
        return Err("the TCP stream broke".into());
    }
    Ok(())
}
