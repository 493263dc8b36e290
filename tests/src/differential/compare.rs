//! Running a corpus through both twins and comparing what leaves each port.
//!
//! **Comparison.** Per port, the *sequence* of frames each twin sent must be byte-identical.
//! A sequence, not a multiset: frames are injected one at a time with a pause between them
//! longer than either path takes, and each injected frame makes a router send at most a few
//! frames on one port, in an order fixed by the code path (fragments in offset order, an
//! error after nothing else), so neither twin has a reason to reorder.
//!
//! **Normalisations** (all in [`NORMALISATIONS`], applied to both twins' frames alike, and
//! only to frames the router originated itself, never to forwarded ones):
//!
//! * `router-ip-id`: the IP ID, and with it the header checksum, of IPv4 packets the router
//!   originates: their source is one of the router's addresses (its ports' addresses or a
//!   floating IP: the kernel's NAT gives its own ICMP errors about floating-IP traffic the
//!   floating IP as source) and their IP ID is none of those of the frames injected at that
//!   step and the [`LATE_STEPS`] before (forwarding keeps the ID; this is what tells a
//!   translated, forwarded packet from the floating IP apart from one the router wrote). The kernel draws the ID of a packet
//!   without DF that it originates (ICMP errors, echo replies) from `ip_idents`, indexed by
//!   a keyed hash of the addresses, the protocol and the namespace, so two namespaces pick
//!   different IDs for the same packet. The header checksum must be right before both fields
//!   are blanked, so a wrong checksum still shows as a difference. A forwarded frame whose ID
//!   one twin changed is still caught: the other twin's frame keeps the injected ID, which is
//!   not blanked.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    ops::Range,
    time::{Duration, Instant},
};

use etherparse::{Ethernet2Header, Icmpv4Header, Ipv4Header, TcpHeader, UdpHeader};

use super::{
    corpus::{Corpus, FastCounts, Step},
    twin::{FIP1, FIP2, Port, ROUTER_ADDRESSES, Twins},
    wire::Captured,
};

/// One normalisation of frames the router originated.
pub struct Normalisation {
    pub name: &'static str,
    pub reason: &'static str,
    /// Normalises the frame in place (given the IP IDs of the frames injected at the step it
    /// is attributed to and the [`LATE_STEPS`] before); false if it does not apply.
    pub apply: fn(&mut [u8], &[u16]) -> bool,
}

/// How many steps late a forwarded frame may be attributed (a loaded machine may delay one
/// past the next injection) and still be recognised by its IP ID.
pub const LATE_STEPS: usize = 2;

/// Every normalisation the comparison makes (see the module documentation).
pub const NORMALISATIONS: &[Normalisation] = &[Normalisation {
    name: "router-ip-id",
    reason: "the kernel picks the IP ID of packets without DF that it originates from a \
             per-namespace keyed hash (ip_idents): two namespaces choose different IDs for the \
             same ICMP error or echo reply",
    apply: router_ip_id,
}];

fn ipv4_checksum_ok(header: &[u8]) -> bool {
    let mut sum = 0u32;
    for c in header.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// The sources of packets the router originates: its ports' addresses and the floating IPs.
fn router_source(a: [u8; 4]) -> bool {
    ROUTER_ADDRESSES.contains(&a) || a == FIP1 || a == FIP2
}

/// `router-ip-id`: blanks the IP ID and header checksum of an untagged IPv4 packet from one
/// of the router's addresses, with an IP ID none of the `injected` frames had and a right
/// header checksum.
fn router_ip_id(frame: &mut [u8], injected: &[u16]) -> bool {
    if frame.len() < 34 || frame[12..14] != [0x08, 0x00] || frame[14] >> 4 != 4 {
        return false;
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    if ihl < 20 || frame.len() < 14 + ihl {
        return false;
    }
    let src = [frame[26], frame[27], frame[28], frame[29]];
    let id = u16::from_be_bytes([frame[18], frame[19]]);
    if !router_source(src) || injected.contains(&id) || !ipv4_checksum_ok(&frame[14..14 + ihl]) {
        return false;
    }
    frame[18..20].copy_from_slice(&[0, 0]);
    frame[24..26].copy_from_slice(&[0, 0]);
    true
}

/// The IP ID of an untagged IPv4 frame.
fn ip_id(frame: &[u8]) -> Option<u16> {
    (frame.len() >= 34 && frame[12..14] == [0x08, 0x00])
        .then(|| u16::from_be_bytes([frame[18], frame[19]]))
}

/// Counter snapshots around one section of a corpus (the frames between two changes).
#[derive(Clone, Debug)]
pub struct Section {
    pub steps: Range<usize>,
    /// (before, after) for the fast twin and the kernel twin.
    pub fast: (BTreeMap<String, u64>, BTreeMap<String, u64>),
    pub kernel: (BTreeMap<String, u64>, BTreeMap<String, u64>),
}

impl Section {
    /// How much counter `name` moved in the fast (`fast`) or kernel twin.
    pub fn delta(&self, fast: bool, name: &str) -> u64 {
        let (a, b) = if fast { &self.fast } else { &self.kernel };
        b.get(name).copied().unwrap_or(0) - a.get(name).copied().unwrap_or(0)
    }
}

/// What a corpus run captured.
pub struct Run {
    pub labels: Vec<String>,
    /// The IP ID of the frame injected at each step.
    pub injected_ids: Vec<Option<u16>>,
    pub fast: BTreeMap<Port, Vec<Captured>>,
    pub kernel: BTreeMap<Port, Vec<Captured>>,
    pub sections: Vec<Section>,
    pub took: Duration,
}

/// Pause after each injected frame (the kernel may queue).
pub const PAUSE: Duration = Duration::from_millis(12);
/// How long capture goes on after the last frame.
pub const TAIL: Duration = Duration::from_millis(400);

impl Twins {
    /// Injects `corpus` into both twins, frame by frame (the same frame into both, then the
    /// pause), applies its changes to both at the same point, and collects what every port
    /// sent and the counters around each section.
    pub fn run(&self, corpus: &Corpus) -> Run {
        let start = Instant::now();
        let counters = || (self.fast.counters(), self.kernel.counters());
        let mut sections = Vec::new();
        let mut section_start = 0;
        let mut before = counters();
        for (i, step) in corpus.steps.iter().enumerate() {
            match step {
                Step::Frame(f) => {
                    for r in self.both() {
                        r.set_step(i);
                        r.tap(f.port).send(&f.bytes);
                    }
                    std::thread::sleep(PAUSE);
                }
                Step::Change(c) => {
                    std::thread::sleep(TAIL);
                    let after = counters();
                    sections.push(Section {
                        steps: section_start..i,
                        fast: (before.0, after.0),
                        kernel: (before.1, after.1),
                    });
                    for r in self.both() {
                        r.set_step(i);
                    }
                    self.each(|r| (c.apply)(r));
                    section_start = i + 1;
                    before = counters();
                }
            }
        }
        std::thread::sleep(TAIL);
        let after = counters();
        sections.push(Section {
            steps: section_start..corpus.steps.len(),
            fast: (before.0, after.0),
            kernel: (before.1, after.1),
        });
        Run {
            labels: corpus.steps.iter().map(|s| s.label().to_string()).collect(),
            injected_ids: corpus
                .steps
                .iter()
                .map(|s| match s {
                    Step::Frame(f) => ip_id(&f.bytes),
                    Step::Change(_) => None,
                })
                .collect(),
            fast: self.fast.take(),
            kernel: self.kernel.take(),
            sections,
            took: start.elapsed(),
        }
    }
}

impl Run {
    /// A captured frame as compared: normalised, with the names of the normalisations applied.
    fn normalised(&self, c: &Captured) -> (Vec<u8>, Vec<&'static str>) {
        let injected: Vec<u16> = (c.step.saturating_sub(LATE_STEPS)..=c.step)
            .filter_map(|i| self.injected_ids.get(i).copied().flatten())
            .collect();
        let mut f = c.frame.clone();
        let applied = NORMALISATIONS
            .iter()
            .filter(|n| (n.apply)(&mut f, &injected))
            .map(|n| n.name)
            .collect();
        (f, applied)
    }

    /// A report of every port whose frame sequences differ, or `None` if all are identical.
    pub fn differences(&self) -> Option<String> {
        let mut out = String::new();
        for port in Port::ALL {
            let empty = Vec::new();
            let fast = self.fast.get(&port).unwrap_or(&empty);
            let kernel = self.kernel.get(&port).unwrap_or(&empty);
            let f: Vec<Vec<u8>> = fast.iter().map(|c| self.normalised(c).0).collect();
            let k: Vec<Vec<u8>> = kernel.iter().map(|c| self.normalised(c).0).collect();
            if f == k {
                continue;
            }
            let _ = writeln!(
                out,
                "==== port {} ({}): the fast twin sent {} frames, the kernel twin {}",
                port.ifname(),
                port_name(port),
                fast.len(),
                kernel.len()
            );
            self.explain(&mut out, fast, kernel);
        }
        (!out.is_empty()).then_some(out)
    }

    /// Panics with the differences, if any.
    pub fn assert_identical(&self) {
        if let Some(d) = self.differences() {
            panic!(
                "the twins sent different frames (normalisations applied: {}):\n{d}",
                NORMALISATIONS
                    .iter()
                    .map(|n| n.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }

    /// Checks that in section `i` the fast twin's counters moved exactly by `expected` (and
    /// nothing was refused for want of an XDP-capable egress), and that the kernel twin
    /// forwarded and translated nothing itself.
    pub fn assert_fast_counts(&self, i: usize, expected: FastCounts) {
        let s = &self.sections[i];
        let got = FastCounts {
            redirected: s.delta(true, "redirected"),
            nat_in: s.delta(true, "nat_in"),
            nat_out: s.delta(true, "nat_out"),
        };
        assert_eq!(
            got, expected,
            "section {i} (steps {:?}): the fast path carried {got:?}, the corpus says {expected:?}; \
             fast twin counters before {:?} after {:?}",
            s.steps, s.fast.0, s.fast.1
        );
        assert_eq!(
            s.delta(true, "egress_no_xdp"),
            0,
            "fast twin: egress without XDP"
        );
        for c in ["redirected", "nat_in", "nat_out"] {
            assert_eq!(s.delta(false, c), 0, "the kernel twin's program moved {c}");
        }
        // Neither program may have dropped traffic of its own router (a lease that ran out on
        // a loaded machine would make the twins differ for a reason that is not the fast path).
        for fast in [true, false] {
            for c in ["not_owned_dropped", "lease_expired_dropped"] {
                assert_eq!(s.delta(fast, c), 0, "{c} moved (fast twin: {fast})");
            }
        }
    }

    /// Frames compared per port (fast twin) and how many were normalised.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for port in Port::ALL {
            let frames = self.fast.get(&port).map(Vec::as_slice).unwrap_or(&[]);
            let normalised_n = frames
                .iter()
                .filter(|c| !self.normalised(c).1.is_empty())
                .count();
            let _ = write!(
                s,
                "{}: {} frames ({} normalised); ",
                port_name(port),
                frames.len(),
                normalised_n
            );
        }
        let _ = write!(s, "{} steps in {:?}", self.labels.len(), self.took);
        s
    }

    /// Which frames the normalisations changed (fast twin), per port, with the step that caused
    /// each: to check that only frames the router wrote itself were touched.
    pub fn normalised_frames(&self) -> String {
        let mut s = String::new();
        for port in Port::ALL {
            for c in self.fast.get(&port).map(Vec::as_slice).unwrap_or(&[]) {
                let applied = self.normalised(c).1;
                if !applied.is_empty() {
                    let label = self.labels.get(c.step).map(String::as_str).unwrap_or("?");
                    let _ = writeln!(
                        s,
                        "  {} after `{label}` ({}): {}",
                        port.ifname(),
                        applied.join(", "),
                        describe(&c.frame)
                    );
                }
            }
        }
        s
    }

    /// Groups both sequences by the step that caused them and prints the steps whose frames
    /// differ, decoded and in hex.
    fn explain(&self, out: &mut String, fast: &[Captured], kernel: &[Captured]) {
        let mut by_step: BTreeMap<usize, (Vec<&Captured>, Vec<&Captured>)> = BTreeMap::new();
        for c in fast {
            by_step.entry(c.step).or_default().0.push(c);
        }
        for c in kernel {
            by_step.entry(c.step).or_default().1.push(c);
        }
        let mut shown = 0;
        for (step, (f, k)) in by_step {
            let fn_: Vec<_> = f.iter().map(|c| self.normalised(c).0).collect();
            let kn: Vec<_> = k.iter().map(|c| self.normalised(c).0).collect();
            if fn_ == kn {
                continue;
            }
            shown += 1;
            if shown > 12 {
                let _ = writeln!(out, "  ... (more steps differ)");
                break;
            }
            let label = self.labels.get(step).map(String::as_str).unwrap_or("?");
            let _ = writeln!(out, "--- after step {step} `{label}`:");
            for (twin, frames) in [("fast", &f), ("kernel", &k)] {
                if frames.is_empty() {
                    let _ = writeln!(out, "  {twin}: nothing");
                }
                for c in frames.iter() {
                    let _ = writeln!(out, "  {twin}: {}", describe(&c.frame));
                    let _ = writeln!(out, "{}", hex(&c.frame));
                }
            }
        }
    }
}

fn port_name(port: Port) -> &'static str {
    match port {
        Port::Qr => "qr, internal 10.0.10.0/24",
        Port::Qr2 => "qr2, internal 10.0.20.0/24",
        Port::Qg => "qg, external",
    }
}

/// Hex dump, 16 bytes a line.
pub fn hex(frame: &[u8]) -> String {
    frame
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            format!(
                "    {:04x}  {}",
                i * 16,
                c.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn a4(a: [u8; 4]) -> std::net::Ipv4Addr {
    a.into()
}

/// One line describing a frame, decoded with etherparse: Ethernet, VLAN, IPv4 (ID, flags,
/// TTL, checksum, options), TCP / UDP / ICMP, and the packet an ICMP error quotes.
pub fn describe(frame: &[u8]) -> String {
    let mut s = format!("{} bytes", frame.len());
    let Ok((eth, mut rest)) = Ethernet2Header::from_slice(frame) else {
        return s + " (no Ethernet header)";
    };
    let mac = |m: [u8; 6]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let _ = write!(s, ", {} -> {}", mac(eth.source), mac(eth.destination));
    let mut ether_type = eth.ether_type.0;
    if ether_type == 0x8100 && rest.len() >= 4 {
        let _ = write!(
            s,
            ", vlan {}",
            u16::from_be_bytes([rest[0], rest[1]]) & 0xfff
        );
        ether_type = u16::from_be_bytes([rest[2], rest[3]]);
        rest = &rest[4..];
    }
    if ether_type != 0x0800 {
        let _ = write!(s, ", ethertype {ether_type:#06x}");
        return s;
    }
    let _ = write!(s, ", {}", describe_ip(rest, 0));
    let total = usize::from(u16::from_be_bytes([
        *rest.get(2).unwrap_or(&0),
        *rest.get(3).unwrap_or(&0),
    ]));
    if rest.len() > total {
        let _ = write!(s, ", {} bytes after the IP packet", rest.len() - total);
    }
    s
}

fn describe_ip(packet: &[u8], depth: usize) -> String {
    let Ok((ip, payload)) = Ipv4Header::from_slice(packet) else {
        return format!("IPv4 (unparsable, {} bytes)", packet.len());
    };
    let mut s = format!(
        "IPv4 {} -> {} id {:#06x}{}{} frag {} ttl {} tos {:#04x} csum {:#06x}",
        a4(ip.source),
        a4(ip.destination),
        ip.identification,
        if ip.dont_fragment { " DF" } else { "" },
        if ip.more_fragments { " MF" } else { "" },
        ip.fragment_offset.value(),
        ip.time_to_live,
        (ip.dscp.value() << 2) | ip.ecn.value(),
        ip.header_checksum,
    );
    if !ip.options.is_empty() {
        let _ = write!(s, " options {:02x?}", ip.options.as_slice());
    }
    if ip.fragment_offset.value() != 0 {
        let _ = write!(s, ", fragment of {} bytes", payload.len());
        return s;
    }
    let payload = &payload[..payload
        .len()
        .min(usize::from(ip.total_len).saturating_sub(ip.header_len()))];
    match ip.protocol.0 {
        6 => match TcpHeader::from_slice(payload) {
            Ok((t, data)) => {
                let flags: String = [
                    (t.syn, 'S'),
                    (t.ack, 'A'),
                    (t.fin, 'F'),
                    (t.rst, 'R'),
                    (t.psh, 'P'),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, c)| *c)
                .collect();
                let _ = write!(
                    s,
                    ", TCP {} -> {} [{flags}] seq {:#x} ack {:#x} win {} csum {:#06x} data {}",
                    t.source_port,
                    t.destination_port,
                    t.sequence_number,
                    t.acknowledgment_number,
                    t.window_size,
                    t.checksum,
                    data.len()
                );
            }
            Err(_) => {
                let _ = write!(s, ", TCP (truncated, {} bytes)", payload.len());
            }
        },
        17 => match UdpHeader::from_slice(payload) {
            Ok((u, data)) => {
                let _ = write!(
                    s,
                    ", UDP {} -> {} len {} csum {:#06x} data {}",
                    u.source_port,
                    u.destination_port,
                    u.length,
                    u.checksum,
                    data.len()
                );
            }
            Err(_) => {
                let _ = write!(s, ", UDP (truncated, {} bytes)", payload.len());
            }
        },
        1 => match Icmpv4Header::from_slice(payload) {
            Ok((h, data)) => {
                let b = h.to_bytes();
                let _ = write!(
                    s,
                    ", ICMP type {} code {} csum {:#06x} rest {:02x?}",
                    b[0],
                    b[1],
                    h.checksum,
                    &b[4..8]
                );
                if matches!(b[0], 3 | 4 | 5 | 11 | 12) && depth == 0 {
                    let _ = write!(s, ", quoting [{}]", describe_ip(data, depth + 1));
                }
            }
            Err(_) => {
                let _ = write!(s, ", ICMP (truncated)");
            }
        },
        p => {
            let _ = write!(s, ", protocol {p}");
        }
    }
    s
}
