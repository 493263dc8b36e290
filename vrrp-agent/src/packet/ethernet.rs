//! The Ethernet II header in front of the takeover frames (gratuitous ARP, unsolicited
//! neighbour advertisement): writing it.
//! Depends on nothing.

/// Length of an untagged Ethernet II header.
pub const ETH_HEADER_LEN: usize = 14;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The broadcast MAC address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// The virtual router MAC address of RFC 9568 §7.3: `00:00:5e:00:01:VRID` for IPv4,
/// `00:00:5e:00:02:VRID` for IPv6 (keepalived's `use_vmac` gives its macvlan this address).
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// The fields of an Ethernet II header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct EthHeader {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ethertype: u16,
}

impl EthHeader {
    /// Appends the 14 header bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.dst);
        out.extend_from_slice(&self.src);
        out.extend_from_slice(&self.ethertype.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_macs_follow_rfc_9568_section_7_3() {
        assert_eq!(virtual_mac(1, false), [0, 0, 0x5e, 0, 1, 1]);
        assert_eq!(virtual_mac(255, false), [0, 0, 0x5e, 0, 1, 0xff]);
        assert_eq!(virtual_mac(7, true), [0, 0, 0x5e, 0, 2, 7]);
    }
}
