//! `cargo xtask test`: setup, XDP object, lints, every test suite, and a summary.
//!
//! The privileged suite (`vrrp-tests`: BPF_PROG_TEST_RUN, namespaces, real agents) needs root;
//! `--unprivileged` runs everything else.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    cmd::{self, done, step},
    ebpf::{self, OBJECT_ENV},
    setup::{self, SetupArgs, Toolchain, is_root},
};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Skip the privileged suite (`vrrp-tests` in `tests/`), for running without root. The
    /// benchmarks' unit tests (`vrrp-bench`, `tests/bench/`) need no root and still run.
    #[arg(long)]
    pub unprivileged: bool,
    /// Skip `cargo fmt --check` and clippy.
    #[arg(long)]
    pub no_lint: bool,
    /// Extra arguments for `cargo test` (after `--`), e.g. a test name filter.
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

pub fn run(args: &TestArgs) -> Result<()> {
    let started = Instant::now();
    if !args.unprivileged && !is_root() {
        bail!(
            "the privileged test suite needs root (it loads XDP programs and creates network \
             namespaces). Run `sudo cargo xtask test`, or `cargo xtask test --unprivileged` for \
             the rest"
        );
    }
    let tc = setup::run(&SetupArgs::default())?;
    let object = ebpf::build_object(&tc)?;
    if !args.no_lint {
        lint(&tc, &object)?;
    }
    // The end-to-end tests run the real binary: build it with the object embedded.
    let t = step("building vrrp-agent for the end-to-end tests");
    cmd::run(
        cmd::cargo(None)
            .args(["build", "--quiet", "--package", "vrrp-agent"])
            .env(OBJECT_ENV, &object),
    )?;
    let agent_bin = cmd::workspace_root().join("target/debug/vrrp-agent");
    done(&format!("agent: {}", agent_bin.display()), t);

    let t = step("running the test suites");
    let mut test = cmd::cargo(None);
    test.args(["test", "--no-fail-fast"]);
    if args.unprivileged {
        test.arg("--workspace").args(["--exclude", "vrrp-tests"]);
        test.args(["--exclude", "vrrp-ebpf"]);
    } else {
        test.arg("--workspace").args(["--exclude", "vrrp-ebpf"]);
    }
    if !args.cargo_args.is_empty() {
        test.arg("--").args(&args.cargo_args);
    }
    test.env(OBJECT_ENV, &object)
        .env("VRRP_AGENT_BIN", &agent_bin)
        .env(crate::neutron::PYTHON_ENV, &tc.neutron_python)
        .env(crate::keepalived::BIN_ENV, &tc.keepalived_rfc9568)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = cmd::display(&test);
    let mut child = test
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    let mut summary = Summary::default();
    // cargo's own messages (compile errors, "error: test failed, to rerun pass ...") come on
    // stderr: passed through, and the failure lines kept for the summary.
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let failures = std::thread::spawn(move || {
        let mut failed = vec![];
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if let Some(what) = line.strip_prefix("error: ")
                && what.contains("failed, to rerun pass")
            {
                failed.push(what.to_string());
            }
        }
        failed
    });
    let stdout = child.stdout.take().context("no stdout pipe")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo test output")?;
        println!("{line}");
        summary.observe(&line);
    }
    let status = child.wait()?;
    let failed_targets = failures.join().unwrap_or_default();
    done("test suites finished", t);

    eprintln!(
        "\n==> summary: {} passed, {} failed, {} ignored in {} test binaries ({:.0}s in all)",
        summary.passed,
        summary.failed,
        summary.ignored,
        summary.binaries,
        started.elapsed().as_secs_f64()
    );
    if args.unprivileged {
        eprintln!("    (privileged suite skipped: --unprivileged)");
    }
    for f in &failed_targets {
        eprintln!("    {f}");
    }
    if !status.success() || summary.failed > 0 {
        bail!("tests failed: `{shown}` ({status})");
    }
    Ok(())
}

fn lint(tc: &Toolchain, object: &std::path::Path) -> Result<()> {
    let t = step("lint: rustfmt and clippy (host crates on stable, XDP crate on nightly)");
    cmd::run(cmd::cargo(None).args(["fmt", "--all", "--", "--check"]))
        .context("code is not formatted: run `cargo fmt --all`")?;
    // Same VRRP_EBPF_OBJECT as the test build, so the agent is not rebuilt in between.
    cmd::run(
        cmd::cargo(None)
            .args(["clippy", "--workspace", "--all-targets", "--quiet"])
            .args(["--", "-D", "warnings"])
            .env(OBJECT_ENV, object),
    )
    .context("clippy found problems in the host crates")?;
    cmd::run(
        ebpf::nightly_cargo(tc, "clippy")
            .arg("--quiet")
            .args(["--", "-D", "warnings"]),
    )
    .context("clippy found problems in the XDP crate")?;
    done("lint clean", t);
    Ok(())
}

/// Totals of the `test result:` lines cargo prints per test binary.
#[derive(Default)]
struct Summary {
    binaries: u32,
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Summary {
    fn observe(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        self.binaries += 1;
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match label {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Summary;

    #[test]
    fn summary_reads_cargo_result_lines() {
        let mut s = Summary::default();
        s.observe("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        s.observe("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s");
        s.observe("running 5 tests");
        assert_eq!((s.binaries, s.passed, s.failed, s.ignored), (2, 15, 2, 1));
    }
}
