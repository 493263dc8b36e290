//! Building the XDP object with nightly + bpf-linker, and the agent that embeds it.
//!
//! The object lands in `target/ebpf/bpfel-unknown-none/release/vrrp-ebpf`; the agent's build
//! script embeds whatever `VRRP_EBPF_OBJECT` points at (and an empty stub when it is unset).

use std::{env, ffi::OsString, path::PathBuf, process::Command};

use anyhow::{Context, Result};

use crate::{
    cmd::{self, done, step, workspace_root},
    setup::{self, NIGHTLY, SetupArgs, Toolchain},
};

/// The environment variable the agent's build script reads.
pub const OBJECT_ENV: &str = "VRRP_EBPF_OBJECT";
const TARGET: &str = "bpfel-unknown-none";

#[derive(clap::Args)]
pub struct BuildArgs {
    /// Build the agent in release mode (the XDP object is always optimised).
    #[arg(long)]
    pub release: bool,
}

/// `cargo xtask build`: setup, XDP object, agent.
pub fn run_build(args: &BuildArgs) -> Result<()> {
    let tc = setup::run(&SetupArgs::default())?;
    let object = build_object(&tc)?;
    let t = step("building vrrp-agent with the XDP object embedded");
    let mut build = cmd::cargo(None);
    build
        .args(["build", "--package", "vrrp-agent"])
        .env(OBJECT_ENV, &object);
    if args.release {
        build.arg("--release");
    }
    cmd::run(&mut build)?;
    let profile = if args.release { "release" } else { "debug" };
    done(
        &format!(
            "agent: {}",
            workspace_root()
                .join("target")
                .join(profile)
                .join("vrrp-agent")
                .display()
        ),
        t,
    );
    Ok(())
}

/// `cargo <subcommand>` on nightly for the XDP crate: bpf target, `build-std=core`, our
/// bpf-linker first on PATH, and the rustflags aya-ebpf expects. `subcommand` is `build` or
/// `clippy`; each gets its own target folder.
pub fn nightly_cargo(tc: &Toolchain, subcommand: &str) -> Command {
    let mut path = OsString::from(&tc.bpf_linker_bin);
    if let Some(p) = env::var_os("PATH") {
        path.push(":");
        path.push(p);
    }
    let rustflags = [
        format!("--cfg=bpf_target_arch=\"{}\"", env::consts::ARCH),
        "-Cdebuginfo=2".into(),
        "-Clink-arg=--btf".into(),
    ]
    .join("\x1f");
    let mut cmd = cmd::cargo(Some(NIGHTLY));
    cmd.args([subcommand, "--package", "vrrp-ebpf", "--bin", "vrrp-ebpf"])
        .args(["--release", "--target", TARGET, "-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(target_dir(subcommand))
        .env("PATH", path)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags);
    cmd
}

fn target_dir(subcommand: &str) -> PathBuf {
    match subcommand {
        "build" => workspace_root().join("target/ebpf"),
        other => workspace_root().join(format!("target/ebpf-{other}")),
    }
}

/// Builds the XDP object; returns its path.
pub fn build_object(tc: &Toolchain) -> Result<PathBuf> {
    let t = step("building the XDP object (nightly, bpfel-unknown-none)");
    cmd::run(&mut nightly_cargo(tc, "build"))
        .context("building the XDP program failed (see the compiler output above)")?;
    let object = target_dir("build")
        .join(TARGET)
        .join("release")
        .join("vrrp-ebpf");
    let size = std::fs::metadata(&object)
        .with_context(|| format!("the build produced no object at {}", object.display()))?
        .len();
    done(
        &format!("XDP object: {} ({size} bytes)", object.display()),
        t,
    );
    Ok(object)
}
