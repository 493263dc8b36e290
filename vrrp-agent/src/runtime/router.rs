//! One router as the node agent runs it: an engine of its own (its `keepalived.conf`, its
//! state files, its status socket) in a task of the node agent's runtime, driven by the
//! requests of the `keepalived` process that registered it instead of by signals.

use std::path::PathBuf;

use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use super::{
    engine::{Engine, EngineOptions},
    events::EngineEvent,
    ownership::DataplaneSink,
    run::serve_status,
};
use crate::config::AgentConfig;

/// Where a router's engine keeps things.
pub struct RouterOptions {
    /// Its configuration file (messages, status).
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
    pub status_socket: PathBuf,
    pub dataplane: Box<dyn DataplaneSink>,
    /// The settings in force, for `status`.
    pub settings: Option<String>,
    /// The `keepalived` process that registered the router.
    pub keepalived_pid: Option<u32>,
}

/// A running router.
pub struct RouterHandle {
    events: mpsc::Sender<EngineEvent>,
    /// The engine's task, until it has ended (then its outcome).
    task: Option<JoinHandle<Result<(), String>>>,
    outcome: Option<Result<(), String>>,
    status: JoinHandle<()>,
    status_socket: PathBuf,
    /// Its state files' folder, removed when it has stopped.
    state_dir: PathBuf,
}

impl RouterHandle {
    /// Starts the router's engine (setting its instances up happens in the task; see
    /// [`Self::ready`]).
    pub fn start(config: AgentConfig, opts: RouterOptions) -> Self {
        let state_dir = opts.state_dir.clone();
        if let Err(e) = super::state_file::prepare(&opts.state_dir) {
            tracing::warn!(dir = %opts.state_dir.display(), "cannot create the state folder: {e}");
        }
        let engine = Engine::new(
            config,
            EngineOptions {
                config_path: opts.config_path,
                state_dir: opts.state_dir,
                settings: opts.settings,
                keepalived_pid: opts.keepalived_pid,
            },
            opts.dataplane,
        );
        let events = engine.events();
        let status = serve_status(opts.status_socket.clone(), events.clone());
        let task = tokio::spawn(async move { engine.run().await.map_err(|e| e.to_string()) });
        Self {
            events,
            task: Some(task),
            outcome: None,
            status,
            status_socket: opts.status_socket,
            state_dir,
        }
    }

    /// Waits until every instance is set up (the engine answers a status query only after
    /// that), or returns why setting up failed.
    pub async fn ready(&mut self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        if self.events.send(EngineEvent::Status(tx)).await.is_err() {
            return Err(self.finished().await.err().unwrap_or_default());
        }
        tokio::select! {
            answer = rx => match answer {
                Ok(_) => Ok(()),
                Err(_) => Err(self.finished().await.err().unwrap_or_default()),
            },
            ended = self.finished() => Err(match ended {
                Ok(()) => "the router stopped while starting".to_string(),
                Err(e) => e,
            }),
        }
    }

    /// Applies a new configuration (as SIGHUP does for a whole agent).
    pub async fn reload(&self, config: AgentConfig) {
        let _ = self
            .events
            .send(EngineEvent::Reload(Box::new(config)))
            .await;
    }

    /// Releases the router (priority 0 where master, addresses and routes removed, its part
    /// of the data plane released) and waits for its engine to end.
    pub async fn stop(mut self) -> Result<(), String> {
        let _ = self.events.send(EngineEvent::Shutdown).await;
        self.finished().await
    }

    /// Asks the router to stop without waiting (the node agent stopping all of them).
    pub fn request_stop(&self) {
        let _ = self.events.try_send(EngineEvent::Shutdown);
    }

    /// Waits for the engine to end on its own (at once if it has); cancel-safe.
    pub async fn finished(&mut self) -> Result<(), String> {
        if let Some(task) = self.task.as_mut() {
            let result = match task.await {
                Ok(r) => r,
                Err(e) => Err(format!("the router's task failed: {e}")),
            };
            self.task = None;
            self.outcome = Some(result);
            self.status.abort();
            let _ = std::fs::remove_file(&self.status_socket);
            // Nothing reads the state files of a router that stopped.
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
        self.outcome.clone().unwrap_or(Ok(()))
    }
}

impl Drop for RouterHandle {
    fn drop(&mut self) {
        self.status.abort();
    }
}
