//! A class of IPv4 packets as the analysis follows it through the netfilter hooks: interfaces,
//! addresses, protocols, packet mark, connection state and mark, and what NAT did to it so
//! far. One value stands for every packet of the class that took the same path; the
//! interpreter splits it where a rule tells its packets apart. Pure; imports the ruleset model.

use std::collections::BTreeSet;

use super::value::{Addr, Marks};
use crate::pathstate::ruleset::NatRange;

/// The IP protocols the fast path translates and forwards (ICMP, TCP, UDP); the program hands
/// every other protocol to the kernel.
pub const FAST_PROTOS: [u8; 3] = [1, 6, 17];

/// What conntrack knows about the packet's connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ct {
    /// The first packet of the connection (conntrack state NEW): the nat chains see it.
    pub new: bool,
    /// The packet goes in the reply direction of its connection.
    pub reply: bool,
    /// An ICMP error about the connection (conntrack state RELATED), not one of its packets.
    pub related: bool,
    /// The connection's destination was translated (`--ctstate DNAT`).
    pub dnat: bool,
    /// The connection's source was translated (`--ctstate SNAT`).
    pub snat: bool,
    pub mark: Marks,
}

/// Which addresses the analysis may leave to the kernel when a rule names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclude {
    /// None: a rule about one address of the class blocks the class.
    Never,
    /// Any single destination address (the program gets it as an address it keeps away from
    /// the fast path).
    Hosts,
}

/// NAT a new connection got on this path, each with the rule that did it (`location:
/// \`rule\``).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nat {
    pub dnat: Option<(NatRange, String)>,
    pub snat: Option<(NatRange, String)>,
    /// A NAT the fast path never does (MASQUERADE, REDIRECT).
    pub other: Option<String>,
}

/// A class of packets at one point of its way through the hooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkt {
    pub iif: String,
    /// Known once routed (FORWARD and POSTROUTING).
    pub oif: Option<String>,
    pub src: Addr,
    pub dst: Addr,
    /// Which destination addresses may be split off.
    pub dst_exclude: Exclude,
    pub protos: BTreeSet<u8>,
    pub mark: Marks,
    pub ct: Ct,
    /// Conntrack has seen the packet (after its PREROUTING hook at priority -200).
    pub tracked: bool,
    pub nat: Nat,
}
