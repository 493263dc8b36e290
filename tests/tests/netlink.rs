//! `vrrp_agent::netlink` against the kernel, in namespaces these tests create: addresses and
//! routes it applies are checked with `ip -j` (not only with its own reader), idempotence,
//! the VRRP source address, link and address events, an event overrun, and the isolation of
//! handles on namespaces with identical contents. Needs root; no eBPF object.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use vrrp_agent::{
    fsm::{VirtualAddress, VirtualRoute},
    netlink::{Netlink, NetlinkError, NetlinkEvent},
    netns::NetnsError,
};
use vrrp_tests::{
    netlink_support::{
        Lan, addr_entry, addr_info, assert_no_event, drain, eventually, ip_json, link, mac, routes,
        wait_event,
    },
    netns::{NetNs, veth},
    require_root,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn vip(text: &str, prefix_len: u8) -> VirtualAddress {
    VirtualAddress {
        prefix_len,
        ..VirtualAddress::host(ip(text))
    }
}

fn route(dst: &str, prefix_len: u8) -> VirtualRoute {
    VirtualRoute {
        dst: ip(dst),
        prefix_len,
        via: None,
        dev: None,
        scope: None,
        protocol: None,
        table: None,
        metric: None,
        src: None,
        no_track: false,
    }
}

/// Opens a handle on `ns` and finds `dev` in it.
async fn open_on(ns: &NetNs, dev: &str) -> (Netlink, vrrp_agent::netlink::NetlinkEvents, u32) {
    let (nl, events) = Netlink::open(Some(ns.name())).expect("open netlink");
    let index = nl
        .link_by_name(dev)
        .await
        .expect("link_by_name")
        .unwrap_or_else(|| panic!("{dev} not found through netlink"))
        .index;
    (nl, events, index)
}

#[tokio::test]
async fn ipv4_addresses_are_added_and_removed_idempotently() {
    require_root();
    let lan = Lan::new();
    let (nl, _events, vx0) = open_on(&lan.ns, "vx0").await;

    let mut labelled = vip("192.0.2.10", 24);
    labelled.scope = Some("link".into());
    labelled.label = Some("vx0:vip".into());
    let host = vip("198.51.100.7", 32);
    for _ in 0..2 {
        nl.add_address(vx0, &labelled).await.expect("add labelled");
        nl.add_address(vx0, &host).await.expect("add /32");
    }

    let entry = addr_entry(&lan.ns, "vx0", labelled.addr).expect("192.0.2.10 on vx0");
    assert_eq!(entry["prefixlen"], 24);
    assert_eq!(entry["scope"], "link");
    assert_eq!(entry["label"], "vx0:vip");
    let entry = addr_entry(&lan.ns, "vx0", host.addr).expect("198.51.100.7 on vx0");
    assert_eq!(entry["prefixlen"], 32);
    assert_eq!(entry["scope"], "global");
    let inet = addr_info(&lan.ns, "vx0")
        .into_iter()
        .filter(|a| a["family"] == "inet")
        .count();
    assert_eq!(inet, 2, "adding twice must not duplicate anything");

    // Our reader agrees with `ip`.
    let ours = nl.addresses(vx0).await.expect("addresses");
    let mine = ours
        .iter()
        .find(|a| a.addr == labelled.addr)
        .expect("read back");
    assert_eq!((mine.prefix_len, mine.scope), (24, 253));
    assert_eq!(mine.label.as_deref(), Some("vx0:vip"));
    assert!(!mine.secondary);

    for _ in 0..2 {
        nl.del_address(vx0, &labelled).await.expect("del labelled");
        nl.del_address(vx0, &host).await.expect("del /32");
    }
    assert_eq!(addr_entry(&lan.ns, "vx0", labelled.addr), None);
    assert_eq!(addr_entry(&lan.ns, "vx0", host.addr), None);
    // Deleting from an interface that is gone is fine too.
    let mut elsewhere = host.clone();
    elsewhere.dev = Some("vx-gone".into());
    nl.del_address(vx0, &elsewhere)
        .await
        .expect("del on a missing dev");
}

/// keepalived 2.2.7 sends IFA_BROADCAST only for an address configured with `brd`
/// (vrrp_ipaddress.c `netlink_ipaddress`: `if (ip_addr->u.sin.sin_brd.s_addr)`), `+` / `-`
/// computed for prefixes up to /30: `ip addr` shows no `brd` on a plain virtual address.
#[tokio::test]
async fn ipv4_addresses_get_a_broadcast_address_only_when_configured() {
    require_root();
    let lan = Lan::new();
    let (nl, _events, vx0) = open_on(&lan.ns, "vx0").await;
    let with_brd = |addr: &str, prefix_len: u8, brd: Option<&str>| VirtualAddress {
        broadcast: brd.map(String::from),
        ..vip(addr, prefix_len)
    };
    let cases = [
        (with_brd("169.254.0.1", 24, None), None),
        (with_brd("192.0.2.10", 24, Some("+")), Some("192.0.2.255")),
        (
            with_brd("198.51.100.10", 24, Some("-")),
            Some("198.51.100.0"),
        ),
        (
            with_brd("203.0.113.10", 24, Some("203.0.113.77")),
            Some("203.0.113.77"),
        ),
        (with_brd("10.1.1.1", 31, Some("+")), None),
    ];
    for (va, _) in &cases {
        nl.add_address(vx0, va).await.expect("add");
    }
    for (va, brd) in &cases {
        let entry = addr_entry(&lan.ns, "vx0", va.addr).expect("on vx0");
        assert_eq!(
            entry["broadcast"].as_str(),
            *brd,
            "{}/{} brd {:?}: {entry}",
            va.addr,
            va.prefix_len,
            va.broadcast
        );
    }
    for (va, _) in &cases {
        nl.del_address(vx0, va).await.expect("del");
        assert_eq!(addr_entry(&lan.ns, "vx0", va.addr), None);
    }
}

#[tokio::test]
async fn ipv6_addresses_skip_dad_and_are_idempotent() {
    require_root();
    let lan = Lan::new();
    let (nl, _events, vx0) = open_on(&lan.ns, "vx0").await;

    // Control: the kernel does run DAD on this interface, so `tentative` is observable.
    lan.ns
        .ip(&["-6", "addr", "add", "2001:db8::20/64", "dev", "vx0"]);
    let control = addr_entry(&lan.ns, "vx0", ip("2001:db8::20")).expect("control address");
    assert_eq!(control["tentative"], true, "DAD runs here: {control}");

    let v6 = vip("2001:db8::10", 64);
    nl.add_address(vx0, &v6).await.expect("add v6");
    nl.add_address(vx0, &v6).await.expect("add v6 again");
    let entry = addr_entry(&lan.ns, "vx0", v6.addr).expect("2001:db8::10 on vx0");
    assert_eq!(entry["prefixlen"], 64);
    assert_eq!(entry["nodad"], true, "{entry}");
    assert!(entry.get("tentative").is_none(), "no DAD wait: {entry}");
    let ours = nl.addresses(vx0).await.expect("addresses");
    assert!(
        ours.iter().any(|a| a.addr == v6.addr && !a.tentative),
        "{ours:?}"
    );
    assert_eq!(
        addr_info(&lan.ns, "vx0")
            .iter()
            .filter(|a| a["local"] == "2001:db8::10")
            .count(),
        1
    );

    nl.del_address(vx0, &v6).await.expect("del v6");
    nl.del_address(vx0, &v6).await.expect("del v6 again");
    assert_eq!(addr_entry(&lan.ns, "vx0", v6.addr), None);
}

#[tokio::test]
async fn labels_not_starting_with_the_interface_name_are_refused() {
    require_root();
    let lan = Lan::new();
    let (nl, _events, vx0) = open_on(&lan.ns, "vx0").await;
    let mut bad = vip("192.0.2.11", 32);
    bad.label = Some("eth0:vip".into());
    let err = nl.add_address(vx0, &bad).await.unwrap_err();
    assert!(matches!(err, NetlinkError::BadLabel { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("eth0:vip") && text.contains("`vx0`"),
        "{text}"
    );
    assert_eq!(addr_entry(&lan.ns, "vx0", bad.addr), None);

    let mut elsewhere = vip("192.0.2.12", 32);
    elsewhere.dev = Some("vx-missing".into());
    let err = nl.add_address(vx0, &elsewhere).await.unwrap_err();
    assert!(
        matches!(&err, NetlinkError::UnknownInterface { name, .. } if name == "vx-missing"),
        "{err}"
    );
}

#[tokio::test]
async fn routes_are_added_replaced_and_removed_idempotently() {
    require_root();
    let lan = Lan::new();
    lan.ns.ip(&["addr", "add", "10.1.0.2/24", "dev", "vx0"]);
    lan.peer.ip(&["addr", "add", "10.1.0.1/24", "dev", "vx1"]);
    let (nl, _events, vx0) = open_on(&lan.ns, "vx0").await;

    // Default route via a gateway on the veth subnet, keepalived's `protocol static`.
    let mut default = route("0.0.0.0", 0);
    default.via = Some(ip("10.1.0.1"));
    default.protocol = Some("static".into());
    nl.add_route(&default, Some(vx0))
        .await
        .expect("add default");
    nl.add_route(&default, Some(vx0))
        .await
        .expect("add default again");
    let found = routes(&lan.ns, &["default"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["gateway"], "10.1.0.1");
    assert_eq!(found[0]["dev"], "vx0");
    assert_eq!(found[0]["protocol"], "static");

    // Replace-or-create: a new gateway replaces the route instead of failing.
    let mut moved = default.clone();
    moved.via = Some(ip("10.1.0.3"));
    nl.add_route(&moved, Some(vx0))
        .await
        .expect("replace default");
    let found = routes(&lan.ns, &["default"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["gateway"], "10.1.0.3");
    nl.del_route(&moved, Some(vx0)).await.expect("del default");
    nl.del_route(&moved, Some(vx0))
        .await
        .expect("del default again");
    assert_eq!(
        routes(&lan.ns, &["default"]),
        Vec::<serde_json::Value>::new()
    );

    // A `scope link` subnet route on the instance's interface (dev defaulted).
    let mut subnet = route("198.51.100.0", 24);
    subnet.scope = Some("link".into());
    nl.add_route(&subnet, Some(vx0)).await.expect("add subnet");
    nl.add_route(&subnet, Some(vx0))
        .await
        .expect("add subnet again");
    let found = routes(&lan.ns, &["198.51.100.0/24"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["scope"], "link");
    assert_eq!(found[0]["dev"], "vx0");
    assert!(found[0].get("gateway").is_none());
    nl.del_route(&subnet, Some(vx0)).await.expect("del subnet");
    nl.del_route(&subnet, Some(vx0))
        .await
        .expect("del subnet again");
    assert!(routes(&lan.ns, &["198.51.100.0/24"]).is_empty());

    // Metric and preferred source (keepalived's `metric` and `src`).
    let mut sourced = route("192.0.2.0", 24);
    sourced.via = Some(ip("10.1.0.1"));
    sourced.metric = Some(250);
    sourced.src = Some(ip("10.1.0.2"));
    nl.add_route(&sourced, Some(vx0))
        .await
        .expect("add with metric and src");
    let found = routes(&lan.ns, &["192.0.2.0/24"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["metric"], 250);
    assert_eq!(found[0]["prefsrc"], "10.1.0.2");
    nl.del_route(&sourced, Some(vx0))
        .await
        .expect("del with metric");
    assert!(routes(&lan.ns, &["192.0.2.0/24"]).is_empty());

    // A route in table 100, named device.
    let mut tabled = route("203.0.113.0", 24);
    tabled.via = Some(ip("10.1.0.1"));
    tabled.dev = Some("vx0".into());
    tabled.table = Some(100);
    nl.add_route(&tabled, None).await.expect("add table 100");
    nl.add_route(&tabled, None)
        .await
        .expect("add table 100 again");
    let found = routes(&lan.ns, &["table", "100"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["dst"], "203.0.113.0/24");
    assert_eq!(found[0]["gateway"], "10.1.0.1");
    assert_eq!(found[0]["dev"], "vx0");
    assert!(
        routes(&lan.ns, &["203.0.113.0/24"]).is_empty(),
        "not in main"
    );
    nl.del_route(&tabled, None).await.expect("del table 100");
    nl.del_route(&tabled, None)
        .await
        .expect("del table 100 again");
    assert!(routes(&lan.ns, &["table", "100"]).is_empty());

    // Unknown devices: an error when adding, nothing to do when deleting.
    let mut nowhere = route("192.0.2.0", 24);
    nowhere.dev = Some("vx-missing".into());
    let err = nl.add_route(&nowhere, Some(vx0)).await.unwrap_err();
    assert!(err.to_string().contains("vx-missing"), "{err}");
    nl.del_route(&nowhere, Some(vx0))
        .await
        .expect("del on a missing dev");
}

#[tokio::test]
async fn ipv6_default_route_via_a_gateway() {
    require_root();
    let lan = Lan::new();
    let (nl, _events, vx0) = open_on(&lan.ns, "vx0").await;
    nl.add_address(vx0, &vip("2001:db8:1::2", 64))
        .await
        .expect("add v6 address");

    let mut default = route("::", 0);
    default.via = Some(ip("2001:db8:1::1"));
    default.protocol = Some("4".into());
    for _ in 0..2 {
        nl.add_route(&default, Some(vx0)).await.expect("add ::/0");
    }
    let found = ip_json(&lan.ns, &["-6", "route", "show", "default"]);
    let found: Vec<_> = found.as_array().cloned().unwrap_or_default();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["gateway"], "2001:db8:1::1");
    assert_eq!(found[0]["dev"], "vx0");
    assert_eq!(found[0]["protocol"], "static");
    for _ in 0..2 {
        nl.del_route(&default, Some(vx0)).await.expect("del ::/0");
    }
    assert!(
        ip_json(&lan.ns, &["-6", "route", "show", "default"])
            .as_array()
            .is_none_or(std::vec::Vec::is_empty)
    );
}

#[tokio::test]
async fn primary_address_ignores_virtual_addresses_and_uses_link_local_for_ipv6() {
    require_root();
    let lan = Lan::new();
    let (nl, _events, vx0) = open_on(&lan.ns, "vx0").await;

    // The VIP goes on first, so the kernel lists it before the real address.
    let first_vip = vip("192.0.2.100", 32);
    nl.add_address(vx0, &first_vip).await.expect("add vip");
    lan.ns.ip(&["addr", "add", "10.1.0.2/24", "dev", "vx0"]);
    let second_vip = vip("10.1.0.100", 24);
    nl.add_address(vx0, &second_vip)
        .await
        .expect("add secondary vip");
    let inet: Vec<_> = addr_info(&lan.ns, "vx0")
        .into_iter()
        .filter(|a| a["family"] == "inet")
        .collect();
    assert_eq!(inet[0]["local"], "192.0.2.100", "precondition: {inet:?}");
    let secondary = inet.iter().find(|a| a["local"] == "10.1.0.100").unwrap();
    assert_eq!(secondary["secondary"], true, "precondition: {secondary}");

    let vips = [first_vip.addr, second_vip.addr];
    let chosen = nl
        .primary_address(vx0, false, &vips)
        .await
        .expect("primary");
    assert_eq!(chosen, Some(ip("10.1.0.2")));
    let chosen = nl.primary_address(vx0, false, &[]).await.expect("primary");
    assert_eq!(chosen, Some(first_vip.addr), "the kernel's first primary");
    let chosen = nl
        .primary_address(vx0, false, &[first_vip.addr])
        .await
        .expect("primary");
    assert_eq!(chosen, Some(ip("10.1.0.2")), "never a secondary");

    // IPv6: a global VIP and a link-local VIP, neither may be chosen.
    let v6_vips = [ip("2001:db8::100"), ip("fe80::100")];
    for addr in v6_vips {
        nl.add_address(vx0, &vip(&addr.to_string(), 64))
            .await
            .expect("add v6 vip");
    }
    let chosen = eventually(Duration::from_secs(10), "a settled link-local", || {
        let nl = nl.clone();
        async move {
            nl.primary_address(vx0, true, &v6_vips)
                .await
                .expect("primary v6")
        }
    })
    .await;
    let v6_info: Vec<_> = addr_info(&lan.ns, "vx0")
        .into_iter()
        .filter(|a| a["family"] == "inet6")
        .collect();
    let kernel_ll: Vec<&str> = v6_info
        .iter()
        .filter(|a| a["scope"] == "link" && a["local"] != "fe80::100")
        .filter_map(|a| a["local"].as_str())
        .collect();
    assert_eq!(
        kernel_ll,
        [chosen.to_string()],
        "the kernel's own link-local: {v6_info:?}"
    );
    assert_ne!(chosen, ip("fe80::100"));
}

#[tokio::test]
async fn link_events_for_down_up_and_a_lost_peer() {
    require_root();
    let Lan { ns, peer } = Lan::new();
    let (nl, mut events, vx0) = open_on(&ns, "vx0").await;
    let info = nl.link_by_index(vx0).await.expect("by index").expect("vx0");
    assert_eq!(info.name, "vx0");
    assert!(info.admin_up && info.carrier, "{info:?}");
    assert_eq!(info.mac, Some(mac(&ns, "vx0")));
    assert_eq!(
        Some(u64::from(info.mtu)),
        link(&ns, "vx0").unwrap()["mtu"].as_u64()
    );
    let all = nl.links().await.expect("links");
    let mut names: Vec<_> = all.iter().map(|l| l.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["lo", "vx0"]);

    ns.ip(&["link", "set", "vx0", "down"]);
    let down = wait_event(&mut events, "vx0 going down", |e| match e {
        NetlinkEvent::Link(l) if l.index == vx0 && !l.admin_up => Some(l.clone()),
        _ => None,
    })
    .await;
    assert!(!down.carrier, "{down:?}");
    let flags = link(&ns, "vx0").unwrap()["flags"].to_string();
    assert!(!flags.contains("\"UP\""), "{flags}");

    ns.ip(&["link", "set", "vx0", "up"]);
    wait_event(&mut events, "vx0 up with carrier", |e| match e {
        NetlinkEvent::Link(l) if l.index == vx0 && l.admin_up && l.carrier => Some(()),
        _ => None,
    })
    .await;

    // The peer going down takes the carrier away; vx0 itself stays administratively up.
    peer.ip(&["link", "set", "vx1", "down"]);
    let lost = wait_event(&mut events, "vx0 losing its carrier", |e| match e {
        NetlinkEvent::Link(l) if l.index == vx0 && !l.carrier => Some(l.clone()),
        _ => None,
    })
    .await;
    assert!(lost.admin_up, "{lost:?}");
    let seen = link(&ns, "vx0").unwrap();
    assert!(!seen["flags"].to_string().contains("LOWER_UP"), "{seen}");
    assert_ne!(seen["operstate"], "UP", "{seen}");

    // The peer going away (its namespace deleted) takes the whole veth pair with it.
    drop(peer);
    let (index, name) = wait_event(&mut events, "vx0 removed", |e| match e {
        NetlinkEvent::LinkRemoved { index, name } => Some((*index, name.clone())),
        _ => None,
    })
    .await;
    assert_eq!((index, name.as_str()), (vx0, "vx0"));
    assert!(link(&ns, "vx0").is_none());
    assert_eq!(nl.link_by_name("vx0").await.expect("lookup"), None);
    assert_eq!(nl.link_by_index(vx0).await.expect("lookup"), None);
}

#[tokio::test]
async fn address_events_for_changes_made_from_outside() {
    require_root();
    let lan = Lan::new();
    let (_nl, mut events, vx0) = open_on(&lan.ns, "vx0").await;

    for (addr, prefix, family) in [("10.7.7.7", "32", "-4"), ("2001:db8:7::7", "64", "-6")] {
        let cidr = format!("{addr}/{prefix}");
        let mut args = vec![family, "addr", "add", &cidr, "dev", "vx0"];
        if family == "-6" {
            args.push("nodad");
        }
        lan.ns.ip(&args);
        let added = wait_event(&mut events, &format!("{cidr} added"), |e| match e {
            NetlinkEvent::AddressAdded(a) if a.addr == ip(addr) => Some(a.clone()),
            _ => None,
        })
        .await;
        assert_eq!(added.ifindex, vx0);
        assert_eq!(added.prefix_len.to_string(), prefix);

        lan.ns.ip(&[family, "addr", "del", &cidr, "dev", "vx0"]);
        let removed = wait_event(&mut events, &format!("{cidr} removed"), |e| match e {
            NetlinkEvent::AddressRemoved(a) if a.addr == ip(addr) => Some(a.clone()),
            _ => None,
        })
        .await;
        assert_eq!(removed.ifindex, vx0);
    }
}

#[tokio::test]
async fn namespaces_with_identical_contents_stay_apart() {
    require_root();
    let (a, b, hub) = (NetNs::new(), NetNs::new(), NetNs::new());
    veth(&a, "vx0", &hub, "vxa");
    veth(&b, "vx0", &hub, "vxb");
    for ns in [&a, &b] {
        ns.ip(&["addr", "add", "10.1.0.2/24", "dev", "vx0"]);
    }
    let (nl_a, mut ev_a, vx0_a) = open_on(&a, "vx0").await;
    let (nl_b, mut ev_b, vx0_b) = open_on(&b, "vx0").await;
    let link_a = nl_a.link_by_name("vx0").await.unwrap().unwrap();
    let link_b = nl_b.link_by_name("vx0").await.unwrap().unwrap();
    assert_eq!(link_a.mac, Some(mac(&a, "vx0")));
    assert_eq!(link_b.mac, Some(mac(&b, "vx0")));
    assert_ne!(link_a.mac, link_b.mac);
    assert!(
        nl_a.link_by_name("vxa").await.unwrap().is_none(),
        "hub's side"
    );

    let vip_50 = vip("192.0.2.50", 24);
    nl_a.add_address(vx0_a, &vip_50).await.expect("add in a");
    assert!(addr_entry(&a, "vx0", vip_50.addr).is_some());
    assert!(
        addr_entry(&b, "vx0", vip_50.addr).is_none(),
        "leaked into b"
    );
    wait_event(&mut ev_a, "the address event in a", |e| {
        matches!(e, NetlinkEvent::AddressAdded(x) if x.addr == vip_50.addr).then_some(())
    })
    .await;
    assert_no_event(
        &mut ev_b,
        Duration::from_millis(500),
        "event from a in b",
        |e| matches!(e, NetlinkEvent::AddressAdded(x) if x.addr == vip_50.addr),
    )
    .await;
    assert!(
        !nl_b
            .addresses(vx0_b)
            .await
            .unwrap()
            .iter()
            .any(|x| x.addr == vip_50.addr)
    );

    // The same address in both; removing it in a leaves b's.
    nl_b.add_address(vx0_b, &vip_50).await.expect("add in b");
    nl_a.del_address(vx0_a, &vip_50).await.expect("del in a");
    assert!(addr_entry(&a, "vx0", vip_50.addr).is_none());
    assert!(
        addr_entry(&b, "vx0", vip_50.addr).is_some(),
        "b's copy went too"
    );

    // Routes too.
    let mut r = route("198.51.100.0", 24);
    r.via = Some(ip("10.1.0.1"));
    nl_a.add_route(&r, Some(vx0_a)).await.expect("route in a");
    assert_eq!(routes(&a, &["198.51.100.0/24"]).len(), 1);
    assert!(
        routes(&b, &["198.51.100.0/24"]).is_empty(),
        "route leaked into b"
    );
    assert!(routes(&hub, &["198.51.100.0/24"]).is_empty());
}

#[tokio::test]
async fn overrun_of_the_event_socket_asks_for_a_resync() {
    require_root();
    let lan = Lan::new();
    let (_nl, mut events, _vx0) = open_on(&lan.ns, "vx0").await;

    // This test runs on a current-thread runtime: while `ip` runs, nothing reads the event
    // socket, so thousands of address notifications overflow its receive buffer (sized by
    // net.core.rmem_default; each notification takes well over 100 bytes of it).
    let rmem: u32 = std::fs::read_to_string("/proc/sys/net/core/rmem_default")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    let count = (rmem / 100).clamp(4000, 60000);
    let batch: String = (0..count)
        .map(|i| {
            let [_, _, hi, lo] = i.to_be_bytes();
            format!(
                "address add {}/32 dev vx0\n",
                Ipv4Addr::new(10, 200, hi, lo)
            )
        })
        .collect();
    let path = std::env::temp_dir().join(format!("vxt-netlink-batch-{}", std::process::id()));
    std::fs::write(&path, batch).expect("write batch");
    let path_text = path.to_string_lossy().into_owned();
    lan.ns.ip(&["-batch", &path_text]);
    let _ = std::fs::remove_file(&path);

    wait_event(&mut events, "a resync request", |e| {
        matches!(e, NetlinkEvent::Resync).then_some(())
    })
    .await;

    // The stream keeps working afterwards (once the backlog is read: an event that arrives
    // while the buffer is still full would be dropped too).
    drain(&mut events, Duration::from_millis(300)).await;
    lan.ns.ip(&["addr", "add", "10.201.0.1/32", "dev", "vx0"]);
    wait_event(&mut events, "an event after the resync", |e| {
        matches!(e, NetlinkEvent::AddressAdded(a) if a.addr == ip("10.201.0.1")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn open_on_a_missing_namespace_is_a_clear_error() {
    require_root();
    let name = format!("vxt-missing-{}", std::process::id());
    let err = Netlink::open(Some(&name)).unwrap_err();
    assert!(
        matches!(&err, NetlinkError::Netns(NetnsError::NotFound { name: n, .. }) if *n == name),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&name) && text.contains("not found"), "{text}");
}

#[test]
fn open_outside_a_runtime_is_a_clear_error() {
    let err = Netlink::open(None).unwrap_err();
    assert!(matches!(err, NetlinkError::NoRuntime), "{err:?}");
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}
