//! A reload (SIGHUP) of a MASTER announces its addresses as keepalived 2.2.7 does
//! (keepalived/vrrp/vrrp.c: `clear_diff_vrrp` calls `vrrp_send_link_update(new_vrrp,
//! garp_rep)` when `restore_vrrp_state` added an address, and restarts the
//! `garp_master_refresh` timer): when the reload adds an address, every address (advertised
//! and excluded) is announced again, `garp_master_repeat` times, at once; no
//! `garp_master_delay` batch follows; the refresh timer starts over. A reload that adds nothing
//! (same file, or only removals) announces nothing. Checked against keepalived 2.2.7 run
//! in a namespace with a capture: an unchanged SIGHUP sent no frame, one added excluded
//! address sent 5 rounds over all four addresses.

mod fsm_support;

use std::net::IpAddr;

use fsm_support::*;
use vrrp_agent::fsm::{InitialState, Output, State, VirtualAddress};

fn garps(out: &[Output]) -> Vec<(Vec<IpAddr>, u32)> {
    out.iter()
        .filter_map(|o| match o {
            Output::SendGratuitous { addresses, repeat } => Some((addresses.clone(), *repeat)),
            _ => None,
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Master with the VIP and one excluded address, 3 frames per batch, second batch after 5 s,
/// refresh every 20 s; the takeover's batches are done (t = 6 s).
fn settled_master() -> Harness {
    let mut c = config();
    c.garp.master_repeat = 3;
    c.garp.master_delay = ms(5000);
    c.garp.refresh = Some(ms(20_000));
    c.garp.refresh_repeat = 2;
    c.excluded_addresses
        .push(VirtualAddress::host(ip("192.168.1.112")));
    c.initial_state = InitialState::Master;
    let (mut h, _) = Harness::started(c);
    assert_eq!(h.state(), State::Master);
    let out = h.advance(ms(6000));
    assert_eq!(garps(&out).len(), 1, "the delayed batch at 5 s");
    h
}

#[test]
fn a_reload_adding_an_address_announces_every_address_again() {
    let mut h = settled_master();
    let mut c = h.inst.config().clone();
    c.excluded_addresses
        .push(VirtualAddress::host(ip("203.0.113.20")));
    h.inst.reconfigure(c, h.now).unwrap();
    let out = h.drain();
    assert_eq!(kinds(&out), ["add_addresses", "garp"]);
    assert_eq!(
        garps(&out),
        [(vec![VIP, ip("192.168.1.112"), ip("203.0.113.20")], 3)],
        "all addresses, garp_master_repeat times"
    );
    assert_eq!(h.state(), State::Master, "no flap");

    // No garp_master_delay batch after a reload; the refresh starts over from the reload
    // (t = 6 s), so the one due at 20 s moves to 26 s.
    assert!(
        garps(&h.advance(ms(19_999))).is_empty(),
        "nothing until 26 s"
    );
    assert_eq!(
        garps(&h.advance(ms(1))),
        [(vec![VIP, ip("192.168.1.112"), ip("203.0.113.20")], 2)],
        "refresh 20 s after the reload"
    );
}

#[test]
fn a_reload_adding_nothing_announces_nothing() {
    let mut h = settled_master();
    let same = h.inst.config().clone();
    h.inst.reconfigure(same.clone(), h.now).unwrap();
    assert!(garps(&h.drain()).is_empty(), "unchanged");

    let mut fewer = same.clone();
    fewer.excluded_addresses.clear();
    h.inst.reconfigure(fewer, h.now).unwrap();
    let out = h.drain();
    assert_eq!(kinds(&out), ["remove_addresses"], "only a removal");

    let mut other = same;
    other.excluded_addresses.clear();
    other.priority = 90;
    h.inst.reconfigure(other, h.now).unwrap();
    assert!(garps(&h.drain()).is_empty(), "other settings");
    // The refresh schedule of the takeover is untouched: due at 20 s.
    assert!(garps(&h.advance(ms(13_999))).is_empty());
    assert_eq!(garps(&h.advance(ms(1))), [(vec![VIP], 2)]);
}

#[test]
fn a_backup_reloaded_with_more_addresses_announces_nothing() {
    let (mut h, _) = Harness::started(config());
    assert_eq!(h.state(), State::Backup);
    let mut c = h.inst.config().clone();
    c.excluded_addresses
        .push(VirtualAddress::host(ip("203.0.113.20")));
    h.inst.reconfigure(c, h.now).unwrap();
    assert!(h.drain().is_empty());
}
