//! `use_vmac` in the engine. Each such instance has its macvlan (`vmac_link`), which is up
//! exactly while the instance is master: a backup's macvlan sends nothing and answers
//! nothing, so no bridge of the LAN ever learns the virtual MAC at a backup (keepalived keeps
//! it up and moves the IGMP/MLD reports it would send to the base interface with nftables).
//!
//! - Taking over ([`Vmac::take_over`], at `SetOwnership { owned: true }`): the macvlan goes
//!   up at once, synchronously, before the engine queues the addresses, routes and GARPs
//!   that need it and the first advert that leaves through it.
//! - Giving up ([`Vmac::give_up`] at `SetOwnership { owned: false }`, then
//!   [`Vmac::queue_down`] after the removals): the macvlan goes down in its worker, after the
//!   adverts queued before (a resigning master's priority 0 leaves from the virtual MAC), and
//!   only if the instance has not taken over again in between.
//! - Adverts ([`Vmac::send`]) leave through the macvlan in order, from a socket that joins no
//!   group, unless `vmac_xmit_base`. They are received on the instance's interface either way
//!   (the macvlan is in VEPA mode, see `vmac_link`), where the XDP program checks them.
//! - Removal ([`Vmac::remove`]): deleted after everything queued before.
//!
//! Imports `super::{slot, vmac_link}`, `crate::{config, net, netlink, netns, packet,
//! pathstate}`.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::{
    slot::Outgoing,
    vmac_link::{self, VmacLink},
};
use crate::{
    config::InstanceSpec,
    net::{AsyncVrrpSocket, VrrpSocket},
    netlink::{LinkInfo, Netlink},
    netns,
    packet::Auth,
    pathstate::nl::{NETLINK_ROUTE, NlError, NlSocket},
};

/// `RTM_NEWLINK`.
const RTM_NEWLINK: u16 = 16;
/// `IFF_UP`.
const IFF_UP: u32 = 1;

/// An instance's macvlan as the engine drives it.
/// Dropped, its worker finishes what was queued (a removal) and ends with the queue.
pub struct Vmac {
    pub link: VmacLink,
    pub xmit_base: bool,
    switch: Arc<Mutex<Switch>>,
    jobs: mpsc::UnboundedSender<Job>,
}

/// Whether the macvlan should be up, and the blocking netlink socket (inside its namespace)
/// that sets it: held under one lock, so a late "down" never undoes a newer "up".
struct Switch {
    socket: NlSocket,
    index: u32,
    wanted: bool,
}

impl Switch {
    fn set(&mut self, up: bool) -> Result<(), NlError> {
        // struct ifinfomsg: family, pad, type, index, flags, change.
        let mut msg = Vec::with_capacity(16);
        msg.extend_from_slice(&[0, 0, 0, 0]);
        msg.extend_from_slice(&self.index.to_ne_bytes());
        msg.extend_from_slice(&(if up { IFF_UP } else { 0 }).to_ne_bytes());
        msg.extend_from_slice(&IFF_UP.to_ne_bytes());
        self.socket.request(RTM_NEWLINK, &msg).map(|_| ())
    }
}

/// The switch, also after a panic elsewhere held it (it holds no invariant a panic breaks).
fn lock(switch: &Mutex<Switch>) -> std::sync::MutexGuard<'_, Switch> {
    switch
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Work for the macvlan's worker, done in order.
enum Job {
    Advert(Outgoing),
    /// Down, unless the instance took over again.
    Down,
    /// Delete it; answered when done.
    Remove(oneshot::Sender<()>),
}

#[derive(Debug, thiserror::Error)]
pub enum VmacSetupError {
    #[error(transparent)]
    Link(#[from] vmac_link::VmacError),
    #[error("use_vmac {name}: {error}")]
    Open { name: String, error: String },
}

impl Vmac {
    /// Creates or adopts the macvlan of `spec` on `base`, opens its VRRP socket (unless
    /// `vmac_xmit_base`) and starts its worker. Unless the instance resumes as master, the
    /// macvlan is down from here on (one a killed master left up goes down now).
    pub async fn open(
        netlink: &Netlink,
        spec: &InstanceSpec,
        base: &LinkInfo,
        resume: bool,
    ) -> Result<Self, VmacSetupError> {
        let link = vmac_link::ensure(netlink, spec, base).await?;
        let xmit_base = spec.vmac.as_ref().is_some_and(|v| v.xmit_base);
        let open_err = |error: String| VmacSetupError::Open {
            name: link.name.clone(),
            error,
        };
        let ns = spec.netns.as_deref();
        let nl = netns::run_in(ns, || NlSocket::open(NETLINK_ROUTE))
            .map_err(|e| open_err(e.to_string()))?
            .map_err(|e| open_err(format!("netlink socket: {e}")))?;
        let mut switch = Switch {
            socket: nl,
            index: link.index,
            wanted: resume,
        };
        if !resume {
            switch
                .set(false)
                .map_err(|e| open_err(format!("setting it down: {e}")))?;
        }
        let sender = if xmit_base {
            None
        } else {
            let (index, name) = (link.index, link.name.clone());
            let (ipv6, ah) = (
                spec.vrrp.is_ipv6(),
                matches!(spec.vrrp.auth, Auth::Ah { .. }),
            );
            let socket =
                netns::run_in(ns, move || VrrpSocket::open_macvlan(index, &name, ipv6, ah))
                    .map_err(|e| open_err(e.to_string()))?
                    .map_err(|e| open_err(e.to_string()))?;
            Some(Arc::new(
                socket.into_async().map_err(|e| open_err(e.to_string()))?,
            ))
        };
        let switch = Arc::new(Mutex::new(switch));
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(work(
            queue,
            sender,
            Arc::clone(&switch),
            netlink.clone(),
            link.clone(),
        ));
        Ok(Self {
            link,
            xmit_base,
            switch,
            jobs,
        })
    }

    /// The instance takes over: the macvlan goes up now.
    pub fn take_over(&self) {
        let mut switch = lock(&self.switch);
        switch.wanted = true;
        if let Err(e) = switch.set(true) {
            tracing::error!(vmac = self.link.name, "cannot set the macvlan up: {e}");
        }
    }

    /// The instance gives up (or starts as anything but master): the macvlan goes down at the
    /// next [`Self::queue_down`].
    pub fn give_up(&self) {
        lock(&self.switch).wanted = false;
    }

    /// Queues the macvlan's "down" behind the adverts queued so far, if the instance gave up.
    pub fn queue_down(&self) {
        let wanted = lock(&self.switch).wanted;
        if !wanted {
            let _ = self.jobs.send(Job::Down);
        }
    }

    /// Whether the instance's adverts leave through the macvlan (not `vmac_xmit_base`).
    pub fn carries_adverts(&self) -> bool {
        !self.xmit_base
    }

    /// Queues an advert to leave through the macvlan (see [`Self::carries_adverts`]).
    pub fn send(&self, advert: Outgoing) {
        let _ = self.jobs.send(Job::Advert(advert));
    }

    /// Deletes the macvlan once everything queued before is done; the returned receiver
    /// answers then (or is dropped if the worker is gone).
    pub fn remove(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let _ = self.jobs.send(Job::Remove(tx));
        rx
    }
}

/// The worker of one macvlan: its jobs, in order, until it is removed or forgotten.
async fn work(
    mut queue: mpsc::UnboundedReceiver<Job>,
    sender: Option<Arc<AsyncVrrpSocket>>,
    switch: Arc<Mutex<Switch>>,
    netlink: Netlink,
    link: VmacLink,
) {
    while let Some(job) = queue.recv().await {
        match job {
            Job::Advert(advert) => {
                let Some(socket) = &sender else { continue };
                if let Err(e) = socket.send(&advert.bytes, advert.src, advert.dst).await {
                    tracing::warn!(instance = advert.instance, vmac = link.name, dst = %advert.dst, "sending advert failed: {e}");
                }
            }
            Job::Down => {
                let mut s = lock(&switch);
                if !s.wanted
                    && let Err(e) = s.set(false)
                {
                    tracing::warn!(vmac = link.name, "cannot set the macvlan down: {e}");
                }
            }
            Job::Remove(done) => {
                match vmac_link::remove(&netlink, &link).await {
                    Ok(()) => tracing::info!(vmac = link.name, "macvlan deleted"),
                    Err(e) => tracing::warn!("{e}"),
                }
                let _ = done.send(());
                return;
            }
        }
    }
}
