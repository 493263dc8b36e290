//! Our agent and FRR's vrrpd (Debian 12's FRR 8.4: zebra + vrrpd in a namespace, a macvlan
//! per family carrying the virtual address) in the same virtual router on one HA segment:
//! VRRPv3 over IPv4, VRRPv3 over IPv6, VRRPv2. Our agent runs with its XDP data plane (FRR's
//! adverts must pass the XDP checks too), and once with `dataplane = "none"`.
//!
//! - priority-0 handovers both ways (FRR by SIGTERM to vrrpd or by `vrrp N shutdown`, ours by
//!   SIGTERM): the backup takes over promptly, well before the master-down interval;
//! - preemption both ways, and `kill -9` of either side: the other takes over;
//! - interval adoption both ways: ours at 100 ms under FRR at 1 s, and FRR at 1 s under ours
//!   at 100 ms, each as backup uses the master's interval;
//! - the v3 checksum over IPv4: FRR sends and accepts only the pseudo-header form (RFC 5798 as
//!   most read it; FRR 8.4 has no other), which ours sends by default (`auto`: every test
//!   checks FRR refused none of ours) and with `v3_checksum = "pseudo_header"`, and not with
//!   `"message_only"` (RFC 9568). The tests against FRR's message-only form (`no vrrp N
//!   checksum-with-ipv4-pseudoheader`, FRR 10.0 and later) are ignored here;
//! - ours starting (100 ms) beside a 1 s FRR master sends no gratuitous ARP, and a host
//!   sending to the virtual address every 10 ms loses nothing;
//! - in every steady state both sides are sampled every ~50 ms: never two masters once
//!   adverts flow, and always the expected one.
//! - ours with `use_vmac` (its macvlan `vrrp.51`, up only while master, with the same virtual
//!   MAC as FRR's): a host sending to the virtual address every 10 ms keeps its neighbour entry
//!   on the virtual MAC 00:00:5e:00:01:33 (VRID 51; IPv6 00:00:5e:00:02:33) across takeovers
//!   both ways, in every sample and in every ARP / ND frame it gets, and loses probes only
//!   within each takeover (at most the master-down interval and a margin); FRR's node then
//!   needs `arp_ignore=1` on `ha`, or `ha` answers for the virtual address with its own MAC.
//!
//! FRR's state comes from `show vrrp json` and its macvlan (the address on it, with carrier:
//! vrrpd sets `protodown` on as backup); ours from its status socket and its address. The
//! handover tests use 1 s intervals, so that the master-down interval (3 s + skew) leaves room
//! for a generous "promptly" bound; the others 100 ms for VRRPv3 (VRRPv2: 1 s). Needs root.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use nix::sys::signal::Signal;
use vrrp_tests::{
    capture::Capture,
    frr::Frr,
    frr_bed::{
        Bed, IF, NAME, OURS_MAC, OURS_VMAC_IF, OursConf, SAMPLE_EVERY, Side, THEIRS_MAC, VIP4,
        VRID, Variant, WAIT, assert_frr_took_every_advert,
    },
    netns::NetNs,
    require_root,
    topo::wait_for,
    traffic::{UdpSink, UdpSource},
};

const V3_IPV4: Variant = Variant {
    version: 3,
    ipv6: false,
    interval_ms: 100,
    xdp: true,
    vmac: false,
};
const V3_IPV6: Variant = Variant {
    ipv6: true,
    ..V3_IPV4
};
const V2: Variant = Variant {
    version: 2,
    ipv6: false,
    interval_ms: 1000,
    xdp: true,
    vmac: false,
};
/// Interval of the handover tests (every version).
const HANDOVER_INTERVAL_MS: u32 = 1000;
/// How long the handover tests sample a steady state: shorter than a master-down interval at
/// their 1 s interval (the preemption tests sample longer than the backup's master-down
/// interval, which shows each side hears the other); here the backup's counters show it.
const HANDOVER_STEADY: Duration = Duration::from_millis(1500);

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// What vrrpd logs (with `debug vrrp protocol`) for an advert it took from `from`.
fn frr_heard(frr: &Frr, from: &str, version: u8, priority: u8) -> bool {
    frr.logs().contains(&format!(
        "Received VRRP Advertisement from {from}: version {version}, type 1 (ADVERTISEMENT), \
         vrid {VRID}, priority {priority},"
    ))
}

/// How FRR resigns.
#[derive(Clone, Copy, Debug)]
enum FrrResigns {
    /// SIGTERM to vrrpd (it sends priority 0 and sets its macvlan's protodown on), then it
    /// is started again.
    Sigterm,
    /// `vrrp N shutdown` (the same, vrrpd keeps running), then `no vrrp N shutdown`.
    Shutdown,
}

/// FRR (200) is master, ours (150) backup; FRR resigns: ours takes over on its priority-0
/// advert after the skew time, well before the master-down interval. FRR comes back at 100
/// and follows ours; SIGTERM to ours: FRR takes over on our priority-0 advert likewise.
fn priority_zero_handovers(v: Variant, resigns: FrrResigns) {
    require_root();
    let v = v.with_interval(HANDOVER_INTERVAL_MS);
    let bed = Bed::new(v);
    let fam = v.family();
    let mut frr = bed.start_frr(200);
    frr.wait_status(VRID, fam, "Master", WAIT);
    let mut ours = bed.start_ours(150);
    ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Frr);
    bed.steady(Some(&ours), Some(&frr), Side::Frr, HANDOVER_STEADY);
    bed.assert_ours_follows_frr(&ours);

    let t0 = unix_ms();
    match resigns {
        FrrResigns::Sigterm => {
            let status = frr.stop_vrrpd(Signal::SIGTERM, WAIT);
            assert!(status.success(), "vrrpd exit: {status}");
        }
        FrrResigns::Shutdown => {
            frr.configure(&[&format!("interface {IF}"), &format!("vrrp {VRID} shutdown")]);
        }
    }
    let i = ours.wait_state(NAME, "MASTER", WAIT);
    let t = i.last_transition.expect("a transition");
    assert!(t.reason.contains("resigned (priority 0)"), "{}", t.reason);
    assert_eq!(i.counters.priority_zero_rx, 1);
    let took = Duration::from_millis(t.unix_ms.saturating_sub(t0));
    let bound = v.master_down(150) / 2;
    eprintln!("ours took over {took:?} after FRR resigned ({resigns:?}; bound {bound:?})");
    assert!(
        took < bound,
        "ours took {took:?} after FRR resigned ({resigns:?}); a priority-0 handover takes the \
         skew time, the master-down interval is {:?}",
        v.master_down(150)
    );
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    // An orderly resignation also releases the address: protodown on FRR's macvlan.
    frr.wait(WAIT, "FRR to release its VIP", || {
        (!bed.has_vip(Side::Frr)).then_some(())
    });

    match resigns {
        FrrResigns::Sigterm => frr.start_vrrpd(&bed.frr_conf(100, v.interval_ms).render()),
        FrrResigns::Shutdown => frr.configure(&[
            &format!("interface {IF}"),
            &format!("vrrp {VRID} priority 100"),
            &format!("no vrrp {VRID} shutdown"),
        ]),
    }
    frr.wait_status(VRID, fam, "Backup", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    bed.steady(Some(&ours), Some(&frr), Side::Ours, HANDOVER_STEADY);
    assert_frr_took_every_advert(&frr);
    assert!(frr.router(VRID, fam).expect("FRR's state").adver_rx > 0);
    let i = ours.instance(NAME).expect("our status");
    assert_eq!(i.counters.became_master, 1, "{i:?}");
    assert_eq!(i.counters.rx_errors.values().sum::<u64>(), 0, "{i:?}");

    let start = Instant::now();
    ours.signal(Signal::SIGTERM);
    frr.wait(WAIT, "the VIP after our SIGTERM", || {
        bed.has_vip(Side::Frr).then_some(())
    });
    let took = start.elapsed();
    let status = ours.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "our exit: {status}");
    frr.wait_status(VRID, fam, "Master", WAIT);
    assert!(
        frr_heard(&frr, &bed.addr(Side::Ours), v.version, 0),
        "FRR logged no priority-0 advert from ours:\n{}",
        frr.logs()
    );
    let bound = v.master_down(100) / 2;
    eprintln!("FRR took over {took:?} after SIGTERM to ours (bound {bound:?})");
    assert!(
        took < bound,
        "FRR took {took:?} after SIGTERM to ours (master-down interval {:?})",
        v.master_down(100)
    );
    assert!(!bed.has_vip(Side::Ours), "ours released its VIP");
    drop(ours);
    bed.settle(None, Some(&frr), Side::Frr);
    bed.steady(None, Some(&frr), Side::Frr, Duration::from_secs(1));
    assert_frr_took_every_advert(&frr);
}

#[test]
fn v3_ipv4_priority_zero_handovers_both_ways_frr_by_shutdown() {
    priority_zero_handovers(V3_IPV4, FrrResigns::Shutdown);
}

#[test]
fn v3_ipv6_priority_zero_handovers_both_ways_frr_by_sigterm() {
    priority_zero_handovers(V3_IPV6, FrrResigns::Sigterm);
}

#[test]
fn v2_priority_zero_handovers_both_ways_frr_by_sigterm() {
    priority_zero_handovers(V2, FrrResigns::Sigterm);
}

/// FRR (100) is master; ours (200) starts and preempts it. Optionally `kill -9` of ours: FRR
/// takes over once the master-down interval passes (our XDP lease fences the killed agent's
/// node), and ours, restarted, preempts FRR again. FRR comes back at 250 and preempts ours.
/// Optionally `kill -9` of vrrpd: ours takes over once the master-down interval passes.
fn preemption_and_kills(v: Variant, kill_ours: bool, kill_frr: bool) {
    require_root();
    let bed = Bed::new(v);
    let fam = v.family();
    let mut frr = bed.start_frr(100);
    frr.wait_status(VRID, fam, "Master", WAIT);
    bed.settle(None, Some(&frr), Side::Frr);

    let mut ours = bed.start_ours(200);
    ours.wait_state(NAME, "MASTER", WAIT);
    frr.wait_status(VRID, fam, "Backup", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    let ours_addr = bed.addr(Side::Ours);
    let switched =
        format!("Received advertisement from {ours_addr} w/ priority 200; switching to Backup");
    assert!(frr.logs().contains(&switched), "{}", frr.logs());
    bed.steady(Some(&ours), Some(&frr), Side::Ours, v.steady_window(100));
    assert_frr_took_every_advert(&frr);
    let i = ours.instance(NAME).expect("our status");
    assert_eq!(i.counters.became_master, 1, "{i:?}");
    assert_eq!(i.counters.rx_errors.values().sum::<u64>(), 0, "{i:?}");

    if kill_ours {
        ours.signal(Signal::SIGKILL);
        ours.wait_exit(WAIT);
        drop(ours);
        let r = frr.wait_status(VRID, fam, "Master", WAIT);
        assert_eq!(r.master_adver_interval_ms, u64::from(v.interval_ms));
        bed.settle(None, Some(&frr), Side::Frr);
        bed.steady(None, Some(&frr), Side::Frr, Duration::from_secs(1));

        // Back at 200: it removes what the killed agent left, starts as backup, and preempts.
        ours = bed.start_ours(200);
        ours.wait_state(NAME, "MASTER", WAIT);
        frr.wait_status(VRID, fam, "Backup", WAIT);
        bed.settle(Some(&ours), Some(&frr), Side::Ours);
        bed.steady(Some(&ours), Some(&frr), Side::Ours, v.steady_window(100));
        assert_frr_took_every_advert(&frr);
    }

    // FRR restarts at 250 (as backup it sends no priority 0) and preempts ours.
    assert!(frr.stop_vrrpd(Signal::SIGTERM, WAIT).success());
    frr.start_vrrpd(&bed.frr_conf(250, v.interval_ms).render());
    frr.wait_status(VRID, fam, "Master", WAIT);
    let i = ours.wait_state(NAME, "BACKUP", WAIT);
    let t = i.last_transition.expect("a transition");
    assert!(t.reason.contains("higher priority 250"), "{}", t.reason);
    bed.settle(Some(&ours), Some(&frr), Side::Frr);
    // FRR heard ours before preempting (as backup, with preemption, it discards a lower
    // priority).
    assert!(
        frr.logs().contains(&format!(
            "Discarding advertisement from {ours_addr} (200 < 250"
        )),
        "{}",
        frr.logs()
    );
    bed.steady(Some(&ours), Some(&frr), Side::Frr, v.steady_window(200));
    bed.assert_ours_follows_frr(&ours);
    assert_frr_took_every_advert(&frr);

    if kill_frr {
        let start = Instant::now();
        frr.stop_vrrpd(Signal::SIGKILL, WAIT);
        let i = ours.wait_state(NAME, "MASTER", WAIT);
        let took = start.elapsed();
        let t = i.last_transition.as_ref().expect("a transition");
        assert!(t.reason.contains("master-down interval"), "{}", t.reason);
        assert_eq!(i.counters.priority_zero_rx, 0, "{i:?}");
        bed.settle(Some(&ours), Some(&frr), Side::Ours);
        eprintln!(
            "ours took over {took:?} after kill -9 of vrrpd; FRR's macvlan still holds the VIP \
             with carrier: {} (nothing fences it)",
            bed.has_vip(Side::Frr)
        );
        bed.steady(Some(&ours), Some(&frr), Side::Ours, Duration::from_secs(1));
    }
}

#[test]
fn v3_ipv4_preemption_and_kill_9_both_ways() {
    preemption_and_kills(V3_IPV4, true, true);
}

#[test]
fn v3_ipv6_preemption_and_kill_9_both_ways() {
    preemption_and_kills(V3_IPV6, true, true);
}

#[test]
fn v2_preemption_both_ways_and_kill_9_of_frr() {
    preemption_and_kills(V2, false, true);
}

/// Without XDP (`dataplane = "none"`): preemption both ways and `kill -9` of vrrpd. (A killed
/// agent without XDP leaves its address up, as keepalived does: not a case for one master.)
#[test]
fn v3_ipv4_without_xdp_preemption_both_ways_and_kill_9_of_frr() {
    preemption_and_kills(V3_IPV4.without_xdp(), false, true);
}

/// A VRRPv3 backup uses the master's advert interval (RFC 9568 §6.4.2), both ways: ours at
/// 100 ms follows FRR at 1 s without taking over between its adverts; FRR at 1 s follows ours
/// at 100 ms (`show vrrp json` shows 100 ms as the master's interval), and after `kill -9` of
/// ours takes over within its master-down interval of 100 ms adverts, far sooner than its own
/// 1 s interval would allow.
#[test]
fn v3_ipv4_backups_adopt_the_masters_advert_interval_both_ways() {
    require_root();
    let v = V3_IPV4;
    let bed = Bed::new(v);
    let fam = v.family();
    let mut frr = bed.start_frr_with(&bed.frr_conf(200, 1000));
    frr.wait_status(VRID, fam, "Master", WAIT);
    let mut ours = bed.start_ours(150);
    ours.wait_state(NAME, "BACKUP", WAIT);
    let i = wait_for(WAIT, "ours to adopt FRR's 1 s interval", || {
        ours.instance(NAME)
            .filter(|i| i.master_advert_interval_ms == 1000)
    });
    assert_eq!(i.advert_interval_ms, 100, "{i:?}");
    bed.settle(Some(&ours), Some(&frr), Side::Frr);
    // Longer than a master-down interval of 1 s adverts; ours at its own 100 ms would have
    // taken over between two of FRR's adverts.
    let window = Variant::master_down_at(1000, 150) + Duration::from_secs(1);
    bed.steady(Some(&ours), Some(&frr), Side::Frr, window);
    bed.assert_ours_follows_frr(&ours);

    assert!(frr.stop_vrrpd(Signal::SIGTERM, WAIT).success());
    ours.wait_state(NAME, "MASTER", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);

    frr.start_vrrpd(&bed.frr_conf(100, 1000).render());
    let r = frr.wait(WAIT, "FRR to adopt our 100 ms interval", || {
        frr.router(VRID, fam)
            .filter(|r| r.status == "Backup" && r.master_adver_interval_ms == 100)
    });
    assert!(
        r.master_down_interval_ms < 1000,
        "FRR's master-down interval with 100 ms adverts: {r:?}"
    );
    bed.steady(Some(&ours), Some(&frr), Side::Ours, Duration::from_secs(2));
    assert_frr_took_every_advert(&frr);

    let start = Instant::now();
    ours.signal(Signal::SIGKILL);
    frr.wait(WAIT, "the VIP after kill -9 of ours", || {
        bed.has_vip(Side::Frr).then_some(())
    });
    let took = start.elapsed();
    ours.wait_exit(WAIT);
    drop(ours);
    let own = Variant::master_down_at(1000, 100);
    eprintln!("FRR took over {took:?} after kill -9 of ours (its own master-down: {own:?})");
    assert!(
        took < own / 2,
        "FRR took {took:?} after kill -9 of ours: with our 100 ms interval adopted its \
         master-down interval is {} ms, with its own 1 s interval {own:?}",
        r.master_down_interval_ms
    );
    frr.wait_status(VRID, fam, "Master", WAIT);
    bed.settle(None, Some(&frr), Side::Frr);
}

/// `v3_checksum = "pseudo_header"` (the form FRR sends and accepts) against FRR's default:
/// ours master and FRR backup, then FRR preempting and ours backup: one master throughout,
/// and neither refuses an advert of the other.
#[test]
fn v3_ipv4_ours_pseudo_header_checksum_with_frrs_default_both_ways() {
    require_root();
    let v = V3_IPV4;
    let bed = Bed::new(v);
    let fam = v.family();
    let ours = bed.start_ours_with(&OursConf {
        priority: 200,
        interval_ms: v.interval_ms,
        v3_checksum: Some("pseudo_header"),
    });
    ours.wait_state(NAME, "MASTER", WAIT);
    let mut frr = bed.start_frr(100);
    frr.wait_status(VRID, fam, "Backup", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    bed.steady(Some(&ours), Some(&frr), Side::Ours, v.steady_window(100));
    assert_frr_took_every_advert(&frr);
    assert!(frr.router(VRID, fam).expect("FRR's state").adver_rx > 0);

    assert!(frr.stop_vrrpd(Signal::SIGTERM, WAIT).success());
    frr.start_vrrpd(&bed.frr_conf(250, v.interval_ms).render());
    frr.wait_status(VRID, fam, "Master", WAIT);
    ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Frr);
    bed.steady(Some(&ours), Some(&frr), Side::Frr, v.steady_window(200));
    bed.assert_ours_follows_frr(&ours);
    assert_frr_took_every_advert(&frr);
}

/// `v3_checksum = "message_only"` (RFC 9568) against FRR's default, the pseudo-header form
/// (the only one FRR 8.4 knows): FRR refuses every advert of ours (`Bad VRRP checksum`), so
/// it becomes master beside ours and both stay master. Shows the setting changes what ours
/// sends, and why `auto` is the default.
#[test]
fn v3_ipv4_ours_message_only_checksum_is_refused_by_frrs_default_and_both_are_master() {
    require_root();
    let v = V3_IPV4;
    let bed = Bed::new(v);
    let fam = v.family();
    let ours = bed.start_ours_with(&OursConf {
        priority: 200,
        interval_ms: v.interval_ms,
        v3_checksum: Some("message_only"),
    });
    ours.wait_state(NAME, "MASTER", WAIT);
    let frr = bed.start_frr(100);
    frr.wait_status(VRID, fam, "Master", WAIT);
    frr.wait(WAIT, "FRR to refuse two of our adverts", || {
        let bad = frr
            .refused()
            .iter()
            .filter(|l| l.contains("Bad VRRP checksum"))
            .count();
        (bad >= 2).then_some(())
    });
    // Longer than either side's master-down interval: neither hears the other.
    let window = v.steady_window(100);
    let start = Instant::now();
    let mut samples = 0;
    while start.elapsed() < window || samples < 10 {
        let o = bed.observe(Some(&ours), Some(&frr));
        assert!(
            o.is_full_master(Side::Ours) && o.is_full_master(Side::Frr),
            "both must stay master, sample {samples}: {o:?}"
        );
        samples += 1;
        std::thread::sleep(SAMPLE_EVERY);
    }
    let refused = frr.refused();
    assert!(
        refused.iter().all(|l| l.contains("Bad VRRP checksum")),
        "FRR refused ours only for the checksum: {refused:?}"
    );
    assert_eq!(
        frr.router(VRID, fam).expect("FRR's state").adver_rx,
        0,
        "FRR took none of ours"
    );
    eprintln!(
        "both master over {samples} samples; FRR refused {} of our adverts",
        refused.len()
    );
}

const NEEDS_FRR_10: &str = "needs FRR 10.0 or later (`no vrrp N checksum-with-ipv4-pseudoheader`); \
     Debian 12's FRR 8.4 always uses the pseudo-header";

/// FRR 10's RFC 9568 form: `no vrrp N checksum-with-ipv4-pseudoheader`, at `priority`.
fn start_frr_message_only(bed: &Bed, priority: u8) -> Frr {
    let mut conf = bed.frr_conf(priority, bed.v.interval_ms);
    conf.ipv4_pseudo_header = Some(false);
    let frr = bed.start_frr_with(&conf);
    frr.require_config(
        &format!("no vrrp {VRID} checksum-with-ipv4-pseudoheader"),
        "FRR 10.0 added it",
    );
    frr
}

/// Ours (default `auto`, 200) master first, sending the pseudo-header form; FRR (100,
/// message-only) refuses it, becomes master and sends the message-only form; ours follows that
/// form, FRR accepts ours and steps down: one master, ours, whose adverts FRR takes from then
/// on.
#[test]
#[ignore = "needs FRR 10.0 or later (`no vrrp N checksum-with-ipv4-pseudoheader`)"]
fn v3_ipv4_auto_checksum_follows_frrs_message_only_form_ours_master() {
    require_root();
    let v = V3_IPV4;
    let bed = Bed::new(v);
    let fam = v.family();
    let ours = bed.start_ours(200);
    ours.wait_state(NAME, "MASTER", WAIT);
    let frr = start_frr_message_only(&bed, 100);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    frr.wait_status(VRID, fam, "Backup", WAIT);
    let refused_before = frr.refused().len();
    bed.steady(Some(&ours), Some(&frr), Side::Ours, v.steady_window(100));
    assert_eq!(
        frr.refused().len(),
        refused_before,
        "{NEEDS_FRR_10}: FRR refused ours again after ours switched: {:?}",
        frr.refused()
    );
    let i = ours.instance(NAME).expect("our status");
    assert_eq!(i.counters.rx_errors.values().sum::<u64>(), 0, "{i:?}");
}

/// FRR (200, message-only) master first; ours (default `auto`, 100) accepts its form and
/// follows; FRR resigns (SIGTERM: a message-only priority-0 advert), ours takes over and
/// sends the form it learned; FRR, back at 50, takes every advert of ours and stays backup.
#[test]
#[ignore = "needs FRR 10.0 or later (`no vrrp N checksum-with-ipv4-pseudoheader`)"]
fn v3_ipv4_auto_checksum_follows_frrs_message_only_form_frr_master() {
    require_root();
    let v = V3_IPV4;
    let bed = Bed::new(v);
    let fam = v.family();
    let mut frr = start_frr_message_only(&bed, 200);
    frr.wait_status(VRID, fam, "Master", WAIT);
    let ours = bed.start_ours(100);
    ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Frr);
    bed.steady(Some(&ours), Some(&frr), Side::Frr, v.steady_window(100));
    bed.assert_ours_follows_frr(&ours);
    assert_eq!(
        ours.instance(NAME).expect("status").counters.became_master,
        0
    );

    assert!(frr.stop_vrrpd(Signal::SIGTERM, WAIT).success());
    ours.wait_state(NAME, "MASTER", WAIT);
    let mut conf = bed.frr_conf(50, v.interval_ms);
    conf.ipv4_pseudo_header = Some(false);
    let refused_before = frr.refused().len();
    frr.start_vrrpd(&conf.render());
    frr.wait_status(VRID, fam, "Backup", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    bed.steady(Some(&ours), Some(&frr), Side::Ours, v.steady_window(50));
    assert_eq!(
        frr.refused().len(),
        refused_before,
        "FRR refused ours: {:?}",
        frr.refused()
    );
}

/// Ours `message_only` against FRR message-only: one master (ours, 200), FRR takes every
/// advert.
#[test]
#[ignore = "needs FRR 10.0 or later (`no vrrp N checksum-with-ipv4-pseudoheader`)"]
fn v3_ipv4_message_only_checksum_on_both_sides() {
    require_root();
    let v = V3_IPV4;
    let bed = Bed::new(v);
    let fam = v.family();
    let ours = bed.start_ours_with(&OursConf {
        priority: 200,
        interval_ms: v.interval_ms,
        v3_checksum: Some("message_only"),
    });
    ours.wait_state(NAME, "MASTER", WAIT);
    let frr = start_frr_message_only(&bed, 100);
    frr.wait_status(VRID, fam, "Backup", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    bed.steady(Some(&ours), Some(&frr), Side::Ours, v.steady_window(100));
    assert_frr_took_every_advert(&frr);
}

/// The sender MAC and address of an ARP frame (Ethernet, IPv4).
fn arp_sender(frame: &[u8]) -> Option<([u8; 6], [u8; 4])> {
    let arp = frame.get(14..42)?;
    (frame[12..14] == [0x08, 0x06]).then(|| {
        (
            arp[8..14].try_into().expect("6 bytes"),
            arp[14..18].try_into().expect("4 bytes"),
        )
    })
}

fn mac_bytes(mac: &str) -> [u8; 6] {
    let v: Vec<u8> = mac
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).expect("hex"))
        .collect();
    v.try_into().expect("6 bytes")
}

/// FRR (150) is master every 1 s; a host on the segment sends a UDP datagram to the virtual
/// address every 10 ms. Ours (100, every 100 ms) starts right after one of FRR's adverts (the
/// worst moment: a whole second passes before the next). Ours must listen long enough to hear
/// FRR before it claims anything: it never becomes master, sends no gratuitous ARP for the
/// virtual address (which would move the host's ARP entry to ours, and its traffic with it,
/// for as long as the entry lives), and every datagram reaches FRR.
#[test]
fn v3_ipv4_ours_starting_beside_a_1s_frr_master_sends_no_garp_and_the_host_loses_nothing() {
    require_root();
    let v = V3_IPV4;
    let bed = Bed::new(v);
    let fam = v.family();
    let client = NetNs::new();
    bed.ha.attach(&client, "eth0", Some("02:00:5e:10:00:0a"));
    client.ip(&["addr", "add", "169.254.0.10/24", "dev", "eth0"]);
    let frr = bed.start_frr_with(&bed.frr_conf(150, 1000));
    frr.wait_status(VRID, fam, "Master", WAIT);
    bed.settle(None, Some(&frr), Side::Frr);

    let any: SocketAddr = "0.0.0.0:7000".parse().expect("address");
    let frr_sink = UdpSink::start(&bed.theirs, any);
    let ours_sink = UdpSink::start(&bed.ours, any);
    let arp = Capture::start_ethertype(&client, 0x0806);
    let to: SocketAddr = format!("{VIP4}:7000").parse().expect("address");
    let probes = UdpSource::start(&client, to, Duration::from_millis(10));
    frr.wait(WAIT, "the host's datagrams at FRR", || {
        (frr_sink.count() >= 10).then_some(())
    });

    let tx = frr.router(VRID, fam).expect("FRR's state").adver_tx;
    frr.wait(WAIT, "an advert from FRR", || {
        frr.router(VRID, fam).filter(|r| r.adver_tx > tx)
    });
    let started = Instant::now();
    let ours = bed.start_ours(100);
    // Until well past a master-down interval of 1 s adverts since ours started.
    let window = Variant::master_down_at(1000, 100) + Duration::from_secs(1);
    let mut two_masters = Vec::new();
    let mut samples = 0;
    while started.elapsed() < window {
        let o = bed.observe(Some(&ours), Some(&frr));
        if o.is_master(Side::Ours) {
            two_masters.push(format!("{:?}: {o:?}", started.elapsed()));
        }
        samples += 1;
        std::thread::sleep(SAMPLE_EVERY);
    }
    let sent = probes.stop();
    // The last datagrams in flight.
    std::thread::sleep(Duration::from_millis(300));
    let ours_mac = mac_bytes(OURS_MAC);
    let vip: [u8; 4] = VIP4.parse::<std::net::Ipv4Addr>().expect("IPv4").octets();
    let garps: Vec<String> = arp
        .drain()
        .iter()
        .filter_map(|f| arp_sender(f))
        .filter(|(mac, ip)| *mac == ours_mac && *ip == vip)
        .map(|(mac, ip)| format!("{mac:02x?} says {ip:?}"))
        .collect();
    let i = ours.instance(NAME).expect("our status");
    eprintln!(
        "{samples} samples; {sent} datagrams sent, {} at FRR, {} at ours; ARP from ours for \
         the VIP: {garps:?}; ours: {} {:?}",
        frr_sink.count(),
        ours_sink.count(),
        i.state,
        i.last_transition
    );
    assert!(
        two_masters.is_empty(),
        "ours claimed the virtual router beside FRR's master: {two_masters:#?}"
    );
    assert_eq!(i.counters.became_master, 0, "{i:?}");
    assert!(
        garps.is_empty(),
        "ours sent gratuitous ARP for {VIP4}: {garps:?}"
    );
    assert_eq!(ours_sink.count(), 0, "datagrams to the VIP reached ours");
    assert_eq!(
        frr_sink.count() as u64,
        sent,
        "the host lost datagrams to the VIP while ours started (longest gap {:?})",
        frr_sink.longest_gap_after(started)
    );
    assert_eq!(i.state, "BACKUP");
    assert_eq!(i.master_advert_interval_ms, 1000, "{i:?}");
    bed.assert_ours_follows_frr(&ours);
}

/// The host of the `use_vmac` tests: its MAC and addresses on the segment.
const HOST_MAC: &str = "02:00:5e:10:00:0a";
const HOST4: &str = "169.254.0.10/24";
const HOST6: &str = "fd00:1::10/64";
const PROBE_PORT: u16 = 7000;
const PROBE_EVERY: Duration = Duration::from_millis(10);
/// How often the host's neighbour entry for the virtual address is read.
const NEIGHBOUR_EVERY: Duration = Duration::from_millis(25);
/// Beyond the master-down interval, how long a takeover may lose the host's probes: the new
/// master sets its macvlan up (ours) or protodown off (FRR, through zebra), adds the address
/// and sends its gratuitous ARP / NA, which teaches the bridge where the virtual MAC now is.
const TAKEOVER_MARGIN: Duration = Duration::from_secs(1);
/// A probe sent this long before a takeover began may still be lost with it (in flight to a
/// master that was killed or resigned).
const IN_FLIGHT: Duration = Duration::from_millis(100);

/// One sample of the host's neighbour entry for the virtual address: when, its MAC (none
/// while it has no entry or an incomplete one) and its state.
type NeighbourSample = (Instant, Option<String>, String);

/// The host's neighbour entry for `addr` on its `eth0`, as `ip -j neigh` shows it.
fn neighbour_entry(ns: &str, addr: &str) -> (Option<String>, String) {
    let out = std::process::Command::new("ip")
        .args(["-n", ns, "-j", "neigh", "show", addr, "dev", "eth0"])
        .output()
        .expect("run ip");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let n = &v[0];
    let state = n["state"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .collect::<Vec<_>>()
        .join(",");
    (n["lladdr"].as_str().map(str::to_string), state)
}

/// A thread reading the host's neighbour entry for an address every [`NEIGHBOUR_EVERY`].
struct NeighbourSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<NeighbourSample>>>,
}

impl NeighbourSampler {
    fn start(ns: &NetNs, addr: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, ns, addr) = (Arc::clone(&stop), ns.name().to_string(), addr.to_string());
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let (mac, state) = neighbour_entry(&ns, &addr);
                samples.push((Instant::now(), mac, state));
                std::thread::sleep(NEIGHBOUR_EVERY);
            }
            samples
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> Vec<NeighbourSample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("neighbour sampler"))
            .unwrap_or_default()
    }
}

impl Drop for NeighbourSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A frame received by the host that binds the virtual address to a MAC: an ARP frame whose
/// sender is the address, an NA whose target it is, or an NS sent from it. Its Ethernet
/// source and the MAC it names (the ARP sender, the link-layer option if any).
#[derive(Debug)]
struct Binding {
    what: &'static str,
    src: String,
    names: Option<String>,
}

fn mac_text(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The binding `frame` makes for `vip`, if any.
fn binding(frame: &[u8], vip: std::net::IpAddr) -> Option<Binding> {
    let src = mac_text(frame.get(6..12)?);
    match vip {
        std::net::IpAddr::V4(vip) => {
            let (sender_mac, sender) = arp_sender(frame)?;
            (sender == vip.octets()).then(|| Binding {
                what: "ARP",
                src,
                names: Some(mac_text(&sender_mac)),
            })
        }
        std::net::IpAddr::V6(vip) => {
            let ip = frame.get(14..)?;
            if frame.get(12..14)? != [0x86, 0xdd] || *ip.get(6)? != 58 {
                return None;
            }
            let from = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?);
            let icmp = ip.get(40..)?;
            let target = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(icmp.get(8..24)?).ok()?);
            let (what, option) = match icmp[0] {
                135 if from == vip => ("NS", 1),
                136 if target == vip => ("NA", 2),
                _ => return None,
            };
            let mut names = None;
            let mut opts = icmp.get(24..)?;
            while let [ty, len, ..] = *opts {
                let len = usize::from(len) * 8;
                if len == 0 || len > opts.len() {
                    break;
                }
                if ty == option && len == 8 {
                    names = Some(mac_text(&opts[2..8]));
                }
                opts = &opts[len..];
            }
            Some(Binding { what, src, names })
        }
    }
}

/// A takeover the host lives through: what caused it, who takes over, when it began, and how
/// long the host may lose probes ([`TAKEOVER_MARGIN`] over the new master's master-down
/// interval).
struct Takeover {
    what: &'static str,
    to: Side,
    at: Instant,
    bound: Duration,
}

/// A host on the segment sending a UDP probe to the virtual address every [`PROBE_EVERY`]
/// (a sink in each router's namespace counts what arrives where), its neighbour entry for the
/// address sampled, and every frame it receives that binds the address to a MAC kept.
struct VmacHost {
    v: Variant,
    vmac: String,
    /// Who is master when the probes start.
    first: Side,
    capture: Capture,
    bindings: Vec<Binding>,
    ours_sink: UdpSink,
    frr_sink: UdpSink,
    probes: Option<UdpSource>,
    sampler: Option<NeighbourSampler>,
    takeovers: Vec<Takeover>,
    ns: NetNs,
}

impl VmacHost {
    /// Attaches the host to the bed's segment and starts its probes, `first` being master.
    fn start(bed: &Bed, first: Side) -> Self {
        let v = bed.v;
        let ns = NetNs::new();
        bed.ha.attach(&ns, "eth0", Some(HOST_MAC));
        if v.ipv6 {
            ns.ip(&["addr", "add", HOST6, "dev", "eth0", "nodad"]);
        } else {
            ns.ip(&["addr", "add", HOST4, "dev", "eth0"]);
        }
        let capture = Capture::start_ethertype(&ns, if v.ipv6 { 0x86dd } else { 0x0806 });
        let any: SocketAddr = if v.ipv6 {
            format!("[::]:{PROBE_PORT}")
        } else {
            format!("0.0.0.0:{PROBE_PORT}")
        }
        .parse()
        .expect("address");
        let ours_sink = UdpSink::start(&bed.ours, any);
        let frr_sink = UdpSink::start(&bed.theirs, any);
        let sampler = NeighbourSampler::start(&ns, v.vip_addr());
        let to = SocketAddr::new(v.vip_addr().parse().expect("address"), PROBE_PORT);
        let probes = UdpSource::start(&ns, to, PROBE_EVERY);
        Self {
            v,
            vmac: v.virtual_mac(),
            first,
            capture,
            bindings: Vec::new(),
            ours_sink,
            frr_sink,
            probes: Some(probes),
            sampler: Some(sampler),
            takeovers: Vec::new(),
            ns,
        }
    }

    fn sink(&self, side: Side) -> &UdpSink {
        match side {
            Side::Ours => &self.ours_sink,
            Side::Frr => &self.frr_sink,
        }
    }

    /// A takeover by `to` begins now; `backup_priority` is its priority as backup.
    fn takeover(&mut self, what: &'static str, to: Side, backup_priority: u8) {
        self.takeovers.push(Takeover {
            what,
            to,
            at: Instant::now(),
            bound: self.v.master_down(backup_priority) + TAKEOVER_MARGIN,
        });
    }

    /// `master` serves the host: its probes arrive there again, its neighbour entry for the
    /// address is the virtual MAC, and pings to the address are answered.
    fn served_by(&mut self, master: Side) {
        let sink = self.sink(master);
        let before = sink.count();
        wait_for(WAIT, &format!("the host's probes at {master:?}"), || {
            (sink.count() >= before + 10).then_some(())
        });
        let vip = self.v.vip_addr();
        let (mac, state) = neighbour_entry(self.ns.name(), vip);
        assert_eq!(
            mac.as_deref(),
            Some(self.vmac.as_str()),
            "the host's entry for {vip} with {master:?} master ({state})"
        );
        wait_for(WAIT, &format!("3 pings to {vip} answered"), || {
            let out = self
                .ns
                .exec("ping", &["-n", "-c", "3", "-i", "0.05", "-W", "1", vip]);
            String::from_utf8_lossy(&out.stdout)
                .contains(" 3 received")
                .then_some(())
        });
        self.drain_bindings();
    }

    /// Keeps what the capture holds (its buffer is small).
    fn drain_bindings(&mut self) {
        let vip = self.v.vip_addr().parse().expect("address");
        let frames = self.capture.drain();
        self.bindings
            .extend(frames.iter().filter_map(|f| binding(f, vip)));
    }

    /// Stops the probes and checks the run: the neighbour entry was the virtual MAC in every
    /// sample once the host had one, every frame binding the address named the virtual MAC
    /// from the virtual MAC, every lost probe was lost in a takeover (within its bound), none
    /// arrived twice, and none arrived at the former master once the new one had them.
    fn finish(mut self) {
        let sent = self.probes.take().expect("probes").stop_with_times();
        // The last probes in flight.
        std::thread::sleep(Duration::from_millis(300));
        let samples = self.sampler.take().expect("sampler").stop();
        self.drain_bindings();
        let vip = self.v.vip_addr();

        let mut states = std::collections::BTreeMap::<String, usize>::new();
        let mut wrong = Vec::new();
        let mut resolved = false;
        let t0 = sent.first().copied().unwrap_or_else(Instant::now);
        for (at, mac, state) in &samples {
            resolved |= mac.is_some();
            if resolved {
                *states.entry(state.clone()).or_default() += 1;
                if mac.as_deref() != Some(self.vmac.as_str()) {
                    wrong.push(format!("{:?}: {mac:?} {state}", at.duration_since(t0)));
                }
            }
        }
        let wrong_bindings: Vec<_> = self
            .bindings
            .iter()
            .filter(|b| b.src != self.vmac || b.names.as_ref().is_some_and(|m| *m != self.vmac))
            .collect();

        // How many times each probe arrived (at either router).
        let mut arrivals = std::collections::BTreeMap::<u64, usize>::new();
        for side in [Side::Ours, Side::Frr] {
            for (_, seq) in self.sink(side).received.lock().expect("sink").iter() {
                *arrivals.entry(*seq).or_default() += 1;
            }
        }
        let duplicates: Vec<u64> = arrivals
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(s, _)| *s)
            .collect();
        let mut lost_in = vec![Vec::new(); self.takeovers.len()];
        let mut unexplained = Vec::new();
        for (seq, at) in sent.iter().enumerate() {
            if arrivals.contains_key(&(seq as u64)) {
                continue;
            }
            let during = self.takeovers.iter().rposition(|t| {
                t.at.checked_sub(IN_FLIGHT).is_none_or(|from| *at >= from) && *at <= t.at + t.bound
            });
            match during {
                Some(i) => lost_in[i].push(*at),
                None => unexplained.push(format!("probe {seq} sent {:?}", at.duration_since(t0))),
            }
        }
        // Who should have the probes (by when they were sent, and their order): the first
        // master until the first takeover began; then, within each takeover's phase, the new
        // master from the first probe it got on (the former one may still get those before:
        // FRR's macvlan after `kill -9`, or protodown, still takes them).
        let received_at = |side: Side| -> Vec<(u64, Instant)> {
            self.sink(side)
                .received
                .lock()
                .expect("sink")
                .iter()
                .map(|(at, seq)| (*seq, *at))
                .collect()
        };
        let sent_at = |seq: u64| sent.get(seq as usize).copied().unwrap_or_else(Instant::now);
        let mut strays = Vec::new();
        let first_takeover = self.takeovers.first().map(|t| t.at);
        for (seq, _) in received_at(self.first.other()) {
            if first_takeover.is_none_or(|f| sent_at(seq) < f) {
                strays.push(format!(
                    "probe {seq} at {:?} before any takeover",
                    self.first.other()
                ));
            }
        }
        for (i, t) in self.takeovers.iter().enumerate() {
            let end = self.takeovers.get(i + 1).map(|n| n.at);
            let in_phase = |seq: u64| sent_at(seq) >= t.at && end.is_none_or(|e| sent_at(seq) < e);
            let (first, first_at) = received_at(t.to)
                .into_iter()
                .filter(|(seq, _)| in_phase(*seq))
                .min()
                .unwrap_or_else(|| panic!("no probe reached {:?} after {}", t.to, t.what));
            for (seq, _) in received_at(t.to.other()) {
                if in_phase(seq) && seq > first {
                    strays.push(format!(
                        "probe {seq} at {:?} after probe {first} reached {:?} ({})",
                        t.to.other(),
                        t.to,
                        t.what
                    ));
                }
            }
            let lost = &lost_in[i];
            let span = lost.first().zip(lost.last()).map(|(a, b)| {
                (
                    a.saturating_duration_since(t.at),
                    b.saturating_duration_since(t.at),
                )
            });
            eprintln!(
                "{} ({:?} takes over): {} probes lost (sent {span:?} after it began; bound \
                 {:?}, {} probes); the first at {:?} arrived {:?} after it began",
                t.what,
                t.to,
                lost.len(),
                t.bound,
                t.bound.as_millis() / PROBE_EVERY.as_millis(),
                t.to,
                first_at.saturating_duration_since(t.at),
            );
        }
        let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
        for b in &self.bindings {
            *kinds.entry(b.what).or_default() += 1;
        }
        eprintln!(
            "host: {} probes sent, {} at ours, {} at FRR; {} neighbour samples once resolved \
             (states {states:?}); {} frames bound {vip} ({kinds:?})",
            sent.len(),
            self.ours_sink.count(),
            self.frr_sink.count(),
            states.values().sum::<usize>(),
            self.bindings.len(),
        );
        assert!(resolved, "the host never resolved {vip}");
        assert!(
            wrong.is_empty(),
            "the host's entry for {vip} was not {} in {} of {} samples: {wrong:#?}",
            self.vmac,
            wrong.len(),
            samples.len()
        );
        assert!(
            !self.bindings.is_empty(),
            "the host received no frame naming a MAC for {vip}"
        );
        assert!(
            wrong_bindings.is_empty(),
            "frames bound {vip} to, or came from, another MAC than {}: {wrong_bindings:#?}",
            self.vmac
        );
        assert!(
            duplicates.is_empty(),
            "probes arrived at both routers: {duplicates:?}"
        );
        assert!(
            unexplained.is_empty(),
            "probes lost outside any takeover's bound: {unexplained:#?}"
        );
        assert!(
            strays.is_empty(),
            "probes reached a former master: {strays:#?}"
        );
    }
}

/// Our macvlan `vrrp.51`: whether it exists, and whether it is up.
fn ours_vmac_link(bed: &Bed) -> Option<bool> {
    let out = bed.ours.exec("ip", &["-j", "link", "show", OURS_VMAC_IF]);
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j link");
    let l = &v[0];
    assert_eq!(l["address"], bed.v.virtual_mac(), "{l}");
    Some(
        l["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "UP")),
    )
}

/// FRR's node as it must run beside a macvlan carrying the virtual address: with Linux's
/// default `arp_ignore=0` any interface answers ARP for every local address, so FRR's `ha`
/// answers a host's request for the virtual address too, from the node's own MAC (also as
/// backup: protodown takes the macvlan's carrier, not its address), and the host's entry may
/// end up there. FRR's documentation does not say so. Shown here with a host that asks once,
/// then `arp_ignore=1` on `ha` (as keepalived and our agent set on their base interface): it
/// answers only for its own addresses, the macvlan for the virtual one.
fn frr_node_needs_arp_ignore(bed: &Bed) {
    // Linux's defaults, whatever the machine's (a namespace inherits its IPv4 settings).
    for dev in ["all", IF] {
        bed.theirs
            .sysctl(&format!("net.ipv4.conf.{dev}.arp_ignore=0"));
    }
    let asker = NetNs::new();
    bed.ha.attach(&asker, "eth0", Some("02:00:5e:10:00:0b"));
    asker.ip(&["addr", "add", "169.254.0.11/24", "dev", "eth0"]);
    let arp = Capture::start_ethertype(&asker, 0x0806);
    let vip = VIP4.parse().expect("address");
    let mut answers = Vec::new();
    wait_for(WAIT, "ARP replies for the VIP from FRR's node", || {
        asker.exec("ping", &["-n", "-c", "1", "-W", "1", VIP4]);
        answers.extend(arp.drain().iter().filter_map(|f| binding(f, vip)));
        (answers.len() >= 2).then_some(())
    });
    eprintln!("with arp_ignore=0 on FRR's {IF}, the host's ARP request got: {answers:?}");
    for mac in [THEIRS_MAC.to_string(), bed.v.virtual_mac()] {
        assert!(
            answers
                .iter()
                .any(|a| a.src == mac && a.names.as_ref() == Some(&mac)),
            "FRR's node answers ARP for {VIP4} from {mac}: {answers:?}"
        );
    }
    drop(asker);
    bed.theirs
        .sysctl(&format!("net.ipv4.conf.{IF}.arp_ignore=1"));
}

/// FRR and ours with `use_vmac` on one segment, with a host sending to the virtual address:
/// both answer for it from 00:00:5e:00:01:VRID (FRR from its macvlan, ours from `vrrp.51`,
/// up only while master), so the host's ARP entry never changes across takeovers both ways:
/// `kill -9` of vrrpd (ours after its master-down interval), SIGTERM to ours (FRR on our
/// priority-0 advert), `vrrp 51 shutdown` on FRR (ours on its priority-0 advert), `kill -9` of
/// ours (FRR after its master-down interval; our XDP lease fences the killed agent's macvlan,
/// still up with the address). One master in every steady state; every lost probe lost in a
/// takeover, at most its master-down interval's worth plus [`TAKEOVER_MARGIN`].
#[test]
fn v3_ipv4_use_vmac_failovers_both_ways_keep_the_hosts_arp_entry_on_the_virtual_mac() {
    require_root();
    let v = V3_IPV4.with_vmac();
    let bed = Bed::new(v);
    let fam = v.family();
    let mut frr = bed.start_frr(200);
    frr.wait_status(VRID, fam, "Master", WAIT);
    bed.settle(None, Some(&frr), Side::Frr);
    frr_node_needs_arp_ignore(&bed);
    let mut host = VmacHost::start(&bed, Side::Frr);
    host.served_by(Side::Frr);

    // Ours starts (150) as backup: its macvlan exists, down.
    let mut ours = bed.start_ours(150);
    ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Frr);
    bed.steady(Some(&ours), Some(&frr), Side::Frr, v.steady_window(150));
    bed.assert_ours_follows_frr(&ours);
    assert_eq!(ours_vmac_link(&bed), Some(false), "our backup's macvlan");
    host.served_by(Side::Frr);

    // kill -9 of vrrpd: ours takes over once the master-down interval passes (FRR's macvlan
    // stays up with the address; the bridge learns the virtual MAC at ours from our GARP).
    host.takeover("kill -9 of FRR's vrrpd", Side::Ours, 150);
    frr.stop_vrrpd(Signal::SIGKILL, WAIT);
    let i = ours.wait_state(NAME, "MASTER", WAIT);
    let t = i.last_transition.expect("a transition");
    assert!(t.reason.contains("master-down interval"), "{}", t.reason);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    assert_eq!(ours_vmac_link(&bed), Some(true), "our master's macvlan");
    host.served_by(Side::Ours);

    // vrrpd back at 100: backup (its macvlan protodown again).
    frr.start_vrrpd(&bed.frr_conf(100, v.interval_ms).render());
    frr.wait_status(VRID, fam, "Backup", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    bed.steady(Some(&ours), Some(&frr), Side::Ours, v.steady_window(100));
    assert_frr_took_every_advert(&frr);

    // SIGTERM to ours: FRR takes over on our priority-0 advert; our macvlan is deleted.
    host.takeover("SIGTERM to ours", Side::Frr, 100);
    ours.signal(Signal::SIGTERM);
    frr.wait_status(VRID, fam, "Master", WAIT);
    assert!(ours.wait_exit(WAIT).success(), "our exit");
    drop(ours);
    assert!(
        frr_heard(&frr, &bed.addr(Side::Ours), v.version, 0),
        "FRR logged no priority-0 advert from ours"
    );
    assert_eq!(ours_vmac_link(&bed), None, "our macvlan after SIGTERM");
    bed.settle(None, Some(&frr), Side::Frr);
    host.served_by(Side::Frr);

    // Ours back at 50: backup.
    let mut ours = bed.start_ours(50);
    ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Frr);
    bed.steady(Some(&ours), Some(&frr), Side::Frr, v.steady_window(50));
    bed.assert_ours_follows_frr(&ours);

    // `vrrp 51 shutdown` on FRR: ours takes over on its priority-0 advert.
    host.takeover("`vrrp 51 shutdown` on FRR", Side::Ours, 50);
    frr.configure(&[&format!("interface {IF}"), &format!("vrrp {VRID} shutdown")]);
    let i = ours.wait_state(NAME, "MASTER", WAIT);
    let t = i.last_transition.expect("a transition");
    assert!(t.reason.contains("resigned (priority 0)"), "{}", t.reason);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    host.served_by(Side::Ours);

    // FRR back at 30: backup.
    frr.configure(&[
        &format!("interface {IF}"),
        &format!("vrrp {VRID} priority 30"),
        &format!("no vrrp {VRID} shutdown"),
    ]);
    frr.wait_status(VRID, fam, "Backup", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    bed.steady(Some(&ours), Some(&frr), Side::Ours, v.steady_window(30));
    assert_frr_took_every_advert(&frr);

    // kill -9 of ours: FRR takes over once its master-down interval passes; our killed
    // agent's macvlan stays up with the address, fenced by its XDP lease.
    host.takeover("kill -9 of ours", Side::Frr, 30);
    ours.signal(Signal::SIGKILL);
    ours.wait_exit(WAIT);
    drop(ours);
    frr.wait_status(VRID, fam, "Master", WAIT);
    bed.settle(None, Some(&frr), Side::Frr);
    host.served_by(Side::Frr);
    bed.steady(None, Some(&frr), Side::Frr, Duration::from_secs(1));
    assert_frr_took_every_advert(&frr);
    eprintln!("our killed agent's macvlan: up {:?}", ours_vmac_link(&bed));
    host.finish();
}

/// The same over IPv6 (FRR's macvlan and ours with 00:00:5e:00:02:VRID), both ways: SIGTERM to
/// vrrpd (ours on its priority-0 advert), then `kill -9` of ours (FRR after its master-down
/// interval). The host's neighbour entry stays the virtual MAC throughout.
#[test]
fn v3_ipv6_use_vmac_failovers_both_ways_keep_the_hosts_neighbour_entry_on_the_virtual_mac() {
    require_root();
    let v = V3_IPV6.with_vmac();
    let bed = Bed::new(v);
    let fam = v.family();
    let mut frr = bed.start_frr(200);
    frr.wait_status(VRID, fam, "Master", WAIT);
    bed.settle(None, Some(&frr), Side::Frr);
    let mut host = VmacHost::start(&bed, Side::Frr);
    host.served_by(Side::Frr);
    let mut ours = bed.start_ours(150);
    ours.wait_state(NAME, "BACKUP", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Frr);
    bed.steady(Some(&ours), Some(&frr), Side::Frr, v.steady_window(150));
    bed.assert_ours_follows_frr(&ours);
    assert_eq!(ours_vmac_link(&bed), Some(false), "our backup's macvlan");

    host.takeover("SIGTERM to FRR's vrrpd", Side::Ours, 150);
    assert!(frr.stop_vrrpd(Signal::SIGTERM, WAIT).success());
    let i = ours.wait_state(NAME, "MASTER", WAIT);
    let t = i.last_transition.expect("a transition");
    assert!(t.reason.contains("resigned (priority 0)"), "{}", t.reason);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    host.served_by(Side::Ours);

    frr.start_vrrpd(&bed.frr_conf(100, v.interval_ms).render());
    frr.wait_status(VRID, fam, "Backup", WAIT);
    bed.settle(Some(&ours), Some(&frr), Side::Ours);
    bed.steady(Some(&ours), Some(&frr), Side::Ours, v.steady_window(100));
    assert_frr_took_every_advert(&frr);

    host.takeover("kill -9 of ours", Side::Frr, 100);
    ours.signal(Signal::SIGKILL);
    ours.wait_exit(WAIT);
    drop(ours);
    frr.wait_status(VRID, fam, "Master", WAIT);
    bed.settle(None, Some(&frr), Side::Frr);
    host.served_by(Side::Frr);
    bed.steady(None, Some(&frr), Side::Frr, Duration::from_secs(1));
    host.finish();
}
