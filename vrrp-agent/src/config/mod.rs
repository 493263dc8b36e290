//! Agent configuration: the validated model (`types`), the native TOML format (`native`),
//! the import of the keepalived.conf subset Neutron writes (`keepalived`), and loading either
//! with file/line diagnostics (`load`). Both formats produce a `draft` that `assemble`
//! resolves and cross-checks (`checks`); `settings` are the keepalived entry point's node-wide
//! settings file; one-line entries (addresses, routes, tracking) share
//! one parser (`entries`, over `values`); `vmac` names `use_vmac`'s macvlans; `summary`
//! describes a configuration for humans.
//!
//! May import `crate::fsm` and `crate::packet` (the model embeds `fsm::InstanceConfig`).
//! Never panics on any input.

mod assemble;
mod checks;
mod diag;
mod draft;
mod entries;
mod keepalived;
mod limits;
mod load;
mod native;
pub mod settings;
mod summary;
mod types;
mod values;
mod vmac;

pub use load::{Format, Loaded, detect, load, parse_keepalived, parse_toml};
pub use summary::summary;
pub use types::*;
