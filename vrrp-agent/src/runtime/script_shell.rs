//! The shell that notify and check scripts run in: `/bin/sh`, or, for a router the node agent
//! runs on behalf of a `keepalived` process Neutron started with `ip netns exec <ns>`,
//! `ip netns exec <ns> /bin/sh`, so the script sees what it would have seen under keepalived:
//! the router's network namespace, its `/sys`, and `/etc/netns/<ns>` over `/etc`. A script
//! runs as the identity `runtime::script_policy` gave it (keepalived's `script_user`): the
//! shell is started with that uid and gid and no supplementary groups; through
//! `ip netns exec`, which needs root, the switch happens inside the namespace
//! (`setpriv --reuid U --regid G --clear-groups /bin/sh`).

use tokio::process::Command;

use crate::config::RunAs;

/// `/bin/sh` as `run_as` (`None`, or our own identity: as we are), inside `netns` when given.
pub fn shell(netns: Option<&str>, run_as: Option<&RunAs>) -> Command {
    let switch = run_as.filter(|r| {
        r.uid != nix::unistd::geteuid().as_raw() || r.gid != nix::unistd::getegid().as_raw()
    });
    match netns {
        None => {
            let mut cmd = Command::new("/bin/sh");
            if let Some(r) = switch {
                // std's setuid also drops the supplementary groups (setgroups(0)), as
                // keepalived's set_privileges does.
                cmd.uid(r.uid).gid(r.gid);
            }
            cmd
        }
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns]);
            if let Some(r) = switch {
                cmd.args([
                    "setpriv".to_string(),
                    format!("--reuid={}", r.uid),
                    format!("--regid={}", r.gid),
                    "--clear-groups".to_string(),
                ]);
            }
            cmd.arg("/bin/sh");
            cmd
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmd: &Command) -> Vec<String> {
        cmd.as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn scripts_of_a_namespaced_router_run_through_ip_netns_exec() {
        let cmd = shell(Some("qrouter-1"), None);
        assert_eq!(cmd.as_std().get_program(), "ip");
        assert_eq!(args(&cmd), ["netns", "exec", "qrouter-1", "/bin/sh"]);
        assert_eq!(shell(None, None).as_std().get_program(), "/bin/sh");
    }

    #[test]
    fn another_user_is_switched_to_inside_the_namespace() {
        let other = RunAs {
            name: "other".into(),
            uid: nix::unistd::geteuid().as_raw() + 1,
            gid: 4242,
        };
        assert_eq!(
            args(&shell(Some("qrouter-1"), Some(&other))),
            [
                "netns".to_string(),
                "exec".into(),
                "qrouter-1".into(),
                "setpriv".into(),
                format!("--reuid={}", other.uid),
                "--regid=4242".into(),
                "--clear-groups".into(),
                "/bin/sh".into()
            ]
        );
        // Ourselves: nothing to switch.
        let me = RunAs {
            name: "me".into(),
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        };
        assert_eq!(
            args(&shell(Some("qrouter-1"), Some(&me))),
            ["netns", "exec", "qrouter-1", "/bin/sh"]
        );
    }
}
