//! Node-wide settings for the `keepalived` entry point: Neutron starts one `keepalived` per
//! router with a configuration it writes and no flags of ours, so what a node operator chooses
//! for every router (the XDP fast path, for now) lives in one TOML file,
//! `/etc/vrrp-agent/keepalived.toml` (or the file `VRRP_AGENT_SETTINGS` names). A missing file
//! means the defaults; a bad one is an error with file and line, like a bad configuration.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::types::{ConfigError, GlobalConfig};

/// Where the settings are read from.
pub const DEFAULT_PATH: &str = "/etc/vrrp-agent/keepalived.toml";
/// Environment variable naming another settings file.
pub const PATH_ENV: &str = "VRRP_AGENT_SETTINGS";

/// What the settings file may hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// As `[global] fast_path` in the native configuration.
    pub fast_path: Option<bool>,
    /// As `[global] fast_path_peer_napi`.
    pub fast_path_peer_napi: Option<bool>,
}

impl Settings {
    /// The settings file in force: `$VRRP_AGENT_SETTINGS`, else the default path.
    pub fn path() -> PathBuf {
        std::env::var_os(PATH_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
    }

    /// Reads `path`; a file that does not exist gives the defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(ConfigError {
                    file: path.to_path_buf(),
                    line: 0,
                    message: format!("cannot read the settings file: {e}"),
                });
            }
        };
        Self::parse(&text, path)
    }

    /// Parses settings text (`path` only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            ConfigError {
                file: path.to_path_buf(),
                line,
                message: format!(
                    "{} (the settings file takes `fast_path` and `fast_path_peer_napi`, both \
                     true or false)",
                    e.message()
                ),
            }
        })
    }

    /// Applies what is set to a configuration's global settings.
    pub fn apply(&self, global: &mut GlobalConfig) {
        if let Some(v) = self.fast_path {
            global.fast_path = v;
        }
        if let Some(v) = self.fast_path_peer_napi {
            global.fast_path_peer_napi = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_switch_the_fast_path_and_a_bad_key_is_an_error_with_its_line() {
        let p = Path::new("/etc/vrrp-agent/keepalived.toml");
        let s = Settings::parse("fast_path = true\n", p).unwrap();
        let mut g = GlobalConfig::default();
        s.apply(&mut g);
        assert!(g.fast_path);
        assert!(!g.fast_path_peer_napi);
        let e = Settings::parse("# node settings\nfast_pathh = true\n", p).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("fast_pathh"), "{e}");
        let e = Settings::parse("fast_path = \"yes\"\n", p).unwrap_err();
        assert!(e.to_string().contains("keepalived.toml:1"), "{e}");
        assert_eq!(
            Settings::load(Path::new("/nonexistent/vrrp-agent.toml")).unwrap(),
            Settings::default()
        );
    }
}
