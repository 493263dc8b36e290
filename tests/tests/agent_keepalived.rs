//! The keepalived drop-in as Neutron uses it: a keepalived.conf shaped like Neutron's, run
//! unchanged through a link named `keepalived` inside each router namespace with Neutron's
//! arguments, in router namespaces that carry Neutron's iptables rules. Checks: it forks and
//! returns, both pid files name a live process whose command line holds the config path, the
//! primary VIP appears on exactly one router's ha- interface, SIGTERM hands over and cleans up
//! within 5 s, SIGHUP changes nothing. Both process models: `node` (the default: each process
//! a client of a node agent, one node agent per simulated node) and `standalone`, chosen in the
//! settings file the entry point reads (`VRRP_AGENT_SETTINGS`). Needs root.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use vrrp_tests::{
    agent,
    netns::NetNs,
    neutron_rules::NeutronRouter,
    require_root,
    tempdir::TempDir,
    topo::{Segment, addresses, routes, wait_for},
};

const WAIT: Duration = Duration::from_secs(20);
const HA: &str = "ha-3f1c2a7d-5b";
const QG: &str = "qg-9e8d7c6b-5a";
const QR: &str = "qr-1a2b3c4d-5e";

fn neutron_conf() -> String {
    format!(
        "global_defs {{
    notification_email_from neutron@openstack.local
    router_id neutron
}}
vrrp_instance VR_1 {{
    state BACKUP
    interface {HA}
    virtual_router_id 1
    priority 50
    garp_master_delay 60
    nopreempt
    advert_int 1
    track_interface {{
        {HA}
    }}
    virtual_ipaddress {{
        169.254.0.1/24 dev {HA}
    }}
    virtual_ipaddress_excluded {{
        19.4.4.2/32 dev {QG} no_track
        19.4.4.4/24 dev {QG} no_track
        35.4.0.1/24 dev {QR} no_track
        fe80::f816:3eff:fe2a:1c3d/64 dev {QG} scope link no_track
        fe80::f816:3eff:fe4d:9a7b/64 dev {QR} scope link no_track
    }}
    virtual_routes {{
        0.0.0.0/0 via 19.4.4.1 dev {QG} no_track protocol static
        19.5.4.0/24 dev {QG} scope link no_track protocol static
    }}
}}
"
    )
}

struct Node {
    ns: NetNs,
    conf: PathBuf,
    pid_file: PathBuf,
    vrrp_pid_file: PathBuf,
    /// The settings file its keepalived process reads.
    settings: PathBuf,
    /// Its node agent's control socket (node model).
    node_socket: PathBuf,
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn has_vip(n: &Node) -> bool {
    addresses(&n.ns, HA).contains(&"169.254.0.1/24".to_string())
}

fn keepalived(bin: &Path, n: &Node, extra: &[&str]) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", n.ns.name()])
        .arg(bin)
        .args(["-P", "-f"])
        .arg(&n.conf)
        .arg("-p")
        .arg(&n.pid_file)
        .arg("-r")
        .arg(&n.vrrp_pid_file)
        .args(extra)
        .env("VRRP_AGENT_SETTINGS", &n.settings)
        .output()
        .expect("run keepalived")
}

/// The keepalived process's log and, in the node model, its node agent's.
fn log_of(n: &Node) -> String {
    let dir = n.conf.parent().unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    format!("{}\n{}", read("vrrp-agent.log"), read("node.log"))
}

#[test]
fn a_neutron_keepalived_conf_runs_unchanged_through_the_keepalived_entry_point() {
    runs_unchanged("node");
}

#[test]
fn a_neutron_keepalived_conf_runs_unchanged_in_standalone_processes() {
    runs_unchanged("standalone");
}

fn runs_unchanged(model: &str) {
    require_root();
    let dir = TempDir::new("neutron");
    let bin = dir.path("keepalived");
    std::os::unix::fs::symlink(agent::binary(), &bin).unwrap();

    // keepalived --version, as Neutron reads it: second word of stderr's first line.
    let v = Command::new(&bin).arg("--version").output().unwrap();
    assert!(v.status.success());
    let first = String::from_utf8_lossy(&v.stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert_eq!(first.split_whitespace().nth(1), Some("v2.2.7"), "{first}");

    let ha = Segment::new();
    let wan = Segment::new();
    let lan = Segment::new();
    let gw = NetNs::new();
    wan.attach(&gw, "eth0", None);
    gw.ip(&["addr", "add", "19.4.4.1/24", "dev", "eth0"]);
    let mut nodes = Vec::new();
    for i in 0..2 {
        let ns = NetNs::new();
        ha.attach_ha_node(&ns, HA, i + 1);
        // Neutron gives the qg/qr ports the same MAC on every node, and writes its iptables
        // rules into every router namespace whoever runs VRRP there.
        wan.attach(&ns, QG, Some("fa:16:3e:2a:1c:3d"));
        lan.attach(&ns, QR, Some("fa:16:3e:4d:9a:7b"));
        ns.sysctl("net.ipv4.ip_forward=1");
        NeutronRouter {
            qr: vec![(QR.into(), "35.4.0.1/24".into())],
            qg: QG.into(),
            gateway_ip: "19.4.4.4/24".into(),
            fips: vec![("19.4.4.2".into(), "35.4.0.5".into())],
            random_fully: true,
        }
        .install(&ns);
        let router_dir = dir.path(&format!("router-{}-{i}", std::process::id()));
        std::fs::create_dir_all(&router_dir).unwrap();
        let conf = router_dir.join("keepalived.conf");
        std::fs::write(&conf, neutron_conf()).unwrap();
        let node_socket = PathBuf::from(format!("/run/vrrp-agent/{}.ctl", ns.name()));
        let settings = router_dir.join("settings.toml");
        std::fs::write(
            &settings,
            format!(
                "process_model = \"{model}\"\nnode_socket = \"{}\"\nnode_log = \"{}\"\n",
                node_socket.display(),
                router_dir.join("node.log").display()
            ),
        )
        .unwrap();
        nodes.push(Node {
            ns,
            conf,
            pid_file: dir.path(&format!("r{i}.pid.keepalived")),
            vrrp_pid_file: dir.path(&format!("r{i}.pid.keepalived-vrrp")),
            settings,
            node_socket,
        });
    }

    // Start both, as Neutron does: the command forks and returns.
    let mut pids = Vec::new();
    for n in &nodes {
        let started = Instant::now();
        let out = keepalived(&bin, n, &["-D"]);
        assert!(
            out.status.success(),
            "keepalived exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the foreground part returns quickly"
        );
        let pid = read_pid(&n.pid_file).expect("main pid file");
        assert_eq!(read_pid(&n.vrrp_pid_file), Some(pid), "vrrp pid file");
        assert!(alive(pid), "pid {pid} alive");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(cmdline.contains(n.conf.to_str().unwrap()), "{cmdline}");
        pids.push(pid);
    }
    let guard = KillOnDrop(
        pids.clone(),
        nodes.iter().map(|n| n.node_socket.clone()).collect(),
    );

    // Exactly one router gets the primary VIP on its ha- interface.
    let master = wait_for(WAIT, "the primary VIP on one ha- interface", || {
        let holders: Vec<usize> = (0..2).filter(|i| has_vip(&nodes[*i])).collect();
        (holders.len() == 1).then(|| holders[0])
    });
    let backup = 1 - master;
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        has_vip(&nodes[master]) && !has_vip(&nodes[backup]),
        "stable, one master"
    );
    let m = &nodes[master];
    for (iface, addr) in [
        (QG, "19.4.4.2/32"),
        (QG, "19.4.4.4/24"),
        (QR, "35.4.0.1/24"),
    ] {
        assert!(
            addresses(&m.ns, iface).contains(&addr.to_string()),
            "{addr} on the master"
        );
        assert!(!addresses(&nodes[backup].ns, iface).contains(&addr.to_string()));
    }
    assert!(
        routes(&m.ns, "main")
            .iter()
            .any(|r| r == &format!("default via 19.4.4.1 dev {QG}")),
        "default route on the master: {:?}\n{}",
        routes(&m.ns, "main"),
        log_of(m)
    );

    // SIGHUP with the same file: nothing moves.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pids[master]),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    wait_for(WAIT, "the reload in the log", || {
        log_of(m).contains("configuration reloaded").then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        has_vip(&nodes[master]) && !has_vip(&nodes[backup]),
        "no flap on SIGHUP"
    );

    // SIGTERM: priority 0, release, exit within 5 s; the other node takes over.
    let t0 = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pids[master]),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_for(Duration::from_secs(5), "the master to exit", || {
        (!alive(pids[master])).then_some(())
    });
    assert!(!has_vip(&nodes[master]), "released on exit");
    assert!(
        !nodes[master].pid_file.exists() && !nodes[master].vrrp_pid_file.exists(),
        "pid files removed"
    );
    wait_for(WAIT, "the VIP on the other node", || {
        has_vip(&nodes[backup]).then_some(())
    });
    let handover = t0.elapsed();
    assert!(
        handover < Duration::from_secs(3),
        "priority-0 handover (skew time ~0.8 s), not master-down (~3.8 s): {handover:?}"
    );
    assert!(
        log_of(&nodes[backup]).contains("resigned (priority 0)"),
        "{}",
        log_of(&nodes[backup])
    );
    drop(guard);
}

/// Kills the background agents (and the node agents behind these sockets) at the end, also if
/// the test fails half-way, and removes what the node agents leave.
struct KillOnDrop(Vec<i32>, Vec<PathBuf>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let nodes: Vec<i32> = self
            .1
            .iter()
            .filter_map(|s| read_pid(&s.with_extension("pid")))
            .collect();
        for pid in self.0.iter().chain(&nodes) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(100));
        for socket in &self.1 {
            for ext in ["ctl", "lock", "pid"] {
                let _ = std::fs::remove_file(socket.with_extension(ext));
            }
            if let Some(stem) = socket.file_stem() {
                let _ = std::fs::remove_dir_all(Path::new("/sys/fs/bpf/vrrp-xdp").join(stem));
            }
        }
    }
}
