//! Node-wide settings for the `keepalived` entry point: Neutron starts one `keepalived` per
//! router with a configuration it writes and no flags of ours, so what a node operator chooses
//! for every router (process model, data plane, fast path, where pins and the node agent's
//! socket live) is in one TOML file, `/etc/vrrp-agent/keepalived.toml` (or the file
//! `VRRP_AGENT_SETTINGS` names). A missing file means the defaults; a bad one is an error with
//! file and line, like a bad configuration. Pure parsing plus one file read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::types::{ConfigError, DataplaneMode, GlobalConfig};

/// Where the settings are read from.
pub const DEFAULT_PATH: &str = "/etc/vrrp-agent/keepalived.toml";
/// Environment variable naming another settings file.
pub const PATH_ENV: &str = "VRRP_AGENT_SETTINGS";

/// The node agent's control socket when the settings name none.
pub const DEFAULT_NODE_SOCKET: &str = "/run/vrrp-agent/node.ctl";
/// The node agent's log when the settings name none.
pub const DEFAULT_NODE_LOG: &str = "/var/log/vrrp-agent/node.log";

/// How the `keepalived` processes Neutron starts run their routers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessModel {
    /// Each `keepalived` process is a small client of one node-wide agent (started on demand)
    /// that runs every router's elections and holds the one XDP object.
    #[default]
    Node,
    /// Each `keepalived` process is a whole agent with its own XDP object (about 10 MB per
    /// router).
    Standalone,
}

/// The data plane, as the settings file spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataplaneSetting {
    Xdp,
    None,
}

/// What the settings file may hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `node` (default) or `standalone`.
    pub process_model: Option<ProcessModel>,
    /// `xdp` (default) or `none` (ownership is only the addresses, as with keepalived).
    pub dataplane: Option<DataplaneSetting>,
    /// As `[global] fast_path` in the native configuration.
    pub fast_path: Option<bool>,
    /// As `[global] fast_path_peer_napi`.
    pub fast_path_peer_napi: Option<bool>,
    /// Where the XDP maps and links are pinned (default: under the host's
    /// `/sys/fs/bpf/vrrp-xdp/`, one folder per node agent or standalone process).
    pub pin_dir: Option<PathBuf>,
    /// The node agent's control socket (default `/run/vrrp-agent/node.ctl`); a second node
    /// agent on one host (a test bed simulating two nodes) needs its own.
    pub node_socket: Option<PathBuf>,
    /// The node agent's log file (default `/var/log/vrrp-agent/node.log`).
    pub node_log: Option<PathBuf>,
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
                    "{} (the settings file takes process_model = \"node\" | \"standalone\", \
                     dataplane = \"xdp\" | \"none\", fast_path and fast_path_peer_napi = true | \
                     false, pin_dir, node_socket and node_log = \"/path\")",
                    e.message().trim_end()
                ),
            }
        })
    }

    /// The process model in force.
    pub fn process_model(&self) -> ProcessModel {
        self.process_model.unwrap_or_default()
    }

    /// The node agent's control socket in force.
    pub fn node_socket(&self) -> PathBuf {
        self.node_socket
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_NODE_SOCKET))
    }

    /// The node agent's log file in force.
    pub fn node_log(&self) -> PathBuf {
        self.node_log
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_NODE_LOG))
    }

    /// One line for logs and `status`: every setting in force, defaults included.
    pub fn summary(&self) -> String {
        let dataplane = match self.dataplane {
            Some(DataplaneSetting::None) => "none",
            _ => "xdp",
        };
        format!(
            "process_model = {}, dataplane = {dataplane}, fast_path = {}, fast_path_peer_napi = \
             {}, pin_dir = {}, node_socket = {}",
            match self.process_model() {
                ProcessModel::Node => "node",
                ProcessModel::Standalone => "standalone",
            },
            self.fast_path.unwrap_or(false),
            self.fast_path_peer_napi.unwrap_or(false),
            self.pin_dir
                .as_ref()
                .map_or("(default)".to_string(), |p| p.display().to_string()),
            self.node_socket().display(),
        )
    }

    /// Applies what is set to a configuration's global settings.
    pub fn apply(&self, global: &mut GlobalConfig) {
        if let Some(d) = self.dataplane {
            global.dataplane = match d {
                DataplaneSetting::Xdp => DataplaneMode::Xdp,
                DataplaneSetting::None => DataplaneMode::None,
            };
        }
        if let Some(p) = &self.pin_dir {
            global.bpf_pin_dir = Some(p.clone());
        }
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

    #[test]
    fn the_process_model_data_plane_and_paths_are_node_wide_choices() {
        let p = Path::new("/etc/vrrp-agent/keepalived.toml");
        let d = Settings::default();
        assert_eq!(d.process_model(), ProcessModel::Node);
        assert_eq!(d.node_socket(), PathBuf::from(DEFAULT_NODE_SOCKET));
        let s = Settings::parse(
            "process_model = \"standalone\"\ndataplane = \"none\"\npin_dir = \"/sys/fs/bpf/x\"\n\
             node_socket = \"/run/vrrp-agent/b.ctl\"\n",
            p,
        )
        .unwrap();
        assert_eq!(s.process_model(), ProcessModel::Standalone);
        let mut g = GlobalConfig::default();
        s.apply(&mut g);
        assert_eq!(g.dataplane, DataplaneMode::None);
        assert_eq!(g.bpf_pin_dir, Some(PathBuf::from("/sys/fs/bpf/x")));
        assert!(
            s.summary()
                .contains("process_model = standalone, dataplane = none")
        );
        let e = Settings::parse("process_model = \"nodes\"\n", p).unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.contains("standalone"), "{e}");
    }
}
