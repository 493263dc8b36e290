//! Hostile traffic on an L2 segment: hand-made VRRP frames (any TTL, VRID, checksum, length,
//! version, password or source address) sent as raw Ethernet frames, at a fixed rate, from an
//! attacker namespace of their own attached to the segment. Frames only ever go out of the
//! attacker's port on a bridge the test created.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use vrrp_agent::{
    net::PacketSocket,
    packet::{Advert, Auth, Centisecs, IPPROTO_VRRP, VRRP_GROUP_V4, VRRP_TTL, Version},
};

use crate::{frames::fix_ipv4_checksum, netns::NetNs, topo::Segment};

/// Destination MAC of IPv4 VRRP adverts (224.0.0.18).
pub const VRRP_GROUP_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];

/// An advert to forge. [`Forged::vrrp`] encodes it with a correct checksum;
/// [`Forged::frame`] wraps any VRRP payload in Ethernet and IPv4 headers from `src`.
#[derive(Clone, Debug)]
pub struct Forged {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    pub interval: Centisecs,
    pub addresses: Vec<Ipv4Addr>,
    pub auth: Auth,
    /// IPv4 source address.
    pub src: Ipv4Addr,
    /// IPv4 TTL.
    pub ttl: u8,
}

impl Forged {
    /// A well-formed VRRPv3 advert (TTL 255) that any receiver would act on.
    pub fn v3(vrid: u8, priority: u8, interval: Centisecs, addresses: &[Ipv4Addr]) -> Self {
        Self {
            version: Version::V3,
            vrid,
            priority,
            interval,
            addresses: addresses.to_vec(),
            auth: Auth::None,
            src: Ipv4Addr::UNSPECIFIED,
            ttl: VRRP_TTL,
        }
    }

    /// The same as VRRPv2 with `auth` (the interval must be whole seconds).
    pub fn v2(&self, auth: Auth) -> Self {
        Self {
            version: Version::V2,
            auth,
            ..self.clone()
        }
    }

    pub fn with_src(&self, src: Ipv4Addr) -> Self {
        Self {
            src,
            ..self.clone()
        }
    }

    pub fn with_ttl(&self, ttl: u8) -> Self {
        Self {
            ttl,
            ..self.clone()
        }
    }

    /// The VRRP message with a correct checksum for `src` -> 224.0.0.18.
    pub fn vrrp(&self) -> Vec<u8> {
        Advert {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            interval: self.interval,
            addresses: self.addresses.iter().map(|a| IpAddr::V4(*a)).collect(),
            auth: self.auth,
        }
        .encode(IpAddr::V4(self.src), IpAddr::V4(VRRP_GROUP_V4))
        .expect("encode the forged advert")
    }

    /// `vrrp` (any bytes) as the payload of an IPv4 packet from `src` with `ttl` to the VRRP
    /// group, in an Ethernet frame from `src_mac`. The IP header itself is valid (checksum,
    /// total length), so the receiving kernel and XDP program judge the VRRP part.
    pub fn frame(&self, src_mac: [u8; 6], vrrp: &[u8]) -> Vec<u8> {
        let mut f = VRRP_GROUP_MAC.to_vec();
        f.extend_from_slice(&src_mac);
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        let total = u16::try_from(20 + vrrp.len()).expect("fits an IPv4 packet");
        f.extend_from_slice(&[0x45, 0xc0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]); // id, flags, fragment offset
        f.extend_from_slice(&[self.ttl, IPPROTO_VRRP, 0, 0]);
        f.extend_from_slice(&self.src.octets());
        f.extend_from_slice(&VRRP_GROUP_V4.octets());
        fix_ipv4_checksum(&mut f, 14);
        f.extend_from_slice(vrrp);
        f
    }

    /// The encoded advert in its frame.
    pub fn advert_frame(&self, src_mac: [u8; 6]) -> Vec<u8> {
        self.frame(src_mac, &self.vrrp())
    }
}

/// Flips every bit of the VRRP checksum (bytes 6-7): still well-formed, but the sum fails.
pub fn with_bad_checksum(vrrp: &[u8]) -> Vec<u8> {
    let mut out = vrrp.to_vec();
    out[6] ^= 0xff;
    out[7] ^= 0xff;
    out
}

/// What [`Attacker::flood`] did.
#[derive(Clone, Copy, Debug, Default)]
pub struct FloodReport {
    /// Frames the kernel accepted for sending.
    pub sent: u64,
    /// Frames `sendto` refused (e.g. ENOBUFS); not in `sent`.
    pub refused: u64,
    pub elapsed: Duration,
}

impl FloodReport {
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A namespace with one port (`eth0`, no address) on a segment, sending raw frames.
pub struct Attacker {
    pub ns: NetNs,
    pub mac: [u8; 6],
    /// The attacker's port on the segment's bridge.
    pub port: String,
    socket: PacketSocket,
}

impl Attacker {
    /// Attaches a new namespace to `segment` with `mac` as its port's address.
    pub fn attach(segment: &Segment, mac: [u8; 6]) -> Self {
        let ns = NetNs::new();
        let text = mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        let port = segment.attach(&ns, "eth0", Some(&text));
        let socket =
            vrrp_agent::netns::run_in(Some(ns.name()), || PacketSocket::open_by_name("eth0"))
                .expect("enter the attacker namespace")
                .expect("open a packet socket on eth0");
        Self {
            ns,
            mac,
            port,
            socket,
        }
    }

    /// Sends `frames` round robin at up to `rate` frames per second for `duration` (paced
    /// every millisecond, no burst larger than two milliseconds' worth; a sender that is
    /// not scheduled sends less).
    pub fn flood(&self, frames: &[Vec<u8>], rate: u32, duration: Duration) -> FloodReport {
        assert!(!frames.is_empty() && rate > 0);
        let start = Instant::now();
        let mut report = FloodReport::default();
        let mut next = frames.iter().cycle();
        loop {
            let elapsed = start.elapsed();
            if elapsed >= duration {
                break;
            }
            let due = (elapsed.as_secs_f64() * f64::from(rate)) as u64 + 1;
            // At most two milliseconds' worth at once: a sender that fell behind (not
            // scheduled) does not catch up in one burst, nor overrun `duration`.
            let burst = u64::from(rate / 500).max(1);
            let mut n = 0;
            while report.sent + report.refused < due && n < burst {
                match self.socket.send(next.next().expect("cycle")) {
                    Ok(()) => report.sent += 1,
                    Err(_) => report.refused += 1,
                }
                n += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        report.elapsed = start.elapsed();
        report
    }
}
