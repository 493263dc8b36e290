//! Toolchain bootstrap: everything `cargo xtask build|test` needs beyond stable cargo.
//!
//! Idempotent and cached. The expensive part, `bpf-linker`, is built once per (bpf-linker
//! version, nightly LLVM major, nightly commit) into a cache folder outside the repository
//! (`$VRRP_XDP_CACHE`, else `$XDG_CACHE_HOME/vrrp-xdp`, else `~/.cache/vrrp-xdp`), linked
//! against the nightly toolchain's own `libLLVM` so its bitcode always matches rustc's.
//! OpenStack Neutron, whose own code writes the iptables rules the test beds carry, is
//! installed into a venv in the same folder (see [`crate::neutron`]), and so is a keepalived
//! built from Debian trixie's source that sends RFC 9568's VRRPv3 checksum (see
//! [`crate::keepalived`]).

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::cmd::{self, done, on_path, output, step};

/// bpf-linker release we build. 0.13 is the newest with an `llvm-22` feature.
const BPF_LINKER_VERSION: &str = "0.13.0";
/// The nightly toolchain the eBPF crate is built with.
pub const NIGHTLY: &str = "nightly";

/// Debian packages the tests, demo and benchmarks use, with one binary (or, for an absolute
/// path, one file) each provides.
const PACKAGES: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("keepalived", "keepalived"),
    ("ethtool", "ethtool"),
    ("iptables", "iptables"),
    // The agent writes the kernel's NAT for configured floating IPs with it.
    ("nft", "nftables"),
    ("ping", "iputils-ping"),
    // Neutron's `neutron-keepalived-state-change` (a sh script) posts to the L3 agent with it.
    ("curl", "curl"),
    // Neutron's `ha_conntrackd_enabled` runs it per router.
    ("conntrackd", "conntrackd"),
    // FRR's VRRP daemon (with zebra and vtysh): the second real peer of the interop tests.
    ("/usr/lib/frr/vrrpd", "frr"),
    // The benchmark plots' text.
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "fonts-dejavu-core",
    ),
];

#[derive(clap::Args, Default)]
pub struct SetupArgs {
    /// Do not install Debian packages (only report the missing ones).
    #[arg(long)]
    pub no_packages: bool,
}

/// What later steps need from setup.
pub struct Toolchain {
    /// Folder holding the `bpf-linker` binary (prepend to PATH for the eBPF build).
    pub bpf_linker_bin: PathBuf,
    /// The python of the venv holding Neutron (for the tests: `crate::neutron::PYTHON_ENV`).
    pub neutron_python: PathBuf,
    /// keepalived 2.2.8 or later, with `v3_checksum_as_v2` (for the tests:
    /// `crate::keepalived::BIN_ENV`).
    pub keepalived_rfc9568: PathBuf,
}

struct Nightly {
    sysroot: PathBuf,
    commit: String,
    llvm_major: u32,
    release: String,
}

/// Runs every setup step; returns what the build needs.
pub fn run(args: &SetupArgs) -> Result<Toolchain> {
    let t = step("setup: toolchain and packages");
    check_linux()?;
    let nightly = nightly()?;
    rust_src(&nightly)?;
    let bpf_linker_bin = bpf_linker(&nightly)?;
    install_packages(PACKAGES, args.no_packages, "for the tests")?;
    let neutron_python = crate::neutron::install(&cache_root()?)?;
    let keepalived_rfc9568 = crate::keepalived::install(&cache_root()?, args.no_packages)?;
    done("setup complete", t);
    Ok(Toolchain {
        bpf_linker_bin,
        neutron_python,
        keepalived_rfc9568,
    })
}

fn check_linux() -> Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("vrrp-xdp needs Linux (XDP and network namespaces); this is not Linux");
    }
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if (major, minor) < (5, 18) {
        bail!(
            "kernel {} is too old: vrrp-xdp needs Linux >= 5.18 (XDP links, BPF_PROG_TEST_RUN \
             live frames)",
            release.trim()
        );
    }
    eprintln!("    kernel {}: ok", release.trim());
    Ok(())
}

fn nightly() -> Result<Nightly> {
    if !on_path("rustup") {
        bail!(
            "rustup is not on PATH. The eBPF build needs a nightly toolchain managed by rustup: \
             install rustup from https://rustup.rs, then `rustup toolchain install nightly \
             --component rust-src`"
        );
    }
    let vv = match output(Command::new("rustup").args(["run", NIGHTLY, "rustc", "-vV"])) {
        Ok(vv) => vv,
        Err(_) => {
            eprintln!("    nightly toolchain missing: installing it");
            cmd::run(Command::new("rustup").args([
                "toolchain",
                "install",
                NIGHTLY,
                "--profile",
                "minimal",
                "--component",
                "rust-src",
            ]))
            .context(
                "the nightly toolchain is missing and could not be installed; install it with \
                 `rustup toolchain install nightly --component rust-src`",
            )?;
            output(Command::new("rustup").args(["run", NIGHTLY, "rustc", "-vV"]))?
        }
    };
    let field = |name: &str| {
        vv.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let release = field("release:").context("`rustc +nightly -vV` printed no release")?;
    let commit = field("commit-hash:").unwrap_or_else(|| "unknown".into());
    let llvm = field("LLVM version:").context("`rustc +nightly -vV` printed no LLVM version")?;
    let llvm_major: u32 = llvm
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .with_context(|| format!("cannot read the LLVM major version from `{llvm}`"))?;
    let sysroot = PathBuf::from(
        output(Command::new("rustup").args(["run", NIGHTLY, "rustc", "--print", "sysroot"]))?
            .trim(),
    );
    eprintln!("    nightly: rustc {release}, LLVM {llvm}");
    Ok(Nightly {
        sysroot,
        commit,
        llvm_major,
        release,
    })
}

fn rust_src(n: &Nightly) -> Result<()> {
    let core = n
        .sysroot
        .join("lib/rustlib/src/rust/library/core/Cargo.toml");
    if core.is_file() {
        eprintln!("    rust-src: present");
        return Ok(());
    }
    eprintln!("    rust-src: missing on {}, adding it", n.release);
    cmd::run(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", NIGHTLY]))
        .context(
            "could not add rust-src to the nightly toolchain (needed for -Z build-std=core); \
             try `rustup component add rust-src --toolchain nightly`",
        )?;
    Ok(())
}

fn cache_root() -> Result<PathBuf> {
    if let Some(dir) = env::var_os("VRRP_XDP_CACHE") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("vrrp-xdp"));
    }
    let home = env::var_os("HOME")
        .context("neither VRRP_XDP_CACHE, XDG_CACHE_HOME nor HOME is set: no cache folder")?;
    Ok(PathBuf::from(home).join(".cache/vrrp-xdp"))
}

/// The nightly toolchain's shared libLLVM (`lib/libLLVM.so.<ver>-rust-<...>`).
fn nightly_libllvm(n: &Nightly) -> Result<PathBuf> {
    let lib = n.sysroot.join("lib");
    let mut found: Vec<PathBuf> = fs::read_dir(&lib)
        .with_context(|| format!("cannot list {}", lib.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with("libLLVM.so.") || f.starts_with("libLLVM-"))
        })
        .collect();
    // Prefer the `libLLVM.so.<ver>` spelling (the library's own soname).
    found.sort_by_key(|p| !p.to_string_lossy().contains("libLLVM.so."));
    found.into_iter().next().with_context(|| {
        format!(
            "no libLLVM in {}: the nightly toolchain is incomplete; reinstall it with \
             `rustup toolchain install nightly --force`",
            lib.display()
        )
    })
}

fn bpf_linker(n: &Nightly) -> Result<PathBuf> {
    let short = &n.commit[..n.commit.len().min(9)];
    let dir = cache_root()?.join(format!(
        "bpf-linker-{BPF_LINKER_VERSION}-llvm{}-nightly-{short}",
        n.llvm_major
    ));
    let bin = dir.join("bin");
    let linker = bin.join("bpf-linker");
    // The prefix folder bpf-linker is built against, and its run path afterwards: it must
    // hold the toolchain's libLLVM under the link-time name (`libLLVM.so`) and under its
    // soname (what the binary asks the loader for). Recreated every run (cheap), so a cached
    // linker keeps working if the toolchain's files move.
    let prefix = dir.join("llvm");
    let target = nightly_libllvm(n)?;
    link_libllvm(&prefix, &target)?;
    if linker.is_file() && works(&linker) {
        eprintln!("    bpf-linker: cached at {}", linker.display());
        return Ok(bin);
    }
    let t = step(&format!(
        "building bpf-linker {BPF_LINKER_VERSION} against nightly's LLVM {} (once; about a minute or three)",
        n.llvm_major
    ));
    let mut install = cmd::cargo(None);
    install
        .args(["install", "bpf-linker", "--locked", "--force", "--version"])
        .arg(BPF_LINKER_VERSION)
        .args(["--no-default-features", "--features"])
        .arg(format!("llvm-{}", n.llvm_major))
        .arg("--root")
        .arg(&dir)
        .env("LLVM_PREFIX", &prefix)
        .current_dir(&dir);
    cmd::run(&mut install).with_context(|| {
        format!(
            "building bpf-linker failed. It links against {} through LLVM_PREFIX={}; check that \
             a C toolchain (gcc) is installed and that crates.io is reachable",
            target.display(),
            prefix.display()
        )
    })?;
    if !works(&linker) {
        bail!(
            "bpf-linker was built at {} but does not run; remove {} and retry",
            linker.display(),
            dir.display()
        );
    }
    done("bpf-linker ready", t);
    Ok(bin)
}

fn link_libllvm(prefix: &Path, target: &Path) -> Result<()> {
    let lib = prefix.join("lib");
    fs::create_dir_all(&lib).with_context(|| format!("cannot create {}", lib.display()))?;
    let soname = target
        .file_name()
        .context("libLLVM path has no file name")?
        .to_owned();
    for name in [std::ffi::OsString::from("libLLVM.so"), soname] {
        let link = lib.join(&name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link)
            .with_context(|| format!("cannot link {} -> {}", link.display(), target.display()))?;
    }
    Ok(())
}

fn works(linker: &Path) -> bool {
    Command::new(linker)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs the Debian packages of `list` (`(probe, package)`: a program on PATH or in an sbin
/// folder, or an absolute path to a file the package provides) that are missing; `why` says
/// what for. With `no_install`, missing packages are an error.
pub fn install_packages(list: &[(&str, &str)], no_install: bool, why: &str) -> Result<()> {
    let sbin = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
    let missing: Vec<&str> = list
        .iter()
        .filter(|(probe, _)| {
            if probe.starts_with('/') {
                !Path::new(probe).is_file()
            } else {
                !on_path(probe) && !sbin.iter().any(|d| Path::new(d).join(probe).is_file())
            }
        })
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        eprintln!(
            "    packages {why}: {} present",
            list.iter().map(|(_, p)| *p).collect::<Vec<_>>().join(", ")
        );
        return Ok(());
    }
    let list = missing.join(" ");
    if no_install {
        bail!("missing Debian packages {why}: {list}; install them with `apt-get install {list}`");
    }
    if !on_path("apt-get") {
        bail!(
            "missing packages {why}: {list}. This machine has no apt-get: install the \
             equivalent packages with your distribution's package manager"
        );
    }
    if !is_root() {
        bail!("missing packages {why}: {list}; run as root or `sudo apt-get install {list}`");
    }
    let t = step(&format!("installing Debian packages {why}: {list}"));
    cmd::run(
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("`apt-get update` failed: is a package mirror reachable?")?;
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .with_context(|| format!("`apt-get install {list}` failed"))?;
    if missing.contains(&"frr") {
        quiet_frr_service();
    }
    done("packages installed", t);
    Ok(())
}

/// Debian's frr package enables `frr.service` (zebra, staticd, watchfrr in the root
/// namespace) and starts it where systemd runs. The tests start their own daemons in their
/// own namespaces with private sockets and files, so a system-wide FRR does not disturb them;
/// but one that setup itself brought in has no business running: stop and disable it. (In a
/// container without systemd, `policy-rc.d` or the missing init already kept it from
/// starting.)
fn quiet_frr_service() {
    if !Path::new("/run/systemd/system").is_dir() {
        return;
    }
    match cmd::run(Command::new("systemctl").args(["disable", "--now", "frr.service"])) {
        Ok(()) => eprintln!("    frr.service (installed with frr): stopped and disabled"),
        Err(e) => eprintln!("    warning: could not stop and disable frr.service: {e:#}"),
    }
}

/// Effective uid 0, read from /proc so xtask needs no libc binding.
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
