//! Notify scripts, run the way keepalived runs them: the state's own script
//! (`notify_master`, ...) with no arguments, and `notify` with `INSTANCE <name> <STATE>
//! <priority>` appended. Scripts run in order per instance (a BACKUP notification never
//! overtakes the MASTER one before it), never block the protocol, and are killed after the
//! timeout. They run as the identity in their spec (`NotifySpec::run_as`, keepalived's
//! `script_user`, given by `script_policy`).

use std::{collections::HashMap, time::Duration};

use tokio::sync::mpsc;

use crate::{
    config::{NotifySpec, RunAs},
    fsm::State,
};

/// One notification to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// "INSTANCE" or "GROUP".
    pub kind: &'static str,
    pub name: String,
    pub state: State,
    pub priority: u8,
}

/// The command lines to run for a notification, in order.
pub fn commands(spec: &NotifySpec, n: &Notification) -> Vec<(String, Vec<String>)> {
    let own = match n.state {
        State::Master => &spec.master,
        State::Backup => &spec.backup,
        State::Fault => &spec.fault,
        State::Initialize => &spec.stop,
    };
    let mut out = Vec::new();
    if let Some(script) = own {
        out.push((script.clone(), Vec::new()));
    }
    if let Some(script) = &spec.any {
        out.push((
            script.clone(),
            vec![
                n.kind.to_string(),
                n.name.clone(),
                n.state.keepalived_name().to_string(),
                n.priority.to_string(),
            ],
        ));
    }
    out
}

/// The queue of one instance's (or group's) notifications.
type Queue = mpsc::UnboundedSender<(NotifySpec, Notification)>;

/// Runs notifications in the background, sequentially per name.
#[derive(Clone)]
pub struct Notifier {
    timeout: Duration,
    /// Run the scripts inside this network namespace (`super::script_shell`).
    netns: Option<String>,
    queues: std::sync::Arc<std::sync::Mutex<HashMap<String, Queue>>>,
}

impl Notifier {
    pub fn new(timeout: Duration, netns: Option<String>) -> Self {
        Self {
            timeout,
            netns,
            queues: Default::default(),
        }
    }

    /// Queues a notification (returns at once; needs a tokio runtime).
    pub fn notify(&self, spec: &NotifySpec, n: Notification) {
        if commands(spec, &n).is_empty() {
            return;
        }
        let mut queues = self.queues.lock().expect("notifier lock");
        let key = format!("{}:{}", n.kind, n.name);
        let tx = queues.entry(key).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<(NotifySpec, Notification)>();
            let timeout = self.timeout;
            let netns = self.netns.clone();
            tokio::spawn(async move {
                while let Some((spec, n)) = rx.recv().await {
                    for (script, args) in commands(&spec, &n) {
                        let run_as = spec.run_as.as_ref();
                        run_one(&script, &args, timeout, netns.as_deref(), run_as).await;
                    }
                }
            });
            tx
        });
        let _ = tx.send((spec.clone(), n));
    }
}

/// Runs `script` (a command line, possibly with its own arguments) through the shell with
/// `args` appended as separate, unquoted-safe arguments, as `run_as`.
async fn run_one(
    script: &str,
    args: &[String],
    timeout: Duration,
    netns: Option<&str>,
    run_as: Option<&RunAs>,
) {
    let mut cmd = super::script_shell::shell(netns, run_as);
    cmd.arg("-c")
        .arg(format!("{script} \"$@\""))
        .arg("notify")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(script, "cannot start notify script: {e}");
            return;
        }
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => {
            tracing::debug!(script, ?args, "notify script done");
        }
        Ok(Ok(out)) => tracing::warn!(
            script,
            ?args,
            status = %out.status,
            stderr = %String::from_utf8_lossy(&out.stderr).trim(),
            "notify script failed"
        ),
        Ok(Err(e)) => tracing::warn!(script, "notify script: {e}"),
        Err(_) => tracing::warn!(script, ?timeout, "notify script timed out and was killed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(state: State) -> Notification {
        Notification {
            kind: "INSTANCE",
            name: "VR_1".into(),
            state,
            priority: 50,
        }
    }

    #[test]
    fn keepalived_arguments() {
        let spec = NotifySpec {
            any: Some("/bin/notify.sh --x".into()),
            master: Some("/bin/master.sh".into()),
            backup: None,
            fault: None,
            stop: Some("/bin/stop.sh".into()),
            run_as: None,
        };
        assert_eq!(
            commands(&spec, &n(State::Master)),
            [
                ("/bin/master.sh".to_string(), vec![]),
                (
                    "/bin/notify.sh --x".to_string(),
                    vec![
                        "INSTANCE".into(),
                        "VR_1".into(),
                        "MASTER".into(),
                        "50".into()
                    ]
                ),
            ]
        );
        assert_eq!(commands(&spec, &n(State::Backup)).len(), 1);
        assert_eq!(commands(&spec, &n(State::Initialize))[1].1[2], "STOP");
    }

    #[tokio::test]
    async fn scripts_run_in_order_with_arguments_and_time_out() {
        let dir = std::env::temp_dir().join(format!("vrrp-notify-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        let spec = NotifySpec {
            any: Some(format!("echo >> {}", log.display())),
            ..Default::default()
        };
        let notifier = Notifier::new(Duration::from_secs(5), None);
        for s in [State::Backup, State::Master, State::Fault, State::Backup] {
            notifier.notify(&spec, n(s));
        }
        let expected = "INSTANCE VR_1 BACKUP 50\nINSTANCE VR_1 MASTER 50\n\
                        INSTANCE VR_1 FAULT 50\nINSTANCE VR_1 BACKUP 50\n";
        let mut got = String::new();
        for _ in 0..500 {
            got = std::fs::read_to_string(&log).unwrap_or_default();
            if got.len() >= expected.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(got, expected);

        // A script that hangs is killed after the timeout; later ones still run.
        let slow = Notifier::new(Duration::from_millis(200), None);
        let marker = dir.join("after");
        let spec = NotifySpec {
            master: Some("sleep 30".into()),
            backup: Some(format!("touch {}", marker.display())),
            ..Default::default()
        };
        slow.notify(&spec, n(State::Master));
        slow.notify(&spec, n(State::Backup));
        let mut done = false;
        for _ in 0..500 {
            if marker.exists() {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(done, "the queue moved on after the timeout");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
