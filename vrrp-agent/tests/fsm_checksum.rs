//! RFC 9568 change (§5.2.8): the two checksum forms of VRRPv3 over IPv4 at the state machine.
//! The codec accepts either form (`codec_checksum.rs`); the instance sends the form its
//! `v3_checksum` setting says. `auto` (the default) sends the pseudo-header form, what
//! keepalived 2.2 and FRR send and accept by default, until another router's advert arrives
//! in the other form, and then sends that one; a fixed setting keeps its form and says once
//! per peer that the peer differs, and what to change.

mod fsm_support;

use fsm_support::*;
use vrrp_agent::{
    fsm::{ChecksumPolicy, InstanceConfig, Notice, Output, State},
    packet::{Centisecs, ChecksumForm},
};

fn sent_forms(out: &[Output]) -> Vec<ChecksumForm> {
    out.iter()
        .filter_map(|o| match o {
            Output::SendAdvert { checksum, .. } => Some(*checksum),
            _ => None,
        })
        .collect()
}

fn master_with(policy: ChecksumPolicy) -> Harness {
    let mut c = config();
    c.v3_checksum = policy;
    c.advert_interval = Centisecs(100);
    let (mut h, _) = Harness::started(c);
    h.advance(ms(3600));
    assert_eq!(h.state(), State::Master);
    h.drain();
    h.take_notices();
    h
}

#[test]
fn auto_sends_the_pseudo_header_form_until_a_peer_sends_the_other() {
    let mut h = master_with(ChecksumPolicy::Auto);
    assert_eq!(
        sent_forms(&h.advance(ms(1000))),
        [ChecksumForm::WithPseudoHeader]
    );
    // A lower-priority peer that refuses our form became master too (FRR with
    // `no checksum-with-ipv4-pseudoheader`): its advert is valid in the message-only form.
    let out = h.advert_from_in(LOWER_PEER, 50, ChecksumForm::MessageOnly);
    assert_eq!(
        sent_forms(&out),
        [ChecksumForm::MessageOnly],
        "the immediate answer is already in the peer's form, so it can step down"
    );
    assert_eq!(
        sent_forms(&h.advance(ms(1000))),
        [ChecksumForm::MessageOnly]
    );
    let notices = h.take_notices();
    assert!(
        matches!(
            notices.as_slice(),
            [Notice::ChecksumForm {
                theirs: ChecksumForm::MessageOnly,
                following: true,
                ..
            }]
        ),
        "{notices:?}"
    );
    assert!(notices[0].to_string().contains("RFC 9568"));
    assert_eq!(
        h.inst.status().checksum_form,
        Some(ChecksumForm::MessageOnly)
    );
}

#[test]
fn auto_backup_follows_its_master_and_says_so_once() {
    let (mut h, _) = Harness::started(config());
    for _ in 0..5 {
        h.advert_from_in(HIGHER_PEER, 200, ChecksumForm::MessageOnly);
        h.advance(ms(1000));
    }
    assert_eq!(
        h.inst.status().checksum_form,
        Some(ChecksumForm::MessageOnly)
    );
    assert_eq!(h.take_notices().len(), 1, "once");
    // The master goes silent: we take over in its form.
    let out = h.advance(ms(4000));
    assert_eq!(h.state(), State::Master);
    assert!(
        sent_forms(&out)
            .iter()
            .all(|f| *f == ChecksumForm::MessageOnly)
    );
}

#[test]
fn a_fixed_form_is_kept_and_a_differing_peer_is_named_once_with_the_setting_to_change() {
    let mut h = master_with(ChecksumPolicy::Fixed(ChecksumForm::WithPseudoHeader));
    for _ in 0..3 {
        let out = h.advert_from_in(LOWER_PEER, 50, ChecksumForm::MessageOnly);
        assert!(
            sent_forms(&out)
                .iter()
                .all(|f| *f == ChecksumForm::WithPseudoHeader)
        );
        h.advance(ms(1000));
    }
    let notices = h.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let line = notices[0].to_string();
    assert!(
        line.contains(&LOWER_PEER.to_string())
            && line.contains("v3_checksum = \"message_only\"")
            && line.contains("v3_checksum_as_v2"),
        "plain words and the setting: {line}"
    );
}

#[test]
fn resignations_do_not_change_the_form() {
    let (mut h, _) = Harness::started(config());
    h.advert_from_in(HIGHER_PEER, 200, ChecksumForm::WithPseudoHeader);
    h.advert_from_in(HIGHER_PEER, 0, ChecksumForm::MessageOnly);
    assert_eq!(
        h.inst.status().checksum_form,
        Some(ChecksumForm::WithPseudoHeader)
    );
}

#[test]
fn the_form_is_reported_only_where_it_exists() {
    let v6 = InstanceConfig::new("VR_6", 6, "fe80::1".parse().unwrap());
    let (h, _) = Harness::started(v6);
    assert_eq!(h.inst.status().checksum_form, None);
    let (h, _) = Harness::started(v2_config("pw"));
    assert_eq!(h.inst.status().checksum_form, None);
}
