//! `vrrp-agent run`: the host agent with a configuration file (native TOML or keepalived.conf).

use std::path::PathBuf;

use anyhow::{Context, Result};
use vrrp_agent::{
    config,
    runtime::run::{RunOptions, run},
    socket_lock::{LockError, SocketLock},
};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  vrrp-agent run -c /etc/vrrp-agent/agent.toml
  vrrp-agent run -c /etc/keepalived/keepalived.conf --status-socket /run/vrrp-agent/k.sock

Signals: SIGHUP reloads the file: unchanged instances keep their state, changed ones are
updated in place (priority, addresses, routes, sources, tracking), and one whose namespace,
interface, VRID, family or version changed starts over. SIGTERM resigns (priority 0),
releases addresses and routes, and exits.

An interface that is deleted and created again under its name (a re-plugged port) is picked
up: the agent rebinds its VRRP socket and XDP program to the new one.

One agent per status socket: a second `run` with the socket of a running agent exits with an
error naming the running agent's pid (the lock <socket>.lock), before touching its socket or
its pinned XDP state.")]
pub struct Args {
    /// Configuration file: native TOML (see vrrp-agent/config-examples/) or keepalived.conf.
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// Status socket (default: from the configuration, /run/vrrp-agent/agent.sock).
    #[arg(long, value_name = "PATH")]
    status_socket: Option<PathBuf>,
    /// Folder for per-instance state files (default: from the configuration).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Run without the XDP data plane (like keepalived: ownership is only the addresses).
    #[arg(long)]
    no_xdp: bool,
    /// Where the XDP maps and links are pinned (default: from the configuration, else a
    /// folder per agent under /sys/fs/bpf/vrrp-xdp).
    #[arg(long, value_name = "DIR")]
    bpf_pin_dir: Option<PathBuf>,
}

pub fn run_cmd(args: Args) -> Result<()> {
    let loaded = config::load(&args.config)?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    vrrp_agent::runtime::config_notes::log_once(&loaded.notes);
    let status_socket = args
        .status_socket
        .unwrap_or_else(|| loaded.config.global.status_socket.clone());
    let state_dir = args
        .state_dir
        .unwrap_or_else(|| loaded.config.global.state_dir.clone());
    // Before the socket and the pin folder named after it are touched; held until we exit.
    let _lock = SocketLock::acquire(&status_socket).map_err(|e| match e {
        LockError::Held { .. } => {
            anyhow::anyhow!("{e}; stop that agent first, or give this one another --status-socket")
        }
        other => other.into(),
    })?;
    let dataplane = super::dataplane_choice::open(
        &loaded.config,
        &status_socket,
        args.bpf_pin_dir,
        args.no_xdp,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(
        loaded.config,
        RunOptions {
            config_path: args.config,
            status_socket,
            state_dir,
            dataplane,
            settings: None,
            netns: None,
        },
    ))?;
    Ok(())
}
