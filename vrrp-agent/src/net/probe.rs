//! Reachability probes for health tracking ("is the external gateway reachable from inside
//! the router's namespace"): a neighbour probe (ARP request for IPv4, neighbour solicitation
//! for IPv6) or an ICMP echo, on one interface, to one target.
//!
//! [`Prober::open`] creates the socket in the network namespace of the *calling thread* (use
//! `crate::netns::run_in`); [`Prober::probe`] then works from any thread inside a tokio
//! runtime with IO and time enabled, registering the socket with the reactor for the length
//! of one probe. Each probe first discards whatever is queued, so a late answer to an
//! earlier probe never counts for a later one.
//!
//! Files: `exchange` (send one request, wait for its answer), `arp`, `ndp`, `icmp`.
//! Imports `crate::config` (the probe method), `crate::packet` and the `net` helpers.

mod arp;
mod exchange;
mod icmp;
mod ndp;

use std::{io, net::IpAddr, time::Duration};

use tokio::sync::Mutex;

pub use crate::config::ProbeMethod;

use super::{error::context, link};

/// Probes one target from one interface. Probes of one prober run one at a time.
#[derive(Debug)]
pub struct Prober {
    method: ProbeMethod,
    target: IpAddr,
    ifname: String,
    kind: Mutex<Kind>,
}

#[derive(Debug)]
enum Kind {
    Arp(arp::ArpProbe),
    Ndp(ndp::NdpProbe),
    Icmp(icmp::IcmpProbe),
}

impl Prober {
    /// Opens a prober of `target` by `method` on interface `ifname` (index `ifindex`) of the
    /// current network namespace. `source` is the address requests are sent from: for ARP
    /// the sender protocol address (give the interface's primary address; `None` sends an
    /// RFC 5227 ARP probe from 0.0.0.0), for the others an address of the interface to bind
    /// to (`None`: the kernel chooses). Neighbour probes need an interface with an Ethernet
    /// address.
    pub fn open(
        ifindex: u32,
        ifname: &str,
        method: ProbeMethod,
        target: IpAddr,
        source: Option<IpAddr>,
    ) -> io::Result<Self> {
        let what = format!("{method:?} probe of {target} on {ifname}");
        let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
        if target.is_unspecified() || target.is_multicast() {
            return Err(invalid(format!(
                "{what}: the target must be a unicast address"
            )));
        }
        if let Some(source) = source
            && (source.is_ipv4() != target.is_ipv4() || source.is_multicast())
        {
            return Err(invalid(format!(
                "{what}: source {source} must be a unicast address of the target's family"
            )));
        }
        link::check_ifindex(ifindex, ifname).map_err(context(&what))?;
        let kind = match (method, target, source) {
            (ProbeMethod::Neighbour, IpAddr::V4(target), source) => {
                let source = source.and_then(|s| match s {
                    IpAddr::V4(s) => Some(s),
                    IpAddr::V6(_) => None,
                });
                Kind::Arp(
                    arp::ArpProbe::open(ifindex, ifname, target, source).map_err(context(&what))?,
                )
            }
            (ProbeMethod::Neighbour, IpAddr::V6(target), source) => {
                let source = source.and_then(|s| match s {
                    IpAddr::V6(s) => Some(s),
                    IpAddr::V4(_) => None,
                });
                Kind::Ndp(
                    ndp::NdpProbe::open(ifindex, ifname, target, source).map_err(context(&what))?,
                )
            }
            (ProbeMethod::Icmp, target, source) => Kind::Icmp(
                icmp::IcmpProbe::open(ifindex, ifname, target, source).map_err(context(&what))?,
            ),
        };
        Ok(Self {
            method,
            target,
            ifname: ifname.to_string(),
            kind: Mutex::new(kind),
        })
    }

    pub fn method(&self) -> ProbeMethod {
        self.method
    }

    pub fn target(&self) -> IpAddr {
        self.target
    }

    /// Sends one request and waits up to `timeout` for the answer: `Ok(true)` if the target
    /// answered, `Ok(false)` if it did not in time (or the network reported it unreachable),
    /// `Err` only if the socket failed.
    pub async fn probe(&self, timeout: Duration) -> io::Result<bool> {
        let mut kind = self.kind.lock().await;
        let answered = match &mut *kind {
            Kind::Arp(probe) => exchange::run(probe, timeout).await,
            Kind::Ndp(probe) => exchange::run(probe, timeout).await,
            Kind::Icmp(probe) => exchange::run(probe, timeout).await,
        };
        answered.map_err(context(format!(
            "{:?} probe of {} on {}",
            self.method, self.target, self.ifname
        )))
    }
}
