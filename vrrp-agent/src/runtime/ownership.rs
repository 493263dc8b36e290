//! Where the data-plane side of the state machines goes: the XDP program's maps (see
//! `xdp_sink`) or nowhere (`NoDataplane`, keepalived's model: ownership is only the addresses).
//! `set_owned` is called synchronously by the engine before it queues address and GARP work,
//! so ownership always changes first; `renew` at every advert a master sends.

use std::{collections::BTreeMap, net::IpAddr};

use crate::dataplane::manager::Registration;

/// Identifies an instance for the data plane.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnerKey {
    pub netns: Option<String>,
    pub interface: String,
    pub vrid: u8,
    pub ipv6: bool,
}

/// The data plane as the engine drives it.
pub trait DataplaneSink: Send {
    /// Sets an instance up; `Ok(true)` when it should resume as master (restart while master,
    /// lease still valid).
    fn register(&mut self, _key: &OwnerKey, _reg: Registration) -> Result<bool, String> {
        Ok(false)
    }
    fn unregister(&mut self, _key: &OwnerKey) {}
    /// `interface` in `netns` was deleted and created again under the same name: whatever
    /// was attached to the old one is gone; the next `register` naming it attaches again.
    fn interface_recreated(&mut self, _netns: &Option<String>, _interface: &str) {}
    /// Every configured instance is registered: drop what an earlier run left behind.
    fn reconcile(&mut self) {}
    /// The instance now owns (or no longer owns) `addresses`.
    fn set_owned(&mut self, key: &OwnerKey, owned: bool, accept: bool, addresses: &[IpAddr]);
    /// The instance is alive and master (called just before every advert it sends): its
    /// ownership now lasts `lease` (see `Instance::fencing_lease`).
    fn renew(&mut self, _key: &OwnerKey, _lease: std::time::Duration) {}
    /// Counters of an instance, by name.
    fn counters(&self, _key: &OwnerKey) -> Option<BTreeMap<String, u64>> {
        None
    }
    /// Counters of the whole data plane (frames by kind), by name.
    fn global_counters(&self) -> Option<BTreeMap<String, u64>> {
        None
    }
    /// Whether the data plane has a fast path to plan (the XDP program).
    fn supports_fastpath(&self) -> bool {
        false
    }
    /// The fast-path plan of the router of `netns`.
    fn apply_fastpath(
        &mut self,
        _netns: &Option<String>,
        _maps: crate::dataplane::fastpath_maps::FastPathMaps,
    ) {
    }
    /// Makes these veth peers of router ports run NAPI (`fast_path_peer_napi`).
    fn ensure_peer_napi(&mut self, _peers: &[crate::dataplane::peer_napi::PeerRef]) {}
    /// One line for `status`.
    fn describe(&self) -> String;
    /// Where the data plane's maps and links are pinned, if it pins any (for `status`).
    fn pin_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// Clean stop: release everything, detach.
    fn shutdown(&mut self) {}
    /// Clean stop of the router of `netns` only, the data plane's other routers running on
    /// (the node agent's routers share one data plane).
    fn shutdown_router(&mut self, _netns: &Option<String>) {}
}

/// No data plane: ownership lives only in the addresses on the interfaces.
pub struct NoDataplane;

impl DataplaneSink for NoDataplane {
    fn set_owned(&mut self, key: &OwnerKey, owned: bool, _accept: bool, _addresses: &[IpAddr]) {
        tracing::debug!(?key, owned, "ownership (no data plane attached)");
    }

    fn describe(&self) -> String {
        "none (addresses only)".into()
    }
}
