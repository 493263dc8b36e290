//! Balancing in the native TOML format: `balance` per instance, its default `[global]
//! balance`, the node-wide `balance_hysteresis` and `balance_cooldown`, and what the state
//! machine refuses with it (an address owner, a sync group), each at its line.

mod config_support;

use std::time::Duration;

use config_support::*;
use vrrp_agent::fsm::BalanceSettings;

#[test]
fn balance_is_off_unless_asked_and_an_instance_may_differ_from_the_global_default() {
    let off = toml_ok(&toml_instance(""));
    assert!(!instance(&off.config, "VI_1").vrrp.balance);
    assert_eq!(
        off.config.global.balance_settings,
        BalanceSettings::default()
    );
    let on = toml_ok(&toml_instance("balance = true"));
    assert!(instance(&on.config, "VI_1").vrrp.balance);
    assert!(on.warnings.is_empty());

    let text = format!(
        "[global]\nbalance = true\nbalance_hysteresis = 1\nbalance_cooldown = 2.5\n{}\
         [[instance]]\nname = \"VI_2\"\ninterface = \"eth0\"\nvrid = 52\n\
         virtual_addresses = [\"192.0.2.2/24\"]\nbalance = false\n",
        toml_instance("")
    );
    let both = toml_ok(&text);
    assert!(instance(&both.config, "VI_1").vrrp.balance, "the default");
    assert!(!instance(&both.config, "VI_2").vrrp.balance, "its own");
    assert_eq!(
        both.config.global.balance_settings,
        BalanceSettings {
            hysteresis: 1,
            cooldown: Some(Duration::from_millis(2500)),
        }
    );
    let summary = vrrp_agent::config::summary(&both.config);
    assert!(
        summary.contains("VRID 51") && summary.contains("balanced (priority: the node's load)"),
        "{summary}"
    );
}

#[test]
fn bad_node_settings_are_errors_at_their_line() {
    toml_fails(
        "[global]\nbalance_hysteresis = 101\n",
        2,
        "global: balance_hysteresis: expected a number 0-100, got `101`",
    );
    let e = toml_err("[global]\nbalance_cooldown = 0\n");
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("balance_cooldown"), "{e}");
}

#[test]
fn an_address_owner_or_a_sync_group_member_cannot_balance() {
    toml_fails(
        &toml_instance("priority = 255\nbalance = true"),
        6,
        "instance VI_1: balance and priority 255 exclude each other (a balanced router's \
         priority is its node's load; an address owner never gives its router away)",
    );
    let text = format!(
        "[global]\nbalance = true\n{}[[sync_group]]\nname = \"G\"\nmembers = [\"VI_1\"]\n",
        toml_instance("")
    );
    let e = toml_err(&text);
    assert_eq!(e.line, 3, "the instance: {e}");
    assert!(e.message.contains("sync groups exclude"), "{e}");
}

#[test]
fn tracked_weights_are_said_to_have_no_effect_on_a_balanced_instance() {
    let loaded = toml_ok(&toml_instance(
        "balance = true\ntrack_interfaces = [\"qg-1 weight -10\", \"ha-1\"]",
    ));
    let warnings = warning_lines(&loaded.warnings);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].0, 1);
    assert!(
        warnings[0].1.contains("weights do not count"),
        "{warnings:?}"
    );
}
