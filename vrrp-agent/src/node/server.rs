//! The node agent: accepts the `keepalived` processes' connections on its control socket and
//! runs one router per connection (`crate::runtime::router`) on the shared data plane. A
//! router lives as long as its connection: `stop` releases it and answers, a connection that
//! closes without one (the process was killed) releases it too. One router failing to start
//! or failing later is that router's error only. SIGTERM/SIGINT release every router and end
//! the agent (the processes then exit, and Neutron's respawn starts a new agent); SIGHUP reads
//! the settings file again and reloads every router with it.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{UnixListener, UnixStream, unix::OwnedWriteHalf},
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};
use tracing::Instrument;

use super::{
    protocol::{self, Reply, Request},
    router_sink::{RouterSink, SharedDataplane},
};
use crate::{
    api,
    config::{self, AgentConfig, settings::Settings},
    runtime::router::{RouterHandle, RouterOptions},
};

/// How the node agent runs.
pub struct NodeOptions {
    pub socket: PathBuf,
    /// The settings file (read again on SIGHUP).
    pub settings_path: PathBuf,
    pub settings: Settings,
    pub dataplane: SharedDataplane,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot listen on {path}: {error}")]
    Listen {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// A router the node agent runs, as the registry knows it.
struct Entry {
    pid: u32,
    config_path: PathBuf,
    /// Its last configuration text (reloaded with new settings on SIGHUP).
    text: String,
    control: mpsc::Sender<Control>,
}

/// What the agent asks of a router's connection task.
enum Control {
    Reload(Box<AgentConfig>),
    Stop,
}

#[derive(Clone)]
struct Node {
    dataplane: SharedDataplane,
    settings_path: Arc<PathBuf>,
    settings: Arc<Mutex<Settings>>,
    /// By network namespace: one router per namespace, as Neutron runs them.
    routers: Arc<Mutex<HashMap<Option<String>, Entry>>>,
}

impl Node {
    fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A router's configuration as the node agent runs it: the text parsed (either syntax, its
/// warnings logged, its notes once per process), the node's settings applied, the router's
/// namespace given to every instance and script, and every script its identity
/// (`runtime::script_policy`).
pub fn router_config(
    text: &str,
    path: &Path,
    netns: &Option<String>,
    settings: &Settings,
) -> Result<AgentConfig, String> {
    let loaded = match config::detect(path, text) {
        config::Format::Toml => config::parse_toml(text, path),
        config::Format::Keepalived => config::parse_keepalived(text, path),
    }
    .map_err(|e| e.to_string())?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    crate::runtime::config_notes::log_once(&loaded.notes);
    let mut cfg = loaded.config;
    settings.apply(&mut cfg.global);
    if let Some(ns) = netns {
        for i in cfg.instances.iter_mut().filter(|i| i.netns.is_none()) {
            i.netns = Some(ns.clone());
        }
        cfg.global.script_netns = Some(ns.clone());
    }
    crate::runtime::script_policy::log(&crate::runtime::script_policy::prepare(&mut cfg));
    Ok(cfg)
}

/// Serves until SIGTERM/SIGINT.
pub async fn serve(opts: NodeOptions) -> Result<(), NodeError> {
    if let Some(dir) = opts.socket.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // The caller holds the node lock: a socket file here is a dead agent's.
    let _ = std::fs::remove_file(&opts.socket);
    let listener = UnixListener::bind(&opts.socket).map_err(|error| NodeError::Listen {
        path: opts.socket.clone(),
        error,
    })?;
    let node = Node {
        dataplane: opts.dataplane,
        settings_path: Arc::new(opts.settings_path.clone()),
        settings: Arc::new(Mutex::new(opts.settings)),
        routers: Arc::default(),
    };
    let mut term = signal(SignalKind::terminate()).map_err(NodeError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(NodeError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(NodeError::Signals)?;
    tracing::info!(socket = %opts.socket.display(), "node agent ready");
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let node = node.clone();
                    tokio::spawn(async move { connection(node, stream).await });
                }
                Err(e) => tracing::warn!("accepting a connection: {e}"),
            },
            _ = hup.recv() => reload_settings(&node, &opts.settings_path).await,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("stopping: releasing every router");
    let controls: Vec<_> = node
        .routers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .values()
        .map(|e| e.control.clone())
        .collect();
    for c in controls {
        let _ = c.send(Control::Stop).await;
    }
    // Every router's release is bounded (the engine's shutdown budget); wait for them all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    while !node
        .routers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .is_empty()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = std::fs::remove_file(&opts.socket);
    tracing::info!("node agent stopped");
    Ok(())
}

async fn reload_settings(node: &Node, path: &Path) {
    tracing::info!(settings = %path.display(), "SIGHUP: reading the settings again");
    let settings = match Settings::load(path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("the settings file does not load, keeping the running ones: {e}");
            return;
        }
    };
    tracing::info!("settings in force: {}", settings.summary());
    *node
        .settings
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = settings.clone();
    let routers: Vec<_> = node
        .routers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|(ns, e)| {
            (
                ns.clone(),
                e.config_path.clone(),
                e.text.clone(),
                e.control.clone(),
            )
        })
        .collect();
    for (ns, path, text, control) in routers {
        match router_config(&text, &path, &ns, &settings) {
            Ok(cfg) => {
                let _ = control.send(Control::Reload(Box::new(cfg))).await;
            }
            Err(e) => tracing::error!(config = %path.display(), "cannot reapply: {e}"),
        }
    }
}

async fn send(write: &mut OwnedWriteHalf, reply: &Reply) {
    let mut line = serde_json::to_vec(reply).unwrap_or_default();
    line.push(b'\n');
    let _ = write.write_all(&line).await;
}

/// One `keepalived` process's connection: its router, from registration to release.
async fn connection(node: Node, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let first = match lines.next_line().await {
        Ok(Some(l)) => protocol::parse::<Request>(&l),
        _ => return,
    };
    let (config_path, text, netns, pid) = match first {
        Ok(Request::Register {
            config_path,
            config_text,
            netns,
            pid,
            settings_path: _,
        }) => (config_path, config_text, netns, pid),
        Ok(other) => {
            let message = format!("the first request must register a router, not {other:?}");
            send(&mut write, &Reply::Error { message }).await;
            return;
        }
        Err(e) => {
            let message = e.to_string();
            send(&mut write, &Reply::Error { message }).await;
            return;
        }
    };
    let span = tracing::info_span!("router", netns = netns.as_deref().unwrap_or("-"), pid);
    run_router(node, lines, write, config_path, text, netns, pid)
        .instrument(span)
        .await;
}

async fn run_router(
    node: Node,
    mut lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    mut write: OwnedWriteHalf,
    config_path: PathBuf,
    text: String,
    netns: Option<String>,
    pid: u32,
) {
    let settings = node.settings();
    let cfg = match router_config(&text, &config_path, &netns, &settings) {
        Ok(c) => c,
        Err(message) => {
            send(&mut write, &Reply::Error { message }).await;
            return;
        }
    };
    let (control_tx, mut control) = mpsc::channel(4);
    let entry = Entry {
        pid,
        config_path: config_path.clone(),
        text: text.clone(),
        control: control_tx,
    };
    // A respawned process may register before its killed predecessor's router is released:
    // wait for that release (bounded), but refuse a second live process for one namespace.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    let mut entry = Some(entry);
    loop {
        match claim(&node, &netns, entry.take().expect("entry")) {
            Ok(()) => break,
            Err((e, holder_alive)) => {
                if holder_alive || tokio::time::Instant::now() > deadline {
                    send(&mut write, &Reply::Error { message: e.message }).await;
                    return;
                }
                entry = Some(e.entry);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let status_socket = api::keepalived_socket(&config_path);
    let state_dir = api::keepalived_state_dir(&config_path);
    tracing::info!(config = %config_path.display(), "registering the router of keepalived process {pid}");
    let mut router = RouterHandle::start(
        cfg,
        RouterOptions {
            config_path: config_path.clone(),
            state_dir,
            status_socket: status_socket.clone(),
            dataplane: Box::new(RouterSink::new(node.dataplane.clone(), netns.clone())),
            settings: Some(format!(
                "{} ({}, node agent)",
                settings.summary(),
                node.settings_path.display()
            )),
            keepalived_pid: Some(pid),
        },
    );
    if let Err(message) = router.ready().await {
        tracing::error!("the router did not start: {message}");
        forget(&node, &netns);
        send(&mut write, &Reply::Error { message }).await;
        return;
    }
    super::heap::trim();
    send(
        &mut write,
        &Reply::Registered {
            status_socket,
            node_pid: std::process::id(),
        },
    )
    .await;
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(l)) => match protocol::parse::<Request>(&l) {
                    Ok(Request::Reload { config_text }) => {
                        match router_config(&config_text, &config_path, &netns, &node.settings()) {
                            Ok(cfg) => {
                                tracing::info!("reload requested by keepalived process {pid}");
                                router.reload(cfg).await;
                                remember_text(&node, &netns, config_text);
                                send(&mut write, &Reply::Reloaded).await;
                            }
                            Err(message) => send(&mut write, &Reply::Error { message }).await,
                        }
                    }
                    Ok(Request::Stop) => {
                        tracing::info!("keepalived process {pid} stops: releasing the router");
                        let result = router.stop().await;
                        forget(&node, &netns);
                        match result {
                            Ok(()) => send(&mut write, &Reply::Stopped).await,
                            Err(message) => send(&mut write, &Reply::Error { message }).await,
                        }
                        return;
                    }
                    Ok(other) => {
                        let message = format!("unexpected request {other:?}");
                        send(&mut write, &Reply::Error { message }).await;
                    }
                    Err(e) => {
                        let message = e.to_string();
                        send(&mut write, &Reply::Error { message }).await;
                    }
                },
                _ => {
                    tracing::warn!("keepalived process {pid} is gone without a stop: releasing its router");
                    if let Err(e) = router.stop().await {
                        tracing::warn!("releasing: {e}");
                    }
                    forget(&node, &netns);
                    return;
                }
            },
            c = control.recv() => match c {
                Some(Control::Reload(cfg)) => router.reload(*cfg).await,
                Some(Control::Stop) | None => {
                    if let Err(e) = router.stop().await {
                        tracing::warn!("releasing: {e}");
                    }
                    forget(&node, &netns);
                    // Closing the connection tells the process its router is gone.
                    return;
                }
            },
            ended = router.finished() => {
                let message = match ended {
                    Ok(()) => "the router stopped".to_string(),
                    Err(e) => format!("the router failed: {e}"),
                };
                tracing::error!("{message}");
                forget(&node, &netns);
                send(&mut write, &Reply::Error { message }).await;
                return;
            }
        }
    }
}

/// Why a namespace could not be taken, with the entry back.
struct Taken {
    message: String,
    entry: Entry,
}

/// Takes the namespace for a router, unless another router has it (then: why, and whether
/// the process holding it still lives).
fn claim(node: &Node, netns: &Option<String>, entry: Entry) -> Result<(), (Taken, bool)> {
    let mut routers = node
        .routers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(other) = routers.get(netns) {
        let alive = std::path::Path::new(&format!("/proc/{}", other.pid)).exists();
        let message = format!(
            "namespace {} already has a router here: {} (keepalived process {}{})",
            netns.as_deref().unwrap_or("-"),
            other.config_path.display(),
            other.pid,
            if alive {
                ""
            } else {
                ", gone: its router is being released"
            }
        );
        return Err((Taken { message, entry }, alive));
    }
    routers.insert(netns.clone(), entry);
    Ok(())
}

fn remember_text(node: &Node, netns: &Option<String>, text: String) {
    if let Some(e) = node
        .routers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_mut(netns)
    {
        e.text = text;
    }
}

fn forget(node: &Node, netns: &Option<String>) {
    node.routers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(netns);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ownership::NoDataplane;

    fn node() -> Node {
        Node {
            dataplane: Arc::new(Mutex::new(Box::new(NoDataplane))),
            settings_path: Arc::new(PathBuf::from("/etc/vrrp-agent/keepalived.toml")),
            settings: Arc::default(),
            routers: Arc::default(),
        }
    }

    fn entry(pid: u32) -> Entry {
        Entry {
            pid,
            config_path: "/var/lib/neutron/ha_confs/r1/keepalived.conf".into(),
            text: String::new(),
            control: mpsc::channel(1).0,
        }
    }

    #[test]
    fn one_router_per_namespace_and_a_dead_holder_is_waited_for_not_refused() {
        let n = node();
        let ns = Some("qrouter-r1".to_string());
        assert!(claim(&n, &ns, entry(std::process::id())).is_ok());
        let Err((taken, alive)) = claim(&n, &ns, entry(1)) else {
            panic!("a second router in one namespace");
        };
        assert!(alive, "the holder (this test) lives: refuse");
        assert!(
            taken.message.contains("already has a router"),
            "{}",
            taken.message
        );
        forget(&n, &ns);
        let dead = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        let _ = dead.wait_with_output();
        assert!(claim(&n, &ns, entry(dead_pid)).is_ok());
        let Err((_, alive)) = claim(&n, &ns, entry(std::process::id())) else {
            panic!("taken");
        };
        assert!(
            !alive,
            "its process is gone: the newcomer waits for the release"
        );
        assert!(claim(&n, &Some("qrouter-r2".into()), entry(1)).is_ok());
    }

    #[test]
    fn a_routers_configuration_gets_its_namespace_and_the_node_settings() {
        let text = "vrrp_instance VR_1 {\n  state BACKUP\n  interface ha-1\n  \
                    virtual_router_id 1\n  priority 50\n  virtual_ipaddress {\n    \
                    169.254.0.1/24 dev ha-1\n  }\n}\n";
        let settings = Settings::parse(
            "dataplane = \"none\"\nfast_path = true\n",
            Path::new("/s.toml"),
        )
        .unwrap();
        let ns = Some("qrouter-r1".to_string());
        let cfg = router_config(
            text,
            Path::new("/ha_confs/r1/keepalived.conf"),
            &ns,
            &settings,
        )
        .unwrap();
        assert_eq!(cfg.instances[0].netns, ns);
        assert_eq!(cfg.global.script_netns, ns);
        assert!(cfg.global.fast_path);
        assert_eq!(cfg.global.dataplane, config::DataplaneMode::None);
        let err = router_config("vrrp_instance {", Path::new("/k.conf"), &ns, &settings);
        assert!(err.is_err());
    }
}
