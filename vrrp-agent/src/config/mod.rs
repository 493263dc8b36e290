//! Agent configuration: the validated model (`types`), the native TOML format, the import of
//! the keepalived.conf subset Neutron writes, and loading either with file/line diagnostics.
//!
//! May import `crate::fsm` and `crate::packet` (the model embeds `fsm::InstanceConfig`).
//! Never panics on any input.

mod types;

pub use types::*;
