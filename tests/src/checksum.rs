//! Internet checksums (RFC 1071) computed the plain way, over the final bytes of a frame, to
//! check what the XDP program's incremental updates produced. Shares no code with the program:
//! every sum is a full sum of 16-bit words.

/// Ones'-complement sum of `data` as big-endian 16-bit words (an odd last byte padded with 0),
/// folded to 16 bits.
pub fn ones_sum(data: &[u8]) -> u16 {
    let mut sum: u64 = data
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum to store for `data` (whose checksum field is zero).
pub fn checksum(data: &[u8]) -> u16 {
    !ones_sum(data)
}

/// The checksum a TCP or UDP segment should carry: over the IPv4 pseudo-header and the
/// segment with its checksum field (at `check_at`) taken as zero. UDP stores a computed 0 as
/// 0xffff.
pub fn l4_checksum(src: [u8; 4], dst: [u8; 4], proto: u8, segment: &[u8], check_at: usize) -> u16 {
    let mut data = Vec::with_capacity(12 + segment.len());
    data.extend_from_slice(&src);
    data.extend_from_slice(&dst);
    data.extend_from_slice(&[0, proto]);
    data.extend_from_slice(&(segment.len() as u16).to_be_bytes());
    let start = data.len();
    data.extend_from_slice(segment);
    data[start + check_at] = 0;
    data[start + check_at + 1] = 0;
    let c = checksum(&data);
    if proto == 17 && c == 0 { 0xffff } else { c }
}

/// Checks every checksum of an untagged IPv4 frame that holds a whole (unfragmented)
/// packet: the header's, and the TCP / UDP (0 allowed: none) / ICMP one. `Err` says which
/// is wrong and how.
pub fn verify_ipv4_frame(frame: &[u8]) -> Result<(), String> {
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let tot_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ones_sum(&ip[..ihl]) != 0xffff {
        return Err(format!(
            "IPv4 header checksum {:#06x} wrong",
            u16::from_be_bytes([ip[10], ip[11]])
        ));
    }
    let src: [u8; 4] = ip[12..16].try_into().unwrap();
    let dst: [u8; 4] = ip[16..20].try_into().unwrap();
    let segment = &ip[ihl..tot_len];
    let field = |at: usize| u16::from_be_bytes([segment[at], segment[at + 1]]);
    match ip[9] {
        6 => {
            let want = l4_checksum(src, dst, 6, segment, 16);
            (field(16) == want)
                .then_some(())
                .ok_or(format!("TCP checksum {:#06x}, want {want:#06x}", field(16)))
        }
        17 if field(6) == 0 => Ok(()),
        17 => {
            let want = l4_checksum(src, dst, 17, segment, 6);
            (field(6) == want)
                .then_some(())
                .ok_or(format!("UDP checksum {:#06x}, want {want:#06x}", field(6)))
        }
        1 => (ones_sum(segment) == 0xffff)
            .then_some(())
            .ok_or(format!("ICMP checksum {:#06x} wrong", field(2))),
        _ => Ok(()),
    }
}
