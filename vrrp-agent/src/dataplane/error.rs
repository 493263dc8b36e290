//! Errors of the data-plane layer.
//!
//! Convention (whole crate): a message includes the text of the error it wraps, and the
//! wrapped error is not also exposed as `source()`, so `{:#}` chains never repeat text.

use crate::netns::NetnsError;

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error(
        "this vrrp-agent binary was built without the XDP program (plain `cargo build` embeds an \
         empty stub); build it with `cargo xtask build`"
    )]
    StubObject,
    #[error("loading the XDP object failed: {0}")]
    Load(aya::EbpfError),
    #[error("the XDP object has no program `{0}`")]
    MissingProgram(&'static str),
    #[error("the XDP object has no map `{0}`")]
    MissingMap(&'static str),
    /// aya's message includes the verifier log when the kernel rejected the program.
    #[error("XDP program: {0}")]
    Program(aya::programs::ProgramError),
    #[error("map `{name}`: {error}")]
    Map {
        name: &'static str,
        error: aya::maps::MapError,
    },
    #[error("interface `{interface}` not found{}", in_netns(.netns))]
    UnknownInterface {
        interface: String,
        netns: Option<String>,
    },
    #[error(
        "cannot attach XDP to `{interface}`{}: native mode: {native}; generic mode: {generic}",
        in_netns(.netns)
    )]
    Attach {
        interface: String,
        netns: Option<String>,
        native: String,
        generic: String,
    },
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("XDP link: {0}")]
    Link(String),
    #[error(
        "cannot use {dir} for pinned maps: {error} (is a bpf filesystem mounted at /sys/fs/bpf?)"
    )]
    PinDir {
        dir: std::path::PathBuf,
        error: String,
    },
}

fn in_netns(netns: &Option<String>) -> String {
    netns
        .as_deref()
        .map(|n| format!(" in network namespace `{n}`"))
        .unwrap_or_default()
}
