//! Running the agent: the engine, the status socket, and signals (SIGHUP reloads the
//! configuration file, SIGTERM/SIGINT resign and release, then exit).

use std::path::PathBuf;

use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};

use super::{
    engine::{Engine, EngineOptions},
    events::EngineEvent,
    ownership::DataplaneSink,
    setup::SetupError,
};
use crate::{api, config};

/// How to run.
pub struct RunOptions {
    /// The configuration file (re-read on SIGHUP).
    pub config_path: PathBuf,
    pub status_socket: PathBuf,
    pub state_dir: PathBuf,
    pub dataplane: Box<dyn DataplaneSink>,
    /// The keepalived entry point's node-wide settings file (re-read with the configuration).
    pub settings: Option<PathBuf>,
    /// Instances that name no namespace are in this one (the keepalived entry point names the
    /// namespace it runs in, so `status` tells Neutron's routers apart); also on reload.
    pub netns: Option<String>,
}

/// Gives every instance without a namespace `netns`, and every script its identity (those
/// that may not run are left out: `script_policy`, which logs why).
fn prepare(config: &mut config::AgentConfig, netns: &Option<String>) {
    if let Some(ns) = netns {
        for i in config.instances.iter_mut().filter(|i| i.netns.is_none()) {
            i.netns = Some(ns.clone());
        }
    }
    super::script_policy::log(&super::script_policy::prepare(config));
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Its text is the setup error's (not repeated by `source()`: see `crate::netlink::error`).
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Serves the engine's status on `socket` (until the engine is gone or the task aborted).
pub(super) fn serve_status(
    socket: PathBuf,
    events: mpsc::Sender<EngineEvent>,
) -> tokio::task::JoinHandle<()> {
    let (queries_tx, mut queries) = mpsc::channel(16);
    tokio::spawn(async move {
        let server = async {
            if let Err(e) = api::server::serve(&socket, queries_tx).await {
                tracing::warn!(socket = %socket.display(), "status socket unavailable: {e}");
            }
        };
        let forward = async {
            while let Some(q) = queries.recv().await {
                if events.send(EngineEvent::Status(q)).await.is_err() {
                    break;
                }
            }
        };
        tokio::join!(server, forward);
    })
}

/// Runs until SIGTERM/SIGINT.
pub async fn run(mut config: config::AgentConfig, opts: RunOptions) -> Result<(), RunError> {
    prepare(&mut config, &opts.netns);
    if let Err(e) = super::state_file::prepare(&opts.state_dir) {
        tracing::warn!(dir = %opts.state_dir.display(), "cannot create the state folder: {e}");
    }
    let engine = Engine::new(
        config,
        EngineOptions {
            config_path: opts.config_path.clone(),
            state_dir: opts.state_dir.clone(),
            settings: opts.settings.as_ref().map(|path| {
                match config::settings::Settings::load(path) {
                    Ok(s) => format!("{} ({})", s.summary(), path.display()),
                    Err(e) => e.to_string(),
                }
            }),
            keepalived_pid: None,
        },
        opts.dataplane,
    );
    let events = engine.events();

    serve_status(opts.status_socket.clone(), events.clone());

    let mut hup = signal(SignalKind::hangup()).map_err(RunError::Signals)?;
    let mut term = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let config_path = opts.config_path.clone();
    let settings = opts.settings.clone();
    let netns = opts.netns.clone();
    let signal_events = events.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    tracing::info!(config = %config_path.display(), "SIGHUP: reloading the configuration");
                    let loaded = config::load(&config_path).and_then(|mut loaded| {
                        if let Some(path) = &settings {
                            config::settings::Settings::load(path)?.apply(&mut loaded.config.global);
                        }
                        prepare(&mut loaded.config, &netns);
                        Ok(loaded)
                    });
                    match loaded {
                        Ok(loaded) => {
                            for w in &loaded.warnings {
                                tracing::warn!("{w}");
                            }
                            super::config_notes::log_once(&loaded.notes);
                            let _ = signal_events.send(EngineEvent::Reload(Box::new(loaded.config))).await;
                        }
                        Err(e) => tracing::error!("reload failed, keeping the running configuration: {e}"),
                    }
                }
                _ = term.recv() => {
                    tracing::info!("SIGTERM");
                    let _ = signal_events.send(EngineEvent::Shutdown).await;
                    break;
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT");
                    let _ = signal_events.send(EngineEvent::Shutdown).await;
                    break;
                }
            }
        }
    });

    let result = engine.run().await;
    let _ = std::fs::remove_file(&opts.status_socket);
    result.map_err(RunError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_name_the_cause_once() {
        let err = RunError::from(SetupError::Config {
            instance: "VI_1".into(),
            error: "boom".into(),
        });
        let text = format!("{:#}", anyhow::Error::new(err));
        assert_eq!(text, "instance VI_1: boom");
    }
}
