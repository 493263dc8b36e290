//! `cargo xtask`: the one entry point for everything that needs more than stable cargo.
//!
//! * `setup`: idempotent toolchain bootstrap (nightly `rust-src`, a `bpf-linker` built against
//!   the nightly toolchain's own LLVM, Debian packages the tests use). Cached: a second run takes
//!   seconds.
//! * `build`: the XDP object (nightly, `bpfel-unknown-none`) and the agent that embeds it.
//! * `test`: setup, build, lint, then every test suite, ending with a summary.
//! * `demo`: keepalived in one namespace, the agent's XDP program counting its adverts in
//!   another.
//!
//! Depends only on std, clap and anyhow; talks to the rest of the workspace through cargo.

mod bins;
mod cmd;
mod demo;
mod ebpf;
mod setup;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, test and demo vrrp-xdp",
    long_about = "Build, test and demo vrrp-xdp.\n\n\
        Every command that needs the eBPF toolchain runs `setup` first, so on a fresh machine \
        `cargo xtask test` is the only command you need."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install or verify the toolchain: nightly rust-src, bpf-linker (matching nightly's
    /// LLVM), and the Debian packages the tests need. Idempotent and cached.
    Setup(setup::SetupArgs),
    /// Build the XDP object and the agent binary that embeds it.
    Build(ebpf::BuildArgs),
    /// Run setup, build, lints and every test suite (privileged ones need root).
    Test(test::TestArgs),
    /// Show the XDP program counting a real keepalived's adverts in network namespaces.
    Demo(demo::DemoArgs),
    /// The Neutron-like test bed: `up [--tag NAME] [--routers 2|3]`, `down`, `status`.
    Testbed {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup(args) => setup::run(&args).map(|_| ()),
        Command::Build(args) => ebpf::run_build(&args),
        Command::Test(args) => test::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Testbed { args } => bins::run("testbed", &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the context chain on one line and never a backtrace.
            eprintln!("\nxtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
