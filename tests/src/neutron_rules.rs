//! The iptables and ip6tables rules OpenStack Neutron's L3 agent writes into an HA router's
//! namespace, as Neutron's own code produces them (PyPI `neutron==29.0.0`).
//!
//! Two ways to get them into a namespace:
//!
//! * fast, for every test bed: [`NeutronRouter::install`] fills the fixture in
//!   `tests/fixtures/neutron/` (what `tests/neutron/l3_rules.py --emit-templates` saved from a
//!   router Neutron's code set up; see the README there) and loads it with `iptables-restore -n`
//!   / `ip6tables-restore -n`; [`NeutronRouter::set_fips`] changes the floating IPs the way the
//!   agent does when a router is updated (a diff of `-D`/`-A` commands against `iptables-save`,
//!   sent with `iptables-restore -n`);
//! * real, about 2 s a call: [`NeutronRouter::via_neutron`] and
//!   [`NeutronRouter::set_fips_via_neutron`] run the generator `tests/neutron/l3_rules.py` with
//!   the venv `cargo xtask setup` installs (see [`neutron_python`]).
//!
//! `tests/tests/neutron_rules.rs` checks that both give the same tables, so the fixture cannot
//! drift from what Neutron writes.
//!
//! The fixture covers routers with IPv4 (and optionally IPv6) internal subnets, one IPv4
//! gateway address, IPv4 floating IPs and no address scopes (a default deployment).

use std::{
    env,
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::netns::NetNs;

/// The Neutron release the fixture comes from; `cargo xtask setup` installs the same one
/// (`xtask/src/neutron.rs`).
pub const NEUTRON_VERSION: &str = "29.0.0";
/// Set by `cargo xtask test`: the python of the venv holding Neutron.
pub const PYTHON_ENV: &str = "VRRP_XDP_NEUTRON_PYTHON";
/// Neutron's chain prefix in an L3 agent's namespaces (the agent's binary name).
pub const WRAP: &str = "neutron-l3-agent";

/// `iptables-save` of a router Neutron created, with placeholders (tests/fixtures/neutron).
const IPV4_TEMPLATE: &str = include_str!("../fixtures/neutron/ipv4.rules");
/// `ip6tables-save` of the same router.
const IPV6_TEMPLATE: &str = include_str!("../fixtures/neutron/ipv6.rules");
/// The router id handed to the generator (it appears in no rule).
const ROUTER_ID: &str = "8f4e2e1c-0d3b-4c5a-9e7f-1a2b3c4d5e6f";

/// The address family of a rule set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn save(self) -> &'static str {
        match self {
            Self::V4 => "iptables-save",
            Self::V6 => "ip6tables-save",
        }
    }

    fn restore(self) -> &'static str {
        match self {
            Self::V4 => "iptables-restore",
            Self::V6 => "ip6tables-restore",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Self::V4 => IPV4_TEMPLATE,
            Self::V6 => IPV6_TEMPLATE,
        }
    }

    fn of(addr: &str) -> Self {
        if addr.contains(':') {
            Self::V6
        } else {
            Self::V4
        }
    }
}

/// A Neutron HA router as its iptables rules see it.
#[derive(Clone, Debug)]
pub struct NeutronRouter {
    /// Internal ports: (interface name `qr-` + 11 characters of the port id, the router's
    /// address on the subnet with its prefix, e.g. `10.0.10.1/24` or `fd00:10::1/64`). A port
    /// on several subnets is listed once per subnet with the same name.
    pub qr: Vec<(String, String)>,
    /// The gateway port's interface (`qg-` + 11 characters of the port id).
    pub qg: String,
    /// The gateway port's IPv4 address on the external network (`203.0.113.10`, a `/prefix` is
    /// allowed and ignored by the rules).
    pub gateway_ip: String,
    /// Floating IPs: (floating, fixed), IPv4.
    pub fips: Vec<(String, String)>,
    /// Neutron's `[AGENT] use_random_fully` (true by default in Neutron): `--random-fully` on
    /// the SNAT rules.
    pub random_fully: bool,
}

impl NeutronRouter {
    /// Loads the router's rules from the fixture into `ns` with `iptables-restore -n` and
    /// `ip6tables-restore -n`: the tables a router just created by the L3 agent has. `ns` must
    /// not hold Neutron's rules yet ([`Self::remove`] first to install again); other rules are
    /// kept. Panics with iptables' error when a load fails.
    pub fn install(&self, ns: &NetNs) {
        for family in [Family::V4, Family::V6] {
            restore(ns, family, &self.rules(family), true);
        }
    }

    /// The rules [`Self::install`] loads for `family`, in `iptables-save` form.
    pub fn rules(&self, family: Family) -> String {
        let random_fully = if self.random_fully {
            " --random-fully"
        } else {
            ""
        };
        let gateway = self.gateway_ip.split('/').next().unwrap_or_default();
        let qrs = self.qr_names(family);
        let mut out = String::new();
        for line in family.template().lines() {
            let line = line
                .replace("{QG}", &self.qg)
                .replace("{GW_IP}", gateway)
                .replace("{RANDOM_FULLY}", random_fully);
            let expanded: Vec<String> = if line.contains("{QR}") {
                qrs.iter().map(|q| line.replace("{QR}", q)).collect()
            } else if is_fip_line(&line) {
                self.fips
                    .iter()
                    .map(|(f, x)| fill_fip(&line, f, x))
                    .collect()
            } else {
                vec![line]
            };
            for l in expanded {
                assert!(
                    !l.contains('{'),
                    "tests/fixtures/neutron: unknown placeholder in `{l}` (regenerate the \
                     fixture and teach neutron_rules.rs the new placeholder)"
                );
                out.push_str(&l);
                out.push('\n');
            }
        }
        out
    }

    /// Changes the floating IPs in `ns` to `fips` as the L3 agent does when a router is
    /// updated: reads the tables with `iptables-save`, deletes every floating-IP rule (`-D
    /// <chain> <n>`) and appends the new ones at the end of their chains (`-A`), all in one
    /// `iptables-restore -n`. Other rules stay as they are. Panics with iptables' error.
    pub fn set_fips(&self, ns: &NetNs, fips: &[(impl AsRef<str>, impl AsRef<str>)]) {
        let saved = save_raw(ns, Family::V4);
        let mut input = String::new();
        for (table, template) in tables(IPV4_TEMPLATE) {
            // The per-floating-IP rules of this table, in the order Neutron adds them.
            let fip_rules: Vec<&str> = template
                .iter()
                .copied()
                .filter(|l| l.starts_with("-A ") && is_fip_line(l))
                .collect();
            if fip_rules.is_empty() {
                continue;
            }
            let current = tables(&saved)
                .into_iter()
                .find(|(t, _)| *t == table)
                .map(|(_, lines)| lines)
                .unwrap_or_default();
            let mut commands = vec![];
            let mut chains: Vec<&str> = fip_rules.iter().map(|r| rule_chain(r)).collect();
            chains.dedup();
            for chain in chains {
                // Indices shift down as rules above are deleted, as in Neutron's diff.
                let mut position = 1;
                for rule in current
                    .iter()
                    .filter(|l| l.starts_with("-A ") && rule_chain(l) == chain)
                {
                    if fip_rules.iter().any(|t| matches_fip_template(rule, t)) {
                        commands.push(format!("-D {chain} {position}"));
                    } else {
                        position += 1;
                    }
                }
            }
            let random_fully = if self.random_fully {
                " --random-fully"
            } else {
                ""
            };
            for (floating, fixed) in fips {
                for rule in &fip_rules {
                    let rule = rule.replace("{RANDOM_FULLY}", random_fully);
                    commands.push(fill_fip(&rule, floating.as_ref(), fixed.as_ref()));
                }
            }
            if !commands.is_empty() {
                input.push_str(&format!("*{table}\n"));
                for c in commands {
                    input.push_str(&c);
                    input.push('\n');
                }
                input.push_str("COMMIT\n");
            }
        }
        if !input.is_empty() {
            restore(ns, Family::V4, &input, true);
        }
    }

    /// Removes every Neutron rule and chain (`neutron-*`) from `ns`, IPv4 and IPv6, keeping
    /// other rules (each table is saved, filtered and restored whole).
    pub fn remove(ns: &NetNs) {
        for family in [Family::V4, Family::V6] {
            let saved = save_raw(ns, family);
            let kept: String = saved
                .lines()
                .filter(|l| !l.contains("neutron-"))
                .map(|l| format!("{l}\n"))
                .collect();
            if kept.lines().any(|l| l.starts_with('*')) {
                restore(ns, family, &kept, false);
            }
        }
    }

    /// Has Neutron's own code write the router's rules into `ns` (`tests/neutron/l3_rules.py`
    /// with the venv's python; about 2 s). Panics with Neutron's error.
    pub fn via_neutron(&self, ns: &NetNs) {
        run_generator(&self.generator_args(ns, &self.fips, false));
    }

    /// Has Neutron's own code change the floating IPs of the router in `ns` (created by
    /// [`Self::via_neutron`] or [`Self::install`]) to `fips`, the way the L3 agent processes a
    /// router update (`l3_rules.py --update`).
    pub fn set_fips_via_neutron(&self, ns: &NetNs, fips: &[(impl AsRef<str>, impl AsRef<str>)]) {
        let fips: Vec<(String, String)> = fips
            .iter()
            .map(|(f, x)| (f.as_ref().to_string(), x.as_ref().to_string()))
            .collect();
        run_generator(&self.generator_args(ns, &fips, true));
    }

    /// Distinct internal interface names with a subnet of `family`, in port order.
    fn qr_names(&self, family: Family) -> Vec<&str> {
        let mut names: Vec<&str> = vec![];
        for (name, cidr) in &self.qr {
            if Family::of(cidr) == family && !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }

    fn generator_args(&self, ns: &NetNs, fips: &[(String, String)], update: bool) -> Vec<String> {
        let port_id = |ifname: &str, prefix: &str| {
            ifname
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("Neutron names this interface {prefix}..., not {ifname}"))
                .to_string()
        };
        let mut args = vec![
            "--netns".to_string(),
            ns.name().to_string(),
            "--router-id".into(),
            ROUTER_ID.into(),
        ];
        // One --qr-port-id per port (the name minus `qr-` is a port id Neutron turns back into
        // the same name), its subnets comma-separated.
        let mut ports: Vec<(&str, Vec<&str>)> = vec![];
        for (name, cidr) in &self.qr {
            match ports.iter_mut().find(|(n, _)| n == name) {
                Some((_, cidrs)) => cidrs.push(cidr),
                None => ports.push((name, vec![cidr])),
            }
        }
        for (name, cidrs) in ports {
            args.extend([
                "--qr-port-id".into(),
                port_id(name, "qr-"),
                "--qr-subnet".into(),
                cidrs.join(","),
            ]);
        }
        args.extend([
            "--qg-port-id".into(),
            port_id(&self.qg, "qg-"),
            "--gateway-ip".into(),
            self.gateway_ip.clone(),
            "--use-random-fully".into(),
            self.random_fully.to_string(),
        ]);
        for (floating, fixed) in fips {
            args.extend(["--fip".into(), format!("{floating}={fixed}")]);
        }
        if update {
            args.push("--update".into());
        }
        args
    }
}

/// `iptables-save` / `ip6tables-save` of `ns` without comment lines and with the chains'
/// counters zeroed: the form the fixture is in, for comparing tables.
pub fn saved(ns: &NetNs, family: Family) -> String {
    normalise(&save_raw(ns, family))
}

/// iptables-save text without `#` lines, chain counters as `[0:0]`.
pub fn normalise(save_output: &str) -> String {
    let mut out = String::new();
    for line in save_output.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match (line.starts_with(':'), line.rfind('[')) {
            (true, Some(i)) if line.ends_with(']') => {
                out.push_str(&line[..i]);
                out.push_str("[0:0]");
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The python of the venv holding Neutron: `$VRRP_XDP_NEUTRON_PYTHON` (set by `cargo xtask
/// test`), else the venv `cargo xtask setup` makes in the default cache folder
/// (`$VRRP_XDP_CACHE`, else `$XDG_CACHE_HOME/vrrp-xdp`, else `~/.cache/vrrp-xdp`).
pub fn neutron_python() -> PathBuf {
    if let Some(p) = env::var_os(PYTHON_ENV) {
        return PathBuf::from(p);
    }
    let cache = env::var_os("VRRP_XDP_CACHE")
        .map(PathBuf::from)
        .or_else(|| env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("vrrp-xdp")))
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vrrp-xdp")))
        .expect("neither VRRP_XDP_CACHE, XDG_CACHE_HOME nor HOME is set: no Neutron venv");
    let venv = cache.join(format!("neutron-{NEUTRON_VERSION}"));
    assert!(
        venv.join(".vrrp-xdp-installed").is_file(),
        "no Neutron {NEUTRON_VERSION} venv at {} ({PYTHON_ENV} is unset): run `cargo xtask \
         setup`, or run the tests with `cargo xtask test`",
        venv.display()
    );
    venv.join("bin/python")
}

/// The generator script.
pub fn generator() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("neutron/l3_rules.py")
}

fn run_generator(args: &[String]) {
    let python = neutron_python();
    let out = Command::new(&python)
        .arg(generator())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run Neutron's python {} ({PYTHON_ENV}, else the venv `cargo xtask \
                 setup` makes): {e}",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "l3_rules.py {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

fn save_raw(ns: &NetNs, family: Family) -> String {
    let out = ns.exec(family.save(), &[]);
    assert!(
        out.status.success(),
        "{} in {}: {}",
        family.save(),
        ns.name(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Feeds `input` to `iptables-restore` (with `-n` when `noflush`) inside `ns`.
fn restore(ns: &NetNs, family: Family, input: &str, noflush: bool) {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns.name(), family.restore()]);
    if noflush {
        cmd.arg("-n");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} in {}: {e}", family.restore(), ns.name()));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .unwrap_or_else(|e| panic!("writing to {}: {e}", family.restore()));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {}: {e}", family.restore()));
    if !out.status.success() {
        let numbered: String = input
            .lines()
            .enumerate()
            .map(|(i, l)| format!("{:5}  {l}\n", i + 1))
            .collect();
        panic!(
            "{}{} in {} failed: {}\ninput:\n{numbered}",
            family.restore(),
            if noflush { " -n" } else { "" },
            ns.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// iptables-save text split into tables: (name, lines between `*name` and `COMMIT`).
fn tables(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = vec![];
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            out.push((name, vec![]));
        } else if let Some((_, lines)) = out.last_mut()
            && line != "COMMIT"
        {
            lines.push(line);
        }
    }
    out
}

/// The chain of an `-A <chain> ...` line.
fn rule_chain(rule: &str) -> &str {
    rule.split_whitespace().nth(1).unwrap_or_default()
}

fn is_fip_line(line: &str) -> bool {
    line.contains("{FLOATING}") || line.contains("{FIXED}")
}

fn fill_fip(line: &str, floating: &str, fixed: &str) -> String {
    line.replace("{FLOATING}", floating)
        .replace("{FIXED}", fixed)
}

/// Whether `rule` is `template` (a per-floating-IP line) for some floating and fixed address,
/// with or without `--random-fully`.
fn matches_fip_template(rule: &str, template: &str) -> bool {
    [" --random-fully", ""]
        .iter()
        .any(|rf| matches_placeholders(rule, &template.replace("{RANDOM_FULLY}", rf)))
}

/// `line` equals `template` with each `{NAME}` standing for a non-empty address.
fn matches_placeholders(line: &str, template: &str) -> bool {
    let Some(open) = template.find('{') else {
        return line == template;
    };
    let Some(close) = template[open..].find('}').map(|c| open + c + 1) else {
        return line == template;
    };
    let Some(after) = line.strip_prefix(&template[..open]) else {
        return false;
    };
    let address_len = after
        .bytes()
        .take_while(|b| b.is_ascii_hexdigit() || *b == b'.' || *b == b':')
        .count();
    (1..=address_len).any(|n| matches_placeholders(&after[n..], &template[close..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> NeutronRouter {
        NeutronRouter {
            qr: vec![
                ("qr-0a1b2c3d-4e".into(), "10.0.10.1/24".into()),
                ("qr-1b2c3d4e-5f".into(), "10.0.20.1/24".into()),
                ("qr-1b2c3d4e-5f".into(), "fd00:20::1/64".into()),
            ],
            qg: "qg-5f6a7b8c-9d".into(),
            gateway_ip: "203.0.113.10".into(),
            fips: vec![
                ("203.0.113.20".into(), "10.0.10.5".into()),
                ("203.0.113.21".into(), "10.0.20.6".into()),
            ],
            random_fully: true,
        }
    }

    #[test]
    fn fixture_fills_every_placeholder() {
        let r = router();
        let v4 = r.rules(Family::V4);
        let v6 = r.rules(Family::V6);
        for needle in [
            "-A neutron-l3-agent-scope -i qr-0a1b2c3d-4e -j MARK",
            "-A neutron-l3-agent-scope -i qr-1b2c3d4e-5f -j MARK",
            "-A neutron-l3-agent-PREROUTING -d 203.0.113.21/32 -j DNAT --to-destination 10.0.20.6",
            "-A neutron-l3-agent-float-snat -s 10.0.10.5/32 -j SNAT --to-source 203.0.113.20 --random-fully",
            "-A neutron-l3-agent-snat -o qg-5f6a7b8c-9d -j SNAT --to-source 203.0.113.10 --random-fully",
        ] {
            assert!(v4.contains(needle), "missing `{needle}` in\n{v4}");
        }
        // IPv6: only the port with an IPv6 subnet, no floating IP, no SNAT.
        assert!(v6.contains("-A neutron-l3-agent-scope -i qr-1b2c3d4e-5f -j MARK"));
        assert!(!v6.contains("qr-0a1b2c3d-4e") && !v6.contains("SNAT"));
        let plain = NeutronRouter {
            random_fully: false,
            ..r
        };
        assert!(!plain.rules(Family::V4).contains("random-fully"));
    }

    #[test]
    fn one_rule_per_chain_and_floating_ip() {
        // `rules` expands each per-floating-IP line in place, which keeps Neutron's order
        // only while a chain has one such line.
        let mut chains: Vec<&str> = IPV4_TEMPLATE
            .lines()
            .filter(|l| is_fip_line(l))
            .map(rule_chain)
            .collect();
        let n = chains.len();
        chains.sort();
        chains.dedup();
        assert_eq!(chains.len(), n, "{chains:?}");
        assert!(n > 0);
    }

    #[test]
    fn floating_ip_rules_are_recognised() {
        let t = "-A neutron-l3-agent-float-snat -s {FIXED}/32 -j SNAT --to-source {FLOATING}{RANDOM_FULLY}";
        for rule in [
            "-A neutron-l3-agent-float-snat -s 10.0.10.5/32 -j SNAT --to-source 203.0.113.20 --random-fully",
            "-A neutron-l3-agent-float-snat -s 10.0.10.5/32 -j SNAT --to-source 203.0.113.20",
        ] {
            assert!(matches_fip_template(rule, t), "{rule}");
        }
        assert!(!matches_fip_template(
            "-A neutron-l3-agent-float-snat -m connmark --mark 0x0/0xffff0000 -j CONNMARK",
            t
        ));
        assert!(!matches_fip_template(
            "-A neutron-l3-agent-PREROUTING -d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 9697",
            "-A neutron-l3-agent-PREROUTING -d {FLOATING}/32 -j DNAT --to-destination {FIXED}"
        ));
    }

    #[test]
    fn normalise_drops_comments_and_counters() {
        let s = "# Generated\n*nat\n:PREROUTING ACCEPT [3:180]\n:neutron-l3-agent-snat - [0:0]\n-A X -j Y\nCOMMIT\n# Completed\n";
        assert_eq!(
            normalise(s),
            "*nat\n:PREROUTING ACCEPT [0:0]\n:neutron-l3-agent-snat - [0:0]\n-A X -j Y\nCOMMIT\n"
        );
    }
}
