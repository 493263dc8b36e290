//! Unknown and unsupported keywords are warnings naming file and line; they do not stop the
//! import (blocks after them, and their own blocks' contents, are handled correctly).

mod config_support;

use config_support::*;
use vrrp_agent::{config::ConfigWarning, packet::Auth};

#[test]
fn unknown_keywords_warn_with_their_line_and_the_import_goes_on() {
    let text = "\
global_defs {
    router_id node1
    frobnicate yes
    notification_email {
        ops@example.com
    }
}
virtual_server 10.0.0.1 80 {
    delay_loop 6
    real_server 10.0.0.2 80 {
        weight 1
    }
}
vrrp_instance VI_1 {
    interface eth0
    use_ipvlan
    sparkle {
        priority 1
        virtual_router_id 99
    }
    virtual_router_id 51
    priority 150
    virtual_ipaddress {
        192.0.2.1/24 -nodad
    }
}
";
    let loaded = keepalived_ok(text);
    assert_eq!(
        loaded.warnings,
        [
            (3, "unknown keyword `frobnicate` in global_defs, ignored"),
            (4, "`notification_email` in global_defs is not supported, ignored (vrrp-agent sends no e-mail)"),
            (8, "unknown keyword `virtual_server` in the top level, ignored (and its block)"),
            (16, "`use_ipvlan` in vrrp_instance VI_1 is not supported, ignored (only use_vmac's macvlan of the instance's interface; the XDP program owns the addresses)"),
            (17, "unknown keyword `sparkle` in vrrp_instance VI_1, ignored (and its block)"),
            (24, "virtual_ipaddress 192.0.2.1/24: `-nodad` is not supported, ignored"),
        ]
        .map(|(line, message)| ConfigWarning {
            file: INLINE.into(),
            line,
            message: message.into(),
        })
    );
    assert_eq!(
        loaded.warnings[0].to_string(),
        "inline.conf:3: unknown keyword `frobnicate` in global_defs, ignored"
    );
    // The settings inside the skipped block did not apply; the ones after it did.
    let c = &loaded.config;
    assert_eq!(c.global.router_id.as_deref(), Some("node1"));
    let v = &instance(c, "VI_1").vrrp;
    assert_eq!((v.vrid, v.priority), (51, 150));
    assert_eq!(
        v.virtual_addresses,
        [vaddr("192.0.2.1", 24, None, None, false)]
    );
}

#[test]
fn settings_given_twice_warn_and_the_last_wins() {
    let loaded = keepalived_ok(&ka_instance("    priority 10\n    priority 20"));
    assert_eq!(
        warning_lines(&loaded.warnings),
        [(
            8,
            "`priority` in vrrp_instance VI_1 is also set at line 7; this one wins".to_string()
        )]
    );
    assert_eq!(instance(&loaded.config, "VI_1").vrrp.priority, 20);
}

#[test]
fn accepted_but_ignored_details_warn_at_their_line() {
    let text = ka_instance(
        "    authentication {
        auth_type PASS
        auth_pass 123456789
    }
    unicast_peer {
        192.0.2.2 min_ttl 250
    }
    virtual_routes {
        10.0.0.0/8 via 192.0.2.254 onlink
    }",
    );
    let loaded = keepalived_ok(&text);
    assert_eq!(
        warning_lines(&loaded.warnings),
        [
            (9, "auth_pass: longer than 8 characters; only the first 8 are used (as keepalived does)".to_string()),
            (12, "unicast_peer 192.0.2.2: min_ttl is not supported, ignored".to_string()),
            (15, "virtual_routes 10.0.0.0/8 via 192.0.2.254 onlink: `onlink` is not supported, ignored".to_string()),
        ]
    );
    let inst = instance(&loaded.config, "VI_1");
    assert_eq!(inst.vrrp.auth, Auth::Simple(*b"12345678"));
    assert_eq!(
        inst.unicast_peers,
        ["192.0.2.2".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[test]
fn vrrp_script_and_sync_group_extras_warn() {
    let text = format!(
        "vrrp_script chk {{\n    script /bin/true\n    user nobody\n}}\n{}vrrp_sync_group G {{\n    group {{\n        VI_1\n    }}\n    global_tracking\n}}\n",
        ka_instance("    track_script {\n        chk\n    }")
    );
    let loaded = keepalived_ok(&text);
    assert_eq!(
        warning_lines(&loaded.warnings),
        [
            (19, "`global_tracking` in vrrp_sync_group G is not supported, ignored (track objects in the instances instead)".to_string()),
            (15, "sync group `G` has one member; a group only matters with two or more".to_string()),
        ]
    );
    assert_eq!(
        instance(&loaded.config, "VI_1").vrrp.sync_group.as_deref(),
        Some("G")
    );
    // keepalived's `user USER [GROUP]`: the script's own user.
    assert_eq!(
        loaded.config.scripts[0].user,
        Some(vrrp_agent::config::ScriptUser {
            user: "nobody".into(),
            group: None
        })
    );
}

#[test]
fn toml_warnings_name_the_entry_line() {
    let loaded = toml_ok(&toml_instance(
        "excluded_addresses = [\n    \"10.0.0.1/24\",\n    \"10.0.0.2/24 dev eth1 noprefixroute\",\n]",
    ));
    assert_eq!(
        loaded.warnings,
        [ConfigWarning {
            file: "inline.toml".into(),
            line: 8,
            message: "instance `VI_1`: excluded_addresses 10.0.0.2/24: `noprefixroute` is not supported, ignored".into(),
        }]
    );
}
