//! Real FRR (Debian's `frr`, 8.4) VRRP routers for interop tests: a `zebra` and a `vrrpd`
//! started with `ip netns exec` in a test's namespace, in the foreground, each with a private
//! folder for its configuration, pid files, vty sockets, zebra's API socket and logs (nothing
//! under `/var/run/frr` or `/etc/frr`, no TCP vty), so any number run side by side and beside a
//! system-wide FRR. The daemons run as the `frr` user, as Debian runs them (vtysh refuses a
//! daemon run as a user outside the `frrvty` group), so the private folder belongs to `frr`.
//! Their state comes from `vtysh --vty_socket DIR -d vrrpd -c 'show vrrp json'`, their changes
//! go through `vtysh ... -c 'configure terminal'`. On drop, both process groups are killed and
//! the crash-log folders FRR keeps per pid in `/var/tmp/frr` are removed.
//!
//! FRR's vrrpd needs, per virtual router and address family, a macvlan on the VRRP interface
//! (bridge mode, `addrgenmode random`, MAC `00:00:5e:00:01:VRID` for IPv4 or
//! `00:00:5e:00:02:VRID` for IPv6) carrying the virtual addresses: [`add_macvlan`]. vrrpd turns
//! the macvlan's `protodown` on as backup and off as master; it never adds or removes
//! addresses.
//!
//! The binaries are Debian's, in `/usr/lib/frr` (`$FRR_SBIN` overrides) and `vtysh` on PATH.
//!
//! What FRR 8.4 does that a test must know: SIGTERM to vrrpd and `vrrp N shutdown` both send
//! a priority-0 advert (as master) and set protodown on; `kill -9` leaves the macvlan up with
//! its addresses (nothing fences it); VRRPv3 over IPv4 always uses the IPv4 pseudo-header
//! (`checksum-with-ipv4-pseudoheader` came with FRR 10.0); VRRPv2 refuses adverts whose
//! interval differs from its own; after each Backup -> Master over IPv6 the first advert is
//! lost ("Failed to find address to bind": the macvlan's link-local address comes back with
//! carrier); a daemon started as root exits unless root is in the `frrvty` group. Protodown
//! takes only the macvlan's carrier: it keeps its addresses and still takes frames addressed to
//! the virtual MAC (until the bridge learns that MAC at the new master), and with Linux's default
//! `arp_ignore=0` the base interface answers ARP for the virtual IPv4 address from the node's
//! own MAC, also as backup (FRR's documentation does not ask for `arp_ignore=1`).

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

/// Folder of FRR's daemons.
pub fn sbin() -> PathBuf {
    std::env::var_os("FRR_SBIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/frr"))
}

/// The address family of one VRRP router of an FRR virtual router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The key of this family's part in `show vrrp json`.
    fn key(self) -> &'static str {
        match self {
            Self::V4 => "v4",
            Self::V6 => "v6",
        }
    }
}

/// The name of the macvlan [`add_macvlan`] makes for `vrid` and `family`.
pub fn macvlan_name(vrid: u8, family: Family) -> String {
    match family {
        Family::V4 => format!("vrrp4-{vrid}"),
        Family::V6 => format!("vrrp6-{vrid}"),
    }
}

/// The VRRP virtual MAC of `vrid` for `family` (RFC 9568 §7.3).
pub fn virtual_mac(vrid: u8, family: Family) -> String {
    let f = match family {
        Family::V4 => 1,
        Family::V6 => 2,
    };
    format!("00:00:5e:00:{f:02x}:{vrid:02x}")
}

/// Creates the macvlan FRR's vrrpd uses for `vrid` and `family` on `parent` in `ns` (bridge
/// mode, `addrgenmode random`, the virtual MAC), up, with `addresses` ("addr/len"; IPv6 ones
/// without DAD); returns its name.
pub fn add_macvlan(
    ns: &NetNs,
    parent: &str,
    vrid: u8,
    family: Family,
    addresses: &[&str],
) -> String {
    let name = macvlan_name(vrid, family);
    let mac = virtual_mac(vrid, family);
    ns.ip(&[
        "link", "add", &name, "link", parent, "address", &mac, "type", "macvlan", "mode", "bridge",
    ]);
    // Before it is up, which makes its link-local address. (This kernel refuses
    // `addrgenmode` in `ip link add`, where FRR's documentation puts it.)
    ns.ip(&["link", "set", &name, "addrgenmode", "random"]);
    for a in addresses {
        let mut args = vec!["addr", "add", a, "dev", name.as_str()];
        if family == Family::V6 {
            args.push("nodad");
        }
        ns.ip(&args);
    }
    ns.ip(&["link", "set", &name, "up"]);
    name
}

/// One FRR virtual router, rendered as vrrpd configuration lines by [`VrrpConf::render`].
#[derive(Clone, Debug)]
pub struct VrrpConf {
    pub interface: String,
    pub vrid: u8,
    /// 2 or 3.
    pub version: u8,
    pub priority: u8,
    /// Advertisement interval in milliseconds (a multiple of 10; whole seconds for VRRPv2).
    pub interval_ms: u32,
    /// FRR's default is on.
    pub preempt: bool,
    /// Virtual IPv4 addresses (no prefix length).
    pub v4: Vec<String>,
    /// Virtual IPv6 addresses (no prefix length).
    pub v6: Vec<String>,
    /// VRRPv3 over IPv4: `Some(false)` writes `no vrrp N checksum-with-ipv4-pseudoheader`
    /// (RFC 9568: the checksum covers the VRRP message only). FRR 8.4 knows no such command:
    /// it always uses the pseudo-header, and vrrpd refuses a configuration that names it.
    pub ipv4_pseudo_header: Option<bool>,
    /// `vrrp N shutdown`.
    pub shutdown: bool,
}

impl VrrpConf {
    /// The `interface` section for vrrpd.
    pub fn render(&self) -> String {
        let n = self.vrid;
        let mut s = format!(
            "interface {}\n vrrp {n} version {}\n vrrp {n} priority {}\n \
             vrrp {n} advertisement-interval {}\n",
            self.interface, self.version, self.priority, self.interval_ms
        );
        if !self.preempt {
            s.push_str(&format!(" no vrrp {n} preempt\n"));
        }
        match self.ipv4_pseudo_header {
            Some(true) => s.push_str(&format!(" vrrp {n} checksum-with-ipv4-pseudoheader\n")),
            Some(false) => s.push_str(&format!(" no vrrp {n} checksum-with-ipv4-pseudoheader\n")),
            None => {}
        }
        for a in &self.v4 {
            s.push_str(&format!(" vrrp {n} ip {a}\n"));
        }
        for a in &self.v6 {
            s.push_str(&format!(" vrrp {n} ipv6 {a}\n"));
        }
        if self.shutdown {
            s.push_str(&format!(" vrrp {n} shutdown\n"));
        }
        s.push_str("exit\n");
        s
    }
}

/// One family's part of a virtual router in `show vrrp json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterState {
    /// "Initialize", "Backup" or "Master".
    pub status: String,
    /// The macvlan vrrpd bound (empty before it found one).
    pub interface: String,
    /// The source of its adverts ("::" or empty while it has none).
    pub primary_address: String,
    pub effective_priority: u64,
    /// The interval it uses for the master-down timer: as a VRRPv3 backup, the master's.
    pub master_adver_interval_ms: u64,
    pub skew_time_ms: u64,
    pub master_down_interval_ms: u64,
    /// Adverts it sent / accepted.
    pub adver_tx: u64,
    pub adver_rx: u64,
    pub transitions: u64,
}

impl RouterState {
    fn from_json(v: &serde_json::Value) -> Option<Self> {
        let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let s = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let stats = v.get("stats")?;
        let stat = |k: &str| {
            stats
                .get(k)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        Some(Self {
            status: s("status"),
            interface: s("interface"),
            primary_address: s("primaryAddress"),
            effective_priority: n("effectivePriority"),
            master_adver_interval_ms: n("masterAdverInterval"),
            skew_time_ms: n("skewTime"),
            master_down_interval_ms: n("masterDownInterval"),
            adver_tx: stat("adverTx"),
            adver_rx: stat("adverRx"),
            transitions: stat("transitions"),
        })
    }
}

/// A zebra and (usually) a vrrpd running in a namespace, with their files in a private folder.
pub struct Frr {
    label: String,
    /// The private folder (owned by `frr`): configs, pid files, sockets, logs.
    pub run_dir: PathBuf,
    ns: String,
    zebra: Child,
    vrrpd: Option<Child>,
    /// Pids of every daemon started, for the crash-log folders.
    pids: Vec<(&'static str, u32)>,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// The debugging vrrpd logs with: protocol events (priority 0 received, ...) and packets
/// (every advert, and why one was refused: `Datagram invalid: ...`).
const DEBUG: &str = "debug vrrp protocol packets\n";

impl Frr {
    /// Starts zebra, then vrrpd with `conf` (vrrpd configuration: [`VrrpConf::render`]
    /// sections) in `ns`, files in `dir/frr-<label>`; returns once vrrpd answers on its vty
    /// socket.
    pub fn start(label: &str, ns: &NetNs, dir: &TempDir, conf: &str) -> Self {
        let run_dir = dir.path(&format!("frr-{label}"));
        std::fs::create_dir_all(&run_dir).expect("create FRR folder");
        let frr = nix::unistd::User::from_name("frr")
            .expect("look up the frr user")
            .unwrap_or_else(|| {
                panic!("no `frr` user: install Debian's frr package (`cargo xtask setup`)")
            });
        nix::unistd::chown(&run_dir, Some(frr.uid), Some(frr.gid)).expect("chown FRR folder");
        std::fs::write(run_dir.join("zebra.conf"), format!("hostname {label}\n"))
            .expect("write zebra.conf");
        let output = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let zebra = spawn("zebra", ns, &run_dir, None, &output, &mut readers);
        let zpid = zebra.id();
        let mut f = Self {
            label: label.to_string(),
            run_dir,
            ns: ns.name().to_string(),
            zebra,
            vrrpd: None,
            pids: vec![("zebra", zpid)],
            output,
            readers,
        };
        f.wait(Duration::from_secs(10), "zebra's API socket", || {
            f.run_dir.join("zserv.api").exists().then_some(())
        });
        f.start_vrrpd(conf);
        f
    }

    /// (Re)starts vrrpd with `conf` (the previous one must have exited); returns once it
    /// answers on its vty socket.
    pub fn start_vrrpd(&mut self, conf: &str) {
        assert!(
            self.vrrpd_pid().is_none(),
            "FRR {}: vrrpd already runs",
            self.label
        );
        if let Some(mut old) = self.vrrpd.take() {
            let _ = old.wait();
        }
        let path = self.run_dir.join("vrrpd.conf");
        std::fs::write(&path, format!("{DEBUG}{conf}")).expect("write vrrpd.conf");
        let _ = std::fs::remove_file(self.run_dir.join("vrrpd.vty"));
        let ns = NetNs::existing(&self.ns);
        let child = spawn(
            "vrrpd",
            &ns,
            &self.run_dir,
            Some(self.zebra.id()),
            &self.output,
            &mut self.readers,
        );
        self.pids.push(("vrrpd", child.id()));
        self.vrrpd = Some(child);
        self.wait(Duration::from_secs(10), "vrrpd on its vty socket", || {
            self.vtysh(&["show vrrp json"]).ok()
        });
    }

    /// vrrpd's pid while it runs (not exited, not a zombie).
    pub fn vrrpd_pid(&self) -> Option<u32> {
        let pid = self.vrrpd.as_ref()?.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        (stat.contains("(vrrpd)") && !stat.contains(") Z ")).then_some(pid)
    }

    /// Runs `vtysh` against vrrpd with each of `commands` in turn; its output, or its output
    /// and exit status if it failed (an unknown command, a refused value, no vrrpd).
    pub fn vtysh(&self, commands: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new("vtysh");
        cmd.arg("--vty_socket")
            .arg(&self.run_dir)
            .args(["-d", "vrrpd"]);
        for c in commands {
            cmd.args(["-c", c]);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run vtysh (install frr): {e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("vtysh {commands:?}: {}: {text}", out.status))
        }
    }

    /// Applies configuration lines (`interface ha`, `vrrp 5 shutdown`, ...) to the running
    /// vrrpd; panics if it refuses one.
    pub fn configure(&self, lines: &[&str]) {
        let mut all = vec!["configure terminal"];
        all.extend_from_slice(lines);
        if let Err(e) = self.vtysh(&all) {
            panic!("FRR {}: {e}", self.label);
        }
    }

    /// Panics unless vrrpd's running configuration has `line`: vrrpd skips a line of its
    /// configuration file it does not know (with an error in its log) and runs without it.
    pub fn require_config(&self, line: &str, why: &str) {
        let running = self
            .vtysh(&["show running-config"])
            .unwrap_or_else(|e| panic!("FRR {}: {e}", self.label));
        assert!(
            running.contains(line),
            "FRR {}: vrrpd runs without `{line}` ({why}); its version and configuration:\n{}\n{}",
            self.label,
            self.vtysh(&["show version"]).unwrap_or_default(),
            running
        );
    }

    /// `show vrrp json`: every virtual router (empty while vrrpd does not answer).
    pub fn show(&self) -> Vec<serde_json::Value> {
        self.vtysh(&["show vrrp json"])
            .ok()
            .and_then(|out| serde_json::from_str::<serde_json::Value>(&out).ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// The `family` part of virtual router `vrid`, while vrrpd answers.
    pub fn router(&self, vrid: u8, family: Family) -> Option<RouterState> {
        self.show()
            .iter()
            .find(|vr| vr["vrid"].as_u64() == Some(u64::from(vrid)))
            .and_then(|vr| RouterState::from_json(&vr[family.key()]))
    }

    /// Waits until the `family` router of `vrid` is in `status` ("Master", "Backup").
    pub fn wait_status(
        &self,
        vrid: u8,
        family: Family,
        status: &str,
        timeout: Duration,
    ) -> RouterState {
        self.wait(timeout, &format!("VRID {vrid} {family:?} {status}"), || {
            self.router(vrid, family).filter(|r| r.status == status)
        })
    }

    /// Signals vrrpd.
    pub fn signal_vrrpd(&self, sig: Signal) {
        let pid = self
            .vrrpd_pid()
            .unwrap_or_else(|| panic!("FRR {}: vrrpd is not running", self.label));
        nix::sys::signal::kill(Pid::from_raw(pid as i32), sig)
            .unwrap_or_else(|e| panic!("FRR {}: kill vrrpd ({sig}): {e}", self.label));
    }

    /// Sends `sig` to vrrpd and waits for it to exit; panics after `timeout`.
    pub fn stop_vrrpd(&mut self, sig: Signal, timeout: Duration) -> ExitStatus {
        self.signal_vrrpd(sig);
        let mut child = self.vrrpd.take().expect("vrrpd");
        let status = crate::child::wait_exit(&mut child, &[], timeout);
        status.unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "FRR {}: vrrpd still running {timeout:?} after {sig}\n{}",
                self.label,
                self.logs()
            )
        })
    }

    /// vrrpd's log file (every run) and both daemons' console output.
    pub fn logs(&self) -> String {
        let file = std::fs::read_to_string(self.run_dir.join("vrrpd.log")).unwrap_or_default();
        let console = self.output.lock().expect("log lock").clone();
        format!("{file}{console}")
    }

    /// Log lines of vrrpd refusing a datagram (`Datagram invalid: ...`: a bad checksum,
    /// version, TTL, size, address count, VRID, VRRPv2 interval or auth type).
    pub fn refused(&self) -> Vec<String> {
        self.logs()
            .lines()
            .filter(|l| l.contains("Datagram invalid"))
            .map(str::to_string)
            .collect()
    }

    /// [`wait_for`] that prints FRR's logs on failure.
    pub fn wait<T>(&self, timeout: Duration, what: &str, cond: impl FnMut() -> Option<T>) -> T {
        let what = format!("FRR {}: {what}", self.label);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(timeout, &what, cond)
        })) {
            Ok(v) => v,
            Err(_) => panic!(
                "{what}: timed out after {timeout:?}; show vrrp: {:?}\nlogs:\n{}",
                self.show(),
                self.logs()
            ),
        }
    }
}

/// Starts daemon `name` in `ns` with its files in `dir` (config `<name>.conf`, pid file, vty
/// socket, log file `<name>.log`, zebra's API socket `zserv.api`, no TCP vty), in process
/// group `group` (a new one if None), its console copied into `output`.
fn spawn(
    name: &str,
    ns: &NetNs,
    dir: &Path,
    group: Option<u32>,
    output: &Arc<Mutex<String>>,
    readers: &mut Vec<JoinHandle<()>>,
) -> Child {
    let file = |ext: &str| dir.join(format!("{name}.{ext}"));
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns.name()])
        .arg(sbin().join(name))
        .args(["-P", "0", "--vty_socket"])
        .arg(dir)
        .arg("-i")
        .arg(file("pid"))
        .arg("-f")
        .arg(file("conf"))
        .arg("--log")
        .arg(format!("file:{}", file("log").display()))
        .args(["--log-level", "debug", "-z"])
        .arg(dir.join("zserv.api"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(group.map_or(0, |g| g as i32))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start FRR's {name} in {}: {e}", ns.name()));
    readers.push(crate::child::copy_into(
        child.stdout.take().expect("piped"),
        Arc::clone(output),
    ));
    readers.push(crate::child::copy_into(
        child.stderr.take().expect("piped"),
        Arc::clone(output),
    ));
    child
}

impl Drop for Frr {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(Pid::from_raw(-(self.zebra.id() as i32)), Signal::SIGKILL);
        for c in self
            .vrrpd
            .iter_mut()
            .chain(std::iter::once(&mut self.zebra))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        for (name, pid) in &self.pids {
            let _ = std::fs::remove_dir_all(format!("/var/tmp/frr/{name}.{pid}"));
        }
        if std::thread::panicking() {
            eprintln!("---- FRR {} logs ----\n{}", self.label, self.logs());
        }
    }
}
