//! `vrrp-agent node`: the node-wide agent behind the `keepalived` processes Neutron starts
//! (see `vrrp_agent::node`). A `keepalived` process starts it when none answers; it can also
//! run as a service of its own. One per control socket: a second one finds the first one's
//! lock and exits at once.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use anyhow::{Context, Result};
use vrrp_agent::{
    config::{AgentConfig, GlobalConfig, settings::Settings},
    daemon,
    node::server::{NodeOptions, serve},
    socket_lock::{LockError, SocketLock},
};

#[derive(clap::Args)]
pub struct Args {
    /// The settings file (default: $VRRP_AGENT_SETTINGS, else /etc/vrrp-agent/keepalived.toml):
    /// its node_socket, node_log, pin_dir, dataplane and fast-path choices apply to every router.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// Stay in the foreground and log to stderr (for a service manager).
    #[arg(long)]
    foreground: bool,
}

pub fn run(args: Args) -> Result<()> {
    let settings_path = args.settings.unwrap_or_else(Settings::path);
    let settings_path = std::path::absolute(&settings_path).unwrap_or(settings_path);
    let settings = Settings::load(&settings_path)?;
    let socket = settings.node_socket();
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut lock = match SocketLock::acquire(&socket) {
        Ok(lock) => lock,
        Err(held @ LockError::Held { .. }) => {
            eprintln!("vrrp-agent node: {held}");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let pid_file = socket.with_extension("pid");
    if args.foreground {
        daemon::write_pid_files(std::slice::from_ref(&pid_file))?;
    } else {
        let log = settings.node_log();
        // Single-threaded here: no runtime yet.
        daemon::daemonize(std::slice::from_ref(&pid_file), Some(&log))?;
        // The background process holds the lock now: name it.
        lock.record_pid()?;
    }
    tracing::info!(
        pid = std::process::id(),
        settings = %settings_path.display(),
        "vrrp-agent node agent starting; settings in force: {}",
        settings.summary()
    );
    let mut node = AgentConfig {
        global: GlobalConfig::default(),
        instances: Vec::new(),
        scripts: Vec::new(),
        sync_groups: Vec::new(),
    };
    settings.apply(&mut node.global);
    vrrp_agent::node::heap::single_arena();
    let dataplane = super::dataplane_choice::open(&node, &socket, None, false)?;
    vrrp_agent::node::heap::trim();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(NodeOptions {
        socket: socket.clone(),
        settings_path: settings_path.clone(),
        settings,
        dataplane: Arc::new(Mutex::new(dataplane)),
    }));
    daemon::remove_pid_files(std::slice::from_ref(&pid_file));
    Ok(result?)
}
