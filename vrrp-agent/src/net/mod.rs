//! Sockets at the edge of the agent: raw frames out of an interface (GARP/NA, test replay).
//! Depends on libc/nix only; opened inside the caller's current network namespace.

mod packet_socket;

pub use packet_socket::PacketSocket;
