//! Policy routing rules (`ip rule`) of a namespace for IPv4 and IPv6, from `RTM_GETRULE`
//! dumps, rendered one line each as `ip rule` prints them, without the kernel's defaults.
//!
//! Fails closed: a rule that cannot be decoded is reported as `unreadable: <error>`, a dump
//! that fails as one such line, a default rule that was deleted as
//! `deleted default: <rule>` (the kernel then routes differently from a plain FIB lookup),
//! and a rule attribute this renderer does not know as `attr <type> 0x<value>` (so the rule
//! never looks like a default). Imports `nl`.

use std::{fmt::Write as _, net::IpAddr};

use rtnetlink::packet_core::Parseable;
use rtnetlink::packet_route::{
    AddressFamily,
    rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage},
};

use super::nl::{self, NlError, NlSocket};

const RTM_NEWRULE: u16 = 32;
const RTM_GETRULE: u16 = 34;
/// `struct fib_rule_hdr`.
const RULE_HEADER_LEN: usize = 12;

/// The kernel's IPv4 rules in a new namespace.
pub const DEFAULT_RULES_V4: [&str; 3] = [
    "0: from all lookup local",
    "32766: from all lookup main",
    "32767: from all lookup default",
];
/// The kernel's IPv6 rules in a new namespace.
pub const DEFAULT_RULES_V6: [&str; 2] = ["0: from all lookup local", "32766: from all lookup main"];

/// IPv4 or IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    fn af(self) -> u8 {
        match self {
            IpFamily::V4 => libc::AF_INET as u8,
            IpFamily::V6 => libc::AF_INET6 as u8,
        }
    }

    fn defaults(self) -> &'static [&'static str] {
        match self {
            IpFamily::V4 => &DEFAULT_RULES_V4,
            IpFamily::V6 => &DEFAULT_RULES_V6,
        }
    }
}

/// The rules of `family` other than the kernel's defaults, in the kernel's order (by
/// preference), then the defaults that are missing; never fails (see the module doc).
pub(crate) fn read_extra_rules(socket: &mut NlSocket, family: IpFamily) -> Vec<String> {
    let mut header = [0u8; RULE_HEADER_LEN];
    header[0] = family.af();
    match socket.dump(RTM_GETRULE, &header) {
        Ok(messages) => {
            let lines: Vec<String> = messages
                .iter()
                .filter(|m| m.kind == RTM_NEWRULE)
                .map(|m| {
                    render_payload(&m.payload)
                        .unwrap_or_else(|error| format!("unreadable: {}", nl::describe(&error)))
                })
                .collect();
            extra_rules(&lines, family)
        }
        // No IPv6 in this kernel (ipv6.disable=1): there are no IPv6 rules to obey.
        Err(error)
            if family == IpFamily::V6 && error.kernel_errno() == Some(libc::EAFNOSUPPORT) =>
        {
            Vec::new()
        }
        Err(error) => {
            tracing::warn!(?family, error = %nl::describe(&error), "cannot read policy rules");
            vec![format!("unreadable: {}", nl::describe(&error))]
        }
    }
}

/// `lines` (every rule of `family`, rendered) without the kernel's defaults, followed by
/// `deleted default: <rule>` for each default that is not there.
pub fn extra_rules(lines: &[String], family: IpFamily) -> Vec<String> {
    let defaults = family.defaults();
    let mut extra: Vec<String> = lines
        .iter()
        .filter(|l| !defaults.contains(&l.as_str()))
        .cloned()
        .collect();
    extra.extend(
        defaults
            .iter()
            .filter(|d| !lines.iter().any(|l| l == *d))
            .map(|d| format!("deleted default: {d}")),
    );
    extra
}

/// Decodes and renders one `RTM_NEWRULE` payload.
pub fn render_payload(payload: &[u8]) -> Result<String, NlError> {
    if payload.len() < RULE_HEADER_LEN {
        return Err(NlError::Malformed(format!(
            "rule message of {} bytes",
            payload.len()
        )));
    }
    let rule = RuleMessage::parse(payload)
        .map_err(|error| NlError::Malformed(format!("rule message: {error}")))?;
    Ok(render(&rule))
}

/// One rule as `ip rule` prints it (`100: from 10.0.0.0/8 fwmark 0x1 lookup 42`); the
/// protocol that installed it is left out, as `ip rule` does without `-d`.
pub fn render(rule: &RuleMessage) -> String {
    let header = &rule.header;
    let host_len = if header.family == AddressFamily::Inet6 {
        128
    } else {
        32
    };
    let mut pref = 0;
    let (mut src, mut dst) = (None, None);
    let (mut fwmark, mut fwmask) = (None, None);
    let mut table = u32::from(header.table);
    let mut goto = None;
    let mut l3mdev = false;
    let mut rest = String::new();
    let mut iif = None;
    let mut oif = None;
    for attr in &rule.attributes {
        match attr {
            RuleAttribute::Priority(p) => pref = *p,
            RuleAttribute::Source(ip) => src = Some(*ip),
            RuleAttribute::Destination(ip) => dst = Some(*ip),
            RuleAttribute::FwMark(m) => fwmark = Some(*m),
            RuleAttribute::FwMask(m) => fwmask = Some(*m),
            RuleAttribute::Table(t) => table = *t,
            RuleAttribute::Goto(g) => goto = Some(*g),
            RuleAttribute::L3MDev(on) => l3mdev = *on,
            RuleAttribute::Iifname(name) => iif = Some(name.clone()),
            RuleAttribute::Oifname(name) => oif = Some(name.clone()),
            RuleAttribute::Protocol(_) => {}
            RuleAttribute::UidRange(r) => {
                let _ = write!(rest, " uidrange {}-{}", r.start, r.end);
            }
            RuleAttribute::IpProtocol(p) => {
                let _ = write!(rest, " ipproto {}", proto_name(u8::from(*p)));
            }
            RuleAttribute::SourcePortRange(r) => {
                let _ = write!(rest, " sport {}", port_range(r.start, r.end));
            }
            RuleAttribute::DestinationPortRange(r) => {
                let _ = write!(rest, " dport {}", port_range(r.start, r.end));
            }
            RuleAttribute::TunId(id) => {
                let _ = write!(rest, " tun_id {id}");
            }
            RuleAttribute::SuppressPrefixLen(n) if *n != u32::MAX => {
                let _ = write!(rest, " suppress_prefixlength {n}");
            }
            RuleAttribute::SuppressIfGroup(g) if *g != u32::MAX => {
                let _ = write!(rest, " suppress_ifgroup {g}");
            }
            RuleAttribute::SuppressPrefixLen(_) | RuleAttribute::SuppressIfGroup(_) => {}
            RuleAttribute::Realm(r) => {
                let _ = write!(rest, " realms {}/{}", r.source, r.destination);
            }
            other => {
                let _ = write!(rest, " {}", unknown_attr(other));
            }
        }
    }

    let mut line = format!("{pref}:");
    if header.flags.contains(RuleFlags::Invert) {
        line.push_str(" not");
    }
    line.push_str(&selector("from", src, header.src_len, host_len, true));
    line.push_str(&selector("to", dst, header.dst_len, host_len, false));
    if header.tos != 0 {
        let _ = write!(line, " tos 0x{:02x}", header.tos);
    }
    if fwmark.is_some() || fwmask.is_some() {
        let _ = write!(line, " fwmark 0x{:x}", fwmark.unwrap_or(0));
        if let Some(mask) = fwmask.filter(|m| *m != u32::MAX) {
            let _ = write!(line, "/0x{mask:x}");
        }
    }
    if let Some(name) = iif {
        let _ = write!(line, " iif {name}");
        if header.flags.contains(RuleFlags::IifDetached) {
            line.push_str(" [detached]");
        }
    }
    if let Some(name) = oif {
        let _ = write!(line, " oif {name}");
        if header.flags.contains(RuleFlags::OifDetached) {
            line.push_str(" [detached]");
        }
    }
    line.push_str(&rest);
    match header.action {
        RuleAction::ToTable if l3mdev => line.push_str(" lookup [l3mdev-table]"),
        RuleAction::ToTable => {
            let _ = write!(line, " lookup {}", table_name(table));
        }
        RuleAction::Goto => match goto {
            Some(target) => {
                let _ = write!(line, " goto {target}");
            }
            None => line.push_str(" goto none"),
        },
        RuleAction::Nop => line.push_str(" nop"),
        RuleAction::Blackhole => line.push_str(" blackhole"),
        RuleAction::Unreachable => line.push_str(" unreachable"),
        RuleAction::Prohibit => line.push_str(" prohibit"),
        RuleAction::Unspec => line.push_str(" action unspec"),
        other => {
            let _ = write!(line, " action {}", u8::from(other));
        }
    }
    if header.flags.contains(RuleFlags::Unresolved) {
        line.push_str(" [unresolved]");
    }
    line
}

fn selector(word: &str, addr: Option<IpAddr>, len: u8, host_len: u8, always: bool) -> String {
    match addr {
        Some(ip) if len == host_len => format!(" {word} {ip}"),
        Some(ip) => format!(" {word} {ip}/{len}"),
        None if len > 0 => format!(" {word} 0/{len}"),
        None if always => format!(" {word} all"),
        None => String::new(),
    }
}

fn table_name(table: u32) -> String {
    match table {
        255 => "local".into(),
        254 => "main".into(),
        253 => "default".into(),
        n => n.to_string(),
    }
}

fn port_range(start: u16, end: u16) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}-{end}")
    }
}

fn proto_name(proto: u8) -> String {
    match proto {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "ipv6-icmp".into(),
        132 => "sctp".into(),
        n => n.to_string(),
    }
}

/// An attribute the renderer has no words for, with its raw value (newer kernels add
/// selectors such as `dscp` and `flowlabel`; they must keep the rule from looking default).
fn unknown_attr(attr: &RuleAttribute) -> String {
    use rtnetlink::packet_core::Nla;
    let mut value = vec![0u8; attr.value_len()];
    attr.emit_value(&mut value);
    let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
    format!("attr {} 0x{hex}", attr.kind())
}

#[cfg(test)]
mod tests {
    use rtnetlink::{
        packet_core::DefaultNla,
        packet_route::rule::{RuleHeader, RulePortRange},
    };

    use super::*;

    fn rule(family: AddressFamily, action: RuleAction, attrs: Vec<RuleAttribute>) -> RuleMessage {
        let mut rule = RuleMessage::default();
        rule.header = RuleHeader {
            family,
            action,
            ..RuleHeader::default()
        };
        rule.attributes = attrs;
        rule
    }

    #[test]
    fn renders_like_ip_rule() {
        let mut r = rule(
            AddressFamily::Inet,
            RuleAction::ToTable,
            vec![
                RuleAttribute::Priority(100),
                RuleAttribute::Source("10.0.0.0".parse().unwrap()),
                RuleAttribute::FwMark(1),
                RuleAttribute::Table(42),
            ],
        );
        r.header.src_len = 8;
        assert_eq!(render(&r), "100: from 10.0.0.0/8 fwmark 0x1 lookup 42");

        let mut r = rule(
            AddressFamily::Inet6,
            RuleAction::Blackhole,
            vec![
                RuleAttribute::Priority(5),
                RuleAttribute::Destination("2001:db8::1".parse().unwrap()),
                RuleAttribute::Iifname("eth0".into()),
                RuleAttribute::FwMark(0x10),
                RuleAttribute::FwMask(0xff),
                RuleAttribute::DestinationPortRange(RulePortRange { start: 80, end: 80 }),
            ],
        );
        r.header.dst_len = 128;
        r.header.flags = RuleFlags::Invert;
        assert_eq!(
            render(&r),
            "5: not from all to 2001:db8::1 fwmark 0x10/0xff iif eth0 dport 80 blackhole"
        );
    }

    #[test]
    fn defaults_are_recognised_only_when_exact() {
        let default_main = rule(
            AddressFamily::Inet,
            RuleAction::ToTable,
            vec![
                RuleAttribute::Priority(32766),
                RuleAttribute::Table(254),
                RuleAttribute::Protocol(2.into()),
            ],
        );
        assert_eq!(render(&default_main), "32766: from all lookup main");

        let mut with_dscp = default_main.clone();
        with_dscp
            .attributes
            .push(RuleAttribute::Other(DefaultNla::new(25, vec![0x2e])));
        assert_eq!(
            render(&with_dscp),
            "32766: from all attr 25 0x2e lookup main"
        );

        let lines: Vec<String> = [
            "0: from all lookup local",
            "100: from all lookup 42",
            "32766: from all lookup main",
            "32766: from all attr 25 0x2e lookup main",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            extra_rules(&lines, IpFamily::V4),
            vec![
                "100: from all lookup 42",
                "32766: from all attr 25 0x2e lookup main",
                "deleted default: 32767: from all lookup default",
            ]
        );
        let v6: Vec<String> = DEFAULT_RULES_V6.map(String::from).to_vec();
        assert!(extra_rules(&v6, IpFamily::V6).is_empty());
        assert_eq!(
            extra_rules(&v6, IpFamily::V4),
            vec!["deleted default: 32767: from all lookup default"]
        );
    }

    #[test]
    fn short_or_garbled_payloads_are_errors_not_panics() {
        assert!(render_payload(&[2, 0, 0]).is_err());
        let mut garbled = vec![2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        garbled.extend([8, 0, 2, 0, 10, 0]); // FRA_SRC cut short
        assert!(render_payload(&garbled).is_err());
        // A valid header with no attributes: pref 0, lookup of table 0.
        assert_eq!(
            render_payload(&[2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap(),
            "0: from all lookup 0"
        );
    }
}
