//! The corpus: complete Ethernet frames as hosts on the router's networks send them, in
//! order, each with the port it enters by and the fast-path class it belongs to when its
//! floating IP (or plain routing between its ports) is eligible, so a scenario can compute how
//! many frames the fast path must have carried. Between frames, a corpus may change the
//! router (add or remove a floating IP) at the same point in both twins.
//!
//! Conversations are complete (a TCP connection opens, carries data both ways and closes with
//! FIN both ways; an ICMP error follows the datagram it is about), so the kernel twin's
//! conntrack sees valid connections. Frames carry distinct IP IDs, as real hosts' do.

use std::{collections::BTreeSet, sync::Arc};

use etherparse::{PacketBuilder, TcpHeader};

use super::twin::{
    EXT_GW, EXT_GW_MAC, FIP1, FIP2, METADATA, Port, ROUTER_QG, ROUTER_QR, Router, SERVER, VM1,
    VM1_MAC, VM2, VM2_MAC, VM3, VM3_MAC, WAN_HOST, WAN_HOST_MAC, fip_is_fast, fip_is_held_back,
};
use crate::{
    flows::{Mac, fragment},
    frames::{fix_ipv4_checksum, with_ipv4_options, with_vlan},
};

/// What the fast path does with a frame when everything about it is eligible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Left to the kernel (not of a fast-path class, or refused for its shape).
    Kernel,
    /// Translated to the fixed IP of this floating IP and forwarded.
    FipIn([u8; 4]),
    /// Translated to this floating IP and forwarded.
    FipOut([u8; 4]),
    /// Routed between internal ports.
    Route,
}

/// What is eligible in a scenario, to count the frames the fast path must carry.
#[derive(Clone, Debug, Default)]
pub struct Eligible {
    pub fips: BTreeSet<[u8; 4]>,
    /// Plain routing between the internal ports.
    pub route: bool,
    /// Destinations the fast path leaves to the kernel.
    pub kernel_addrs: BTreeSet<[u8; 4]>,
}

/// Counter movements the fast twin must show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FastCounts {
    pub redirected: u64,
    pub nat_in: u64,
    pub nat_out: u64,
}

impl Class {
    /// Adds the frame's counts (`dst`: its IPv4 destination) to `into`.
    fn count(self, dst: [u8; 4], e: &Eligible, into: &mut FastCounts) {
        if e.kernel_addrs.contains(&dst) {
            return;
        }
        match self {
            Class::Kernel => {}
            Class::FipIn(f) if e.fips.contains(&f) => {
                into.nat_in += 1;
                into.redirected += 1;
            }
            Class::FipOut(f) if e.fips.contains(&f) => {
                into.nat_out += 1;
                into.redirected += 1;
            }
            Class::Route if e.route => {
                into.redirected += 1;
            }
            _ => {}
        }
    }
}

/// One frame of the corpus.
#[derive(Clone, Debug)]
pub struct Frame {
    pub port: Port,
    pub label: String,
    pub bytes: Vec<u8>,
    pub class: Class,
    /// Part of a connection a VM opened to the outside through source NAT (with
    /// `--random-fully` the kernel picks its port at random, differently in each twin).
    pub outward: bool,
}

/// A change to both routers at one point of the corpus.
#[derive(Clone)]
pub struct Change {
    pub label: String,
    pub apply: Arc<dyn Fn(&Router) + Send + Sync>,
}

#[derive(Clone)]
pub enum Step {
    Frame(Frame),
    Change(Change),
}

impl Step {
    pub fn label(&self) -> &str {
        match self {
            Step::Frame(f) => &f.label,
            Step::Change(c) => &c.label,
        }
    }
}

/// A host on one of the router's networks: the port its frames enter by and the MAC they come
/// from (for hosts behind the external gateway, the gateway's).
#[derive(Clone, Copy, Debug)]
pub struct Host {
    pub port: Port,
    pub mac: Mac,
    pub ip: [u8; 4],
}

pub const H_VM1: Host = Host {
    port: Port::Qr,
    mac: VM1_MAC,
    ip: VM1,
};
pub const H_VM2: Host = Host {
    port: Port::Qr,
    mac: VM2_MAC,
    ip: VM2,
};
pub const H_VM3: Host = Host {
    port: Port::Qr2,
    mac: VM3_MAC,
    ip: VM3,
};
pub const H_SERVER: Host = Host {
    port: Port::Qg,
    mac: EXT_GW_MAC,
    ip: SERVER,
};
pub const H_EXT_GW: Host = Host {
    port: Port::Qg,
    mac: EXT_GW_MAC,
    ip: EXT_GW,
};
pub const H_WAN_HOST: Host = Host {
    port: Port::Qg,
    mac: WAN_HOST_MAC,
    ip: WAN_HOST,
};

/// IP header fields of a built packet.
#[derive(Clone, Copy, Debug)]
pub struct Ip {
    pub ttl: u8,
    pub df: bool,
}

impl Default for Ip {
    fn default() -> Self {
        Self { ttl: 64, df: true }
    }
}

/// TCP flag bits.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// Sets the IP ID and DF bit of the IPv4 packet in an untagged frame and fixes the header
/// checksum (the transport checksums do not cover either).
fn set_id(frame: &mut [u8], id: u16, df: bool) {
    frame[18..20].copy_from_slice(&id.to_be_bytes());
    frame[20] = (frame[20] & !0x40) | if df { 0x40 } else { 0 };
    fix_ipv4_checksum(frame, 14);
}

/// The IPv4 packet of an untagged frame (without Ethernet header and trailer).
pub fn ip_packet(frame: &[u8]) -> &[u8] {
    let tot = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    &frame[14..14 + tot]
}

/// Zero-pads a frame to Ethernet's 60-byte minimum (without FCS), as a frame from a real wire
/// arrives.
pub fn padded(mut frame: Vec<u8>) -> Vec<u8> {
    if frame.len() < 60 {
        frame.resize(60, 0);
    }
    frame
}

/// The ones'-complement sum of `data` (16-bit big-endian words, an odd byte padded).
fn sum16(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Builds frames with distinct IP IDs.
pub struct Corpus {
    pub steps: Vec<Step>,
    next_id: u16,
    /// Frames pushed now are [`Frame::outward`].
    outward: bool,
}

impl Default for Corpus {
    fn default() -> Self {
        Self::new()
    }
}

impl Corpus {
    pub fn new() -> Self {
        Self {
            steps: Vec::new(),
            next_id: 0x1000,
            outward: false,
        }
    }

    /// Marks the frames pushed from now on as part of connections opened outward through
    /// source NAT (or not).
    pub fn outward(&mut self, on: bool) {
        self.outward = on;
    }

    /// The corpus without the frames of connections opened outward through source NAT: what
    /// two kernels with `--random-fully` translate alike.
    pub fn without_outward(&self) -> Corpus {
        Corpus {
            steps: self
                .steps
                .iter()
                .filter(|s| !matches!(s, Step::Frame(f) if f.outward))
                .cloned()
                .collect(),
            next_id: self.next_id,
            outward: false,
        }
    }

    /// Appends `other`'s steps.
    pub fn extend(&mut self, other: Corpus) {
        self.steps.extend(other.steps);
        self.next_id = self.next_id.max(other.next_id);
    }

    pub fn id(&mut self) -> u16 {
        self.next_id = self.next_id.wrapping_add(0x0101);
        self.next_id
    }

    /// Appends a frame.
    pub fn push(&mut self, port: Port, label: impl Into<String>, bytes: Vec<u8>, class: Class) {
        self.steps.push(Step::Frame(Frame {
            port,
            label: label.into(),
            bytes,
            class,
            outward: self.outward,
        }));
    }

    /// Appends a frame of a connection a VM opened outward through source NAT
    /// ([`Frame::outward`]).
    pub fn push_outward(
        &mut self,
        port: Port,
        label: impl Into<String>,
        bytes: Vec<u8>,
        class: Class,
    ) {
        let was = std::mem::replace(&mut self.outward, true);
        self.push(port, label, bytes, class);
        self.outward = was;
    }

    /// Appends a change applied to both routers.
    pub fn change(&mut self, label: &str, apply: impl Fn(&Router) + Send + Sync + 'static) {
        self.steps.push(Step::Change(Change {
            label: label.to_string(),
            apply: Arc::new(apply),
        }));
    }

    /// The frames, in order.
    pub fn frames(&self) -> impl Iterator<Item = &Frame> {
        self.steps.iter().filter_map(|s| match s {
            Step::Frame(f) => Some(f),
            Step::Change(_) => None,
        })
    }

    /// What the fast twin's counters must move by over steps `range` with `eligible`.
    pub fn expected(&self, range: std::ops::Range<usize>, eligible: &Eligible) -> FastCounts {
        let mut c = FastCounts::default();
        for s in &self.steps[range] {
            if let Step::Frame(f) = s {
                let dst = [f.bytes[30], f.bytes[31], f.bytes[32], f.bytes[33]];
                f.class.count(dst, eligible, &mut c);
            }
        }
        c
    }

    // ---- packet builders ------------------------------------------------------------------

    /// A UDP datagram from `from` to `dst`.
    pub fn udp(
        &mut self,
        from: Host,
        dst: [u8; 4],
        ports: (u16, u16),
        payload: &[u8],
        ip: Ip,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2(from.mac, from.port.mac())
            .ipv4(from.ip, dst, ip.ttl)
            .udp(ports.0, ports.1)
            .write(&mut out, payload)
            .expect("build udp");
        set_id(&mut out, self.id(), ip.df);
        out
    }

    /// A TCP segment.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        from: Host,
        dst: [u8; 4],
        ports: (u16, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
        ip: Ip,
    ) -> Vec<u8> {
        let mut h = TcpHeader::new(ports.0, ports.1, seq, 64240);
        h.fin = flags & FIN != 0;
        h.syn = flags & SYN != 0;
        h.rst = flags & RST != 0;
        h.psh = flags & PSH != 0;
        h.ack = flags & ACK != 0;
        h.acknowledgment_number = if h.ack { ack } else { 0 };
        let mut out = Vec::new();
        PacketBuilder::ethernet2(from.mac, from.port.mac())
            .ipv4(from.ip, dst, ip.ttl)
            .tcp_header(h)
            .write(&mut out, payload)
            .expect("build tcp");
        set_id(&mut out, self.id(), ip.df);
        out
    }

    /// An ICMP message of `kind`/`code` with bytes 5-8 `rest` and `payload`.
    pub fn icmp(
        &mut self,
        from: Host,
        dst: [u8; 4],
        (kind, code, rest): (u8, u8, [u8; 4]),
        payload: &[u8],
        ip: Ip,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2(from.mac, from.port.mac())
            .ipv4(from.ip, dst, ip.ttl)
            .icmpv4_raw(kind, code, rest)
            .write(&mut out, payload)
            .expect("build icmp");
        set_id(&mut out, self.id(), ip.df);
        out
    }

    /// An ICMP echo request (`request`) or reply.
    pub fn echo(
        &mut self,
        from: Host,
        dst: [u8; 4],
        request: bool,
        id: u16,
        seq: u16,
        ip: Ip,
    ) -> Vec<u8> {
        let kind = if request { 8 } else { 0 };
        let [a, b] = id.to_be_bytes();
        let [c, d] = seq.to_be_bytes();
        self.icmp(
            from,
            dst,
            (kind, 0, [a, b, c, d]),
            b"differential echo payload 123456",
            ip,
        )
    }

    /// A TCP connection opened by `a` (from `a_ports.0` to `a_ports.1` at `a_dst`) to `b`,
    /// who answers to `b_dst`: handshake, data both ways, FIN both ways. `class_a` and
    /// `class_b` are the classes of each side's segments. With `padded_acks`, pure ACKs come
    /// zero-padded to 60 bytes as from a real wire.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp_conversation(
        &mut self,
        what: &str,
        (a, a_dst, class_a): (Host, [u8; 4], Class),
        (b, b_dst, class_b): (Host, [u8; 4], Class),
        a_ports: (u16, u16),
        padded_acks: bool,
    ) {
        let (ia, ib) = (0x1000_0000u32 ^ u32::from(a_ports.0), 0x7000_0000u32);
        let b_ports = (a_ports.1, a_ports.0);
        let d_a = vec![b'a'; 100];
        let d_b = vec![b'b'; 60];
        let pad = |f: Vec<u8>| if padded_acks { padded(f) } else { f };
        let ip = Ip::default();
        let f = self.tcp(a, a_dst, a_ports, ia, 0, SYN, &[], ip);
        self.push(a.port, format!("{what}: SYN"), f, class_a);
        let f = self.tcp(b, b_dst, b_ports, ib, ia + 1, SYN | ACK, &[], ip);
        self.push(b.port, format!("{what}: SYN-ACK"), f, class_b);
        let f = pad(self.tcp(a, a_dst, a_ports, ia + 1, ib + 1, ACK, &[], ip));
        self.push(a.port, format!("{what}: ACK"), f, class_a);
        let f = self.tcp(a, a_dst, a_ports, ia + 1, ib + 1, PSH | ACK, &d_a, ip);
        self.push(a.port, format!("{what}: data"), f, class_a);
        let f = self.tcp(b, b_dst, b_ports, ib + 1, ia + 101, PSH | ACK, &d_b, ip);
        self.push(b.port, format!("{what}: data back"), f, class_b);
        let f = pad(self.tcp(a, a_dst, a_ports, ia + 101, ib + 61, ACK, &[], ip));
        self.push(a.port, format!("{what}: ACK of the data"), f, class_a);
        let f = pad(self.tcp(a, a_dst, a_ports, ia + 101, ib + 61, FIN | ACK, &[], ip));
        self.push(a.port, format!("{what}: FIN"), f, class_a);
        let f = pad(self.tcp(b, b_dst, b_ports, ib + 61, ia + 102, ACK, &[], ip));
        self.push(b.port, format!("{what}: ACK of the FIN"), f, class_b);
        let f = pad(self.tcp(b, b_dst, b_ports, ib + 61, ia + 102, FIN | ACK, &[], ip));
        self.push(b.port, format!("{what}: FIN back"), f, class_b);
        let f = pad(self.tcp(a, a_dst, a_ports, ia + 102, ib + 62, ACK, &[], ip));
        self.push(a.port, format!("{what}: last ACK"), f, class_a);
    }

    /// A UDP datagram whose checksum becomes 0 once `(src, dst)` is translated to
    /// `translated`: the payload carries the word that makes it so. The kernel (and the fast
    /// path) must then send 0xffff.
    pub fn udp_translated_checksum_zero(
        &mut self,
        from: Host,
        dst: [u8; 4],
        ports: (u16, u16),
        translated: ([u8; 4], [u8; 4]),
    ) -> Vec<u8> {
        let mut payload = b"checksum becomes zero:..".to_vec();
        let n = payload.len();
        payload[n - 2..].copy_from_slice(&[0, 0]);
        let udp_len = (8 + n) as u16;
        let mut words = Vec::new();
        words.extend_from_slice(&translated.0);
        words.extend_from_slice(&translated.1);
        words.extend_from_slice(&[0, 17]);
        words.extend_from_slice(&udp_len.to_be_bytes());
        words.extend_from_slice(&ports.0.to_be_bytes());
        words.extend_from_slice(&ports.1.to_be_bytes());
        words.extend_from_slice(&udp_len.to_be_bytes());
        words.extend_from_slice(&[0, 0]);
        words.extend_from_slice(&payload);
        let s = fold(sum16(&words));
        let w = 0xffff - s;
        payload[n - 2..].copy_from_slice(&w.to_be_bytes());
        self.udp(from, dst, ports, &payload, Ip::default())
    }

    /// A UDP datagram whose IPv4 header checksum becomes 0 once forwarded with addresses
    /// `translated` and the TTL one less: the IP ID makes it so.
    pub fn udp_forwarded_header_checksum_zero(
        &mut self,
        from: Host,
        dst: [u8; 4],
        ports: (u16, u16),
        translated: ([u8; 4], [u8; 4]),
    ) -> Vec<u8> {
        let mut f = self.udp(
            from,
            dst,
            ports,
            b"header checksum becomes zero",
            Ip::default(),
        );
        // The forwarded header with ID 0 and checksum 0.
        let mut h = f[14..34].to_vec();
        h[4..6].copy_from_slice(&[0, 0]);
        h[8] -= 1;
        h[10..12].copy_from_slice(&[0, 0]);
        h[12..16].copy_from_slice(&translated.0);
        h[16..20].copy_from_slice(&translated.1);
        let s = fold(sum16(&h));
        let id = 0xffff - s;
        f[18..20].copy_from_slice(&id.to_be_bytes());
        fix_ipv4_checksum(&mut f, 14);
        f
    }
}

/// The forwarded form of the IPv4 packet in `frame` (TTL one less, addresses `src`/`dst`,
/// header and TCP / UDP checksums recomputed, ID and flags kept): what a host behind the
/// router receives, to be quoted in its ICMP errors.
pub fn as_received(frame: &[u8], src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut pkt = ip_packet(frame).to_vec();
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    pkt[8] -= 1;
    pkt[12..16].copy_from_slice(&src);
    pkt[16..20].copy_from_slice(&dst);
    let check_at = match pkt[9] {
        6 => Some(16),
        17 if pkt[ihl + 6..ihl + 8] != [0, 0] => Some(6),
        _ => None,
    };
    if let Some(at) = check_at {
        let l4_len = pkt.len() - ihl;
        pkt[ihl + at..ihl + at + 2].copy_from_slice(&[0, 0]);
        let mut words = Vec::new();
        words.extend_from_slice(&src);
        words.extend_from_slice(&dst);
        words.extend_from_slice(&[0, pkt[9]]);
        words.extend_from_slice(&(l4_len as u16).to_be_bytes());
        words.extend_from_slice(&pkt[ihl..]);
        let mut c = !fold(sum16(&words));
        if c == 0 && pkt[9] == 17 {
            c = 0xffff;
        }
        pkt[ihl + at..ihl + at + 2].copy_from_slice(&c.to_be_bytes());
    }
    let mut framed = vec![0u8; 14];
    framed.extend_from_slice(&pkt);
    fix_ipv4_checksum(&mut framed, 14);
    framed.split_off(14)
}

/// The first `n` bytes of a quoted packet past its IP header (an ICMP error's quote).
pub fn quote(packet: &[u8], n: usize) -> Vec<u8> {
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    packet[..(ihl + n).min(packet.len())].to_vec()
}

/// The full corpus of the scenarios with Neutron's rules: every kind of frame, with
/// [`FIP1`] → [`VM1`] as the floating IP.
pub fn standard() -> Corpus {
    let mut c = Corpus::new();
    let ip = Ip::default();
    let fin = Class::FipIn(FIP1);
    let fout = Class::FipOut(FIP1);
    let k = Class::Kernel;

    // ---- TCP through the floating IP, both ways, and routed east-west ------------------
    c.tcp_conversation(
        "tcp server -> floating IP",
        (H_SERVER, FIP1, fin),
        (H_VM1, SERVER, fout),
        (40001, 22),
        false,
    );
    c.outward(true);
    c.tcp_conversation(
        "tcp vm1 -> server",
        (H_VM1, SERVER, fout),
        (H_SERVER, FIP1, fin),
        (33001, 80),
        false,
    );
    c.tcp_conversation(
        "tcp vm2 (no floating IP) -> server",
        (H_VM2, SERVER, k),
        (H_SERVER, ROUTER_QG, k),
        (33002, 80),
        false,
    );
    c.outward(false);
    c.tcp_conversation(
        "tcp vm2 -> vm3 (east-west)",
        (H_VM2, VM3, Class::Route),
        (H_VM3, VM2, Class::Route),
        (33003, 8080),
        false,
    );
    c.tcp_conversation(
        "tcp wan host -> floating IP, padded ACKs",
        (H_WAN_HOST, FIP1, fin),
        (H_VM1, WAN_HOST, fout),
        (40002, 443),
        true,
    );

    // ---- UDP ---------------------------------------------------------------------------
    let f = c.udp(H_VM1, SERVER, (5001, 53), b"udp query with checksum", ip);
    c.push_outward(Port::Qr, "udp vm1 -> server", f, fout);
    let f = c.udp(H_SERVER, FIP1, (53, 5001), b"udp answer with checksum", ip);
    c.push(Port::Qg, "udp server -> floating IP", f, fin);
    let mut f = c.udp(H_VM1, SERVER, (5002, 53), b"udp query without checksum", ip);
    f[40..42].copy_from_slice(&[0, 0]);
    c.push_outward(Port::Qr, "udp vm1 -> server, no checksum", f, fout);
    let mut f = c.udp(
        H_SERVER,
        FIP1,
        (53, 5002),
        b"udp answer without checksum",
        ip,
    );
    f[40..42].copy_from_slice(&[0, 0]);
    c.push(Port::Qg, "udp server -> floating IP, no checksum", f, fin);
    let f = c.udp_translated_checksum_zero(H_VM1, SERVER, (5003, 53), (FIP1, SERVER));
    c.push_outward(
        Port::Qr,
        "udp vm1 -> server, translated checksum 0",
        f,
        fout,
    );
    let f = c.udp_translated_checksum_zero(H_SERVER, FIP1, (53, 5003), (SERVER, VM1));
    c.push(
        Port::Qg,
        "udp server -> floating IP, translated checksum 0",
        f,
        fin,
    );
    // A checksum of 0xffff (a computed 0, as every sender writes it).
    let f = c.udp_translated_checksum_zero(H_VM1, SERVER, (5004, 53), (VM1, SERVER));
    c.push_outward(Port::Qr, "udp vm1 -> server, checksum 0xffff", f, fout);
    let f = c.udp_forwarded_header_checksum_zero(H_SERVER, FIP1, (53, 5004), (SERVER, VM1));
    c.push(
        Port::Qg,
        "udp server -> floating IP, forwarded header checksum 0",
        f,
        fin,
    );
    let f = c.udp_forwarded_header_checksum_zero(H_VM1, SERVER, (5005, 53), (FIP1, SERVER));
    c.push_outward(
        Port::Qr,
        "udp vm1 -> server, forwarded header checksum 0",
        f,
        fout,
    );
    let f = padded(c.udp(H_SERVER, FIP1, (53, 5001), b"pad", ip));
    c.push(
        Port::Qg,
        "udp server -> floating IP, padded to 60 bytes",
        f,
        fin,
    );
    let f = padded(c.udp(H_VM1, SERVER, (5001, 53), b"pad", ip));
    c.push_outward(Port::Qr, "udp vm1 -> server, padded to 60 bytes", f, fout);
    let f = c.udp(
        H_WAN_HOST,
        FIP1,
        (6000, 6001),
        b"udp from an on-link host",
        ip,
    );
    c.push(Port::Qg, "udp wan host -> floating IP", f, fin);
    let f = c.udp(H_VM1, WAN_HOST, (6001, 6000), b"udp to an on-link host", ip);
    c.push(Port::Qr, "udp vm1 -> wan host", f, fout);
    let f = c.udp(
        H_VM2,
        SERVER,
        (5006, 53),
        b"udp from a VM without floating IP",
        ip,
    );
    c.push_outward(Port::Qr, "udp vm2 -> server (default SNAT)", f, k);
    let f = c.udp(
        H_SERVER,
        ROUTER_QG,
        (53, 5006),
        b"udp answer to the router's address",
        ip,
    );
    c.push_outward(Port::Qg, "udp server -> router (answer to vm2)", f, k);
    let f = c.udp(
        H_VM3,
        VM1,
        (7001, 7002),
        b"udp east-west to the VM with a floating IP",
        ip,
    );
    c.push(Port::Qr2, "udp vm3 -> vm1 (east-west)", f, Class::Route);
    let f = c.udp(
        H_VM1,
        VM3,
        (7002, 7001),
        b"udp east-west from the VM with a floating IP",
        ip,
    );
    c.push(Port::Qr, "udp vm1 -> vm3 (east-west)", f, Class::Route);
    let f = c.udp(
        H_VM2,
        FIP1,
        (7003, 7004),
        b"udp hairpin to a floating IP",
        ip,
    );
    c.push_outward(Port::Qr, "udp vm2 -> floating IP (hairpin)", f, k);
    let f = c.udp(
        H_SERVER,
        VM1,
        (53, 7005),
        b"udp to a fixed IP from outside",
        ip,
    );
    c.push(Port::Qg, "udp server -> vm1's fixed IP", f, k);

    // ---- ICMP echo -----------------------------------------------------------------------
    let f = c.echo(H_SERVER, FIP1, true, 0x4201, 1, ip);
    c.push(Port::Qg, "ping server -> floating IP", f, fin);
    let f = c.echo(H_VM1, SERVER, false, 0x4201, 1, ip);
    c.push(Port::Qr, "pong vm1 -> server", f, fout);
    let f = c.echo(H_VM1, SERVER, true, 0x4202, 1, ip);
    c.push_outward(Port::Qr, "ping vm1 -> server", f, fout);
    let f = c.echo(H_SERVER, FIP1, false, 0x4202, 1, ip);
    c.push_outward(Port::Qg, "pong server -> floating IP", f, fin);
    let f = c.icmp(H_SERVER, FIP1, (13, 0, [0x42, 0x03, 0, 1]), &[0; 12], ip);
    c.push(Port::Qg, "icmp timestamp request -> floating IP", f, fin);
    let f = c.icmp(H_VM1, SERVER, (14, 0, [0x42, 0x03, 0, 1]), &[0; 12], ip);
    c.push(Port::Qr, "icmp timestamp reply vm1 -> server", f, fout);
    let f = c.icmp(
        H_SERVER,
        FIP1,
        (8, 1, [0x42, 0x04, 0, 1]),
        b"echo with code 1",
        ip,
    );
    c.push(Port::Qg, "ping with code 1 -> floating IP", f, k);
    let f = c.echo(H_VM2, VM3, true, 0x4205, 1, ip);
    c.push(Port::Qr, "ping vm2 -> vm3", f, Class::Route);
    let f = c.echo(H_VM3, VM2, false, 0x4205, 1, ip);
    c.push(Port::Qr2, "pong vm3 -> vm2", f, Class::Route);

    // ---- ICMP errors about traffic the fast path carried (translated with the packet they
    // quote, as conntrack does for an error related to a connection) ----------------------
    // The server answers a datagram of vm1 with port unreachable.
    let dgram = c.udp(H_VM1, SERVER, (5010, 9), b"to a closed port", ip);
    c.push_outward(
        Port::Qr,
        "udp vm1 -> server closed port",
        dgram.clone(),
        fout,
    );
    let quoted = as_received(&dgram, FIP1, SERVER);
    let f = c.icmp(H_SERVER, FIP1, (3, 3, [0; 4]), &quoted, ip);
    c.push(
        Port::Qg,
        "port unreachable server -> floating IP (about vm1's datagram)",
        f,
        fin,
    );
    // A traceroute probe of vm1 expires at the external gateway.
    let probe = c.udp(
        H_VM1,
        SERVER,
        (5011, 33434),
        b"traceroute probe",
        Ip { ttl: 2, df: false },
    );
    c.push_outward(
        Port::Qr,
        "udp vm1 -> server ttl 2 (traceroute probe)",
        probe.clone(),
        fout,
    );
    let quoted = as_received(&probe, FIP1, SERVER);
    let f = c.icmp(H_EXT_GW, FIP1, (11, 0, [0; 4]), &quoted, ip);
    c.push(
        Port::Qg,
        "time exceeded gateway -> floating IP (about vm1's probe)",
        f,
        fin,
    );
    // vm1 answers a datagram from outside with port unreachable.
    let dgram = c.udp(H_SERVER, FIP1, (5012, 9), b"to vm1's closed port", ip);
    c.push(
        Port::Qg,
        "udp server -> floating IP closed port",
        dgram.clone(),
        fin,
    );
    let quoted = as_received(&dgram, SERVER, VM1);
    let f = c.icmp(H_VM1, SERVER, (3, 3, [0; 4]), &quoted, ip);
    c.push(
        Port::Qr,
        "port unreachable vm1 -> server (about the server's datagram)",
        f,
        fout,
    );
    // The same, from a router that quotes only 8 bytes past the IP header (RFC 792).
    let probe = c.udp(
        H_VM1,
        SERVER,
        (5014, 33435),
        b"traceroute probe",
        Ip { ttl: 2, df: false },
    );
    c.push_outward(
        Port::Qr,
        "udp vm1 -> server ttl 2 (second probe)",
        probe.clone(),
        fout,
    );
    let quoted = quote(&as_received(&probe, FIP1, SERVER), 8);
    let f = c.icmp(H_EXT_GW, FIP1, (11, 0, [0; 4]), &quoted, ip);
    c.push(
        Port::Qg,
        "time exceeded gateway -> floating IP quoting 8 bytes",
        f,
        fin,
    );
    // Path MTU discovery: a hop beyond the gateway needs smaller packets than vm1's TCP
    // segments (of the connection above), quoting the segment whole and cut after 8 bytes.
    let seg = c.tcp(
        H_VM1,
        SERVER,
        (33001, 80),
        0x1000_80e9 + 101,
        0x7000_0000 + 61,
        ACK,
        &[b'T'; 1300],
        ip,
    );
    let quoted = quote(&as_received(&seg, FIP1, SERVER), 548);
    let f = c.icmp(H_EXT_GW, FIP1, (3, 4, [0, 0, 0x05, 0x78]), &quoted, ip);
    c.push(
        Port::Qg,
        "frag needed gateway -> floating IP about vm1's TCP segment",
        f,
        fin,
    );
    let quoted = quote(&as_received(&seg, FIP1, SERVER), 8);
    let f = c.icmp(H_EXT_GW, FIP1, (3, 4, [0, 0, 0x05, 0x78]), &quoted, ip);
    c.push(
        Port::Qg,
        "frag needed quoting 8 bytes of vm1's TCP segment",
        f,
        fin,
    );

    // ---- ICMP errors the router sends itself ---------------------------------------------
    let f = c.udp(
        H_VM1,
        SERVER,
        (5001, 53),
        b"ttl 1 in an established flow",
        Ip { ttl: 1, df: true },
    );
    c.push_outward(Port::Qr, "udp vm1 -> server ttl 1 (established flow)", f, k);
    let f = c.udp(
        H_SERVER,
        FIP1,
        (53, 5001),
        b"ttl 1 in an established flow",
        Ip { ttl: 1, df: true },
    );
    c.push(
        Port::Qg,
        "udp server -> floating IP ttl 1 (established flow)",
        f,
        k,
    );
    let f = c.udp(
        H_SERVER,
        FIP1,
        (53, 5020),
        b"ttl 1, new flow",
        Ip { ttl: 1, df: true },
    );
    c.push(Port::Qg, "udp server -> floating IP ttl 1 (new flow)", f, k);
    let f = c.udp(
        H_VM1,
        SERVER,
        (5001, 53),
        b"ttl 2 in an established flow",
        Ip { ttl: 2, df: true },
    );
    c.push_outward(Port::Qr, "udp vm1 -> server ttl 2", f, fout);
    let f = c.udp(
        H_SERVER,
        FIP1,
        (53, 5001),
        b"ttl 2 in an established flow",
        Ip { ttl: 2, df: true },
    );
    c.push(Port::Qg, "udp server -> floating IP ttl 2", f, fin);
    let f = c.udp(
        H_VM2,
        VM3,
        (7010, 7011),
        b"ttl 1 east-west",
        Ip { ttl: 1, df: true },
    );
    c.push(Port::Qr, "udp vm2 -> vm3 ttl 1", f, k);
    let f = c.udp(
        H_SERVER,
        ROUTER_QG,
        (5021, 9999),
        b"to a closed port of the router",
        ip,
    );
    c.push(Port::Qg, "udp server -> router closed port", f, k);
    // Larger than the internal MTU (1450): with DF the router answers "fragmentation
    // needed", without it the router fragments.
    let big = vec![b'M'; 1452];
    let f = c.udp(H_SERVER, FIP1, (53, 5001), &big, Ip { ttl: 64, df: true });
    c.push(
        Port::Qg,
        "udp server -> floating IP 1480 bytes DF (established flow)",
        f,
        k,
    );
    let f = c.udp(H_SERVER, FIP1, (53, 5022), &big, Ip { ttl: 64, df: true });
    c.push(
        Port::Qg,
        "udp server -> floating IP 1480 bytes DF (new flow)",
        f,
        k,
    );
    let f = c.udp(H_SERVER, FIP1, (53, 5001), &big, Ip { ttl: 64, df: false });
    c.push(
        Port::Qg,
        "udp server -> floating IP 1480 bytes, may fragment",
        f,
        k,
    );

    // ---- fragments, options, VLAN tags ----------------------------------------------------
    let f = c.udp(
        H_VM1,
        SERVER,
        (5001, 53),
        &[b'F'; 1000],
        Ip { ttl: 64, df: false },
    );
    for (i, piece) in fragment(&f, 400).into_iter().enumerate() {
        c.push_outward(
            Port::Qr,
            format!("udp vm1 -> server fragment {i}"),
            piece,
            k,
        );
    }
    let f = c.icmp(
        H_SERVER,
        FIP1,
        (8, 0, [0x42, 0x10, 0, 1]),
        &[b'P'; 1000],
        Ip { ttl: 64, df: false },
    );
    for (i, piece) in fragment(&f, 512).into_iter().enumerate() {
        c.push(
            Port::Qg,
            format!("ping server -> floating IP fragment {i}"),
            piece,
            k,
        );
    }
    let f = c.icmp(
        H_VM1,
        SERVER,
        (0, 0, [0x42, 0x10, 0, 1]),
        &[b'P'; 1000],
        Ip { ttl: 64, df: false },
    );
    for (i, piece) in fragment(&f, 512).into_iter().enumerate() {
        c.push(
            Port::Qr,
            format!("pong vm1 -> server fragment {i}"),
            piece,
            k,
        );
    }
    let f = c.udp(
        H_VM2,
        VM3,
        (7020, 7021),
        &[b'E'; 800],
        Ip { ttl: 64, df: false },
    );
    for (i, piece) in fragment(&f, 400).into_iter().enumerate() {
        c.push(Port::Qr, format!("udp vm2 -> vm3 fragment {i}"), piece, k);
    }
    // Record route (the router writes its address into it) and a plain NOP padding.
    let f = c.udp(H_VM1, SERVER, (5001, 53), b"record route", ip);
    let f = with_ipv4_options(&f, &[7, 7, 4, 0, 0, 0, 0, 0]);
    c.push_outward(Port::Qr, "udp vm1 -> server with record route", f, k);
    let f = c.udp(H_SERVER, FIP1, (53, 5001), b"nop options", ip);
    let f = with_ipv4_options(&f, &[1, 1, 1, 0]);
    c.push(Port::Qg, "udp server -> floating IP with options", f, k);
    let f = c.udp(H_VM2, VM3, (7022, 7023), b"options east-west", ip);
    let f = with_ipv4_options(&f, &[1, 1, 1, 0]);
    c.push(Port::Qr, "udp vm2 -> vm3 with options", f, k);
    let f = c.udp(H_VM1, SERVER, (5001, 53), b"vlan tagged", ip);
    c.push(
        Port::Qr,
        "udp vm1 -> server, VLAN 100",
        with_vlan(&f, 0x8100, 100),
        k,
    );
    let f = c.udp(H_SERVER, FIP1, (53, 5001), b"vlan tagged", ip);
    c.push(
        Port::Qg,
        "udp server -> floating IP, VLAN 100",
        with_vlan(&f, 0x8100, 100),
        k,
    );

    // ---- to the router itself, the metadata service, broadcast, multicast ------------------
    let f = c.echo(H_VM1, ROUTER_QR, true, 0x4220, 1, ip);
    c.push(Port::Qr, "ping vm1 -> gateway 10.0.10.1", f, k);
    let f = c.echo(H_SERVER, ROUTER_QG, true, 0x4221, 1, ip);
    c.push(Port::Qg, "ping server -> router 203.0.113.10", f, k);
    let f = c.echo(H_VM1, ROUTER_QG, true, 0x4222, 1, ip);
    c.push(Port::Qr, "ping vm1 -> router 203.0.113.10", f, k);
    let f = c.tcp(
        H_SERVER,
        ROUTER_QG,
        (40010, 22),
        0x5000_0000,
        0,
        SYN,
        &[],
        ip,
    );
    c.push(Port::Qg, "tcp SYN server -> router closed port", f, k);
    let f = c.tcp(H_VM1, METADATA, (33010, 80), 0x5100_0000, 0, SYN, &[], ip);
    c.push(Port::Qr, "tcp SYN vm1 -> metadata 169.254.169.254:80", f, k);
    let f = c.udp(
        H_VM1,
        METADATA,
        (33011, 80),
        b"udp to the metadata address",
        ip,
    );
    c.push_outward(Port::Qr, "udp vm1 -> metadata address", f, fout);
    let mut f = c.udp(
        H_VM1,
        [255, 255, 255, 255],
        (68, 67),
        b"limited broadcast",
        ip,
    );
    f[..6].copy_from_slice(&[0xff; 6]);
    c.push(Port::Qr, "udp vm1 -> 255.255.255.255", f, k);
    let mut f = c.udp(
        H_VM1,
        [10, 0, 10, 255],
        (5030, 5030),
        b"subnet broadcast",
        ip,
    );
    f[..6].copy_from_slice(&[0xff; 6]);
    c.push(Port::Qr, "udp vm1 -> 10.0.10.255", f, k);
    let f = c.udp(
        H_VM2,
        [10, 0, 20, 255],
        (5031, 5031),
        b"directed broadcast",
        ip,
    );
    c.push(
        Port::Qr,
        "udp vm2 -> 10.0.20.255 (directed broadcast)",
        f,
        k,
    );
    let mut f = c.udp(
        H_VM1,
        [224, 0, 0, 251],
        (5353, 5353),
        b"mdns",
        Ip {
            ttl: 255,
            df: false,
        },
    );
    f[..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]);
    c.push(Port::Qr, "udp vm1 -> 224.0.0.251", f, k);
    let mut f = c.udp(H_VM1, [239, 1, 2, 3], (5040, 5040), b"multicast", ip);
    f[..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]);
    c.push(Port::Qr, "udp vm1 -> 239.1.2.3", f, k);
    let mut f = c.udp(
        H_SERVER,
        [203, 0, 113, 255],
        (5041, 5041),
        b"external broadcast",
        ip,
    );
    f[..6].copy_from_slice(&[0xff; 6]);
    c.push(Port::Qg, "udp server -> 203.0.113.255", f, k);
    // Unicast IP in an L2 broadcast, and in a frame for another host: not routed.
    let mut f = c.udp(H_VM1, SERVER, (5001, 53), b"unicast in broadcast", ip);
    f[..6].copy_from_slice(&[0xff; 6]);
    c.push(Port::Qr, "udp vm1 -> server in an L2 broadcast", f, k);
    let mut f = c.udp(H_VM2, VM3, (7030, 7031), b"for another host", ip);
    f[..6].copy_from_slice(&VM1_MAC);
    c.push(Port::Qr, "udp vm2 -> vm3 addressed to vm1's MAC", f, k);
    // Sources the kernel drops or may route back.
    let mut f = c.udp(H_VM2, VM3, (7032, 7033), b"martian source", ip);
    f[26..30].copy_from_slice(&[127, 0, 0, 1]);
    let f = c.udp_fix(f);
    c.push(Port::Qr, "udp 127.0.0.1 -> vm3 (martian)", f, k);
    let mut f = c.udp(H_VM2, VM3, (7034, 7035), b"spoofed source", ip);
    f[26..30].copy_from_slice(&[192, 0, 2, 99]);
    let f = c.udp_fix(f);
    c.push(Port::Qr, "udp 192.0.2.99 (spoofed) -> vm3", f, Class::Route);
    c
}

impl Corpus {
    /// Recomputes the UDP checksum (after addresses were edited) and the header checksum.
    pub fn udp_fix(&mut self, mut f: Vec<u8>) -> Vec<u8> {
        fix_ipv4_checksum(&mut f, 14);
        let ihl = usize::from(f[14] & 0x0f) * 4;
        let l4 = 14 + ihl;
        let len = u16::from_be_bytes([f[l4 + 4], f[l4 + 5]]);
        f[l4 + 6..l4 + 8].copy_from_slice(&[0, 0]);
        let mut words = Vec::new();
        words.extend_from_slice(&f[26..34]);
        words.extend_from_slice(&[0, 17]);
        words.extend_from_slice(&len.to_be_bytes());
        words.extend_from_slice(&f[l4..l4 + usize::from(len)]);
        let mut c = !fold(sum16(&words));
        if c == 0 {
            c = 0xffff;
        }
        f[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
        f
    }
}

/// A little traffic through [`FIP1`] both ways (a new UDP exchange on ports `base`, `base+1`
/// and a ping), for corpora that change something else meanwhile.
fn fip1_traffic(c: &mut Corpus, base: u16, what: &str) {
    let ip = Ip::default();
    let f = c.udp(
        H_SERVER,
        FIP1,
        (base, base + 1),
        b"floating IP 1 keeps going",
        ip,
    );
    c.push(
        Port::Qg,
        format!("{what}: udp server -> floating IP 1"),
        f,
        Class::FipIn(FIP1),
    );
    let f = c.udp(
        H_VM1,
        SERVER,
        (base + 1, base),
        b"floating IP 1 keeps going",
        ip,
    );
    c.push(
        Port::Qr,
        format!("{what}: udp vm1 -> server"),
        f,
        Class::FipOut(FIP1),
    );
    let f = c.echo(H_SERVER, FIP1, true, base, 1, ip);
    c.push(
        Port::Qg,
        format!("{what}: ping server -> floating IP 1"),
        f,
        Class::FipIn(FIP1),
    );
    let f = c.echo(H_VM1, SERVER, false, base, 1, ip);
    c.push(
        Port::Qr,
        format!("{what}: pong vm1 -> server"),
        f,
        Class::FipOut(FIP1),
    );
}

/// vm2's traffic before, while and after it has floating IP [`FIP2`], which is added and
/// removed at the same point in both twins as Neutron does on a router update (NAT rules,
/// then the virtual address), while [`FIP1`]'s traffic goes on throughout. Each phase uses
/// connections of its own: Neutron's L3 agent deletes the conntrack entries of a floating IP
/// it removes, the harness does not.
pub fn fip_change() -> Corpus {
    let mut c = Corpus::new();
    let ip = Ip::default();
    let (k, fin2, fout2) = (Class::Kernel, Class::FipIn(FIP2), Class::FipOut(FIP2));

    fip1_traffic(&mut c, 8000, "before");
    // vm2 opens nothing before its floating IP exists: a connection through the default SNAT
    // would hold the new floating IP back (see `fip_added_under_a_connection`).

    c.change("add floating IP 203.0.113.22 -> 10.0.10.6", |r| {
        r.set_fips(&[(FIP1, VM1), (FIP2, VM2)]);
        if r.fast_path {
            r.wait_fastpath("forwarding 203.0.113.22", |fp| fip_is_fast(fp, FIP2));
        }
    });
    fip1_traffic(&mut c, 8010, "with floating IP 2");
    c.tcp_conversation(
        "with floating IP 2: tcp server -> floating IP 2",
        (H_SERVER, FIP2, fin2),
        (H_VM2, SERVER, fout2),
        (40201, 22),
        false,
    );
    let f = c.udp(H_VM2, SERVER, (5202, 53), b"vm2 with floating IP", ip);
    c.push(Port::Qr, "with floating IP 2: udp vm2 -> server", f, fout2);
    let f = c.udp(H_SERVER, FIP2, (53, 5202), b"answer to floating IP 2", ip);
    c.push(
        Port::Qg,
        "with floating IP 2: udp server -> floating IP 2",
        f,
        fin2,
    );
    let f = c.echo(H_VM2, SERVER, true, 0x4401, 1, ip);
    c.push(Port::Qr, "with floating IP 2: ping vm2 -> server", f, fout2);
    let f = c.echo(H_SERVER, FIP2, false, 0x4401, 1, ip);
    c.push(
        Port::Qg,
        "with floating IP 2: pong server -> floating IP 2",
        f,
        fin2,
    );

    c.change("remove floating IP 203.0.113.22", |r| {
        r.set_fips(&[(FIP1, VM1)]);
        if r.fast_path {
            r.wait_fastpath("forgetting 203.0.113.22", |fp| !fip_is_fast(fp, FIP2));
        }
    });
    fip1_traffic(&mut c, 8020, "after");
    let f = c.udp(
        H_VM2,
        SERVER,
        (5203, 53),
        b"vm2 without floating IP again",
        ip,
    );
    c.push(Port::Qr, "after: udp vm2 -> server (default SNAT)", f, k);
    let f = c.udp(
        H_SERVER,
        ROUTER_QG,
        (53, 5203),
        b"answer through the router's address",
        ip,
    );
    c.push(
        Port::Qg,
        "after: udp server -> router (answer to vm2)",
        f,
        k,
    );
    c
}

/// A UDP flow vm2 opened through the router's default source NAT, going on after vm2 got
/// floating IP [`FIP2`]: the kernel keeps translating an existing connection as it started
/// (Neutron deletes conntrack entries when it removes a floating IP, not when it adds one).
pub fn fip_added_under_a_connection() -> Corpus {
    let mut c = Corpus::new();
    let ip = Ip::default();
    let f = c.udp(H_VM2, SERVER, (5301, 53), b"before", ip);
    c.push(Port::Qr, "before: udp vm2 -> server", f, Class::Kernel);
    c.change("add floating IP 203.0.113.22 -> 10.0.10.6", |r| {
        r.set_fips(&[(FIP1, VM1), (FIP2, VM2)]);
        if r.fast_path {
            // The flow above holds the floating IP back: conntrack still translates it to the
            // gateway address, and so must every later packet of it.
            r.wait_fastpath("203.0.113.22 held back on the kernel path", |fp| {
                fip_is_held_back(fp, FIP2)
            });
        }
    });
    let f = c.udp(
        H_VM2,
        SERVER,
        (5301, 53),
        b"same flow, floating IP added",
        ip,
    );
    c.push(
        Port::Qr,
        "with floating IP 2: udp vm2 -> server, same flow",
        f,
        Class::Kernel,
    );
    let f = c.udp(
        H_SERVER,
        ROUTER_QG,
        (53, 5301),
        b"answer in the same flow",
        ip,
    );
    c.push(
        Port::Qg,
        "with floating IP 2: udp server -> router, same flow",
        f,
        Class::Kernel,
    );
    c
}

/// Packets to the floating IP that belong to no connection: TCP segments of no connection,
/// an echo reply to no request, an ICMP error about a datagram nobody sent. The kernel does
/// not translate what conntrack finds invalid or unrelated.
pub fn strays() -> Corpus {
    let mut c = Corpus::new();
    let ip = Ip::default();
    let fin = Class::FipIn(FIP1);
    for (what, flags) in [
        ("SYN-ACK", SYN | ACK),
        ("FIN-ACK", FIN | ACK),
        ("RST", RST),
        ("RST-ACK", RST | ACK),
    ] {
        let f = c.tcp(
            H_SERVER,
            FIP1,
            (41000, 2222),
            0x6000_0000,
            0x6100_0000,
            flags,
            &[],
            ip,
        );
        c.push(
            Port::Qg,
            format!("stray {what} server -> floating IP"),
            f,
            fin,
        );
    }
    let f = c.echo(H_SERVER, FIP1, false, 0x4299, 9, ip);
    c.push(Port::Qg, "stray echo reply server -> floating IP", f, fin);
    let ghost = c.udp(H_VM1, SERVER, (5013, 9), b"never sent", ip);
    let quoted = as_received(&ghost, FIP1, SERVER);
    let f = c.icmp(H_SERVER, FIP1, (3, 3, [0; 4]), &quoted, ip);
    c.push(
        Port::Qg,
        "port unreachable server -> floating IP about nothing vm1 sent",
        f,
        fin,
    );
    let f = c.tcp(
        H_VM1,
        SERVER,
        (33050, 80),
        0x6200_0000,
        0x6300_0000,
        SYN | ACK,
        &[],
        ip,
    );
    c.push(
        Port::Qr,
        "stray SYN-ACK vm1 -> server",
        f,
        Class::FipOut(FIP1),
    );
    c
}

/// Damaged packets of fast-path classes: wrong IPv4 header, UDP, TCP or ICMP checksums. The
/// kernel drops a bad IPv4 header; conntrack marks a bad transport checksum invalid (with
/// `nf_conntrack_checksum`, on by default), so NAT leaves such packets alone.
pub fn damaged() -> Corpus {
    let mut c = Corpus::new();
    let ip = Ip::default();
    let (fin, fout) = (Class::FipIn(FIP1), Class::FipOut(FIP1));
    let spoil = |f: &mut Vec<u8>, at: usize| f[at] ^= 0x5a;
    let mut f = c.udp(H_SERVER, FIP1, (53, 5101), b"bad ip header checksum", ip);
    spoil(&mut f, 24);
    c.push(
        Port::Qg,
        "udp server -> floating IP, bad IP header checksum",
        f,
        fin,
    );
    let mut f = c.udp(H_VM1, SERVER, (5102, 53), b"bad ip header checksum", ip);
    spoil(&mut f, 24);
    c.push(
        Port::Qr,
        "udp vm1 -> server, bad IP header checksum",
        f,
        fout,
    );
    let mut f = c.udp(H_VM2, VM3, (7101, 7102), b"bad ip header checksum", ip);
    spoil(&mut f, 24);
    c.push(
        Port::Qr,
        "udp vm2 -> vm3, bad IP header checksum",
        f,
        Class::Route,
    );
    let mut f = c.udp(H_SERVER, FIP1, (53, 5103), b"bad udp checksum", ip);
    spoil(&mut f, 40);
    c.push(
        Port::Qg,
        "udp server -> floating IP, bad UDP checksum",
        f,
        fin,
    );
    let mut f = c.udp(H_VM1, SERVER, (5104, 53), b"bad udp checksum", ip);
    spoil(&mut f, 40);
    c.push(Port::Qr, "udp vm1 -> server, bad UDP checksum", f, fout);
    let mut f = c.udp(H_VM2, VM3, (7103, 7104), b"bad udp checksum", ip);
    spoil(&mut f, 40);
    c.push(
        Port::Qr,
        "udp vm2 -> vm3, bad UDP checksum",
        f,
        Class::Route,
    );
    let mut f = c.tcp(H_SERVER, FIP1, (41100, 22), 0x6400_0000, 0, SYN, &[], ip);
    spoil(&mut f, 50);
    c.push(
        Port::Qg,
        "tcp SYN server -> floating IP, bad TCP checksum",
        f,
        fin,
    );
    let mut f = c.tcp(H_VM1, SERVER, (33100, 80), 0x6500_0000, 0, SYN, &[], ip);
    spoil(&mut f, 50);
    c.push(Port::Qr, "tcp SYN vm1 -> server, bad TCP checksum", f, fout);
    let mut f = c.echo(H_SERVER, FIP1, true, 0x4301, 1, ip);
    spoil(&mut f, 36);
    c.push(
        Port::Qg,
        "ping server -> floating IP, bad ICMP checksum",
        f,
        fin,
    );
    // An ICMP error with a wrong checksum about a datagram vm1 did send.
    let dgram = c.udp(H_VM1, SERVER, (5105, 9), b"to a closed port", ip);
    c.push(
        Port::Qr,
        "udp vm1 -> server closed port",
        dgram.clone(),
        fout,
    );
    let quoted = as_received(&dgram, FIP1, SERVER);
    let mut f = c.icmp(H_SERVER, FIP1, (3, 3, [0; 4]), &quoted, ip);
    spoil(&mut f, 36);
    c.push(
        Port::Qg,
        "port unreachable -> floating IP, bad ICMP checksum",
        f,
        fin,
    );
    c
}
