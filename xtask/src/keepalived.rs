//! A keepalived that speaks RFC 9568's VRRPv3-over-IPv4 checksum (`v3_checksum_as_v2`, new in
//! keepalived 2.2.8), for the interop tests: built from Debian trixie's source package
//! (keepalived 2.3.x) on this machine, since bookworm's keepalived is 2.2.7.
//!
//! The source comes through apt with a private configuration (its own sources list naming only
//! `deb-src http://deb.debian.org/debian trixie main`, its own lists and cache folders, all in
//! a scratch folder removed afterwards), so the system's apt state is not touched; apt checks
//! the files against the signed index. The upstream tarball (`.orig.tar.gz`) is unpacked and
//! configured with what a VRRP-only build needs ([`CONFIGURE`]: no firewall, no systemd, no
//! libnl; LVS stays in, because without it keepalived has no `-P` and the tests start every
//! keepalived with Neutron's command line), against bookworm's build packages
//! ([`BUILD_PACKAGES`]: a C compiler, make, pkg-config, OpenSSL headers). Only the `keepalived`
//! binary is built (`nice make -j2` in `lib/` and `keepalived/`) and kept as
//! `<cache>/keepalived-<upstream version>/keepalived`, beside `built-from.txt` saying from
//! what and how. Nothing is done when such a binary exists (about a minute the first time).
//! `cargo xtask test` passes its path to the tests as [`BIN_ENV`].

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    cmd::{self, on_path},
    setup,
};

/// The variable that tells the tests where the binary is.
pub const BIN_ENV: &str = "KEEPALIVED_RFC9568_BIN";
/// Where the source package comes from.
const SOURCES: &str = "deb-src http://deb.debian.org/debian trixie main";
const SUITE: &str = "trixie";
/// The key Debian signs its archive with (bookworm's keyring holds trixie's keys).
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// `./configure` flags: the VRRP framework and nothing that needs more than OpenSSL.
const CONFIGURE: &[&str] = &[
    "--disable-iptables",
    "--disable-nftables",
    "--disable-libnl",
    "--disable-systemd",
    "--disable-track-process",
    "--disable-snmp",
    "--disable-dbus",
];
/// What the build needs (from bookworm), with one file each provides.
pub const BUILD_PACKAGES: &[(&str, &str)] = &[
    ("gcc", "gcc"),
    ("make", "make"),
    ("/usr/include/stdio.h", "libc6-dev"),
    ("pkg-config", "pkg-config"),
    ("/usr/include/openssl/ssl.h", "libssl-dev"),
];
/// Folder name prefix in the cache: `keepalived-<version>/keepalived`.
const PREFIX: &str = "keepalived-";

/// Makes sure a keepalived with `v3_checksum_as_v2` is cached; returns its path.
pub fn install(cache: &Path, no_packages: bool) -> Result<PathBuf> {
    if let Some((version, bin)) = cached(cache) {
        eprintln!(
            "    keepalived {version} (RFC 9568 checksums): cached at {}",
            bin.display()
        );
        return Ok(bin);
    }
    setup::install_packages(BUILD_PACKAGES, no_packages, "to build keepalived")?;
    let started = Instant::now();
    let scratch = cache.join(format!("{PREFIX}build.tmp"));
    if scratch.exists() {
        fs::remove_dir_all(&scratch)
            .with_context(|| format!("cannot remove {}", scratch.display()))?;
    }
    fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let result = build(cache, &scratch, started);
    // The source, the objects and the private apt state (a 20 MB index) are not kept.
    let _ = fs::remove_dir_all(&scratch);
    result
}

/// The newest working `<cache>/keepalived-<version>/keepalived`, if any.
fn cached(cache: &Path) -> Option<(String, PathBuf)> {
    let mut found: Vec<(Vec<u32>, String, PathBuf)> = fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix(PREFIX)?.to_string();
            let key = version_key(&version)?;
            let bin = e.path().join("keepalived");
            bin.is_file().then_some((key, version, bin))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .rev()
        .find(|(_, _, bin)| knows_v3_checksum_as_v2(bin))
        .map(|(_, version, bin)| (version, bin))
}

/// `2.3.3` as numbers; `None` for anything else (such as `build.tmp`).
fn version_key(version: &str) -> Option<Vec<u32>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

/// Whether `bin` runs and takes `v3_checksum_as_v2` in `global_defs` (keepalived's config test
/// exits 0 only without unknown keywords).
fn knows_v3_checksum_as_v2(bin: &Path) -> bool {
    let Some(dir) = bin.parent() else {
        return false;
    };
    let conf = dir.join("check-v3-checksum-as-v2.conf");
    if fs::write(&conf, "global_defs {\n    v3_checksum_as_v2\n}\n").is_err() {
        return false;
    }
    let ok = Command::new(bin)
        .arg("-t")
        .arg("-f")
        .arg(&conf)
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    let _ = fs::remove_file(&conf);
    ok
}

/// Private apt options: `scratch/apt/...` for lists, cache and the sources list.
fn apt(program: &str, scratch: &Path) -> Result<Command> {
    let root = scratch.join("apt");
    for dir in ["lists/partial", "cache/archives/partial", "sources.list.d"] {
        fs::create_dir_all(root.join(dir))
            .with_context(|| format!("cannot create {}", root.join(dir).display()))?;
    }
    let list = root.join("sources.list");
    let signed = if Path::new(KEYRING).is_file() {
        format!("[signed-by={KEYRING}] ")
    } else {
        String::new()
    };
    let line = SOURCES.replacen("deb-src ", &format!("deb-src {signed}"), 1);
    fs::write(&list, format!("{line}\n"))
        .with_context(|| format!("cannot write {}", list.display()))?;
    let mut c = Command::new(program);
    for (key, value) in [
        ("Dir::State::Lists", root.join("lists")),
        ("Dir::Cache", root.join("cache")),
        ("Dir::Etc::SourceList", list),
        ("Dir::Etc::SourceParts", root.join("sources.list.d")),
    ] {
        c.arg("-o").arg(format!("{key}={}", value.display()));
    }
    // Files are downloaded into a root-owned folder; the `_apt` sandbox user cannot write it.
    if setup::is_root() {
        c.args(["-o", "APT::Sandbox::User=root"]);
    }
    c.arg("-q").stdin(Stdio::null());
    Ok(c)
}

fn build(cache: &Path, scratch: &Path, started: Instant) -> Result<PathBuf> {
    if !on_path("apt-get") {
        bail!(
            "the interop tests need keepalived 2.2.8 or later (`v3_checksum_as_v2`), built from \
             Debian {SUITE}'s source package with apt-get, and this machine has no apt-get"
        );
    }
    let update = apt("apt-get", scratch)?.arg("update").output();
    let update = update.context("could not start `apt-get update`")?;
    if !update.status.success() {
        bail!(
            "`apt-get update` for `{SOURCES}` failed: is deb.debian.org reachable?\n{}",
            String::from_utf8_lossy(&update.stderr).trim()
        );
    }
    let showsrc = cmd::output(apt("apt-cache", scratch)?.args(["showsrc", "keepalived"]))?;
    let debian_version = showsrc
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(str::trim)
        .context("Debian's sources list names no keepalived source package")?
        .to_string();
    let upstream = upstream_version(&debian_version);
    eprintln!(
        "==> building keepalived {upstream} from Debian {SUITE}'s source package \
         ({debian_version}; once, about a minute)"
    );
    let src = scratch.join("src");
    fs::create_dir_all(&src).with_context(|| format!("cannot create {}", src.display()))?;
    // `keepalived=<version>`: a plain name would ask for the installed version's source.
    cmd::output(
        apt("apt-get", scratch)?
            .args(["source", "--download-only"])
            .arg(format!("keepalived={debian_version}"))
            .current_dir(&src),
    )
    .context("downloading keepalived's source package failed")?;
    // The upstream tarball: `keepalived_<upstream>.orig.tar.gz` (or another compression).
    let prefix = format!("keepalived_{upstream}.orig.tar.");
    let tarball = fs::read_dir(&src)
        .with_context(|| format!("cannot list {}", src.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && !n.ends_with(".asc"))
        })
        .with_context(|| {
            format!(
                "apt downloaded keepalived {debian_version} into {} but no {prefix}*",
                src.display()
            )
        })?;
    cmd::output(
        Command::new("tar")
            .arg("-xf")
            .arg(&tarball)
            .arg("-C")
            .arg(&src),
    )?;
    let tree = src.join(format!("keepalived-{upstream}"));
    let log = scratch.join("build.log");
    let step = |what: &str, c: &mut Command| -> Result<()> {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot write {}", log.display()))?;
        let shown = cmd::display(c);
        let status = c
            .current_dir(&tree)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .with_context(|| format!("could not start `{shown}`"))?;
        if !status.success() {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "{what} of keepalived {upstream} failed (`{shown}`, {status}); the end of its \
                 output:\n{}",
                tail.join("\n")
            );
        }
        Ok(())
    };
    step(
        "configure",
        Command::new("nice").arg("./configure").args(CONFIGURE),
    )?;
    for dir in ["lib", "keepalived"] {
        step(
            "make",
            Command::new("nice").args(["make", "-j2", "-C", dir]),
        )?;
    }
    let built = tree.join("keepalived/keepalived");
    let dir = cache.join(format!("{PREFIX}{upstream}"));
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::write(
        dir.join("built-from.txt"),
        format!(
            "Debian {SUITE} source package keepalived {debian_version} ({SOURCES}), {}\n\
             ./configure {}\nnice make -j2 -C lib && nice make -j2 -C keepalived\n",
            tarball.file_name().unwrap_or_default().to_string_lossy(),
            CONFIGURE.join(" ")
        ),
    )
    .with_context(|| format!("cannot write into {}", dir.display()))?;
    let bin = dir.join("keepalived");
    let partial = dir.join("keepalived.partial");
    fs::copy(&built, &partial)
        .with_context(|| format!("cannot copy {} to {}", built.display(), partial.display()))?;
    if !knows_v3_checksum_as_v2(&partial) {
        bail!(
            "the keepalived built from {debian_version} does not take `v3_checksum_as_v2` (its \
             config test fails); it is left at {}",
            partial.display()
        );
    }
    fs::rename(&partial, &bin)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), bin.display()))?;
    cmd::done(
        &format!("keepalived {upstream} at {}", bin.display()),
        started,
    );
    Ok(bin)
}

/// `1:2.3.3-1` -> `2.3.3`: no epoch, no Debian revision.
fn upstream_version(debian: &str) -> String {
    let no_epoch = debian.split_once(':').map_or(debian, |(_, v)| v);
    no_epoch
        .rsplit_once('-')
        .map_or(no_epoch, |(v, _)| v)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::{upstream_version, version_key};

    #[test]
    fn debian_versions_become_upstream_ones() {
        assert_eq!(upstream_version("1:2.3.3-1"), "2.3.3");
        assert_eq!(upstream_version("1:2.3.3-1+deb13u1"), "2.3.3");
        assert_eq!(upstream_version("2.2.7"), "2.2.7");
    }

    #[test]
    fn only_versions_are_cache_entries() {
        assert_eq!(version_key("2.3.3"), Some(vec![2, 3, 3]));
        assert!(version_key("2.10.0") > version_key("2.9.9"));
        assert_eq!(version_key("build.tmp"), None);
    }
}
