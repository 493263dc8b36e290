//! The raw VRRP socket (`vrrp_agent::net::VrrpSocket`) between network namespaces this test
//! creates, joined by veth pairs: IPv4 and IPv6 adverts arrive with TTL 255, the source asked
//! for and the group as destination, and decode; the sender does not hear itself; a TTL 64
//! packet is delivered with TTL 64 for the agent to reject; unicast reaches a peer; a socket
//! hears only its own interface; the source on the wire is the one asked for among several
//! addresses. Needs root, no eBPF object.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6},
    time::Duration,
};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use vrrp_agent::{
    net::{AsyncVrrpSocket, Received, VrrpSocket},
    packet::{
        Advert, Auth, Centisecs, DecodeError, IPPROTO_VRRP, RxMeta, VRRP_GROUP_V4, VRRP_GROUP_V6,
        Version,
    },
};
use vrrp_tests::{
    links::{ifindex, inside, link_local, namespace},
    netns::{NetNs, veth},
    require_root,
};

/// How long a packet may take to arrive.
const WAIT: Duration = Duration::from_secs(3);
/// How long to listen before concluding that nothing arrives (the packets that would arrive
/// wrongly travel the same veth, or loop back locally, so they would be as fast).
const QUIET: Duration = Duration::from_millis(500);

const A_V4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const B_V4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// Two namespaces joined by veth `vs-a` (in `a`, 10.77.0.1/24) and `vs-b` (in `b`,
/// 10.77.0.2/24), IPv6 link-local addresses ready.
struct Pair {
    a: NetNs,
    b: NetNs,
    a_ll: Ipv6Addr,
    b_ll: Ipv6Addr,
}

impl Pair {
    fn new() -> Self {
        let a = namespace();
        let b = namespace();
        veth(&a, "vs-a", &b, "vs-b");
        a.ip(&["addr", "add", "10.77.0.1/24", "dev", "vs-a"]);
        b.ip(&["addr", "add", "10.77.0.2/24", "dev", "vs-b"]);
        let a_ll = link_local(&a, "vs-a");
        let b_ll = link_local(&b, "vs-b");
        Self { a, b, a_ll, b_ll }
    }

    fn a_addr(&self, ipv6: bool) -> IpAddr {
        if ipv6 { self.a_ll.into() } else { A_V4.into() }
    }

    fn b_addr(&self, ipv6: bool) -> IpAddr {
        if ipv6 { self.b_ll.into() } else { B_V4.into() }
    }
}

fn group(ipv6: bool) -> IpAddr {
    if ipv6 {
        VRRP_GROUP_V6.into()
    } else {
        VRRP_GROUP_V4.into()
    }
}

/// Opens a VRRP socket on `ifname` inside `ns` and attaches it to the test's runtime.
fn open(ns: &NetNs, ifname: &str, ipv6: bool) -> AsyncVrrpSocket {
    let index = ifindex(ns, ifname);
    inside(ns, || VrrpSocket::open(index, ifname, ipv6))
        .unwrap_or_else(|e| panic!("opening a VRRP socket on {ifname}: {e}"))
        .into_async()
        .expect("registering with the runtime")
}

fn advert(version: Version, vrid: u8, addresses: Vec<IpAddr>) -> Advert {
    Advert {
        version,
        vrid,
        priority: 100,
        interval: Centisecs(100),
        addresses,
        auth: match version {
            Version::V2 => Auth::simple("secret"),
            Version::V3 => Auth::None,
        },
    }
}

fn v3_advert(ipv6: bool, vrid: u8) -> Advert {
    let vip: IpAddr = if ipv6 {
        "fd77::100".parse().unwrap()
    } else {
        "10.77.0.100".parse().unwrap()
    };
    advert(Version::V3, vrid, vec![vip])
}

/// Encodes `advert` for `src` -> `dst` and sends it on `socket`.
async fn send(socket: &AsyncVrrpSocket, advert: &Advert, src: IpAddr, dst: IpAddr) {
    let bytes = advert.encode(src, dst).expect("encode");
    socket
        .send(&bytes, src, dst)
        .await
        .unwrap_or_else(|e| panic!("send {src} -> {dst}: {e}"));
}

/// The next packet on `socket`, which must come within [`WAIT`] and be usable.
async fn next(socket: &AsyncVrrpSocket, what: &str) -> Received {
    tokio::time::timeout(WAIT, socket.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing received within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Fails if anything arrives on `socket` within [`QUIET`].
async fn nothing(socket: &AsyncVrrpSocket, what: &str) {
    if let Ok(got) = tokio::time::timeout(QUIET, socket.recv()).await {
        panic!("{what}: expected nothing, received {got:?}");
    }
}

/// Checks that `got` is `sent` from `src` to `dst` with TTL 255 on `ifindex`.
fn assert_advert(got: &Received, sent: &Advert, src: IpAddr, dst: IpAddr, ifindex: u32) {
    assert_eq!(got.ifindex, ifindex, "arrival interface");
    assert_eq!(got.meta, RxMeta { src, dst, ttl: 255 }, "IP metadata");
    assert_eq!(Advert::decode(&got.vrrp, &got.meta).as_ref(), Ok(sent));
}

/// `IP_MTU_DISCOVER` of an IPv4 socket (neither socket2 nor nix reads it).
fn mtu_discover(socket: &VrrpSocket) -> libc::c_int {
    let mut value: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are initialised and outlive the call, `len` is `value`'s size,
    // and the descriptor belongs to `socket`.
    let rc = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&std::os::fd::AsFd::as_fd(socket)),
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", std::io::Error::last_os_error());
    value
}

#[test]
fn options_are_set_as_documented() {
    require_root();
    let pair = Pair::new();
    let index = ifindex(&pair.a, "vs-a");
    for ipv6 in [false, true] {
        let socket = inside(&pair.a, || VrrpSocket::open(index, "vs-a", ipv6)).unwrap();
        assert_eq!((socket.ifindex(), socket.is_ipv6()), (index, ipv6));
        let sock = SockRef::from(&socket);
        if ipv6 {
            assert_eq!(sock.multicast_hops_v6().unwrap(), 255);
            assert_eq!(sock.unicast_hops_v6().unwrap(), 255);
            assert!(!sock.multicast_loop_v6().unwrap());
            assert_eq!(sock.multicast_if_v6().unwrap(), index);
            assert_eq!(
                sock.tclass_v6().unwrap(),
                0xc0,
                "keepalived's traffic class"
            );
        } else {
            assert_eq!(sock.multicast_ttl_v4().unwrap(), 255);
            assert_eq!(sock.ttl_v4().unwrap(), 255);
            assert!(!sock.multicast_loop_v4().unwrap());
            assert_eq!(sock.tos_v4().unwrap(), 0xc0, "keepalived's TOS");
            assert_eq!(mtu_discover(&socket), libc::IP_PMTUDISC_DONT, "no DF");
        }
        assert_eq!(sock.device().unwrap().as_deref(), Some(&b"vs-a"[..]));
        assert!(
            sock.recv_buffer_size().unwrap() >= 1 << 20,
            "receive buffer"
        );
        assert!(sock.nonblocking().unwrap());
        let fd_flags = nix::fcntl::fcntl(&socket, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(fd_flags & libc::FD_CLOEXEC, 0, "close-on-exec");
    }

    // Index and name must agree (they would not in the wrong namespace).
    let err = inside(&pair.a, || VrrpSocket::open(index + 100, "vs-a", false)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    // No runtime here: an error, not tokio's panic.
    let socket = inside(&pair.a, || VrrpSocket::open(index, "vs-a", false)).unwrap();
    assert!(socket.into_async().is_err());
}

async fn adverts_arrive_and_do_not_loop_back(ipv6: bool) {
    let pair = Pair::new();
    let a = open(&pair.a, "vs-a", ipv6);
    let b = open(&pair.b, "vs-b", ipv6);
    let b_index = ifindex(&pair.b, "vs-b");
    let (src, dst) = (pair.a_addr(ipv6), group(ipv6));

    let v3 = v3_advert(ipv6, 7);
    send(&a, &v3, src, dst).await;
    assert_advert(&next(&b, "v3 advert").await, &v3, src, dst, b_index);
    if !ipv6 {
        let v2 = advert(Version::V2, 8, vec!["10.77.0.100".parse().unwrap()]);
        send(&a, &v2, src, dst).await;
        assert_advert(&next(&b, "v2 advert").await, &v2, src, dst, b_index);
    }
    nothing(&a, "the sender (multicast loop must be off)").await;
    nothing(&b, "the receiver after the adverts").await;
}

#[tokio::test]
async fn v4_adverts_arrive_with_ttl_255_and_do_not_loop_back() {
    require_root();
    adverts_arrive_and_do_not_loop_back(false).await;
}

#[tokio::test]
async fn v6_adverts_arrive_from_the_link_local_with_hop_limit_255_and_do_not_loop_back() {
    require_root();
    adverts_arrive_and_do_not_loop_back(true).await;
}

/// A plain raw VRRP socket in `ns` on `ifname` that sends multicast with TTL / hop limit 64.
fn low_ttl_sender(ns: &NetNs, ifname: &str, ipv6: bool) -> Socket {
    let index = ifindex(ns, ifname);
    inside(ns, || -> std::io::Result<Socket> {
        let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
        let socket = Socket::new(
            domain,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )?;
        socket.bind_device(Some(ifname.as_bytes()))?;
        if ipv6 {
            socket.set_multicast_if_v6(index)?;
            socket.set_multicast_hops_v6(64)?;
        } else {
            socket.set_multicast_ttl_v4(64)?;
        }
        Ok(socket)
    })
    .expect("plain raw socket")
}

async fn low_ttl_is_delivered_as_is(ipv6: bool) {
    let pair = Pair::new();
    let b = open(&pair.b, "vs-b", ipv6);
    let plain = low_ttl_sender(&pair.a, "vs-a", ipv6);
    let (src, dst) = (pair.a_addr(ipv6), group(ipv6));
    let bytes = v3_advert(ipv6, 9).encode(src, dst).unwrap();
    let to: SocketAddr = if ipv6 {
        SocketAddrV6::new(VRRP_GROUP_V6, 0, 0, ifindex(&pair.a, "vs-a")).into()
    } else {
        (VRRP_GROUP_V4, 0).into()
    };
    plain.send_to(&bytes, &to.into()).expect("send TTL 64");

    let got = next(&b, "TTL 64 packet").await;
    assert_eq!(got.meta, RxMeta { src, dst, ttl: 64 });
    assert_eq!(got.vrrp, bytes);
    assert_eq!(
        Advert::decode(&got.vrrp, &got.meta),
        Err(DecodeError::Ttl { ttl: 64 }),
        "the agent's receive check rejects it"
    );
}

#[tokio::test]
async fn v4_ttl_64_is_delivered_with_ttl_64() {
    require_root();
    low_ttl_is_delivered_as_is(false).await;
}

#[tokio::test]
async fn v6_hop_limit_64_is_delivered_with_hop_limit_64() {
    require_root();
    low_ttl_is_delivered_as_is(true).await;
}

async fn unicast_reaches_the_peer(ipv6: bool) {
    let pair = Pair::new();
    let a = open(&pair.a, "vs-a", ipv6);
    let b = open(&pair.b, "vs-b", ipv6);
    let (src, dst) = (pair.a_addr(ipv6), pair.b_addr(ipv6));
    let sent = v3_advert(ipv6, 10);
    send(&a, &sent, src, dst).await;
    let got = next(&b, "unicast advert").await;
    assert_advert(&got, &sent, src, dst, ifindex(&pair.b, "vs-b"));
}

#[tokio::test]
async fn v4_unicast_reaches_the_peer_with_ttl_255() {
    require_root();
    unicast_reaches_the_peer(false).await;
}

#[tokio::test]
async fn v6_unicast_reaches_the_peer_with_hop_limit_255() {
    require_root();
    unicast_reaches_the_peer(true).await;
}

async fn a_socket_hears_only_its_interface(ipv6: bool) {
    // a (vs-a) -- (vs-b0) b (vs-b1) -- (vs-c) c
    let (a, b, c) = (namespace(), namespace(), namespace());
    veth(&a, "vs-a", &b, "vs-b0");
    veth(&c, "vs-c", &b, "vs-b1");
    a.ip(&["addr", "add", "10.77.0.1/24", "dev", "vs-a"]);
    b.ip(&["addr", "add", "10.77.0.2/24", "dev", "vs-b0"]);
    b.ip(&["addr", "add", "10.78.0.2/24", "dev", "vs-b1"]);
    c.ip(&["addr", "add", "10.78.0.3/24", "dev", "vs-c"]);
    let (a_src, b1_addr, c_src): (IpAddr, IpAddr, IpAddr) = if ipv6 {
        (
            link_local(&a, "vs-a").into(),
            link_local(&b, "vs-b1").into(),
            link_local(&c, "vs-c").into(),
        )
    } else {
        (
            A_V4.into(),
            Ipv4Addr::new(10, 78, 0, 2).into(),
            Ipv4Addr::new(10, 78, 0, 3).into(),
        )
    };
    let a_sock = open(&a, "vs-a", ipv6);
    let c_sock = open(&c, "vs-c", ipv6);
    let b0 = open(&b, "vs-b0", ipv6);
    let b1 = open(&b, "vs-b1", ipv6);
    let (b0_index, b1_index) = (ifindex(&b, "vs-b0"), ifindex(&b, "vs-b1"));
    let dst = group(ipv6);

    // Traffic on vs-b1 first: to the group and to vs-b1's own address.
    let from_c = v3_advert(ipv6, 20);
    send(&c_sock, &from_c, c_src, dst).await;
    send(&c_sock, &from_c, c_src, b1_addr).await;
    assert_advert(
        &next(&b1, "c's multicast").await,
        &from_c,
        c_src,
        dst,
        b1_index,
    );
    assert_advert(
        &next(&b1, "c's unicast").await,
        &from_c,
        c_src,
        b1_addr,
        b1_index,
    );

    // Then on vs-b0: the first (and only) thing the vs-b0 socket gets.
    let from_a = v3_advert(ipv6, 21);
    send(&a_sock, &from_a, a_src, dst).await;
    assert_advert(
        &next(&b0, "a's multicast").await,
        &from_a,
        a_src,
        dst,
        b0_index,
    );
    nothing(&b0, "the socket on vs-b0").await;
    nothing(&b1, "the socket on vs-b1").await;
}

#[tokio::test]
async fn v4_socket_hears_only_its_interface() {
    require_root();
    a_socket_hears_only_its_interface(false).await;
}

#[tokio::test]
async fn v6_socket_hears_only_its_interface() {
    require_root();
    a_socket_hears_only_its_interface(true).await;
}

async fn the_source_is_the_one_asked_for(ipv6: bool) {
    let pair = Pair::new();
    let (sources, peer, missing): (Vec<IpAddr>, IpAddr, IpAddr) = if ipv6 {
        pair.a
            .ip(&["addr", "add", "fe80::11/64", "dev", "vs-a", "nodad"]);
        pair.a
            .ip(&["addr", "add", "fd77::1/64", "dev", "vs-a", "nodad"]);
        let extra: Ipv6Addr = "fe80::11".parse().unwrap();
        let global: Ipv6Addr = "fd77::1".parse().unwrap();
        let missing: Ipv6Addr = "fe80::99".parse().unwrap();
        (
            vec![pair.a_ll.into(), extra.into(), global.into()],
            pair.b_ll.into(),
            missing.into(),
        )
    } else {
        pair.a.ip(&["addr", "add", "10.77.0.11/24", "dev", "vs-a"]);
        pair.a.ip(&["addr", "add", "10.77.0.12/24", "dev", "vs-a"]);
        (
            vec![
                A_V4.into(),
                Ipv4Addr::new(10, 77, 0, 11).into(),
                Ipv4Addr::new(10, 77, 0, 12).into(),
            ],
            B_V4.into(),
            Ipv4Addr::new(10, 77, 0, 99).into(),
        )
    };
    let a = open(&pair.a, "vs-a", ipv6);
    let b = open(&pair.b, "vs-b", ipv6);
    let b_index = ifindex(&pair.b, "vs-b");
    for (i, src) in sources.iter().copied().enumerate() {
        for dst in [group(ipv6), peer] {
            let sent = v3_advert(ipv6, 30 + i as u8);
            send(&a, &sent, src, dst).await;
            let got = next(&b, &format!("advert from {src} to {dst}")).await;
            assert_advert(&got, &sent, src, dst, b_index);
        }
    }
    // An address the host does not have is refused, not replaced by another.
    let bytes = v3_advert(ipv6, 40).encode(missing, group(ipv6)).unwrap();
    let refused = a.send(&bytes, missing, group(ipv6)).await;
    assert!(refused.is_err(), "sending from {missing}: {refused:?}");
    nothing(&b, "after the refused send").await;
}

#[tokio::test]
async fn v4_source_is_the_one_asked_for_among_several() {
    require_root();
    the_source_is_the_one_asked_for(false).await;
}

#[tokio::test]
async fn v6_source_is_the_one_asked_for_among_several() {
    require_root();
    the_source_is_the_one_asked_for(true).await;
}
