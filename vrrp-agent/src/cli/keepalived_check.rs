//! `keepalived -t` / `--config-test[=LOG_FILE]`: check the configuration the way keepalived
//! 2.2.7 does and exit, without forking, pid files or sockets. The check is `check-config`'s
//! (`config::load`), plus the node-wide settings file the start would read too.
//!
//! What keepalived does (keepalived/core/main.c, `case 't'` and `config_test_exit`;
//! lib/parser.c `vreport_config_error`; codes in lib/scheduler.h): every configuration problem
//! is one line on stderr, `(FILE: Line N) message`, or appended to LOG_FILE when given; nothing
//! on stdout; exit 0 (`KEEPALIVED_CHK_EXIT_OK`) when nothing was reported, 4
//! (`KEEPALIVED_CHK_EXIT_CONFIG`) when the configuration cannot be run, 5
//! (`KEEPALIVED_CHK_EXIT_CONFIG_TEST`) when it runs with warnings (unknown keywords, bad values
//! it skips). A configuration file that does not exist prints `Config files missing 'FILE'.`
//! and exits 0: keepalived reports it at `CONFIG_OK` severity (lib/parser.c
//! `open_and_check_glob`), and so do we, to stay a drop-in. Here a configuration the agent
//! refuses (an error, where keepalived would skip the bad part) exits 4: the agent cannot run it.

use std::{
    fs::OpenOptions,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use vrrp_agent::config::{self, ConfigError, ConfigWarning};

use super::keepalived_args::KeepalivedArgs;

/// `KEEPALIVED_CHK_EXIT_OK`: nothing to report.
pub const EXIT_OK: i32 = 0;
/// `KEEPALIVED_CHK_EXIT_CONFIG`: the configuration cannot be run.
pub const EXIT_CANNOT_RUN: i32 = 4;
/// `KEEPALIVED_CHK_EXIT_CONFIG_TEST`: it runs, with warnings.
pub const EXIT_WARNINGS: i32 = 5;

/// What the test reports and its exit status.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub lines: Vec<String>,
    pub code: i32,
}

/// Checks `config` (and the settings file `settings`) as `keepalived -t` would.
pub fn check(config: &Path, settings: &Path) -> Report {
    if std::fs::metadata(config).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Report {
            lines: vec![format!("Config files missing '{}'.", config.display())],
            code: EXIT_OK,
        };
    }
    let loaded = match config::load(config) {
        Ok(loaded) => loaded,
        Err(e) => return cannot_run(&e),
    };
    if let Err(e) = config::settings::Settings::load(settings) {
        return cannot_run(&e);
    }
    let lines: Vec<String> = loaded.warnings.iter().map(warning_line).collect();
    let code = if lines.is_empty() {
        EXIT_OK
    } else {
        EXIT_WARNINGS
    };
    Report { lines, code }
}

/// Runs the test for `args` (`args.config_test` is set): writes the report to stderr or
/// appends it to the log file, returns the exit status.
pub fn run(args: &KeepalivedArgs) -> Result<i32> {
    let report = check(&args.config, &config::settings::Settings::path());
    let mut text = String::new();
    for line in &report.lines {
        text.push_str(line);
        text.push('\n');
    }
    match &args.config_test_log {
        Some(path) => append(path, &text)?,
        None => eprint!("{text}"),
    }
    Ok(report.code)
}

/// Appends to the test's log file as keepalived opens it: `O_APPEND | O_CREAT | O_NOFOLLOW`,
/// mode 0644.
fn append(path: &PathBuf, text: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("Unable to open config-test log file {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing the config-test log file {}", path.display()))
}

fn cannot_run(e: &ConfigError) -> Report {
    Report {
        lines: vec![located(&e.file, e.line, &e.message)],
        code: EXIT_CANNOT_RUN,
    }
}

fn warning_line(w: &ConfigWarning) -> String {
    located(&w.file, w.line, &w.message)
}

/// keepalived's `(FILE: Line N) message`; a message tied to no line is printed alone.
fn located(file: &Path, line: usize, message: &str) -> String {
    if line == 0 {
        message.to_string()
    } else {
        format!("({}: Line {line}) {message}", file.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("ka-check-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
        fn file(&self, name: &str, text: &str) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, text).unwrap();
            p
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const INSTANCE: &str = "vrrp_instance VR_1 {
    state BACKUP
    interface ha-1
    virtual_router_id 1
    priority 50
    virtual_ipaddress {
        169.254.0.1/24 dev ha-1
    }
}
";

    #[test]
    fn clean_warned_refused_and_missing() {
        let d = Dir::new("codes");
        let none = d.0.join("no-settings.toml");
        let clean = d.file("clean.conf", INSTANCE);
        assert_eq!(
            check(&clean, &none),
            Report {
                lines: vec![],
                code: 0
            }
        );

        let warned = d.file(
            "warned.conf",
            &INSTANCE.replace("priority 50", "bogus_kw 3"),
        );
        let r = check(&warned, &none);
        assert_eq!(r.code, EXIT_WARNINGS);
        assert_eq!(
            r.lines,
            [format!(
                "({}: Line 5) unknown keyword `bogus_kw` in vrrp_instance VR_1, ignored",
                warned.display()
            )]
        );

        let refused = d.file(
            "refused.conf",
            &INSTANCE.replace("virtual_router_id 1", "virtual_router_id 300"),
        );
        let r = check(&refused, &none);
        assert_eq!(r.code, EXIT_CANNOT_RUN);
        assert_eq!(r.lines.len(), 1);
        assert!(
            r.lines[0].starts_with(&format!("({}: Line 4) ", refused.display())),
            "{:?}",
            r.lines
        );

        let missing = d.0.join("missing.conf");
        assert_eq!(
            check(&missing, &none),
            Report {
                lines: vec![format!("Config files missing '{}'.", missing.display())],
                code: 0
            }
        );
    }

    #[test]
    fn a_bad_settings_file_cannot_run() {
        let d = Dir::new("settings");
        let clean = d.file("clean.conf", INSTANCE);
        let settings = d.file("keepalived.toml", "fast_path = true\nfrobnicate = 1\n");
        let r = check(&clean, &settings);
        assert_eq!(r.code, EXIT_CANNOT_RUN);
        assert!(
            r.lines[0].contains("keepalived.toml: Line 2)"),
            "{:?}",
            r.lines
        );
    }
}
