//! Running the tools of the `vrrp-bench` crate (`tests/bench/`: test bed, demo, benchmarks)
//! with the XDP object embedded: build them (after setup and the object), then exec one.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{
    cmd::{self, done, step, workspace_root},
    ebpf::{self, OBJECT_ENV},
    setup::{self, SetupArgs, is_root},
};

/// Builds the agent and the test tools in release mode and runs `tool args...` as root.
pub fn run(tool: &str, args: &[String]) -> Result<()> {
    if !is_root() {
        bail!("`{tool}` creates network namespaces and loads XDP: run it as root");
    }
    let tc = setup::run(&SetupArgs::default())?;
    let object = ebpf::build_object(&tc)?;
    let t = step(&format!(
        "building vrrp-agent and the {tool} tool (release)"
    ));
    cmd::run(
        cmd::cargo(None)
            .args(["build", "--quiet", "--release", "--package", "vrrp-agent"])
            .args(["--package", "vrrp-bench", "--bins"])
            .env(OBJECT_ENV, &object),
    )?;
    done("built", t);
    let bin = workspace_root().join("target/release");
    let status = Command::new(bin.join(tool))
        .args(args)
        .env("VRRP_AGENT_BIN", bin.join("vrrp-agent"))
        .status()
        .with_context(|| format!("could not start {tool}"))?;
    if !status.success() {
        bail!("{tool} failed ({status})");
    }
    Ok(())
}
