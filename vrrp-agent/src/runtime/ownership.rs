//! Where the state machines' `SetOwnership` outputs go: the XDP data plane (issue 5) or
//! nowhere (`NoDataplane`). Called synchronously by the engine before it queues address and
//! GARP work, so ownership always changes first.

use std::net::IpAddr;

/// Identifies an instance for the data plane.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnerKey {
    pub netns: Option<String>,
    pub interface: String,
    pub vrid: u8,
    pub ipv6: bool,
}

/// Receives ownership changes and lease renewals.
pub trait OwnershipSink: Send {
    /// The instance now owns (or no longer owns) `addresses`.
    fn set_owned(&mut self, key: &OwnerKey, owned: bool, accept: bool, addresses: &[IpAddr]);
    /// The instance is alive and master (called at every advert it sends): extend its lease.
    fn renew(&mut self, _key: &OwnerKey) {}
    /// One line for `status`.
    fn describe(&self) -> String;
}

/// No data plane: ownership lives only in the addresses on the interfaces.
pub struct NoDataplane;

impl OwnershipSink for NoDataplane {
    fn set_owned(&mut self, key: &OwnerKey, owned: bool, _accept: bool, _addresses: &[IpAddr]) {
        tracing::debug!(?key, owned, "ownership (no data plane attached)");
    }

    fn describe(&self) -> String {
        "none (addresses only)".into()
    }
}
