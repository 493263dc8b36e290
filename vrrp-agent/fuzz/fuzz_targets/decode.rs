//! Fuzzes every decoder of the packet codec on the same input: `split_ipv4_packet` then
//! `Advert::decode`, `split_ah_packet` and its authentication with a fixed key, and
//! `Advert::decode` with an `RxMeta` taken from the first input bytes. Besides "never panics"
//! it checks that whatever decodes re-encodes to something that decodes to the same value.
//! (The agent only builds GARP and NA frames; their parsers are the tests'.)
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrp_agent::packet::{
    Advert, AhIpv4, RxMeta, encode_ah_packet, split_ah_packet, split_ipv4_packet,
};

/// Byte 0 chooses: bit 0 IPv6 source, bit 1 IPv6 destination, bit 2 TTL 255 (else byte 1).
/// Then the source and destination addresses (4 or 16 bytes each); the rest is the message.
fn split_meta(data: &[u8]) -> Option<(RxMeta, &[u8])> {
    let (&[select, ttl], rest) = data.split_first_chunk::<2>()?;
    let (src, rest) = take_addr(rest, select & 1 != 0)?;
    let (dst, rest) = take_addr(rest, select & 2 != 0)?;
    let ttl = if select & 4 != 0 { 255 } else { ttl };
    Some((RxMeta { src, dst, ttl }, rest))
}

fn take_addr(data: &[u8], v6: bool) -> Option<(IpAddr, &[u8])> {
    if v6 {
        let (a, rest) = data.split_first_chunk::<16>()?;
        Some((Ipv6Addr::from(*a).into(), rest))
    } else {
        let (a, rest) = data.split_first_chunk::<4>()?;
        Some((Ipv4Addr::from(*a).into(), rest))
    }
}

/// A decoded advert re-encodes for the same addresses and decodes back to itself.
fn check_reencode(advert: &Advert, meta: &RxMeta) {
    if meta.src.is_ipv4() != meta.dst.is_ipv4() {
        return; // no packet has such addresses; encode refuses them
    }
    let vrrp = advert
        .encode(meta.src, meta.dst)
        .expect("a decoded advert encodes");
    assert_eq!(Advert::decode(&vrrp, meta).as_ref(), Ok(advert));
}

/// An AH advert that authenticates re-encodes (with its IP identification) to a packet that
/// authenticates and decodes to the same advert.
fn check_ah(data: &[u8]) {
    let Ok(packet) = split_ah_packet(data) else {
        return;
    };
    let Ok(advert) = packet.decode(b"secret12", false, true) else {
        return;
    };
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (packet.meta().src, packet.meta().dst) else {
        return;
    };
    let id = u16::from_be_bytes([data[4], data[5]]);
    let ip = AhIpv4 {
        src,
        dst,
        id,
        unicast: false,
    };
    let rebuilt = encode_ah_packet(&advert, &ip).expect("a decoded AH advert encodes");
    let again = split_ah_packet(&rebuilt).expect("a rebuilt AH packet splits");
    assert_eq!(again.decode(b"secret12", false, true).as_ref(), Ok(&advert));
}

fuzz_target!(|data: &[u8]| {
    if let Ok((meta, vrrp)) = split_ipv4_packet(data)
        && let Ok(advert) = Advert::decode(vrrp, &meta)
    {
        check_reencode(&advert, &meta);
    }
    check_ah(data);
    if let Some((meta, vrrp)) = split_meta(data)
        && let Ok(advert) = Advert::decode(vrrp, &meta)
    {
        check_reencode(&advert, &meta);
    }
});
