//! What tc holds on each interface of a namespace, one line per item: qdiscs other than the
//! kernel's defaults (root or child), every `ingress` / `clsact` qdisc, every filter (on the
//! root qdisc, on ingress and egress, on any other qdisc or class that has a handle; every
//! chain), and BPF programs attached through tcx (which no qdisc shows). From
//! `RTM_GETQDISC`, `RTM_GETTCLASS` and `RTM_GETTFILTER` dumps and `BPF_PROG_QUERY`.
//!
//! Fails closed: whatever cannot be read becomes a line `unreadable: <what>: <error>` on the
//! interfaces it concerns (all of them when the qdisc dump fails). Must run on a thread in
//! the namespace (the tcx query resolves names there). Imports `facts` and `nl`; uses aya for
//! the tcx query.

use std::collections::{BTreeMap, HashMap};

use super::{
    facts::IfaceFacts,
    nl::{self, NlError, NlSocket},
};

const RTM_NEWQDISC: u16 = 36;
const RTM_GETQDISC: u16 = 38;
const RTM_NEWTCLASS: u16 = 40;
const RTM_GETTCLASS: u16 = 42;
const RTM_NEWTFILTER: u16 = 44;
const RTM_GETTFILTER: u16 = 46;
/// `struct tcmsg`.
const TCMSG_LEN: usize = 20;
const TCA_KIND: u16 = 1;
const TCA_DUMP_INVISIBLE: u16 = 10;
const TCA_CHAIN: u16 = 11;
const TC_H_ROOT: u32 = 0xFFFF_FFFF;
/// The parent of `ingress` and `clsact` qdiscs.
const TC_H_INGRESS: u32 = 0xFFFF_FFF1;
const TC_H_INGRESS_BLOCK: u32 = 0xFFFF_FFF2;
const TC_H_EGRESS_BLOCK: u32 = 0xFFFF_FFF3;

/// Root qdiscs the kernel installs by itself (and `noop`: no qdisc, a device that is down).
/// They only queue: a frame XDP redirects skips them and loses nothing the kernel would do.
pub const DEFAULT_QDISCS: [&str; 6] = ["noqueue", "pfifo_fast", "fq_codel", "mq", "fq", "noop"];

/// A qdisc, class or filter message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcObject {
    pub ifindex: u32,
    pub handle: u32,
    pub parent: u32,
    /// Filters: priority (high 16 bits) and protocol (low 16 bits, network byte order).
    pub info: u32,
    pub kind: String,
    pub chain: Option<u32>,
}

/// Decodes a `struct tcmsg` and its kind and chain (options are not needed here, and not
/// decoding them means no filter is ever lost to an option this code does not know).
pub fn parse_tcmsg(payload: &[u8]) -> Result<TcObject, NlError> {
    let short = || NlError::Malformed(format!("tc message of {} bytes", payload.len()));
    let mut object = TcObject {
        ifindex: nl::u32_at(payload, 4).ok_or_else(short)?,
        handle: nl::u32_at(payload, 8).ok_or_else(short)?,
        parent: nl::u32_at(payload, 12).ok_or_else(short)?,
        info: nl::u32_at(payload, 16).ok_or_else(short)?,
        kind: String::new(),
        chain: None,
    };
    for attr in nl::attrs(payload.get(TCMSG_LEN..).unwrap_or_default()) {
        match attr? {
            (TCA_KIND, value) => object.kind = nl::string(value),
            (TCA_CHAIN, value) => object.chain = nl::u32_at(value, 0),
            _ => {}
        }
    }
    if object.kind.is_empty() {
        object.kind = "?".into();
    }
    Ok(object)
}

/// `1:`, `1:10`, `ffff:fff1`, as tc prints handles.
pub fn handle_text(handle: u32) -> String {
    let (major, minor) = (handle >> 16, handle & 0xFFFF);
    if minor == 0 {
        format!("{major:x}:")
    } else {
        format!("{major:x}:{minor:x}")
    }
}

fn is_ingress_kind(kind: &str) -> bool {
    kind == "ingress" || kind == "clsact"
}

/// The lines for one interface's qdiscs: `ingress` / `clsact`, and any other qdisc whose
/// kind is not a default.
pub fn qdisc_lines(qdiscs: &[TcObject]) -> Vec<String> {
    qdiscs
        .iter()
        .filter(|q| is_ingress_kind(&q.kind) || !DEFAULT_QDISCS.contains(&q.kind.as_str()))
        .map(|q| {
            let at = match q.parent {
                TC_H_ROOT => "root".to_string(),
                parent => format!("parent {}", handle_text(parent)),
            };
            format!("qdisc {} {} {at}", q.kind, handle_text(q.handle))
        })
        .collect()
}

/// Where filters of an interface may sit, as (label, parent for the dump): the root qdisc,
/// ingress and egress of an `ingress` / `clsact` qdisc, and every other qdisc with a handle.
pub fn filter_parents(qdiscs: &[TcObject]) -> Vec<(String, u32)> {
    let mut parents = vec![("root".to_string(), 0)];
    for q in qdiscs {
        if q.parent == TC_H_INGRESS || is_ingress_kind(&q.kind) {
            parents.push(("ingress".into(), TC_H_INGRESS_BLOCK));
            if q.kind == "clsact" {
                parents.push(("egress".into(), TC_H_EGRESS_BLOCK));
            }
        } else if q.parent != TC_H_ROOT && q.handle & 0xFFFF_0000 != 0 {
            let major = q.handle & 0xFFFF_0000;
            parents.push((format!("parent {}", handle_text(major)), major));
        }
    }
    let mut seen = std::collections::HashSet::new();
    parents.retain(|(_, parent)| seen.insert(*parent));
    parents
}

/// One filter as a line: `filter ingress chain 0 pref 49152 protocol all bpf handle 0x1`.
pub fn filter_line(at: &str, filter: &TcObject) -> String {
    let pref = filter.info >> 16;
    let protocol = u16::from_be((filter.info & 0xFFFF) as u16);
    let mut line = format!(
        "filter {at} chain {} pref {pref} protocol {} {}",
        filter.chain.unwrap_or(0),
        protocol_name(protocol),
        filter.kind
    );
    if filter.handle != 0 {
        line.push_str(&format!(" handle 0x{:x}", filter.handle));
    }
    line
}

fn protocol_name(protocol: u16) -> String {
    match protocol {
        0x0003 => "all".into(),
        0x0800 => "ip".into(),
        0x86dd => "ipv6".into(),
        0x0806 => "arp".into(),
        0x8100 => "802.1Q".into(),
        0x88a8 => "802.1ad".into(),
        p => format!("0x{p:04x}"),
    }
}

fn tcmsg(ifindex: u32, parent: u32) -> Vec<u8> {
    let mut msg = vec![0u8; TCMSG_LEN];
    msg[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    msg[12..16].copy_from_slice(&parent.to_ne_bytes());
    msg
}

fn unreadable(what: &str, error: &NlError) -> String {
    format!("unreadable: {what}: {}", nl::describe(error))
}

/// The tc lines of every interface in `ifaces`, by interface index (interfaces with nothing
/// have an empty list).
pub(crate) fn read_tc(socket: &mut NlSocket, ifaces: &[IfaceFacts]) -> HashMap<u32, Vec<String>> {
    let mut lines: HashMap<u32, Vec<String>> =
        ifaces.iter().map(|i| (i.ifindex, Vec::new())).collect();
    let mut request = tcmsg(0, 0);
    request.extend(nl::attr(TCA_DUMP_INVISIBLE, &[]));
    let mut qdiscs: BTreeMap<u32, Vec<TcObject>> = BTreeMap::new();
    let mut everywhere = Vec::new();
    match socket.dump(RTM_GETQDISC, &request) {
        Ok(messages) => {
            for message in messages.iter().filter(|m| m.kind == RTM_NEWQDISC) {
                match parse_tcmsg(&message.payload) {
                    Ok(q) => qdiscs.entry(q.ifindex).or_default().push(q),
                    Err(error) => everywhere.push(unreadable("a qdisc", &error)),
                }
            }
        }
        Err(error) => everywhere.push(unreadable("qdiscs", &error)),
    }
    for iface in ifaces {
        let entry = lines.entry(iface.ifindex).or_default();
        entry.extend(everywhere.iter().cloned());
        let own = qdiscs.get(&iface.ifindex).map(Vec::as_slice).unwrap_or(&[]);
        entry.extend(qdisc_lines(own));
        let mut parents = filter_parents(own);
        // Only a qdisc that is not a default can have classes with filter blocks (mq's
        // classes have none).
        if own
            .iter()
            .any(|q| !DEFAULT_QDISCS.contains(&q.kind.as_str()) && !is_ingress_kind(&q.kind))
        {
            match socket.dump(RTM_GETTCLASS, &tcmsg(iface.ifindex, 0)) {
                Ok(messages) => {
                    for message in messages.iter().filter(|m| m.kind == RTM_NEWTCLASS) {
                        match parse_tcmsg(&message.payload) {
                            Ok(class) if class.handle & 0xFFFF != 0 => parents.push((
                                format!("class {}", handle_text(class.handle)),
                                class.handle,
                            )),
                            Ok(_) => {}
                            Err(error) => entry.push(unreadable("a class", &error)),
                        }
                    }
                }
                Err(error) => entry.push(unreadable("classes", &error)),
            }
        }
        for (at, parent) in &parents {
            match socket.dump(RTM_GETTFILTER, &tcmsg(iface.ifindex, *parent)) {
                Ok(messages) => {
                    for message in messages.iter().filter(|m| m.kind == RTM_NEWTFILTER) {
                        let line = match parse_tcmsg(&message.payload) {
                            Ok(filter) => filter_line(at, &filter),
                            Err(error) => unreadable(&format!("a filter at {at}"), &error),
                        };
                        if !entry.contains(&line) {
                            entry.push(line);
                        }
                    }
                }
                Err(error) => entry.push(unreadable(&format!("filters at {at}"), &error)),
            }
        }
        entry.extend(tcx_lines(&iface.name));
    }
    lines
}

/// BPF programs attached to the interface's ingress and egress through tcx (Linux ≥ 6.6;
/// an older kernel answers `EINVAL` for the attach type and has none).
fn tcx_lines(name: &str) -> Vec<String> {
    use aya::programs::{ProgramError, SchedClassifier, tc::TcAttachType};
    let mut lines = Vec::new();
    for (at, attach) in [
        ("ingress", TcAttachType::Ingress),
        ("egress", TcAttachType::Egress),
    ] {
        match SchedClassifier::query_tcx(name, attach) {
            Ok((_, programs)) => lines.extend(programs.iter().map(|p| {
                format!(
                    "tcx {at} prog {} id {}",
                    String::from_utf8_lossy(p.name()),
                    p.id()
                )
            })),
            Err(ProgramError::SyscallError(e))
                if e.io_error.raw_os_error() == Some(libc::EINVAL) => {}
            Err(error) => lines.push(format!(
                "unreadable: tcx {at} programs: {}",
                nl::describe(&error)
            )),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(kind: &str, handle: u32, parent: u32) -> TcObject {
        TcObject {
            ifindex: 2,
            handle,
            parent,
            info: 0,
            kind: kind.into(),
            chain: None,
        }
    }

    #[test]
    fn default_root_qdiscs_are_quiet_the_rest_is_reported() {
        let defaults = [
            q("noqueue", 0, TC_H_ROOT),
            q("mq", 0, TC_H_ROOT),
            q("fq_codel", 0, 0x0000_0001),
            q("pfifo_fast", 0, TC_H_ROOT),
            q("fq", 0x8001_0000, TC_H_ROOT),
        ];
        assert!(qdisc_lines(&defaults).is_empty());
        let user = [
            q("tbf", 0x8002_0000, TC_H_ROOT),
            q("clsact", 0xFFFF_0000, TC_H_INGRESS),
            q("ingress", 0xFFFF_0000, TC_H_INGRESS),
            q("htb", 0x0010_0000, 0x0001_0001),
        ];
        assert_eq!(
            qdisc_lines(&user),
            vec![
                "qdisc tbf 8002: root",
                "qdisc clsact ffff: parent ffff:fff1",
                "qdisc ingress ffff: parent ffff:fff1",
                "qdisc htb 10: parent 1:1",
            ]
        );
    }

    #[test]
    fn filters_are_looked_for_on_root_ingress_egress_and_handled_qdiscs() {
        let qdiscs = [
            q("htb", 0x0001_0000, TC_H_ROOT),
            q("sfq", 0x0010_0000, 0x0001_0001),
            q("clsact", 0xFFFF_0000, TC_H_INGRESS),
            q("fq_codel", 0, 0x0000_0002),
        ];
        let expected = [
            ("root", 0),
            ("parent 10:", 0x0010_0000),
            ("ingress", TC_H_INGRESS_BLOCK),
            ("egress", TC_H_EGRESS_BLOCK),
        ]
        .map(|(at, parent)| (at.to_string(), parent));
        assert_eq!(filter_parents(&qdiscs), expected.to_vec());
        // Nothing but the default: only the root qdisc is asked.
        assert_eq!(
            filter_parents(&[q("noqueue", 0, TC_H_ROOT)]),
            vec![("root".to_string(), 0)]
        );
    }

    #[test]
    fn tc_messages_decode_from_captured_bytes() {
        // RTM_NEWTFILTER payload of `tc filter add dev x ingress protocol ip pref 10 chain 3
        // matchall action drop` (options left out): ifindex 2, handle 1, parent ffff:fff2.
        let mut payload = vec![0u8; TCMSG_LEN];
        payload[4..8].copy_from_slice(&2u32.to_ne_bytes());
        payload[8..12].copy_from_slice(&1u32.to_ne_bytes());
        payload[12..16].copy_from_slice(&TC_H_INGRESS_BLOCK.to_ne_bytes());
        let info = (10u32 << 16) | u32::from(0x0800u16.to_be());
        payload[16..20].copy_from_slice(&info.to_ne_bytes());
        payload.extend(nl::attr(TCA_KIND, b"matchall\0"));
        payload.extend(nl::attr(TCA_CHAIN, &3u32.to_ne_bytes()));
        payload.extend(nl::attr(2, &[0xde, 0xad, 0xbe, 0xef]));
        let filter = parse_tcmsg(&payload).unwrap();
        assert_eq!(
            filter_line("ingress", &filter),
            "filter ingress chain 3 pref 10 protocol ip matchall handle 0x1"
        );
        assert!(parse_tcmsg(&payload[..10]).is_err());
        let mut garbled = payload.clone();
        garbled.extend([9, 0]);
        assert!(parse_tcmsg(&garbled).is_err());
    }

    #[test]
    fn handles_print_like_tc() {
        assert_eq!(handle_text(0x0001_0000), "1:");
        assert_eq!(handle_text(0x0001_0010), "1:10");
        assert_eq!(handle_text(TC_H_INGRESS), "ffff:fff1");
        assert_eq!(handle_text(0), "0:");
    }
}
