//! The keepalived configurations used for the captures in `tests/fixtures/keepalived/` (2.2.7's,
//! and 2.3.3's with `v3_checksum_as_v2`) import without warnings, with the values the captures
//! show.

mod config_support;

use std::time::Duration;

use config_support::*;
use vrrp_agent::{
    config::Format,
    fsm::ChecksumPolicy,
    fsm::GarpConfig,
    packet::{Auth, Centisecs, ChecksumForm, Version},
};

/// Two nodes' configs for each capture of the list, and no other config in the folder.
fn all_configs() -> Vec<std::path::PathBuf> {
    let files = files_ending(&keepalived_fixtures_dir(), ".conf");
    let mut listed: Vec<std::path::PathBuf> = captures::CAPTURES
        .iter()
        .flat_map(|c| ['a', 'b'].map(|node| c.config_path(node)))
        .collect();
    listed.sort();
    assert_eq!(files, listed, "two nodes for each capture of the list");
    files
}

#[test]
fn every_capture_config_imports_cleanly() {
    for path in all_configs() {
        let loaded = load_ok(&path);
        assert_eq!(loaded.format, Format::Keepalived, "{}", path.display());
        assert!(
            loaded.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            loaded.warnings
        );
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let node = if name.contains("node-a") {
            "ha-a"
        } else {
            "ha-b"
        };
        let inst = instance(&loaded.config, "VR_1");
        assert_eq!(inst.interface, node, "{name}");
        assert_eq!((inst.vrrp.vrid, inst.vrrp.priority), (1, 50), "{name}");
        assert!(!inst.vrrp.preempt, "{name}: nopreempt");
        assert_eq!(inst.vrrp.tracked, [tracked(node, 0)], "{name}");
        // global_defs' vrrp_garp_master_* become every instance's garp schedule.
        assert_eq!(
            inst.vrrp.garp,
            GarpConfig {
                master_delay: Duration::from_secs(1),
                master_repeat: 3,
                ..GarpConfig::default()
            },
            "{name}"
        );
    }
}

#[test]
fn v2_pass_has_the_password_and_whole_seconds() {
    let c = load_ok(&captures::capture("v2-pass").config_path('a')).config;
    let v = &instance(&c, "VR_1").vrrp;
    assert_eq!(v.version, Version::V2);
    assert_eq!(v.auth, Auth::Simple(*b"secret12"));
    assert_eq!(v.advert_interval, Centisecs(100));
    assert_eq!(
        v.virtual_addresses,
        [vaddr("169.254.0.1", 24, Some("ha-a"), None, false)]
    );
    assert_eq!(
        v.excluded_addresses,
        [
            vaddr("10.0.10.1", 24, Some("ha-a"), None, false),
            vaddr("192.168.1.112", 32, Some("ha-a"), None, false),
        ]
    );
}

#[test]
fn v2_ah_has_the_key_of_the_capture() {
    for node in ['a', 'b'] {
        let path = captures::capture("v2-ah").config_path(node);
        let c = load_ok(&path).config;
        let v = &instance(&c, "VR_1").vrrp;
        assert_eq!(v.version, Version::V2);
        assert_eq!(
            v.auth,
            Auth::Ah {
                key: *b"secret12",
                seq: 0
            }
        );
        assert_eq!(v.advert_interval, Centisecs(100));
    }
}

#[test]
fn v3_centiseconds_and_an_empty_excluded_block() {
    let c = load_ok(&captures::capture("v3-cs").config_path('b')).config;
    let v = &instance(&c, "VR_1").vrrp;
    assert_eq!(v.version, Version::V3);
    assert_eq!(v.advert_interval, Centisecs(5), "advert_int 0.05");
    assert_eq!(v.auth, Auth::None);
    assert!(v.excluded_addresses.is_empty());
}

/// The capture list's `v3_checksum_as_v2` is the configs': those nodes send RFC 9568's form
/// only (`v3_checksum = "message_only"`), the others follow their peers.
#[test]
fn v3_checksum_as_v2_as_the_list_says() {
    for capture in captures::CAPTURES {
        for node in ['a', 'b'] {
            let c = load_ok(&capture.config_path(node)).config;
            let v = &instance(&c, "VR_1").vrrp;
            let want = if capture.v3_checksum_as_v2 {
                ChecksumPolicy::Fixed(ChecksumForm::MessageOnly)
            } else {
                ChecksumPolicy::Auto
            };
            assert_eq!(v.v3_checksum, want, "{capture} node {node}");
        }
    }
    let c = load_ok(&captures::capture("v3-rfc9568").config_path('b')).config;
    let v = &instance(&c, "VR_1").vrrp;
    assert_eq!(v.version, Version::V3);
    assert_eq!(v.advert_interval, Centisecs(100));
}

#[test]
fn v3_ipv6_instance() {
    let c = load_ok(&captures::capture("v3-ipv6").config_path('a')).config;
    let v = &instance(&c, "VR_1").vrrp;
    assert!(v.is_ipv6());
    assert_eq!(v.version, Version::V3);
    assert_eq!(
        v.virtual_addresses,
        [vaddr("fd00:1::100", 64, Some("ha-a"), None, false)]
    );
    assert_eq!(
        v.excluded_addresses,
        [vaddr("fd00:2::1", 64, Some("ha-a"), None, false)]
    );
}
