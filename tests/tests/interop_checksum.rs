//! Our agent and a real keepalived that sends RFC 9568's VRRPv3-over-IPv4 checksum (over the
//! VRRP message only, no pseudo-header: `v3_checksum_as_v2`, keepalived 2.2.8 and later), in one
//! virtual router: VRRPv3 over IPv4 every 100 ms, our XDP data plane on. The keepalived is the
//! 2.3 that `cargo xtask setup` builds from Debian trixie's source package (bookworm's 2.2.7
//! has no `v3_checksum_as_v2`); without it these tests fail, saying to run the setup.
//!
//! Besides both sides' states (keepalived's notify script and VIP, our status and VIP), every
//! advert on the segment is captured in keepalived's namespace and its checksum form computed
//! here, independently of both implementations: keepalived's really are message-only, ours
//! are in the form our settings say.
//!
//! - `v3_checksum = "auto"` (our default), ours of higher priority and of lower: ours hears
//!   keepalived's form before it sends anything, says so once ("... computes VRRPv3 checksums
//!   over the VRRP message only ...") and sends that form; one master throughout, no advert
//!   refused on either side.
//! - ours `"pseudo_header"` against keepalived's message-only form: ours names the setting to
//!   change. keepalived 2.3.3 does *not* refuse ours: with `v3_checksum_as_v2` it checks no
//!   VRRPv3 IPv4 checksum at all (vrrp.c `vrrp_check_packet`: the failed message-only sum is
//!   ignored when the flag is set), so the routers agree on one master regardless. The
//!   refusal happens the other way round (next item).
//! - ours `"message_only"` against a keepalived *without* `v3_checksum_as_v2` (the
//!   pseudo-header form, which it checks): keepalived refuses every advert of ours ("Invalid
//!   VRRPv3 checksum") and ours names the setting; both stay master (the outcome a mismatched
//!   checksum setting has, shown here so that it is recognised).
//! - ours `"message_only"` against keepalived's `v3_checksum_as_v2`: one master, no notes.
//!
//! In every case our XDP program verifies keepalived's message-only adverts and passes them
//! (`adverts_passed`, never `adverts_bad_checksum`), and the agent refuses none
//! (`rx_errors`). Needs root.

use std::{
    net::Ipv4Addr,
    path::Path,
    time::{Duration, Instant},
};

use vrrp_tests::{
    agent::Agent,
    capture::Capture,
    checksum::ones_sum,
    keepalived::{self, Keepalived},
    netns::NetNs,
    require_root,
    tempdir::TempDir,
    topo::{Segment, addresses, wait_for},
};

const WAIT: Duration = Duration::from_secs(15);
const NAME: &str = "VR_1";
const IF: &str = "ha";
const VRID: u8 = 62;
const VIP: &str = "169.254.0.1/24";
const OURS_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 192, 1);
const THEIRS_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 192, 2);
const OURS_MAC: &str = "02:00:5e:10:00:01";
const THEIRS_MAC: &str = "02:00:5e:10:00:02";
/// Advert interval, seconds.
const INTERVAL: f64 = 0.1;
/// How long a steady state is sampled: several master-down intervals (0.1 s adverts: about
/// 0.35 s) and at least [`MIN_SAMPLES`] looks.
const STEADY: Duration = Duration::from_secs(2);
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
const MIN_SAMPLES: usize = 10;
/// What our agent says, once per peer, about a peer's form.
const NOTE_MESSAGE_ONLY: &str = "computes VRRPv3 checksums over the VRRP message only";
const NOTE_PSEUDO_HEADER: &str = "computes VRRPv3 checksums over the IPv4 pseudo-header";
/// What keepalived 2.3.3 logs when it refuses an advert (vrrp.c `vrrp_check_packet` and the
/// state handlers).
const KEEPALIVED_RX_ERRORS: &[&str] = &[
    "vrrp packet too",
    "invalid TTL/HL",
    "wrong version",
    "advertisement interval mismatch",
    "Invalid packet type",
    "unexpected ip number count",
    "Invalid VRRPv3 checksum",
    "Invalid VRRPv2 checksum",
    "Checksum ERROR",
    "VIPs but received",
    "not present in MASTER advert",
];
const KEEPALIVED_BAD_CHECKSUM: &str = "Invalid VRRPv3 checksum from 169.254.192.1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Ours,
    Keepalived,
}

/// The checksum form of a captured advert, computed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// RFC 9568: the VRRP message alone sums to 0xffff.
    MessageOnly,
    /// RFC 5798 as keepalived 2.2 and FRR read it: with the IPv4 pseudo-header.
    PseudoHeader,
    Neither,
}

/// One captured VRRP advert.
#[derive(Clone, Copy, Debug)]
struct Seen {
    src: Ipv4Addr,
    priority: u8,
    form: Form,
}

/// The VRRPv3 adverts (IPv4, untagged) among `frames`, with their checksum forms.
fn adverts(frames: &[Vec<u8>]) -> Vec<Seen> {
    frames
        .iter()
        .filter_map(|f| {
            if f.len() < 14 + 20 + 8 || f[12..14] != [0x08, 0x00] {
                return None;
            }
            let ip = &f[14..];
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            if ip[9] != 112 || total > ip.len() || total < ihl + 8 {
                return None;
            }
            let vrrp = &ip[ihl..total];
            if vrrp[0] != 0x31 || vrrp[1] != VRID {
                return None;
            }
            let mut pseudo = ip[12..20].to_vec();
            pseudo.extend_from_slice(&[0, 112]);
            pseudo.extend_from_slice(&(vrrp.len() as u16).to_be_bytes());
            pseudo.extend_from_slice(vrrp);
            let form = match (ones_sum(vrrp) == 0xffff, ones_sum(&pseudo) == 0xffff) {
                (true, false) => Form::MessageOnly,
                (false, true) => Form::PseudoHeader,
                _ => Form::Neither,
            };
            let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            Some(Seen {
                src,
                priority: vrrp[2],
                form,
            })
        })
        .collect()
}

/// Two router namespaces on one segment: `ours` runs our agent, `theirs` keepalived 2.3.
struct Bed {
    _ha: Segment,
    ours: NetNs,
    theirs: NetNs,
    dir: TempDir,
    /// Every frame in keepalived's namespace since the bed was made.
    capture: Capture,
    keepalived_bin: std::path::PathBuf,
}

impl Bed {
    fn new() -> Self {
        require_root();
        // First, so that a missing binary fails the test before anything is set up.
        let keepalived_bin = keepalived::rfc9568_binary();
        let ha = Segment::new();
        let ours = NetNs::new();
        let theirs = NetNs::new();
        for (ns, addr, mac) in [(&ours, OURS_V4, OURS_MAC), (&theirs, THEIRS_V4, THEIRS_MAC)] {
            ha.attach(ns, IF, Some(mac));
            ns.ip(&["addr", "add", &format!("{addr}/18"), "dev", IF]);
        }
        let capture = Capture::start(&theirs);
        Self {
            _ha: ha,
            ours,
            theirs,
            dir: TempDir::new("interop-csum"),
            capture,
            keepalived_bin,
        }
    }

    /// Preemption on; `v3_checksum` as given (None: the default, "auto"). No startup delay:
    /// keepalived is already master when ours starts, or ours starts alone.
    fn ours_toml(&self, priority: u8, v3_checksum: Option<&str>) -> String {
        let mut s = format!(
            r#"
[global]
startup_delay = 0

[[instance]]
name = "{NAME}"
netns = "{ns}"
interface = "{IF}"
vrid = {VRID}
version = 3
priority = {priority}
advert_interval = {INTERVAL:?}
preempt = true
virtual_addresses = ["{VIP}"]
garp = {{ master_delay = 0, master_repeat = 1 }}
"#,
            ns = self.ours.name(),
        );
        if let Some(form) = v3_checksum {
            s.push_str(&format!("v3_checksum = \"{form}\"\n"));
        }
        s
    }

    /// Preemption on (keepalived's default); `v3_checksum_as_v2` if `rfc9568`.
    fn keepalived_conf(&self, priority: u8, rfc9568: bool, notify: &Path) -> String {
        format!(
            "global_defs {{\n    script_user root\n}}\n\
             vrrp_instance {NAME} {{\n    state BACKUP\n    interface {IF}\n    \
             virtual_router_id {VRID}\n    priority {priority}\n    advert_int {INTERVAL}\n    \
             version 3\n{}    virtual_ipaddress {{\n        {VIP} dev {IF}\n    }}\n    \
             notify \"{}\"\n}}\n",
            if rfc9568 {
                "    v3_checksum_as_v2\n"
            } else {
                ""
            },
            notify.display()
        )
    }

    fn start_ours(&self, priority: u8, v3_checksum: Option<&str>) -> Agent {
        let agent = Agent::run("ours", &self.dir, &self.ours_toml(priority, v3_checksum));
        wait_for(WAIT, "our agent's status socket", || agent.status());
        let dataplane = agent.status().expect("status").agent.dataplane;
        assert!(
            dataplane.starts_with("xdp"),
            "our agent must run with its XDP data plane (build it with VRRP_EBPF_OBJECT set): \
             {dataplane}"
        );
        agent
    }

    fn start_keepalived(&self, priority: u8, rfc9568: bool) -> Keepalived {
        let notify = keepalived::notify_script(&self.dir, "keepalived");
        let conf = self.keepalived_conf(priority, rfc9568, &notify);
        let k = Keepalived::start_binary(
            "keepalived",
            &self.keepalived_bin,
            &[],
            &self.theirs,
            &self.dir,
            &conf,
        );
        // Its instance starts (as backup) once the configuration is read.
        let log = k.wait_log("(VR_1) Entering", WAIT);
        assert!(
            !log.contains("Unknown keyword"),
            "{} does not know a keyword of the test's configuration:\n{log}",
            self.keepalived_bin.display()
        );
        k
    }

    fn has_vip(&self, side: Side) -> bool {
        let ns = match side {
            Side::Ours => &self.ours,
            Side::Keepalived => &self.theirs,
        };
        addresses(ns, IF).contains(&VIP.to_string())
    }

    /// Whether each side claims mastership (says so, or holds the VIP), and whether it is
    /// master in every way (says so and holds the VIP).
    fn look(&self, ours: &Agent, k: &Keepalived) -> [(bool, bool); 2] {
        let ours_master = ours.instance(NAME).is_some_and(|i| i.state == "MASTER");
        let k_master = k.state(NAME).as_deref() == Some("MASTER");
        let (ov, kv) = (self.has_vip(Side::Ours), self.has_vip(Side::Keepalived));
        [
            (ours_master || ov, ours_master && ov),
            (k_master || kv, k_master && kv),
        ]
    }

    /// Waits until `master` alone is master, in every way.
    fn settle(&self, ours: &Agent, k: &Keepalived, master: Side) {
        let (m, o) = index(master);
        let mut last = None;
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(WAIT, &format!("{master:?} as the only master"), || {
                let l = self.look(ours, k);
                last = Some(l);
                (l[m].1 && !l[o].0).then_some(())
            });
        }));
        if done.is_err() {
            panic!(
                "{master:?} never became the only master; last look [ours, keepalived] \
                 (claims, fully): {last:?}"
            );
        }
    }

    /// Samples both sides for [`STEADY`]: never two masters, `master` the only one.
    fn steady(&self, ours: &Agent, k: &Keepalived, master: Side) {
        let (m, o) = index(master);
        let start = Instant::now();
        let mut samples = 0;
        while start.elapsed() < STEADY || samples < MIN_SAMPLES {
            let l = self.look(ours, k);
            let at = start.elapsed();
            assert!(
                !(l[0].0 && l[1].0),
                "two masters at sample {samples} ({at:?}): [ours, keepalived] {l:?}"
            );
            assert!(
                l[m].1 && !l[o].0,
                "{master:?} should be the only master at sample {samples} ({at:?}): {l:?}"
            );
            samples += 1;
            std::thread::sleep(SAMPLE_EVERY);
        }
        eprintln!("{master:?} the only master in {samples} samples");
    }

    /// The adverts captured since the last call.
    fn adverts(&self) -> Vec<Seen> {
        adverts(&self.capture.drain())
    }
}

/// [ours, keepalived] indexes of `master` and the other side.
fn index(master: Side) -> (usize, usize) {
    match master {
        Side::Ours => (0, 1),
        Side::Keepalived => (1, 0),
    }
}

/// The forms of `src`'s adverts in `seen` (at least one advert).
fn forms_of(seen: &[Seen], src: Ipv4Addr) -> Vec<Form> {
    let forms: Vec<Form> = seen
        .iter()
        .filter(|s| s.src == src)
        .map(|s| s.form)
        .collect();
    assert!(!forms.is_empty(), "no advert from {src} captured: {seen:?}");
    forms
}

/// Every advert of `src` in `seen` has `form`.
#[track_caller]
fn all_in(seen: &[Seen], src: Ipv4Addr, form: Form) {
    let forms = forms_of(seen, src);
    assert!(
        forms.iter().all(|f| *f == form),
        "{src}'s adverts should all be {form:?}: {forms:?}"
    );
    eprintln!("{} adverts from {src}, all {form:?}", forms.len());
}

/// keepalived refused none of our adverts (nor anything else).
#[track_caller]
fn assert_keepalived_refused_nothing(k: &Keepalived) {
    let log = k.logs();
    for bad in KEEPALIVED_RX_ERRORS {
        assert!(
            !log.contains(bad),
            "keepalived refused an advert ({bad:?}):\n{log}"
        );
    }
}

/// Our XDP program passed keepalived's adverts (`adverts_passed`, nothing dropped for TTL or
/// source, none failed its checksum check), and the agent took every one: no checksum (or
/// other) refusal.
#[track_caller]
fn assert_ours_took_every_advert(ours: &Agent) {
    let i = ours.instance(NAME).expect("our instance");
    assert!(i.counters.adverts_rx > 0, "ours heard no advert: {i:?}");
    assert_eq!(
        i.counters.rx_errors.values().sum::<u64>(),
        0,
        "ours refused adverts: {:?}",
        i.counters.rx_errors
    );
    let dp = i.dataplane.expect("per-instance XDP counters");
    assert!(dp["adverts_passed"] > 0, "XDP passed no advert: {dp:?}");
    assert_eq!(dp["adverts_bad_ttl"], 0, "{dp:?}");
    assert_eq!(dp["adverts_spoofed"], 0, "{dp:?}");
    assert_eq!(dp["adverts_bad_checksum"], 0, "{dp:?}");
    assert_eq!(dp["adverts_unverified"], 0, "{dp:?}");
}

/// While keepalived advertises: the agent accepts ten more of its adverts, and XDP passed at
/// least as many meanwhile. Only the increments compare (the XDP program attaches after the
/// agent's socket opens), and one advert may be in flight at the first look (XDP counts it
/// before the agent reads it).
fn assert_xdp_passes_keepalived_adverts(ours: &Agent) {
    let counts = || {
        let i = ours.instance(NAME).expect("our instance");
        let dp = i.dataplane.expect("per-instance XDP counters");
        (dp["adverts_passed"], i.counters.adverts_rx)
    };
    let (passed0, rx0) = counts();
    let (passed, rx) = wait_for(WAIT, "ten more adverts accepted by the agent", || {
        let (p, r) = counts();
        (r >= rx0 + 10).then_some((p, r))
    });
    eprintln!(
        "XDP passed {} and the agent accepted {} of keepalived's adverts meanwhile",
        passed - passed0,
        rx - rx0
    );
    assert!(
        passed - passed0 + 1 >= rx - rx0,
        "XDP passed {} adverts while the agent accepted {}",
        passed - passed0,
        rx - rx0
    );
    assert_ours_took_every_advert(ours);
}

/// How many times our log says `note`.
fn notes(ours: &Agent, note: &str) -> usize {
    ours.logs().matches(note).count()
}

/// Ours (200, auto) joins a keepalived master (100, `v3_checksum_as_v2`): it hears the
/// message-only form first, follows it (one note), preempts, and every advert it sends is
/// message-only; keepalived steps down and stays backup.
#[test]
fn auto_follows_keepalived_rfc9568_and_preempts_it() {
    let bed = Bed::new();
    let k = bed.start_keepalived(100, true);
    k.wait_state(NAME, "MASTER", WAIT);
    let ours = bed.start_ours(200, None);
    ours.wait_state(NAME, "MASTER", WAIT);
    k.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(&ours, &k, Side::Ours);
    bed.steady(&ours, &k, Side::Ours);
    k.wait_log(
        "(VR_1) Master received advert from 169.254.192.1 with higher priority 200, ours 100",
        WAIT,
    );
    assert_keepalived_refused_nothing(&k);
    assert_eq!(notes(&ours, NOTE_MESSAGE_ONLY), 1, "{}", ours.logs());
    assert!(
        ours.logs()
            .contains("and now sends message_only like it (v3_checksum = \"auto\")"),
        "{}",
        ours.logs()
    );
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.v3_checksum.as_deref(), Some("message_only"), "{i:?}");
    assert_eq!(i.counters.became_master, 1, "{i:?}");
    assert_ours_took_every_advert(&ours);
    let seen = bed.adverts();
    all_in(&seen, THEIRS_V4, Form::MessageOnly);
    all_in(&seen, OURS_V4, Form::MessageOnly);
}

/// Ours (100, auto) follows a keepalived master (200, `v3_checksum_as_v2`) as backup: it
/// takes every advert (XDP and agent), notes the form once and adopts it without sending
/// anything. keepalived stops (priority 0): ours takes over, in the message-only form.
#[test]
fn auto_follows_keepalived_rfc9568_as_backup_then_takes_over_in_its_form() {
    let bed = Bed::new();
    let mut k = bed.start_keepalived(200, true);
    k.wait_state(NAME, "MASTER", WAIT);
    let ours = bed.start_ours(100, None);
    ours.wait_state(NAME, "BACKUP", WAIT);
    wait_for(WAIT, "ours to follow keepalived", || {
        ours.instance(NAME)
            .filter(|i| i.master.as_deref() == Some("169.254.192.2"))
    });
    bed.settle(&ours, &k, Side::Keepalived);
    bed.steady(&ours, &k, Side::Keepalived);
    assert_xdp_passes_keepalived_adverts(&ours);
    assert_eq!(notes(&ours, NOTE_MESSAGE_ONLY), 1, "{}", ours.logs());
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.v3_checksum.as_deref(), Some("message_only"), "{i:?}");
    assert_eq!(i.counters.adverts_tx, 0, "a backup sends nothing: {i:?}");
    let seen = bed.adverts();
    all_in(&seen, THEIRS_V4, Form::MessageOnly);
    assert!(seen.iter().all(|s| s.src != OURS_V4), "{seen:?}");

    assert!(k.stop(WAIT).success());
    let i = ours.wait_state(NAME, "MASTER", WAIT);
    let t = i.last_transition.expect("a transition");
    assert!(t.reason.contains("resigned (priority 0)"), "{}", t.reason);
    wait_for(WAIT, "three adverts of ours", || {
        (ours.instance(NAME)?.counters.adverts_tx >= 3).then_some(())
    });
    let seen = bed.adverts();
    all_in(&seen, OURS_V4, Form::MessageOnly);
    assert!(
        seen.iter()
            .any(|s| s.src == THEIRS_V4 && s.priority == 0 && s.form == Form::MessageOnly),
        "keepalived's priority-0 advert, message-only: {seen:?}"
    );
    assert_eq!(notes(&ours, NOTE_MESSAGE_ONLY), 1, "once per peer and form");
    assert_ours_took_every_advert(&ours);
}

/// Ours fixed to `"pseudo_header"` (200) joins a keepalived master (100, `v3_checksum_as_v2`):
/// ours notes that the peer may refuse its adverts and names the setting to change, and keeps
/// sending the pseudo-header form. keepalived 2.3.3 takes them all the same (with
/// `v3_checksum_as_v2` it checks no VRRPv3 IPv4 checksum) and steps down: one master, ours.
/// (A keepalived that checks, the pseudo-header one, refuses the other mismatch: see
/// `message_only_against_keepalived_pseudo_header_is_refused_by_keepalived`.)
#[test]
fn pseudo_header_against_keepalived_rfc9568_names_the_setting() {
    let bed = Bed::new();
    let k = bed.start_keepalived(100, true);
    k.wait_state(NAME, "MASTER", WAIT);
    let ours = bed.start_ours(200, Some("pseudo_header"));
    ours.wait_state(NAME, "MASTER", WAIT);
    k.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(&ours, &k, Side::Ours);
    bed.steady(&ours, &k, Side::Ours);
    let log = ours.logs();
    assert_eq!(notes(&ours, NOTE_MESSAGE_ONLY), 1, "{log}");
    assert!(
        log.contains(
            "which 169.254.192.2 may refuse: set v3_checksum = \"message_only\" or \"auto\" \
             (keepalived.conf: with `v3_checksum_as_v2`)"
        ),
        "{log}"
    );
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.v3_checksum.as_deref(), Some("pseudo_header"), "{i:?}");
    assert_ours_took_every_advert(&ours);
    let seen = bed.adverts();
    all_in(&seen, THEIRS_V4, Form::MessageOnly);
    all_in(&seen, OURS_V4, Form::PseudoHeader);
    // The outcome with keepalived 2.3.3: it does not check, so it refuses nothing.
    assert_keepalived_refused_nothing(&k);
}

/// The mismatch keepalived does detect: ours fixed to `"message_only"` (200) against a
/// keepalived 2.3.3 *without* `v3_checksum_as_v2` (100; it sends and checks the pseudo-header
/// form). Ours names the setting; keepalived refuses every advert of ours ("Invalid VRRPv3
/// checksum") and so never hears a better master: both are master, and stay so.
#[test]
fn message_only_against_keepalived_pseudo_header_is_refused_by_keepalived() {
    let bed = Bed::new();
    let k = bed.start_keepalived(100, false);
    k.wait_state(NAME, "MASTER", WAIT);
    let ours = bed.start_ours(200, Some("message_only"));
    ours.wait_state(NAME, "MASTER", WAIT);
    k.wait_log(KEEPALIVED_BAD_CHECKSUM, WAIT);
    let log = ours.logs();
    assert_eq!(notes(&ours, NOTE_PSEUDO_HEADER), 1, "{log}");
    assert!(
        log.contains(
            "which 169.254.192.2 may refuse: set v3_checksum = \"pseudo_header\" or \"auto\" \
             (keepalived.conf: without `v3_checksum_as_v2`)"
        ),
        "{log}"
    );
    // Longer than keepalived's master-down interval: it hears nothing it accepts from ours.
    let start = Instant::now();
    let mut samples = 0;
    while start.elapsed() < STEADY || samples < MIN_SAMPLES {
        let l = bed.look(&ours, &k);
        assert!(
            l[0].1 && l[1].1,
            "both stay master, sample {samples}: {l:?}"
        );
        samples += 1;
        std::thread::sleep(SAMPLE_EVERY);
    }
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.v3_checksum.as_deref(), Some("message_only"), "{i:?}");
    assert_eq!(i.counters.became_master, 1, "{i:?}");
    // Ours accepts keepalived's form (both are valid to it): nothing refused on our side.
    assert_xdp_passes_keepalived_adverts(&ours);
    let seen = bed.adverts();
    all_in(&seen, THEIRS_V4, Form::PseudoHeader);
    all_in(&seen, OURS_V4, Form::MessageOnly);
    assert!(
        !k.logs().contains("with higher priority 200"),
        "keepalived acted on an advert of ours:\n{}",
        k.logs()
    );
    eprintln!("both master over {samples} samples; keepalived refused ours as bad checksums");
}

/// Ours fixed to `"message_only"` (200) and keepalived with `v3_checksum_as_v2` (100): the
/// same form, so no note; ours preempts, one master.
#[test]
fn message_only_against_keepalived_rfc9568_one_master() {
    let bed = Bed::new();
    let k = bed.start_keepalived(100, true);
    k.wait_state(NAME, "MASTER", WAIT);
    let ours = bed.start_ours(200, Some("message_only"));
    ours.wait_state(NAME, "MASTER", WAIT);
    k.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(&ours, &k, Side::Ours);
    bed.steady(&ours, &k, Side::Ours);
    assert_keepalived_refused_nothing(&k);
    assert!(
        !ours.logs().contains("computes VRRPv3 checksums"),
        "no note when the forms agree:\n{}",
        ours.logs()
    );
    let i = ours.instance(NAME).unwrap();
    assert_eq!(i.v3_checksum.as_deref(), Some("message_only"), "{i:?}");
    assert_eq!(i.counters.became_master, 1, "{i:?}");
    assert_ours_took_every_advert(&ours);
    let seen = bed.adverts();
    all_in(&seen, THEIRS_V4, Form::MessageOnly);
    all_in(&seen, OURS_V4, Form::MessageOnly);
}
