//! Bounds-checked walk over Ethernet (optionally one 802.1Q / 802.1ad tag) → ARP / IPv4 (any
//! header length) / IPv6, and the few upper headers the program reads: the VRRP header (also
//! inside keepalived's IPsec AH, `auth_type AH`), an ICMPv6 neighbour solicitation's
//! target, and whether an IPv6 packet is a neighbour solicitation or advertisement. Every read is preceded by a check against `data_end` that the verifier can
//! follow. Pure parsing: no maps, no side effects, no writes (writers use [`ptr_at_mut`]).

use aya_ebpf::programs::XdpContext;
use network_types::{arp::ArpHdr, eth::EthHdr, ip::Ipv4Hdr, ip::Ipv6Hdr, vlan::VlanHdr};
use vrrp_ebpf_common::{
    counters::{Family, Stat},
    proto::{
        AH_HEADER_LEN, AH_PAYLOAD_LEN_ICV96, ARP_HTYPE_ETHERNET, ARP_LEN, ARP_OP_REPLY,
        ARP_OP_REQUEST, ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP, ETH_P_IPV4, ETH_P_IPV6,
        IPPROTO_ICMPV6, IPPROTO_VRRP, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, ND_NS_LEN,
        VRRP_HEADER_LEN, VRRP_TYPE_ADVERT, VRRP_V2_AUTH_LEN,
    },
};

/// What the link and network layers of a frame are, as far as this program cares.
pub enum L3 {
    /// Malformed; the kind says where parsing failed.
    Malformed(Stat),
    /// Well-formed, neither ARP for IPv4 over Ethernet nor IP.
    Other,
    /// An ARP request or reply for an IPv4 target address.
    Arp {
        target: [u8; 4],
    },
    Ipv4(Ipv4),
    Ipv6(Ipv6),
}

/// The fields of a well-formed IPv4 header (its lengths already checked against the frame).
pub struct Ipv4 {
    /// Offset of the IP header in the frame.
    pub l3: usize,
    /// Header length in bytes (20..=60).
    pub ihl: usize,
    pub tot_len: u16,
    pub tos: u8,
    pub ttl: u8,
    pub proto: u8,
    /// Flags and fragment offset, host order.
    pub frags: u16,
    pub src: [u8; 4],
    pub dst: [u8; 4],
    /// The frame carries a VLAN tag.
    pub tagged: bool,
}

impl Ipv4 {
    /// More-fragments flag or a non-zero fragment offset.
    pub fn is_fragment(&self) -> bool {
        self.frags & 0x3fff != 0
    }

    /// This packet holds the L4 header (not a later fragment).
    pub fn has_l4_header(&self) -> bool {
        self.frags & 0x1fff == 0
    }

    pub fn has_options(&self) -> bool {
        self.ihl > Ipv4Hdr::LEN
    }
}

/// The fields of a well-formed IPv6 header (its payload length checked against the frame).
pub struct Ipv6 {
    pub l3: usize,
    pub payload_len: usize,
    pub next_hdr: u8,
    pub hop_limit: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

/// A well-formed VRRP advertisement header.
pub struct Vrrp {
    pub vrid: u8,
    pub v3: bool,
    /// Where the VRRP message starts in the frame, and its length (the IP payload after any
    /// AH header: what the sender's checksum covers).
    pub offset: usize,
    pub len: usize,
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
const _: () = assert!(core::mem::size_of::<ArpHdr>() == ARP_LEN);

/// The start of an ICMPv6 neighbour solicitation, up to the end of its target address.
#[repr(C)]
struct NsHdr {
    icmp_type: u8,
    code: u8,
    _checksum: [u8; 2],
    _reserved: [u8; 4],
    target: [u8; 16],
}

const _: () = assert!(core::mem::size_of::<NsHdr>() == ND_NS_LEN);

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
pub fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Option<*const T> {
    let (start, end) = limits(ctx);
    if start + offset + core::mem::size_of::<T>() > end {
        return None;
    }
    Some((start + offset) as *const T)
}

/// Writable pointer to a `T` at `offset` bytes into the frame, if the whole `T` lies inside.
#[inline(always)]
pub fn ptr_at_mut<T>(ctx: &XdpContext, offset: usize) -> Option<*mut T> {
    ptr_at::<T>(ctx, offset).map(|p| p as *mut T)
}

/// Parses the link and network headers of one frame.
#[inline(always)]
pub fn headers(ctx: &XdpContext) -> L3 {
    let (start, end) = limits(ctx);
    let frame_len = end - start;
    let Some(eth) = ptr_at::<EthHdr>(ctx, 0) else {
        return L3::Malformed(Stat::MalformedL2);
    };
    // SAFETY: `ptr_at` checked that the whole header lies inside the frame.
    let mut ether_type = u16::from_be(unsafe { (*eth).ether_type });
    let mut l3 = EthHdr::LEN;
    let tagged = ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD;
    if tagged {
        let Some(vlan) = ptr_at::<VlanHdr>(ctx, l3) else {
            return L3::Malformed(Stat::MalformedL2);
        };
        // SAFETY: `ptr_at` checked that the whole tag lies inside the frame.
        ether_type = u16::from_be(unsafe { (*vlan).ether_type });
        l3 += VlanHdr::LEN;
    }
    match ether_type {
        ETH_P_IPV4 => ipv4(ctx, l3, frame_len, tagged),
        ETH_P_IPV6 => ipv6(ctx, l3, frame_len),
        ETH_P_ARP => arp(ctx, l3),
        _ => L3::Other,
    }
}

#[inline(always)]
fn arp(ctx: &XdpContext, l3: usize) -> L3 {
    let Some(arp) = ptr_at::<ArpHdr>(ctx, l3) else {
        return L3::Malformed(Stat::MalformedL3);
    };
    // SAFETY: `ptr_at` checked that the whole ARP header lies inside the frame.
    let (htype, ptype, hlen, plen, oper, target) = unsafe {
        (
            u16::from_be_bytes((*arp).htype),
            u16::from_be_bytes((*arp).ptype),
            (*arp).hlen,
            (*arp).plen,
            u16::from_be_bytes((*arp).oper),
            (*arp).tpa,
        )
    };
    if htype != ARP_HTYPE_ETHERNET || ptype != ETH_P_IPV4 || hlen != 6 || plen != 4 {
        return L3::Other;
    }
    if oper != ARP_OP_REQUEST && oper != ARP_OP_REPLY {
        return L3::Other;
    }
    L3::Arp { target }
}

#[inline(always)]
fn ipv4(ctx: &XdpContext, l3: usize, frame_len: usize, tagged: bool) -> L3 {
    let Some(ip) = ptr_at::<Ipv4Hdr>(ctx, l3) else {
        return L3::Malformed(Stat::MalformedL3);
    };
    // SAFETY: `ptr_at` checked that the whole fixed header lies inside the frame.
    let hdr = unsafe { &*ip };
    let vihl = hdr.vihl;
    let tot_len = u16::from_be_bytes(hdr.tot_len);
    let ihl = ((vihl & 0x0f) as usize) << 2;
    if vihl >> 4 != 4
        || ihl < Ipv4Hdr::LEN
        || (tot_len as usize) < ihl
        || l3 + tot_len as usize > frame_len
    {
        return L3::Malformed(Stat::MalformedL3);
    }
    L3::Ipv4(Ipv4 {
        l3,
        ihl,
        tot_len,
        tos: hdr.tos,
        ttl: hdr.ttl,
        proto: hdr.proto,
        frags: u16::from_be_bytes(hdr.frags),
        src: hdr.src_addr,
        dst: hdr.dst_addr,
        tagged,
    })
}

#[inline(always)]
fn ipv6(ctx: &XdpContext, l3: usize, frame_len: usize) -> L3 {
    let Some(ip) = ptr_at::<Ipv6Hdr>(ctx, l3) else {
        return L3::Malformed(Stat::MalformedL3);
    };
    // SAFETY: `ptr_at` checked that the whole header lies inside the frame.
    let hdr = unsafe { &*ip };
    let payload_len = u16::from_be_bytes(hdr.payload_len) as usize;
    if hdr.vcf[0] >> 4 != 6 || l3 + Ipv6Hdr::LEN + payload_len > frame_len {
        return L3::Malformed(Stat::MalformedL3);
    }
    L3::Ipv6(Ipv6 {
        l3,
        payload_len,
        next_hdr: hdr.next_hdr,
        hop_limit: hdr.hop_limit,
        src: hdr.src_addr,
        dst: hdr.dst_addr,
    })
}

/// The VRRP header of an IPv4 packet with protocol 112.
#[inline(always)]
pub fn vrrp_v4(ctx: &XdpContext, ip: &Ipv4) -> Result<Vrrp, Stat> {
    if ip.is_fragment() {
        return Err(Stat::MalformedVrrpFragment);
    }
    vrrp(
        ctx,
        ip.l3 + ip.ihl,
        ip.tot_len as usize - ip.ihl,
        Family::Ipv4,
    )
}

/// The start of an IPsec AH header: what it protects and its length.
#[repr(C)]
struct AhHdr {
    next_hdr: u8,
    payload_len: u8,
}

/// The VRRP header inside an IPv4 packet with protocol 51 (AH) whose AH header announces
/// VRRP (next header 112): keepalived's `auth_type AH`, a 24-byte AH header (96-bit ICV) and
/// a VRRPv2 message. `None` when it is not an advert: the AH header protects another
/// protocol, or this is a later fragment (nothing to read). The ICV is the agent's to verify.
#[inline(always)]
pub fn vrrp_in_ah_v4(ctx: &XdpContext, ip: &Ipv4) -> Option<Result<Vrrp, Stat>> {
    if !ip.has_l4_header() {
        return None;
    }
    let offset = ip.l3 + ip.ihl;
    let payload_len = ip.tot_len as usize - ip.ihl;
    if payload_len < core::mem::size_of::<AhHdr>() {
        return None;
    }
    let hdr = ptr_at::<AhHdr>(ctx, offset)?;
    // SAFETY: `ptr_at` checked that the two bytes lie inside the frame.
    let (next_hdr, ah_len) = unsafe { ((*hdr).next_hdr, (*hdr).payload_len) };
    if next_hdr != IPPROTO_VRRP {
        return None;
    }
    if ip.is_fragment() {
        return Some(Err(Stat::MalformedVrrpFragment));
    }
    if payload_len < AH_HEADER_LEN {
        return Some(Err(Stat::MalformedVrrpTruncated));
    }
    if ah_len != AH_PAYLOAD_LEN_ICV96 {
        return Some(Err(Stat::MalformedVrrpLength));
    }
    Some(vrrp(
        ctx,
        offset + AH_HEADER_LEN,
        payload_len - AH_HEADER_LEN,
        Family::Ipv4,
    ))
}

/// The VRRP header of an IPv6 packet with next header 112.
#[inline(always)]
pub fn vrrp_v6(ctx: &XdpContext, ip: &Ipv6) -> Result<Vrrp, Stat> {
    vrrp(ctx, ip.l3 + Ipv6Hdr::LEN, ip.payload_len, Family::Ipv6)
}

/// `payload_len` is what the IP header says the VRRP packet occupies (already checked to lie
/// inside the frame).
#[inline(always)]
fn vrrp(ctx: &XdpContext, offset: usize, payload_len: usize, family: Family) -> Result<Vrrp, Stat> {
    if payload_len < VRRP_HEADER_LEN {
        return Err(Stat::MalformedVrrpTruncated);
    }
    let Some(hdr) = ptr_at::<VrrpHdr>(ctx, offset) else {
        // Unreachable after the length checks above, but the verifier needs the bound.
        return Err(Stat::MalformedVrrpTruncated);
    };
    // SAFETY: `ptr_at` checked that the whole VRRP header lies inside the frame.
    let (version_type, vrid, count) = unsafe { ((*hdr).version_type, (*hdr).vrid, (*hdr).count) };
    let version = version_type >> 4;
    let v3 = match (version, family) {
        (3, _) => true,
        (2, Family::Ipv4) => false,
        // VRRPv2 (RFC 3768) is defined for IPv4 only.
        _ => return Err(Stat::MalformedVrrpVersion),
    };
    if version_type & 0x0f != VRRP_TYPE_ADVERT {
        return Err(Stat::MalformedVrrpVersion);
    }
    let addr_len = match family {
        Family::Ipv4 => 4,
        Family::Ipv6 => 16,
    };
    let auth_len = if v3 { 0 } else { VRRP_V2_AUTH_LEN };
    if payload_len < VRRP_HEADER_LEN + count as usize * addr_len + auth_len {
        return Err(Stat::MalformedVrrpLength);
    }
    Ok(Vrrp {
        vrid,
        v3,
        offset,
        len: payload_len,
    })
}

/// The target address of an ICMPv6 neighbour solicitation (the ICMPv6 header right after the
/// IPv6 header; the caller checked the next header), or `None` for any other ICMPv6 message
/// or one too short to hold a target.
#[inline(always)]
pub fn ns_target(ctx: &XdpContext, ip: &Ipv6) -> Option<[u8; 16]> {
    if ip.payload_len < ND_NS_LEN {
        return None;
    }
    let ns = ptr_at::<NsHdr>(ctx, ip.l3 + Ipv6Hdr::LEN)?;
    // SAFETY: `ptr_at` checked that the whole solicitation header lies inside the frame.
    let ns = unsafe { &*ns };
    (ns.icmp_type == ND_NEIGHBOR_SOLICIT && ns.code == 0).then_some(ns.target)
}

/// Whether `ip` is an ICMPv6 neighbour solicitation or advertisement (the ICMPv6 header right
/// after the IPv6 header, code 0). RFC 9568 §6.1: these are never dropped for Accept_Mode.
#[inline(always)]
pub fn is_nd(ctx: &XdpContext, ip: &Ipv6) -> bool {
    if ip.next_hdr != IPPROTO_ICMPV6 || ip.payload_len < 4 {
        return false;
    }
    let Some(icmp) = ptr_at::<[u8; 2]>(ctx, ip.l3 + Ipv6Hdr::LEN) else {
        return false;
    };
    // SAFETY: `ptr_at` checked that both bytes lie inside the frame.
    let [icmp_type, code] = unsafe { *icmp };
    (icmp_type == ND_NEIGHBOR_SOLICIT || icmp_type == ND_NEIGHBOR_ADVERT) && code == 0
}
