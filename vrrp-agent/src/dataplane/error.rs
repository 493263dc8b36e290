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
    #[error("adding interface {ifindex} to the XDP redirect map: {error}")]
    Tx { ifindex: u32, error: String },
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("XDP link: {0}")]
    Link(String),
    #[error("router ids in {dir}: {error}")]
    RouterIds {
        dir: std::path::PathBuf,
        error: String,
    },
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

/// An attach failure as a sentence: aya's message, the kernel's reason from the source chain
/// (aya's text alone is only "`bpf_link_create` failed") and, for the usual causes, what to do.
pub fn attach_failure(error: &aya::programs::ProgramError) -> String {
    let mut text = error.to_string();
    let mut errno = None;
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            errno = errno.or(io.raw_os_error());
        }
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    match errno {
        Some(libc::EBUSY | libc::EEXIST) => text.push_str(
            " (another XDP program is already attached to this interface: an agent killed \
             while using a different --bpf-pin-dir, or another tool; restart with the same pin \
             folder to adopt it, or remove its pinned link under /sys/fs/bpf, or `bpftool net \
             detach` it)",
        ),
        Some(libc::EOPNOTSUPP) => {
            text.push_str(" (the driver has no native XDP support; generic mode works everywhere)");
        }
        Some(libc::EPERM) => text.push_str(" (needs CAP_BPF and CAP_NET_ADMIN, e.g. root)"),
        _ => {}
    }
    text
}
