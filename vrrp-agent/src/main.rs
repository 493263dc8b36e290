//! The `vrrp-agent` binary: command-line parsing and the anyhow edge. Everything else lives in
//! the library (`vrrp_agent::*`); the subcommands are in `cli/`. Invoked through a link named
//! `keepalived`, it speaks keepalived's command line (the drop-in Neutron runs).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before anything forks: where the host's bpf filesystem is, seen from here.
    vrrp_agent::host_view::capture();
    let argv: Vec<String> = std::env::args().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("vrrp-agent");
    let result = if invoked_as == "keepalived" {
        cli::keepalived::main(&argv[1..])
    } else {
        let args = cli::Cli::parse();
        // The keepalived path forks first and sets up logging itself.
        if !matches!(args.command, cli::Command::Keepalived { .. }) {
            cli::init_logging(args.log_level.as_deref());
        }
        cli::run(args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}`: the whole context chain on one line, never a backtrace.
            eprintln!("vrrp-agent: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
