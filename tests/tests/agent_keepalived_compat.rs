//! What keepalived 2.2.7 does that Neutron's nodes see, checked on our agent started as Neutron
//! starts keepalived (`ip netns exec <router> keepalived -P -f CONF -p PID -r VRRP_PID`):
//! adverts leave with keepalived's IP header fields (TOS / traffic class 0xc0, no DF: the
//! captures in `tests/fixtures/keepalived/`), a stopping agent never recreates the router
//! folder Neutron removed, the `notification_email_from` Neutron writes into every
//! configuration is one quiet note per process, not a warning per start and reload, and a
//! SIGHUP re-announces a master's addresses exactly when keepalived does. Needs root.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use vrrp_tests::{
    agent,
    capture::Capture,
    fixtures,
    netns::{NetNs, veth},
    require_root,
    tempdir::TempDir,
    topo::{addresses, wait_for},
};

const WAIT: Duration = Duration::from_secs(20);
const HA: &str = "ha-5c0d9e8f-1a";
const PEER: &str = "ha-peer";

/// Neutron's layout, plus an IPv6 instance (VRRPv3 over IPv6) on the same interface.
fn conf() -> String {
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
}}
vrrp_instance VR_6 {{
    state BACKUP
    interface {HA}
    virtual_router_id 6
    priority 50
    nopreempt
    advert_int 1
    virtual_ipaddress {{
        fd00:6::100/64 dev {HA}
    }}
}}
"
    )
}

/// One router namespace whose ha- interface is a veth to a peer namespace (nobody runs VRRP
/// there: the agent becomes master), and the router's folder as Neutron lays it out.
struct Router {
    ns: NetNs,
    peer: NetNs,
    dir: TempDir,
    router_dir: PathBuf,
    conf: PathBuf,
    pid_file: PathBuf,
    vrrp_pid_file: PathBuf,
    /// The settings file the keepalived process reads: the default node process model, with
    /// a node agent of this test's own (socket and log).
    settings: PathBuf,
    node_socket: PathBuf,
}

impl Router {
    fn new(label: &str) -> Self {
        let ns = NetNs::new();
        let peer = NetNs::new();
        veth(&ns, HA, &peer, PEER);
        ns.ip(&["addr", "add", "169.254.192.1/18", "dev", HA]);
        peer.ip(&["addr", "add", "169.254.192.2/18", "dev", PEER]);
        // VR_6's adverts leave from the link-local address: wait for it to pass DAD.
        wait_for(
            WAIT,
            "the IPv6 link-local address on the ha- interface",
            || {
                let out = ns.ip(&["-6", "-o", "addr", "show", "dev", HA, "scope", "link"]);
                (out.contains("fe80::") && !out.contains("tentative")).then_some(())
            },
        );
        let dir = TempDir::new(label);
        // ha_confs/<router id>/keepalived.conf; the pid files beside the folder.
        let router_dir = dir.path("5c0d9e8f-1a2b-4c3d-8e9f-0a1b2c3d4e5f");
        std::fs::create_dir_all(&router_dir).unwrap();
        let conf = router_dir.join("keepalived.conf");
        std::fs::write(&conf, self::conf()).unwrap();
        let node_socket = PathBuf::from(format!("/run/vrrp-agent/{}.ctl", ns.name()));
        let settings = dir.path("settings.toml");
        std::fs::write(
            &settings,
            format!(
                "node_socket = \"{}\"\nnode_log = \"{}\"\n",
                node_socket.display(),
                dir.path("node.log").display()
            ),
        )
        .unwrap();
        Self {
            settings,
            node_socket,
            pid_file: dir.path("5c0d9e8f.pid.keepalived"),
            vrrp_pid_file: dir.path("5c0d9e8f.pid.keepalived-vrrp"),
            ns,
            peer,
            dir,
            router_dir,
            conf,
        }
    }

    /// Starts the agent as Neutron starts keepalived; returns its pid once it forked.
    fn start(&self) -> i32 {
        self.start_with_stderr().0
    }

    /// As [`start`](Self::start), with what the starting command printed on stderr.
    fn start_with_stderr(&self) -> (i32, String) {
        let bin = self.dir.path("keepalived");
        std::os::unix::fs::symlink(agent::binary(), &bin).unwrap();
        let out = Command::new("ip")
            .args(["netns", "exec", self.ns.name()])
            .arg(&bin)
            .args(["-P", "-f"])
            .arg(&self.conf)
            .arg("-p")
            .arg(&self.pid_file)
            .arg("-r")
            .arg(&self.vrrp_pid_file)
            .arg("-D")
            .env("VRRP_AGENT_SETTINGS", &self.settings)
            .output()
            .expect("run keepalived");
        assert!(
            out.status.success(),
            "keepalived exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = std::fs::read_to_string(&self.pid_file)
            .expect("pid file")
            .trim()
            .parse()
            .expect("a pid");
        (pid, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// The keepalived process's log and its node agent's.
    fn log(&self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        read(self.router_dir.join("vrrp-agent.log")) + &read(self.dir.path("node.log"))
    }

    /// Kills the keepalived process `pid` and this router's node agent on drop.
    fn guard(&self, pid: i32) -> KillOnDrop {
        KillOnDrop(pid, self.node_socket.clone())
    }

    fn is_master(&self) -> bool {
        addresses(&self.ns, HA).contains(&"169.254.0.1/24".to_string())
    }
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).unwrap();
}

/// The IP header fields of a VRRP advert (also in an IPsec AH header) with a priority above 0
/// that keepalived sets: (IPv6, TOS or traffic class, DF set, TTL or hop limit). `None` for
/// other frames.
fn advert_header(frame: &[u8]) -> Option<(bool, u8, bool, u8)> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let ip = frame.get(14..)?;
    match ethertype {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let vrrp = match ip.get(9)? {
                112 => ihl,
                51 if ip.get(ihl) == Some(&112) => ihl + 24,
                _ => return None,
            };
            let priority = *ip.get(vrrp + 2)?;
            (priority > 0).then(|| {
                let flags = u16::from_be_bytes([ip[6], ip[7]]);
                (false, ip[1], flags & 0x4000 != 0, ip[8])
            })
        }
        0x86dd => {
            let priority = *ip.get(40 + 2)?;
            (ip.get(6) == Some(&112) && priority > 0)
                .then(|| (true, (ip[0] & 0x0f) << 4 | ip[1] >> 4, false, ip[7]))
        }
        _ => None,
    }
}

/// The first advert of keepalived's own capture `name`.
fn keepalived_advert(name: &str) -> (bool, u8, bool, u8) {
    fixtures::frames(name)
        .iter()
        .find_map(|f| advert_header(f))
        .unwrap_or_else(|| panic!("{name}: no advert"))
}

#[test]
fn adverts_leave_with_keepalived_tos_and_traffic_class_and_without_df() {
    require_root();
    let r = Router::new("compat-tos");
    let capture = Capture::start(&r.peer);
    let pid = r.start();
    let _guard = r.guard(pid);
    wait_for(WAIT, "the agent to become master", || {
        r.is_master().then_some(())
    });

    let mut seen = Vec::new();
    let (v4, v6) = wait_for(WAIT, "an IPv4 and an IPv6 advert at the peer", || {
        seen.extend(capture.drain().iter().filter_map(|f| advert_header(f)));
        let v4 = seen.iter().find(|h| !h.0).copied();
        let v6 = seen.iter().find(|h| h.0).copied();
        v4.zip(v6)
    });
    // keepalived 2.2.7 (vrrp_if.c if_setsockopt_priority; vrrp.c vrrp_build_ip4): TOS 0xc0
    // (IPTOS_PREC_INTERNETCONTROL), frag_off 0 (no DF), IPv6 traffic class 0xc0.
    assert_eq!(v4, (false, 0xc0, false, 255), "IPv4 advert: TOS, DF, TTL");
    assert_eq!(
        v6,
        (true, 0xc0, false, 255),
        "IPv6 advert: traffic class, hop limit"
    );
    for capture in fixtures::CAPTURES {
        let ours = if capture.kind.ipv6() { v6 } else { v4 };
        assert_eq!(
            ours,
            keepalived_advert(capture.name),
            "as keepalived's own capture {capture}"
        );
    }
    assert!(
        seen.iter().all(|h| *h == v4 || *h == v6),
        "every advert alike: {seen:?}"
    );
}

#[test]
fn a_stopping_agent_does_not_recreate_the_router_folder_neutron_removed() {
    require_root();
    let r = Router::new("compat-rmdir");
    let pid = r.start();
    let _guard = r.guard(pid);
    let state_file = vrrp_agent::api::keepalived_state_dir(&r.conf).join("VR_1.state");
    wait_for(WAIT, "the agent to become master", || {
        r.is_master().then_some(())
    });
    wait_for(WAIT, "the MASTER state file", || {
        (std::fs::read_to_string(&state_file).ok()?.trim() == "MASTER").then_some(())
    });

    // Neutron's disable() then its removal of ha_confs/<id>: here the folder goes first,
    // the harder order (the agent still has the STOP state to write).
    std::fs::remove_dir_all(&r.router_dir).unwrap();
    signal(pid, nix::sys::signal::Signal::SIGTERM);
    wait_for(Duration::from_secs(5), "the agent to exit", || {
        (!alive(pid)).then_some(())
    });
    assert!(
        !r.router_dir.exists(),
        "the removed folder came back: {:?}",
        std::fs::read_dir(&r.router_dir).map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
    );
    assert!(!r.is_master(), "addresses released all the same");
    assert!(
        !r.pid_file.exists() && !r.vrrp_pid_file.exists(),
        "pid files removed"
    );
}

#[test]
fn neutrons_notification_email_from_is_one_quiet_note_per_process() {
    require_root();
    let r = Router::new("compat-note");
    let (pid, stderr) = r.start_with_stderr();
    let _guard = r.guard(pid);
    assert!(
        !stderr.contains("notification_email_from"),
        "nothing on the caller's stderr: {stderr}"
    );
    // Running (signal handlers in place) once it wrote its first state.
    let state_file = vrrp_agent::api::keepalived_state_dir(&r.conf).join("VR_1.state");
    wait_for(WAIT, "the first state file", || {
        state_file.exists().then_some(())
    });
    for n in 1..=2 {
        signal(pid, nix::sys::signal::Signal::SIGHUP);
        wait_for(WAIT, "the reload in the log", || {
            (r.log().matches("configuration reloaded").count() == n).then_some(())
        });
    }
    let log = r.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("notification_email_from"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "once for the start and two reloads: {lines:#?}"
    );
    assert!(lines[0].contains(" INFO "), "info level: {}", lines[0]);
    // A key that is really unsupported still warns, at start and at every reload.
    let conf = std::fs::read_to_string(&r.conf).unwrap().replace(
        "    router_id neutron\n",
        "    router_id neutron\n    smtp_server 192.0.2.25\n",
    );
    std::fs::write(&r.conf, conf).unwrap();
    for n in 3..=4 {
        signal(pid, nix::sys::signal::Signal::SIGHUP);
        wait_for(WAIT, "the reload in the log", || {
            (r.log().matches("configuration reloaded").count() == n).then_some(())
        });
    }
    let log = r.log();
    let smtp: Vec<&str> = log.lines().filter(|l| l.contains("smtp_server")).collect();
    assert_eq!(smtp.len(), 2, "{smtp:#?}");
    assert!(smtp.iter().all(|l| l.contains(" WARN ")), "{smtp:#?}");
    assert_eq!(
        log.matches("notification_email_from").count(),
        1,
        "still once"
    );
}

/// The sender address of a gratuitous ARP (sender and target the same), if `frame` is one.
fn garp_sender(frame: &[u8]) -> Option<std::net::Ipv4Addr> {
    let arp = frame.get(14..42)?;
    (frame.get(12..14)? == [0x08, 0x06] && arp[14..18] == arp[24..28])
        .then(|| std::net::Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]))
}

#[test]
fn sighup_reannounces_every_address_only_when_it_adds_one() {
    require_root();
    let r = Router::new("compat-hup");
    let capture = Capture::start(&r.peer);
    let pid = r.start();
    let _guard = r.guard(pid);
    wait_for(WAIT, "the agent to become master", || {
        r.is_master().then_some(())
    });
    let reload = |n: usize| {
        signal(pid, nix::sys::signal::Signal::SIGHUP);
        wait_for(WAIT, "the reload in the log", || {
            (r.log().matches("configuration reloaded").count() == n).then_some(())
        });
    };
    let garps = || -> Vec<std::net::Ipv4Addr> {
        capture
            .drain()
            .iter()
            .filter_map(|f| garp_sender(f))
            .collect()
    };
    // The takeover's batch (garp_master_delay 60: no second one during the test).
    wait_for(WAIT, "the takeover's gratuitous ARPs", || {
        (garps().len() >= 5).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    garps();

    // Same file: keepalived 2.2.7 sends nothing.
    reload(1);
    std::thread::sleep(Duration::from_secs(1));
    let after = garps();
    assert!(
        after.is_empty(),
        "an unchanged reload announces nothing: {after:?}"
    );

    // One excluded address more: every address of the instance, garp_master_repeat (5)
    // times, at once.
    let conf = std::fs::read_to_string(&r.conf).unwrap().replacen(
        &format!("        169.254.0.1/24 dev {HA}\n    }}\n"),
        &format!(
            "        169.254.0.1/24 dev {HA}\n    }}\n    virtual_ipaddress_excluded {{\n        \
             19.4.4.2/32 dev {HA} no_track\n    }}\n"
        ),
        1,
    );
    assert!(conf.contains("19.4.4.2/32"), "{conf}");
    std::fs::write(&r.conf, conf).unwrap();
    reload(2);
    let vip: std::net::Ipv4Addr = "169.254.0.1".parse().unwrap();
    let fip: std::net::Ipv4Addr = "19.4.4.2".parse().unwrap();
    let mut seen = Vec::new();
    wait_for(WAIT, "five gratuitous ARPs for each address", || {
        seen.extend(garps());
        let count = |a| seen.iter().filter(|s| **s == a).count();
        (count(vip) >= 5 && count(fip) >= 5).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    seen.extend(garps());
    let count = |a| seen.iter().filter(|s| **s == a).count();
    assert_eq!((count(vip), count(fip), seen.len()), (5, 5, 10), "{seen:?}");
}

/// Kills the background agent and its node agent at the end (also if the test fails
/// half-way) and removes what the node agent leaves.
struct KillOnDrop(i32, PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let node = std::fs::read_to_string(self.1.with_extension("pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        for pid in std::iter::once(self.0).chain(node) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(100));
        for ext in ["ctl", "lock", "pid"] {
            let _ = std::fs::remove_file(self.1.with_extension(ext));
        }
        if let Some(stem) = self.1.file_stem() {
            let _ = std::fs::remove_dir_all(Path::new("/sys/fs/bpf/vrrp-xdp").join(stem));
        }
    }
}
