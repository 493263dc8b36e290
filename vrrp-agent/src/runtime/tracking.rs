//! Tracking tasks: `vrrp_script` checkers and reachability probes. Each runs its check at its
//! interval, applies fall/rise hysteresis, and tells the engine only about changes. A script
//! runs as the identity in its spec (`ScriptSpec::run_as`, given by `script_policy`).

use std::time::Duration;

use tokio::{sync::mpsc, task::JoinHandle};

use super::{events::EngineEvent, hysteresis::Hysteresis, slot::ObjectKey};
use crate::{
    config::{ReachabilitySpec, ScriptSpec},
    net::Prober,
    netns,
};

/// Runs a `vrrp_script` forever.
pub fn spawn_script(
    spec: ScriptSpec,
    netns: Option<String>,
    events: mpsc::Sender<EngineEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut state = Hysteresis::new(spec.fall, spec.rise);
        let mut ticker = tokio::time::interval(spec.interval.max(Duration::from_millis(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let ok = run_script(&spec, netns.as_deref()).await;
            if let Some(up) = state.observe(ok) {
                let ev = EngineEvent::Check {
                    key: ObjectKey::Script(spec.name.clone()),
                    up,
                };
                if events.send(ev).await.is_err() {
                    return;
                }
            }
        }
    })
}

async fn run_script(spec: &ScriptSpec, netns: Option<&str>) -> bool {
    let child = super::script_shell::shell(netns, spec.run_as.as_ref())
        .arg("-c")
        .arg(&spec.command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else {
        tracing::warn!(script = spec.name, "cannot start the script");
        return false;
    };
    match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(Ok(status)) => status.success(),
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::debug!(script = spec.name, "timed out");
            false
        }
    }
}

/// Probes a next hop forever from inside `netns` (the check behind `key`).
pub fn spawn_probe(
    key: ObjectKey,
    netns: Option<String>,
    spec: ReachabilitySpec,
    events: mpsc::Sender<EngineEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut state = Hysteresis::new(spec.fall, spec.rise);
        let mut ticker = tokio::time::interval(spec.interval.max(Duration::from_millis(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut prober = None;
        loop {
            ticker.tick().await;
            if prober.is_none() {
                prober = open_prober(&netns, &spec);
            }
            let ok = match &prober {
                Some(p) => match p.probe(spec.timeout).await {
                    Ok(ok) => ok,
                    Err(e) => {
                        tracing::debug!(address = %spec.address, "probe error: {e}");
                        prober = None;
                        false
                    }
                },
                None => false,
            };
            if let Some(up) = state.observe(ok)
                && events
                    .send(EngineEvent::Check {
                        key: key.clone(),
                        up,
                    })
                    .await
                    .is_err()
            {
                return;
            }
        }
    })
}

fn open_prober(netns: &Option<String>, spec: &ReachabilitySpec) -> Option<Prober> {
    let s = spec.clone();
    let opened = netns::run_in(netns.as_deref(), move || {
        let ifindex =
            nix::net::if_::if_nametoindex(s.interface.as_str()).map_err(std::io::Error::from)?;
        Prober::open(ifindex, &s.interface, s.method, s.address, None)
    });
    match opened {
        Ok(Ok(p)) => Some(p),
        Ok(Err(e)) => {
            tracing::warn!(address = %spec.address, interface = spec.interface, "cannot open the probe: {e}");
            None
        }
        Err(e) => {
            tracing::warn!(address = %spec.address, "cannot open the probe: {e}");
            None
        }
    }
}
