//! Reachability probes (`vrrp_agent::net::Prober`) from a namespace this test creates to a
//! neighbour in another, joined by a veth pair: ARP, neighbour solicitation and ICMP echo
//! (IPv4 and IPv6) succeed against the live neighbour and return `false`, not an error, for
//! an address nobody has, within the timeout; an answer for one target never counts for
//! another probed at the same time. Needs root, no eBPF object.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::{Duration, Instant},
};

use vrrp_agent::net::{ProbeMethod, Prober};
use vrrp_tests::{
    links::{ifindex, inside, link_local, namespace},
    netns::{NetNs, veth},
    require_root,
};

/// Timeout of probes expected to succeed (they answer in well under a millisecond).
const LIVE: Duration = Duration::from_secs(3);
/// Timeout of probes expected to fail.
const DEAD: Duration = Duration::from_millis(800);
/// Allowed lateness of a failing probe beyond its timeout.
const SLACK: Duration = Duration::from_millis(500);

const P_V4: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 1);
const N_V4: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 2);
const NOBODY_V4: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 77);

/// The prober's namespace (`vp-p`: 10.66.0.1/24, fd66::1/64) and a live neighbour (`vp-n`:
/// 10.66.0.2/24, fd66::2/64) on one veth pair.
struct Lan {
    p: NetNs,
    n: NetNs,
    n_ll: Ipv6Addr,
}

fn p_v6() -> Ipv6Addr {
    "fd66::1".parse().unwrap()
}

fn n_v6() -> Ipv6Addr {
    "fd66::2".parse().unwrap()
}

fn nobody_v6() -> Ipv6Addr {
    "fd66::77".parse().unwrap()
}

impl Lan {
    fn new() -> Self {
        let p = namespace();
        let n = namespace();
        veth(&p, "vp-p", &n, "vp-n");
        p.ip(&["addr", "add", "10.66.0.1/24", "dev", "vp-p"]);
        n.ip(&["addr", "add", "10.66.0.2/24", "dev", "vp-n"]);
        p.ip(&["addr", "add", "fd66::1/64", "dev", "vp-p", "nodad"]);
        n.ip(&["addr", "add", "fd66::2/64", "dev", "vp-n", "nodad"]);
        link_local(&p, "vp-p");
        let n_ll = link_local(&n, "vp-n");
        Self { p, n, n_ll }
    }

    fn prober(&self, method: ProbeMethod, target: IpAddr, source: Option<IpAddr>) -> Prober {
        let index = ifindex(&self.p, "vp-p");
        inside(&self.p, || {
            Prober::open(index, "vp-p", method, target, source)
        })
        .unwrap_or_else(|e| panic!("opening a {method:?} prober of {target}: {e}"))
    }
}

/// Probes `prober` expecting `expected`; a failing probe must end within its timeout (it
/// may end sooner when the kernel already knows there can be no answer).
async fn check(prober: &Prober, expected: bool) {
    let timeout = if expected { LIVE } else { DEAD };
    let start = Instant::now();
    let answered = prober
        .probe(timeout)
        .await
        .unwrap_or_else(|e| panic!("probe of {} failed: {e}", prober.target()));
    let took = start.elapsed();
    assert_eq!(
        answered,
        expected,
        "{:?} probe of {} after {took:?}",
        prober.method(),
        prober.target()
    );
    if !expected {
        assert!(
            took <= timeout + SLACK,
            "a probe without answer ends within its timeout {timeout:?}, took {took:?}"
        );
    }
}

/// A live target and a dead one, probed at the same time on the same interface: the live
/// target's answers reach the other prober's socket too and must not count for it.
async fn live_and_dead_together(live: &Prober, dead: &Prober) {
    tokio::join!(check(live, true), check(dead, false));
}

#[tokio::test]
async fn arp_probe_answers_for_a_live_neighbour_only() {
    require_root();
    let lan = Lan::new();
    let method = ProbeMethod::Neighbour;
    let live = lan.prober(method, N_V4.into(), Some(P_V4.into()));
    let rfc5227 = lan.prober(method, N_V4.into(), None);
    let dead = lan.prober(method, NOBODY_V4.into(), Some(P_V4.into()));
    check(&live, true).await;
    check(&live, true).await;
    check(&rfc5227, true).await;
    check(&dead, false).await;
    live_and_dead_together(&live, &dead).await;

    // The neighbour gone: the same prober now gets no answer.
    lan.n.ip(&["link", "set", "vp-n", "down"]);
    check(&live, false).await;
}

#[tokio::test]
async fn ns_probe_answers_for_a_live_neighbour_only() {
    require_root();
    let lan = Lan::new();
    let method = ProbeMethod::Neighbour;
    let global = lan.prober(method, n_v6().into(), None);
    let from_global = lan.prober(method, n_v6().into(), Some(p_v6().into()));
    let link_local = lan.prober(method, lan.n_ll.into(), None);
    let dead = lan.prober(method, nobody_v6().into(), None);
    check(&global, true).await;
    check(&global, true).await;
    check(&from_global, true).await;
    check(&link_local, true).await;
    check(&dead, false).await;
    live_and_dead_together(&global, &dead).await;

    lan.n.ip(&["link", "set", "vp-n", "down"]);
    check(&global, false).await;
}

#[tokio::test]
async fn icmp_v4_probe_answers_for_a_live_neighbour_only() {
    require_root();
    let lan = Lan::new();
    let method = ProbeMethod::Icmp;
    let live = lan.prober(method, N_V4.into(), None);
    let from = lan.prober(method, N_V4.into(), Some(P_V4.into()));
    let dead = lan.prober(method, NOBODY_V4.into(), None);
    check(&live, true).await;
    check(&live, true).await;
    check(&from, true).await;
    check(&dead, false).await;
    // Two probers of the same live target: each needs its own identifier and sequence.
    tokio::join!(check(&live, true), check(&from, true));
    live_and_dead_together(&live, &dead).await;

    // Alive at the link layer but not answering echo: no answer.
    lan.n.sysctl("net.ipv4.icmp_echo_ignore_all=1");
    check(&live, false).await;
}

#[tokio::test]
async fn icmp_v6_probe_answers_for_a_live_neighbour_only() {
    require_root();
    let lan = Lan::new();
    let method = ProbeMethod::Icmp;
    let global = lan.prober(method, n_v6().into(), None);
    let from = lan.prober(method, n_v6().into(), Some(p_v6().into()));
    let link_local = lan.prober(method, lan.n_ll.into(), None);
    let dead = lan.prober(method, nobody_v6().into(), None);
    check(&global, true).await;
    check(&global, true).await;
    check(&from, true).await;
    check(&link_local, true).await;
    check(&dead, false).await;
    live_and_dead_together(&global, &dead).await;

    lan.n.sysctl("net.ipv6.icmp.echo_ignore_all=1");
    check(&global, false).await;
}

#[test]
fn bad_arguments_are_errors() {
    require_root();
    let lan = Lan::new();
    let index = ifindex(&lan.p, "vp-p");
    let open = |ifindex: u32, target: IpAddr, source: Option<IpAddr>| {
        inside(&lan.p, || {
            Prober::open(ifindex, "vp-p", ProbeMethod::Icmp, target, source)
        })
    };
    for (ifindex, target, source) in [
        (index, IpAddr::from(N_V4), Some(IpAddr::from(p_v6()))),
        (index, IpAddr::from(Ipv4Addr::UNSPECIFIED), None),
        (index, IpAddr::from(Ipv4Addr::new(224, 0, 0, 1)), None),
        (index + 100, IpAddr::from(N_V4), None),
    ] {
        let err = open(ifindex, target, source).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    }
    // A source the interface does not have cannot be bound.
    assert!(
        open(
            index,
            N_V4.into(),
            Some(Ipv4Addr::new(10, 66, 0, 99).into())
        )
        .is_err()
    );
}
