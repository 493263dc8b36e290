//! The native TOML format: its defaults, string and table entries meaning the same, tracking
//! (script default weights, reachability defaults), sync groups and global settings.

mod config_support;

use std::{path::Path, time::Duration};

use config_support::*;
use vrrp_agent::{
    config::{GlobalConfig, ProbeMethod, ReachabilitySpec, ScriptUser, TrackSpec},
    fsm::{GarpConfig, InitialState},
    packet::{Auth, Centisecs, Version},
};

#[test]
fn defaults() {
    let loaded = toml_ok(&toml_instance(""));
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.config.global, GlobalConfig::default());
    let inst = instance(&loaded.config, "VI_1");
    let v = &inst.vrrp;
    assert_eq!(v.version, Version::V3);
    assert_eq!(v.priority, 100);
    assert_eq!(v.advert_interval, Centisecs(100));
    assert!(v.preempt && v.accept_mode);
    assert_eq!(v.preempt_delay, Duration::ZERO);
    assert_eq!(v.initial_state, InitialState::Backup);
    assert_eq!(v.auth, Auth::None);
    assert_eq!(v.garp, GarpConfig::default());
    assert_eq!(
        (inst.netns.as_deref(), inst.interface.as_str()),
        (None, "eth0")
    );
    assert!(inst.track.is_empty() && inst.unicast_peers.is_empty());
    let owner = toml_ok(&toml_instance("priority = 255"));
    assert_eq!(
        instance(&owner.config, "VI_1").vrrp.initial_state,
        InitialState::Master
    );
    let explicit = toml_ok(&toml_instance("priority = 255\nstate = \"backup\""));
    assert_eq!(
        instance(&explicit.config, "VI_1").vrrp.initial_state,
        InitialState::Backup
    );
}

#[test]
fn string_and_table_entries_are_the_same() {
    let strings = toml_ok(&toml_instance(
        r#"excluded_addresses = ["10.0.0.1/24 dev qr-1 scope link label qr-1:a brd + no_track"]
routes = ["10.1.0.0/16 via 10.0.0.254 dev qr-1 scope global protocol static table 10 metric 5 src 10.0.0.1 no_track"]
track_interfaces = ["qr-1 weight -10", "qg-1"]"#,
    ));
    let tables = toml_ok(&toml_instance(
        r#"excluded_addresses = [{ address = "10.0.0.1/24", dev = "qr-1", scope = "link", label = "qr-1:a", broadcast = "+", no_track = true }]
routes = [{ destination = "10.1.0.0/16", via = "10.0.0.254", dev = "qr-1", scope = "global", protocol = "static", table = 10, metric = 5, src = "10.0.0.1", no_track = true }]
track_interfaces = [{ name = "qr-1", weight = -10 }, { name = "qg-1" }]"#,
    ));
    assert_eq!(strings.config, tables.config);
    let v = &instance(&tables.config, "VI_1").vrrp;
    assert_eq!(v.excluded_addresses[0].broadcast.as_deref(), Some("+"));
    assert_eq!(v.excluded_addresses[0].label.as_deref(), Some("qr-1:a"));
    assert_eq!(v.routes[0].table, Some(10));
    assert_eq!(v.routes[0].metric, Some(5));
    assert_eq!(v.routes[0].src, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(v.tracked, [tracked("qr-1", -10), tracked("qg-1", 0)]);
}

#[test]
fn tracking_order_weights_and_reachability_defaults() {
    let text = format!(
        "{}{}",
        toml_instance(
            r#"track_scripts = ["chk", { name = "chk", weight = 7 }]
track_interfaces = ["eth1"]
[[instance.track_reachability]]
address = "2001:db8::1"
interface = "eth1"
method = "icmp"
interval = 0.5
weight = -30
[[instance.track_reachability]]
name = "gw4"
address = "192.0.2.254"
interface = "eth1""#,
        ),
        "[[script]]\nname = \"chk\"\ncommand = \"/bin/true\"\nweight = -15\nuser = \"nobody\"\ngroup = \"nogroup\"\n"
    );
    let c = toml_ok(&text).config;
    let inst = instance(&c, "VI_1");
    // Interfaces, then scripts, then reachability checks.
    assert_eq!(
        inst.vrrp.tracked,
        [
            tracked("eth1", 0),
            tracked("chk", -15),
            tracked("chk", 7),
            tracked("reach:2001:db8::1", -30),
            tracked("gw4", 0),
        ]
    );
    assert_eq!(
        inst.track[3],
        TrackSpec::Reachability(ReachabilitySpec {
            address: "2001:db8::1".parse().unwrap(),
            interface: "eth1".into(),
            method: ProbeMethod::Icmp,
            interval: Duration::from_millis(500),
            timeout: Duration::from_millis(500),
            fall: 3,
            rise: 2,
        })
    );
    let TrackSpec::Reachability(gw4) = &inst.track[4] else {
        panic!("{:?}", inst.track[4]);
    };
    assert_eq!(gw4.method, ProbeMethod::Neighbour);
    assert_eq!(
        c.scripts[0].timeout,
        Duration::from_secs(1),
        "timeout defaults to the interval"
    );
    assert_eq!(
        c.scripts[0].user,
        Some(ScriptUser {
            user: "nobody".into(),
            group: Some("nogroup".into())
        })
    );
    assert_eq!(c.scripts[0].run_as, None, "resolved when the agent runs it");
}

#[test]
fn global_sync_groups_and_versions() {
    let text = format!(
        "[global]\nrouter_id = \"n1\"\nstate_dir = \"/tmp/state\"\nstatus_socket = \"/tmp/s.sock\"\nnotify_timeout = 2.5\nscript_user = \"vrrp\"\nscript_security = true\n{}{}[[sync_group]]\nname = \"G\"\nmembers = [\"VI_1\", \"VI_2\"]\nnotify = \"/bin/g\"\n",
        toml_instance(
            "version = 2\nadvert_interval = 3\nauth_pass = \"secret\"\nunicast_src = \"192.0.2.5\"\nunicast_peers = [\"192.0.2.6\"]\nnotify_stop = \"/bin/stop\""
        ),
        toml_instance("netns = \"ns1\"\nadvert_interval = 0.05\nmcast_src = \"192.0.2.7\"")
            .replace("VI_1", "VI_2"),
    );
    let c = toml_ok(&text).config;
    assert_eq!(c.global.router_id.as_deref(), Some("n1"));
    assert_eq!(c.global.state_dir, Path::new("/tmp/state"));
    assert_eq!(c.global.status_socket, Path::new("/tmp/s.sock"));
    assert_eq!(c.global.notify_timeout, Duration::from_millis(2500));
    assert_eq!(
        c.global.script_user,
        Some(ScriptUser {
            user: "vrrp".into(),
            group: None
        })
    );
    assert!(c.global.script_security);
    let a = instance(&c, "VI_1");
    assert_eq!(
        (a.vrrp.version, a.vrrp.advert_interval),
        (Version::V2, Centisecs(300))
    );
    assert_eq!(a.vrrp.auth, Auth::simple("secret"));
    assert_eq!(a.unicast_src, Some("192.0.2.5".parse().unwrap()));
    assert_eq!(
        a.unicast_peers,
        ["192.0.2.6".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(a.notify.stop.as_deref(), Some("/bin/stop"));
    let b = instance(&c, "VI_2");
    assert_eq!(
        (b.vrrp.version, b.vrrp.advert_interval),
        (Version::V3, Centisecs(5))
    );
    assert_eq!(b.netns.as_deref(), Some("ns1"));
    assert_eq!(b.mcast_src, Some("192.0.2.7".parse().unwrap()));
    assert_eq!(a.vrrp.sync_group.as_deref(), Some("G"));
    assert_eq!(b.vrrp.sync_group.as_deref(), Some("G"));
    assert_eq!(c.sync_groups[0].notify.any.as_deref(), Some("/bin/g"));
}

/// `auth_type`: "pass" (the default with an `auth_pass`) or "ah" (keepalived's `auth_type
/// AH`); the AH key is the password zero padded to 8 bytes, like keepalived's `auth_data`.
#[test]
fn auth_type_pass_or_ah() {
    for (extra, want) in [
        ("auth_pass = \"secret\"", Auth::Simple(*b"secret\0\0")),
        (
            "auth_type = \"pass\"\nauth_pass = \"secret\"",
            Auth::simple("secret"),
        ),
        (
            "auth_type = \"ah\"\nauth_pass = \"secret\"",
            Auth::Ah {
                key: *b"secret\0\0",
                seq: 0,
            },
        ),
        (
            "auth_type = \"ah\"\nauth_pass = \"secret\"\npriority = 255\nstate = \"master\"",
            Auth::ah("secret"),
        ),
    ] {
        let c = toml_ok(&toml_instance(&format!("version = 2\n{extra}"))).config;
        assert_eq!(instance(&c, "VI_1").vrrp.auth, want, "{extra}");
    }
}

#[test]
fn garp_table() {
    let c = toml_ok(&toml_instance(
        "garp = { master_delay = 0.5, master_repeat = 2, refresh = 30, refresh_repeat = 4 }",
    ))
    .config;
    assert_eq!(
        instance(&c, "VI_1").vrrp.garp,
        GarpConfig {
            master_delay: Duration::from_millis(500),
            master_repeat: 2,
            refresh: Some(Duration::from_secs(30)),
            refresh_repeat: 4,
        }
    );
    let off = toml_ok(&toml_instance("garp = { refresh = 0 }")).config;
    assert_eq!(instance(&off, "VI_1").vrrp.garp, GarpConfig::default());
}

/// `v3_checksum` per instance, `startup_delay` in `[global]`.
#[test]
fn checksum_form_and_startup_delay() {
    use vrrp_agent::{fsm::ChecksumPolicy, packet::ChecksumForm};
    let spec = |global: &str, extra: &str| {
        let text = format!("[global]\n{global}\n{}", toml_instance(extra));
        instance(&toml_ok(&text).config, "VI_1").vrrp.clone()
    };
    assert_eq!(spec("", "").v3_checksum, ChecksumPolicy::Auto);
    assert_eq!(
        spec("", "v3_checksum = \"message_only\"").v3_checksum,
        ChecksumPolicy::Fixed(ChecksumForm::MessageOnly)
    );
    assert_eq!(
        spec("", "v3_checksum = \"pseudo_header\"").v3_checksum,
        ChecksumPolicy::Fixed(ChecksumForm::WithPseudoHeader)
    );
    assert_eq!(
        spec("", "advert_interval = 0.05").startup_delay,
        std::time::Duration::from_millis(3600),
        "default below 1 s: a 1 s master's down interval"
    );
    assert_eq!(
        spec("startup_delay = 2", "advert_interval = 0.05").startup_delay,
        std::time::Duration::from_secs(2)
    );
    assert_eq!(
        spec("startup_delay = 0", "advert_interval = 0.05").startup_delay,
        std::time::Duration::ZERO
    );
    toml_fails(
        &toml_instance("v3_checksum = \"rfc\""),
        6,
        "instance `VI_1`: v3_checksum: expected \"auto\" (accept both VRRPv3 IPv4 checksum \
         forms, send what the other routers send), \"pseudo_header\" (RFC 5798 as keepalived \
         2.2 and FRR send it) or \"message_only\" (RFC 9568, keepalived's v3_checksum_as_v2), \
         got `rfc`",
    );
}
