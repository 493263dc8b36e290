//! Building the XDP object with nightly + bpf-linker, and the agent that embeds it.
//!
//! The object lands in `target/ebpf/bpfel-unknown-none/release/vrrp-ebpf`; the agent's build
//! script embeds whatever `VRRP_EBPF_OBJECT` points at (and an empty stub when it is unset).

use std::{env, ffi::OsString, path::PathBuf};

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

/// Builds the XDP object; returns its path.
pub fn build_object(tc: &Toolchain) -> Result<PathBuf> {
    let t = step("building the XDP object (nightly, bpfel-unknown-none)");
    let target_dir = workspace_root().join("target/ebpf");
    let mut path = OsString::from(&tc.bpf_linker_bin);
    if let Some(p) = env::var_os("PATH") {
        path.push(":");
        path.push(p);
    }
    let arch = env::consts::ARCH;
    let rustflags = [
        format!("--cfg=bpf_target_arch=\"{arch}\""),
        "-Cdebuginfo=2".into(),
        "-Clink-arg=--btf".into(),
    ]
    .join("\x1f");
    cmd::run(
        cmd::cargo(Some(NIGHTLY))
            .args(["build", "--package", "vrrp-ebpf", "--bin", "vrrp-ebpf"])
            .args(["--release", "--target", TARGET, "-Z", "build-std=core"])
            .arg("--target-dir")
            .arg(&target_dir)
            .env("PATH", path)
            .env("CARGO_ENCODED_RUSTFLAGS", rustflags),
    )
    .context("building the XDP program failed (see the compiler output above)")?;
    let object = target_dir.join(TARGET).join("release").join("vrrp-ebpf");
    let size = std::fs::metadata(&object)
        .with_context(|| format!("the build produced no object at {}", object.display()))?
        .len();
    done(
        &format!("XDP object: {} ({size} bytes)", object.display()),
        t,
    );
    Ok(object)
}
