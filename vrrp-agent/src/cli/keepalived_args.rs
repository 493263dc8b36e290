//! keepalived's command line, as Neutron (and init scripts) use it:
//! `keepalived -P -f CONF -p PIDFILE -r VRRP_PIDFILE [-D] [-n] [-l]`, `--version` and the
//! configuration test `-t[LOG_FILE]` / `--config-test[=LOG_FILE]`.
//! getopt-style: short options may be joined (`-nlD`), values attached (`-fCONF`) or
//! separate; long options as `--use-file=CONF` or `--use-file CONF`. An optional value (only
//! `-t`'s) is attached or nothing, as getopt's `t::`. Pure parsing.

use std::path::PathBuf;

/// The version line Neutron parses: it reads the second word of the first stderr line to
/// decide which keepalived features (such as `no_track`) it may use.
pub fn version_text() -> String {
    format!(
        "Keepalived v2.2.7 (compatible; vrrp-agent {})\n\
         vrrp-agent {} - VRRP with an XDP data plane (vrrp-xdp), a drop-in for keepalived's \
         VRRP part.\n",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION"),
    )
}

pub const USAGE: &str = "\
Usage: keepalived [OPTION...]    (vrrp-agent's keepalived-compatible entry point)
  -f, --use-file=FILE          configuration file (default /etc/keepalived/keepalived.conf)
  -P, --vrrp                   only run the VRRP subsystem (the only one there is here)
  -p, --pid=FILE               main pid file (default /run/keepalived.pid)
  -r, --vrrp_pid=FILE          VRRP pid file (default /run/vrrp.pid)
  -n, --dont-fork              stay in the foreground
  -l, --log-console            log to the console (stderr)
  -D, --log-detail             detailed logs (debug level)
  -g, --log-file=FILE          log to FILE (background mode)
  -t, --config-test[=LOG_FILE] check the configuration, report on stderr (or append to
                               LOG_FILE) and exit: 0 clean, 4 it cannot run, 5 warnings
  -v, --version                print the version (on stderr, like keepalived)
  -h, --help                   this help
Accepted and ignored: -S/--log-facility, -G/--no-syslog, -X/--release-vips, -V, -I, -R,
--all, -d/--dump-conf, -m/--core-dump, -B/--no_bfd.
";

/// Parsed keepalived options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeepalivedArgs {
    pub config: PathBuf,
    pub pid_file: PathBuf,
    pub vrrp_pid_file: PathBuf,
    pub foreground: bool,
    pub log_console: bool,
    pub log_detail: bool,
    pub log_file: Option<PathBuf>,
    pub version: bool,
    pub help: bool,
    /// `-t` / `--config-test`: check the configuration and exit.
    pub config_test: bool,
    /// `--config-test=FILE` / `-tFILE`: where the test's report goes instead of stderr.
    pub config_test_log: Option<PathBuf>,
    /// Options accepted for compatibility but without effect.
    pub ignored: Vec<String>,
}

impl Default for KeepalivedArgs {
    fn default() -> Self {
        Self {
            config: PathBuf::from("/etc/keepalived/keepalived.conf"),
            pid_file: PathBuf::from("/run/keepalived.pid"),
            vrrp_pid_file: PathBuf::from("/run/vrrp.pid"),
            foreground: false,
            log_console: false,
            log_detail: false,
            log_file: None,
            version: false,
            help: false,
            config_test: false,
            config_test_log: None,
            ignored: Vec::new(),
        }
    }
}

/// Options that take a value: (short, long).
const WITH_VALUE: &[(char, &str)] = &[
    ('f', "use-file"),
    ('p', "pid"),
    ('r', "vrrp_pid"),
    ('g', "log-file"),
    ('S', "log-facility"),
];
const FLAGS: &[(char, &str)] = &[
    ('P', "vrrp"),
    ('n', "dont-fork"),
    ('l', "log-console"),
    ('D', "log-detail"),
    ('v', "version"),
    ('h', "help"),
    ('G', "no-syslog"),
    ('X', "release-vips"),
    ('V', "dont-release-vrrp"),
    ('I', "dont-release-ipvs"),
    ('R', "dont-respawn"),
    ('d', "dump-conf"),
    ('m', "core-dump"),
    ('B', "no_bfd"),
    ('C', "check"),
];
/// Options whose value is optional and can only be attached (`-tFILE`, `--config-test=FILE`).
const OPTIONAL_VALUE: &[(char, &str)] = &[('t', "config-test")];

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<KeepalivedArgs, String> {
    let mut out = KeepalivedArgs::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            if long.is_empty() {
                continue;
            }
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            if let Some((short, _)) = WITH_VALUE.iter().find(|(_, l)| *l == name) {
                let value = match inline {
                    Some(v) => v,
                    None => take(args, &mut i, arg)?,
                };
                apply_value(&mut out, *short, value);
            } else if let Some((short, _)) = OPTIONAL_VALUE.iter().find(|(_, l)| *l == name) {
                apply_optional(&mut out, *short, inline);
            } else if let Some((short, _)) = FLAGS.iter().find(|(_, l)| *l == name) {
                apply_flag(&mut out, *short, arg)?;
            } else if name == "all" {
                out.ignored.push(arg.clone());
            } else {
                return Err(format!("unknown option `{arg}`"));
            }
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let chars: Vec<char> = shorts.chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                if WITH_VALUE.iter().any(|(s, _)| *s == c) {
                    let rest: String = chars[j..].iter().collect();
                    let value = if rest.is_empty() {
                        take(args, &mut i, arg)?
                    } else {
                        rest
                    };
                    apply_value(&mut out, c, value);
                    break;
                } else if OPTIONAL_VALUE.iter().any(|(s, _)| *s == c) {
                    let rest: String = chars[j..].iter().collect();
                    apply_optional(&mut out, c, (!rest.is_empty()).then_some(rest));
                    break;
                } else if FLAGS.iter().any(|(s, _)| *s == c) {
                    apply_flag(&mut out, c, arg)?;
                } else {
                    return Err(format!("unknown option `-{c}` in `{arg}`"));
                }
            }
        } else {
            return Err(format!("unexpected argument `{arg}`"));
        }
    }
    Ok(out)
}

fn take(args: &[String], i: &mut usize, opt: &str) -> Result<String, String> {
    let v = args
        .get(*i)
        .cloned()
        .ok_or_else(|| format!("option `{opt}` needs a value"))?;
    *i += 1;
    Ok(v)
}

fn apply_value(out: &mut KeepalivedArgs, short: char, value: String) {
    match short {
        'f' => out.config = value.into(),
        'p' => out.pid_file = value.into(),
        'r' => out.vrrp_pid_file = value.into(),
        'g' => out.log_file = Some(value.into()),
        _ => out.ignored.push(format!("-{short} {value}")),
    }
}

fn apply_optional(out: &mut KeepalivedArgs, short: char, value: Option<String>) {
    if short == 't' {
        out.config_test = true;
        out.config_test_log = value.filter(|v| !v.is_empty()).map(PathBuf::from);
    }
}

fn apply_flag(out: &mut KeepalivedArgs, short: char, arg: &str) -> Result<(), String> {
    match short {
        'P' => {}
        'n' => out.foreground = true,
        'l' => out.log_console = true,
        'D' => out.log_detail = true,
        'v' => out.version = true,
        'h' => out.help = true,
        'C' => {
            return Err(format!(
                "`{arg}`: vrrp-agent has no checker (IPVS) subsystem; only the VRRP part (-P) exists"
            ));
        }
        other => out.ignored.push(format!("-{other}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<KeepalivedArgs, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn neutrons_command_line() {
        let a = p("-P -f /var/lib/neutron/ha_confs/r1/keepalived.conf \
                   -p /var/lib/neutron/ha_confs/r1.pid.keepalived \
                   -r /var/lib/neutron/ha_confs/r1.pid.keepalived-vrrp -D")
        .unwrap();
        assert_eq!(
            a.config,
            PathBuf::from("/var/lib/neutron/ha_confs/r1/keepalived.conf")
        );
        assert_eq!(
            a.pid_file,
            PathBuf::from("/var/lib/neutron/ha_confs/r1.pid.keepalived")
        );
        assert_eq!(
            a.vrrp_pid_file,
            PathBuf::from("/var/lib/neutron/ha_confs/r1.pid.keepalived-vrrp")
        );
        assert!(a.log_detail && !a.foreground && !a.version);
    }

    #[test]
    fn joined_and_long_forms() {
        let a = p("-nlD -fconf.txt --pid=/x.pid --vrrp_pid /y.pid --version").unwrap();
        assert!(a.foreground && a.log_console && a.log_detail && a.version);
        assert_eq!(a.config, PathBuf::from("conf.txt"));
        assert_eq!(a.pid_file, PathBuf::from("/x.pid"));
        assert_eq!(a.vrrp_pid_file, PathBuf::from("/y.pid"));
        let a = p("-P -X -S 0 --all").unwrap();
        assert_eq!(a.ignored, ["-X", "-S 0", "--all"]);
    }

    #[test]
    fn errors_are_clear() {
        assert_eq!(p("-f").unwrap_err(), "option `-f` needs a value");
        assert!(p("-Z").unwrap_err().contains("unknown option `-Z`"));
        assert!(
            p("--bogus")
                .unwrap_err()
                .contains("unknown option `--bogus`")
        );
        assert!(p("stray").unwrap_err().contains("unexpected argument"));
        assert!(p("-C").unwrap_err().contains("no checker"));
    }

    #[test]
    fn config_test_with_and_without_a_log_file() {
        let a = p("-t -f /etc/k.conf").unwrap();
        assert!(a.config_test);
        assert_eq!(a.config_test_log, None);
        assert_eq!(a.config, PathBuf::from("/etc/k.conf"));
        let a = p("-f /etc/k.conf --config-test").unwrap();
        assert!(a.config_test && a.config_test_log.is_none());
        let a = p("--config-test=/tmp/t.log -fk.conf").unwrap();
        assert_eq!(a.config_test_log, Some(PathBuf::from("/tmp/t.log")));
        assert_eq!(a.config, PathBuf::from("k.conf"));
        // getopt's `t::`: the rest of the cluster is the value, a separate word is not.
        let a = p("-nt/tmp/t.log").unwrap();
        assert!(a.foreground && a.config_test);
        assert_eq!(a.config_test_log, Some(PathBuf::from("/tmp/t.log")));
        assert!(p("-t k.conf").unwrap_err().contains("unexpected argument"));
        assert!(!p("-P -f k.conf").unwrap().config_test);
    }

    #[test]
    fn version_line_is_what_neutron_parses() {
        let text = version_text();
        let first = text.lines().next().unwrap();
        assert_eq!(first.split_whitespace().nth(1), Some("v2.2.7"));
        assert!(text.contains("vrrp-agent"));
    }
}
