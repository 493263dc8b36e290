//! The `vrrp-agent` binary: command-line parsing and the anyhow edge. Everything else lives in
//! the library (`vrrp_agent::*`); the subcommands are in `cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(&args.log_level);
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}`: the whole context chain on one line, never a backtrace.
            eprintln!("vrrp-agent: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
