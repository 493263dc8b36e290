//! Noticing that the facts of one namespace may have changed: multicast netlink sockets
//! created inside the namespace (rtnetlink: links, IPv4/IPv6 rules, tc, IPv4 netconf;
//! `NETLINK_XFRM`: policies; generic netlink `netdev`: the `mgmt` group, which carries
//! xdp-features changes), driven by tokio, plus a slow timer for what has no notifications
//! (most sysctls, tcx attachments). A burst of messages becomes one [`FactsChange`]; a
//! receive-buffer overrun is a change too (something was missed), and watching goes on.
//! The sockets are netlink-sys's `TokioSocket` (an `AsyncFd`, as `rtnetlink`'s connections
//! use). Imports `crate::netns` and this module's siblings.

// A tokio watcher (I/O, not the core): debounces bursts of netlink messages (see clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::{
    collections::BTreeSet,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use rtnetlink::sys::{AsyncSocket, TokioSocket};
use tokio::{
    runtime,
    time::{Instant, Interval, MissedTickBehavior, Sleep},
};

use super::{
    facts_read::FactsError,
    nl::{self, NlSocket},
    xdp_features,
};
use crate::netns;

/// A burst ends when nothing more arrived for this long...
pub const SETTLE: Duration = Duration::from_millis(50);
/// ...or when it has lasted this long.
pub const MAX_BURST: Duration = Duration::from_millis(500);
/// The shortest timer interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_TC: u32 = 4;
const RTNLGRP_IPV4_RULE: u32 = 8;
const RTNLGRP_IPV6_RULE: u32 = 19;
const RTNLGRP_IPV4_NETCONF: u32 = 24;
const XFRMNLGRP_POLICY: u32 = 4;
const RCVBUF: usize = 1 << 20;
/// Datagrams read from one socket per wake-up before yielding to the runtime.
const DRAIN_LIMIT: usize = 256;

/// What announced a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeSource {
    /// An interface appeared, changed or went away.
    Links,
    /// A policy routing rule (IPv4 or IPv6).
    Rules,
    /// A qdisc, class, filter or chain.
    Tc,
    /// An IPv4 netconf setting (forwarding, rp_filter, ...).
    Netconf,
    /// An xfrm policy or default policy.
    Xfrm,
    /// A netdev device notification (xdp-features among others).
    XdpFeatures,
    /// An rtnetlink message of another type.
    Other,
    /// A socket's receive buffer overran: notifications were lost.
    Overrun,
    /// The slow timer (for what sends no notifications).
    Timer,
}

/// The facts may have changed; read them again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FactsChange {
    pub sources: BTreeSet<ChangeSource>,
}

/// Which socket a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feed {
    Rtnl,
    Xfrm,
    Netdev,
}

impl Feed {
    fn name(self) -> &'static str {
        match self {
            Feed::Rtnl => "rtnetlink",
            Feed::Xfrm => "xfrm",
            Feed::Netdev => "netdev",
        }
    }
}

/// The rtnetlink concern of a message type.
fn classify_rtnl(kind: u16) -> ChangeSource {
    match kind {
        16..=19 => ChangeSource::Links,
        32..=35 => ChangeSource::Rules,
        36..=47 | 100..=103 => ChangeSource::Tc,
        80..=83 => ChangeSource::Netconf,
        _ => ChangeSource::Other,
    }
}

/// What one datagram of `feed` announces.
fn classify(feed: Feed, datagram: &[u8], into: &mut BTreeSet<ChangeSource>) {
    match feed {
        Feed::Xfrm => {
            into.insert(ChangeSource::Xfrm);
        }
        Feed::Netdev => {
            into.insert(ChangeSource::XdpFeatures);
        }
        Feed::Rtnl => match nl::split(datagram) {
            Ok(messages) if !messages.is_empty() => {
                into.extend(messages.iter().map(|m| classify_rtnl(m.kind)));
            }
            _ => {
                into.insert(ChangeSource::Other);
            }
        },
    }
}

/// Watches one namespace. Dropping it closes the sockets.
pub struct FactsWatch {
    feeds: Vec<(Feed, TokioSocket)>,
    timer: Interval,
    pending: BTreeSet<ChangeSource>,
    burst_start: Option<Instant>,
    deadline: Pin<Box<Sleep>>,
    armed: bool,
    buf: Vec<u8>,
}

impl std::fmt::Debug for FactsWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactsWatch")
            .field(
                "feeds",
                &self.feeds.iter().map(|(feed, _)| *feed).collect::<Vec<_>>(),
            )
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl FactsWatch {
    /// Subscribes, inside namespace `netns` (`None`: the caller's), to everything that
    /// announces a change of its facts, and fires the timer every `interval` (at least
    /// [`MIN_INTERVAL`]). The xfrm and netdev feeds are left out where the kernel has no
    /// such family (nothing there can change then; the readers report it closed).
    ///
    /// Must be called inside a tokio runtime, which then drives the sockets. Blocks for as
    /// long as creating the sockets on a short-lived thread inside the namespace takes.
    pub fn open(netns: Option<&str>, interval: Duration) -> Result<Self, FactsError> {
        let runtime = runtime::Handle::try_current().map_err(|_| FactsError::NoRuntime)?;
        // The sockets belong to the namespace of the thread creating them; registering them
        // with the reactor needs the runtime's context on that thread.
        let feeds = netns::run_in(netns, || {
            let _context = runtime.enter();
            open_here()
        })??;
        let interval = interval.max(MIN_INTERVAL);
        let mut timer = tokio::time::interval_at(Instant::now() + interval, interval);
        timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ok(Self {
            feeds,
            timer,
            pending: BTreeSet::new(),
            burst_start: None,
            deadline: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: false,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Whether the xdp-features feed is open (the kernel has the `netdev` family).
    pub fn watches_xdp_features(&self) -> bool {
        self.feeds.iter().any(|(f, _)| *f == Feed::Netdev)
    }

    /// Whether the xfrm feed is open.
    pub fn watches_xfrm(&self) -> bool {
        self.feeds.iter().any(|(f, _)| *f == Feed::Xfrm)
    }

    /// The next change: once a burst of notifications has settled, or at the timer.
    /// Cancel-safe: what was noticed before the future is dropped is reported by the next
    /// call.
    pub async fn changed(&mut self) -> Result<FactsChange, FactsError> {
        std::future::poll_fn(|cx| self.poll_changed(cx)).await
    }

    fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<Result<FactsChange, FactsError>> {
        let mut noticed = false;
        for index in 0..self.feeds.len() {
            noticed |= self.drain(index, cx)?;
        }
        let now = Instant::now();
        if noticed {
            let start = *self.burst_start.get_or_insert(now);
            let until = (now + SETTLE).min(start + MAX_BURST);
            self.deadline.as_mut().reset(until);
            self.armed = true;
        }
        if self.timer.poll_tick(cx).is_ready() {
            self.pending.insert(ChangeSource::Timer);
            if !self.armed {
                self.deadline.as_mut().reset(now);
                self.armed = true;
            }
        }
        if self.armed && self.deadline.as_mut().poll(cx).is_ready() {
            self.armed = false;
            self.burst_start = None;
            return Poll::Ready(Ok(FactsChange {
                sources: std::mem::take(&mut self.pending),
            }));
        }
        Poll::Pending
    }

    /// Reads whatever feed `index` holds; true if it announced anything. Leaves the feed
    /// registered for a wake-up once it is empty.
    fn drain(&mut self, index: usize, cx: &mut Context<'_>) -> Result<bool, FactsError> {
        let (feed, socket) = &self.feeds[index];
        let feed = *feed;
        let mut noticed = false;
        for _ in 0..DRAIN_LIMIT {
            self.buf.clear();
            match socket.poll_recv(cx, &mut self.buf) {
                Poll::Pending => return Ok(noticed),
                Poll::Ready(Ok(())) => {
                    classify(feed, &self.buf, &mut self.pending);
                    noticed = true;
                }
                Poll::Ready(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    tracing::debug!(feed = feed.name(), "netlink overrun: changes were missed");
                    self.pending.insert(ChangeSource::Overrun);
                    noticed = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(source)) => {
                    return Err(FactsError::Watch {
                        what: feed.name(),
                        source,
                    });
                }
            }
        }
        // Still more to read: come back after the rest of the runtime had a turn.
        cx.waker().wake_by_ref();
        Ok(noticed)
    }
}

/// A non-blocking socket of `protocol` subscribed to the multicast `groups`, in the
/// namespace of the calling thread (which must be in a tokio runtime's context).
fn subscribe(protocol: isize, groups: &[u32]) -> io::Result<TokioSocket> {
    let mut socket = TokioSocket::new(protocol)?;
    // Bound: the kernel skips unbound sockets when it multicasts.
    socket.socket_mut().bind_auto()?;
    for group in groups {
        socket.socket_ref().add_membership(*group)?;
    }
    socket.socket_ref().set_rx_buf_sz(RCVBUF)?;
    Ok(socket)
}

/// Creates the subscribed sockets in the calling thread's namespace.
fn open_here() -> Result<Vec<(Feed, TokioSocket)>, FactsError> {
    let subscribe_error = |what| move |source| FactsError::Subscribe { what, source };
    let mut sockets = vec![(
        Feed::Rtnl,
        subscribe(
            nl::NETLINK_ROUTE,
            &[
                RTNLGRP_LINK,
                RTNLGRP_TC,
                RTNLGRP_IPV4_RULE,
                RTNLGRP_IPV6_RULE,
                RTNLGRP_IPV4_NETCONF,
            ],
        )
        .map_err(subscribe_error("rtnetlink"))?,
    )];
    match subscribe(nl::NETLINK_XFRM, &[XFRMNLGRP_POLICY]) {
        Ok(socket) => sockets.push((Feed::Xfrm, socket)),
        Err(error) if error.raw_os_error() == Some(libc::EPROTONOSUPPORT) => {
            tracing::debug!("no NETLINK_XFRM in this kernel; not watching xfrm");
        }
        Err(error) => return Err(subscribe_error("xfrm")(error)),
    }
    let family = NlSocket::open(nl::NETLINK_GENERIC)
        .and_then(|mut socket| xdp_features::resolve_netdev(&mut socket));
    match family {
        Ok(xdp_features::NetdevFamily {
            mgmt_group: Some(group),
            ..
        }) => sockets.push((
            Feed::Netdev,
            subscribe(nl::NETLINK_GENERIC, &[group]).map_err(subscribe_error("netdev"))?,
        )),
        Ok(_) => tracing::debug!("the netdev family has no mgmt group; not watching xdp-features"),
        Err(error) => tracing::debug!(
            error = %nl::describe(&error),
            "no netdev family; not watching xdp-features"
        ),
    }
    Ok(sockets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtnetlink_messages_are_attributed() {
        let mut sources = BTreeSet::new();
        let mut datagram = nl::encode(32, 0, 0, &[0; 12]); // RTM_NEWRULE
        datagram.extend(nl::encode(44, 0, 0, &[0; 20])); // RTM_NEWTFILTER
        classify(Feed::Rtnl, &datagram, &mut sources);
        assert_eq!(
            sources,
            BTreeSet::from([ChangeSource::Rules, ChangeSource::Tc])
        );
        let mut sources = BTreeSet::new();
        classify(Feed::Rtnl, &nl::encode(16, 0, 0, &[]), &mut sources);
        classify(Feed::Rtnl, &nl::encode(80, 0, 0, &[]), &mut sources);
        classify(Feed::Rtnl, &[1, 2, 3], &mut sources);
        classify(Feed::Netdev, &[], &mut sources);
        classify(Feed::Xfrm, &[], &mut sources);
        assert_eq!(
            sources,
            BTreeSet::from([
                ChangeSource::Links,
                ChangeSource::Netconf,
                ChangeSource::Other,
                ChangeSource::XdpFeatures,
                ChangeSource::Xfrm,
            ])
        );
        assert_eq!(classify_rtnl(100), ChangeSource::Tc); // RTM_NEWCHAIN
        assert_eq!(classify_rtnl(24), ChangeSource::Other); // RTM_NEWROUTE
    }

    #[tokio::test]
    async fn the_timer_fires_alone_when_nothing_else_happens() {
        // No sockets at all: only the timer.
        let mut watch = FactsWatch {
            feeds: Vec::new(),
            timer: tokio::time::interval_at(
                Instant::now() + Duration::from_millis(150),
                Duration::from_millis(150),
            ),
            pending: BTreeSet::new(),
            burst_start: None,
            deadline: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: false,
            buf: Vec::new(),
        };
        let started = Instant::now();
        let change = watch.changed().await.unwrap();
        assert_eq!(change.sources, BTreeSet::from([ChangeSource::Timer]));
        assert!(started.elapsed() >= Duration::from_millis(150));
        let change = watch.changed().await.unwrap();
        assert_eq!(change.sources, BTreeSet::from([ChangeSource::Timer]));
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}
