//! Wire constants the XDP program needs (and the agent's tests reuse). Pure constants.

/// IANA protocol number of VRRP (IPv4 protocol / IPv6 next header).
pub const IPPROTO_VRRP: u8 = 112;
/// IANA protocol number of the IPsec Authentication Header, in which keepalived's
/// `auth_type AH` sends VRRPv2 (next header 112).
pub const IPPROTO_AH: u8 = 51;
/// Length of that AH header (a 96-bit HMAC-MD5 ICV), and its payload length field (the
/// header in 32-bit words, minus 2).
pub const AH_HEADER_LEN: usize = 24;
pub const AH_PAYLOAD_LEN_ICV96: u8 = 4;
/// Length of the fixed VRRP header (version/type .. checksum), both v2 and v3.
pub const VRRP_HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data that follows the address list.
pub const VRRP_V2_AUTH_LEN: usize = 8;
/// VRRP packet type "advertisement", the only type defined by RFC 3768 / RFC 5798.
pub const VRRP_TYPE_ADVERT: u8 = 1;
/// The longest VRRP message (the IP payload of an advert) whose checksum the XDP program
/// verifies: 63 IPv6 addresses or 254 IPv4 ones fit. Longer adverts pass unverified.
pub const MAX_VERIFIED_VRRP_LEN: usize = 1024;
/// EtherType values (host order).
pub const ETH_P_IPV4: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;
pub const ETH_P_ARP: u16 = 0x0806;
/// IP protocol numbers the data plane looks at.
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 neighbour solicitation (RFC 4861): type, and its length up to the end of the
/// target address (type, code, checksum, reserved, target).
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
pub const ND_NS_LEN: usize = 24;
/// ICMPv6 neighbour advertisement (RFC 4861).
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
/// ARP for IPv4 over Ethernet (RFC 826): hardware type, the fixed header length, operations.
pub const ARP_HTYPE_ETHERNET: u16 = 1;
pub const ARP_LEN: usize = 28;
pub const ARP_OP_REQUEST: u16 = 1;
pub const ARP_OP_REPLY: u16 = 2;
/// Header lengths.
pub const ETH_HLEN: usize = 14;
pub const VLAN_HLEN: usize = 4;
pub const IPV4_MIN_HLEN: usize = 20;
pub const IPV6_HLEN: usize = 40;
