//! `keepalived -t` / `--config-test[=LOG_FILE]` through the binary, invoked as a link named
//! `keepalived` (as Neutron's PATH finds it) and as `vrrp-agent keepalived`: keepalived
//! 2.2.7's exit codes (0 clean, 4 cannot run, 5 warnings; a missing file is 0), its report
//! lines on stderr or appended to the log file, nothing on stdout, no fork, no pid files.
//! Unprivileged.

mod config_support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use config_support::config_fixture;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ka-t-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A link named `keepalived` to the agent binary.
    fn keepalived(&self) -> PathBuf {
        let link = self.path("keepalived");
        if !link.exists() {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vrrp-agent"), &link).unwrap();
        }
        link
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(bin: &Path, args: &[&str], settings: &Path) -> Output {
    Command::new(bin)
        .args(args)
        .env("VRRP_AGENT_SETTINGS", settings)
        .env_remove("RUST_LOG")
        .output()
        .expect("run the agent")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const UNKNOWN_KEYWORD: &str = "global_defs {
    router_id neutron
}
vrrp_instance VR_1 {
    state BACKUP
    interface ha-1
    virtual_router_id 1
    priority 50
    bogus_kw 3
    virtual_ipaddress {
        169.254.0.1/24 dev ha-1
    }
}
";

#[test]
fn neutron_configs_pass_silently_with_neutrons_command_line() {
    let d = Dir::new("neutron");
    let bin = d.keepalived();
    let settings = d.path("no-settings.toml");
    let pid = d.path("r.pid.keepalived");
    let vrrp_pid = d.path("r.pid.keepalived-vrrp");
    for name in [
        "neutron-router.conf",
        "neutron-l3-functional.conf",
        "neutron-health-check.conf",
        "neutron-unit-no-vips.conf",
        "neutron-unit-track-script.conf",
    ] {
        let conf = config_fixture(name);
        let o = run(
            &bin,
            &[
                "-P",
                "-f",
                conf.to_str().unwrap(),
                "-p",
                pid.to_str().unwrap(),
                "-r",
                vrrp_pid.to_str().unwrap(),
                "-t",
            ],
            &settings,
        );
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{name}: keepalived prints nothing");
        assert!(o.stdout.is_empty(), "{name}: nothing on stdout");
        assert!(
            !pid.exists() && !vrrp_pid.exists(),
            "{name}: a config test writes no pid file"
        );
    }
}

#[test]
fn warnings_exit_5_with_keepalived_lines() {
    let d = Dir::new("warn");
    let conf = d.path("keepalived.conf");
    std::fs::write(&conf, UNKNOWN_KEYWORD).unwrap();
    let settings = d.path("no-settings.toml");
    let o = run(
        &d.keepalived(),
        &["-t", "-f", conf.to_str().unwrap()],
        &settings,
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "({}: Line 9) unknown keyword `bogus_kw` in vrrp_instance VR_1, ignored\n",
            conf.display()
        )
    );
    assert!(o.stdout.is_empty());

    // The same through the subcommand, with the long option.
    let o = run(
        Path::new(env!("CARGO_BIN_EXE_vrrp-agent")),
        &[
            "keepalived",
            "--config-test",
            "--use-file",
            conf.to_str().unwrap(),
        ],
        &settings,
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
}

#[test]
fn a_log_file_gets_the_report_appended() {
    let d = Dir::new("log");
    let conf = d.path("keepalived.conf");
    std::fs::write(&conf, UNKNOWN_KEYWORD).unwrap();
    let log = d.path("test.log");
    std::fs::write(&log, "earlier\n").unwrap();
    let settings = d.path("no-settings.toml");
    let arg = format!("--config-test={}", log.display());
    let o = run(
        &d.keepalived(),
        &[&arg, "-f", conf.to_str().unwrap()],
        &settings,
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "the report went to the log file");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("earlier\n"), "appended: {text}");
    assert!(
        text.contains("Line 9) unknown keyword `bogus_kw`"),
        "{text}"
    );
    // `-tFILE`, getopt's attached optional value.
    let o = run(
        &d.keepalived(),
        &[
            &format!("-t{}", log.display()),
            "-f",
            conf.to_str().unwrap(),
        ],
        &settings,
    );
    assert_eq!(o.status.code(), Some(5));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("bogus_kw").count(), 2, "{text}");
}

#[test]
fn refused_configs_exit_4_and_a_missing_file_0() {
    let d = Dir::new("codes");
    let settings = d.path("no-settings.toml");
    let conf = d.path("keepalived.conf");
    std::fs::write(
        &conf,
        UNKNOWN_KEYWORD
            .replace("    bogus_kw 3\n", "")
            .replace("virtual_router_id 1", "virtual_router_id 300"),
    )
    .unwrap();
    let o = run(
        &d.keepalived(),
        &["-t", "-f", conf.to_str().unwrap()],
        &settings,
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with(&format!("({}: Line 7) ", conf.display())),
        "{}",
        stderr(&o)
    );

    // keepalived 2.2.7 reports a missing file at CONFIG_OK severity: exit 0.
    let missing = d.path("missing.conf");
    let o = run(
        &d.keepalived(),
        &["-t", "-f", missing.to_str().unwrap()],
        &settings,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!("Config files missing '{}'.\n", missing.display())
    );

    // The node-wide settings file the start would read is checked too.
    std::fs::write(&conf, UNKNOWN_KEYWORD.replace("    bogus_kw 3\n", "")).unwrap();
    let bad_settings = d.path("keepalived.toml");
    std::fs::write(&bad_settings, "frobnicate = 1\n").unwrap();
    let o = run(
        &d.keepalived(),
        &["-t", "-f", conf.to_str().unwrap()],
        &bad_settings,
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let o = run(
        &d.keepalived(),
        &["-t", "-f", conf.to_str().unwrap()],
        &settings,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
