//! Our agent and a real keepalived (2.2.7) in the same virtual router, on one HA segment:
//! VRRPv2 with simple-password authentication, VRRPv2 with IPsec AH (`auth_type AH`, IP
//! protocol 51, HMAC-MD5-96 and sequence numbers), VRRPv3 over IPv4, VRRPv3 over IPv6. Our
//! agent runs with its XDP data plane, so keepalived's adverts must also pass the XDP checks.
//!
//! For each variant:
//! - keepalived master, ours backup, then SIGTERM to keepalived: ours takes over on its
//!   priority-0 advert (well before the master-down interval);
//! - ours master, keepalived backup, then SIGTERM to ours: keepalived takes over likewise;
//! - ours preempts a lower-priority keepalived master, and keepalived preempts ours;
//! - equal priorities after a split brain (segment cut, both master, healed): the higher
//!   address stays master, both sides agree which one that is;
//! - in every steady state (after each transition settled) both sides are sampled every
//!   ~50 ms: never two masters, and always the expected one.
//!
//! With AH also: different passwords (each refuses the other's adverts, so both are master;
//! our counters count the failures), and an equal-priority split brain whose two masters
//! counted their sequence numbers apart (keepalived's rule makes them agree once healed).
//!
//! Plus VRRPv3 over unicast (IPv4 and IPv6) from secondary addresses with keepalived checking
//! sources (`check_unicast_src`), both ways. keepalived 2.2.7 sends IPv6 unicast adverts with
//! the kernel's default hop limit (64; it sets only IPV6_MULTICAST_HOPS to 255) and does not
//! check the hop limit of unicast adverts; our agent, like it, waives the check for its
//! configured unicast peers (in XDP and in the codec), and only for them.
//!
//! keepalived's state comes from its notify script and its VIP on its interface; ours from
//! its status socket and its VIP. The handover tests use 1 s intervals for every version, so
//! that the master-down interval (3 s + skew) leaves room for a generous "promptly" bound;
//! the other tests use 0.1 s for VRRPv3 (VRRPv2 needs whole seconds: 1 s). Needs root.

use std::{
    path::Path,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use nix::sys::signal::Signal;
use vrrp_tests::{
    agent::Agent,
    keepalived::{self, Keepalived},
    netns::NetNs,
    require_root,
    tempdir::TempDir,
    topo::{Segment, addresses, wait_for},
};

const WAIT: Duration = Duration::from_secs(15);
const NAME: &str = "VR_1";
const IF: &str = "ha";
const VRID: u8 = 51;
/// IPv4 addresses of ours (normally the lower, or the higher) and keepalived's.
const OURS_V4: &str = "169.254.192.1";
const OURS_V4_HIGHER: &str = "169.254.192.3";
const THEIRS_V4: &str = "169.254.192.2";
/// MACs, hence IPv6 link-local addresses, in the same order.
const OURS_MAC: &str = "02:00:5e:10:00:01";
const OURS_MAC_HIGHER: &str = "02:00:5e:10:00:03";
const THEIRS_MAC: &str = "02:00:5e:10:00:02";
/// Interval of the handover tests (every version).
const HANDOVER_INTERVAL: f64 = 1.0;
/// How often the steady-state sampler looks at both sides, and how many looks at least (a
/// loaded machine stretches the window rather than thinning it out).
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
const MIN_SAMPLES: usize = 10;

/// What keepalived 2.2.7 logs when it rejects an advert (`vrrp_check_packet` and the state
/// handlers in keepalived/vrrp/vrrp.c).
const KEEPALIVED_RX_ERRORS: &[&str] = &[
    "vrrp packet too",
    "invalid TTL/HL",
    "wrong version",
    "Invalid auth type",
    "auth, expecting",
    "invalid passwd",
    "advertisement interval mismatch",
    "Invalid packet type",
    "unexpected ip number count",
    "Invalid VRRPv3 checksum",
    "Invalid VRRPv2 checksum",
    "Checksum ERROR",
    "icast packet but received",
    "VIPs but received",
    "not present in MASTER advert",
    "not in range",
    "not a unicast peer",
    "IPSEC-AH : invalid IPSEC HMAC-MD5 value",
    "invalid IPSEC SPI value",
    "Received AH header but auth type not AH",
    "No AH header but auth type is AH",
    // An AH sequence number refused as a replay (`vrrp_in_chk_ipsecah`).
    "already processed. Packet dropped",
];

#[derive(Clone, Copy, Debug)]
struct Variant {
    version: u8,
    ipv6: bool,
    /// VRRPv2 password (keepalived `auth_pass`, ours too).
    auth: Option<&'static str>,
    /// With `auth`: IPsec AH (keepalived `auth_type AH`, our `auth_type = "ah"`) instead of
    /// a simple password.
    ah: bool,
    /// Advert interval in seconds.
    interval: f64,
    /// Unicast adverts between addresses that are not the interface's primary.
    unicast: bool,
}

const V2_PASS: Variant = Variant {
    version: 2,
    ipv6: false,
    auth: Some("vx-2pass"),
    ah: false,
    interval: 1.0,
    unicast: false,
};
const V2_AH: Variant = Variant {
    auth: Some("vx-2ah"),
    ah: true,
    ..V2_PASS
};
const V3_IPV4: Variant = Variant {
    version: 3,
    ipv6: false,
    auth: None,
    ah: false,
    interval: 0.1,
    unicast: false,
};
const V3_IPV4_UNICAST: Variant = Variant {
    unicast: true,
    ..V3_IPV4
};
const V3_IPV6: Variant = Variant {
    version: 3,
    ipv6: true,
    auth: None,
    ah: false,
    interval: 0.1,
    unicast: false,
};
const V3_IPV6_UNICAST: Variant = Variant {
    unicast: true,
    ..V3_IPV6
};

impl Variant {
    fn vip(&self) -> &'static str {
        if self.ipv6 {
            "fd00:1::100/64"
        } else {
            "169.254.0.1/24"
        }
    }

    fn with_interval(self, interval: f64) -> Self {
        Self { interval, ..self }
    }

    /// RFC 5798 / RFC 3768 master-down interval of a backup with `priority`.
    fn master_down(&self, priority: u8) -> Duration {
        let skew = f64::from(256 - u16::from(priority)) / 256.0 * self.interval;
        Duration::from_secs_f64(3.0 * self.interval + skew)
    }

    /// How long a steady state is sampled: a backup deaf to the master would have taken
    /// over within this window.
    fn steady_window(&self, backup_priority: u8) -> Duration {
        (self.master_down(backup_priority) + Duration::from_secs_f64(self.interval))
            .max(Duration::from_secs(2))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Ours,
    Keepalived,
}

/// One look at both sides.
#[derive(Debug)]
struct Observed {
    /// Our status (None once our agent is gone).
    ours_state: Option<String>,
    ours_vip: bool,
    /// keepalived's latest notified state (None before the first).
    keepalived_state: Option<String>,
    keepalived_vip: bool,
}

impl Observed {
    /// Claims mastership in any way: says so, or holds the VIP.
    fn is_master(&self, side: Side) -> bool {
        match side {
            Side::Ours => self.ours_state.as_deref() == Some("MASTER") || self.ours_vip,
            Side::Keepalived => {
                self.keepalived_state.as_deref() == Some("MASTER") || self.keepalived_vip
            }
        }
    }

    /// Master in every way: says so and holds the VIP.
    fn is_full_master(&self, side: Side) -> bool {
        match side {
            Side::Ours => self.ours_state.as_deref() == Some("MASTER") && self.ours_vip,
            Side::Keepalived => {
                self.keepalived_state.as_deref() == Some("MASTER") && self.keepalived_vip
            }
        }
    }
}

/// Two router namespaces on one segment: `ours` runs our agent, `theirs` keepalived.
struct Bed {
    v: Variant,
    ours_v4: &'static str,
    ha: Segment,
    ports: Vec<String>,
    ours: NetNs,
    theirs: NetNs,
    dir: TempDir,
}

impl Bed {
    /// Ours has the lower address (IPv4 and link-local).
    fn new(v: Variant) -> Self {
        Self::with_addresses(v, false)
    }

    fn with_addresses(v: Variant, ours_higher: bool) -> Self {
        let (ours_v4, ours_mac) = if ours_higher {
            (OURS_V4_HIGHER, OURS_MAC_HIGHER)
        } else {
            (OURS_V4, OURS_MAC)
        };
        let ha = Segment::new();
        let ours = NetNs::new();
        let theirs = NetNs::new();
        let mut ports = Vec::new();
        for (ns, addr, mac) in [(&ours, ours_v4, ours_mac), (&theirs, THEIRS_V4, THEIRS_MAC)] {
            ports.push(ha.attach(ns, IF, Some(mac)));
            if !v.ipv6 {
                ns.ip(&["addr", "add", &format!("{addr}/18"), "dev", IF]);
            }
            if v.unicast && v.ipv6 {
                // A global address beside the link-local one: the source of unicast adverts.
                ns.ip(&[
                    "addr",
                    "add",
                    &format!("{}/64", unicast_addr6(addr)),
                    "dev",
                    IF,
                    "nodad",
                ]);
            } else if v.unicast {
                // A secondary address: the source of unicast adverts.
                ns.ip(&[
                    "addr",
                    "add",
                    &format!("{}/24", unicast_addr(addr)),
                    "dev",
                    IF,
                ]);
            }
        }
        let bed = Self {
            v,
            ours_v4,
            ha,
            ports,
            ours,
            theirs,
            dir: TempDir::new("interop"),
        };
        if v.ipv6 {
            // Both send from their link-local address, usable once DAD is done.
            for ns in [&bed.ours, &bed.theirs] {
                wait_for(WAIT, "link-local addresses out of DAD", || {
                    let tentative = ns.ip(&["-6", "addr", "show", "dev", IF, "tentative"]);
                    (tentative.trim().is_empty() && link_local(ns).is_some()).then_some(())
                });
            }
        }
        bed
    }

    /// The source address of `side`'s adverts.
    fn addr(&self, side: Side) -> String {
        if self.v.unicast {
            let pick = if self.v.ipv6 {
                unicast_addr6
            } else {
                unicast_addr
            };
            return match side {
                Side::Ours => pick(self.ours_v4),
                Side::Keepalived => pick(THEIRS_V4),
            };
        }
        match (self.v.ipv6, side) {
            (false, Side::Ours) => self.ours_v4.to_string(),
            (false, Side::Keepalived) => THEIRS_V4.to_string(),
            (true, Side::Ours) => link_local(&self.ours).expect("link-local"),
            (true, Side::Keepalived) => link_local(&self.theirs).expect("link-local"),
        }
    }

    /// Preemption on (as in keepalived by default).
    fn ours_toml(&self, priority: u8) -> String {
        let v = &self.v;
        let mut s = format!(
            r#"
[[instance]]
name = "{NAME}"
netns = "{ns}"
interface = "{IF}"
vrid = {VRID}
version = {version}
priority = {priority}
advert_interval = {interval:?}
preempt = true
virtual_addresses = ["{vip}"]
garp = {{ master_delay = 0, master_repeat = 1 }}
"#,
            ns = self.ours.name(),
            version = v.version,
            interval = v.interval,
            vip = v.vip(),
        );
        if let Some(p) = v.auth {
            let ty = if v.ah { "ah" } else { "pass" };
            s.push_str(&format!("auth_type = \"{ty}\"\nauth_pass = \"{p}\"\n"));
        }
        if v.unicast {
            s.push_str(&format!(
                "unicast_src = \"{}\"\nunicast_peers = [\"{}\"]\n",
                self.addr(Side::Ours),
                self.addr(Side::Keepalived)
            ));
        }
        s
    }

    /// Preemption on (keepalived's default: no `nopreempt`).
    fn keepalived_conf(&self, priority: u8, notify: &Path) -> String {
        let v = &self.v;
        let mut s = format!(
            "global_defs {{\n    script_user root\n}}\n\
             vrrp_instance {NAME} {{\n    state BACKUP\n    interface {IF}\n    \
             virtual_router_id {VRID}\n    priority {priority}\n    advert_int {}\n    \
             version {}\n",
            v.interval, v.version
        );
        if v.unicast {
            // check_unicast_src: adverts from any other source are rejected.
            s.push_str(&format!(
                "    unicast_src_ip {}\n    unicast_peer {{\n        {}\n    }}\n    \
                 check_unicast_src\n",
                self.addr(Side::Keepalived),
                self.addr(Side::Ours)
            ));
        }
        if let Some(p) = v.auth {
            let ty = if v.ah { "AH" } else { "PASS" };
            s.push_str(&format!(
                "    authentication {{\n        auth_type {ty}\n        auth_pass {p}\n    }}\n"
            ));
        }
        s.push_str(&format!(
            "    virtual_ipaddress {{\n        {} dev {IF}\n    }}\n    notify \"{}\"\n}}\n",
            v.vip(),
            notify.display()
        ));
        s
    }

    fn start_ours(&self, priority: u8) -> Agent {
        let agent = Agent::run("ours", &self.dir, &self.ours_toml(priority));
        wait_for(WAIT, "our agent's status socket", || agent.status());
        let dataplane = agent.status().expect("status").agent.dataplane;
        assert!(
            dataplane.starts_with("xdp"),
            "our agent must run with its XDP data plane (build it with VRRP_EBPF_OBJECT set): \
             {dataplane}"
        );
        agent
    }

    fn start_keepalived(&self, priority: u8) -> Keepalived {
        let notify = keepalived::notify_script(&self.dir, "keepalived");
        let conf = self.keepalived_conf(priority, &notify);
        Keepalived::start("keepalived", &self.theirs, &self.dir, &conf)
    }

    fn has_vip(&self, side: Side) -> bool {
        let ns = match side {
            Side::Ours => &self.ours,
            Side::Keepalived => &self.theirs,
        };
        addresses(ns, IF).contains(&self.v.vip().to_string())
    }

    fn observe(&self, ours: Option<&Agent>, k: Option<&Keepalived>) -> Observed {
        Observed {
            ours_state: ours.and_then(|a| a.instance(NAME)).map(|i| i.state),
            ours_vip: self.has_vip(Side::Ours),
            keepalived_state: k.and_then(|k| k.state(NAME)),
            keepalived_vip: self.has_vip(Side::Keepalived),
        }
    }

    /// Waits until `master` is master in every way and the other side in no way.
    fn settle(&self, ours: Option<&Agent>, k: Option<&Keepalived>, master: Side) {
        let other = other(master);
        let mut last = None;
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(WAIT, &format!("{master:?} as the only master"), || {
                let o = self.observe(ours, k);
                let ok = o.is_full_master(master) && !o.is_master(other);
                last = Some(o);
                ok.then_some(())
            });
        }));
        if done.is_err() {
            panic!("{master:?} never became the only master; last observed {last:?}");
        }
    }

    /// Samples both sides every [`SAMPLE_EVERY`] for `window` (and at least [`MIN_SAMPLES`]
    /// times): never two masters, and `master` the only master throughout.
    fn steady(&self, ours: Option<&Agent>, k: Option<&Keepalived>, master: Side, window: Duration) {
        let start = Instant::now();
        let mut samples = 0;
        while start.elapsed() < window || samples < MIN_SAMPLES {
            let o = self.observe(ours, k);
            let at = start.elapsed();
            assert!(
                !(o.is_master(Side::Ours) && o.is_master(Side::Keepalived)),
                "two masters at sample {samples} ({at:?} into the window): {o:?}"
            );
            assert!(
                o.is_full_master(master) && !o.is_master(other(master)),
                "{master:?} should be the only master, at sample {samples} ({at:?}): {o:?}"
            );
            samples += 1;
            std::thread::sleep(SAMPLE_EVERY);
        }
        eprintln!(
            "{master:?} the only master in {samples} samples over {:?}",
            start.elapsed()
        );
    }

    /// Our agent is backup, follows keepalived as master, and took every advert: none failed
    /// a receive check, XDP passed them, none dropped for TTL or source.
    fn assert_ours_follows_keepalived(&self, ours: &Agent) {
        let want = self.addr(Side::Keepalived);
        let i = wait_for(WAIT, "our agent to name keepalived as master", || {
            ours.instance(NAME)
                .filter(|i| i.master.as_deref() == Some(want.as_str()))
        });
        assert_eq!(i.state, "BACKUP");
        assert!(!i.master_is_self);
        assert_eq!(
            i.counters.rx_errors.values().sum::<u64>(),
            0,
            "receive errors: {:?}",
            i.counters.rx_errors
        );
        assert!(i.counters.adverts_rx > 0);
        let dp = i.dataplane.expect("per-instance XDP counters");
        assert!(dp["adverts_passed"] > 0, "XDP passed no advert: {dp:?}");
        assert_eq!(dp["adverts_bad_ttl"], 0, "{dp:?}");
        assert_eq!(dp["adverts_spoofed"], 0, "{dp:?}");
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Ours => Side::Keepalived,
        Side::Keepalived => Side::Ours,
    }
}

/// The unicast source that goes with the primary IPv4 address `primary` (same last byte).
fn unicast_addr(primary: &str) -> String {
    format!("10.99.0.{}", primary.rsplit('.').next().expect("IPv4"))
}

/// The IPv6 unicast source that goes with the primary IPv4 address `primary`.
fn unicast_addr6(primary: &str) -> String {
    format!("fd00:99::{}", primary.rsplit('.').next().expect("IPv4"))
}

/// The link-local address of the HA interface in `ns`.
fn link_local(ns: &NetNs) -> Option<String> {
    addresses(ns, IF)
        .into_iter()
        .find(|a| a.starts_with("fe80:"))
        .map(|a| a.split('/').next().unwrap_or_default().to_string())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// keepalived rejected none of our adverts.
fn assert_keepalived_took_every_advert(k: &Keepalived) {
    let log = k.logs();
    for bad in KEEPALIVED_RX_ERRORS {
        assert!(
            !log.contains(bad),
            "keepalived rejected an advert ({bad:?}):\n{log}"
        );
    }
}

/// keepalived (priority 200) is master, ours (150) backup; SIGTERM to keepalived: its
/// priority-0 advert makes ours master after the skew time, well before the master-down
/// interval.
fn keepalived_master_then_resigns(v: Variant) {
    require_root();
    let v = v.with_interval(HANDOVER_INTERVAL);
    let bed = Bed::new(v);
    let mut k = bed.start_keepalived(200);
    k.wait_state(NAME, "MASTER", WAIT);
    let ours = bed.start_ours(150);
    ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&k), Side::Keepalived);
    bed.steady(
        Some(&ours),
        Some(&k),
        Side::Keepalived,
        v.steady_window(150),
    );
    bed.assert_ours_follows_keepalived(&ours);
    let seq_before = ours.instance(NAME).unwrap().ah_sequence;
    assert_eq!(seq_before.is_some(), v.ah);

    let t0 = unix_ms();
    let status = k.stop(WAIT);
    assert!(status.success(), "keepalived exit: {status}");
    let i = ours.wait_state(NAME, "MASTER", WAIT);
    let t = i.last_transition.expect("a transition");
    assert!(t.reason.contains("resigned (priority 0)"), "{}", t.reason);
    assert_eq!(i.counters.priority_zero_rx, 1);
    let took = Duration::from_millis(t.unix_ms.saturating_sub(t0));
    let bound = v.master_down(150) / 2;
    eprintln!("ours took over {took:?} after SIGTERM to keepalived (bound {bound:?})");
    assert!(
        took < bound,
        "ours took {took:?} after SIGTERM to keepalived; a priority-0 handover takes the skew \
         time (~{:?}), the master-down interval is {:?}",
        v.master_down(150) - Duration::from_secs_f64(3.0 * v.interval),
        v.master_down(150)
    );
    k.wait_log("(VR_1) sent 0 priority", WAIT);
    assert_eq!(k.state(NAME).as_deref(), Some("STOP"));
    bed.settle(Some(&ours), None, Side::Ours);
    bed.steady(Some(&ours), None, Side::Ours, Duration::from_secs(2));
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.counters.became_master, 1);
    if let (Some(before), Some(now)) = (seq_before, i.ah_sequence) {
        // Ours accepted keepalived's numbers up to `before` and its priority-0 advert
        // (`before` + 1, or later), and numbers its own adverts after them.
        assert!(
            now > before + 1,
            "AH sequence {now} after taking over, {before} before"
        );
    }
}

/// Ours (200) is master, keepalived (150) backup; SIGTERM to ours: keepalived takes over on
/// our priority-0 advert, well before the master-down interval.
fn ours_master_then_resigns(v: Variant) {
    require_root();
    let v = v.with_interval(HANDOVER_INTERVAL);
    let bed = Bed::new(v);
    let mut ours = bed.start_ours(200);
    ours.wait_state(NAME, "MASTER", WAIT);
    let k = bed.start_keepalived(150);
    k.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&k), Side::Ours);
    // Longer than keepalived's master-down interval: it hears us, or it would take over.
    bed.steady(Some(&ours), Some(&k), Side::Ours, v.steady_window(150));
    assert_keepalived_took_every_advert(&k);
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.counters.became_master, 1);
    assert_eq!(i.counters.rx_errors.values().sum::<u64>(), 0);

    let start = Instant::now();
    ours.signal(Signal::SIGTERM);
    k.wait(WAIT, "the VIP after our SIGTERM", || {
        bed.has_vip(Side::Keepalived).then_some(())
    });
    let took = start.elapsed();
    let status = ours.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "our exit: {status}");
    k.wait_state(NAME, "MASTER", WAIT);
    k.wait_log("(VR_1) Backup received priority 0 advertisement", WAIT);
    let bound = v.master_down(150) / 2;
    eprintln!("keepalived took over {took:?} after SIGTERM to ours (bound {bound:?})");
    assert!(
        took < bound,
        "keepalived took {took:?} after SIGTERM to ours (master-down interval {:?})",
        v.master_down(150)
    );
    assert!(!bed.has_vip(Side::Ours), "ours released its VIP");
    bed.settle(None, Some(&k), Side::Keepalived);
    bed.steady(None, Some(&k), Side::Keepalived, Duration::from_secs(2));
    assert_keepalived_took_every_advert(&k);
}

/// keepalived (100) is master; ours (200, preempt) starts and takes over; keepalived steps
/// down.
fn ours_preempts(v: Variant) {
    require_root();
    let bed = Bed::new(v);
    let k = bed.start_keepalived(100);
    k.wait_state(NAME, "MASTER", WAIT);
    bed.settle(None, Some(&k), Side::Keepalived);
    let ours = bed.start_ours(200);
    ours.wait_state(NAME, "MASTER", WAIT);
    k.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&k), Side::Ours);
    k.wait_log(
        &format!(
            "(VR_1) Master received advert from {} with higher priority 200, ours 100",
            bed.addr(Side::Ours)
        ),
        WAIT,
    );
    bed.steady(Some(&ours), Some(&k), Side::Ours, v.steady_window(100));
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.counters.became_master, 1, "{i:?}");
    assert_eq!(i.counters.rx_errors.values().sum::<u64>(), 0, "{i:?}");
    assert_keepalived_took_every_advert(&k);
}

/// Ours (100) is master; keepalived (200, preempt) starts and takes over; ours steps down.
fn keepalived_preempts(v: Variant) {
    require_root();
    let bed = Bed::new(v);
    let ours = bed.start_ours(100);
    ours.wait_state(NAME, "MASTER", WAIT);
    bed.settle(Some(&ours), None, Side::Ours);
    let k = bed.start_keepalived(200);
    k.wait_state(NAME, "MASTER", WAIT);
    let i = ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&k), Side::Keepalived);
    let t = i.last_transition.expect("a transition");
    assert!(t.reason.contains("higher priority 200"), "{}", t.reason);
    // keepalived heard us before preempting (it discards a lower priority as a backup).
    let ours_addr = bed.addr(Side::Ours);
    assert!(
        k.logs().contains(&format!(
            "received lower priority (100) advert from {ours_addr}"
        )),
        "{}",
        k.logs()
    );
    bed.steady(
        Some(&ours),
        Some(&k),
        Side::Keepalived,
        v.steady_window(100),
    );
    bed.assert_ours_follows_keepalived(&ours);
    assert_eq!(ours.instance(NAME).unwrap().counters.became_master, 1);
    assert_keepalived_took_every_advert(&k);
}

#[test]
fn v2_pass_keepalived_master_ours_backup_then_keepalived_resigns() {
    keepalived_master_then_resigns(V2_PASS);
}

#[test]
fn v2_pass_ours_master_keepalived_backup_then_ours_resigns() {
    ours_master_then_resigns(V2_PASS);
}

#[test]
fn v2_pass_ours_preempts_keepalived() {
    ours_preempts(V2_PASS);
}

#[test]
fn v2_pass_keepalived_preempts_ours() {
    keepalived_preempts(V2_PASS);
}

#[test]
fn v3_ipv4_keepalived_master_ours_backup_then_keepalived_resigns() {
    keepalived_master_then_resigns(V3_IPV4);
}

#[test]
fn v3_ipv4_ours_master_keepalived_backup_then_ours_resigns() {
    ours_master_then_resigns(V3_IPV4);
}

#[test]
fn v3_ipv4_ours_preempts_keepalived() {
    ours_preempts(V3_IPV4);
}

#[test]
fn v3_ipv4_keepalived_preempts_ours() {
    keepalived_preempts(V3_IPV4);
}

#[test]
fn v3_ipv6_keepalived_master_ours_backup_then_keepalived_resigns() {
    keepalived_master_then_resigns(V3_IPV6);
}

#[test]
fn v3_ipv6_ours_master_keepalived_backup_then_ours_resigns() {
    ours_master_then_resigns(V3_IPV6);
}

#[test]
fn v3_ipv6_ours_preempts_keepalived() {
    ours_preempts(V3_IPV6);
}

#[test]
fn v3_ipv6_keepalived_preempts_ours() {
    keepalived_preempts(V3_IPV6);
}

#[test]
fn v2_ah_keepalived_master_ours_backup_then_keepalived_resigns() {
    keepalived_master_then_resigns(V2_AH);
}

#[test]
fn v2_ah_ours_master_keepalived_backup_then_ours_resigns() {
    ours_master_then_resigns(V2_AH);
}

/// AH with different passwords on the two sides: each refuses the other's adverts (a wrong
/// ICV), so both become and stay master. Our XDP program passes keepalived's adverts (it
/// cannot check an ICV); our agent refuses every one and counts it as an auth failure;
/// keepalived logs the same of ours. (keepalived 2.2.7 restarts its advert timer on every
/// packet it receives, refused ones included, so as master it advertises irregularly here:
/// the test waits for two of its adverts rather than counting on its interval.)
#[test]
fn v2_ah_different_passwords_refuse_each_other_and_both_are_master() {
    require_root();
    let v = V2_AH;
    let bed = Bed::new(v);
    let ours = bed.start_ours(150);
    ours.wait_state(NAME, "MASTER", WAIT);
    let notify = keepalived::notify_script(&bed.dir, "keepalived");
    let conf = bed.keepalived_conf(200, &notify);
    let other = conf.replace("auth_pass vx-2ah", "auth_pass vx-2ahX");
    assert_ne!(conf, other);
    let k = Keepalived::start("keepalived", &bed.theirs, &bed.dir, &other);
    k.wait_state(NAME, "MASTER", WAIT);
    k.wait_log("(VR_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value", WAIT);
    let auth_failures = |i: &vrrp_agent::api::model::InstanceReport| {
        i.counters
            .rx_errors
            .get("auth_failure")
            .copied()
            .unwrap_or(0)
    };
    wait_for(
        WAIT,
        "our agent to refuse two of keepalived's adverts",
        || ours.instance(NAME).filter(|i| auth_failures(i) >= 2),
    );
    // Longer than either side's master-down interval: neither hears the other.
    let window = v.steady_window(150);
    let start = Instant::now();
    let mut samples = 0;
    while start.elapsed() < window || samples < MIN_SAMPLES {
        let o = bed.observe(Some(&ours), Some(&k));
        assert!(
            o.is_full_master(Side::Ours) && o.is_full_master(Side::Keepalived),
            "both must stay master, sample {samples}: {o:?}"
        );
        samples += 1;
        std::thread::sleep(SAMPLE_EVERY);
    }
    let i = ours.instance(NAME).unwrap();
    let failures = auth_failures(&i);
    assert_eq!(
        i.counters.rx_errors.values().sum::<u64>(),
        failures,
        "nothing but auth failures: {:?}",
        i.counters.rx_errors
    );
    assert_eq!(i.counters.adverts_rx, 0, "{i:?}");
    assert_eq!(i.counters.became_master, 1, "{i:?}");
    let dp = i.dataplane.expect("per-instance XDP counters");
    // (XDP counts a packet before the agent judges it: one may be between the two.)
    assert!(
        dp["adverts_passed"] >= failures,
        "XDP passed keepalived's adverts, the agent refused them: {dp:?}"
    );
    eprintln!(
        "both master over {samples} samples; ours refused all {failures} of keepalived's adverts"
    );
}

/// AH, equal priorities, a split brain in which each side numbers its own adverts, keepalived
/// from earlier on (it was master first): when the segment heals, ours (the higher address)
/// is behind, and keepalived refuses our numbers as replays (if ours speaks first). Ours
/// accepts keepalived's newer numbers and numbers its adverts after them (one counter for
/// sending and accepting, and keepalived's rule for a master that hears a lower master); then
/// keepalived accepts ours, steps down and stays backup. An agent counting its own numbers
/// from 0 would never be heard again: two masters for good.
#[test]
fn v2_ah_equal_priority_split_brain_heals_although_the_sequence_numbers_diverged() {
    require_root();
    let v = V2_AH;
    let bed = Bed::with_addresses(v, true);
    bed.ha.isolate_port(&bed.ports[0]);
    let k = bed.start_keepalived(150);
    k.wait_state(NAME, "MASTER", WAIT);
    // Ours starts only now: by the time it is master (a master-down interval later),
    // keepalived's numbers are ahead by about as many adverts.
    let ours = bed.start_ours(150);
    ours.wait_state(NAME, "MASTER", WAIT);
    assert!(bed.has_vip(Side::Ours) && bed.has_vip(Side::Keepalived));
    let behind = ours.instance(NAME).unwrap().ah_sequence.expect("AH");
    bed.ha.join_port(&bed.ports[0]);
    let oa = bed.addr(Side::Ours);
    bed.settle(Some(&ours), Some(&k), Side::Ours);
    k.wait_log(
        &format!("(VR_1) Master received advert from {oa} with same priority 150 but higher IP address than ours"),
        WAIT,
    );
    bed.steady(Some(&ours), Some(&k), Side::Ours, v.steady_window(150));
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.counters.became_master, 1, "{i:?}");
    assert!(i.counters.adverts_rx >= 1, "ours heard keepalived: {i:?}");
    assert_eq!(
        i.counters.rx_errors.get("auth_failure"),
        None,
        "{:?}",
        i.counters.rx_errors
    );
    let now = i.ah_sequence.expect("AH");
    eprintln!(
        "ours numbered {behind} when healed, {now} now; keepalived refused {} of ours as replays",
        k.logs().matches("already processed").count()
    );
    let log = k.logs();
    for bad in KEEPALIVED_RX_ERRORS
        .iter()
        .filter(|e| !e.contains("already processed"))
    {
        assert!(
            !log.contains(bad),
            "keepalived rejected an advert ({bad:?}):\n{log}"
        );
    }
}

/// Neutron's keepalived.conf for an HA router with `ha_vrrp_auth_type = AH` (state BACKUP,
/// priority 50, nopreempt, no `version`: VRRPv2), on the test's interface and VRID, with a
/// notify script so the test can follow the state.
fn neutron_ah_conf(notify: &Path) -> String {
    format!(
        "global_defs {{\n    notification_email_from neutron@openstack.local\n    router_id neutron\n}}\n\
         vrrp_instance {NAME} {{\n    state BACKUP\n    interface {IF}\n    virtual_router_id {VRID}\n    \
         priority 50\n    garp_master_delay 60\n    nopreempt\n    advert_int 1\n    \
         authentication {{\n        auth_type AH\n        auth_pass vx-ntrn\n    }}\n    \
         track_interface {{\n        {IF}\n    }}\n    virtual_ipaddress {{\n        169.254.0.1/24 dev {IF}\n    }}\n    \
         notify \"{}\"\n}}\n",
        notify.display()
    )
}

/// What Neutron runs with `ha_vrrp_auth_type = AH`, on both nodes the same keepalived.conf:
/// one node runs keepalived 2.2.7, the other our agent through its keepalived entry point (a
/// `keepalived` link to it, keepalived's command line; `model`: its process model). keepalived
/// is master first and ours follows; keepalived resigns and ours takes over; keepalived comes
/// back (nopreempt: as backup, its sequence counter fresh) and follows ours; ours resigns and
/// keepalived takes over again. Both directions through keepalived.conf, AH and equal
/// priorities.
fn neutron_ah_hands_over_both_ways(model: &str) {
    require_root();
    let v = V2_AH;
    let bed = Bed::new(v);
    let link = bed.dir.path("keepalived");
    std::os::unix::fs::symlink(vrrp_tests::agent::binary(), &link).expect("keepalived link");
    let k_conf = neutron_ah_conf(&keepalived::notify_script(&bed.dir, "keepalived"));
    let ours_conf = neutron_ah_conf(&keepalived::notify_script(&bed.dir, "ours"));
    // A node agent of its own (node model), removed with what it pinned at the end.
    let node_socket = std::path::PathBuf::from(format!("/run/vrrp-agent/{}.ctl", bed.ours.name()));
    let node_log = bed.dir.path("node.log");
    let settings = bed.dir.path("settings.toml");
    std::fs::write(
        &settings,
        format!(
            "process_model = \"{model}\"\nnode_socket = \"{}\"\nnode_log = \"{}\"\n",
            node_socket.display(),
            node_log.display()
        ),
    )
    .expect("settings");
    let _cleanup = DropInCleanup {
        node_socket: node_socket.clone(),
        pin_prefix: format!(
            "keepalived-{}-",
            bed.dir
                .path("x")
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|n| n.to_str())
                .unwrap_or("?")
        ),
    };
    let env = [("VRRP_AGENT_SETTINGS", settings.as_path())];
    let ours_log = || {
        // The process logs to the console (-l, captured by the wrapper) or beside its
        // config; in the node model the node agent runs the router and logs to node.log.
        [bed.dir.path("vrrp-agent.log"), node_log.clone()]
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<String>()
    };

    let mut k = Keepalived::start("keepalived", &bed.theirs, &bed.dir, &k_conf);
    k.wait_state(NAME, "MASTER", WAIT);
    let mut ours = Keepalived::start_binary("ours", &link, &env, &bed.ours, &bed.dir, &ours_conf);
    ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(None, Some(&k), Side::Keepalived);
    bed.steady(None, Some(&k), Side::Keepalived, v.steady_window(50));

    k.stop(WAIT);
    ours.wait_state(NAME, "MASTER", WAIT);
    k.wait_log("(VR_1) sent 0 priority", WAIT);
    let log = ours.logs() + &ours_log();
    assert!(log.contains("resigned (priority 0)"), "{log}");
    assert!(!bed.has_vip(Side::Keepalived));
    assert!(bed.has_vip(Side::Ours));

    let k2_conf = neutron_ah_conf(&keepalived::notify_script(&bed.dir, "keepalived2"));
    let k2 = Keepalived::start("keepalived2", &bed.theirs, &bed.dir, &k2_conf);
    k2.wait_state(NAME, "BACKUP", WAIT);
    // Longer than its master-down interval: keepalived hears our numbers.
    let window = v.steady_window(50);
    let start = Instant::now();
    while start.elapsed() < window {
        assert!(bed.has_vip(Side::Ours) && !bed.has_vip(Side::Keepalived));
        assert_eq!(k2.state(NAME).as_deref(), Some("BACKUP"));
        std::thread::sleep(SAMPLE_EVERY);
    }
    assert_keepalived_took_every_advert(&k2);

    ours.signal(Signal::SIGTERM);
    k2.wait_state(NAME, "MASTER", WAIT);
    k2.wait_log("(VR_1) Backup received priority 0 advertisement", WAIT);
    assert!(ours.wait_exit(WAIT).success());
    wait_for(WAIT, "ours to release its VIP", || {
        (!bed.has_vip(Side::Ours)).then_some(())
    });
    bed.settle(None, Some(&k2), Side::Keepalived);
    assert_keepalived_took_every_advert(&k2);
}

/// Stops the node agent a test started and removes what the drop-in pinned.
struct DropInCleanup {
    node_socket: std::path::PathBuf,
    /// Pin folders (under /sys/fs/bpf/vrrp-xdp) of standalone processes start with it.
    pin_prefix: String,
}

impl Drop for DropInCleanup {
    fn drop(&mut self) {
        let pid_file = self.node_socket.with_extension("pid");
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
            let gone = |pid: i32| !Path::new(&format!("/proc/{pid}")).exists();
            let deadline = Instant::now() + Duration::from_secs(5);
            while !gone(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        for ext in ["ctl", "lock", "pid"] {
            let _ = std::fs::remove_file(self.node_socket.with_extension(ext));
        }
        let pins = Path::new("/sys/fs/bpf/vrrp-xdp");
        if let Some(stem) = self.node_socket.file_stem() {
            let _ = std::fs::remove_dir_all(pins.join(stem));
        }
        for entry in std::fs::read_dir(pins).into_iter().flatten().flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(&self.pin_prefix)
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

#[test]
fn v2_ah_neutron_conf_through_our_keepalived_entry_point_hands_over_both_ways() {
    neutron_ah_hands_over_both_ways("node");
}

#[test]
fn v2_ah_neutron_conf_in_a_standalone_keepalived_process_hands_over_both_ways() {
    neutron_ah_hands_over_both_ways("standalone");
}

/// Equal priorities and the segment cut: both become master. Healed, the higher address
/// stays master (RFC 5798 §6.4.3 tie-break) and the other yields: both sides must agree on
/// which address is higher.
fn equal_priority_split_brain_heals(v: Variant, ours_higher: bool) {
    require_root();
    let bed = Bed::with_addresses(v, ours_higher);
    bed.ha.isolate_port(&bed.ports[0]);
    let ours = bed.start_ours(150);
    let k = bed.start_keepalived(150);
    ours.wait_state(NAME, "MASTER", WAIT);
    k.wait_state(NAME, "MASTER", WAIT);
    assert!(bed.has_vip(Side::Ours) && bed.has_vip(Side::Keepalived));
    bed.ha.join_port(&bed.ports[0]);
    let (oa, ka): (std::net::IpAddr, std::net::IpAddr) = (
        bed.addr(Side::Ours).parse().unwrap(),
        bed.addr(Side::Keepalived).parse().unwrap(),
    );
    assert_eq!(oa > ka, ours_higher, "{oa} vs {ka}");
    if ours_higher {
        bed.settle(Some(&ours), Some(&k), Side::Ours);
        k.wait_log(
            &format!("(VR_1) Master received advert from {oa} with same priority 150 but higher IP address than ours"),
            WAIT,
        );
        bed.steady(Some(&ours), Some(&k), Side::Ours, v.steady_window(150));
        let i = ours.instance(NAME).unwrap();
        assert_eq!(i.counters.became_master, 1, "{i:?}");
        assert_eq!(i.counters.rx_errors.values().sum::<u64>(), 0, "{i:?}");
    } else {
        bed.settle(Some(&ours), Some(&k), Side::Keepalived);
        let t = ours
            .instance(NAME)
            .unwrap()
            .last_transition
            .expect("a transition");
        assert!(t.reason.contains("higher address"), "{}", t.reason);
        bed.steady(
            Some(&ours),
            Some(&k),
            Side::Keepalived,
            v.steady_window(150),
        );
        bed.assert_ours_follows_keepalived(&ours);
    }
    assert_keepalived_took_every_advert(&k);
}

#[test]
fn v2_pass_equal_priority_split_brain_heals_to_keepalived_the_higher_address() {
    equal_priority_split_brain_heals(V2_PASS, false);
}

#[test]
fn v3_ipv4_equal_priority_split_brain_heals_to_ours_the_higher_address() {
    equal_priority_split_brain_heals(V3_IPV4, true);
}

#[test]
fn v3_ipv6_equal_priority_split_brain_heals_to_keepalived_the_higher_address() {
    equal_priority_split_brain_heals(V3_IPV6, false);
}

#[test]
fn v3_ipv6_equal_priority_split_brain_heals_to_ours_the_higher_address() {
    equal_priority_split_brain_heals(V3_IPV6, true);
}

/// Unicast adverts from a secondary address (`unicast_src`), keepalived checking the source
/// (`check_unicast_src`): ours master, keepalived backup; ours resigns (SIGTERM), keepalived
/// takes over; ours restarts with a lower priority and follows keepalived (our XDP program
/// lets keepalived's unicast adverts through its allow-list). Our adverts must keep leaving
/// from `unicast_src`, also after our own address changes (the VIP added as master).
#[test]
fn v3_ipv4_unicast_from_a_secondary_address_both_ways() {
    unicast_both_ways(V3_IPV4_UNICAST);
}

/// The same over IPv6, where keepalived's unicast adverts arrive with hop limit 64.
#[test]
fn v3_ipv6_unicast_from_a_global_address_both_ways() {
    unicast_both_ways(V3_IPV6_UNICAST);
}

fn unicast_both_ways(v: Variant) {
    require_root();
    let bed = Bed::new(v);
    let ours_addr = bed.addr(Side::Ours);
    let mut ours = bed.start_ours(200);
    ours.wait_state(NAME, "MASTER", WAIT);
    let k = bed.start_keepalived(150);
    k.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&k), Side::Ours);
    bed.steady(Some(&ours), Some(&k), Side::Ours, v.steady_window(150));
    assert_keepalived_took_every_advert(&k);
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.master.as_deref(), Some(ours_addr.as_str()), "{i:?}");
    assert_eq!(i.counters.became_master, 1, "{i:?}");

    ours.signal(Signal::SIGTERM);
    k.wait_state(NAME, "MASTER", WAIT);
    k.wait_log("(VR_1) Backup received priority 0 advertisement", WAIT);
    assert!(ours.wait_exit(Duration::from_secs(5)).success());
    drop(ours);
    bed.settle(None, Some(&k), Side::Keepalived);

    let ours = bed.start_ours(100);
    ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&k), Side::Keepalived);
    bed.steady(
        Some(&ours),
        Some(&k),
        Side::Keepalived,
        v.steady_window(100),
    );
    bed.assert_ours_follows_keepalived(&ours);
    assert_keepalived_took_every_advert(&k);
}
