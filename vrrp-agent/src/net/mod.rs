//! Sockets at the edge of the agent: raw frames out of an interface (GARP/NA, test replay),
//! the raw VRRP socket of one interface, and reachability probes (ARP / neighbour
//! solicitation, ICMP echo).
//!
//! Everything here is opened in the *current* network namespace of the calling thread (use
//! `crate::netns::run_in` to open it in another) and works from any thread once open. May
//! import `crate::packet` (codec constants and checksums) and `crate::config` (the probe
//! method); socket2, nix, libc (only where those lack something), tokio.

mod async_fd;
mod error;
mod link;
mod packet_socket;
mod probe;
mod queue;
mod vrrp_socket;

pub use packet_socket::PacketSocket;
pub use probe::{ProbeMethod, Prober};
pub use vrrp_socket::{AsyncVrrpSocket, Received, RecvError, VrrpSocket};
