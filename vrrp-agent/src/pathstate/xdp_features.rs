//! Which interfaces of a namespace accept frames that XDP redirects to them: the generic
//! netlink family `netdev` (Linux ≥ 6.3; its id resolved through `nlctrl`), a
//! `NETDEV_CMD_DEV_GET` dump whose `NETDEV_A_DEV_XDP_FEATURES` carries
//! `NETDEV_XDP_ACT_NDO_XMIT`. A redirect to a device without it is dropped silently. A veth
//! has it only while its peer runs NAPI (an XDP program attached to the peer, or GRO on it),
//! and the kernel announces changes with `NETDEV_CMD_DEV_CHANGE_NTF` on the `mgmt` group.
//!
//! Fails closed: an interface that is not in the answer, or any answer at all when the family
//! is missing or the dump fails, means "does not accept". Imports `nl`.

use std::collections::HashMap;

use super::nl::{self, NlError, NlSocket};

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;
/// `struct genlmsghdr`.
const GENL_HDRLEN: usize = 4;

pub const NETDEV_FAMILY_NAME: &str = "netdev";
pub const NETDEV_MCGRP_MGMT: &str = "mgmt";
const NETDEV_CMD_DEV_GET: u8 = 1;
const NETDEV_A_DEV_IFINDEX: u16 = 1;
const NETDEV_A_DEV_XDP_FEATURES: u16 = 3;
/// `NETDEV_XDP_ACT_NDO_XMIT` (`enum netdev_xdp_act` in `linux/netdev.h`): the device
/// implements `ndo_xdp_xmit`, so `XDP_REDIRECT` to it transmits.
pub const NETDEV_XDP_ACT_NDO_XMIT: u64 = 1 << 2;

/// The `netdev` family as `nlctrl` resolved it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetdevFamily {
    pub id: u16,
    /// The `mgmt` multicast group (device added, removed, features changed).
    pub mgmt_group: Option<u32>,
}

/// Whether a device with these xdp-features accepts redirected frames.
pub fn accepts_redirect(features: u64) -> bool {
    features & NETDEV_XDP_ACT_NDO_XMIT != 0
}

fn genl_header(cmd: u8) -> Vec<u8> {
    vec![cmd, 1, 0, 0]
}

/// Looks the `netdev` family up through the socket (a `NETLINK_GENERIC` one).
pub(crate) fn resolve_netdev(socket: &mut NlSocket) -> Result<NetdevFamily, NlError> {
    let mut request = genl_header(CTRL_CMD_GETFAMILY);
    let mut name = NETDEV_FAMILY_NAME.as_bytes().to_vec();
    name.push(0);
    request.extend(nl::attr(CTRL_ATTR_FAMILY_NAME, &name));
    let replies = socket.request(GENL_ID_CTRL, &request)?;
    let reply = replies
        .iter()
        .find(|m| m.kind == GENL_ID_CTRL)
        .ok_or_else(|| NlError::Malformed("nlctrl sent no family".into()))?;
    parse_family(&reply.payload)
}

/// Decodes `nlctrl`'s answer about the `netdev` family.
pub fn parse_family(payload: &[u8]) -> Result<NetdevFamily, NlError> {
    let attrs = payload.get(GENL_HDRLEN..).unwrap_or_default();
    let id = nl::find_attr(attrs, CTRL_ATTR_FAMILY_ID)
        .and_then(|v| nl::u16_at(v, 0))
        .ok_or_else(|| NlError::Malformed("nlctrl's answer has no family id".into()))?;
    let mgmt_group = nl::find_attr(attrs, CTRL_ATTR_MCAST_GROUPS).and_then(|groups| {
        nl::attrs(groups)
            .map_while(Result::ok)
            .find_map(|(_, group)| {
                let name = nl::find_attr(group, CTRL_ATTR_MCAST_GRP_NAME).map(nl::string)?;
                (name == NETDEV_MCGRP_MGMT)
                    .then(|| {
                        nl::find_attr(group, CTRL_ATTR_MCAST_GRP_ID).and_then(|v| nl::u32_at(v, 0))
                    })
                    .flatten()
            })
    });
    Ok(NetdevFamily { id, mgmt_group })
}

/// The xdp-features of every device of the socket's namespace, by interface index.
pub(crate) fn read_features(
    socket: &mut NlSocket,
    family: NetdevFamily,
) -> Result<HashMap<u32, u64>, NlError> {
    let messages = socket.dump(family.id, &genl_header(NETDEV_CMD_DEV_GET))?;
    messages
        .iter()
        .filter(|m| m.kind == family.id)
        .map(|m| parse_dev(&m.payload))
        .collect()
}

/// Decodes one device of a `NETDEV_CMD_DEV_GET` answer as (ifindex, xdp-features); a device
/// without the features attribute has none.
pub fn parse_dev(payload: &[u8]) -> Result<(u32, u64), NlError> {
    let mut ifindex = None;
    let mut features = 0;
    for attr in nl::attrs(payload.get(GENL_HDRLEN..).unwrap_or_default()) {
        match attr? {
            (NETDEV_A_DEV_IFINDEX, value) => ifindex = nl::u32_at(value, 0),
            (NETDEV_A_DEV_XDP_FEATURES, value) => features = nl::u64_at(value, 0).unwrap_or(0),
            _ => {}
        }
    }
    let ifindex =
        ifindex.ok_or_else(|| NlError::Malformed("a netdev device without an ifindex".into()))?;
    Ok((ifindex, features))
}

/// Reads the features through a new `NETLINK_GENERIC` socket of the calling thread's
/// namespace.
pub fn read_xdp_features() -> Result<HashMap<u32, u64>, NlError> {
    let mut socket = NlSocket::open(nl::NETLINK_GENERIC)?;
    let family = resolve_netdev(&mut socket)?;
    read_features(&mut socket, family)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `NETDEV_CMD_DEV_GET` answers captured on Linux 6.18 (genl header, then attributes):
    /// a veth whose peer has GRO off, and the same veth after `ethtool -K <peer> gro on`.
    const VETH_PEER_GRO_OFF: &[u8] = &[
        // DEV_GET, version 1
        0x01, 0x01, 0x00, 0x00, //
        // IFINDEX 2
        0x08, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, //
        // XDP_FEATURES: BASIC | REDIRECT | RX_SG
        0x0c, 0x00, 0x03, 0x00, 0x23, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        // XDP_RX_METADATA_FEATURES
        0x0c, 0x00, 0x05, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        // XSK_FEATURES
        0x0c, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    ];

    #[test]
    fn the_ndo_xmit_bit_decides() {
        let (ifindex, features) = parse_dev(VETH_PEER_GRO_OFF).unwrap();
        assert_eq!(ifindex, 2);
        assert_eq!(features, 0x23);
        assert!(!accepts_redirect(features));

        let mut gro_on = VETH_PEER_GRO_OFF.to_vec();
        gro_on[16] = 0x67; // as captured: + NDO_XMIT | NDO_XMIT_SG
        let (_, features) = parse_dev(&gro_on).unwrap();
        assert!(accepts_redirect(features));
        assert!(
            !accepts_redirect(1 << 3),
            "bit 3 is XSK zero-copy, not ndo_xmit"
        );
    }

    #[test]
    fn devices_without_index_or_with_garbage_are_errors() {
        assert!(parse_dev(&[1, 1, 0, 0]).is_err());
        assert!(parse_dev(&[1, 1]).is_err());
        let mut garbled = VETH_PEER_GRO_OFF[..12].to_vec();
        garbled.extend([0x30, 0x00, 0x03, 0x00]);
        assert!(parse_dev(&garbled).is_err());
    }

    #[test]
    fn the_family_id_and_mgmt_group_decode() {
        let mut payload = vec![1, 2, 0, 0];
        payload.extend(nl::attr(CTRL_ATTR_FAMILY_NAME, b"netdev\0"));
        payload.extend(nl::attr(CTRL_ATTR_FAMILY_ID, &[0x1c, 0x00]));
        let mut groups = Vec::new();
        for (index, (name, id)) in [("page-pool", 5u32), ("mgmt", 4)].iter().enumerate() {
            let mut group = nl::attr(CTRL_ATTR_MCAST_GRP_NAME, format!("{name}\0").as_bytes());
            group.extend(nl::attr(CTRL_ATTR_MCAST_GRP_ID, &id.to_ne_bytes()));
            groups.extend(nl::attr(index as u16 + 1, &group));
        }
        payload.extend(nl::attr(CTRL_ATTR_MCAST_GROUPS, &groups));
        assert_eq!(
            parse_family(&payload).unwrap(),
            NetdevFamily {
                id: 0x1c,
                mgmt_group: Some(4)
            }
        );
        assert!(parse_family(&[1, 2, 0, 0]).is_err());
    }
}
