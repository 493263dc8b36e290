//! Incremental Internet checksum updates (RFC 1624, eqn. 3: `HC' = ~(~HC + ~m + m')`), for
//! XDP, where the kernel's `bpf_l3/l4_csum_replace` helpers are not available. Pure integer
//! arithmetic on checksum fields read as big-endian `u16`s.
//!
//! Eqn. 3 never produces +0 from a non-zero sum, exactly like a full recomputation, so the
//! result equals what recomputing the checksum over the new bytes would give.

/// One 16-bit big-endian word of a byte pair.
#[inline(always)]
fn word(hi: u8, lo: u8) -> u32 {
    (u32::from(hi) << 8) | u32::from(lo)
}

/// Folds a sum of 16-bit words (below 2^32 - 2^16, so two rounds suffice) into 16 bits with
/// end-around carries.
#[inline(always)]
pub fn fold(sum: u32) -> u16 {
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// The checksum after one 16-bit word changed from `old` to `new`.
#[inline(always)]
pub fn replace2(check: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!check) + u32::from(!old) + u32::from(new))
}

/// The checksum after a 4-byte field (an IPv4 address) changed from `old` to `new`.
#[inline(always)]
pub fn replace4(check: u16, old: [u8; 4], new: [u8; 4]) -> u16 {
    let sum = u32::from(!check)
        + (!word(old[0], old[1]) & 0xffff)
        + (!word(old[2], old[3]) & 0xffff)
        + word(new[0], new[1])
        + word(new[2], new[3]);
    !fold(sum)
}
