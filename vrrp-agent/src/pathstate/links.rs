//! The interfaces of a namespace (name, index, kind, MAC, MTU, up) from an `RTM_GETLINK`
//! dump, as [`IfaceFacts`] whose other fields the other readers fill. A link message that
//! cannot be decoded fails the whole read (an interface list with a hole in it would hide a
//! redirect target). Imports `facts` and `nl`.

use super::{
    facts::IfaceFacts,
    nl::{self, NlError, NlSocket},
};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
/// `struct ifinfomsg`.
const IFINFOMSG_LEN: usize = 16;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFF_UP: u32 = 0x1;
const IFF_LOWER_UP: u32 = 0x1_0000;
const IF_OPER_UP: u8 = 6;

/// Every interface of the socket's namespace, in the kernel's order.
pub(crate) fn read_links(socket: &mut NlSocket) -> Result<Vec<IfaceFacts>, NlError> {
    socket
        .dump(RTM_GETLINK, &[0; IFINFOMSG_LEN])?
        .into_iter()
        .filter(|m| m.kind == RTM_NEWLINK)
        .map(|m| parse_link(&m.payload))
        .collect()
}

/// Decodes one `RTM_NEWLINK` payload. `up` means administratively up with a carrier
/// (`IFF_LOWER_UP`, or operational state up).
pub fn parse_link(payload: &[u8]) -> Result<IfaceFacts, NlError> {
    let malformed = |what: &str| NlError::Malformed(format!("link message: {what}"));
    let ifindex = nl::u32_at(payload, 4).ok_or_else(|| malformed("short header"))?;
    let flags = nl::u32_at(payload, 8).ok_or_else(|| malformed("short header"))?;
    let mut iface = IfaceFacts {
        ifindex,
        ..IfaceFacts::default()
    };
    let mut oper_up = false;
    for attr in nl::attrs(payload.get(IFINFOMSG_LEN..).unwrap_or_default()) {
        let (kind, value) = attr?;
        match kind {
            IFLA_IFNAME => iface.name = nl::string(value),
            IFLA_ADDRESS => iface.mac = <[u8; 6]>::try_from(value).ok(),
            IFLA_MTU => iface.mtu = nl::u32_at(value, 0).unwrap_or(0),
            IFLA_OPERSTATE => oper_up = value.first() == Some(&IF_OPER_UP),
            IFLA_LINKINFO => {
                if let Some(kind) = nl::find_attr(value, IFLA_INFO_KIND) {
                    iface.kind = nl::string(kind);
                }
            }
            _ => {}
        }
    }
    if iface.name.is_empty() {
        return Err(malformed(&format!("interface {ifindex} has no name")));
    }
    iface.up = flags & IFF_UP != 0 && (flags & IFF_LOWER_UP != 0 || oper_up);
    Ok(iface)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(flags: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut payload = vec![0u8; IFINFOMSG_LEN];
        payload[4..8].copy_from_slice(&7u32.to_ne_bytes());
        payload[8..12].copy_from_slice(&flags.to_ne_bytes());
        for a in attrs {
            payload.extend_from_slice(a);
        }
        payload
    }

    #[test]
    fn decodes_name_kind_mac_mtu_and_state() {
        let payload = message(
            IFF_UP | IFF_LOWER_UP,
            &[
                nl::attr(IFLA_IFNAME, b"veth0\0"),
                nl::attr(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 1]),
                nl::attr(IFLA_MTU, &9000u32.to_ne_bytes()),
                nl::attr(IFLA_LINKINFO, &nl::attr(IFLA_INFO_KIND, b"veth\0")),
            ],
        );
        let iface = parse_link(&payload).unwrap();
        assert_eq!(iface.ifindex, 7);
        assert_eq!(iface.name, "veth0");
        assert_eq!(iface.kind, "veth");
        assert_eq!(iface.mac, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(iface.mtu, 9000);
        assert!(iface.up);
        assert!(!iface.xdp_xmit, "only the xdp-features reader may say yes");
    }

    #[test]
    fn up_needs_admin_up_and_a_carrier() {
        let name = nl::attr(IFLA_IFNAME, b"lo\0");
        assert!(
            !parse_link(&message(IFF_UP, std::slice::from_ref(&name)))
                .unwrap()
                .up
        );
        assert!(
            !parse_link(&message(IFF_LOWER_UP, std::slice::from_ref(&name)))
                .unwrap()
                .up
        );
        let oper = nl::attr(IFLA_OPERSTATE, &[IF_OPER_UP]);
        assert!(parse_link(&message(IFF_UP, &[name, oper])).unwrap().up);
    }

    #[test]
    fn nameless_short_or_garbled_messages_are_errors() {
        assert!(parse_link(&message(IFF_UP, &[])).is_err());
        assert!(parse_link(&[0; 6]).is_err());
        let mut garbled = message(0, &[nl::attr(IFLA_IFNAME, b"x\0")]);
        garbled.extend([0xff, 0x00, 0x03]);
        assert!(parse_link(&garbled).is_err());
    }
}
