//! The IPv4 settings in [`IfaceConf`] of `all` and of each interface, read from
//! `/proc/sys/net/ipv4/conf/<name>/`. procfs shows the network namespace of the task that
//! reads it, so this must run on a thread inside the namespace. Raw values are stored (the
//! kernel's effective `rp_filter` is the maximum of `all` and the interface; the analysis
//! combines them).
//!
//! Fails closed, per setting: a value that cannot be read or parsed becomes the one under
//! which the kernel forwards least like a plain FIB lookup (`forwarding` off, `rp_filter`
//! strict, `accept_local` and `route_localnet` off, `send_redirects` on). Imports `facts`.

use std::path::{Path, PathBuf};

use super::facts::IfaceConf;

/// Where the kernel shows the settings.
pub const CONF_DIR: &str = "/proc/sys/net/ipv4/conf";

/// The value of a setting that could not be read.
pub const UNREADABLE: IfaceConf = IfaceConf {
    forwarding: false,
    rp_filter: 1,
    accept_local: false,
    route_localnet: false,
    send_redirects: true,
};

/// The settings of `name` (`all`, `default` or an interface) in the calling thread's
/// namespace.
pub fn read_conf(name: &str) -> IfaceConf {
    // Interface names never contain `/` and are never `.` or `..`; refuse anything that
    // would leave the directory rather than read some other file.
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        tracing::warn!(name, "not an interface name; its IPv4 settings are unknown");
        return UNREADABLE;
    }
    read_conf_dir(&PathBuf::from(CONF_DIR).join(name))
}

/// The settings in `dir` (one file per setting, as procfs has them).
pub fn read_conf_dir(dir: &Path) -> IfaceConf {
    let read = |key: &str| -> Option<i64> {
        let path = dir.join(key);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let value = parse_value(&text);
                if value.is_none() {
                    tracing::warn!(path = %path.display(), text, "unexpected sysctl value");
                }
                value
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot read sysctl");
                None
            }
        }
    };
    let flag = |key: &str, unreadable: bool| read(key).map_or(unreadable, |v| v != 0);
    IfaceConf {
        forwarding: flag("forwarding", UNREADABLE.forwarding),
        rp_filter: read("rp_filter")
            .and_then(|v| u8::try_from(v).ok())
            .filter(|v| *v <= 2)
            .unwrap_or(UNREADABLE.rp_filter),
        accept_local: flag("accept_local", UNREADABLE.accept_local),
        route_localnet: flag("route_localnet", UNREADABLE.route_localnet),
        send_redirects: flag("send_redirects", UNREADABLE.send_redirects),
    }
}

/// A sysctl file's content: one integer and a newline.
pub fn parse_value(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "vrrp-conf-test-{}-{}",
            std::process::id(),
            files.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (key, value) in files {
            std::fs::write(dir.join(key), value).unwrap();
        }
        dir
    }

    #[test]
    fn reads_raw_values() {
        let dir = dir_with(&[
            ("forwarding", "1\n"),
            ("rp_filter", "2\n"),
            ("accept_local", "0\n"),
            ("route_localnet", "1\n"),
            ("send_redirects", "0\n"),
        ]);
        assert_eq!(
            read_conf_dir(&dir),
            IfaceConf {
                forwarding: true,
                rp_filter: 2,
                accept_local: false,
                route_localnet: true,
                send_redirects: false,
            }
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn missing_or_odd_values_fail_closed_one_by_one() {
        let dir = dir_with(&[("forwarding", "1\n"), ("rp_filter", "7\n")]);
        assert_eq!(
            read_conf_dir(&dir),
            IfaceConf {
                forwarding: true,
                ..UNREADABLE
            }
        );
        let _ = std::fs::remove_dir_all(dir);
        assert_eq!(read_conf("../../etc"), UNREADABLE);
        assert_eq!(read_conf(""), UNREADABLE);
        assert_eq!(parse_value(" 0\n"), Some(0));
        assert_eq!(parse_value("yes"), None);
    }
}
