//! Command-line interface: argument definitions, logging setup and dispatch to subcommands.

// The binary edge: timestamps for output and timeouts (see clippy.toml).
#![allow(clippy::disallowed_methods)]

mod check_config;
mod dataplane_choice;
mod dataplane_stats;
pub mod keepalived;
pub mod keepalived_args;
mod keepalived_check;
mod keepalived_client;
mod node_cmd;
mod run_cmd;
mod status;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

const ABOUT: &str = "VRRP agent with an XDP data plane that obeys the election";
const LONG_ABOUT: &str = "\
vrrp-agent runs the VRRP election (RFC 5798 VRRPv3, RFC 3768 VRRPv2) for many routers at once \
and drives an XDP program on the same interfaces, so the kernel data path forwards virtual-IP \
traffic only on the node that is MASTER.

Privileges: root, or CAP_BPF + CAP_NET_ADMIN + CAP_NET_RAW (+ CAP_SYS_ADMIN to enter other \
network namespaces, CAP_PERFMON for BPF_PROG_TEST_RUN).";

#[derive(Parser)]
#[command(name = "vrrp-agent", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Log level (error, warn, info, debug, trace) or a tracing filter such as
    /// `vrrp_agent=debug` [default: RUST_LOG when set, else info]. Given, it wins over
    /// RUST_LOG. At debug, the XDP program's own debug logs are switched on too.
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the agent: the VRRP election for every configured instance (in any number of
    /// network namespaces), their addresses, routes, GARP/NA, notify scripts, status socket.
    Run(run_cmd::Args),
    /// Validate a configuration file (native TOML or keepalived.conf) and summarize it.
    CheckConfig(check_config::Args),
    /// Show every running agent's instances: state, priority, master, last transition.
    Status(status::Args),
    /// Print the XDP program's counters: adverts per (VRID, version, family) and frames by
    /// kind, malformed ones included. By default a running agent's (read from the maps it
    /// pinned, found through its status socket or --bpf-pin-dir); with -i, those of a program
    /// attached to the interfaces for the purpose and detached on exit (Ctrl-C / SIGTERM, or
    /// after --count snapshots).
    #[command(alias = "xdp-stats")]
    DataplaneStats(dataplane_stats::Args),
    /// keepalived's command line (`-P -f CONF -p PIDFILE -r VRRP_PIDFILE [-D] [-n] [-l]`),
    /// for Neutron and init scripts; the same as invoking this binary through a link named
    /// `keepalived`. Try `vrrp-agent keepalived --help`.
    #[command(disable_help_flag = true)]
    Keepalived {
        /// keepalived options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The node-wide agent behind the `keepalived` processes Neutron starts (one per router):
    /// it runs every router's election and holds the one XDP data plane, while each
    /// `keepalived` process only registers its router, writes the pid files and passes
    /// SIGHUP/SIGTERM on. A `keepalived` process starts it when none answers; run it yourself
    /// (`--foreground`) to have a service manager own it. Settings: the keepalived entry
    /// point's settings file.
    Node(node_cmd::Args),
}

/// Sets up logging to stderr with `level` when given (an explicit choice: it wins over
/// RUST_LOG), else with RUST_LOG when set, else at info.
pub fn init_logging(level: Option<&str>) {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(level, std::env::var("RUST_LOG").ok().as_deref()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// The filter for an explicit `level` and the value of RUST_LOG (see [`init_logging`]).
fn log_filter(level: Option<&str>, rust_log: Option<&str>) -> EnvFilter {
    let (filter, from) = match (level, rust_log) {
        (Some(level), _) => (level, "--log-level"),
        (None, Some(env)) if !env.trim().is_empty() => (env, "RUST_LOG"),
        (None, _) => ("info", "default"),
    };
    EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("vrrp-agent: invalid {from} `{filter}` ({e}); using `info`");
        EnvFilter::new("info")
    })
}

/// Whether debug-level events are enabled (used to switch the XDP program's logs on).
pub fn debug_enabled() -> bool {
    tracing::enabled!(tracing::Level::DEBUG)
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::DataplaneStats(args) => {
            end_quietly_on_broken_pipe();
            dataplane_stats::run(args)
        }
        Command::Keepalived { args } => keepalived::main(&args),
        Command::Run(args) => run_cmd::run_cmd(args),
        Command::CheckConfig(args) => {
            end_quietly_on_broken_pipe();
            check_config::run(args)
        }
        Command::Status(args) => {
            end_quietly_on_broken_pipe();
            status::run(args)
        }
        Command::Node(args) => node_cmd::run(args),
    }
}

/// For the commands that print for a reader (`status | head`, a pager): when the reader goes
/// away, the output ends quietly, as with every other Unix tool, instead of `println!`
/// panicking on EPIPE. Rust starts programs with SIGPIPE ignored; these commands get the
/// default back (the daemons keep it ignored: a peer closing a socket must not kill them).
fn end_quietly_on_broken_pipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installs the default disposition, no handler function, before this command
    // starts any thread; nothing else in the process relies on SIGPIPE being ignored.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_log_level_wins_over_rust_log() {
        assert_eq!(log_filter(Some("warn"), Some("trace")).to_string(), "warn");
        assert_eq!(log_filter(None, Some("trace")).to_string(), "trace");
        assert_eq!(log_filter(None, None).to_string(), "info");
        assert_eq!(log_filter(None, Some("")).to_string(), "info");
        assert_eq!(log_filter(Some("no=such=level"), None).to_string(), "info");
    }
}
