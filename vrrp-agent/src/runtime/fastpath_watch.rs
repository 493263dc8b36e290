//! One task per router namespace with the fast path on: reads the namespace's packet path
//! (`pathstate`: netfilter rules of both backends, policy routing, tc, xfrm, forwarding
//! settings, XDP redirect targets, and the route of every fixed IP the NAT rules name) and
//! hands it to the engine, then waits for any of it to change: nftables notifications (which
//! include iptables-nft), the facts watcher (links, rules, tc, netconf, xfrm, xdp-features), a
//! poll of the legacy tables' signature and of the fixed IPs' routes, or a nudge from the
//! engine (its instances changed). Bursts are coalesced.

use std::{collections::BTreeMap, net::Ipv4Addr, time::Duration};

use tokio::sync::{mpsc, watch};

use super::events::EngineEvent;
use crate::{
    dataplane::peer_napi::PeerRef,
    fastpath,
    netlink::Netlink,
    pathstate::{self, Facts, FactsWatch, NftWatcher, Ruleset},
};

/// How often the legacy tables and the routes of fixed IPs are looked at again.
const POLL: Duration = Duration::from_secs(2);
/// The facts watcher's timer (sysctls have no notifications).
const FACTS_TIMER: Duration = Duration::from_secs(5);
/// Quiet time after a change before reading again (a Neutron update is a burst).
const SETTLE: Duration = Duration::from_millis(30);

/// A namespace's packet path as read at one moment.
#[derive(Debug)]
pub struct PathSnapshot {
    pub ruleset: Ruleset,
    pub facts: Facts,
    /// The interface the FIB routes each fixed IP of the NAT rules through.
    pub routes: BTreeMap<Ipv4Addr, String>,
    /// The other ends of the namespace's veths that do not take redirected frames, by the
    /// router's interface name (only looked up when `fast_path_peer_napi` is on).
    pub peers: BTreeMap<String, PeerRef>,
    /// Fixed IPs whose connections conntrack still translates another way than to their
    /// floating IP (opened before it existed): how many, and to what.
    pub held: pathstate::conntrack::Held,
    /// What could not be read (the analysis then keeps everything on the kernel path).
    pub errors: Vec<String>,
}

/// Starts the watcher; it stops when the engine goes away or the nudge sender is dropped.
pub fn spawn(
    netns: Option<String>,
    netlink: Netlink,
    events: mpsc::Sender<EngineEvent>,
    nudge: watch::Receiver<u64>,
    peer_napi: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(netns, netlink, events, nudge, peer_napi))
}

async fn run(
    netns: Option<String>,
    netlink: Netlink,
    events: mpsc::Sender<EngineEvent>,
    mut nudge: watch::Receiver<u64>,
    peer_napi: bool,
) {
    let name = netns.clone().unwrap_or_else(|| "-".into());
    let mut nft = match NftWatcher::open(netns.as_deref()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(netns = name, "not watching nftables changes: {e}");
            None
        }
    };
    let mut facts_watch = match FactsWatch::open(netns.as_deref(), FACTS_TIMER) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(
                netns = name,
                "not watching interface and routing changes: {e}"
            );
            None
        }
    };
    let mut legacy = legacy_signature(&netns).await;
    // Floating IPs whose fixed IP had no connection translated otherwise when first seen: new
    // connections only ever get the floating IP, so they need no second look.
    let mut clean: std::collections::BTreeSet<(Ipv4Addr, Ipv4Addr)> = Default::default();
    loop {
        let mut snapshot = read(&netns, &netlink).await;
        let pending: BTreeMap<Ipv4Addr, Ipv4Addr> = fastpath::candidates(&snapshot.ruleset)
            .into_iter()
            .map(|(floating, fixed)| (fixed, floating))
            .filter(|p| !clean.contains(p))
            .collect();
        snapshot.held = conntrack_held(&netns, &pending).await;
        clean.extend(
            pending
                .into_iter()
                .filter(|(f, _)| !snapshot.held.contains_key(f)),
        );
        let held = snapshot.held.clone();
        let held_pairs: BTreeMap<Ipv4Addr, Ipv4Addr> = held
            .keys()
            .filter_map(|f| {
                fastpath::candidates(&snapshot.ruleset)
                    .into_iter()
                    .find(|(_, x)| x == f)
                    .map(|(fl, x)| (x, fl))
            })
            .collect();
        if peer_napi {
            snapshot.peers = peers(&netns, &netlink, &snapshot.facts).await;
        }
        let routes = snapshot.routes.clone();
        let fixed: Vec<Ipv4Addr> = fastpath::candidates(&snapshot.ruleset)
            .into_values()
            .collect();
        let names: BTreeMap<u32, String> = snapshot
            .facts
            .ifaces
            .iter()
            .map(|i| (i.ifindex, i.name.clone()))
            .collect();
        let ev = EngineEvent::PathState {
            netns: netns.clone(),
            snapshot: Box::new(snapshot),
        };
        if events.send(ev).await.is_err() {
            return;
        }
        let mut poll = tokio::time::interval(POLL);
        poll.tick().await;
        loop {
            tokio::select! {
                r = async { nft.as_mut()?.changed().await.ok() }, if nft.is_some() => {
                    if r.is_none() { nft = None; continue; }
                    break;
                }
                r = async { facts_watch.as_mut()?.changed().await.ok() }, if facts_watch.is_some() => {
                    if r.is_none() { facts_watch = None; continue; }
                    break;
                }
                changed = nudge.changed() => {
                    if changed.is_err() { return; }
                    break;
                }
                _ = poll.tick() => {
                    let sig = legacy_signature(&netns).await;
                    if sig != legacy {
                        legacy = sig;
                        break;
                    }
                    if !held_pairs.is_empty() && conntrack_held(&netns, &held_pairs).await != held {
                        break;
                    }
                    if fixed_routes(&netlink, fixed.iter().copied(), &names).await != routes {
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(SETTLE).await;
    }
}

/// The connections that hold fixed IPs back (an unreadable table holds every one of them).
async fn conntrack_held(
    netns: &Option<String>,
    fips: &BTreeMap<Ipv4Addr, Ipv4Addr>,
) -> pathstate::conntrack::Held {
    if fips.is_empty() {
        return Default::default();
    }
    let ns = netns.clone();
    let query = fips.clone();
    let result =
        tokio::task::spawn_blocking(move || pathstate::conntrack::held(ns.as_deref(), &query))
            .await;
    let why = match result {
        Ok(Ok(h)) => return h,
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::warn!(
        netns = netns.as_deref().unwrap_or("-"),
        "cannot read conntrack, new floating IPs stay on the kernel path: {why}"
    );
    fips.keys()
        .map(|fixed| (*fixed, (usize::MAX, Ipv4Addr::UNSPECIFIED)))
        .collect()
}

async fn legacy_signature(netns: &Option<String>) -> Option<u64> {
    let ns = netns.clone();
    tokio::task::spawn_blocking(move || pathstate::legacy_signature(ns.as_deref()).ok())
        .await
        .ok()
        .flatten()
}

/// The interface each of `fixed` is routed through.
async fn fixed_routes(
    netlink: &Netlink,
    fixed: impl Iterator<Item = Ipv4Addr>,
    names: &BTreeMap<u32, String>,
) -> BTreeMap<Ipv4Addr, String> {
    let mut out = BTreeMap::new();
    for f in fixed {
        if let Ok(Some(oif)) = netlink.route_oif(f).await
            && let Some(name) = names.get(&oif)
        {
            out.insert(f, name.clone());
        }
    }
    out
}

/// Reads everything the analysis needs.
async fn read(netns: &Option<String>, netlink: &Netlink) -> PathSnapshot {
    let ns = netns.clone();
    let read = tokio::task::spawn_blocking(move || {
        (
            pathstate::read_ruleset(ns.as_deref()),
            pathstate::read_facts(ns.as_deref()),
        )
    })
    .await;
    let mut errors = Vec::new();
    let (ruleset, facts) = match read {
        Ok((r, f)) => (
            r.unwrap_or_else(|e| {
                errors.push(format!("reading the netfilter rules: {e}"));
                Ruleset::default()
            }),
            f.unwrap_or_else(|e| {
                errors.push(format!("reading interfaces and settings: {e}"));
                Facts::default()
            }),
        ),
        Err(e) => {
            errors.push(format!("reading the namespace: {e}"));
            (Ruleset::default(), Facts::default())
        }
    };
    let names: BTreeMap<u32, String> = facts
        .ifaces
        .iter()
        .map(|i| (i.ifindex, i.name.clone()))
        .collect();
    let fixed = fastpath::candidates(&ruleset).into_values();
    let routes = fixed_routes(netlink, fixed, &names).await;
    PathSnapshot {
        ruleset,
        facts,
        routes,
        peers: BTreeMap::new(),
        held: Default::default(),
        errors,
    }
}

/// The namespace handles a veth's other end may be in: every `ip netns` namespace and the
/// host's.
fn namespace_handles() -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = std::fs::read_dir(crate::netns::NETNS_RUN_DIR)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.push("/proc/1/ns/net".into());
    out
}

/// The other ends of the namespace's veths that do not take redirected frames.
async fn peers(
    netns: &Option<String>,
    netlink: &Netlink,
    facts: &Facts,
) -> BTreeMap<String, PeerRef> {
    let Ok(links) = netlink.links().await else {
        return BTreeMap::new();
    };
    let own = match netns {
        Some(n) => crate::netns::path(n),
        None => "/proc/self/ns/net".into(),
    };
    let mut by_id: BTreeMap<i32, std::path::PathBuf> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for l in links {
        let Some(peer) = l.link else { continue };
        let Some(f) = facts.iface(&l.name) else {
            continue;
        };
        if f.kind != "veth" || f.xdp_xmit {
            continue;
        }
        let path = match l.link_netnsid {
            None => own.clone(),
            Some(id) => {
                if by_id.is_empty() {
                    for h in namespace_handles() {
                        if let Ok(Some(i)) = netlink.nsid_of(&h).await {
                            by_id.entry(i).or_insert(h);
                        }
                    }
                }
                match by_id.get(&id) {
                    Some(p) => p.clone(),
                    None => {
                        tracing::warn!(
                            netns = netns.as_deref().unwrap_or("-"),
                            interface = l.name,
                            "the namespace of this veth's other end has no handle in /run/netns: \
                             cannot make it take redirected frames"
                        );
                        continue;
                    }
                }
            }
        };
        out.insert(
            l.name.clone(),
            PeerRef {
                netns: path,
                ifindex: peer,
            },
        );
    }
    out
}
