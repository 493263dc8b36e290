//! What the engine keeps beside the core's [`Router`](crate::fsm::Router): per instance the
//! configuration and the kernel facts it runs with (a [`Slot`]), per namespace the netlink
//! handle and effects worker, per socket the open socket with its reader and writer, and the
//! keys by which the core knows sockets and tracked objects. Plain types; no behaviour
//! beyond deriving keys and placing addresses (`use_vmac`).

use std::{net::IpAddr, sync::Arc, time::SystemTime};

use tokio::sync::mpsc;

use super::{effects::Effect, ownership::OwnerKey, vmac::Vmac};
use crate::{
    config::{InstanceSpec, ReachabilitySpec, TrackSpec},
    fsm::{InstanceId, Reason, RxPolicy, State, VirtualAddress},
    net::AsyncVrrpSocket,
    netlink::Netlink,
    packet::Auth,
};

/// Identifies a socket: (namespace, interface, IPv6, AH). AH instances (VRRPv2 with
/// `auth_type AH`, IPv4) use a socket of their own: IP protocol 51 instead of 112.
pub type SocketKey = (Option<String>, String, bool, bool);

/// A tracked object as the core knows it: equal keys are one object, checked once and
/// followed by every instance that tracks it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKey {
    /// An interface's link (down when administratively down or without carrier).
    Link { netns: Option<String>, name: String },
    /// A `vrrp_script`, by name.
    Script(String),
    /// A reachability check from inside a namespace.
    Probe {
        netns: Option<String>,
        spec: ReachabilitySpec,
    },
}

impl ObjectKey {
    /// The key of `track` for an instance in `netns`.
    pub fn of(netns: &Option<String>, track: &TrackSpec) -> Self {
        match track {
            TrackSpec::Interface { name } => Self::Link {
                netns: netns.clone(),
                name: name.clone(),
            },
            TrackSpec::Script { name } => Self::Script(name.clone()),
            TrackSpec::Reachability(spec) => Self::Probe {
                netns: netns.clone(),
                spec: spec.clone(),
            },
        }
    }
}

/// One running instance, as the engine sees it (its state machine is in the router).
pub struct Slot {
    pub id: InstanceId,
    /// As configured (compared on reload).
    pub spec: InstanceSpec,
    pub ifindex: u32,
    pub last_transition: Option<(SystemTime, State, State, Reason)>,
    /// Start as master at once (restart with a valid data-plane lease).
    pub resume: bool,
    /// The IPv4 identification of our last AH advert (keepalived: 1, 2, ... skipping 0; the
    /// AH ICV covers it, so the agent chooses it, not the kernel).
    pub ip_id: u16,
    /// With `use_vmac`: the instance's macvlan.
    pub vmac: Option<Vmac>,
}

impl Slot {
    pub fn owner_key(&self) -> OwnerKey {
        OwnerKey {
            netns: self.spec.netns.clone(),
            interface: self.spec.interface.clone(),
            vrid: self.spec.vrrp.vrid,
            ipv6: self.spec.vrrp.is_ipv6(),
        }
    }

    pub fn socket_key(&self) -> SocketKey {
        socket_key(&self.spec)
    }

    /// Where the instance's own addresses and routes go by default: its macvlan with
    /// `use_vmac`, else its interface.
    pub fn addr_ifindex(&self) -> u32 {
        self.vmac.as_ref().map_or(self.ifindex, |v| v.link.index)
    }

    /// `list` as it must be applied: with `use_vmac`, an address that goes on the macvlan
    /// names no interface (so it goes to [`Self::addr_ifindex`]) and one of the other family
    /// without an interface names the instance's own (as keepalived places them).
    pub fn placed(&self, list: Vec<VirtualAddress>) -> Vec<VirtualAddress> {
        if self.vmac.is_none() {
            return list;
        }
        list.into_iter()
            .map(|a| {
                if self.spec.on_vmac(&a) {
                    VirtualAddress { dev: None, ..a }
                } else {
                    VirtualAddress {
                        dev: a.dev.clone().or_else(|| Some(self.spec.interface.clone())),
                        ..a
                    }
                }
            })
            .collect()
    }

    /// The interface GARPs / NAs for `addr` leave through: its `dev`, the macvlan for an
    /// address on it, else the instance's interface.
    pub fn announce_dev(&self, addr: std::net::IpAddr) -> String {
        let Some(a) = self.spec.vrrp.all_addresses().find(|a| a.addr == addr) else {
            return self.spec.interface.clone();
        };
        match &self.vmac {
            Some(v) if self.spec.on_vmac(a) => v.link.name.clone(),
            _ => a.dev.clone().unwrap_or_else(|| self.spec.interface.clone()),
        }
    }

    /// The AH key of a VRRPv2 instance with `auth_type AH`.
    pub fn ah_key(&self) -> Option<[u8; 8]> {
        match self.spec.vrrp.auth {
            Auth::Ah { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// The socket an instance's adverts use.
pub fn socket_key(spec: &InstanceSpec) -> SocketKey {
    (
        spec.netns.clone(),
        spec.interface.clone(),
        spec.vrrp.is_ipv6(),
        matches!(spec.vrrp.auth, Auth::Ah { .. }),
    )
}

/// Who may send an instance adverts.
pub fn rx_policy(spec: &InstanceSpec) -> RxPolicy {
    RxPolicy {
        unicast_peers: spec.unicast_peers.clone(),
        allowed_sources: spec.advert_allowlist(),
    }
}

/// An advert on its way out: the bytes (the VRRP message, or with AH the whole IPv4
/// packet), source and destination, and the instance for the log.
pub struct Outgoing {
    pub bytes: Vec<u8>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub instance: String,
}

/// A VRRP socket with the task reading it into the engine's queue and the one writing our
/// adverts in the order they were queued; dropping it (the socket is replaced) stops both.
pub struct OpenSocket {
    pub socket: Arc<AsyncVrrpSocket>,
    pub reader: tokio::task::AbortHandle,
    pub sender: mpsc::UnboundedSender<Outgoing>,
    pub writer: tokio::task::AbortHandle,
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

/// Per network namespace.
pub struct Namespace {
    pub netlink: Netlink,
    pub effects: mpsc::UnboundedSender<Effect>,
}
