//! Shared by the `config_*` test files: where the fixtures and examples are, loading them,
//! parsing inline texts, and finding the instance or warning a test is about. Each test file
//! uses a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use vrrp_agent::config::{
    self, AgentConfig, ConfigError, ConfigWarning, InstanceSpec, Loaded, parse_keepalived,
    parse_toml,
};

/// `vrrp-agent/tests/fixtures/config/`.
pub fn config_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

/// The keepalived captures and their configs (`tests/fixtures/keepalived/` at the workspace
/// root): the one list of them.
#[path = "../../../tests/fixtures/keepalived/captures.rs"]
pub mod captures;

/// The keepalived captures' configs, `tests/fixtures/keepalived/` at the workspace root.
pub fn keepalived_fixtures_dir() -> PathBuf {
    captures::captures_dir()
}

/// `vrrp-agent/config-examples/`.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples")
}

/// Files in `dir` whose name ends in `suffix`, sorted.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    out
}

/// Loads a file that must load.
pub fn load_ok(path: &Path) -> Loaded {
    config::load(path).unwrap_or_else(|e| panic!("{e}"))
}

/// The path inline texts are parsed under.
pub const INLINE: &str = "inline.conf";

/// keepalived text that must parse.
pub fn keepalived_ok(text: &str) -> Loaded {
    parse_keepalived(text, Path::new(INLINE)).unwrap_or_else(|e| panic!("{e}"))
}

/// keepalived text that must fail.
pub fn keepalived_err(text: &str) -> ConfigError {
    match parse_keepalived(text, Path::new(INLINE)) {
        Ok(l) => panic!("expected an error, got {:#?}", l.config),
        Err(e) => e,
    }
}

/// TOML text that must parse.
pub fn toml_ok(text: &str) -> Loaded {
    parse_toml(text, Path::new("inline.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// TOML text that must fail.
pub fn toml_err(text: &str) -> ConfigError {
    match parse_toml(text, Path::new("inline.toml")) {
        Ok(l) => panic!("expected an error, got {:#?}", l.config),
        Err(e) => e,
    }
}

/// The instance called `name`.
pub fn instance<'a>(config: &'a AgentConfig, name: &str) -> &'a InstanceSpec {
    config
        .instances
        .iter()
        .find(|i| i.vrrp.name == name)
        .unwrap_or_else(|| panic!("no instance {name}"))
}

/// (line, message) of each warning.
pub fn warning_lines(warnings: &[ConfigWarning]) -> Vec<(usize, String)> {
    warnings
        .iter()
        .map(|w| (w.line, w.message.clone()))
        .collect()
}

/// A minimal valid keepalived instance `VI_1` (eth0, VRID 51, 192.0.2.1/24) with `extra`
/// inserted before its closing brace: the first extra line is line 7.
pub fn ka_instance(extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {{\n        192.0.2.1/24\n    }}\n{extra}\n}}\n"
    )
}

/// A minimal valid TOML instance `VI_1` (eth0, VRID 51, 192.0.2.1/24) followed by `extra`:
/// the first extra line is line 6.
pub fn toml_instance(extra: &str) -> String {
    format!(
        "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\nvirtual_addresses = [\"192.0.2.1/24\"]\n{extra}\n"
    )
}

/// Asserts an error's file, line and message.
#[track_caller]
pub fn assert_error(err: &ConfigError, file: &str, line: usize, message: &str) {
    assert_eq!(
        (err.file.to_str(), err.line, err.message.as_str()),
        (Some(file), line, message),
        "{err}"
    );
}

/// The error of inline keepalived text, checked.
#[track_caller]
pub fn ka_fails(text: &str, line: usize, message: &str) {
    assert_error(&keepalived_err(text), INLINE, line, message);
}

/// The error of inline TOML text, checked.
#[track_caller]
pub fn toml_fails(text: &str, line: usize, message: &str) {
    assert_error(&toml_err(text), "inline.toml", line, message);
}

/// An expected virtual address.
pub fn vaddr(
    addr: &str,
    prefix_len: u8,
    dev: Option<&str>,
    scope: Option<&str>,
    no_track: bool,
) -> vrrp_agent::fsm::VirtualAddress {
    vrrp_agent::fsm::VirtualAddress {
        addr: addr.parse().expect("test address"),
        prefix_len,
        dev: dev.map(str::to_string),
        scope: scope.map(str::to_string),
        label: None,
        broadcast: None,
        no_track,
    }
}

/// An expected virtual route (no table, metric or src).
pub fn vroute(
    dst: &str,
    prefix_len: u8,
    via: Option<&str>,
    dev: Option<&str>,
    scope: Option<&str>,
    protocol: Option<&str>,
    no_track: bool,
) -> vrrp_agent::fsm::VirtualRoute {
    vrrp_agent::fsm::VirtualRoute {
        dst: dst.parse().expect("test address"),
        prefix_len,
        via: via.map(|v| v.parse().expect("test address")),
        dev: dev.map(str::to_string),
        scope: scope.map(str::to_string),
        protocol: protocol.map(str::to_string),
        table: None,
        metric: None,
        src: None,
        no_track,
    }
}

/// An expected tracked object.
pub fn tracked(name: &str, weight: i32) -> vrrp_agent::fsm::TrackedObject {
    vrrp_agent::fsm::TrackedObject {
        name: name.to_string(),
        weight,
    }
}

/// Reads a fixture's text.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
