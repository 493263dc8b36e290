//! Two real agents on an HA segment, each driving a router namespace (`netns = ...`), with a
//! LAN host watching: election, addresses and routes only on the master, GARPs on the LAN,
//! notify scripts and state files; kill -9, SIGTERM handover, SIGHUP reloads. Needs root.

use std::time::Duration;

use nix::sys::signal::Signal;
use vrrp_tests::{
    agent::{Agent, notify_lines, state_file},
    capture::Capture,
    netns::NetNs,
    require_root,
    takeover::parse_gratuitous_arp,
    tempdir::TempDir,
    topo::{Segment, addresses, routes, wait_for},
};

const WAIT: Duration = Duration::from_secs(15);

struct Pair {
    _ha: Segment,
    _lan: Segment,
    routers: [NetNs; 2],
    client: NetNs,
    dir: TempDir,
}

impl Pair {
    fn new() -> Self {
        let ha = Segment::new();
        let lan = Segment::new();
        let routers = [NetNs::new(), NetNs::new()];
        for (i, r) in routers.iter().enumerate() {
            ha.attach_ha_node(r, "ha", i + 1);
            lan.attach(r, "qr", None);
        }
        let client = NetNs::new();
        lan.attach(&client, "eth0", None);
        client.ip(&["addr", "add", "10.0.10.100/24", "dev", "eth0"]);
        Self {
            _ha: ha,
            _lan: lan,
            routers,
            client,
            dir: TempDir::new("pair"),
        }
    }

    fn config(&self, i: usize, priority: u8, extra: &str) -> String {
        format!(
            r#"
[[instance]]
name = "VR_1"
netns = "{ns}"
interface = "ha"
vrid = 1
priority = {priority}
advert_interval = 0.1
preempt = false
virtual_addresses = ["169.254.0.1/24"]
excluded_addresses = ["10.0.10.1/24 dev qr"]
routes = ["10.20.0.0/16 via 10.0.10.254 dev qr protocol static"]
garp = {{ master_delay = 0, master_repeat = 2 }}
notify = "echo >> {log}"
{extra}
"#,
            ns = self.routers[i].name(),
            log = self.dir.path(&format!("notify-r{}.log", i + 1)).display(),
        )
    }

    fn start(&self, i: usize, priority: u8) -> Agent {
        Agent::run(
            &format!("r{}", i + 1),
            &self.dir,
            &self.config(i, priority, ""),
        )
    }

    /// r1 (priority 100) first, as master; then r2 (priority 90) as backup. Without
    /// preemption, starting both at once would let whichever timer fires first win.
    fn start_both(&self) -> (Agent, Agent) {
        let r1 = self.start(0, 100);
        r1.wait_state("VR_1", "MASTER", WAIT);
        let r2 = self.start(1, 90);
        r2.wait_state("VR_1", "BACKUP", WAIT);
        (r1, r2)
    }

    fn has_vips(&self, i: usize) -> bool {
        let r = &self.routers[i];
        let ha = addresses(r, "ha").contains(&"169.254.0.1/24".to_string());
        let qr = addresses(r, "qr").contains(&"10.0.10.1/24".to_string());
        let route = routes(r, "main")
            .iter()
            .any(|x| x.starts_with("10.20.0.0/16"));
        assert_eq!(
            (ha, qr),
            (ha, ha),
            "VIPs come and go together on router {i}"
        );
        assert_eq!(route, ha, "the route follows the VIPs on router {i}");
        ha
    }
}

#[test]
fn two_agents_elect_one_master_whose_vips_routes_and_garps_are_the_only_ones() {
    require_root();
    let pair = Pair::new();
    let lan = Capture::start(&pair.client);
    let (r1, r2) = pair.start_both();
    let master = r1.wait_state("VR_1", "MASTER", WAIT);
    let backup = r2.wait_state("VR_1", "BACKUP", WAIT);
    assert_eq!(master.counters.became_master, 1);
    assert!(master.master_is_self);
    assert_eq!(master.master.as_deref(), Some("169.254.192.1"));
    assert_eq!(backup.state, "BACKUP");
    wait_for(WAIT, "the backup to know the master", || {
        let m = r2.instance("VR_1")?.master;
        (m.as_deref() == Some("169.254.192.1")).then_some(())
    });
    wait_for(WAIT, "the master's addresses and route", || {
        pair.has_vips(0).then_some(())
    });
    assert!(!pair.has_vips(1), "the backup holds no VIP and no route");

    // Gratuitous ARPs for both VIPs, from the master, on the LAN.
    let garps: Vec<_> = wait_for(WAIT, "gratuitous ARPs on the LAN", || {
        let g: Vec<_> = lan
            .drain()
            .iter()
            .filter_map(|f| parse_gratuitous_arp(f))
            .collect();
        (!g.is_empty()).then_some(g)
    });
    let ips: Vec<String> = garps.iter().map(|(_, ip)| ip.to_string()).collect();
    assert!(ips.contains(&"10.0.10.1".to_string()), "{ips:?}");
    let qr_mac = pair.routers[0].ip(&["-j", "link", "show", "qr"]);
    let (mac, _) = garps
        .iter()
        .find(|(_, ip)| ip.to_string() == "10.0.10.1")
        .unwrap();
    let mac_text = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    assert!(
        qr_mac.contains(&mac_text),
        "GARP from the master's qr MAC {mac_text}"
    );

    // Notify scripts got keepalived's arguments; state files say the state.
    wait_for(WAIT, "notify lines", || {
        let l = notify_lines(&pair.dir.path("notify-r1.log"));
        l.contains(&"INSTANCE VR_1 MASTER 100".to_string())
            .then_some(())
    });
    assert!(
        notify_lines(&pair.dir.path("notify-r2.log"))
            .contains(&"INSTANCE VR_1 BACKUP 90".to_string())
    );
    assert_eq!(
        state_file(&pair.dir, "r1", "VR_1").as_deref(),
        Some("MASTER\n")
    );
    assert_eq!(
        state_file(&pair.dir, "r2", "VR_1").as_deref(),
        Some("BACKUP\n")
    );
    assert_eq!(master.counters.rx_errors.values().sum::<u64>(), 0);
}

#[test]
fn kill_9_of_the_master_agent_the_backup_takes_over() {
    require_root();
    let pair = Pair::new();
    let (mut r1, r2) = pair.start_both();
    r1.signal(Signal::SIGKILL);
    r1.wait_exit(WAIT);
    let new = r2.wait_state("VR_1", "MASTER", WAIT);
    let t = new.last_transition.expect("a transition");
    assert!(t.reason.contains("master-down"), "{}", t.reason);
    wait_for(WAIT, "the new master's addresses", || {
        pair.has_vips(1).then_some(())
    });
}

#[test]
fn sigterm_resigns_with_priority_0_and_the_backup_takes_over_at_once() {
    require_root();
    let pair = Pair::new();
    let (mut r1, r2) = pair.start_both();
    wait_for(WAIT, "addresses on r1", || pair.has_vips(0).then_some(()));
    r1.signal(Signal::SIGTERM);
    let status = r1.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "clean exit within 5 s: {status}");
    assert!(
        !pair.has_vips(0),
        "the old master released its addresses and route"
    );
    let new = r2.wait_state("VR_1", "MASTER", WAIT);
    let t = new.last_transition.expect("a transition");
    assert!(t.reason.contains("resigned (priority 0)"), "{}", t.reason);
    assert_eq!(new.counters.priority_zero_rx, 1);
    wait_for(WAIT, "addresses on r2", || pair.has_vips(1).then_some(()));
    assert!(
        notify_lines(&pair.dir.path("notify-r1.log"))
            .contains(&"INSTANCE VR_1 STOP 100".to_string())
    );
}

#[test]
fn sighup_keeps_unchanged_instances_and_updates_changed_ones_in_place() {
    require_root();
    let pair = Pair::new();
    let (r1, r2) = pair.start_both();
    let before = r1.instance("VR_1").unwrap();
    let t0 = before.last_transition.clone().unwrap();

    r1.signal(Signal::SIGHUP);
    wait_for(WAIT, "the reload", || {
        r1.logs().contains("configuration reloaded").then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let after = r1.instance("VR_1").unwrap();
    assert_eq!(after.state, "MASTER");
    assert_eq!(
        after.last_transition.unwrap().unix_ms,
        t0.unix_ms,
        "no transition"
    );
    assert_eq!(after.counters.became_master, before.counters.became_master);
    assert!(r1.logs().contains("unchanged=1"));

    // A changed instance is updated in place: new address appears, no flap.
    let changed = pair.config(0, 100, "").replace(
        r#"excluded_addresses = ["10.0.10.1/24 dev qr"]"#,
        r#"excluded_addresses = ["10.0.10.1/24 dev qr", "10.0.11.1/24 dev qr"]"#,
    );
    std::fs::write(r1.config(), changed).unwrap();
    r1.signal(Signal::SIGHUP);
    wait_for(WAIT, "the new address", || {
        addresses(&pair.routers[0], "qr")
            .contains(&"10.0.11.1/24".to_string())
            .then_some(())
    });
    let after = r1.instance("VR_1").unwrap();
    assert_eq!(after.state, "MASTER");
    assert_eq!(
        after.last_transition.unwrap().unix_ms,
        t0.unix_ms,
        "still no transition"
    );
    assert!(r2.instance("VR_1").unwrap().state == "BACKUP");
}

/// A SIGHUP that changes `unicast_src` of a running instance moves its adverts to the new
/// source at once, without a transition; removing it again falls back to the interface's
/// primary address. The backup, which names its master by the source of the adverts it
/// hears, shows where they come from.
#[test]
fn sighup_that_changes_unicast_src_moves_the_adverts_to_the_new_source() {
    require_root();
    let pair = Pair::new();
    pair.routers[0].ip(&["addr", "add", "169.254.192.11/18", "dev", "ha"]);
    // r2 accepts adverts from both of r1's addresses; r1 sends to r2 only.
    let unicast = |i: usize, src: Option<&str>| {
        let peers = [
            r#"unicast_peers = ["169.254.192.2"]"#,
            r#"unicast_peers = ["169.254.192.1", "169.254.192.11"]"#,
        ][i];
        let src = src
            .map(|s| format!("unicast_src = \"{s}\""))
            .unwrap_or_default();
        pair.config(i, [100, 90][i], &format!("{peers}\n{src}"))
    };
    let r1 = Agent::run("r1", &pair.dir, &unicast(0, Some("169.254.192.1")));
    r1.wait_state("VR_1", "MASTER", WAIT);
    let r2 = Agent::run("r2", &pair.dir, &unicast(1, None));
    r2.wait_state("VR_1", "BACKUP", WAIT);
    let heard_from = |want: &str| {
        wait_for(WAIT, &format!("r2 to hear r1 from {want}"), || {
            let m = r2.instance("VR_1")?.master;
            (m.as_deref() == Some(want)).then_some(())
        });
    };
    heard_from("169.254.192.1");
    let t0 = r1.instance("VR_1").unwrap().last_transition.unwrap();
    let reload = |src: Option<&str>| {
        std::fs::write(r1.config(), unicast(0, src)).unwrap();
        let before = r1.logs().matches("configuration reloaded").count();
        r1.signal(Signal::SIGHUP);
        wait_for(WAIT, "the reload", || {
            (r1.logs().matches("configuration reloaded").count() > before).then_some(())
        });
    };

    reload(Some("169.254.192.11"));
    heard_from("169.254.192.11");
    assert_eq!(
        r1.instance("VR_1").unwrap().master.as_deref(),
        Some("169.254.192.11"),
        "r1 names itself by its new source"
    );

    // Without a configured source the adverts leave from the interface's primary address.
    reload(None);
    heard_from("169.254.192.1");

    let (i1, i2) = (r1.instance("VR_1").unwrap(), r2.instance("VR_1").unwrap());
    assert_eq!((i1.state.as_str(), i2.state.as_str()), ("MASTER", "BACKUP"));
    assert_eq!(
        i1.last_transition.unwrap().unix_ms,
        t0.unix_ms,
        "no transition on r1"
    );
    assert_eq!(i2.counters.became_master, 0, "r2 never took over");
}
