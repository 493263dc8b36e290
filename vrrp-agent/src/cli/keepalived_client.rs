//! The `keepalived` entry point in the node process model (the default): the process Neutron
//! starts for a router registers the router with the node agent (starting it when none
//! answers), writes the pid files, and then only passes SIGHUP (reload) and SIGTERM (release)
//! on. It has one thread and no runtime, so hundreds of them cost little. It exits when the
//! node agent goes away, so Neutron's process monitor respawns it, and the respawn brings a
//! new node agent up. See `vrrp_agent::node`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use vrrp_agent::{
    config::{self, settings::Settings},
    daemon,
    node::{
        client::{self, Ended, NodeConnection},
        netns_name,
        protocol::Request,
    },
};

use super::keepalived_args::KeepalivedArgs;

/// What the caller already read and checked.
pub struct Checked {
    pub config_path: PathBuf,
    pub settings_path: PathBuf,
    pub settings: Settings,
    pub pid_files: Vec<PathBuf>,
    pub log_file: Option<PathBuf>,
}

/// Reads the configuration's text again and checks it (SIGHUP): `None` (logged) when it does
/// not load, so the running configuration stays.
fn reread(path: &Path) -> Option<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(config = %path.display(), "reload failed, keeping the running configuration: {e}");
            return None;
        }
    };
    // Its warnings are the node agent's to log (it parses the text again).
    match config::load(path) {
        Ok(_) => Some(text),
        Err(e) => {
            tracing::error!("reload failed, keeping the running configuration: {e}");
            None
        }
    }
}

pub fn run(args: &KeepalivedArgs, c: Checked) -> Result<()> {
    let text = std::fs::read_to_string(&c.config_path)?;
    let netns = netns_name::own_name(Path::new(netns_name::NETNS_DIR));
    let starting = if args.foreground {
        daemon::write_pid_files(&c.pid_files)?;
        daemon::Starting::foreground()
    } else {
        // Single-threaded here: no runtime, no logging threads yet.
        daemon::daemonize_until_ready(&c.pid_files, c.log_file.as_deref())?
    };
    super::init_logging(args.log_detail.then_some("debug"));
    let socket = c.settings.node_socket();
    tracing::info!(
        config = %c.config_path.display(),
        pid = std::process::id(),
        netns = netns.as_deref().unwrap_or("-"),
        node_socket = %socket.display(),
        "vrrp-agent started as keepalived: registering the router with the node agent"
    );
    let registered = client::connect_or_start(&socket, &c.settings_path).and_then(|stream| {
        NodeConnection::register(
            stream,
            &Request::Register {
                config_path: c.config_path.clone(),
                config_text: text,
                netns: netns.clone(),
                pid: std::process::id(),
                settings_path: c.settings_path.clone(),
            },
        )
    });
    let mut conn = match registered {
        Ok(conn) => conn,
        Err(e) => {
            tracing::error!("{e}");
            starting.failed(&e.to_string());
            daemon::remove_pid_files(&c.pid_files);
            bail!(e);
        }
    };
    starting.ready();
    // What parsing and registering needed is not needed any more.
    vrrp_agent::node::heap::trim();
    tracing::info!(
        node_pid = conn.node_pid,
        status = %conn.status_socket.display(),
        "router registered: the node agent runs it"
    );
    let config_path = c.config_path.clone();
    let ended = client::serve(&mut conn, || reread(&config_path));
    daemon::remove_pid_files(&c.pid_files);
    match ended {
        Ok(Ended::Stopped) => {
            tracing::info!("stopped: the node agent released the router");
            Ok(())
        }
        Ok(Ended::NodeGone) => {
            tracing::error!(
                node_pid = conn.node_pid,
                "the node agent is gone, so this router is no longer served; exiting so that \
                 Neutron's process monitor starts this process (and a node agent) again"
            );
            bail!("the node agent (pid {}) went away", conn.node_pid)
        }
        Err(e) => {
            tracing::error!("{e}");
            Err(e.into())
        }
    }
}
