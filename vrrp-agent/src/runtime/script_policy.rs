//! keepalived's script rules applied to a configuration whenever the agent starts or reloads
//! one (as keepalived does after parsing): every notify and `vrrp_script` script gets the
//! identity it runs as (`script_identity`), and its program is checked (`script_security`).
//! A script that cannot run as configured is left out, as keepalived leaves it out: an unknown
//! user or group, no default user under `enable_script_security`, or, under it, a program
//! running as root that users other than root could change (or that cannot be found to be
//! checked). A notify script left out is not run; a `vrrp_script` left out is not run and the
//! instances stop tracking it (keepalived's `free_track_script`). A script that runs despite a
//! risk (`enable_script_security` off) is a warning. Every finding names the script and the
//! path at fault.

use super::{
    script_identity::{self, DefaultUser, IdentityError, SystemUsers, Users},
    script_security::{self, Check},
};
use crate::config::{AgentConfig, NotifySpec, RunAs, TrackSpec};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The script runs, but at a risk or bound to fail.
    Warn,
    /// The script is left out.
    Error,
}

/// Something worth telling about the scripts of a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub message: String,
}

/// Gives every script of `config` its identity and leaves out those that may not run; what
/// was found, to log ([`log`]).
pub fn prepare(config: &mut AgentConfig) -> Vec<Finding> {
    prepare_with(config, &SystemUsers)
}

/// Logs findings (warnings and errors).
pub fn log(findings: &[Finding]) {
    for f in findings {
        match f.level {
            Level::Warn => tracing::warn!("{}", f.message),
            Level::Error => tracing::error!("{}", f.message),
        }
    }
}

/// Whether to keep a script.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    Drop,
}

struct Prepare {
    security: bool,
    findings: Vec<Finding>,
    /// Scripts that run as the agent's own user for want of a script user.
    as_own: usize,
}

impl Prepare {
    fn error(&mut self, message: String) {
        self.findings.push(Finding {
            level: Level::Error,
            message,
        });
    }

    fn warn(&mut self, message: String) {
        self.findings.push(Finding {
            level: Level::Warn,
            message,
        });
    }

    /// The identity a script runs as, or why it cannot run (reported).
    fn identity(&mut self, what: &str, identity: &Result<RunAs, IdentityError>) -> Option<RunAs> {
        match identity {
            Ok(r) => Some(r.clone()),
            Err(e) => {
                self.error(format!("{what} is not run: script user: {e}"));
                None
            }
        }
    }

    /// Checks `command` (described by `what`) running as `run_as`.
    fn judge(&mut self, what: &str, command: &str, run_as: &RunAs) -> Verdict {
        let as_root = run_as.uid == 0 || run_as.gid == 0;
        match script_security::check(command, run_as) {
            Check::Safe { .. } => Verdict::Keep,
            Check::Unsafe { program, path, why } if self.security => {
                self.error(format!(
                    "{what} is not run (enable_script_security): it runs as {run_as} and `{}` \
                     {why}, so users other than root could change what root runs (`{}`)",
                    path.display(),
                    program.display()
                ));
                Verdict::Drop
            }
            Check::Unsafe { program, path, why } => {
                self.warn(format!(
                    "{what} runs as {run_as} although `{}` {why}: users other than root could \
                     change what root runs (`{}`); enable_script_security would refuse it",
                    path.display(),
                    program.display()
                ));
                Verdict::Keep
            }
            Check::NotFound { why } if self.security && as_root => {
                self.error(format!(
                    "{what} is not run (enable_script_security): its program cannot be \
                     checked: {why}"
                ));
                Verdict::Drop
            }
            Check::NotFound { why } => {
                self.warn(format!("{what}: {why}; it fails when run"));
                Verdict::Keep
            }
            Check::NotExecutable { program } => {
                self.warn(format!(
                    "{what}: `{}` is not executable by {run_as}; it fails when run",
                    program.display()
                ));
                Verdict::Keep
            }
        }
    }

    /// The notify scripts of `owner`: their identity, and those that may not run removed.
    fn notify(
        &mut self,
        owner: &str,
        spec: &mut NotifySpec,
        identity: &Result<RunAs, IdentityError>,
        own: bool,
    ) {
        spec.run_as = identity.as_ref().ok().cloned();
        let slots = [
            ("notify", &mut spec.any),
            ("notify_master", &mut spec.master),
            ("notify_backup", &mut spec.backup),
            ("notify_fault", &mut spec.fault),
            ("notify_stop", &mut spec.stop),
        ];
        for (key, slot) in slots {
            let Some(command) = slot.as_deref() else {
                continue;
            };
            let what = format!("{owner}: {key} script `{command}`");
            let keep = match self.identity(&what, identity) {
                Some(run_as) => self.judge(&what, command, &run_as),
                None => Verdict::Drop,
            };
            if keep == Verdict::Drop {
                *slot = None;
            } else if own {
                self.as_own += 1;
            }
        }
    }
}

pub(crate) fn prepare_with(config: &mut AgentConfig, users: &dyn Users) -> Vec<Finding> {
    let mut p = Prepare {
        security: config.global.script_security,
        findings: Vec::new(),
        as_own: 0,
    };
    let default =
        script_identity::default_user(users, config.global.script_user.as_ref(), p.security);
    let (default_id, own_reason) = match &default {
        Ok(DefaultUser::User(r)) => (Ok(r.clone()), None),
        Ok(DefaultUser::Own(r, why)) => (Ok(r.clone()), Some(why.clone())),
        Err(e) => (Err(e.clone()), None),
    };
    let own = own_reason.is_some();
    for i in &mut config.instances {
        let owner = format!("instance {}", i.vrrp.name);
        p.notify(&owner, &mut i.notify, &default_id, own);
    }
    for g in &mut config.sync_groups {
        let owner = format!("sync group {}", g.name);
        p.notify(&owner, &mut g.notify, &default_id, own);
    }
    let mut left_out = Vec::new();
    for s in &mut config.scripts {
        let what = format!("vrrp_script {} (`{}`)", s.name, s.command);
        let identity = match &s.user {
            Some(user) => script_identity::resolve(users, user),
            None => default_id.clone(),
        };
        let keep = match p.identity(&what, &identity) {
            Some(run_as) => {
                let verdict = p.judge(&what, &s.command, &run_as);
                s.run_as = Some(run_as);
                verdict
            }
            None => Verdict::Drop,
        };
        if keep == Verdict::Drop {
            left_out.push(s.name.clone());
        } else if own && s.user.is_none() {
            p.as_own += 1;
        }
    }
    config.scripts.retain(|s| !left_out.contains(&s.name));
    for i in &mut config.instances {
        untrack(i, &left_out);
    }
    if let Some(why) = own_reason
        && p.as_own > 0
    {
        p.warn(format!(
            "{why}: {} script(s) run as {} (set script_user, or create the user; \
             enable_script_security checks what runs as root)",
            p.as_own,
            users.own()
        ));
    }
    p.findings
}

/// The instance stops tracking the scripts `left_out` (its `track` and `vrrp.tracked` lists
/// are parallel).
fn untrack(i: &mut crate::config::InstanceSpec, left_out: &[String]) {
    if left_out.is_empty() {
        return;
    }
    let keep: Vec<bool> = i
        .track
        .iter()
        .map(|t| !matches!(t, TrackSpec::Script { name } if left_out.contains(name)))
        .collect();
    let mut flags = keep.iter();
    i.track.retain(|_| *flags.next().unwrap_or(&true));
    if i.vrrp.tracked.len() == keep.len() {
        let mut flags = keep.iter();
        i.vrrp.tracked.retain(|_| *flags.next().unwrap_or(&true));
    }
}

#[cfg(test)]
mod tests {
    use std::{os::unix::fs::PermissionsExt, time::Duration};

    use super::{script_identity::tests::FakeUsers, *};
    use crate::{
        config::{GlobalConfig, InstanceSpec, ScriptSpec, ScriptUser},
        fsm::{InstanceConfig, TrackedObject},
    };

    fn config(notify: &str, script: &str) -> AgentConfig {
        let mut vrrp = InstanceConfig::new("VI_1", 1, "10.0.0.100".parse().unwrap());
        vrrp.tracked = vec![
            TrackedObject {
                name: "eth0".into(),
                weight: 0,
            },
            TrackedObject {
                name: "chk".into(),
                weight: -10,
            },
        ];
        AgentConfig {
            global: GlobalConfig::default(),
            instances: vec![InstanceSpec {
                vrrp,
                netns: None,
                interface: "eth0".into(),
                unicast_peers: vec![],
                unicast_src: None,
                mcast_src: None,
                notify: NotifySpec {
                    master: Some(notify.into()),
                    ..Default::default()
                },
                track: vec![
                    TrackSpec::Interface {
                        name: "eth0".into(),
                    },
                    TrackSpec::Script { name: "chk".into() },
                ],
                floating_ips: vec![],
                advert_sources: vec![],
                vmac: None,
                conntrack_sync: None,
            }],
            scripts: vec![ScriptSpec {
                name: "chk".into(),
                command: script.into(),
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                fall: 1,
                rise: 1,
                weight: 0,
                user: None,
                run_as: None,
            }],
            sync_groups: vec![],
        }
    }

    fn user(name: &str) -> Option<ScriptUser> {
        Some(ScriptUser {
            user: name.into(),
            group: None,
        })
    }

    #[test]
    fn scripts_run_as_the_script_user_or_their_own() {
        let mut c = config("echo master", "true");
        c.global.script_user = user("nobody");
        c.scripts[0].user = Some(ScriptUser {
            user: "root".into(),
            group: Some("nogroup".into()),
        });
        let found = prepare_with(&mut c, &FakeUsers::new());
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(c.instances[0].notify.run_as.as_ref().unwrap().uid, 65534);
        let run_as = c.scripts[0].run_as.as_ref().unwrap();
        assert_eq!((run_as.uid, run_as.gid), (0, 65534));
    }

    #[test]
    fn without_a_script_user_or_keepalived_script_they_run_as_root_with_a_warning() {
        let mut c = config("echo master", "true");
        let found = prepare_with(&mut c, &FakeUsers::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].level, Level::Warn);
        assert!(
            found[0].message.contains("keepalived_script")
                && found[0].message.contains("2 script(s) run as root"),
            "{}",
            found[0].message
        );
        assert_eq!(c.scripts[0].run_as.as_ref().unwrap().uid, 0);
        // enable_script_security: no default user, so nothing runs.
        let mut c = config("echo master", "true");
        c.global.script_security = true;
        let found = prepare_with(&mut c, &FakeUsers::new());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|f| f.level == Level::Error
            && f.message.contains("is not run")
            && f.message.contains("keepalived_script")));
        assert_eq!(c.instances[0].notify.master, None);
        assert!(c.scripts.is_empty());
    }

    #[test]
    fn an_unknown_user_leaves_the_script_out_and_its_instances_stop_tracking_it() {
        let mut c = config("echo master", "true");
        c.scripts[0].user = user("nobody2");
        c.global.script_user = user("nobody");
        let found = prepare_with(&mut c, &FakeUsers::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].level, Level::Error);
        assert!(
            found[0].message.contains("vrrp_script chk")
                && found[0].message.contains("user `nobody2` does not exist"),
            "{}",
            found[0].message
        );
        assert!(c.scripts.is_empty());
        let i = &c.instances[0];
        assert_eq!(
            i.track,
            [TrackSpec::Interface {
                name: "eth0".into()
            }]
        );
        assert_eq!(i.vrrp.tracked.len(), 1);
        assert_eq!(i.vrrp.tracked[0].name, "eth0");
        assert!(i.notify.master.is_some(), "the notify script's user exists");
    }

    #[test]
    fn script_security_refuses_root_scripts_others_could_change_and_names_the_path() {
        let dir = std::env::temp_dir().join(format!("vrrp-script-policy-{}", std::process::id()));
        let open = dir.join("open");
        std::fs::create_dir_all(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let script = open.join("notify.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let unsafe_command = format!("{} MASTER", script.display());

        // Off: it runs, with a warning naming the script and the path.
        let mut c = config(&unsafe_command, "true");
        c.global.script_user = user("root");
        let found = prepare_with(&mut c, &FakeUsers::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].level, Level::Warn);
        assert!(
            found[0].message.contains(&unsafe_command)
                && found[0]
                    .message
                    .contains("enable_script_security would refuse it"),
            "{}",
            found[0].message
        );
        assert!(c.instances[0].notify.master.is_some());

        // On: refused, naming the script and the part of its path at fault.
        let mut c = config(&unsafe_command, "true");
        c.global.script_user = user("root");
        c.global.script_security = true;
        let found = prepare_with(&mut c, &FakeUsers::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].level, Level::Error);
        let culprit = if nix::unistd::geteuid().is_root() {
            open.clone()
        } else {
            std::env::temp_dir()
        };
        assert!(
            found[0]
                .message
                .contains("instance VI_1: notify_master script")
                && found[0].message.contains(&unsafe_command)
                && found[0]
                    .message
                    .contains("is not run (enable_script_security)")
                && found[0]
                    .message
                    .contains(&format!("`{}", culprit.display())),
            "{}",
            found[0].message
        );
        assert_eq!(c.instances[0].notify.master, None);
        assert_eq!(c.scripts.len(), 1, "`true` is the shell's own: safe");

        // As a user other than root, nothing is at stake.
        let mut c = config(&unsafe_command, "true");
        c.global.script_user = user("nobody");
        c.global.script_security = true;
        assert_eq!(prepare_with(&mut c, &FakeUsers::new()), []);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
