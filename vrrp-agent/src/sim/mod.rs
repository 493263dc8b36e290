//! A deterministic simulator of many VRRP routers on simulated network segments, for tests:
//! virtual time that jumps to the next timer or delivery (nothing sleeps), seeded loss, delay,
//! duplication and partitions, node kills and restarts, and a ledger of data-plane ownership
//! to check the "one master" invariants.
//!
//! Adverts travel as bytes through the real codec (`packet`), so every simulated exchange
//! also exercises encode, checksum and decode. Imports `fsm` and `packet` only.

mod ledger;
mod network;
mod world;

pub use ledger::{Overlap, OwnershipLedger};
pub use network::NetConfig;
pub use world::{Event, Sim};
