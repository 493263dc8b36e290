//! Real keepalived processes for interop tests: `keepalived -n -l -D -G -P -f CONF -p PID -r
//! VRRPPID` started in a network namespace in the foreground, its console log captured, its
//! state learned from a `notify` script that appends keepalived's `INSTANCE name STATE prio`
//! arguments to a file, stopped with SIGTERM. On drop, the whole process group (the parent,
//! its VRRP child, running notify scripts) is killed.
//!
//! keepalived is the distribution's `/usr/sbin/keepalived` (`$KEEPALIVED_BIN` overrides), or
//! with [`rfc9568_binary`] the keepalived 2.3 `cargo xtask setup` builds from Debian trixie's
//! source, which has `v3_checksum_as_v2` (RFC 9568's VRRPv3-over-IPv4 checksum).

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::Duration,
};

use nix::{sys::signal::Signal, unistd::Pid};

use crate::{netns::NetNs, tempdir::TempDir, topo::wait_for};

/// Path of the keepalived binary.
pub fn binary() -> PathBuf {
    std::env::var_os("KEEPALIVED_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/keepalived"))
}

/// The variable `cargo xtask test` sets to the keepalived built with RFC 9568 checksums.
pub const RFC9568_ENV: &str = "KEEPALIVED_RFC9568_BIN";

/// keepalived 2.2.8 or later (it has `v3_checksum_as_v2`): `$KEEPALIVED_RFC9568_BIN` (set by
/// `cargo xtask test`), else the newest `keepalived-<version>/keepalived` that `cargo xtask
/// setup` built into its cache folder (`$VRRP_XDP_CACHE`, else `$XDG_CACHE_HOME/vrrp-xdp`,
/// else `~/.cache/vrrp-xdp`). Panics, saying to run `cargo xtask setup`, when there is none:
/// the tests that need it fail rather than skip.
pub fn rfc9568_binary() -> PathBuf {
    if let Some(p) = std::env::var_os(RFC9568_ENV) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{RFC9568_ENV}={} is not a file: run `cargo xtask setup`, which builds keepalived \
             2.3 from Debian trixie's source",
            p.display()
        );
        return p;
    }
    let cache = std::env::var_os("VRRP_XDP_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("vrrp-xdp")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vrrp-xdp")))
        .expect("neither VRRP_XDP_CACHE, XDG_CACHE_HOME nor HOME is set: no cache folder");
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version: Option<Vec<u32>> = name
                .strip_prefix("keepalived-")?
                .split('.')
                .map(|p| p.parse().ok())
                .collect();
            let bin = e.path().join("keepalived");
            bin.is_file().then_some((version?, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no keepalived with `v3_checksum_as_v2` (2.2.8 or later): {RFC9568_ENV} is unset \
             and {} holds no keepalived-<version>/keepalived. Run `cargo xtask setup` (it \
             builds keepalived 2.3 from Debian trixie's source package, about a minute once), \
             or run the tests with `cargo xtask test`",
            cache.display()
        ),
    }
}

/// The notify script of keepalived `label` in `dir`: appends its arguments (`INSTANCE name
/// STATE prio` for a `notify` script) as one line to [`notify_log`]. Written (mode 0755) and
/// returned, so a config can name it before keepalived starts.
pub fn notify_script(dir: &TempDir, label: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.path(&format!("{label}-notify.sh"));
    let log = notify_log(dir, label);
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display()),
    )
    .expect("write notify script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("chmod notify script");
    script
}

/// Where [`notify_script`] of keepalived `label` appends.
pub fn notify_log(dir: &TempDir, label: &str) -> PathBuf {
    dir.path(&format!("{label}-notify.log"))
}

/// A keepalived (parent and VRRP child) running in the foreground in a namespace.
pub struct Keepalived {
    child: Child,
    label: String,
    log: Arc<Mutex<String>>,
    /// The threads copying stdout and stderr into `log`, done at end of file.
    readers: Vec<JoinHandle<()>>,
    pub conf: PathBuf,
    pub pid_file: PathBuf,
    pub vrrp_pid_file: PathBuf,
    pub notify_log: PathBuf,
    vrrp_pid: Option<i32>,
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` runs keepalived (not exited, not a zombie, not a reused pid).
fn is_keepalived(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.contains("(keepalived)") && !stat.contains(") Z ")
}

impl Keepalived {
    /// Writes `conf` to `dir/<label>.conf` and starts keepalived in `ns`; returns once the
    /// VRRP child runs (its pid file names a live keepalived).
    pub fn start(label: &str, ns: &NetNs, dir: &TempDir, conf: &str) -> Self {
        Self::start_binary(label, &binary(), &[], ns, dir, conf)
    }

    /// [`Keepalived::start`] with another binary named `keepalived` (such as a link to our
    /// agent, whose keepalived entry point takes the same arguments) and extra environment.
    pub fn start_binary(
        label: &str,
        bin: &Path,
        env: &[(&str, &Path)],
        ns: &NetNs,
        dir: &TempDir,
        conf: &str,
    ) -> Self {
        let path = dir.path(&format!("{label}.conf"));
        std::fs::write(&path, conf).expect("write keepalived.conf");
        let pid_file = dir.path(&format!("{label}.pid"));
        let vrrp_pid_file = dir.path(&format!("{label}-vrrp.pid"));
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(bin)
            .args(["-n", "-l", "-D", "-G", "-P", "-f"])
            .arg(&path)
            .arg("-p")
            .arg(&pid_file)
            .arg("-r")
            .arg(&vrrp_pid_file)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that drop can kill the VRRP child and scripts too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start keepalived in {}: {e}", ns.name()));
        let log = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            crate::child::copy_into(child.stdout.take().expect("piped"), Arc::clone(&log)),
            crate::child::copy_into(child.stderr.take().expect("piped"), Arc::clone(&log)),
        ];
        let mut k = Self {
            child,
            label: label.to_string(),
            log,
            readers,
            conf: path,
            pid_file,
            vrrp_pid_file,
            notify_log: notify_log(dir, label),
            vrrp_pid: None,
        };
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(Duration::from_secs(10), "keepalived's VRRP child", || {
                read_pid(&k.vrrp_pid_file).filter(|p| is_keepalived(*p))
            })
        }));
        match started {
            Ok(pid) => k.vrrp_pid = Some(pid),
            Err(_) => panic!(
                "{label}: keepalived's VRRP child did not start; exit: {:?}\nlog:\n{}",
                k.child.try_wait(),
                k.logs()
            ),
        }
        k
    }

    /// The parent's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// keepalived's console log so far.
    pub fn logs(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// The lines the notify script appended, oldest first.
    pub fn notify_lines(&self) -> Vec<String> {
        crate::agent::notify_lines(&self.notify_log)
    }

    /// The state keepalived last notified for `instance` (MASTER, BACKUP, FAULT, STOP), if any.
    pub fn state(&self, instance: &str) -> Option<String> {
        self.notify_lines().iter().rev().find_map(|l| {
            let mut w = l.split_whitespace();
            match (w.next(), w.next(), w.next()) {
                (Some("INSTANCE"), Some(name), Some(state)) if name == instance => {
                    Some(state.to_string())
                }
                _ => None,
            }
        })
    }

    /// Waits until keepalived notified `state` for `instance` as its latest state.
    pub fn wait_state(&self, instance: &str, state: &str, timeout: Duration) {
        self.wait(timeout, &format!("{instance} in {state}"), || {
            (self.state(instance).as_deref() == Some(state)).then_some(())
        });
    }

    /// Waits until the log contains `needle`; returns the log.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        self.wait(timeout, &format!("log line {needle:?}"), || {
            let l = self.logs();
            l.contains(needle).then_some(l)
        })
    }

    /// [`wait_for`] that prints the log and notify lines on failure.
    pub fn wait<T>(&self, timeout: Duration, what: &str, cond: impl FnMut() -> Option<T>) -> T {
        let what = format!("keepalived {}: {what}", self.label);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(timeout, &what, cond)
        })) {
            Ok(v) => v,
            Err(_) => panic!(
                "{what}: timed out after {timeout:?}; notify lines {:?}\nlog:\n{}",
                self.notify_lines(),
                self.logs()
            ),
        }
    }

    /// Sends `sig` to the parent (which passes SIGTERM / SIGHUP on to the VRRP child).
    pub fn signal(&self, sig: Signal) {
        nix::sys::signal::kill(Pid::from_raw(self.pid()), sig)
            .unwrap_or_else(|e| panic!("keepalived {}: kill({sig}): {e}", self.label));
    }

    /// SIGTERM, then waits for the parent to exit (it waits for its VRRP child, which sends
    /// priority 0 and removes its addresses first); panics after `timeout`.
    pub fn stop(&mut self, timeout: Duration) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        self.wait_exit(timeout)
    }

    /// Waits for the parent to exit, then (briefly) for its last log lines; panics after
    /// `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let readers: Vec<_> = self.readers.iter().collect();
        let exited = crate::child::wait_exit(&mut self.child, &readers, timeout);
        exited.unwrap_or_else(|| {
            panic!(
                "keepalived {}: still running {timeout:?} after SIGTERM\nlog:\n{}",
                self.label,
                self.logs()
            )
        })
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        // The group holds the parent, its VRRP child and scripts; the child is also killed
        // by pid in case it moved to a group of its own.
        let _ = nix::sys::signal::kill(Pid::from_raw(-self.pid()), Signal::SIGKILL);
        if let Some(p) = self.vrrp_pid.filter(|p| is_keepalived(*p)) {
            let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- keepalived {} log ----\n{}\n---- notify lines ----\n{}",
                self.label,
                self.logs(),
                self.notify_lines().join("\n")
            );
        }
    }
}
