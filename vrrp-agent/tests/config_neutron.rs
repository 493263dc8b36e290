//! The keepalived.conf texts Neutron writes import with the exact values. The fixtures are
//! copied from neutron/tests/unit/agent/linux/test_keepalived.py and
//! neutron/tests/functional/agent/l3/framework.py (see tests/fixtures/config/README.md).

mod config_support;

use std::time::Duration;

use config_support::*;
use vrrp_agent::{
    config::{Format, ScriptSpec, TrackSpec},
    fsm::{GarpConfig, InitialState},
    packet::{Auth, Centisecs, Version},
};

/// KeepalivedConfTestCase.expected with `auth_type PASS` (the verbatim text says AH: see
/// `the_verbatim_text_with_ah_imports_and_starts_as_backup_as_keepalived_does`).
#[test]
fn conf_test_case_imports_both_instances() {
    let loaded = load_ok(&config_fixture("neutron-unit-conf-pass.conf"));
    assert_eq!(loaded.format, Format::Keepalived);
    let c = &loaded.config;
    assert_eq!(c.global.router_id.as_deref(), Some("neutron"));
    assert_eq!(c.instances.len(), 2);

    let vr1 = instance(c, "VR_1");
    let v = &vr1.vrrp;
    assert_eq!(vr1.interface, "eth0");
    assert_eq!(vr1.netns, None);
    assert_eq!((v.vrid, v.priority), (1, 50));
    assert_eq!(v.initial_state, InitialState::Master);
    assert_eq!(
        v.version,
        Version::V2,
        "no `version`: keepalived's default 2"
    );
    assert_eq!(v.advert_interval, Centisecs(500));
    assert!(v.preempt, "no nopreempt");
    assert!(v.accept_mode);
    assert_eq!(v.auth, Auth::Simple(*b"pass123\0"));
    assert_eq!(
        v.garp,
        GarpConfig {
            master_delay: Duration::from_secs(60),
            ..GarpConfig::default()
        }
    );
    assert_eq!(
        v.virtual_addresses,
        [vaddr("169.254.0.1", 24, Some("eth0"), None, false)]
    );
    assert_eq!(
        v.excluded_addresses,
        [
            vaddr("192.168.1.0", 24, Some("eth1"), None, true),
            vaddr("192.168.2.0", 24, Some("eth2"), None, true),
            vaddr("192.168.3.0", 24, Some("eth2"), None, true),
            vaddr("192.168.55.0", 24, Some("eth10"), None, true),
        ]
    );
    assert_eq!(
        v.routes,
        [vroute(
            "0.0.0.0",
            0,
            Some("192.168.1.1"),
            Some("eth1"),
            None,
            Some("static"),
            true
        )]
    );
    assert_eq!(v.tracked, [tracked("eth0", 0)]);
    assert_eq!(
        vr1.track,
        [TrackSpec::Interface {
            name: "eth0".into()
        }]
    );
    assert_eq!(v.sync_group, None);

    let vr2 = instance(c, "VR_2");
    assert_eq!(vr2.interface, "eth4");
    assert_eq!(vr2.vrrp.vrid, 2);
    assert_eq!(
        vr2.vrrp.advert_interval,
        Centisecs(100),
        "default advert_int 1"
    );
    assert_eq!(vr2.vrrp.auth, Auth::None);
    assert_eq!(vr2.mcast_src, Some("224.0.0.1".parse().unwrap()));
    assert_eq!(vr2.unicast_src, None);
    assert_eq!(
        vr2.vrrp.excluded_addresses,
        [
            vaddr("192.168.2.0", 24, Some("eth2"), None, true),
            vaddr("192.168.3.0", 24, Some("eth6"), None, true),
            vaddr("192.168.55.0", 24, Some("eth10"), None, true),
        ]
    );
    assert!(vr2.vrrp.routes.is_empty());

    assert_eq!(
        warning_lines(&loaded.warnings),
        [
            (38, "instance `VR_2`: mcast_src_ip 224.0.0.1 is a multicast address; adverts cannot be sent from it".to_string()),
        ]
    );
    // Neutron writes `notification_email_from` into every configuration: a note, not a
    // warning (it sends nothing in keepalived either without an smtp_server).
    assert_eq!(
        warning_lines(&loaded.notes),
        [(
            2,
            "`notification_email_from` in global_defs has no effect (vrrp-agent sends no e-mail)"
                .to_string()
        )]
    );
}

/// The verbatim text (`auth_type AH`, as Neutron's functional tests run keepalived): the
/// same instances with an AH key, and VR_1's `state MASTER` cleared to BACKUP with a warning,
/// as keepalived 2.2.7 does ("Initial state master is incompatible with AH authentication").
#[test]
fn the_verbatim_text_with_ah_imports_and_starts_as_backup_as_keepalived_does() {
    let ah = load_ok(&config_fixture("neutron-unit-conf-ah.conf"));
    let pass = load_ok(&config_fixture("neutron-unit-conf-pass.conf"));
    let vr1 = instance(&ah.config, "VR_1");
    assert_eq!(
        vr1.vrrp.auth,
        Auth::Ah {
            key: *b"pass123\0",
            seq: 0
        }
    );
    assert_eq!(vr1.vrrp.initial_state, InitialState::Backup);
    // Everything else is what the PASS text gives.
    let mut expected = instance(&pass.config, "VR_1").clone();
    expected.vrrp.auth = vr1.vrrp.auth;
    expected.vrrp.initial_state = InitialState::Backup;
    assert_eq!(*vr1, expected);
    assert_eq!(
        instance(&ah.config, "VR_2"),
        instance(&pass.config, "VR_2"),
        "VR_2 has no authentication and keeps state MASTER"
    );
    assert_eq!(
        warning_lines(&ah.warnings),
        [
            (6, "vrrp_instance VR_1: state MASTER with auth_type AH starts as BACKUP, as keepalived does (a new AH master must first learn the sequence number from the current master's adverts)".to_string()),
            (38, "instance `VR_2`: mcast_src_ip 224.0.0.1 is a multicast address; adverts cannot be sent from it".to_string()),
        ]
    );
    assert_eq!(
        warning_lines(&ah.notes),
        warning_lines(&pass.notes),
        "the same notes"
    );
}

/// test_config_generation_no_track_not_supported: the same text without `no_track`.
#[test]
fn without_no_track_every_address_and_route_is_tracked() {
    let text = read(&config_fixture("neutron-unit-conf-pass.conf")).replace(" no_track", "");
    let c = keepalived_ok(&text).config;
    for inst in &c.instances {
        assert!(inst.vrrp.excluded_addresses.iter().all(|a| !a.no_track));
        assert!(inst.vrrp.routes.iter().all(|r| !r.no_track));
        assert!(!inst.vrrp.excluded_addresses.is_empty());
    }
    assert_eq!(instance(&c, "VR_1").vrrp.routes.len(), 1);
}

#[test]
fn build_config_no_vips() {
    let loaded = load_ok(&config_fixture("neutron-unit-no-vips.conf"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let v = &instance(&loaded.config, "VR_1").vrrp;
    assert_eq!(v.initial_state, InitialState::Master);
    assert_eq!((v.vrid, v.priority), (1, 50));
    assert_eq!(v.garp.master_delay, Duration::from_secs(60));
    assert_eq!(
        v.virtual_addresses,
        [vaddr("169.254.0.1", 24, Some("eth0"), None, false)]
    );
    assert!(v.excluded_addresses.is_empty());
    assert!(v.tracked.is_empty());
}

#[test]
fn build_config_with_track_script_preamble() {
    let loaded = load_ok(&config_fixture("neutron-unit-track-script.conf"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(
        loaded.config.scripts,
        [ScriptSpec {
            name: "ha_health_check_1".into(),
            command: "/etc/ha_confs/qrouter-x/ha_check_script_1.sh".into(),
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            fall: 2,
            rise: 2,
            weight: 0,
            user: None,
            run_as: None,
        }]
    );
    // Neutron only adds track_script when the router has gateway routes.
    assert!(instance(&loaded.config, "VR_1").track.is_empty());
}

/// KeepalivedInstanceRoutesTestCase.test_build_config's block, inside a minimal instance.
#[test]
fn instance_routes_build_config() {
    let loaded = load_ok(&config_fixture("neutron-unit-routes.conf"));
    let v = &instance(&loaded.config, "VR_1").vrrp;
    assert_eq!(
        v.routes,
        [
            vroute(
                "0.0.0.0",
                0,
                Some("1.0.0.254"),
                Some("eth0"),
                None,
                Some("static"),
                true
            ),
            vroute(
                "::",
                0,
                Some("fe80::3e97:eff:fe26:3bfa"),
                Some("eth1"),
                None,
                Some("static"),
                true
            ),
            vroute(
                "10.0.0.0",
                8,
                Some("1.0.0.1"),
                None,
                None,
                Some("static"),
                true
            ),
            vroute(
                "20.0.0.0",
                8,
                Some("2.0.0.2"),
                None,
                None,
                Some("static"),
                true
            ),
            vroute(
                "30.0.0.0",
                8,
                None,
                Some("eth0"),
                Some("link"),
                Some("static"),
                true
            ),
        ]
    );
    // keepalived itself would drop the route whose `via` has a prefix; we keep it and say so.
    assert_eq!(
        warning_lines(&loaded.warnings),
        [(
            14,
            "virtual_routes ::/0 via fe80::3e97:eff:fe26:3bfa/64 dev eth1 no_track protocol static: the prefix of via fe80::3e97:eff:fe26:3bfa/64 is ignored".to_string()
        )]
    );
}

/// The L3 agent functional tests' expected configuration (placeholders filled in).
#[test]
fn l3_agent_ha_router() {
    let loaded = load_ok(&config_fixture("neutron-l3-functional.conf"));
    let r = instance(&loaded.config, "VR_1");
    let v = &r.vrrp;
    assert_eq!(r.interface, "ha-3f1c2a7d-5b");
    assert_eq!(v.initial_state, InitialState::Backup);
    assert_eq!((v.vrid, v.priority), (1, 50));
    assert!(!v.preempt, "nopreempt");
    assert_eq!(v.version, Version::V2);
    assert_eq!(v.advert_interval, Centisecs(200), "advert_int 2");
    assert_eq!(v.garp.master_delay, Duration::from_secs(60));
    assert_eq!(v.garp.master_repeat, 5);
    assert_eq!(v.tracked, [tracked("ha-3f1c2a7d-5b", 0)]);
    assert_eq!(
        v.virtual_addresses,
        [vaddr(
            "169.254.0.1",
            24,
            Some("ha-3f1c2a7d-5b"),
            None,
            false
        )]
    );
    assert_eq!(
        v.excluded_addresses,
        [
            vaddr("19.4.4.2", 32, Some("qg-9e8d7c6b-5a"), None, true),
            vaddr("19.4.4.4", 24, Some("qg-9e8d7c6b-5a"), None, true),
            vaddr("35.4.0.4", 24, Some("qr-1a2b3c4d-5e"), None, true),
            vaddr(
                "fe80::f816:3eff:fe2a:1c3d",
                64,
                Some("qg-9e8d7c6b-5a"),
                Some("link"),
                true
            ),
            vaddr(
                "fe80::f816:3eff:fe4d:9a7b",
                64,
                Some("qr-1a2b3c4d-5e"),
                Some("link"),
                true
            ),
        ]
    );
    assert_eq!(
        v.routes,
        [
            vroute(
                "0.0.0.0",
                0,
                Some("19.4.4.1"),
                Some("qg-9e8d7c6b-5a"),
                None,
                Some("static"),
                true
            ),
            vroute(
                "8.8.8.0",
                24,
                Some("19.4.4.4"),
                None,
                None,
                Some("static"),
                true
            ),
            vroute(
                "19.5.4.0",
                24,
                None,
                Some("qg-9e8d7c6b-5a"),
                Some("link"),
                Some("static"),
                true
            ),
        ]
    );
    assert!(v.validate().is_ok());
}

/// ha_vrrp_health_check_interval > 0: a vrrp_script and, with gateway routes, track_script.
#[test]
fn health_check_script_is_tracked_with_its_default_weight() {
    let loaded = load_ok(&config_fixture("neutron-health-check.conf"));
    let c = &loaded.config;
    assert_eq!(c.scripts.len(), 1);
    assert_eq!(c.scripts[0].name, "ha_health_check_1");
    assert_eq!(
        c.scripts[0].command,
        "/var/lib/neutron/ha_confs/5c3a7f2e-8b1d-4e6a-9f0c-2d4b6a8c1e3f/ha_check_script_1.sh"
    );
    assert_eq!((c.scripts[0].fall, c.scripts[0].rise), (2, 2));
    assert_eq!(c.scripts[0].interval, Duration::from_secs(5));
    let r = instance(c, "VR_1");
    assert_eq!(
        r.vrrp.tracked,
        [
            tracked("ha-3f1c2a7d-5b", 0),
            tracked("ha_health_check_1", 0)
        ]
    );
    assert_eq!(
        r.track,
        [
            TrackSpec::Interface {
                name: "ha-3f1c2a7d-5b".into()
            },
            TrackSpec::Script {
                name: "ha_health_check_1".into()
            },
        ]
    );
    assert_eq!(r.vrrp.auth, Auth::simple("9ZfJ4kLq"));
}
