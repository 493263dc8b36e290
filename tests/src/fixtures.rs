//! The keepalived 2.2.7 captures in `tests/fixtures/keepalived/` (the one list of them, with
//! each capture's kind, is `captures.rs` there, included here), and an independent
//! classification of each frame by `etherparse` to compare the XDP program against.

use etherparse::{NetSlice, SlicedPacket};

#[path = "../fixtures/keepalived/captures.rs"]
pub mod captures;
pub use captures::{CAPTURES, Capture, CaptureKind, capture, one_per_kind};

/// What etherparse says a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A VRRP packet, also inside an IPsec AH header (etherparse reads AH as an IPv4
    /// extension header): (VRID, version, is IPv6).
    Advert { vrid: u8, version: u8, ipv6: bool },
    /// Anything else (ARP, neighbour advertisements, ...).
    Other,
}

/// Every frame of capture `name`, in order (see [`Capture::frames`]).
pub fn frames(name: &str) -> Vec<Vec<u8>> {
    capture(name).frames()
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
