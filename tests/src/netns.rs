//! Network namespaces and veth pairs owned by a test, removed on drop (also when the test
//! fails). Names are `<prefix>-<pid>-<n>`, so parallel tests and parallel runs never collide,
//! and leftovers of crashed runs (whose pid is gone) are removed the next time.

use std::{
    fs,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

const PREFIX: &str = "vxt";
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs `ip` with `args`; panics with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (install iproute2): {e}"));
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace that exists for the life of this value.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    /// Left in place on drop (a test bed brought up for later use).
    persistent: bool,
}

impl NetNs {
    /// Creates a fresh namespace with loopback up.
    pub fn new() -> Self {
        reap_stale();
        let name = format!(
            "{PREFIX}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self::create(name, false)
    }

    /// Creates `name` (replacing a leftover of that name); removed on drop unless
    /// `persistent`.
    pub fn named(name: &str, persistent: bool) -> Self {
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(std::process::Stdio::null())
            .status();
        Self::create(name.to_string(), persistent)
    }

    /// A handle on an existing namespace, never removed by this value.
    pub fn existing(name: &str) -> Self {
        Self {
            name: name.to_string(),
            persistent: true,
        }
    }

    fn create(name: String, persistent: bool) -> Self {
        ip(&["netns", "add", &name]);
        let ns = Self { name, persistent };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <ns> args...`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Runs a command inside the namespace (`ip netns exec`).
    pub fn exec(&self, program: &str, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {}: {e}", self.name))
    }

    /// Sets a sysctl inside the namespace (`key=value`); panics with the reason if refused.
    pub fn sysctl(&self, setting: &str) {
        let out = self.exec("sysctl", &["-qw", setting]);
        assert!(
            out.status.success(),
            "sysctl {setting} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }

    /// A permanent neighbour entry: `addr` is at `mac` on `dev` (no ARP / ND needed, so a FIB
    /// lookup in XDP resolves at once).
    pub fn permanent_neighbour(&self, addr: &str, mac: &str, dev: &str) {
        self.ip(&[
            "neigh",
            "add",
            addr,
            "lladdr",
            mac,
            "dev",
            dev,
            "nud",
            "permanent",
        ]);
    }

    /// Turns transmit checksum offload off on `ifname`: stack-generated packets on veth
    /// carry partial checksums, which NAT in XDP must not see.
    pub fn tx_checksum_off(&self, ifname: &str) {
        let out = self.exec("ethtool", &["-K", ifname, "tx", "off"]);
        assert!(
            out.status.success(),
            "ethtool -K {ifname} tx off in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Default for NetNs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if self.persistent {
            return;
        }
        // Deleting the namespace also deletes every interface inside it (veth peers too).
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Removes namespaces left by earlier test processes that no longer run.
fn reap_stale() {
    let Ok(entries) = fs::read_dir(vrrp_agent::netns::NETNS_RUN_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&format!("{PREFIX}-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}

/// Connects `a` and `b` with a veth pair (`a_if` in `a`, `b_if` in `b`), both up. The pair
/// disappears with either namespace.
pub fn veth(a: &NetNs, a_if: &str, b: &NetNs, b_if: &str) {
    veth_pair(a, a_if, None, b, b_if, None);
}

/// [`veth`] with fixed MAC addresses (`aa:bb:...`) on both ends.
pub fn veth_with_macs(a: &NetNs, a_if: &str, a_mac: &str, b: &NetNs, b_if: &str, b_mac: &str) {
    veth_pair(a, a_if, Some(a_mac), b, b_if, Some(b_mac));
}

fn veth_pair(
    a: &NetNs,
    a_if: &str,
    a_mac: Option<&str>,
    b: &NetNs,
    b_if: &str,
    b_mac: Option<&str>,
) {
    assert!(
        a_if.len() <= 15 && b_if.len() <= 15,
        "interface names are at most 15 bytes"
    );
    let mut args: Vec<&str> = vec!["link", "add", a_if, "netns", a.name()];
    if let Some(m) = a_mac {
        args.extend(["address", m]);
    }
    args.extend(["type", "veth", "peer", "name", b_if, "netns", b.name()]);
    if let Some(m) = b_mac {
        args.extend(["address", m]);
    }
    ip(&args);
    a.ip(&["link", "set", a_if, "up"]);
    b.ip(&["link", "set", b_if, "up"]);
}
