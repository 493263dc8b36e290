//! `summary()` describes a configuration in one line per instance, script and sync group.

mod config_support;

use config_support::*;
use vrrp_agent::config::summary;

#[test]
fn neutron_router_summary() {
    let c = load_ok(&examples_dir().join("neutron-router.toml")).config;
    assert_eq!(
        summary(&c),
        "1 instance, 0 scripts, 0 sync groups\n\
         instance VR_7: netns qrouter-5c3a7f2e-8b1d-4e6a-9f0c-2d4b6a8c1e3f, interface ha-1f2e3d4c-5b, VRID 7, VRRPv2 IPv4, priority 50, interval 2s, 1 address (+5 excluded), 1 route, nopreempt, tracking ha-1f2e3d4c-5b (interface, fault), qr-a1b2c3d4-e5 (interface, weight -10), qg-9f8e7d6c-5b (interface, weight -20), gateway (reachability, fault)\n"
    );
}

#[test]
fn scripts_and_groups_get_their_own_lines() {
    let c = load_ok(&examples_dir().join("standalone-pair.toml")).config;
    let text = summary(&c);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[0], "2 instances, 1 script, 1 sync group");
    assert_eq!(
        lines[2],
        "instance VI_web6: netns -, interface eth0, VRID 51, VRRPv3 IPv6, priority 150, interval 1s, 1 address, 0 routes, sync group web, tracking eth0 (interface, fault), check_haproxy (script, weight -60)"
    );
    assert_eq!(
        lines[3],
        "script check_haproxy: `/usr/bin/pgrep -x haproxy` every 2s (timeout 1s), fall 2, rise 3, weight -60"
    );
    assert_eq!(lines[4], "sync group web: VI_web4, VI_web6");
}

#[test]
fn centisecond_intervals_and_untracked_instances() {
    let c = load_ok(&captures::capture("v3-cs").config_path('a')).config;
    assert!(summary(&c).contains(", interval 0.05s, "));
    let c = keepalived_ok(&ka_instance("")).config;
    assert!(
        summary(&c).ends_with(", 0 routes, tracking nothing\n"),
        "{}",
        summary(&c)
    );
}
