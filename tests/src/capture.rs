//! Capturing frames on a test host: an AF_PACKET socket opened inside a namespace, drained
//! later (used to see gratuitous ARPs and unsolicited NAs on a LAN), with or without the
//! interface each frame came by and whether it was leaving (to tell, inside a segment's
//! namespace, what a bridge port received from its host from what the bridge sent it).

use std::{
    io::{self, Read},
    time::Duration,
};

use socket2::{Domain, Protocol, Socket, Type};

use crate::netns::NetNs;

const ETH_P_ALL: u16 = 0x0003;
/// `sockaddr_ll.sll_pkttype` of a frame the interface sends.
const PACKET_OUTGOING: u8 = 4;

/// A captured frame and how it came.
#[derive(Clone, Debug)]
pub struct Tagged {
    /// The interface it was seen on.
    pub ifindex: usize,
    /// It was leaving that interface (else arriving).
    pub outgoing: bool,
    pub frame: Vec<u8>,
}

impl Tagged {
    /// The Ethernet source address.
    pub fn src_mac(&self) -> Option<[u8; 6]> {
        self.frame.get(6..12)?.try_into().ok()
    }
}

/// Every frame arriving in one namespace from the moment it was opened.
pub struct Capture {
    socket: Socket,
}

impl Capture {
    /// Every frame, received or sent.
    pub fn start(ns: &NetNs) -> Self {
        Self::start_ethertype(ns, ETH_P_ALL)
    }

    /// Only received frames of one ethertype (`0x0806`: ARP), so that a busy namespace does
    /// not fill the socket's buffer with the rest (the kernel hands frames it sends only to
    /// sockets of every type).
    pub fn start_ethertype(ns: &NetNs, ethertype: u16) -> Self {
        let socket = vrrp_agent::netns::run_in(Some(ns.name()), || {
            Socket::new(
                Domain::PACKET,
                Type::RAW,
                Some(Protocol::from(i32::from(ethertype.to_be()))),
            )
        })
        .expect("enter namespace")
        .expect("packet socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        // Room for every frame of a test (a bridge namespace sees each frame once per port it
        // crosses): with the default buffer (~200 KB, a few hundred small frames) the newest
        // frames were dropped after a few seconds, the ones a test looks for.
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &(32 << 20))
            .expect("SO_RCVBUFFORCE (needs CAP_NET_ADMIN)");
        Self { socket }
    }

    /// The frames seen so far with the interface they came by (waits up to 50 ms for each).
    pub fn drain_tagged(&self) -> Vec<Tagged> {
        use std::os::fd::AsRawFd;
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            match nix::sys::socket::recvfrom::<nix::sys::socket::LinkAddr>(
                self.socket.as_raw_fd(),
                &mut buf,
            ) {
                Ok((n, from)) => out.push(Tagged {
                    ifindex: from.map_or(0, |a| a.ifindex()),
                    outgoing: from.is_some_and(|a| a.pkttype() == PACKET_OUTGOING),
                    frame: buf[..n].to_vec(),
                }),
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return out,
                Err(e) => panic!("capture: {e}"),
            }
        }
    }

    /// The frames received so far (waits up to 50 ms for each).
    pub fn drain(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            match (&self.socket).read(&mut buf) {
                Ok(n) => out.push(buf[..n].to_vec()),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return out;
                }
                Err(e) => panic!("capture: {e}"),
            }
        }
    }
}
