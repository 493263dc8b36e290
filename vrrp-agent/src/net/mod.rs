//! Sockets at the edge of the agent: raw frames out of an interface (GARP/NA, test replay)
//! and the raw VRRP socket of one interface.
//!
//! Everything here is opened in the *current* network namespace of the calling thread (use
//! `crate::netns::run_in` to open it in another) and works from any thread once open. May
//! import `crate::packet` (codec constants and checksums); socket2, nix, libc (only where
//! those lack something), tokio.

mod async_fd;
mod error;
mod link;
mod packet_socket;
mod queue;
mod vrrp_socket;

pub use packet_socket::PacketSocket;
pub use vrrp_socket::{AsyncVrrpSocket, Received, RecvError, VrrpSocket};
