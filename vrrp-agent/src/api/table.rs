//! Rendering status reports as one table, answering "who is master for router X" at a glance
//! (like `neutron l3-agent-list-hosting-router` with its ha_state column).

use super::model::{BalanceReport, FastPathReport, InstanceReport, StatusReport};

fn since(i: &InstanceReport) -> String {
    match &i.last_transition {
        None => "-".into(),
        Some(t) => {
            let s = t.seconds_ago;
            if s < 120.0 {
                format!("{s:.1}s")
            } else if s < 7200.0 {
                format!("{:.0}m", s / 60.0)
            } else {
                format!("{:.1}h", s / 3600.0)
            }
        }
    }
}

/// The FAST cell of an instance: its namespace's fast path (`-`: no XDP data plane; `off`:
/// not switched on; `3/4`: floating IPs forwarded by XDP of those the rules name, `+rt`:
/// plain routing too).
fn fast(fastpath: Option<&FastPathReport>) -> String {
    match fastpath {
        None => "-".into(),
        Some(f) if !f.enabled => "off".into(),
        Some(f) => {
            let on = f.floating_ips.iter().filter(|x| x.fast).count();
            let rt = if f.route_ports.is_empty() { "" } else { "+rt" };
            format!("{on}/{}{rt}", f.floating_ips.len())
        }
    }
}

/// One table over all agents' instances, sorted by namespace and name, then one line per
/// namespace whose fast path is on but not for everything, saying why.
pub fn render(reports: &[StatusReport]) -> String {
    let mut rows: Vec<(&InstanceReport, Option<&FastPathReport>)> = reports
        .iter()
        .flat_map(|r| {
            r.instances
                .iter()
                .map(|i| (i, r.fastpath.iter().find(|f| f.netns == i.netns)))
        })
        .collect();
    rows.sort_by(|a, b| (&a.0.netns, &a.0.name).cmp(&(&b.0.netns, &b.0.name)));
    let header = [
        "INSTANCE",
        "NETNS",
        "IFACE",
        "VRID",
        "STATE",
        "PRIO",
        "MASTER",
        "SINCE",
        "REASON",
        "ADV RX/TX",
        "ERR",
        "XDP FWD/DROP",
        "FAST",
    ];
    let mut cells: Vec<Vec<String>> = vec![
        header
            .iter()
            .map(std::string::ToString::to_string)
            .collect(),
    ];
    for (i, fastpath) in rows {
        let prio = if i.priority == i.base_priority {
            i.priority.to_string()
        } else {
            format!("{} ({})", i.priority, i.base_priority)
        };
        let master = match (&i.master, i.master_is_self) {
            (_, true) => "self".to_string(),
            (Some(m), false) => m.clone(),
            (None, false) => "-".into(),
        };
        let reason = i
            .last_transition
            .as_ref()
            .map(|t| t.reason.clone())
            .unwrap_or_default();
        let errors: u64 = i.counters.rx_errors.values().sum();
        let xdp = match &i.dataplane {
            None => "-".to_string(),
            Some(d) => {
                let sum = |names: &[&str]| -> u64 {
                    names.iter().map(|n| d.get(*n).copied().unwrap_or(0)).sum()
                };
                format!(
                    "{}/{}",
                    sum(&[
                        "redirected",
                        "passed_to_kernel",
                        "vip_passed",
                        "kernel_path",
                        "egress_no_xdp"
                    ]),
                    sum(&[
                        "not_owned_dropped",
                        "lease_expired_dropped",
                        "accept_mode_dropped",
                        "adverts_bad_ttl",
                        "adverts_spoofed"
                    ])
                )
            }
        };
        cells.push(vec![
            i.name.clone(),
            i.netns.clone().unwrap_or_else(|| "-".into()),
            // As `ip link` shows a macvlan: `vrrp.1@eth0`.
            match &i.vmac {
                Some(v) => format!("{v}@{}", i.interface),
                None => i.interface.clone(),
            },
            i.vrid.to_string(),
            i.state.clone(),
            prio,
            master,
            since(i),
            reason,
            format!("{}/{}", i.counters.adverts_rx, i.counters.adverts_tx),
            errors.to_string(),
            xdp,
            fast(fastpath),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        debug_assert_eq!(row.len(), header.len(), "one cell per column");
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if cells.len() == 1 {
        out.push_str("(no instances)\n");
    }
    let mut notes: Vec<&FastPathReport> = reports
        .iter()
        .flat_map(|r| &r.fastpath)
        .filter(|f| f.enabled && (!f.blockers.is_empty() || f.floating_ips.iter().any(|x| !x.fast)))
        .collect();
    notes.sort_by(|a, b| a.netns.cmp(&b.netns));
    notes.dedup_by(|a, b| a.netns == b.netns);
    for f in notes {
        out.push_str(&format!(
            "fast path {}: {}\n",
            f.netns.as_deref().unwrap_or("-"),
            f.summary
        ));
    }
    for b in reports.iter().filter_map(|r| r.balance.as_ref()) {
        out.push_str(&balance_line(b));
    }
    let mut settings: Vec<&str> = reports
        .iter()
        .filter_map(|r| r.agent.settings.as_deref())
        .collect();
    settings.sort();
    settings.dedup();
    for s in settings {
        out.push_str(&format!("settings: {s}\n"));
    }
    out
}

/// `balance: master for 10 of 30 balanced routers; last move VR_7 from 10.0.0.1 (its node
/// master for 12, this one now 10) 3.2 s ago`.
fn balance_line(b: &BalanceReport) -> String {
    let mut line = format!(
        "balance: master for {} of {} balanced routers",
        b.masters, b.balanced
    );
    if let Some(m) = &b.moving {
        line.push_str(&format!("; moving {m}"));
    }
    match &b.last_move {
        Some(m) => line.push_str(&format!(
            "; last move {} from {} (its node master for {}, this one now {}) {:.1} s ago",
            m.instance, m.from, m.from_load, m.to_load, m.seconds_ago
        )),
        None => line.push_str("; no move yet"),
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::model::{AgentInfo, BalanceMoveReport, CountersReport};

    fn instance(name: &str, dataplane: Option<BTreeMap<String, u64>>) -> InstanceReport {
        InstanceReport {
            name: name.into(),
            netns: Some("qrouter-1".into()),
            interface: "ha-1".into(),
            vmac: None,
            vrid: 7,
            version: 3,
            family: "ipv4".into(),
            state: "MASTER".into(),
            priority: 90,
            base_priority: 100,
            master: None,
            master_is_self: true,
            advert_interval_ms: 1000,
            master_advert_interval_ms: 1000,
            last_transition: None,
            tracked: vec![],
            counters: CountersReport::default(),
            ah_sequence: None,
            v3_checksum: None,
            dataplane,
        }
    }

    fn report(instances: Vec<InstanceReport>) -> StatusReport {
        StatusReport {
            agent: AgentInfo {
                version: "test".into(),
                pid: 1,
                config: "/etc/x".into(),
                uptime_secs: 1.0,
                dataplane: "none".into(),
                pin_dir: None,
                dataplane_counters: None,
                settings: None,
                keepalived_pid: None,
            },
            instances,
            fastpath: vec![],
            balance: None,
            conntrackd: vec![],
        }
    }

    #[test]
    fn the_balance_line_says_the_load_and_the_last_move() {
        let mut r = report(vec![instance("VR_7", None)]);
        r.balance = Some(BalanceReport {
            balanced: 30,
            masters: 10,
            moves: 10,
            last_move: Some(BalanceMoveReport {
                instance: "VR_7".into(),
                vrid: 7,
                from: "10.0.0.1".into(),
                from_load: 12,
                to_load: 10,
                seconds_ago: 3.25,
            }),
            ..BalanceReport::default()
        });
        let text = render(&[r]);
        assert!(
            text.contains(
                "balance: master for 10 of 30 balanced routers; last move VR_7 from 10.0.0.1 \
                 (its node master for 12, this one now 10) 3.2 s ago"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_settings_in_force_are_listed_once_under_the_table() {
        let mut a = report(vec![]);
        a.agent.settings = Some("process_model = node (/etc/vrrp-agent/keepalived.toml)".into());
        let b = a.clone();
        let out = render(&[a, b]);
        assert_eq!(
            out.matches("settings: process_model = node").count(),
            1,
            "{out}"
        );
    }

    #[test]
    fn xdp_column_shows_forwarded_and_dropped_sums() {
        let counters: BTreeMap<String, u64> = [
            ("redirected", 5),
            ("passed_to_kernel", 2),
            ("vip_passed", 3),
            ("not_owned_dropped", 4),
            ("lease_expired_dropped", 1),
            ("accept_mode_dropped", 2),
            ("adverts_bad_ttl", 0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let out = render(&[report(vec![
            instance("with-xdp", Some(counters)),
            instance("without", None),
        ])]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].ends_with("XDP FWD/DROP  FAST"), "{out}");
        let with = lines.iter().find(|l| l.starts_with("with-xdp")).unwrap();
        assert!(with.ends_with(" 10/7          -"), "{out}");
        let without = lines.iter().find(|l| l.starts_with("without")).unwrap();
        assert!(without.ends_with(" -             -"), "{out}");
        assert!(
            with.contains("90 (100)"),
            "effective and base priority: {out}"
        );
    }

    #[test]
    fn the_fast_column_and_notes_say_what_the_fast_path_does_and_why_not() {
        use crate::api::model::FloatingIpReport;
        let fip = |floating: &str, fast: bool, reason: Option<&str>| FloatingIpReport {
            floating: floating.into(),
            fixed: "10.0.10.5".into(),
            external: Some("qg-1".into()),
            internal: Some("qr-1".into()),
            fast,
            eligible: fast,
            reason: reason.map(str::to_string),
        };
        let mut r = report(vec![instance("router-1", None)]);
        r.fastpath = vec![FastPathReport {
            netns: Some("qrouter-1".into()),
            enabled: true,
            summary: "on: 1 of 2 floating IPs forwarded by XDP; floating IP 203.0.113.21: \
                      random-fully"
                .into(),
            floating_ips: vec![
                fip("203.0.113.20", true, None),
                fip("203.0.113.21", false, Some("random-fully")),
            ],
            ..FastPathReport::default()
        }];
        let out = render(&[r.clone()]);
        let row = out.lines().find(|l| l.starts_with("router-1")).unwrap();
        assert!(row.ends_with(" 1/2"), "{out}");
        assert!(
            out.contains("fast path qrouter-1: on: 1 of 2 floating IPs forwarded by XDP; floating IP 203.0.113.21: random-fully"),
            "{out}"
        );
        r.fastpath[0].enabled = false;
        let out = render(&[r]);
        let row = out.lines().find(|l| l.starts_with("router-1")).unwrap();
        assert!(row.ends_with(" off"), "{out}");
        assert!(!out.contains("fast path qrouter-1"), "{out}");
    }

    #[test]
    fn the_iface_column_names_the_macvlan_of_use_vmac_as_ip_link_does() {
        let mut with = instance("with-vmac", None);
        with.vmac = Some("vrrp.7".into());
        let out = render(&[report(vec![with, instance("plain", None)])]);
        let row = |name: &str| {
            out.lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .to_string()
        };
        assert!(row("with-vmac").contains(" vrrp.7@ha-1 "), "{out}");
        assert!(row("plain").contains(" ha-1 "), "{out}");
    }

    #[test]
    fn empty_report_says_so() {
        assert!(render(&[report(vec![])]).contains("(no instances)"));
    }
}
