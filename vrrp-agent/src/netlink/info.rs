//! What the agent needs to know about an interface and an address, decoded from rtnetlink
//! messages (`RTM_NEWLINK`, `RTM_NEWADDR`, ...), and the choice of a VRRP source address.
//! Pure: imports netlink-packet-route's message types only.

use std::net::IpAddr;

use netlink_packet_route::{
    AddressFamily,
    address::{AddressAttribute, AddressFlags, AddressMessage},
    link::{
        InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo as Info, LinkMessage,
        State,
    },
};

/// One network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// Hardware address, when it is a 6-byte (Ethernet) one.
    pub mac: Option<[u8; 6]>,
    /// `IFF_UP`: administratively up.
    pub admin_up: bool,
    /// The link can carry traffic: `IFF_LOWER_UP`, or operational state up.
    pub carrier: bool,
    pub mtu: u32,
    /// `IFLA_LINK`: the other end of a veth (or the lower device), by index in the namespace
    /// `link_netnsid` names.
    pub link: Option<u32>,
    /// `IFLA_LINK_NETNSID`: the namespace of `link`, as this namespace numbers it (`None`:
    /// this very namespace).
    pub link_netnsid: Option<i32>,
    /// For a macvlan, its mode (`IFLA_MACVLAN_MODE`; `MACVLAN_MODE_PRIVATE` is 1; 0 when the
    /// kernel did not say); `None` for any other kind of link.
    pub macvlan_mode: Option<u32>,
    /// `IFLA_IFALIAS`, the free-text description (`ip link set X alias ...`).
    pub alias: Option<String>,
}

/// `MACVLAN_MODE_PRIVATE`: talks to no other macvlan of its device, and takes a multicast
/// frame whose source is its own MAC for itself alone.
pub const MACVLAN_MODE_PRIVATE: u32 = 1;
/// `MACVLAN_MODE_VEPA`: talks to other macvlans of its device only through the wire.
pub const MACVLAN_MODE_VEPA: u32 = 2;

impl LinkInfo {
    /// Decodes an `RTM_NEWLINK`/`RTM_DELLINK` message (`None` without a name).
    pub fn from_message(message: &LinkMessage) -> Option<Self> {
        let mut name = None;
        let mut mac = None;
        let mut mtu = 0;
        let mut oper_up = false;
        let mut link = None;
        let mut link_netnsid = None;
        let mut macvlan_mode = None;
        let mut alias = None;
        for attribute in &message.attributes {
            match attribute {
                LinkAttribute::LinkInfo(infos) => macvlan_mode = macvlan(infos),
                LinkAttribute::IfAlias(a) => alias = Some(a.clone()),
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::Link(l) => link = Some(*l),
                LinkAttribute::LinkNetNsId(n) => link_netnsid = Some(*n),
                LinkAttribute::Address(bytes) => mac = <[u8; 6]>::try_from(bytes.as_slice()).ok(),
                LinkAttribute::Mtu(m) => mtu = *m,
                LinkAttribute::OperState(state) => oper_up = *state == State::Up,
                _ => {}
            }
        }
        let flags = message.header.flags;
        Some(Self {
            index: message.header.index,
            name: name?,
            mac,
            admin_up: flags.contains(LinkFlags::Up),
            carrier: flags.contains(LinkFlags::LowerUp) || oper_up,
            mtu,
            link,
            link_netnsid,
            macvlan_mode,
            alias,
        })
    }
}

/// The mode of a macvlan's `IFLA_LINKINFO` (0 if it has none), `None` for other kinds.
fn macvlan(infos: &[Info]) -> Option<u32> {
    if !infos
        .iter()
        .any(|i| matches!(i, Info::Kind(InfoKind::MacVlan)))
    {
        return None;
    }
    let mode = infos.iter().find_map(|i| match i {
        Info::Data(InfoData::MacVlan(data)) => data.iter().find_map(|d| match d {
            InfoMacVlan::Mode(m) => Some(u32::from(*m)),
            _ => None,
        }),
        _ => None,
    });
    Some(mode.unwrap_or(0))
}

/// One address on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    pub ifindex: u32,
    /// The local address (`IFA_LOCAL`, else `IFA_ADDRESS`).
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// `RT_SCOPE_*`: 0 global, 200 site, 253 link, 254 host.
    pub scope: u8,
    /// `IFA_LABEL` (IPv4 only; the kernel reports the interface name when none was set).
    pub label: Option<String>,
    /// `IFA_F_SECONDARY` (for IPv6 the same bit means a temporary address).
    pub secondary: bool,
    /// `IFA_F_TENTATIVE`: IPv6 duplicate address detection still running.
    pub tentative: bool,
}

impl AddrInfo {
    /// Decodes an `RTM_NEWADDR`/`RTM_DELADDR` message (`None` for anything but an IPv4/IPv6
    /// unicast address).
    pub fn from_message(message: &AddressMessage) -> Option<Self> {
        if !matches!(
            message.header.family,
            AddressFamily::Inet | AddressFamily::Inet6
        ) {
            return None;
        }
        let mut local = None;
        let mut address = None;
        let mut label = None;
        // IFA_FLAGS (32 bits) supersedes the 8-bit header field when present.
        let mut flags = AddressFlags::from_bits_retain(u32::from(message.header.flags.bits()));
        for attribute in &message.attributes {
            match attribute {
                AddressAttribute::Local(a) => local = Some(*a),
                AddressAttribute::Address(a) => address = Some(*a),
                AddressAttribute::Label(l) => label = Some(l.clone()),
                AddressAttribute::Flags(f) => flags = *f,
                _ => {}
            }
        }
        Some(Self {
            ifindex: message.header.index,
            addr: local.or(address)?,
            prefix_len: message.header.prefix_len,
            scope: message.header.scope.into(),
            label,
            secondary: flags.contains(AddressFlags::Secondary),
            tentative: flags.contains(AddressFlags::Tentative),
        })
    }
}

/// `RT_SCOPE_UNIVERSE` and `RT_SCOPE_LINK`.
const SCOPE_GLOBAL: u8 = 0;
const SCOPE_LINK: u8 = 253;

/// Picks the address VRRP adverts are sent from, among `addrs` (one interface's):
/// * IPv4: the first primary (non-secondary) address of global or link scope that is not in
///   `exclude` (the virtual addresses must never become the source);
/// * IPv6: the first link-local (fe80::/10) address that is not tentative (a tentative address
///   cannot be bound yet; an address event follows when DAD completes) and not in `exclude`.
pub fn select_primary(addrs: &[AddrInfo], ipv6: bool, exclude: &[IpAddr]) -> Option<IpAddr> {
    addrs
        .iter()
        .filter(|a| !exclude.contains(&a.addr))
        .find(|a| match a.addr {
            IpAddr::V4(_) => {
                !ipv6 && !a.secondary && (a.scope == SCOPE_GLOBAL || a.scope == SCOPE_LINK)
            }
            IpAddr::V6(v6) => ipv6 && !a.tentative && (v6.segments()[0] & 0xffc0) == 0xfe80,
        })
        .map(|a| a.addr)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use netlink_packet_route::address::{AddressHeaderFlags, AddressScope};

    use super::*;

    fn v4(addr: &str, secondary: bool, scope: u8) -> AddrInfo {
        AddrInfo {
            ifindex: 2,
            addr: addr.parse().unwrap(),
            prefix_len: 24,
            scope,
            label: None,
            secondary,
            tentative: false,
        }
    }

    fn v6(addr: &str, tentative: bool) -> AddrInfo {
        AddrInfo {
            ifindex: 2,
            addr: addr.parse().unwrap(),
            prefix_len: 64,
            scope: 0,
            label: None,
            secondary: false,
            tentative,
        }
    }

    #[test]
    fn ipv4_primary_skips_virtual_secondary_and_host_addresses() {
        let addrs = [
            v6("fe80::1", false),
            v4("127.0.0.1", false, 254),
            v4("192.0.2.100", false, 0), // a VIP that happens to be primary
            v4("192.0.2.10", true, 0),
            v4("198.51.100.7", false, 0),
        ];
        let vip: IpAddr = "192.0.2.100".parse().unwrap();
        assert_eq!(
            select_primary(&addrs, false, &[vip]),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(select_primary(&addrs, false, &[]), Some(vip));
        assert_eq!(select_primary(&addrs[..2], false, &[]), None);
        assert_eq!(
            select_primary(&[v4("169.254.1.1", false, 253)], false, &[]),
            Some("169.254.1.1".parse().unwrap())
        );
    }

    #[test]
    fn ipv6_primary_is_a_settled_link_local() {
        let addrs = [
            v4("192.0.2.1", false, 0),
            v6("2001:db8::1", false),
            v6("fe80::aa", true),
            v6("fe80::bb", false),
            v6("febf::cc", false),
        ];
        assert_eq!(
            select_primary(&addrs, true, &[]),
            Some("fe80::bb".parse().unwrap())
        );
        let bb: IpAddr = "fe80::bb".parse().unwrap();
        assert_eq!(
            select_primary(&addrs, true, &[bb]),
            Some("febf::cc".parse().unwrap())
        );
        assert_eq!(select_primary(&addrs[..3], true, &[]), None);
    }

    #[test]
    fn decodes_an_address_message() {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet6;
        message.header.index = 7;
        message.header.prefix_len = 64;
        message.header.scope = AddressScope::Link;
        message.header.flags = AddressHeaderFlags::Secondary;
        message.attributes = vec![
            AddressAttribute::Address(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            AddressAttribute::Flags(AddressFlags::Tentative | AddressFlags::Nodad),
        ];
        let info = AddrInfo::from_message(&message).unwrap();
        assert_eq!(info.ifindex, 7);
        assert_eq!(info.addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(info.scope, 253);
        assert!(info.tentative);
        assert!(!info.secondary, "IFA_FLAGS supersedes the header flags");

        message.header.family = AddressFamily::Inet;
        message.attributes = vec![
            AddressAttribute::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))),
            AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            AddressAttribute::Label("eth0:vip".into()),
        ];
        let info = AddrInfo::from_message(&message).unwrap();
        assert_eq!(
            info.addr,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            "local wins"
        );
        assert_eq!(info.label.as_deref(), Some("eth0:vip"));
        assert!(info.secondary, "header flags without IFA_FLAGS");

        message.header.family = AddressFamily::Packet;
        assert_eq!(AddrInfo::from_message(&message), None);
    }

    #[test]
    fn decodes_a_link_message() {
        let mut message = LinkMessage::default();
        message.header.index = 4;
        message.header.flags = LinkFlags::Up | LinkFlags::Broadcast;
        message.attributes = vec![
            LinkAttribute::IfName("vx0".into()),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
            LinkAttribute::Mtu(1500),
            LinkAttribute::OperState(State::LowerLayerDown),
        ];
        let info = LinkInfo::from_message(&message).unwrap();
        let mut veth = message.clone();
        veth.attributes.push(LinkAttribute::Link(9));
        veth.attributes.push(LinkAttribute::LinkNetNsId(2));
        let peer = LinkInfo::from_message(&veth).unwrap();
        assert_eq!((peer.link, peer.link_netnsid), (Some(9), Some(2)));
        assert_eq!(
            info,
            LinkInfo {
                index: 4,
                name: "vx0".into(),
                mac: Some([2, 0, 0, 0, 0, 1]),
                admin_up: true,
                carrier: false,
                mtu: 1500,
                link: None,
                link_netnsid: None,
                macvlan_mode: None,
                alias: None,
            }
        );
        let mut macvlan = message.clone();
        macvlan.attributes.push(LinkAttribute::LinkInfo(vec![
            Info::Kind(InfoKind::MacVlan),
            Info::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                netlink_packet_route::link::MacVlanMode::Private,
            )])),
        ]));
        macvlan
            .attributes
            .push(LinkAttribute::IfAlias("ours".into()));
        let m = LinkInfo::from_message(&macvlan).unwrap();
        assert_eq!(m.macvlan_mode, Some(MACVLAN_MODE_PRIVATE));
        assert_eq!(m.alias.as_deref(), Some("ours"));
        message.attributes.push(LinkAttribute::OperState(State::Up));
        assert!(LinkInfo::from_message(&message).unwrap().carrier);
        message
            .attributes
            .retain(|a| !matches!(a, LinkAttribute::OperState(_)));
        message.header.flags |= LinkFlags::LowerUp;
        assert!(LinkInfo::from_message(&message).unwrap().carrier);
        message
            .attributes
            .retain(|a| !matches!(a, LinkAttribute::IfName(_)));
        assert_eq!(LinkInfo::from_message(&message), None);
    }
}
