//! `keepalived ...` / `vrrp-agent keepalived ...`: the keepalived-compatible entry point, as
//! Neutron runs it per HA router: `keepalived -P -f CONF -p PIDFILE -r VRRP_PIDFILE [-D]`,
//! inside the router's namespace. The configuration is loaded and checked before forking,
//! so errors reach the caller's stderr and exit status; then the process goes to the
//! background (unless `-n`), writes both pid files (our pid: a live process whose command line
//! holds the configuration path), logs to `-g FILE` or to `vrrp-agent.log` beside the
//! configuration, and serves its status on `/run/vrrp-agent/keepalived-<router>-<hash>.sock`
//! so `vrrp-agent status` lists every router of the node. The XDP data plane is on unless the
//! environment sets `VRRP_AGENT_NO_XDP` (there is no keepalived flag for it); node-wide choices
//! (the fast path) come from the settings file (`config::settings`), read again on SIGHUP.

use std::{
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use vrrp_agent::{
    api, config, daemon,
    runtime::run::{RunOptions, run},
};

use super::keepalived_args::{self, KeepalivedArgs, USAGE};

/// Runs with keepalived's arguments (everything after the program name).
pub fn main(args: &[String]) -> Result<()> {
    let parsed = match keepalived_args::parse(args) {
        Ok(p) => p,
        Err(e) => bail!("{e}\n\n{USAGE}"),
    };
    if parsed.help {
        eprint!("{USAGE}");
        return Ok(());
    }
    if parsed.version {
        // keepalived prints its version on stderr; Neutron reads it there.
        eprint!("{}", keepalived_args::version_text());
        return Ok(());
    }
    if parsed.config_test {
        std::process::exit(super::keepalived_check::run(&parsed)?);
    }
    run_keepalived(parsed)
}

/// The status socket of the agent running `config`.
pub fn status_socket(config: &Path) -> PathBuf {
    let router: String = config
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("default")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    config.hash(&mut h);
    PathBuf::from(api::SOCKET_DIR).join(format!(
        "keepalived-{router}-{:08x}.sock",
        h.finish() as u32
    ))
}

fn run_keepalived(args: KeepalivedArgs) -> Result<()> {
    let config_path = std::path::absolute(&args.config).unwrap_or(args.config.clone());
    let mut loaded = config::load(&config_path)?;
    let settings_path = config::settings::Settings::path();
    config::settings::Settings::load(&settings_path)?.apply(&mut loaded.config.global);
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let config_dir = config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let pid_files = vec![args.pid_file.clone(), args.vrrp_pid_file.clone()];
    let log_file = args
        .log_file
        .clone()
        .or_else(|| (!args.log_console).then(|| config_dir.join("vrrp-agent.log")));
    if args.foreground {
        daemon::write_pid_files(&pid_files)?;
    } else {
        // Single-threaded here: no runtime, no logging threads yet.
        daemon::daemonize(&pid_files, log_file.as_deref())?;
    }
    super::init_logging(if args.log_detail { "debug" } else { "info" });
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    vrrp_agent::runtime::config_notes::log_once(&loaded.notes);
    tracing::info!(
        config = %config_path.display(),
        pid = std::process::id(),
        "vrrp-agent started as keepalived ({} instance(s))",
        loaded.config.instances.len()
    );
    let socket = status_socket(&config_path);
    let no_xdp = std::env::var_os("VRRP_AGENT_NO_XDP").is_some();
    let dataplane = super::dataplane_choice::open(&loaded.config, &socket, None, no_xdp)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(run(
        loaded.config,
        RunOptions {
            status_socket: socket,
            state_dir: config_dir.join("vrrp-agent-state"),
            config_path,
            dataplane,
            settings: Some(settings_path),
        },
    ));
    daemon::remove_pid_files(&pid_files);
    if let Err(e) = &result {
        tracing::error!("{e}");
    }
    tracing::info!("stopped");
    Ok(result?)
}
