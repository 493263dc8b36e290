//! Why reading a namespace's netfilter rules failed. A rule that cannot be decoded is not an
//! error (it is kept as `Unknown`); these are the failures that leave nothing to analyse:
//! the namespace cannot be entered, the kernel refuses a request, a dump keeps changing under
//! the reader, a table's structure cannot be walked. Imports `crate::netns`.

use std::io;

use crate::netns::NetnsError;

#[derive(Debug, thiserror::Error)]
pub enum PathStateError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// Opening, binding or using a NETLINK_NETFILTER socket.
    #[error("nftables netlink socket: cannot {action}: {error}")]
    NftSocket {
        action: &'static str,
        error: io::Error,
    },
    /// The kernel answered a request with an error.
    #[error("nftables: the kernel refused {request}: {error}")]
    NftRefused {
        request: &'static str,
        error: io::Error,
    },
    /// A table, chain or generation message could not be decoded (a rule that cannot be
    /// decoded is kept as unknown instead).
    #[error("nftables: cannot decode {what}: {detail}")]
    NftDecode { what: &'static str, detail: String },
    /// Every attempt overlapped a ruleset change (the generation moved during the dump).
    #[error("nftables: the ruleset changed during each of {attempts} reads")]
    NftUnstable { attempts: u32 },
    /// A per-namespace `/proc` file could not be read.
    #[error("cannot read {path}: {error}")]
    Proc { path: String, error: io::Error },
    /// A legacy x_tables socket or `getsockopt` failed.
    #[error("iptables-legacy {family} table `{table}`: cannot {action}: {error}")]
    Legacy {
        family: &'static str,
        table: String,
        action: &'static str,
        error: io::Error,
    },
    /// A legacy table's entries cannot be walked.
    #[error("iptables-legacy {family} table `{table}` is malformed: {detail}")]
    LegacyMalformed {
        family: &'static str,
        table: String,
        detail: String,
    },
}
