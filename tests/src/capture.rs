//! Capturing frames on a test host: an AF_PACKET socket opened inside a namespace, drained
//! later (used to see gratuitous ARPs and unsolicited NAs on a LAN).

use std::{
    io::{self, Read},
    time::Duration,
};

use socket2::{Domain, Protocol, Socket, Type};

use crate::netns::NetNs;

const ETH_P_ALL: u16 = 0x0003;

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
        Self { socket }
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
