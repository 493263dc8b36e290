//! The fast path of each router namespace, engine side: starts a watcher per namespace when the
//! fast path is switched on (`fastpath_watch`), turns each snapshot of the namespace's packet
//! path plus the instances' virtual addresses into a plan (`crate::fastpath::analyse`), hands
//! the plan to the data plane, logs what changed, and keeps the report `status` shows.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::{IpAddr, Ipv4Addr},
    time::{SystemTime, UNIX_EPOCH},
};

use tokio::{sync::watch, task::JoinHandle};

use super::{engine::Engine, fastpath_watch::PathSnapshot};
use crate::{
    api::model::{FastPathReport, FloatingIpReport},
    dataplane::fastpath_maps::{FastPathMaps, FipMap, PortMap},
    fastpath::{self, Plan, View},
};

/// One namespace's watcher and the last analysis.
pub(super) struct NamespaceFastPath {
    task: JoinHandle<()>,
    nudge: watch::Sender<u64>,
    /// The watcher looks up veth peers (`fast_path_peer_napi`).
    peer_napi: bool,
    pub report: FastPathReport,
}

impl Drop for NamespaceFastPath {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Engine {
    /// Namespaces that have instances.
    fn instance_namespaces(&self) -> BTreeSet<Option<String>> {
        self.slots.values().map(|s| s.spec.netns.clone()).collect()
    }

    /// Starts or stops watchers to match the configuration and the instances, and asks the
    /// running ones to read their namespace again (the instances may have changed).
    pub(super) fn sync_fastpath(&mut self) {
        let on = self.config.global.fast_path && self.dataplane.supports_fastpath();
        let peer_napi = self.config.global.fast_path_peer_napi;
        let wanted = if on {
            self.instance_namespaces()
        } else {
            BTreeSet::new()
        };
        self.fastpath
            .retain(|ns, f| wanted.contains(ns) && f.peer_napi == peer_napi);
        for ns in wanted {
            if let Some(f) = self.fastpath.get(&ns) {
                f.nudge.send_modify(|n| *n += 1);
                continue;
            }
            let Some(netlink) = self.namespaces.get(&ns).map(|n| n.netlink.clone()) else {
                continue;
            };
            let (nudge, rx) = watch::channel(0);
            let task = super::fastpath_watch::spawn(
                ns.clone(),
                netlink,
                self.events_tx.clone(),
                rx,
                peer_napi,
            );
            self.fastpath.insert(
                ns.clone(),
                NamespaceFastPath {
                    task,
                    nudge,
                    peer_napi,
                    report: FastPathReport {
                        netns: ns,
                        enabled: true,
                        summary: "reading the namespace's packet path".into(),
                        ..FastPathReport::default()
                    },
                },
            );
        }
    }

    /// Asks the watcher of `netns` (if any) to read its namespace again.
    pub(super) fn nudge_fastpath(&self, netns: &Option<String>) {
        if let Some(f) = self.fastpath.get(netns) {
            f.nudge.send_modify(|n| *n += 1);
        }
    }

    /// A watcher read its namespace: analyse, apply, report.
    pub(super) fn on_path_state(&mut self, netns: Option<String>, snap: PathSnapshot) {
        if !self.fastpath.contains_key(&netns) {
            return;
        }
        let mut vips: Vec<(Ipv4Addr, String)> = Vec::new();
        let mut vrrp_ifaces: BTreeSet<String> = BTreeSet::new();
        let mut gateway_ifaces: BTreeSet<String> = BTreeSet::new();
        for s in self.slots.values().filter(|s| s.spec.netns == netns) {
            vrrp_ifaces.insert(s.spec.interface.clone());
            for a in s.spec.vrrp.all_addresses() {
                let dev = a.dev.clone().unwrap_or_else(|| s.spec.interface.clone());
                if let IpAddr::V4(v4) = a.addr {
                    vips.push((v4, dev.clone()));
                }
                gateway_ifaces.insert(dev);
            }
        }
        let route_candidates: Vec<String> =
            gateway_ifaces.difference(&vrrp_ifaces).cloned().collect();
        let mut plan = fastpath::analyse(&View {
            ruleset: &snap.ruleset,
            facts: &snap.facts,
            vips: &vips,
            routes: &snap.routes,
            route_candidates: &route_candidates,
        });
        if !snap.errors.is_empty() {
            // What could not be read might hold a rule that matters.
            for f in &mut plan.fips {
                f.verdict = Err(fastpath::Blocker::general(
                    &format!("floating IP {}", f.floating),
                    &snap.errors.join("; "),
                ));
            }
            plan.route_ports.clear();
        }
        let ifindex = |name: &Option<String>| {
            name.as_deref()
                .and_then(|n| snap.facts.iface(n))
                .map_or(0, |i| i.ifindex)
        };
        let maps = FastPathMaps {
            enabled: true,
            fips: plan
                .fips
                .iter()
                .map(|f| FipMap {
                    floating: f.floating,
                    fixed: f.fixed,
                    ext_ifindex: ifindex(&f.ext),
                    int_ifindex: ifindex(&f.int),
                    fast: f.verdict.is_ok(),
                    hold: snap.held.contains_key(&f.fixed),
                })
                .collect(),
            kernel_addrs: plan.kernel_addrs.iter().copied().collect(),
            ports: snap
                .facts
                .ifaces
                .iter()
                .filter(|i| i.name != "lo")
                .filter_map(|i| {
                    Some(PortMap {
                        ifindex: i.ifindex,
                        mac: i.mac?,
                        xmit: i.xdp_xmit,
                        route: plan.route_ports.contains(&i.name),
                    })
                })
                .collect(),
        };
        self.dataplane.apply_fastpath(&netns, maps);
        if self.config.global.fast_path_peer_napi {
            // Only the ports eligible traffic goes through.
            let used: BTreeSet<&str> = plan
                .eligible_fips()
                .flat_map(|f| f.ext.iter().chain(f.int.iter()).map(String::as_str))
                .chain(plan.route_ports.iter().map(String::as_str))
                .collect();
            let peers: Vec<_> = snap
                .peers
                .iter()
                .filter(|(port, _)| used.contains(port.as_str()))
                .map(|(_, p)| p.clone())
                .collect();
            if !peers.is_empty() {
                self.dataplane.ensure_peer_napi(&peers);
            }
        }
        let report = report(&netns, &plan, &snap);
        if let Some(f) = self.fastpath.get_mut(&netns) {
            log_changes(&f.report, &report);
            f.report = report;
        }
    }

    /// What `status` shows about the fast path of every namespace with instances.
    pub(super) fn fastpath_reports(&self) -> Vec<FastPathReport> {
        if !self.dataplane.supports_fastpath() {
            return Vec::new();
        }
        self.instance_namespaces()
            .into_iter()
            .map(|ns| match self.fastpath.get(&ns) {
                Some(f) => f.report.clone(),
                None => FastPathReport {
                    netns: ns,
                    enabled: false,
                    summary: "off (fast_path is not switched on: the XDP program only \
                              restricts)"
                        .into(),
                    ..FastPathReport::default()
                },
            })
            .collect()
    }
}

fn report(netns: &Option<String>, plan: &Plan, snap: &PathSnapshot) -> FastPathReport {
    let xmit: BTreeMap<&str, bool> = snap
        .facts
        .ifaces
        .iter()
        .map(|i| (i.name.as_str(), i.xdp_xmit))
        .collect();
    let floating_ips: Vec<FloatingIpReport> = plan
        .fips
        .iter()
        .map(|f| {
            let reason = f.verdict.as_ref().err().map(ToString::to_string);
            let egress_ok = f
                .int
                .as_deref()
                .zip(f.ext.as_deref())
                .is_some_and(|(i, e)| xmit.get(i) == Some(&true) && xmit.get(e) == Some(&true));
            let held = snap.held.get(&f.fixed).map(|(n, to)| {
                if *n == usize::MAX {
                    "held back: conntrack could not be read".to_string()
                } else {
                    format!(
                        "held back: conntrack still translates {n} connection(s) of {} to {to} \
                         (opened before the floating IP existed); the kernel keeps that \
                         translation, so the floating IP stays on the kernel path until they end",
                        f.fixed
                    )
                }
            });
            FloatingIpReport {
                floating: f.floating.to_string(),
                fixed: f.fixed.to_string(),
                external: f.ext.clone(),
                internal: f.int.clone(),
                eligible: f.verdict.is_ok(),
                fast: f.verdict.is_ok() && egress_ok && held.is_none(),
                reason: reason
                    .or_else(|| {
                        (!egress_ok).then(|| {
                            "eligible, but its interfaces do not both take XDP frames (a veth \
                             whose peer runs no NAPI): packets go to the kernel"
                                .to_string()
                        })
                    })
                    .or(held.filter(|_| f.verdict.is_ok())),
            }
        })
        .collect();
    let mut blockers: Vec<String> = plan
        .router_blockers
        .iter()
        .map(ToString::to_string)
        .collect();
    blockers.extend(snap.errors.iter().cloned());
    let egress_without_xdp: Vec<String> = snap
        .facts
        .ifaces
        .iter()
        .filter(|i| i.name != "lo" && i.up && !i.xdp_xmit)
        .map(|i| i.name.clone())
        .collect();
    let fast = floating_ips.iter().filter(|f| f.fast).count();
    let mut summary = format!(
        "on: {fast} of {} floating IPs forwarded by XDP",
        floating_ips.len()
    );
    if !plan.route_ports.is_empty() {
        summary.push_str(&format!(
            ", routing between {}",
            plan.route_ports
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if let Some(why) = blockers
        .first()
        .cloned()
        .or_else(|| floating_ips.iter().find_map(|f| f.reason.clone()))
    {
        summary.push_str(&format!("; {why}"));
    }
    FastPathReport {
        netns: netns.clone(),
        enabled: true,
        summary,
        floating_ips,
        route_ports: plan.route_ports.iter().cloned().collect(),
        kernel_addrs: plan.kernel_addrs.iter().map(ToString::to_string).collect(),
        egress_without_xdp,
        blockers,
        analysed_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    }
}

/// Logs every floating IP whose fast path changed, with the reason.
fn log_changes(before: &FastPathReport, now: &FastPathReport) {
    let old: HashMap<&str, (bool, &Option<String>)> = before
        .floating_ips
        .iter()
        .map(|f| (f.floating.as_str(), (f.fast, &f.reason)))
        .collect();
    let netns = now.netns.as_deref().unwrap_or("-");
    for f in &now.floating_ips {
        if old.get(f.floating.as_str()) == Some(&(f.fast, &f.reason)) {
            continue;
        }
        if f.fast {
            tracing::info!(
                netns,
                floating = f.floating,
                fixed = f.fixed,
                "fast path on: while this router is master (owns the floating IP), XDP translates and forwards it"
            );
        } else {
            tracing::info!(
                netns,
                floating = f.floating,
                fixed = f.fixed,
                "fast path off for this floating IP: {}",
                f.reason.as_deref().unwrap_or("-")
            );
        }
    }
    for b in now.blockers.iter().filter(|b| !before.blockers.contains(b)) {
        tracing::info!(netns, "fast path off for all traffic: {b}");
    }
    if before.route_ports != now.route_ports && !now.route_ports.is_empty() {
        tracing::info!(netns, ports = ?now.route_ports, "fast path on for routing between these interfaces");
    }
}
