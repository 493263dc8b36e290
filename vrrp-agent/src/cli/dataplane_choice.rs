//! Choosing the data plane for `run` and the keepalived entry point: XDP (default, when the
//! binary carries the program) or none.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use vrrp_agent::{
    config::{AgentConfig, DataplaneMode, XdpAttach},
    dataplane::{self, XdpModePreference},
    runtime::{
        ownership::{DataplaneSink, NoDataplane},
        xdp_sink::XdpSink,
    },
};

/// The default pin folder of the agent whose status socket is `socket`: in the host's bpf
/// filesystem, also from a private mount namespace (`ip netns exec`), so the pins outlive
/// the process.
fn default_pin_dir(socket: &Path) -> PathBuf {
    let stem = socket
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("agent");
    dataplane::pin_root::pin_root().join("vrrp-xdp").join(stem)
}

pub fn open(
    config: &AgentConfig,
    status_socket: &Path,
    pin_dir: Option<PathBuf>,
    disabled: bool,
) -> Result<Box<dyn DataplaneSink>> {
    if disabled || config.global.dataplane == DataplaneMode::None {
        tracing::info!("data plane: none (ownership is only the addresses on the interfaces)");
        return Ok(Box::new(NoDataplane));
    }
    if dataplane::is_stub() {
        tracing::warn!(
            "this binary was built without the XDP program (plain `cargo build`); running \
             without a data plane. Build with `cargo xtask build` to enforce ownership in XDP"
        );
        return Ok(Box::new(NoDataplane));
    }
    let pin_dir = pin_dir
        .or_else(|| config.global.bpf_pin_dir.clone())
        .unwrap_or_else(|| default_pin_dir(status_socket));
    let pref = match config.global.xdp_mode {
        XdpAttach::Auto => XdpModePreference::Auto,
        XdpAttach::Native => XdpModePreference::Native,
        XdpAttach::Generic => XdpModePreference::Generic,
    };
    let sink = XdpSink::open(&pin_dir, pref).with_context(|| {
        format!(
            "starting the XDP data plane (maps at {}); set `dataplane = \"none\"` in [global] \
             or pass --no-xdp to run without it",
            pin_dir.display()
        )
    })?;
    tracing::info!(pin_dir = %pin_dir.display(), "data plane: XDP");
    Ok(Box::new(sink))
}
