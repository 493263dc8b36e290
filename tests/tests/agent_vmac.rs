//! `use_vmac` with real agents (and a real keepalived 2.2.7) on one LAN segment with a host:
//! the virtual address answers with the RFC 9568 virtual MAC (00:00:5e:00:01:VRID, IPv6
//! 00:00:5e:00:02:VRID) on whichever router is master, so the host's neighbour entry for it
//! never changes across failovers (kill -9, SIGTERM, both ways with keepalived); adverts carry
//! the virtual MAC as Ethernet source; a backup's macvlan is down, so nothing the backup sends
//! carries the virtual MAC and it answers no ARP for the address; the macvlan is adopted after
//! a kill -9 (never duplicated), deleted on SIGTERM and when a reload switches use_vmac off,
//! and the base interface's ARP settings are restored. With the XDP data plane (on the base
//! interface: it sees the frames before the macvlan takes them): a frozen master's lease
//! fences it (no duplicate replies on a flooding segment), a backup drops what is addressed to
//! the virtual address, adverts are checked (bad TTL dropped, also when they carry the
//! virtual MAC as source). Needs root and the XDP object (`cargo xtask test`).

use std::time::Duration;

use nix::sys::signal::Signal;
use vrrp_tests::{
    agent::Agent,
    attack::{Attacker, Forged},
    capture::{Capture, Tagged},
    keepalived::{self, Keepalived},
    netns::NetNs,
    require_root,
    takeover::{parse_gratuitous_arp, parse_unsolicited_na},
    tempdir::TempDir,
    topo::{Segment, addresses, wait_for},
};

const WAIT: Duration = Duration::from_secs(15);
const VR: &str = "VR_20";
const VRID: u8 = 20;
/// keepalived's default name for VRID 20.
const VMAC: &str = "vrrp.20";
const VMAC4: [u8; 6] = [0, 0, 0x5e, 0, 1, VRID];
const VMAC6: [u8; 6] = [0, 0, 0x5e, 0, 2, VRID];
/// In the subnet of the routers' own addresses (10.0.20.1, .2), as keepalived setups have it.
const VIP4: &str = "10.0.20.100";
const VIP6: &str = "2001:db8:20::100";
const HOST4: &str = "10.0.20.10";

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Two routers and a host on one bridge.
struct Bed {
    lan: Segment,
    routers: [NetNs; 2],
    /// The routers' bridge ports (in `lan.ns`).
    ports: [String; 2],
    host: NetNs,
    dir: TempDir,
}

impl Bed {
    fn new() -> Self {
        let lan = Segment::new();
        let routers = [NetNs::new(), NetNs::new()];
        let ports = [0, 1].map(|i| {
            let r = &routers[i];
            let port = lan.attach(r, "eth0", None);
            r.ip(&[
                "addr",
                "add",
                &format!("10.0.20.{}/24", i + 1),
                "dev",
                "eth0",
            ]);
            r.ip(&[
                "addr",
                "add",
                &format!("2001:db8:20::{}/64", i + 1),
                "dev",
                "eth0",
                "nodad",
            ]);
            port
        });
        let host = NetNs::new();
        lan.attach(&host, "eth0", None);
        host.ip(&["addr", "add", &format!("{HOST4}/24"), "dev", "eth0"]);
        host.ip(&["addr", "add", "2001:db8:20::10/64", "dev", "eth0", "nodad"]);
        Self {
            lan,
            routers,
            ports,
            host,
            dir: TempDir::new("vmac"),
        }
    }

    /// Our agent's configuration for router `i`: VRRPv3 every 0.1 s, nopreempt, use_vmac.
    fn config(&self, i: usize, priority: u8, ipv6: bool, vmac: bool) -> String {
        let vip = if ipv6 {
            format!("{VIP6}/64")
        } else {
            format!("{VIP4}/24")
        };
        format!(
            r#"
[[instance]]
name = "{VR}"
netns = "{ns}"
interface = "eth0"
vrid = {VRID}
priority = {priority}
advert_interval = 0.1
preempt = false
virtual_addresses = ["{vip}"]
garp = {{ master_delay = 0, master_repeat = 2 }}
use_vmac = {vmac}
"#,
            ns = self.routers[i].name(),
        )
    }

    fn start(&self, i: usize, priority: u8, ipv6: bool) -> Agent {
        let agent = Agent::run(
            &format!("r{}", i + 1),
            &self.dir,
            &self.config(i, priority, ipv6, true),
        );
        wait_for(WAIT, "the agent's status socket", || agent.status());
        let dataplane = agent.status().expect("status").agent.dataplane;
        assert!(
            dataplane.starts_with("xdp"),
            "the agent must run with its XDP data plane (build it with VRRP_EBPF_OBJECT \
             set): {dataplane}"
        );
        agent
    }

    /// r1 (priority 100) first, as master; then r2 (priority 90) as backup.
    fn start_both(&self, ipv6: bool) -> (Agent, Agent) {
        if ipv6 {
            for r in &self.routers {
                settled_link_local(r);
            }
        }
        let r1 = self.start(0, 100, ipv6);
        r1.wait_state(VR, "MASTER", WAIT);
        let r2 = self.start(1, 90, ipv6);
        r2.wait_state(VR, "BACKUP", WAIT);
        (r1, r2)
    }

    /// The ifindex of router `i`'s bridge port in the segment's namespace.
    fn port_index(&self, i: usize) -> usize {
        let out = self.lan.ns.ip(&["-j", "link", "show", &self.ports[i]]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j link");
        v[0]["ifindex"].as_u64().expect("ifindex") as usize
    }

    /// The frames router `i` sent onto the segment, of those captured so far.
    fn sent_by(&self, cap: &Capture, i: usize) -> Vec<Tagged> {
        let port = self.port_index(i);
        cap.drain_tagged()
            .into_iter()
            .filter(|t| t.ifindex == port && !t.outgoing)
            .collect()
    }

    /// The host's neighbour entry (MAC) for `ip`, if it has one.
    fn host_neighbour(&self, ip: &str) -> Option<String> {
        let out = self.host.ip(&["-j", "neigh", "show", ip, "dev", "eth0"]);
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        v.as_array()?
            .iter()
            .find_map(|n| n["lladdr"].as_str().map(str::to_string))
    }

    /// Pings `ip` from the host until one `count`-ping round gets every reply.
    fn pings(&self, ip: &str, count: u32) -> Ping {
        wait_for(WAIT, &format!("{count} pings to {ip} answered"), || {
            let p = ping(&self.host, ip, count);
            (p.received == count).then_some(p)
        })
    }
}

/// Waits until `ns`'s eth0 has a link-local address that is no longer tentative.
fn settled_link_local(ns: &NetNs) {
    wait_for(WAIT, "a settled link-local address", || {
        let out = ns.ip(&[
            "-6",
            "addr",
            "show",
            "dev",
            "eth0",
            "scope",
            "link",
            "-tentative",
        ]);
        out.contains("fe80").then_some(())
    });
}

/// What one `ping` run got.
#[derive(Debug)]
struct Ping {
    received: u32,
    duplicates: u32,
}

fn ping(ns: &NetNs, ip: &str, count: u32) -> Ping {
    let out = ns.exec(
        "ping",
        &["-n", "-c", &count.to_string(), "-i", "0.05", "-W", "1", ip],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let number_before = |word: &str| -> u32 {
        text.split(',')
            .find(|part| part.contains(word))
            .and_then(|part| {
                part.split_whitespace()
                    .find_map(|w| w.trim_start_matches('+').parse().ok())
            })
            .unwrap_or(0)
    };
    Ping {
        received: number_before("received"),
        duplicates: number_before("duplicates"),
    }
}

/// `ip -d -j link show NAME` in `ns`, if it exists.
fn link(ns: &NetNs, name: &str) -> Option<serde_json::Value> {
    let out = ns.exec("ip", &["-d", "-j", "link", "show", name]);
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.as_array()?.first().cloned()
}

/// Whether `link` is administratively up.
fn is_up(link: &serde_json::Value) -> bool {
    link["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == "UP"))
}

/// Asserts router `ns` has our macvlan with `mac`, up (and holding `vip`) or down (holding
/// nothing), and that it is the only link with that MAC.
#[track_caller]
fn assert_vmac(ns: &NetNs, mac: [u8; 6], up: bool, vip: &str) {
    let l = link(ns, VMAC).unwrap_or_else(|| panic!("{} has no {VMAC}", ns.name()));
    assert_eq!(l["address"], mac_text(mac), "{l}");
    assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
    assert_eq!(l["linkinfo"]["info_data"]["mode"], "vepa", "{l}");
    assert_eq!(is_up(&l), up, "{VMAC} in {} up: {l}", ns.name());
    let held = addresses(ns, VMAC)
        .iter()
        .any(|a| a.starts_with(&format!("{vip}/")));
    assert_eq!(held, up, "{vip} on {VMAC} in {}", ns.name());
    assert!(
        !addresses(ns, "eth0")
            .iter()
            .any(|a| a.starts_with(&format!("{vip}/"))),
        "the virtual address is never on the base interface"
    );
    let all = ns.ip(&["-j", "link", "show"]);
    let v: serde_json::Value = serde_json::from_str(&all).expect("ip -j link");
    let same_mac = v
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["address"] == mac_text(mac))
        .count();
    assert_eq!(
        same_mac,
        1,
        "one macvlan with the virtual MAC in {}",
        ns.name()
    );
}

/// The base interface's ARP settings in `ns` (arp_ignore, arp_filter, arp_announce).
fn base_arp(ns: &NetNs) -> [String; 3] {
    ["arp_ignore", "arp_filter", "arp_announce"].map(|k| {
        let out = ns.exec("cat", &[&format!("/proc/sys/net/ipv4/conf/eth0/{k}")]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// Whether `frame` is an IPv4 or IPv6 VRRP advert.
fn is_advert(frame: &[u8]) -> bool {
    match frame.get(12..14) {
        Some([0x08, 0x00]) => frame.get(23) == Some(&112),
        Some([0x86, 0xdd]) => frame.get(20) == Some(&112),
        _ => false,
    }
}

/// Whether `frame` is an ARP reply whose sender is `ip`.
fn arp_reply_for(frame: &[u8], ip: std::net::Ipv4Addr) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x06])
        && frame.get(20..22) == Some(&[0, 2])
        && frame.get(28..32) == Some(&ip.octets())
}

/// Asserts that nothing router `i` sent carries `mac` as source.
#[track_caller]
fn assert_silent(bed: &Bed, cap: &Capture, i: usize, mac: [u8; 6], when: &str) {
    let loud: Vec<_> = bed
        .sent_by(cap, i)
        .into_iter()
        .filter(|t| t.src_mac() == Some(mac))
        .map(|t| t.frame)
        .collect();
    assert!(
        loud.is_empty(),
        "r{} sent {} frames from the virtual MAC {when}: first {:02x?}",
        i + 1,
        loud.len(),
        loud.first()
    );
}

fn counter(a: &Agent, name: &str) -> u64 {
    a.instance(VR)
        .and_then(|i| i.dataplane)
        .and_then(|d| d.get(name).copied())
        .unwrap_or(0)
}

#[test]
fn the_vip_keeps_the_virtual_mac_across_kill_and_sigterm_and_the_backup_stays_silent() {
    require_root();
    let bed = Bed::new();
    let cap = Capture::start(&bed.lan.ns);
    let (r1, mut r2) = bed.start_both(false);
    let [r1_ns, r2_ns] = &bed.routers;
    assert_eq!(r1.instance(VR).unwrap().vmac.as_deref(), Some(VMAC));
    assert_eq!(r2.instance(VR).unwrap().vmac.as_deref(), Some(VMAC));
    wait_for(WAIT, "the master's VIP on its macvlan", || {
        addresses(r1_ns, VMAC)
            .iter()
            .any(|a| a.starts_with(VIP4))
            .then_some(())
    });
    assert_vmac(r1_ns, VMAC4, true, VIP4);
    assert_vmac(r2_ns, VMAC4, false, VIP4);
    assert_eq!(
        base_arp(r1_ns),
        ["1", "1", "2"],
        "keepalived's base settings"
    );

    // The host resolves the VIP to the virtual MAC (its ARP request reaches both routers).
    bed.host.ip(&["neigh", "flush", "dev", "eth0"]);
    bed.pings(VIP4, 3);
    assert_eq!(bed.host_neighbour(VIP4), Some(mac_text(VMAC4)));

    // On the wire: the master's adverts and GARPs from the virtual MAC; from the backup,
    // nothing with it, and no ARP reply for the VIP.
    std::thread::sleep(Duration::from_millis(500));
    let frames = bed.sent_by(&cap, 0);
    let adverts: Vec<_> = frames.iter().filter(|t| is_advert(&t.frame)).collect();
    assert!(
        adverts.len() >= 3,
        "r1's adverts on the wire: {}",
        adverts.len()
    );
    assert!(
        adverts.iter().all(|t| t.src_mac() == Some(VMAC4)),
        "every advert of the master leaves from the virtual MAC"
    );
    let garps: Vec<_> = frames
        .iter()
        .filter_map(|t| parse_gratuitous_arp(&t.frame))
        .collect();
    assert!(
        garps.contains(&(VMAC4, VIP4.parse().unwrap())),
        "GARP for the VIP from the virtual MAC: {garps:?}"
    );
    // (sent_by drained the capture: look at a fresh window for the backup.)
    bed.host.ip(&["neigh", "flush", "dev", "eth0"]);
    bed.pings(VIP4, 3);
    std::thread::sleep(Duration::from_millis(300));
    let backup = bed.sent_by(&cap, 1);
    assert!(
        !backup
            .iter()
            .any(|t| arp_reply_for(&t.frame, VIP4.parse().unwrap())),
        "the backup answered ARP for the VIP"
    );
    assert!(
        !backup.iter().any(|t| t.src_mac() == Some(VMAC4)),
        "the backup sent from the virtual MAC"
    );

    // kill -9 of the master: r2 takes over; the host's entry stays, pings go on.
    r1.signal(Signal::SIGKILL);
    drop(r1);
    r2.wait_state(VR, "MASTER", WAIT);
    bed.pings(VIP4, 3);
    assert_eq!(bed.host_neighbour(VIP4), Some(mac_text(VMAC4)));
    wait_for(WAIT, "the bridge to learn the virtual MAC at r2", || {
        let fdb = bed.lan.ns.exec("bridge", &["fdb", "show", "br", "br0"]);
        String::from_utf8_lossy(&fdb.stdout)
            .lines()
            .any(|l| l.starts_with(&mac_text(VMAC4)) && l.contains(&format!(" {} ", bed.ports[1])))
            .then_some(())
    });
    assert_vmac(r2_ns, VMAC4, true, VIP4);

    // r1 comes back: it adopts the macvlan its killed run left up (with the VIP), takes it
    // down and the VIP off, and is silent as a backup (nopreempt).
    cap.drain_tagged();
    let r1 = bed.start(0, 100, false);
    r1.wait_state(VR, "BACKUP", WAIT);
    wait_for(WAIT, "r1's macvlan down and empty", || {
        link(r1_ns, VMAC)
            .filter(|l| !is_up(l) && addresses(r1_ns, VMAC).is_empty())
            .map(|_| ())
    });
    assert_vmac(r1_ns, VMAC4, false, VIP4);
    bed.pings(VIP4, 3);
    std::thread::sleep(Duration::from_millis(300));
    assert_silent(&bed, &cap, 0, VMAC4, "as a restarted backup");

    // SIGTERM of r2: r1 takes over (priority 0); the host's entry stays, pings go on; r2's
    // macvlan is deleted and its base settings restored.
    r2.signal(Signal::SIGTERM);
    r1.wait_state(VR, "MASTER", WAIT);
    assert!(r2.wait_exit(WAIT).success());
    assert!(link(r2_ns, VMAC).is_none(), "r2's macvlan is deleted");
    assert_eq!(
        base_arp(r2_ns),
        ["0", "0", "0"],
        "r2's base settings restored"
    );
    bed.pings(VIP4, 3);
    assert_eq!(bed.host_neighbour(VIP4), Some(mac_text(VMAC4)));
    assert_vmac(r1_ns, VMAC4, true, VIP4);

    let mut r1 = r1;
    r1.signal(Signal::SIGTERM);
    assert!(r1.wait_exit(WAIT).success());
    assert!(link(r1_ns, VMAC).is_none(), "r1's macvlan is deleted");
    assert_eq!(
        base_arp(r1_ns),
        ["0", "0", "0"],
        "r1's base settings restored"
    );
}

#[test]
fn xdp_on_the_base_interface_fences_drops_and_checks_adverts_with_use_vmac() {
    require_root();
    let bed = Bed::new();
    // Every frame to every port: a second router answering shows up as duplicates.
    bed.lan.flood();
    let (r1, r2) = bed.start_both(false);
    let p = bed.pings(VIP4, 20);
    assert_eq!(p.duplicates, 0, "{p:?}");
    assert!(
        counter(&r1, "vip_passed") > 0,
        "the master's XDP passes the VIP's traffic"
    );
    assert!(
        counter(&r2, "not_owned_dropped") > 0,
        "the backup's XDP drops what is addressed to the VIP: {:?}",
        r2.instance(VR).and_then(|i| i.dataplane)
    );
    assert!(counter(&r1, "adverts_passed") > 0 || counter(&r2, "adverts_passed") > 0);
    assert!(
        counter(&r2, "adverts_passed") > 0,
        "the master's adverts from its macvlan are checked on the backup's base interface"
    );

    // Forged adverts from the virtual MAC (the master's macvlan takes those for itself) with
    // a TTL of 64: XDP drops them on both, before the macvlan sees them.
    let attacker = Attacker::attach(&bed.lan, VMAC4);
    let forged = Forged::v3(
        VRID,
        254,
        vrrp_agent::packet::Centisecs(10),
        &[VIP4.parse().unwrap()],
    )
    .with_src("10.0.20.66".parse().unwrap())
    .with_ttl(64);
    attacker.flood(
        &[forged.advert_frame(VMAC4)],
        200,
        Duration::from_millis(500),
    );
    wait_for(WAIT, "XDP to count the bad-TTL adverts on both", || {
        (counter(&r1, "adverts_bad_ttl") > 0 && counter(&r2, "adverts_bad_ttl") > 0).then_some(())
    });
    assert_eq!(r1.instance(VR).unwrap().state, "MASTER");
    assert_eq!(r2.instance(VR).unwrap().state, "BACKUP");
    drop(attacker);

    // Freeze the master: its macvlan stays up with the VIP, but its lease runs out and its
    // XDP drops; r2 takes over. No duplicate replies on the flooding segment.
    r1.signal(Signal::SIGSTOP);
    r2.wait_state(VR, "MASTER", WAIT);
    assert_vmac(&bed.routers[0], VMAC4, true, VIP4);
    let p = bed.pings(VIP4, 20);
    assert_eq!(p.duplicates, 0, "the frozen master answered too: {p:?}");
    r1.signal(Signal::SIGCONT);
    wait_for(WAIT, "exactly one master", || {
        let masters = [&r1, &r2]
            .iter()
            .filter(|a| a.instance(VR).is_some_and(|i| i.state == "MASTER"))
            .count();
        (masters == 1).then_some(())
    });
    assert!(
        counter(&r1, "lease_expired_dropped") > 0,
        "the frozen master's lease ran out and its XDP dropped: {:?}",
        r1.instance(VR).and_then(|i| i.dataplane)
    );
    let p = bed.pings(VIP4, 20);
    assert_eq!(p.duplicates, 0, "{p:?}");
    assert_eq!(bed.host_neighbour(VIP4), Some(mac_text(VMAC4)));
}

#[test]
fn ipv6_the_vip_has_the_ipv6_virtual_mac_announced_by_unsolicited_na() {
    require_root();
    let bed = Bed::new();
    let cap = Capture::start(&bed.lan.ns);
    let (r1, r2) = bed.start_both(true);
    assert_vmac(&bed.routers[0], VMAC6, true, VIP6);
    assert_vmac(&bed.routers[1], VMAC6, false, VIP6);
    bed.pings(VIP6, 3);
    assert_eq!(bed.host_neighbour(VIP6), Some(mac_text(VMAC6)));
    std::thread::sleep(Duration::from_millis(300));
    let frames = bed.sent_by(&cap, 0);
    let nas: Vec<_> = frames
        .iter()
        .filter(|t| t.src_mac() == Some(VMAC6))
        .filter_map(|t| parse_unsolicited_na(&t.frame))
        .collect();
    assert!(
        nas.iter()
            .any(|na| na.mac == VMAC6 && na.target == VIP6.parse::<std::net::Ipv6Addr>().unwrap()),
        "an unsolicited NA for the VIP from and naming the virtual MAC: {nas:?}"
    );
    assert!(
        frames
            .iter()
            .filter(|t| is_advert(&t.frame))
            .all(|t| t.src_mac() == Some(VMAC6)),
        "the master's adverts leave from the virtual MAC"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_silent(&bed, &cap, 1, VMAC6, "as a backup (no MLD, NA or advert)");

    r1.signal(Signal::SIGKILL);
    drop(r1);
    r2.wait_state(VR, "MASTER", WAIT);
    bed.pings(VIP6, 3);
    assert_eq!(bed.host_neighbour(VIP6), Some(mac_text(VMAC6)));
    assert_vmac(&bed.routers[1], VMAC6, true, VIP6);
}

#[test]
fn a_reload_that_switches_use_vmac_off_deletes_the_macvlan_and_on_creates_it() {
    require_root();
    let bed = Bed::new();
    let r1 = bed.start(0, 100, false);
    r1.wait_state(VR, "MASTER", WAIT);
    assert_vmac(&bed.routers[0], VMAC4, true, VIP4);
    let ns = &bed.routers[0];

    std::fs::write(r1.config(), bed.config(0, 100, false, false)).unwrap();
    r1.signal(Signal::SIGHUP);
    wait_for(WAIT, "the macvlan deleted and the VIP on eth0", || {
        (link(ns, VMAC).is_none() && addresses(ns, "eth0").iter().any(|a| a.starts_with(VIP4)))
            .then_some(())
    });
    r1.wait_state(VR, "MASTER", WAIT);
    assert_eq!(r1.instance(VR).unwrap().vmac, None);
    assert_eq!(base_arp(ns), ["0", "0", "0"], "base settings restored");
    bed.host.ip(&["neigh", "flush", "dev", "eth0"]);
    bed.pings(VIP4, 3);
    let eth0_mac = link(ns, "eth0").unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        bed.host_neighbour(VIP4),
        Some(eth0_mac),
        "shared MAC without use_vmac"
    );

    std::fs::write(r1.config(), bed.config(0, 100, false, true)).unwrap();
    r1.signal(Signal::SIGHUP);
    wait_for(WAIT, "the macvlan back, up, with the VIP", || {
        (link(ns, VMAC).is_some_and(|l| is_up(&l))
            && addresses(ns, VMAC).iter().any(|a| a.starts_with(VIP4)))
        .then_some(())
    });
    r1.wait_state(VR, "MASTER", WAIT);
    assert_vmac(ns, VMAC4, true, VIP4);
    bed.pings(VIP4, 3);
    assert_eq!(bed.host_neighbour(VIP4), Some(mac_text(VMAC4)));
}

/// keepalived 2.2.7's configuration with use_vmac for router `i` (VRRPv3, 0.1 s).
fn keepalived_conf(priority: u8, notify: &std::path::Path) -> String {
    format!(
        "global_defs {{\n    script_user root\n}}\n\
         vrrp_instance {VR} {{\n    state BACKUP\n    interface eth0\n    \
         virtual_router_id {VRID}\n    priority {priority}\n    advert_int 0.1\n    \
         version 3\n    nopreempt\n    use_vmac\n    \
         virtual_ipaddress {{\n        {VIP4}/24\n    }}\n    notify \"{}\"\n}}\n",
        notify.display()
    )
}

#[test]
fn with_keepalived_use_vmac_on_the_other_node_one_master_and_the_mac_never_moves() {
    require_root();
    let bed = Bed::new();
    // keepalived leaves arp_announce alone (its documentation asks the operator to tune it):
    // with 0, the ARP request its node sends from eth0 for a reply from the VIP, which is in
    // eth0's subnet, names the VIP with eth0's MAC and the host's entry moves to eth0. Our
    // agent sets 2 on its own node; the keepalived node gets it by hand.
    bed.routers[1].sysctl("net.ipv4.conf.eth0.arp_announce=2");
    let notify = keepalived::notify_script(&bed.dir, "ka");
    // keepalived (priority 90) first, as master; ours (100, nopreempt) follows.
    let mut ka = Keepalived::start(
        "ka",
        &bed.routers[1],
        &bed.dir,
        &keepalived_conf(90, &notify),
    );
    ka.wait_state(VR, "MASTER", WAIT);
    let ours = bed.start(0, 100, false);
    ours.wait_state(VR, "BACKUP", WAIT);
    bed.pings(VIP4, 3);
    assert_eq!(bed.host_neighbour(VIP4), Some(mac_text(VMAC4)));
    let ka_vmac = link(&bed.routers[1], VMAC).expect("keepalived's macvlan");
    assert_eq!(ka_vmac["address"], mac_text(VMAC4));
    assert_vmac(&bed.routers[0], VMAC4, false, VIP4);

    // keepalived resigns: ours takes over, the MAC stays.
    ka.stop(WAIT);
    ours.wait_state(VR, "MASTER", WAIT);
    bed.pings(VIP4, 3);
    assert_eq!(bed.host_neighbour(VIP4), Some(mac_text(VMAC4)));
    assert_vmac(&bed.routers[0], VMAC4, true, VIP4);

    // keepalived comes back as backup (nopreempt) and agrees ours is master.
    let notify = keepalived::notify_script(&bed.dir, "ka2");
    let mut ka = Keepalived::start(
        "ka2",
        &bed.routers[1],
        &bed.dir,
        &keepalived_conf(90, &notify),
    );
    ka.wait(WAIT, "keepalived as backup", || {
        (ka.state(VR).as_deref() == Some("BACKUP")).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ours.instance(VR).unwrap().state, "MASTER");
    assert_eq!(ka.state(VR).as_deref(), Some("BACKUP"), "one master");
    bed.pings(VIP4, 3);

    // kill -9 of ours: keepalived takes over, the MAC stays.
    ours.signal(Signal::SIGKILL);
    drop(ours);
    ka.wait_state(VR, "MASTER", WAIT);
    bed.pings(VIP4, 3);
    assert_eq!(bed.host_neighbour(VIP4), Some(mac_text(VMAC4)));
    ka.stop(WAIT);
}

#[test]
fn an_interface_deleted_and_created_again_gets_its_macvlan_again() {
    require_root();
    let bed = Bed::new();
    let r1 = bed.start(0, 100, false);
    r1.wait_state(VR, "MASTER", WAIT);
    let ns = &bed.routers[0];
    assert_vmac(ns, VMAC4, true, VIP4);
    // Deleting the interface deletes the macvlan on it; the instance goes to FAULT.
    ns.ip(&["link", "del", "eth0"]);
    r1.wait_state(VR, "FAULT", WAIT);
    assert!(link(ns, VMAC).is_none());
    bed.lan.attach(ns, "eth0", None);
    ns.ip(&["addr", "add", "10.0.20.1/24", "dev", "eth0"]);
    r1.wait_state(VR, "MASTER", WAIT);
    wait_for(WAIT, "the macvlan back, up, with the VIP", || {
        addresses(ns, VMAC)
            .iter()
            .any(|a| a.starts_with(VIP4))
            .then_some(())
    });
    assert_vmac(ns, VMAC4, true, VIP4);
    bed.host.ip(&["neigh", "flush", "dev", "eth0"]);
    bed.pings(VIP4, 3);
    assert_eq!(bed.host_neighbour(VIP4), Some(mac_text(VMAC4)));
}
