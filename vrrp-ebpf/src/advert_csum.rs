//! The VRRP checksum of an advert, verified in the program: VRRPv2 over the message
//! (RFC 3768 §5.3.8), VRRPv3 over IPv6 with the IPv6 pseudo-header, VRRPv3 over IPv4 in
//! either form that is deployed (RFC 9568 §5.2.8's message-only form, or the pseudo-header
//! form keepalived 2.2 and FRR send by default). Owns a per-CPU scratch buffer; sums with the
//! kernel's `bpf_csum_diff` and `csum::fold`.
//!
//! No loop and no branch on the length: the message is copied into the scratch buffer with
//! one `bpf_xdp_load_bytes`, padded with zeros to a multiple of four, and summed in two
//! `bpf_csum_diff` calls of variable size. (A loop over the frame made the verifier follow
//! every way out of it through the rest of the program: twelve times the instructions.)

use aya_ebpf::{
    helpers::{bpf_csum_diff, bpf_xdp_load_bytes},
    macros::map,
    maps::PerCpuArray,
    programs::XdpContext,
};
use vrrp_ebpf_common::{counters::Family, proto::MAX_VERIFIED_VRRP_LEN};

use crate::{adverts::Advert, csum::fold};

/// Half of what is verified: `bpf_csum_diff` sums at most 512 bytes a call.
const HALF: usize = MAX_VERIFIED_VRRP_LEN / 2;
const _: () = assert!(HALF == 512 && MAX_VERIFIED_VRRP_LEN.is_multiple_of(4));

/// The message being verified and zero padding after it. Twice the verified length (and a
/// little), so that every index and size the verifier can derive from the masked length lies
/// inside it.
#[repr(C, align(8))]
pub struct Scratch {
    bytes: [u8; SCRATCH_LEN],
}

const SCRATCH_LEN: usize = MAX_VERIFIED_VRRP_LEN * 2 + 8;

/// Private to each program instance (not pinned, not shared): one buffer per CPU.
#[map]
static VRRP_CSUM_SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// What the checksum says.
pub enum Check {
    Valid,
    Invalid,
    /// Longer than the program verifies.
    Unverified,
}

#[inline(always)]
fn word(hi: u8, lo: u8) -> u32 {
    (u32::from(hi) << 8) | u32::from(lo)
}

/// The one's-complement sum (folded, of big-endian 16-bit words, an odd last byte padded with
/// zero) of the `len` bytes at `offset` (at least the 8-byte header: the parser checked);
/// `None` if longer than [`MAX_VERIFIED_VRRP_LEN`].
///
/// The helper sums native-endian words; a one's-complement sum of byte-swapped words is the
/// byte-swapped sum (RFC 1071 §2(B)), so its folded result is swapped back.
#[inline(always)]
fn sum_message(ctx: &XdpContext, offset: usize, len: usize) -> Option<u16> {
    if len > MAX_VERIFIED_VRRP_LEN {
        return None;
    }
    let scratch = VRRP_CSUM_SCRATCH.get_ptr_mut(0)?;
    // SAFETY: a pointer from a per-CPU array lookup is valid for this CPU's value while the
    // program runs, and nothing else uses it meanwhile (XDP does not nest on a CPU).
    let buf = unsafe { &mut (*scratch).bytes };
    // SAFETY: copies `len` (1 to 1024) bytes of the frame from `offset`, which the parser
    // checked to lie inside it, into the buffer of 2056 bytes.
    let r =
        unsafe { bpf_xdp_load_bytes(ctx.ctx, offset as u32, buf.as_mut_ptr().cast(), len as u32) };
    if r != 0 {
        return None;
    }
    let padded = (len + 3) & !3 & (MAX_VERIFIED_VRRP_LEN * 2 - 1);
    let first = if padded > HALF { HALF } else { padded };
    let second = (padded - first) & (MAX_VERIFIED_VRRP_LEN - 4);
    let base = buf.as_mut_ptr();
    // SAFETY: zeros up to the next multiple of four after the message (they add nothing, and
    // pad an odd last byte), at most 2050 bytes into the 2056-byte buffer; then the helper
    // reads `first` (at most 512) bytes at the start of the buffer and `second` (at most
    // 1020, both multiples of four) from byte 512: all inside it. The sizes are always
    // valid, so the helper cannot fail.
    let sum = unsafe {
        base.add(len & (MAX_VERIFIED_VRRP_LEN * 2 - 1))
            .cast::<[u8; 3]>()
            .write_unaligned([0; 3]);
        let a = bpf_csum_diff(core::ptr::null_mut(), 0, base.cast(), first as u32, 0);
        bpf_csum_diff(
            core::ptr::null_mut(),
            0,
            base.add(HALF).cast(),
            second as u32,
            a as u32,
        )
    };
    Some(fold(sum as u32).swap_bytes())
}

/// The sum of the pseudo-header (source, destination, length, next header 112) of `advert`.
#[inline(always)]
fn pseudo_header(advert: &Advert, len: usize) -> u32 {
    let n = match advert.family {
        Family::Ipv4 => 4,
        Family::Ipv6 => 16,
    };
    let mut sum = 112 + len as u32;
    let mut i = 0;
    while i < n {
        sum += word(advert.src[i], advert.src[i + 1]) + word(advert.dst[i], advert.dst[i + 1]);
        i += 2;
    }
    sum
}

/// Verifies the checksum of `advert`'s VRRP message (inside `adverts::check`, one copy).
#[inline(always)]
pub fn check(ctx: &XdpContext, advert: &Advert) -> Check {
    let len = advert.vrrp.len;
    let Some(message) = sum_message(ctx, advert.vrrp.offset, len) else {
        return Check::Unverified;
    };
    let message = u32::from(message);
    let valid = |sum: u32| fold(sum) == 0xffff;
    let ok = match (advert.vrrp.v3, advert.family) {
        (false, _) => valid(message),
        (true, Family::Ipv6) => valid(message + pseudo_header(advert, len)),
        (true, Family::Ipv4) => valid(message + pseudo_header(advert, len)) || valid(message),
    };
    if ok { Check::Valid } else { Check::Invalid }
}
