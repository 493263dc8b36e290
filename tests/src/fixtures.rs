//! The keepalived 2.2.7 captures in `tests/fixtures/keepalived/` (see the README there), and
//! an independent classification of each frame by `etherparse` to compare the XDP program
//! against.

use std::{fs::File, path::PathBuf};

use etherparse::{NetSlice, SlicedPacket};
use pcap_file::pcap::PcapReader;

/// The captures, by file stem.
pub const CAPTURES: [&str; 5] = ["v2-pass", "v3-ipv4", "v3-ipv6", "v3-cs", "v2-ah"];

/// What etherparse says a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A VRRP packet, also inside an IPsec AH header (etherparse reads AH as an IPv4
    /// extension header): (VRID, version, is IPv6).
    Advert { vrid: u8, version: u8, ipv6: bool },
    /// Anything else (ARP, neighbour advertisements, ...).
    Other,
}

/// Folder holding the captures.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/keepalived")
}

/// Every frame of a capture, in order.
pub fn frames(capture: &str) -> Vec<Vec<u8>> {
    let path = dir().join(format!("{capture}.pcap"));
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = PcapReader::new(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            pkt.data.len() as u32,
            pkt.orig_len,
            "{capture}: capture truncated a frame"
        );
        out.push(pkt.data.into_owned());
    }
    assert!(!out.is_empty(), "{capture}: no frames");
    out
}

/// Classifies a frame with etherparse (independent of our own parsers).
pub fn kind(frame: &[u8]) -> Kind {
    let Ok(sliced) = SlicedPacket::from_ethernet(frame) else {
        return Kind::Other;
    };
    let (payload, ipv6) = match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => (v4.payload(), false),
        Some(NetSlice::Ipv6(v6)) => (v6.payload(), true),
        _ => return Kind::Other,
    };
    if payload.ip_number.0 != 112 || payload.payload.len() < 2 {
        return Kind::Other;
    }
    Kind::Advert {
        vrid: payload.payload[1],
        version: payload.payload[0] >> 4,
        ipv6,
    }
}

/// Every advert of a capture.
pub fn adverts(capture: &str) -> Vec<Vec<u8>> {
    frames(capture)
        .into_iter()
        .filter(|f| matches!(kind(f), Kind::Advert { .. }))
        .collect()
}

/// The first advert of a capture.
pub fn first_advert(capture: &str) -> Vec<u8> {
    adverts(capture).swap_remove(0)
}
