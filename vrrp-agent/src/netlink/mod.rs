//! rtnetlink at the edge: virtual addresses and routes, interface and address state and
//! events, `use_vmac`'s macvlans, inside any named network namespace.
//!
//! [`Netlink::open`] gives a cheap-to-clone async handle on one namespace plus the stream of
//! its link/address events. Depends on the `rtnetlink` crate, `crate::netns` (sockets are
//! created inside the namespace) and `crate::fsm`'s plain configuration data; nothing here
//! knows about VRRP state.

mod address;
mod error;
mod events;
mod handle;
mod info;
mod macvlan;
mod names;
mod query;
mod route;

pub use error::NetlinkError;
pub use events::{NetlinkEvent, NetlinkEvents};
pub use handle::Netlink;
pub use info::{AddrInfo, LinkInfo, MACVLAN_MODE_PRIVATE, MACVLAN_MODE_VEPA, select_primary};
pub use names::{parse_protocol, parse_scope};
