//! `cargo xtask`: the one entry point for everything that needs more than stable cargo.
//!
//! * `setup`: idempotent toolchain bootstrap (nightly `rust-src`, a `bpf-linker` built against
//!   the nightly toolchain's own LLVM, Debian packages the tests use, OpenStack Neutron in a
//!   venv, keepalived 2.3 built from Debian trixie's source). Cached: a second run takes
//!   seconds.
//! * `build`: the XDP object (nightly, `bpfel-unknown-none`) and the agent that embeds it.
//! * `test`: setup, build, lint, then every test suite, ending with a summary.
//! * `demo`: the README's demo on the test bed (two agents, traffic, failover, numbers).
//! * `testbed`: the Neutron-like test bed, up and down.
//!
//! Depends only on std, clap and anyhow; talks to the rest of the workspace through cargo.

mod bins;
mod cmd;
mod ebpf;
mod keepalived;
mod neutron;
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
    /// The demo: two routers on the test bed, traffic, kill -9 of the master, measured
    /// outage, TCP survival, status, no flap when the old master returns.
    Demo,
    /// The Neutron-like test bed (namespaces client, server, r1..rN, segments LAN/WAN/HA)
    /// left in place for experiments; writes one agent configuration per router.
    #[command(subcommand)]
    Testbed(TestbedCommand),
    /// Benchmarks: XDP per-packet cost, forwarding throughput vs iptables NAT, failover outage
    /// vs keepalived, scale. Prints tables; writes BENCHMARKS.md, bench/results.json and
    /// bench/*.png. Parts: xdp, throughput, failover, scale (default: all).
    Bench {
        /// Parts to run (default: all). One part alone keeps the others' latest results.
        #[arg(value_parser = ["xdp", "throughput", "failover", "scale"])]
        parts: Vec<String>,
        /// Fewer repetitions and shorter windows (to try the harness; marked in the report).
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Subcommand)]
enum TestbedCommand {
    /// Create the namespaces and print how to start an agent on each router.
    Up {
        /// Names the bed: namespaces are `vxtb-<TAG>-<role>`, configs in /tmp/vxtb-<TAG>/.
        #[arg(long, default_value = "demo")]
        tag: String,
        /// Router nodes sharing the virtual router.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
        routers: u8,
    },
    /// Remove every test bed, agents started on it and their pinned XDP state.
    Down,
    /// List the test bed namespaces and the routers' addresses.
    Status,
}

impl TestbedCommand {
    fn args(&self) -> Vec<String> {
        match self {
            Self::Up { tag, routers } => vec![
                "up".into(),
                "--tag".into(),
                tag.clone(),
                "--routers".into(),
                routers.to_string(),
            ],
            Self::Down => vec!["down".into()],
            Self::Status => vec!["status".into()],
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup(args) => setup::run(&args).map(|_| ()),
        Command::Build(args) => ebpf::run_build(&args),
        Command::Test(args) => test::run(&args),
        Command::Demo => bins::run("demo", &[]),
        Command::Testbed(t) => bins::run("testbed", &t.args()),
        Command::Bench { parts, quick } => {
            let mut args = vec![
                "--out".to_string(),
                cmd::workspace_root().display().to_string(),
            ];
            args.extend(parts);
            if quick {
                args.push("--quick".into());
            }
            bins::run("bench", &args)
        }
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
