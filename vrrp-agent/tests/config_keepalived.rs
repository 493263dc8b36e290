//! keepalived.conf syntax and semantics beyond Neutron's texts: brace placement, comments,
//! quoting, continuation lines, keepalived's defaults and how global_defs, vrrp_script,
//! track_script weights and sync groups map into the model.

mod config_support;

use std::{net::IpAddr, time::Duration};

use config_support::*;
use vrrp_agent::{
    config::{NotifySpec, ScriptUser, TrackSpec},
    fsm::{ChecksumPolicy, GarpConfig, InitialState},
    packet::{Centisecs, ChecksumForm, Version},
};

#[test]
fn braces_comments_quotes_and_continuations() {
    let text = "\
! keepalived style comment
vrrp_script chk{script \"/usr/bin/check --name 'a b'\"
 interval 2}   # trailing comment
vrrp_instance VI_1
{
    interface eth0 # the uplink
    virtual_router_id \\
        42
    virtual_ipaddress { 192.0.2.1/24 dev eth0 ! comment
      192.0.2.2 }
    track_script { chk weight -5 }
    notify \"/etc/notify.sh --flag\"
    notify_master /usr/bin/logger -t vrrp master \"with space\"
    notify_backup \"/bin/echo \\#literal\"
}\r
";
    let loaded = keepalived_ok(text);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = &loaded.config;
    assert_eq!(c.scripts[0].command, "/usr/bin/check --name 'a b'");
    assert_eq!(c.scripts[0].interval, Duration::from_secs(2));
    let inst = instance(c, "VI_1");
    assert_eq!(inst.vrrp.vrid, 42);
    assert_eq!(
        inst.vrrp.virtual_addresses,
        [
            vaddr("192.0.2.1", 24, Some("eth0"), None, false),
            vaddr("192.0.2.2", 32, None, None, false)
        ]
    );
    assert_eq!(inst.vrrp.tracked, [tracked("chk", -5)]);
    assert_eq!(
        inst.notify,
        NotifySpec {
            any: Some("/etc/notify.sh --flag".into()),
            master: Some("/usr/bin/logger -t vrrp master 'with space'".into()),
            // Inside quotes, keepalived keeps `\#` as written.
            backup: Some("/bin/echo \\#literal".into()),
            fault: None,
            stop: None,
            run_as: None,
        }
    );
}

#[test]
fn keepalived_defaults() {
    let v = instance(&keepalived_ok(&ka_instance("")).config, "VI_1")
        .vrrp
        .clone();
    assert_eq!(v.initial_state, InitialState::Backup);
    assert_eq!(v.priority, 100);
    assert_eq!(v.advert_interval, Centisecs(100));
    assert_eq!(v.version, Version::V2);
    assert!(v.preempt);
    assert_eq!(v.preempt_delay, Duration::ZERO);
    assert!(
        v.accept_mode,
        "keepalived accepts unless no_accept / vrrp_strict"
    );
    assert_eq!(v.garp, GarpConfig::default());
    assert_eq!(
        (
            v.garp.master_repeat,
            v.garp.master_delay,
            v.garp.refresh,
            v.garp.refresh_repeat
        ),
        (5, Duration::from_secs(5), None, 1)
    );

    // state MASTER without priority: keepalived makes it the address owner (255) ...
    let v = instance(
        &keepalived_ok(&ka_instance("    state MASTER")).config,
        "VI_1",
    )
    .vrrp
    .clone();
    assert_eq!((v.initial_state, v.priority), (InitialState::Master, 255));
    // ... and priority 255 without state starts as master.
    let v = instance(
        &keepalived_ok(&ka_instance("    priority 255")).config,
        "VI_1",
    )
    .vrrp
    .clone();
    assert_eq!((v.initial_state, v.priority), (InitialState::Master, 255));
    let v = instance(
        &keepalived_ok(&ka_instance("    state MASTER\n    priority 90")).config,
        "VI_1",
    )
    .vrrp
    .clone();
    assert_eq!((v.initial_state, v.priority), (InitialState::Master, 90));

    let v = instance(
        &keepalived_ok(&ka_instance(
            "    nopreempt\n    no_accept\n    preempt_delay 2.5",
        ))
        .config,
        "VI_1",
    )
    .vrrp
    .clone();
    assert!(!v.preempt && !v.accept_mode);
    assert_eq!(v.preempt_delay, Duration::from_millis(2500));
}

/// Accept_Mode as keepalived 2.2.7 decides it (`vrrp_complete_instance`): on unless
/// `no_accept`; in strict mode (`vrrp_strict`, `strict_mode`) off unless `accept` or priority
/// 255, and never for VRRPv2 below 255.
#[test]
fn accept_mode_follows_keepalived_including_strict_mode() {
    let accept = |global: &str, extra: &str| -> (bool, Vec<String>) {
        let text = format!("global_defs {{\n{global}\n}}\n{}", ka_instance(extra));
        let loaded = keepalived_ok(&text);
        let warnings = loaded.warnings.iter().map(|w| w.message.clone()).collect();
        (instance(&loaded.config, "VI_1").vrrp.accept_mode, warnings)
    };
    assert!(accept("", "").0, "default: accept");
    assert!(accept("", "    accept").0);
    assert!(!accept("", "    no_accept").0);
    // As written (the data plane lets the address owner accept whatever this says, as
    // keepalived's firewall rule leaves priority 255 out).
    assert!(!accept("", "    priority 255\n    no_accept").0);
    // Strict mode: off by default, on for the address owner or when asked (VRRPv3).
    let (a, warnings) = accept("    vrrp_strict", "    version 3");
    assert!(!a, "vrrp_strict: no accept by default");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("vrrp_strict: only its Accept_Mode default is applied")),
        "{warnings:?}"
    );
    assert!(accept("    vrrp_strict", "    version 3\n    priority 255").0);
    assert!(accept("    vrrp_strict", "    version 3\n    accept").0);
    // VRRPv2 in strict mode: keepalived resets `accept` with a warning.
    let (a, warnings) = accept("    vrrp_strict", "    accept");
    assert!(!a, "VRRPv2, strict: accept reset");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("does not comply with RFC 3768")),
        "{warnings:?}"
    );
    assert!(accept("    vrrp_strict", "    priority 255").0, "owner, v2");
    // The instance's strict_mode overrides the global one, both ways.
    assert!(accept("    vrrp_strict", "    version 3\n    strict_mode off").0);
    assert!(!accept("", "    version 3\n    strict_mode").0);
    assert!(!accept("", "    version 3\n    strict_mode on").0);
}

#[test]
fn versions_and_families() {
    let with_global = |global: &str, inst: &str| format!("global_defs {{\n{global}\n}}\n{inst}");
    // vrrp_version sets the default ...
    let c = keepalived_ok(&with_global(
        "    vrrp_version 3",
        &ka_instance("    advert_int 0.25"),
    ))
    .config;
    let v = &instance(&c, "VI_1").vrrp;
    assert_eq!((v.version, v.advert_interval), (Version::V3, Centisecs(25)));
    // ... an instance's version wins ...
    let c = keepalived_ok(&with_global(
        "    vrrp_version 3",
        &ka_instance("    version 2"),
    ))
    .config;
    assert_eq!(instance(&c, "VI_1").vrrp.version, Version::V2);
    // ... and IPv6 instances run VRRPv3 whatever vrrp_version says.
    let v6 = "vrrp_instance VI_6 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        2001:db8::1/64\n        fe80::1/64 scope link\n    }\n    virtual_ipaddress_excluded {\n        192.0.2.9/24\n        2001:db8:1::1/64\n    }\n}\n";
    let c = keepalived_ok(&with_global("    vrrp_version 2", v6)).config;
    let v = &instance(&c, "VI_6").vrrp;
    assert!(v.is_ipv6());
    assert_eq!(v.version, Version::V3);
    // Excluded addresses may mix families.
    assert_eq!(
        v.excluded_addresses[0].addr,
        "192.0.2.9".parse::<IpAddr>().unwrap()
    );
    assert_eq!(v.excluded_addresses[0].prefix_len, 24);
    // An IPv4 and an IPv6 instance may share interface and VRID.
    let both = format!("{}{v6}", ka_instance(""));
    assert_eq!(keepalived_ok(&both).config.instances.len(), 2);
    // native_ipv6 agrees with IPv6 addresses.
    let native = v6.replace(
        "    interface eth0\n",
        "    interface eth0\n    native_ipv6\n",
    );
    assert!(
        instance(&keepalived_ok(&native).config, "VI_6")
            .vrrp
            .is_ipv6()
    );
}

#[test]
fn global_garp_defaults_and_instance_overrides() {
    let text = format!(
        "global_defs {{\n    vrrp_garp_master_delay 10\n    vrrp_garp_master_repeat 2\n    vrrp_garp_master_refresh 60\n    vrrp_garp_master_refresh_repeat 3\n    script_user nobody nogroup\n    enable_script_security\n}}\n{}{}",
        ka_instance(""),
        ka_instance("    garp_master_delay 0\n    garp_master_repeat 1\n    garp_master_refresh 0\n    garp_master_refresh_repeat 2")
            .replace("VI_1", "VI_2")
            .replace("eth0", "eth1"),
    );
    let loaded = keepalived_ok(&text);
    assert_eq!(
        loaded.config.global.script_user,
        Some(ScriptUser {
            user: "nobody".into(),
            group: Some("nogroup".into())
        })
    );
    assert!(loaded.config.global.script_security);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(
        instance(&loaded.config, "VI_1").vrrp.garp,
        GarpConfig {
            master_delay: Duration::from_secs(10),
            master_repeat: 2,
            refresh: Some(Duration::from_secs(60)),
            refresh_repeat: 3,
        }
    );
    assert_eq!(
        instance(&loaded.config, "VI_2").vrrp.garp,
        GarpConfig {
            master_delay: Duration::ZERO,
            master_repeat: 1,
            refresh: None,
            refresh_repeat: 2,
        }
    );
}

#[test]
fn track_script_weight_overrides_the_scripts_default() {
    let text = format!(
        "vrrp_script chk_a {{\n    script /bin/a\n    weight -20\n    timeout 0.5\n}}\nvrrp_script chk_b {{\n    script /bin/b\n}}\n{}",
        ka_instance(
            "    track_interface {\n        eth1 weight 5\n        eth2\n    }\n    track_script {\n        chk_a\n        chk_b weight 10\n        chk_a weight 0\n    }"
        )
    );
    let c = keepalived_ok(&text).config;
    let inst = instance(&c, "VI_1");
    // Interfaces first, then scripts, each in file order.
    assert_eq!(
        inst.vrrp.tracked,
        [
            tracked("eth1", 5),
            tracked("eth2", 0),
            tracked("chk_a", -20),
            tracked("chk_b", 10),
            tracked("chk_a", 0)
        ]
    );
    assert_eq!(
        inst.track,
        [
            TrackSpec::Interface {
                name: "eth1".into()
            },
            TrackSpec::Interface {
                name: "eth2".into()
            },
            TrackSpec::Script {
                name: "chk_a".into()
            },
            TrackSpec::Script {
                name: "chk_b".into()
            },
            TrackSpec::Script {
                name: "chk_a".into()
            },
        ]
    );
    let a = &c.scripts[0];
    assert_eq!(
        (a.interval, a.timeout, a.fall, a.rise),
        (Duration::from_secs(1), Duration::from_millis(500), 1, 1)
    );
    // keepalived: no timeout means the interval.
    assert_eq!(c.scripts[1].timeout, Duration::from_secs(1));
}

#[test]
fn sync_groups_unicast_and_routes() {
    let text = format!(
        "vrrp_sync_group G1 {{\n    group {{\n        VI_1 VI_2\n    }}\n    notify_master \"/bin/group master\"\n}}\n{}{}",
        ka_instance(
            "    unicast_src_ip 192.0.2.10\n    unicast_peer {\n        192.0.2.11\n        192.0.2.12 max_ttl 255\n    }\n    virtual_routes {\n        to 198.51.100.0/24 via 192.0.2.254 dev eth0 table 100 metric 20 src 192.0.2.1\n        default gw 192.0.2.254 table main proto kernel scope global\n        inet6 default via fe80::1 dev eth1\n    }"
        ),
        ka_instance("").replace("VI_1", "VI_2").replace("51", "52"),
    );
    let loaded = keepalived_ok(&text);
    let c = &loaded.config;
    assert_eq!(c.sync_groups[0].members, ["VI_1", "VI_2"]);
    assert_eq!(
        c.sync_groups[0].notify.master.as_deref(),
        Some("/bin/group master")
    );
    assert_eq!(instance(c, "VI_1").vrrp.sync_group.as_deref(), Some("G1"));
    assert_eq!(instance(c, "VI_2").vrrp.sync_group.as_deref(), Some("G1"));
    let inst = instance(c, "VI_1");
    assert_eq!(inst.unicast_src, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(
        inst.unicast_peers,
        [
            "192.0.2.11".parse::<IpAddr>().unwrap(),
            "192.0.2.12".parse().unwrap()
        ]
    );
    let mut first = vroute(
        "198.51.100.0",
        24,
        Some("192.0.2.254"),
        Some("eth0"),
        None,
        None,
        false,
    );
    first.table = Some(100);
    first.metric = Some(20);
    first.src = Some("192.0.2.1".parse().unwrap());
    let mut second = vroute(
        "0.0.0.0",
        0,
        Some("192.0.2.254"),
        None,
        Some("global"),
        Some("kernel"),
        false,
    );
    second.table = Some(254);
    let third = vroute("::", 0, Some("fe80::1"), Some("eth1"), None, None, false);
    assert_eq!(inst.vrrp.routes, [first, second, third]);
}

#[test]
fn address_options() {
    let c = keepalived_ok(&ka_instance(
        "    virtual_ipaddress_excluded {\n        10.0.0.5/24 brd + dev eth1 scope link label eth1:vip no_track\n        10.0.0.6/24 broadcast 10.0.0.255\n    }",
    ))
    .config;
    let ex = &instance(&c, "VI_1").vrrp.excluded_addresses;
    let mut first = vaddr("10.0.0.5", 24, Some("eth1"), Some("link"), true);
    first.broadcast = Some("+".into());
    first.label = Some("eth1:vip".into());
    let mut second = vaddr("10.0.0.6", 24, None, None, false);
    second.broadcast = Some("10.0.0.255".into());
    assert_eq!(*ex, [first, second]);
}

/// keepalived computes `brd +` / `brd -` only up to /30 ("Address prefix length N too long
/// for broadcast"); beyond, the address gets none. An explicit broadcast address stays.
#[test]
fn computed_broadcast_on_a_31_or_32_is_ignored_with_a_warning() {
    let loaded = keepalived_ok(&ka_instance(
        "    virtual_ipaddress_excluded {\n        10.0.0.6/31 brd +\n        10.0.0.8/32 brd -\n        10.0.0.9/32 brd 10.0.0.255\n    }",
    ));
    let ex = &instance(&loaded.config, "VI_1").vrrp.excluded_addresses;
    let brds: Vec<Option<&str>> = ex.iter().map(|a| a.broadcast.as_deref()).collect();
    assert_eq!(brds, [None, None, Some("10.0.0.255")]);
    assert_eq!(
        warning_lines(&loaded.warnings),
        [
            (
                8,
                "virtual_ipaddress_excluded 10.0.0.6/31: brd +: prefix length 31 is too long for a broadcast address, ignored".to_string()
            ),
            (
                9,
                "virtual_ipaddress_excluded 10.0.0.8/32: brd -: prefix length 32 is too long for a broadcast address, ignored".to_string()
            ),
        ]
    );
}

#[test]
fn many_instances_in_one_file_keep_their_order() {
    let text: String = (1..=20)
        .map(|n| {
            ka_instance("")
                .replace("VI_1", &format!("VR_{n}"))
                .replace("51", &n.to_string())
        })
        .collect();
    let c = keepalived_ok(&text).config;
    let vrids: Vec<u8> = c.instances.iter().map(|i| i.vrrp.vrid).collect();
    assert_eq!(vrids, (1..=20).collect::<Vec<u8>>());
}

/// `v3_checksum_as_v2 [true|false]` (per instance) and `vrrp_startup_delay` (global).
#[test]
fn checksum_form_and_startup_delay() {
    let spec = |global: &str, extra: &str| {
        let text = format!("global_defs {{\n{global}\n}}\n{}", ka_instance(extra));
        instance(&keepalived_ok(&text).config, "VI_1").vrrp.clone()
    };
    let v = spec("", "    version 3");
    assert_eq!(
        v.v3_checksum,
        ChecksumPolicy::Auto,
        "default: follow the peers"
    );
    for extra in [
        "v3_checksum_as_v2",
        "v3_checksum_as_v2 true",
        "v3_checksum_as_v2 on",
    ] {
        assert_eq!(
            spec("", &format!("    version 3\n    {extra}")).v3_checksum,
            ChecksumPolicy::Fixed(ChecksumForm::MessageOnly),
            "{extra}"
        );
    }
    assert_eq!(
        spec("", "    version 3\n    v3_checksum_as_v2 false").v3_checksum,
        ChecksumPolicy::Auto
    );
    // The default startup delay: nothing more than the RFC at 1 s ...
    assert_eq!(v.startup_delay, Duration::ZERO);
    // ... and a 1 s master's down interval below 1 s.
    let fast = spec("", "    version 3\n    advert_int 0.1");
    assert_eq!(fast.startup_delay, Duration::from_millis(3600));
    assert_eq!(
        spec(
            "    vrrp_startup_delay 5.5",
            "    version 3\n    advert_int 0.1"
        )
        .startup_delay,
        Duration::from_millis(5500)
    );
    assert_eq!(
        spec(
            "    vrrp_startup_delay 0",
            "    version 3\n    advert_int 0.1"
        )
        .startup_delay,
        Duration::ZERO,
        "0: the RFC alone"
    );
    ka_fails(
        &format!(
            "global_defs {{\n    vrrp_startup_delay soon\n}}\n{}",
            ka_instance("")
        ),
        2,
        "vrrp_startup_delay: expected seconds (such as 5 or 2.5), got `soon`",
    );
    ka_fails(
        &ka_instance("    v3_checksum_as_v2 maybe"),
        7,
        "v3_checksum_as_v2: expected on or off (true/false, yes/no), got `maybe`",
    );
}

/// keepalived 2.2.8+'s `v3_checksum_as_v2` in global_defs: the default of every instance (RFC
/// 9568's message-only form, fixed), which an instance's own setting overrides either way.
#[test]
fn global_v3_checksum_as_v2_is_every_instances_default() {
    let message_only = ChecksumPolicy::Fixed(ChecksumForm::MessageOnly);
    let policies = |global: &str, first: &str| {
        let text = format!(
            "global_defs {{\n{global}\n}}\n{}{}",
            ka_instance(&format!("    version 3\n{first}")),
            ka_instance("    version 3")
                .replace("VI_1", "VI_2")
                .replace("virtual_router_id 51", "virtual_router_id 52"),
        );
        let loaded = keepalived_ok(&text);
        assert!(
            loaded.warnings.is_empty(),
            "{global}: {:?}",
            loaded.warnings
        );
        let c = &loaded.config;
        (
            instance(c, "VI_1").vrrp.v3_checksum,
            instance(c, "VI_2").vrrp.v3_checksum,
        )
    };
    assert_eq!(
        policies("", ""),
        (ChecksumPolicy::Auto, ChecksumPolicy::Auto)
    );
    for global in [
        "    v3_checksum_as_v2",
        "    v3_checksum_as_v2 true",
        "    v3_checksum_as_v2 yes",
    ] {
        assert_eq!(
            policies(global, ""),
            (message_only, message_only),
            "{global}"
        );
        // The instance's own setting wins, off ...
        assert_eq!(
            policies(global, "    v3_checksum_as_v2 false"),
            (ChecksumPolicy::Auto, message_only),
            "{global}"
        );
        // ... or on.
        assert_eq!(
            policies(global, "    v3_checksum_as_v2"),
            (message_only, message_only),
            "{global}"
        );
    }
    assert_eq!(
        policies("    v3_checksum_as_v2 off", ""),
        (ChecksumPolicy::Auto, ChecksumPolicy::Auto)
    );
    assert_eq!(
        policies("    v3_checksum_as_v2 off", "    v3_checksum_as_v2 on"),
        (message_only, ChecksumPolicy::Auto)
    );
    ka_fails(
        &format!(
            "global_defs {{\n    v3_checksum_as_v2 sometimes\n}}\n{}",
            ka_instance("")
        ),
        2,
        "v3_checksum_as_v2: expected on or off (true/false, yes/no), got `sometimes`",
    );
    // Given twice, the later one wins with a warning.
    let text = format!(
        "global_defs {{\n    v3_checksum_as_v2\n    v3_checksum_as_v2 off\n}}\n{}",
        ka_instance("    version 3")
    );
    let loaded = keepalived_ok(&text);
    assert_eq!(
        instance(&loaded.config, "VI_1").vrrp.v3_checksum,
        ChecksumPolicy::Auto
    );
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0].message.contains("also set at line 2"),
        "{:?}",
        loaded.warnings
    );
}
