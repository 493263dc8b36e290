//! `conntrack_sync` in the native TOML: per instance, with a node-wide default in
//! `[global]`, off unless set; keepalived.conf has no such keyword (its instances follow the
//! default, which only TOML sets).

mod config_support;

use config_support::*;

const TWO: &str = r#"
[[instance]]
name = "a"
interface = "eth0"
vrid = 1
virtual_addresses = ["10.0.0.1/24"]
{a}

[[instance]]
name = "b"
interface = "eth0"
vrid = 2
virtual_addresses = ["10.0.0.2/24"]
{b}
"#;

fn syncs(global: &str, a: &str, b: &str) -> (bool, bool) {
    let text = format!("{global}\n{}", TWO.replace("{a}", a).replace("{b}", b));
    let c = toml_ok(&text).config;
    (
        instance(&c, "a").syncs_conntrack(&c.global),
        instance(&c, "b").syncs_conntrack(&c.global),
    )
}

#[test]
fn off_by_default() {
    assert_eq!(syncs("", "", ""), (false, false));
}

#[test]
fn per_instance() {
    assert_eq!(syncs("", "conntrack_sync = true", ""), (true, false));
}

#[test]
fn the_global_default_applies_to_instances_without_their_own() {
    let global = "[global]\nconntrack_sync = true";
    assert_eq!(syncs(global, "", ""), (true, true));
    assert_eq!(syncs(global, "conntrack_sync = false", ""), (false, true));
}

#[test]
fn a_value_that_is_not_a_boolean_is_an_error_naming_its_line() {
    let text = TWO
        .replace("{a}", "conntrack_sync = \"yes\"")
        .replace("{b}", "");
    let e = toml_err(&text);
    assert_eq!(e.line, 7, "{e}");
}

#[test]
fn keepalived_conf_instances_follow_the_default() {
    let c = keepalived_ok(
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  priority 100\n  \
         virtual_ipaddress {\n    10.0.0.1/24\n  }\n}\n",
    )
    .config;
    assert_eq!(c.instances[0].conntrack_sync, None);
    assert!(!c.instances[0].syncs_conntrack(&c.global));
}

#[test]
fn check_config_names_it() {
    let text = TWO
        .replace("{a}", "conntrack_sync = true")
        .replace("{b}", "");
    let s = vrrp_agent::config::summary(&toml_ok(&text).config);
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[1].ends_with(", conntrack_sync"), "{s}");
    assert!(!lines[2].contains("conntrack_sync"), "{s}");
}
