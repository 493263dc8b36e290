//! Every file in `vrrp-agent/config-examples/` loads as TOML without warnings, and the values
//! its comments describe are the ones the model gets.

mod config_support;

use std::{net::IpAddr, time::Duration};

use config_support::*;
use vrrp_agent::{
    config::{Format, ProbeMethod, ReachabilitySpec, TrackSpec},
    fsm::{GarpConfig, InitialState},
    packet::{Auth, Centisecs, Version},
};

fn example(name: &str) -> vrrp_agent::config::AgentConfig {
    load_ok(&examples_dir().join(name)).config
}

#[test]
fn every_example_loads_without_warnings() {
    let files = files_ending(&examples_dir(), ".toml");
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "many-routers.toml",
            "neutron-router.toml",
            "standalone-pair.toml"
        ]
    );
    for path in &files {
        let loaded = load_ok(path);
        assert_eq!(loaded.format, Format::Toml);
        assert!(
            loaded.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            loaded.warnings
        );
        assert!(!loaded.config.instances.is_empty());
        for inst in &loaded.config.instances {
            assert_eq!(inst.vrrp.validate(), Ok(()));
            assert_eq!(inst.track.len(), inst.vrrp.tracked.len());
        }
    }
}

#[test]
fn standalone_pair_node_a() {
    let c = example("standalone-pair.toml");
    assert_eq!(c.global.router_id.as_deref(), Some("edge-a"));
    assert_eq!(c.global.notify_timeout, Duration::from_secs(10));
    assert_eq!(
        c.global.status_socket.to_str(),
        Some("/run/vrrp-agent/agent.sock")
    );
    assert_eq!(c.scripts.len(), 1);
    let s = &c.scripts[0];
    assert_eq!(
        (s.name.as_str(), s.command.as_str()),
        ("check_haproxy", "/usr/bin/pgrep -x haproxy")
    );
    assert_eq!(
        (s.interval, s.timeout),
        (Duration::from_secs(2), Duration::from_secs(1))
    );
    assert_eq!((s.fall, s.rise, s.weight), (2, 3, -60));

    let web4 = instance(&c, "VI_web4");
    let v = &web4.vrrp;
    assert_eq!(
        (web4.netns.as_deref(), web4.interface.as_str()),
        (None, "eth0")
    );
    assert_eq!((v.vrid, v.priority, v.version), (51, 150, Version::V3));
    assert_eq!(v.advert_interval, Centisecs(100));
    assert!(v.preempt && v.accept_mode);
    assert_eq!(v.preempt_delay, Duration::from_secs(5));
    assert_eq!(v.initial_state, InitialState::Backup);
    assert_eq!(v.auth, Auth::None);
    let mut labelled = vaddr("192.0.2.101", 24, None, None, false);
    labelled.label = Some("eth0:vip2".into());
    assert_eq!(
        v.virtual_addresses,
        [vaddr("192.0.2.100", 24, None, None, false), labelled]
    );
    assert_eq!(
        v.excluded_addresses,
        [vaddr("198.51.100.1", 24, Some("eth1"), None, false)]
    );
    let mut metric = vroute(
        "203.0.113.0",
        24,
        Some("198.51.100.254"),
        Some("eth1"),
        None,
        None,
        false,
    );
    metric.metric = Some(100);
    let mut table = vroute(
        "0.0.0.0",
        0,
        Some("192.0.2.1"),
        None,
        None,
        Some("static"),
        false,
    );
    table.table = Some(100);
    assert_eq!(v.routes, [metric, table]);
    assert_eq!(
        v.tracked,
        [
            tracked("eth0", 0),
            tracked("eth1", -20),
            tracked("check_haproxy", -60)
        ]
    );
    assert_eq!(v.garp, GarpConfig::default());
    assert_eq!(
        web4.notify.any.as_deref(),
        Some("/etc/vrrp-agent/notify.sh")
    );
    assert_eq!(
        web4.notify.master.as_deref(),
        Some("/usr/bin/systemctl start haproxy")
    );
    assert_eq!(v.sync_group.as_deref(), Some("web"));

    let web6 = instance(&c, "VI_web6");
    assert!(web6.vrrp.is_ipv6());
    assert_eq!(web6.vrrp.vrid, 51, "same VRID, other family");
    assert_eq!(
        web6.vrrp.virtual_addresses,
        [vaddr("2001:db8::100", 64, None, None, false)]
    );
    assert_eq!(web6.vrrp.sync_group.as_deref(), Some("web"));

    assert_eq!(c.sync_groups.len(), 1);
    assert_eq!(c.sync_groups[0].members, ["VI_web4", "VI_web6"]);
    assert_eq!(
        c.sync_groups[0].notify.master.as_deref(),
        Some("/etc/vrrp-agent/group-master.sh")
    );
}

#[test]
fn neutron_router() {
    let c = example("neutron-router.toml");
    let r = instance(&c, "VR_7");
    let v = &r.vrrp;
    assert_eq!(
        r.netns.as_deref(),
        Some("qrouter-5c3a7f2e-8b1d-4e6a-9f0c-2d4b6a8c1e3f")
    );
    assert_eq!(r.interface, "ha-1f2e3d4c-5b");
    assert_eq!((v.vrid, v.priority, v.version), (7, 50, Version::V2));
    assert_eq!(v.advert_interval, Centisecs(200));
    assert!(!v.preempt);
    assert_eq!(v.auth, Auth::Simple(*b"s3cr3tpw"));
    assert_eq!(v.garp.master_delay, Duration::from_secs(60));
    assert_eq!(
        v.virtual_addresses,
        [vaddr(
            "169.254.0.7",
            24,
            Some("ha-1f2e3d4c-5b"),
            None,
            false
        )]
    );
    assert_eq!(v.excluded_addresses.len(), 5);
    assert_eq!(
        v.excluded_addresses[2],
        vaddr("203.0.113.25", 32, Some("qg-9f8e7d6c-5b"), None, true)
    );
    assert_eq!(
        v.excluded_addresses[4],
        vaddr(
            "fe80::f816:3eff:fe44:5566",
            64,
            Some("qg-9f8e7d6c-5b"),
            Some("link"),
            true
        )
    );
    assert_eq!(
        v.routes,
        [vroute(
            "0.0.0.0",
            0,
            Some("203.0.113.1"),
            Some("qg-9f8e7d6c-5b"),
            None,
            Some("static"),
            true
        )]
    );
    assert_eq!(
        v.tracked,
        [
            tracked("ha-1f2e3d4c-5b", 0),
            tracked("qr-a1b2c3d4-e5", -10),
            tracked("qg-9f8e7d6c-5b", -20),
            tracked("gateway", 0),
        ]
    );
    assert_eq!(
        r.track[3],
        TrackSpec::Reachability(ReachabilitySpec {
            address: "203.0.113.1".parse().unwrap(),
            interface: "qg-9f8e7d6c-5b".into(),
            method: ProbeMethod::Neighbour,
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            fall: 3,
            rise: 2,
        })
    );
}

#[test]
fn many_routers_share_one_agent() {
    let c = example("many-routers.toml");
    assert_eq!(c.instances.len(), 3);
    let netns: Vec<&str> = c
        .instances
        .iter()
        .map(|i| i.netns.as_deref().unwrap())
        .collect();
    assert_eq!(
        netns,
        [
            "qrouter-0a1b2c3d-0000-4000-8000-000000000001",
            "qrouter-0a1b2c3d-0000-4000-8000-000000000002",
            "qrouter-0a1b2c3d-0000-4000-8000-000000000003",
        ]
    );
    // Every router balances its master across the nodes (`[global] balance`).
    assert!(c.global.balance && c.instances.iter().all(|i| i.vrrp.balance));
    // router-a and router-b share VRID 1 in different namespaces.
    assert_eq!(instance(&c, "router-a").vrrp.vrid, 1);
    assert_eq!(instance(&c, "router-b").vrrp.vrid, 1);
    let b = instance(&c, "router-b");
    assert_eq!(b.vrrp.tracked[1], tracked("reach:203.0.113.1", 0));
    let TrackSpec::Reachability(reach) = &b.track[1] else {
        panic!("expected a reachability check, got {:?}", b.track[1]);
    };
    // The documented defaults.
    assert_eq!(reach.method, ProbeMethod::Neighbour);
    assert_eq!(
        (reach.interval, reach.timeout),
        (Duration::from_secs(1), Duration::from_secs(1))
    );
    assert_eq!((reach.fall, reach.rise), (3, 2));
    let router_c = instance(&c, "router-c");
    assert!(router_c.vrrp.is_ipv6());
    assert_eq!(router_c.vrrp.version, Version::V3, "the TOML default");
    assert_eq!(
        router_c.vrrp.routes[0].via,
        Some("fe80::1".parse::<IpAddr>().unwrap())
    );
}
