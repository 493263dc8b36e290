//! Loading files: unreadable files, the format choice (extension, then content), and that
//! `parse_toml` / `parse_keepalived` say which format they read.

mod config_support;

use std::path::{Path, PathBuf};

use config_support::*;
use vrrp_agent::config::{Format, detect, load, parse_keepalived, parse_toml};

/// A file under cargo's per-test-target temporary directory.
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("config_load");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("temp file");
    path
}

#[test]
fn a_missing_file_is_an_error_at_line_zero() {
    let path = Path::new("/nonexistent/vrrp-agent/keepalived.conf");
    let err = load(path).unwrap_err();
    assert_eq!((err.file.as_path(), err.line), (path, 0));
    assert_eq!(
        err.message,
        "cannot read the configuration file: No such file or directory (os error 2)"
    );
    assert_eq!(
        err.to_string(),
        "/nonexistent/vrrp-agent/keepalived.conf:0: cannot read the configuration file: No such file or directory (os error 2)"
    );
}

#[test]
fn a_directory_is_an_error_at_line_zero() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let err = load(dir).unwrap_err();
    assert_eq!(err.line, 0);
    assert!(
        err.message
            .starts_with("cannot read the configuration file: "),
        "{err}"
    );
}

#[test]
fn invalid_utf8_names_the_line() {
    let path = temp_file("latin1.conf", b"global_defs {\n    router_id caf\xe9\n}\n");
    let err = load(&path).unwrap_err();
    assert_eq!(
        (err.line, err.message.as_str()),
        (2, "the file is not valid UTF-8")
    );
}

#[test]
fn the_extension_or_the_content_picks_the_format() {
    let toml = toml_instance("");
    let conf = ka_instance("");
    assert_eq!(detect(Path::new("a.toml"), ""), Format::Toml);
    assert_eq!(detect(Path::new("a.TOML"), &conf), Format::Toml);
    assert_eq!(detect(Path::new("keepalived.conf"), &toml), Format::Toml);
    assert_eq!(
        detect(Path::new("agent.cfg"), "[global]\nrouter_id = \"x\"\n"),
        Format::Toml
    );
    assert_eq!(
        detect(Path::new("keepalived.conf"), &conf),
        Format::Keepalived
    );
    // Valid TOML without our tables is not our format.
    assert_eq!(detect(Path::new("x.conf"), "a = 1\n"), Format::Keepalived);
    assert_eq!(detect(Path::new("x"), ""), Format::Keepalived);

    let from_conf_name = load_ok(&temp_file("native-in-disguise.conf", toml.as_bytes()));
    assert_eq!(from_conf_name.format, Format::Toml);
    assert_eq!(from_conf_name.config.instances[0].vrrp.vrid, 51);
    let keepalived = load_ok(&temp_file("keepalived.conf", conf.as_bytes()));
    assert_eq!(keepalived.format, Format::Keepalived);
    assert_eq!(keepalived.config.instances[0].vrrp.vrid, 51);
    // A .toml name is read as TOML even when it is not: the error is TOML's.
    let err = load(&temp_file("wrong.toml", conf.as_bytes())).unwrap_err();
    assert_eq!(err.line, 1);
}

#[test]
fn the_parse_functions_report_their_format_and_file() {
    let l = parse_toml(&toml_instance(""), Path::new("/etc/vrrp-agent/agent.toml")).unwrap();
    assert_eq!(l.format, Format::Toml);
    let l = parse_keepalived(
        &ka_instance(""),
        Path::new("/etc/keepalived/keepalived.conf"),
    )
    .unwrap();
    assert_eq!(l.format, Format::Keepalived);
    let err = parse_keepalived(
        &ka_instance("    priority 0"),
        Path::new("/etc/keepalived/keepalived.conf"),
    )
    .unwrap_err();
    assert_eq!(err.file, Path::new("/etc/keepalived/keepalived.conf"));
}

#[test]
fn an_empty_file_loads_with_a_warning() {
    for loaded in [
        keepalived_ok(""),
        toml_ok(""),
        keepalived_ok("# nothing\n! at all\n"),
    ] {
        assert!(loaded.config.instances.is_empty());
        assert_eq!(
            warning_lines(&loaded.warnings),
            [(
                0,
                "no instances configured: the agent would do nothing".to_string()
            )]
        );
    }
}
