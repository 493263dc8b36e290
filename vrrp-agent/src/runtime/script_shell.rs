//! The shell that notify and check scripts run in: `/bin/sh`, or, for a router the node agent
//! runs on behalf of a `keepalived` process Neutron started with `ip netns exec <ns>`,
//! `ip netns exec <ns> /bin/sh`, so the script sees what it would have seen under keepalived:
//! the router's network namespace, its `/sys`, and `/etc/netns/<ns>` over `/etc`.

use tokio::process::Command;

/// `/bin/sh`, inside `netns` when given.
pub fn shell(netns: Option<&str>) -> Command {
    match netns {
        None => Command::new("/bin/sh"),
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns, "/bin/sh"]);
            cmd
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_of_a_namespaced_router_run_through_ip_netns_exec() {
        let cmd = shell(Some("qrouter-1"));
        let std = cmd.as_std();
        assert_eq!(std.get_program(), "ip");
        let args: Vec<_> = std.get_args().collect();
        assert_eq!(args, ["netns", "exec", "qrouter-1", "/bin/sh"]);
        assert_eq!(shell(None).as_std().get_program(), "/bin/sh");
    }
}
