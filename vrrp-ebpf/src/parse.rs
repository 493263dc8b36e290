//! Bounds-checked walk over Ethernet (optionally one 802.1Q / 802.1ad tag) → IPv4 (any header
//! length) / IPv6 → VRRP header. Every read is preceded by a check against `data_end` that the
//! verifier can follow. Pure classification: no maps, no side effects.

use aya_ebpf::programs::XdpContext;
use network_types::{eth::EthHdr, ip::Ipv4Hdr, ip::Ipv6Hdr, vlan::VlanHdr};
use vrrp_ebpf_common::{
    counters::{Family, Stat},
    proto::{
        ETH_P_8021AD, ETH_P_8021Q, ETH_P_IPV4, ETH_P_IPV6, IPPROTO_VRRP, VRRP_HEADER_LEN,
        VRRP_TYPE_ADVERT, VRRP_V2_AUTH_LEN,
    },
};

/// What a frame is, as far as this program cares.
#[derive(Clone, Copy)]
pub enum Frame {
    /// Well-formed, not VRRP.
    NotVrrp,
    /// A well-formed VRRP advertisement.
    Advert { vrid: u8, v3: bool, family: Family },
    /// Malformed; the kind says where parsing failed.
    Malformed(Stat),
}

/// The fixed 8-byte VRRP header (v2 and v3 share its layout up to the meaning of bytes 4-5).
#[repr(C)]
struct VrrpHdr {
    version_type: u8,
    vrid: u8,
    priority: u8,
    count: u8,
    /// v3: reserved(4) + max advert interval(12); v2: auth type, advert interval.
    _interval: [u8; 2],
    _checksum: [u8; 2],
}

const _: () = assert!(core::mem::size_of::<VrrpHdr>() == VRRP_HEADER_LEN);

/// `(data, data_end)` read with volatile loads.
///
/// Each bounds check must re-read the frame limits: otherwise LLVM proves a later pointer
/// check redundant from earlier integer length checks and deletes it, and the verifier, which
/// only trusts explicit pointer-vs-`data_end` comparisons, rejects the access.
#[inline(always)]
fn limits(ctx: &XdpContext) -> (usize, usize) {
    // SAFETY: `ctx.ctx` is the `xdp_md` the kernel passed to the program; reading its fields
    // is always allowed.
    unsafe {
        (
            core::ptr::read_volatile(&(*ctx.ctx).data) as usize,
            core::ptr::read_volatile(&(*ctx.ctx).data_end) as usize,
        )
    }
}

/// Pointer to a `T` at `offset` bytes into the frame, if the whole `T` lies inside it.
#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Option<*const T> {
    let (start, end) = limits(ctx);
    if start + offset + core::mem::size_of::<T>() > end {
        return None;
    }
    Some((start + offset) as *const T)
}

/// Classifies one frame.
#[inline(always)]
pub fn classify(ctx: &XdpContext) -> Frame {
    let (start, end) = limits(ctx);
    let frame_len = end - start;
    let Some(eth) = ptr_at::<EthHdr>(ctx, 0) else {
        return Frame::Malformed(Stat::MalformedL2);
    };
    // SAFETY: `ptr_at` checked that the whole header lies inside the frame.
    let mut ether_type = u16::from_be(unsafe { (*eth).ether_type });
    let mut l3 = EthHdr::LEN;
    if ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD {
        let Some(vlan) = ptr_at::<VlanHdr>(ctx, l3) else {
            return Frame::Malformed(Stat::MalformedL2);
        };
        // SAFETY: `ptr_at` checked that the whole tag lies inside the frame.
        ether_type = u16::from_be(unsafe { (*vlan).ether_type });
        l3 += VlanHdr::LEN;
    }
    match ether_type {
        ETH_P_IPV4 => ipv4(ctx, l3, frame_len),
        ETH_P_IPV6 => ipv6(ctx, l3, frame_len),
        _ => Frame::NotVrrp,
    }
}

#[inline(always)]
fn ipv4(ctx: &XdpContext, l3: usize, frame_len: usize) -> Frame {
    let Some(ip) = ptr_at::<Ipv4Hdr>(ctx, l3) else {
        return Frame::Malformed(Stat::MalformedL3);
    };
    // SAFETY: `ptr_at` checked that the whole fixed header lies inside the frame.
    let (vihl, tot_len, frags, proto) = unsafe {
        (
            (*ip).vihl,
            u16::from_be_bytes((*ip).tot_len) as usize,
            u16::from_be_bytes((*ip).frags),
            (*ip).proto,
        )
    };
    let ihl = ((vihl & 0x0f) as usize) << 2;
    if vihl >> 4 != 4 || ihl < Ipv4Hdr::LEN || tot_len < ihl || l3 + tot_len > frame_len {
        return Frame::Malformed(Stat::MalformedL3);
    }
    if proto != IPPROTO_VRRP {
        return Frame::NotVrrp;
    }
    if frags & 0x3fff != 0 {
        // More-fragments flag or a non-zero offset.
        return Frame::Malformed(Stat::MalformedVrrpFragment);
    }
    vrrp(ctx, l3 + ihl, tot_len - ihl, Family::Ipv4)
}

#[inline(always)]
fn ipv6(ctx: &XdpContext, l3: usize, frame_len: usize) -> Frame {
    let Some(ip) = ptr_at::<Ipv6Hdr>(ctx, l3) else {
        return Frame::Malformed(Stat::MalformedL3);
    };
    // SAFETY: `ptr_at` checked that the whole header lies inside the frame.
    let (version, payload_len, next_hdr) = unsafe {
        (
            (*ip).vcf[0] >> 4,
            u16::from_be_bytes((*ip).payload_len) as usize,
            (*ip).next_hdr,
        )
    };
    if version != 6 || l3 + Ipv6Hdr::LEN + payload_len > frame_len {
        return Frame::Malformed(Stat::MalformedL3);
    }
    if next_hdr != IPPROTO_VRRP {
        return Frame::NotVrrp;
    }
    vrrp(ctx, l3 + Ipv6Hdr::LEN, payload_len, Family::Ipv6)
}

/// `payload_len` is what the IP header says the VRRP packet occupies (already checked to lie
/// inside the frame).
#[inline(always)]
fn vrrp(ctx: &XdpContext, offset: usize, payload_len: usize, family: Family) -> Frame {
    if payload_len < VRRP_HEADER_LEN {
        return Frame::Malformed(Stat::MalformedVrrpTruncated);
    }
    let Some(hdr) = ptr_at::<VrrpHdr>(ctx, offset) else {
        // Unreachable after the length checks above, but the verifier needs the bound.
        return Frame::Malformed(Stat::MalformedVrrpTruncated);
    };
    // SAFETY: `ptr_at` checked that the whole VRRP header lies inside the frame.
    let (version_type, vrid, count) = unsafe { ((*hdr).version_type, (*hdr).vrid, (*hdr).count) };
    let version = version_type >> 4;
    let v3 = match (version, family) {
        (3, _) => true,
        (2, Family::Ipv4) => false,
        // VRRPv2 (RFC 3768) is defined for IPv4 only.
        _ => return Frame::Malformed(Stat::MalformedVrrpVersion),
    };
    if version_type & 0x0f != VRRP_TYPE_ADVERT {
        return Frame::Malformed(Stat::MalformedVrrpVersion);
    }
    let addr_len = match family {
        Family::Ipv4 => 4,
        Family::Ipv6 => 16,
    };
    let auth_len = if v3 { 0 } else { VRRP_V2_AUTH_LEN };
    if payload_len < VRRP_HEADER_LEN + count as usize * addr_len + auth_len {
        return Frame::Malformed(Stat::MalformedVrrpLength);
    }
    Frame::Advert { vrid, v3, family }
}
