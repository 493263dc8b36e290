//! The Neutron-style TOML example and the same router in keepalived.conf syntax produce the
//! same instance, apart from what keepalived cannot say: the namespace (keepalived runs inside
//! it) and the reachability check.

mod config_support;

use config_support::*;
use vrrp_agent::config::{InstanceSpec, TrackSpec};

/// Drops the namespace and the reachability checks.
fn without_toml_only_parts(mut spec: InstanceSpec) -> InstanceSpec {
    spec.netns = None;
    let keep: Vec<bool> = spec
        .track
        .iter()
        .map(|t| !matches!(t, TrackSpec::Reachability(_)))
        .collect();
    let mut i = 0;
    spec.vrrp.tracked.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    spec.track
        .retain(|t| !matches!(t, TrackSpec::Reachability(_)));
    spec
}

#[test]
fn neutron_router_toml_equals_its_keepalived_conf() {
    let toml = load_ok(&examples_dir().join("neutron-router.toml")).config;
    let conf = load_ok(&config_fixture("neutron-router.conf")).config;
    assert_eq!(toml.instances.len(), 1);
    assert_eq!(conf.instances.len(), 1);
    let from_toml = toml.instances[0].clone();
    let from_conf = conf.instances[0].clone();
    // What differs, exactly.
    assert!(from_toml.netns.is_some() && from_conf.netns.is_none());
    assert_eq!(from_toml.track.len(), from_conf.track.len() + 1);
    assert!(matches!(
        from_toml.track.last(),
        Some(TrackSpec::Reachability(_))
    ));
    assert_ne!(from_toml, from_conf);
    // Everything else is equal.
    assert_eq!(without_toml_only_parts(from_toml), from_conf);
    assert_eq!(toml.global.router_id, conf.global.router_id);
}
