//! The connections conntrack still translates the old way when a floating IP appears: a
//! fixed IP's outbound connections opened before its floating IP existed keep the source NAT
//! they got then (Neutron's default SNAT to the router's gateway address), and the kernel keeps
//! applying it to their later packets. The stateless fast path would give those packets the
//! floating IP instead, so while such connections exist the floating IP stays on the kernel
//! path. This dumps the IPv4 conntrack table over ctnetlink in a namespace and
//! counts, per fixed IP, the connections from it whose source is translated to anything but
//! its floating IP. Imports `crate::netns`.

use std::{collections::BTreeMap, io, net::Ipv4Addr, time::Duration};

use netlink_sys::{Socket, protocols::NETLINK_NETFILTER};

use super::error::PathStateError;

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_GET: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const AF_INET: u8 = 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_TUPLE_IP: u16 = 1;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const NLA_TYPE_MASK: u16 = 0x3fff;
const HEADER: usize = 16;
const NFGENMSG: usize = 4;

/// Connections of a fixed IP translated to something other than its floating IP: how many,
/// and one address they are translated to.
pub type Held = BTreeMap<Ipv4Addr, (usize, Ipv4Addr)>;

/// The attributes of a netlink attribute stream, by type.
fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((kind, &buf[4..len]));
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    out
}

fn find(buf: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(buf)
        .into_iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, v)| v)
}

fn v4(b: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from)
}

/// `(original source, reply destination)` of one conntrack message's attributes: the reply
/// destination is the original source after source NAT.
fn tuple_addrs(attributes: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let ip = |t: u16, a: u16| {
        find(attributes, t)
            .and_then(|tuple| find(tuple, CTA_TUPLE_IP))
            .and_then(|ip| find(ip, a))
            .and_then(v4)
    };
    Some((
        ip(CTA_TUPLE_ORIG, CTA_IP_V4_SRC)?,
        ip(CTA_TUPLE_REPLY, CTA_IP_V4_DST)?,
    ))
}

/// Counts, over `entries` (original source, reply destination), the connections of each fixed
/// IP in `fips` (fixed → floating) whose source became something else than the fixed IP itself
/// (no NAT) or its floating IP.
pub fn count(entries: &[(Ipv4Addr, Ipv4Addr)], fips: &BTreeMap<Ipv4Addr, Ipv4Addr>) -> Held {
    let mut held = Held::new();
    for (src, translated) in entries {
        let Some(floating) = fips.get(src) else {
            continue;
        };
        if translated == src || translated == floating {
            continue;
        }
        let e = held.entry(*src).or_insert((0, *translated));
        e.0 += 1;
    }
    held
}

fn sock_err(action: &'static str) -> impl FnOnce(io::Error) -> PathStateError {
    move |error| PathStateError::NftSocket { action, error }
}

/// Every IPv4 connection of the calling thread's namespace as (original source, reply
/// destination).
fn dump() -> Result<Vec<(Ipv4Addr, Ipv4Addr)>, PathStateError> {
    let mut socket = Socket::new(NETLINK_NETFILTER).map_err(sock_err("open"))?;
    socket.bind_auto().map_err(sock_err("bind"))?;
    socket2::SockRef::from(&socket)
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(sock_err("set a receive timeout"))?;
    let mut m = Vec::with_capacity(HEADER + NFGENMSG);
    m.extend_from_slice(&((HEADER + NFGENMSG) as u32).to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET).to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[AF_INET, 0, 0, 0]);
    socket.send(&m, 0).map_err(sock_err("send"))?;
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        socket.recv(&mut buf, 0).map_err(sock_err("receive"))?;
        let mut rest: &[u8] = &buf;
        while rest.len() >= HEADER {
            let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if len < HEADER || len > rest.len() {
                break;
            }
            let kind = u16::from_ne_bytes([rest[4], rest[5]]);
            let payload = &rest[HEADER..len];
            match kind {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    let code = payload
                        .get(..4)
                        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    if code == 0 {
                        return Ok(out);
                    }
                    // No conntrack in the namespace yet: no connections.
                    if -code == libc::ENOENT || -code == libc::EOPNOTSUPP {
                        return Ok(out);
                    }
                    return Err(PathStateError::NftSocket {
                        action: "dump conntrack",
                        error: io::Error::from_raw_os_error(-code),
                    });
                }
                _ if kind >> 8 == NFNL_SUBSYS_CTNETLINK && payload.len() > NFGENMSG => {
                    if let Some(t) = tuple_addrs(&payload[NFGENMSG..]) {
                        out.push(t);
                    }
                }
                _ => {}
            }
            rest = &rest[len.next_multiple_of(4).min(rest.len())..];
        }
    }
}

/// The connections held back per fixed IP of `fips` (fixed → floating) in namespace `netns`.
pub fn held(
    netns: Option<&str>,
    fips: &BTreeMap<Ipv4Addr, Ipv4Addr>,
) -> Result<Held, PathStateError> {
    if fips.is_empty() {
        return Ok(Held::new());
    }
    let entries = crate::netns::run_in(netns, dump)??;
    Ok(count(&entries, fips))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn only_connections_translated_to_another_address_hold_a_fixed_ip_back() {
        let fips = BTreeMap::from([(a("10.0.10.5"), a("203.0.113.20"))]);
        let entries = [
            // Opened before the floating IP: the default SNAT to the gateway address.
            (a("10.0.10.5"), a("203.0.113.10")),
            (a("10.0.10.5"), a("203.0.113.10")),
            // Through the floating IP, and east-west (no NAT): fine.
            (a("10.0.10.5"), a("203.0.113.20")),
            (a("10.0.10.5"), a("10.0.10.5")),
            // Another VM.
            (a("10.0.10.6"), a("203.0.113.10")),
        ];
        let held = count(&entries, &fips);
        assert_eq!(held, Held::from([(a("10.0.10.5"), (2, a("203.0.113.10")))]));
        assert!(count(&entries[2..], &fips).is_empty());
    }

    #[test]
    fn tuple_addresses_come_from_nested_attributes() {
        // CTA_TUPLE_ORIG { CTA_TUPLE_IP { SRC, DST } }, CTA_TUPLE_REPLY { ... }
        fn nla(kind: u16, body: &[u8]) -> Vec<u8> {
            let mut v = ((4 + body.len()) as u16).to_ne_bytes().to_vec();
            v.extend_from_slice(&(kind | 0x8000).to_ne_bytes());
            v.extend_from_slice(body);
            while !v.len().is_multiple_of(4) {
                v.push(0);
            }
            v
        }
        let ip = |src: [u8; 4], dst: [u8; 4]| {
            let mut b = nla(CTA_IP_V4_SRC, &src);
            b.extend(nla(CTA_IP_V4_DST, &dst));
            nla(CTA_TUPLE_IP, &b)
        };
        let mut msg = nla(CTA_TUPLE_ORIG, &ip([10, 0, 10, 5], [198, 51, 100, 7]));
        msg.extend(nla(
            CTA_TUPLE_REPLY,
            &ip([198, 51, 100, 7], [203, 0, 113, 10]),
        ));
        assert_eq!(tuple_addrs(&msg), Some((a("10.0.10.5"), a("203.0.113.10"))));
        assert_eq!(tuple_addrs(&msg[..6]), None);
    }
}
