//! OpenStack Neutron in a cached Python venv, so the tests can run Neutron's own code: the
//! iptables rules of an HA router (`tests/neutron/l3_rules.py`), Neutron's functional keepalived
//! tests (`tests/neutron/functional_tests.py`, from the `neutron/tests/` the wheel ships) and its
//! HA router machinery (`tests/neutron/ha_node.py`).
//!
//! The venv is `<cache>/neutron-<version>/` (the cache folder of [`crate::setup`]), made with
//! `python3 -m venv` and `pip install neutron==<version>` (about 45 s and 350 MB the first
//! time), then Neutron's test requirements that its functional tests import
//! ([`TEST_REQUIREMENTS`], a few seconds). A marker file is written after each successful
//! install; a folder without the first is a half-done install and is removed and made again, a
//! venv without the second only gets the test requirements. `cargo xtask test` passes the venv's
//! python to the test processes as [`PYTHON_ENV`].

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::cmd::{self, done, on_path, step};

/// The Neutron release whose rules the tests compare against (PyPI `neutron`).
pub const VERSION: &str = "29.0.0";
/// The variable that tells the tests where the venv's python is.
pub const PYTHON_ENV: &str = "VRRP_XDP_NEUTRON_PYTHON";
/// Written into the venv after a successful install (its content: the requirement installed).
const MARKER: &str = ".vrrp-xdp-installed";
/// What Neutron's functional tests import beyond Neutron's own requirements (from its
/// test-requirements.txt: `testtools` for its test cases, `oslotest` for its base class,
/// `WebTest` for the API test helpers the functional base imports), pinned.
pub const TEST_REQUIREMENTS: &[&str] = &["testtools==2.9.1", "oslotest==6.1.1", "WebTest==3.0.7"];
/// Written after the test requirements are installed (its content: the list installed).
const TEST_MARKER: &str = ".vrrp-xdp-test-requirements";

/// Makes sure `<cache>/neutron-<VERSION>/` holds Neutron; returns the venv's python.
pub fn install(cache: &Path) -> Result<PathBuf> {
    let venv = cache.join(format!("neutron-{VERSION}"));
    let python = venv.join("bin/python");
    let requirement = format!("neutron=={VERSION}");
    let marker = venv.join(MARKER);
    if fs::read_to_string(&marker).is_ok_and(|m| m.trim() == requirement) && python.is_file() {
        eprintln!("    neutron: {VERSION} cached at {}", venv.display());
        install_test_requirements(&venv, &python)?;
        return Ok(python);
    }
    check_python()?;
    if venv.exists() {
        // A venv without the marker is a failed or interrupted install: start again.
        fs::remove_dir_all(&venv)
            .with_context(|| format!("cannot remove the half-installed venv {}", venv.display()))?;
    }
    let t = step(&format!(
        "installing {requirement} into {} (once; about a minute and 350 MB)",
        venv.display()
    ));
    fs::create_dir_all(cache).with_context(|| format!("cannot create {}", cache.display()))?;
    cmd::run(Command::new("python3").args(["-m", "venv"]).arg(&venv)).with_context(|| {
        format!(
            "`python3 -m venv {}` failed; on Debian install python3-venv",
            venv.display()
        )
    })?;
    cmd::run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(&requirement)
            .stdin(Stdio::null()),
    )
    .with_context(|| {
        format!(
            "`pip install {requirement}` into {} failed: is PyPI reachable? (the half-done venv \
             is removed and redone on the next `cargo xtask setup`)",
            venv.display()
        )
    })?;
    // Neutron must import, or the tests would only find out later.
    cmd::output(Command::new(&python).args(["-c", "import neutron.agent.l3.ha_router"]))
        .context("Neutron was installed but `import neutron.agent.l3.ha_router` fails")?;
    fs::write(&marker, format!("{requirement}\n"))
        .with_context(|| format!("cannot write {}", marker.display()))?;
    done(&format!("neutron {VERSION} ready"), t);
    install_test_requirements(&venv, &python)?;
    Ok(python)
}

/// Installs [`TEST_REQUIREMENTS`] into the venv unless its marker lists exactly them.
fn install_test_requirements(venv: &Path, python: &Path) -> Result<()> {
    let marker = venv.join(TEST_MARKER);
    let wanted = TEST_REQUIREMENTS.join(" ");
    if fs::read_to_string(&marker).is_ok_and(|m| m.trim() == wanted) {
        return Ok(());
    }
    let t = step(&format!("installing Neutron's test requirements: {wanted}"));
    cmd::run(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(TEST_REQUIREMENTS)
            .stdin(Stdio::null()),
    )
    .with_context(|| format!("`pip install {wanted}` into {} failed", venv.display()))?;
    cmd::output(Command::new(python).args([
        "-c",
        "import neutron.tests.functional.agent.linux.test_keepalived",
    ]))
    .context("Neutron's functional keepalived tests do not import with the test requirements")?;
    fs::write(&marker, format!("{wanted}\n"))
        .with_context(|| format!("cannot write {}", marker.display()))?;
    done("Neutron's test requirements ready", t);
    Ok(())
}

/// python3 with the venv and pip modules (a venv gets pip from `ensurepip`).
fn check_python() -> Result<()> {
    if !on_path("python3") {
        bail!(
            "python3 is not on PATH: the tests run OpenStack Neutron's own code to write the \
             iptables rules of a router. Install Python 3 with venv and pip (Debian: `apt-get \
             install python3 python3-venv python3-pip`)"
        );
    }
    let ok = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        bail!(
            "python3 has no venv/pip support (`import venv, ensurepip` fails): the tests install \
             OpenStack Neutron into a venv. Install them (Debian: `apt-get install python3-venv \
             python3-pip`)"
        );
    }
    Ok(())
}
