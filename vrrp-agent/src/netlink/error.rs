//! Errors of the netlink layer. Imports `crate::netns` (its error) and rtnetlink's error type.
//!
//! Crate convention: a message includes the text of the error it wraps, and the wrapped error
//! is not also exposed as `source()`.

use std::{io, net::IpAddr};

use crate::netns::NetnsError;

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink handles must be opened inside a tokio runtime (their connections run on it)")]
    NoRuntime,
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("cannot open a netlink socket{}: {error}", in_netns(.netns))]
    Socket {
        netns: Option<String>,
        error: io::Error,
    },
    /// The kernel (or the connection) refused a request; `op` says which.
    #[error("netlink: {op}{} failed: {}", in_netns(.netns), describe(.error))]
    Request {
        op: String,
        netns: Option<String>,
        error: rtnetlink::Error,
    },
    #[error("network namespace handle {path}: {error}")]
    NamespaceHandle { path: String, error: String },
    #[error("interface `{name}` not found{}", in_netns(.netns))]
    UnknownInterface { name: String, netns: Option<String> },
    #[error("interface index {index} not found{}", in_netns(.netns))]
    UnknownIndex { index: u32, netns: Option<String> },
    #[error("interface name `{0}` is longer than 15 bytes")]
    BadInterfaceName(String),
    #[error(
        "label `{label}` of {addr}: the kernel wants labels that start with the interface name \
         `{interface}` and are at most 15 bytes (e.g. `{interface}:1`)"
    )]
    BadLabel {
        label: String,
        addr: IpAddr,
        interface: String,
    },
    #[error("address {addr}/{prefix_len}: {why}")]
    BadAddress {
        addr: IpAddr,
        prefix_len: u8,
        why: &'static str,
    },
    #[error("route {dst}/{prefix_len}: {why}")]
    BadRoute {
        dst: IpAddr,
        prefix_len: u8,
        why: String,
    },
    #[error("unknown scope `{0}` (expected global, site, link, host, nowhere or 0-255)")]
    BadScope(String),
    #[error("unknown route protocol `{0}` (expected kernel, boot, static, ... or 0-255)")]
    BadProtocol(String),
}

impl NetlinkError {
    /// The errno the kernel answered with, if this is a refused request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Request {
                error: rtnetlink::Error::NetlinkError(message),
                ..
            } => message.code.map(|code| code.get().abs()),
            _ => None,
        }
    }
}

/// The errno of a kernel refusal (positive), if `error` is one.
pub(super) fn kernel_errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|code| code.get().abs()),
        _ => None,
    }
}

/// rtnetlink's own text for kernel refusals repeats itself ("Received a netlink error message
/// File exists (os error 17)"); say just what the kernel said.
fn describe(error: &rtnetlink::Error) -> String {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.to_io().to_string(),
        other => other.to_string(),
    }
}

fn in_netns(netns: &Option<String>) -> String {
    netns
        .as_deref()
        .map(|n| format!(" in network namespace `{n}`"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroI32;

    use rtnetlink::packet_core::ErrorMessage;

    use super::*;

    fn refused(errno: i32) -> rtnetlink::Error {
        let mut message = ErrorMessage::default();
        message.code = NonZeroI32::new(-errno);
        rtnetlink::Error::NetlinkError(message)
    }

    #[test]
    fn request_errors_carry_the_kernel_text_and_errno() {
        let err = NetlinkError::Request {
            op: "adding 10.0.0.1/32 to interface 3".into(),
            netns: Some("blue".into()),
            error: refused(libc::EEXIST),
        };
        let text = err.to_string();
        assert!(text.contains("adding 10.0.0.1/32"), "{text}");
        assert!(text.contains("network namespace `blue`"), "{text}");
        assert!(text.contains("File exists"), "{text}");
        assert!(!text.contains("Received"), "{text}");
        assert_eq!(err.errno(), Some(libc::EEXIST));
        assert!(std::error::Error::source(&err).is_none());
    }

    #[test]
    fn other_errors_have_no_errno() {
        assert_eq!(NetlinkError::NoRuntime.errno(), None);
        let err = NetlinkError::Request {
            op: "x".into(),
            netns: None,
            error: rtnetlink::Error::RequestFailed,
        };
        assert_eq!(err.errno(), None);
        assert_eq!(kernel_errno(&refused(libc::ESRCH)), Some(libc::ESRCH));
    }
}
