//! The test bed of the FRR interop tests (`tests/tests/interop_frr.rs`): one HA segment (a
//! bridge), a router namespace `ours` running our agent and one `theirs` running FRR's
//! vrrpd (with the macvlan it needs, carrying the virtual address), both on interface `ha`;
//! how each side is started; and one look at both sides ([`Observed`]): who says it is master
//! and who holds the virtual address.
//!
//! Ours holds the address when it is on its `ha`, or with `use_vmac` ([`Variant::vmac`]) on its
//! macvlan `vrrp.VRID` while that is up (the agent sets it up only as master); FRR when it is on
//! its macvlan and the macvlan has carrier (vrrpd sets `protodown` on it as backup). A side
//! whose process is gone (killed) claims nothing: a `kill -9` leaves its addresses behind (our
//! XDP lease fences ours; nothing fences FRR's macvlan), which the tests look at separately.
//!
//! Builds on `frr`, `agent`, `topo`, `netns`.

use std::time::{Duration, Instant};

use crate::{
    agent::Agent,
    frr::{self, Family, Frr, VrrpConf},
    netns::NetNs,
    tempdir::TempDir,
    topo::{Segment, addresses, wait_for},
};

pub const WAIT: Duration = Duration::from_secs(15);
pub const NAME: &str = "VR_1";
pub const IF: &str = "ha";
pub const VRID: u8 = 51;
/// IPv4 addresses of ours and FRR's router, and their MACs (hence IPv6 link-local addresses
/// of `ha`; FRR sends IPv6 adverts from its macvlan's random link-local address).
pub const OURS_V4: &str = "169.254.192.1";
pub const THEIRS_V4: &str = "169.254.192.2";
pub const OURS_MAC: &str = "02:00:5e:10:00:01";
pub const THEIRS_MAC: &str = "02:00:5e:10:00:02";
pub const VIP4: &str = "169.254.0.1";
pub const VIP6: &str = "fd00:1::100";
/// The macvlan our agent makes with `use_vmac` (keepalived's name for the VRID).
pub const OURS_VMAC_IF: &str = "vrrp.51";
/// How often a steady state is sampled, and how many samples at least (a loaded machine
/// stretches the window rather than thinning it out).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(50);
pub const MIN_SAMPLES: usize = 10;

/// Version and family of a bed, and the advert interval both sides use unless a test says
/// otherwise.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    pub version: u8,
    pub ipv6: bool,
    pub interval_ms: u32,
    /// Our agent's data plane: XDP (true) or `dataplane = "none"`.
    pub xdp: bool,
    /// Our instance with `use_vmac = true`: its addresses on [`OURS_VMAC_IF`], which carries
    /// the same virtual MAC as FRR's macvlan.
    pub vmac: bool,
}

impl Variant {
    pub fn with_interval(self, interval_ms: u32) -> Self {
        Self {
            interval_ms,
            ..self
        }
    }

    pub fn without_xdp(self) -> Self {
        Self { xdp: false, ..self }
    }

    pub fn with_vmac(self) -> Self {
        Self { vmac: true, ..self }
    }

    pub fn family(&self) -> Family {
        if self.ipv6 { Family::V6 } else { Family::V4 }
    }

    /// The virtual address, without its prefix length.
    pub fn vip_addr(&self) -> &'static str {
        if self.ipv6 { VIP6 } else { VIP4 }
    }

    /// The virtual MAC of the variant's family (both FRR's macvlan and ours with `use_vmac`).
    pub fn virtual_mac(&self) -> String {
        frr::virtual_mac(VRID, self.family())
    }

    /// The virtual address, with its prefix length.
    pub fn vip(&self) -> String {
        if self.ipv6 {
            format!("{VIP6}/64")
        } else {
            format!("{VIP4}/24")
        }
    }

    /// RFC 9568 Master_Down_Interval of a backup with `priority` whose master advertises
    /// every `interval_ms`.
    pub fn master_down_at(interval_ms: u32, priority: u8) -> Duration {
        let i = Duration::from_millis(u64::from(interval_ms));
        i * 3 + i * u32::from(256 - u16::from(priority)) / 256
    }

    pub fn master_down(&self, priority: u8) -> Duration {
        Self::master_down_at(self.interval_ms, priority)
    }

    /// How long a steady state is sampled: a backup deaf to the master would have taken over
    /// within this window.
    pub fn steady_window(&self, backup_priority: u8) -> Duration {
        (self.master_down(backup_priority) + Duration::from_millis(u64::from(self.interval_ms)))
            .max(Duration::from_secs(2))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Ours,
    Frr,
}

impl Side {
    pub fn other(self) -> Self {
        match self {
            Self::Ours => Self::Frr,
            Self::Frr => Self::Ours,
        }
    }
}

/// One look at both sides.
#[derive(Debug)]
pub struct Observed {
    /// Our status (None while our agent is not running or does not answer).
    pub ours_state: Option<String>,
    pub ours_vip: bool,
    /// vrrpd's status (None while it does not run).
    pub frr_status: Option<String>,
    /// The virtual address on FRR's macvlan, with carrier (protodown off).
    pub frr_vip: bool,
}

impl Observed {
    /// Claims mastership in any way: says so, or holds the address while running.
    pub fn is_master(&self, side: Side) -> bool {
        match side {
            Side::Ours => {
                self.ours_state.as_deref() == Some("MASTER")
                    || (self.ours_state.is_some() && self.ours_vip)
            }
            Side::Frr => {
                self.frr_status.as_deref() == Some("Master")
                    || (self.frr_status.is_some() && self.frr_vip)
            }
        }
    }

    /// Master in every way: says so and holds the address.
    pub fn is_full_master(&self, side: Side) -> bool {
        match side {
            Side::Ours => self.ours_state.as_deref() == Some("MASTER") && self.ours_vip,
            Side::Frr => self.frr_status.as_deref() == Some("Master") && self.frr_vip,
        }
    }
}

/// Settings of our instance beyond the variant's.
#[derive(Clone, Debug)]
pub struct OursConf {
    pub priority: u8,
    pub interval_ms: u32,
    /// `v3_checksum` ("auto", "pseudo_header", "message_only"); None leaves the default.
    pub v3_checksum: Option<&'static str>,
}

/// Two router namespaces on one segment: `ours` runs our agent, `theirs` FRR.
pub struct Bed {
    pub v: Variant,
    pub ha: Segment,
    /// Bridge-side ports of ours and theirs.
    pub ports: Vec<String>,
    pub ours: NetNs,
    pub theirs: NetNs,
    /// FRR's macvlan.
    pub macvlan: String,
    pub dir: TempDir,
}

impl Bed {
    pub fn new(v: Variant) -> Self {
        let ha = Segment::new();
        let ours = NetNs::new();
        let theirs = NetNs::new();
        let mut ports = Vec::new();
        for (ns, addr, mac) in [(&ours, OURS_V4, OURS_MAC), (&theirs, THEIRS_V4, THEIRS_MAC)] {
            ports.push(ha.attach(ns, IF, Some(mac)));
            if !v.ipv6 {
                ns.ip(&["addr", "add", &format!("{addr}/18"), "dev", IF]);
            }
        }
        let macvlan = frr::add_macvlan(&theirs, IF, VRID, v.family(), &[&v.vip()]);
        let bed = Self {
            v,
            ha,
            ports,
            ours,
            theirs,
            macvlan,
            dir: TempDir::new("frr"),
        };
        if v.ipv6 {
            // Both send from link-local addresses (FRR from its macvlan's), usable once DAD
            // is done.
            for (ns, dev) in [
                (&bed.ours, IF),
                (&bed.theirs, IF),
                (&bed.theirs, &bed.macvlan),
            ] {
                wait_for(WAIT, "link-local addresses out of DAD", || {
                    let tentative = ns.ip(&["-6", "addr", "show", "dev", dev, "tentative"]);
                    (tentative.trim().is_empty() && link_local(ns, dev).is_some()).then_some(())
                });
            }
        }
        bed
    }

    /// The source address of `side`'s adverts.
    pub fn addr(&self, side: Side) -> String {
        match (self.v.ipv6, side) {
            (false, Side::Ours) => OURS_V4.to_string(),
            (false, Side::Frr) => THEIRS_V4.to_string(),
            (true, Side::Ours) => link_local(&self.ours, IF).expect("link-local"),
            (true, Side::Frr) => link_local(&self.theirs, &self.macvlan).expect("link-local"),
        }
    }

    /// Our configuration: the variant's interval, preemption on.
    pub fn ours_toml(&self, c: &OursConf) -> String {
        let v = &self.v;
        let mut s = String::new();
        if !v.xdp {
            s.push_str("[global]\ndataplane = \"none\"\n");
        }
        s.push_str(&format!(
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
            priority = c.priority,
            interval = f64::from(c.interval_ms) / 1000.0,
            vip = v.vip(),
        ));
        if let Some(c) = c.v3_checksum {
            s.push_str(&format!("v3_checksum = \"{c}\"\n"));
        }
        if v.vmac {
            s.push_str("use_vmac = true\n");
        }
        s
    }

    /// FRR's configuration: the variant's version and interval, preemption on (FRR's
    /// default), the virtual address.
    pub fn frr_conf(&self, priority: u8, interval_ms: u32) -> VrrpConf {
        let vip = if self.v.ipv6 { VIP6 } else { VIP4 };
        VrrpConf {
            interface: IF.to_string(),
            vrid: VRID,
            version: self.v.version,
            priority,
            interval_ms,
            preempt: true,
            v4: if self.v.ipv6 {
                vec![]
            } else {
                vec![vip.to_string()]
            },
            v6: if self.v.ipv6 {
                vec![vip.to_string()]
            } else {
                vec![]
            },
            ipv4_pseudo_header: None,
            shutdown: false,
        }
    }

    /// Starts our agent at `priority` with the variant's interval.
    pub fn start_ours(&self, priority: u8) -> Agent {
        self.start_ours_with(&OursConf {
            priority,
            interval_ms: self.v.interval_ms,
            v3_checksum: None,
        })
    }

    pub fn start_ours_with(&self, c: &OursConf) -> Agent {
        let agent = Agent::run("ours", &self.dir, &self.ours_toml(c));
        wait_for(WAIT, "our agent's status socket", || {
            assert!(
                agent.running() || agent.status().is_some(),
                "our agent exited at start:\n{}",
                agent.logs()
            );
            agent.status()
        });
        let dataplane = agent.status().expect("status").agent.dataplane;
        if self.v.xdp {
            assert!(
                dataplane.starts_with("xdp"),
                "our agent must run with its XDP data plane (build it with VRRP_EBPF_OBJECT \
                 set): {dataplane}"
            );
        } else {
            assert!(dataplane.starts_with("none"), "{dataplane}");
        }
        if self.v.vmac {
            let vmac = wait_for(WAIT, "our instance", || agent.instance(NAME)).vmac;
            assert_eq!(vmac.as_deref(), Some(OURS_VMAC_IF), "our use_vmac macvlan");
        }
        agent
    }

    /// Starts FRR at `priority` with the variant's interval.
    pub fn start_frr(&self, priority: u8) -> Frr {
        self.start_frr_with(&self.frr_conf(priority, self.v.interval_ms))
    }

    pub fn start_frr_with(&self, conf: &VrrpConf) -> Frr {
        Frr::start("frr", &self.theirs, &self.dir, &conf.render())
    }

    pub fn has_vip(&self, side: Side) -> bool {
        let vip = self.v.vip();
        match side {
            Side::Ours if self.v.vmac => {
                // On `ha` would be a bug, but it would still claim the address.
                addresses(&self.ours, IF).contains(&vip)
                    || link_holds(&self.ours, OURS_VMAC_IF, &vip)
            }
            Side::Ours => addresses(&self.ours, IF).contains(&vip),
            Side::Frr => link_holds(&self.theirs, &self.macvlan, &vip),
        }
    }

    pub fn observe(&self, ours: Option<&Agent>, frr: Option<&Frr>) -> Observed {
        Observed {
            ours_state: ours.and_then(|a| a.instance(NAME)).map(|i| i.state),
            ours_vip: self.has_vip(Side::Ours),
            frr_status: frr
                .filter(|f| f.vrrpd_pid().is_some())
                .and_then(|f| f.router(VRID, self.v.family()))
                .map(|r| r.status),
            frr_vip: self.has_vip(Side::Frr),
        }
    }

    /// Waits until `master` is master in every way and the other side in no way.
    pub fn settle(&self, ours: Option<&Agent>, frr: Option<&Frr>, master: Side) {
        let mut last = None;
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(WAIT, &format!("{master:?} as the only master"), || {
                let o = self.observe(ours, frr);
                let ok = o.is_full_master(master) && !o.is_master(master.other());
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
    pub fn steady(&self, ours: Option<&Agent>, frr: Option<&Frr>, master: Side, window: Duration) {
        let start = Instant::now();
        let mut samples = 0;
        while start.elapsed() < window || samples < MIN_SAMPLES {
            let o = self.observe(ours, frr);
            let at = start.elapsed();
            assert!(
                !(o.is_master(Side::Ours) && o.is_master(Side::Frr)),
                "two masters at sample {samples} ({at:?} into the window): {o:?}"
            );
            assert!(
                o.is_full_master(master) && !o.is_master(master.other()),
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

    /// Our agent is backup, follows FRR as master, and took every advert: none failed a
    /// receive check, and (with XDP) XDP passed them, none dropped for TTL or source.
    pub fn assert_ours_follows_frr(&self, ours: &Agent) {
        let want = self.addr(Side::Frr);
        let i = wait_for(WAIT, "our agent to name FRR as master", || {
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
        if self.v.xdp {
            let dp = i.dataplane.expect("per-instance XDP counters");
            assert!(dp["adverts_passed"] > 0, "XDP passed no advert: {dp:?}");
            assert_eq!(dp["adverts_bad_ttl"], 0, "{dp:?}");
            assert_eq!(dp["adverts_spoofed"], 0, "{dp:?}");
        }
    }
}

/// FRR refused none of the adverts it got (a bad checksum, version, interval, ...).
pub fn assert_frr_took_every_advert(frr: &Frr) {
    let refused = frr.refused();
    assert!(
        refused.is_empty(),
        "FRR refused adverts:\n{}",
        refused.join("\n")
    );
}

/// Whether `dev` in `ns` exists, is up with carrier, and has `addr` ("addr/len").
pub fn link_holds(ns: &NetNs, dev: &str, addr: &str) -> bool {
    let out = std::process::Command::new("ip")
        .args(["-n", ns.name(), "-j", "addr", "show", "dev", dev])
        .output()
        .expect("run ip");
    if !out.status.success() {
        return false;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let link = &v[0];
    let flags = link["flags"].as_array().cloned().unwrap_or_default();
    let up = ["UP", "LOWER_UP"]
        .iter()
        .all(|f| flags.iter().any(|x| x == f));
    let has = link["addr_info"].as_array().into_iter().flatten().any(|a| {
        a["local"]
            .as_str()
            .zip(a["prefixlen"].as_u64())
            .is_some_and(|(l, p)| format!("{l}/{p}") == addr)
    });
    up && has
}

/// The link-local address of `dev` in `ns`.
pub fn link_local(ns: &NetNs, dev: &str) -> Option<String> {
    addresses(ns, dev)
        .into_iter()
        .find(|a| a.starts_with("fe80:"))
        .map(|a| a.split('/').next().unwrap_or_default().to_string())
}
