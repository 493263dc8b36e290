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
