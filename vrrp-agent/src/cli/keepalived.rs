//! `keepalived ...` / `vrrp-agent keepalived ...`: the keepalived-compatible entry point, as
//! Neutron runs it per HA router: `keepalived -P -f CONF -p PIDFILE -r VRRP_PIDFILE [-D]`,
//! inside the router's namespace. The configuration is loaded and checked before forking,
//! so errors reach the caller's stderr and exit status; then the process goes to the
//! background (unless `-n`), writes both pid files (our pid: a live process whose command line
//! holds the configuration path), logs to `-g FILE` or to `vrrp-agent.log` beside the
//! configuration, and its router's status is on `/run/vrrp-agent/keepalived-<router>-<hash>.sock`
//! so `vrrp-agent status` lists every router of the node. Node-wide choices come from the
//! settings file (`config::settings`): with `process_model = "node"` (the default) the process
//! is a small client of the node agent (`keepalived_client`), with `"standalone"` it is a whole
//! agent with its own data plane (below).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use vrrp_agent::{
    api,
    config::{self, settings::ProcessModel},
    daemon,
    node::netns_name,
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
    api::keepalived_socket(config)
}

fn run_keepalived(args: KeepalivedArgs) -> Result<()> {
    let config_path = std::path::absolute(&args.config).unwrap_or(args.config.clone());
    let mut loaded = config::load(&config_path)?;
    let settings_path = config::settings::Settings::path();
    let settings_path = std::path::absolute(&settings_path).unwrap_or(settings_path);
    let settings = config::settings::Settings::load(&settings_path)?;
    settings.apply(&mut loaded.config.global);
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
    if settings.process_model() == ProcessModel::Node {
        return super::keepalived_client::run(
            &args,
            super::keepalived_client::Checked {
                config_path,
                settings_path,
                settings,
                pid_files,
                log_file,
            },
        );
    }
    if args.foreground {
        daemon::write_pid_files(&pid_files)?;
    } else {
        // Single-threaded here: no runtime, no logging threads yet.
        daemon::daemonize(&pid_files, log_file.as_deref())?;
    }
    super::init_logging(args.log_detail.then_some("debug"));
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
    tracing::info!("settings in force: {}", settings.summary());

    let dataplane = super::dataplane_choice::open(&loaded.config, &socket, None, false)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let state_dir = api::keepalived_state_dir(&config_path);
    let result = runtime.block_on(run(
        loaded.config,
        RunOptions {
            status_socket: socket,
            state_dir: state_dir.clone(),
            config_path,
            dataplane,
            settings: Some(settings_path),
            // Name the router's namespace in `status` (Neutron's routers all call their
            // instance VR_<id>; the namespace, qrouter-<router id>, tells them apart).
            netns: netns_name::own_name(Path::new(netns_name::NETNS_DIR)),
        },
    ));
    // Nothing reads the state files of a router that stopped.
    let _ = std::fs::remove_dir_all(&state_dir);
    daemon::remove_pid_files(&pid_files);
    if let Err(e) = &result {
        tracing::error!("{e}");
    }
    tracing::info!("stopped");
    Ok(result?)
}
