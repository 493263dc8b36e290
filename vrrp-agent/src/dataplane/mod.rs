//! The XDP data plane as seen from the agent: the embedded object, loading and attaching it,
//! its counters and size, and BPF_PROG_TEST_RUN for tests and benchmarks.
//!
//! Depends on aya, `vrrp-ebpf-common` and `crate::netns`; nothing here knows about VRRP state.
//! `fastpath_maps` writes a router's fast-path plan (decided by `crate::fastpath`) into the
//! maps; `router_ids` allocates the router ids that keep routers apart in the shared maps.

mod attach;
mod counters;
mod error;
pub mod fastpath_maps;
mod info;
mod loader;
pub mod manager;
mod maps;
mod object;
pub mod peer_napi;
mod persistent;
pub mod pin_root;
pub mod router_ids;
mod test_run;

pub use attach::{AttachMode, Attachment, XdpModePreference};
pub use counters::{AdvertCount, CounterSnapshot};
pub use error::DataplaneError;
pub use info::ProgramSize;
pub use loader::{Dataplane, LoadOptions};
pub use object::{is_stub, object};
pub use persistent::PersistentLink;
pub use test_run::TestRunOutcome;
