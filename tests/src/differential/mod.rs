//! The differential test harness: the proof by experiment that the XDP fast path sends exactly
//! what the kernel would have sent.
//!
//! The same frames go through two identical Neutron router namespaces ([`twin`]): `fast`,
//! whose agent runs the fast path, and `kernel`, whose agent does not. Each twin has its own
//! copy of the wire ([`wire`]): per router port a veth whose far end, in a namespace of the
//! harness, both injects frames (they enter the router's port as from the wire) and captures
//! what the router sends out of that port. A corpus ([`corpus`]) of complete frames is
//! injected into both, in order, with a pause between frames; afterwards the frames that left
//! each port are compared ([`compare`]): per port, the sequences must be byte-identical, up to
//! the normalisations listed in [`compare::NORMALISATIONS`] (only for frames the routers
//! originate themselves). A mismatch is printed decoded and in hex, with the corpus step that
//! caused it.
//!
//! The agent's data-plane counters (`status --json`) show what the fast path carried, so a
//! scenario can check that it did carry what the corpus says it should: a differential test
//! in which XDP did nothing would prove nothing.

pub mod compare;
pub mod corpus;
pub mod twin;
pub mod wire;

pub use compare::{NORMALISATIONS, Run};
pub use corpus::{Class, Corpus, Eligible, FastCounts};
pub use twin::{Port, Router, Setup, Twins};
