//! The node agent's one data plane, shared by the engines of all its routers: each engine gets
//! a [`RouterSink`] that passes its calls on under a lock, except that a router's clean stop
//! releases only that router (its instances, links and fast path; the others run on) and that
//! the start-up cleanup of an earlier run's leftovers is not one router's to do (routers come
//! and go; what a router that never comes back left has an expired lease, so it fences).
//! Depends on `crate::runtime::ownership`.

use std::{
    collections::BTreeMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use crate::{
    dataplane::{fastpath_maps::FastPathMaps, manager::Registration, peer_napi::PeerRef},
    runtime::ownership::{DataplaneSink, OwnerKey},
};

/// The data plane every router of the node agent uses.
pub type SharedDataplane = Arc<Mutex<Box<dyn DataplaneSink>>>;

/// One router's view of the shared data plane.
pub struct RouterSink {
    shared: SharedDataplane,
    netns: Option<String>,
}

impl RouterSink {
    pub fn new(shared: SharedDataplane, netns: Option<String>) -> Self {
        Self { shared, netns }
    }

    /// The lock; a router whose engine panicked while holding it leaves the data plane as it
    /// was, which the others can still use.
    fn lock(&self) -> MutexGuard<'_, Box<dyn DataplaneSink>> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl DataplaneSink for RouterSink {
    fn register(&mut self, key: &OwnerKey, reg: Registration) -> Result<bool, String> {
        self.lock().register(key, reg)
    }

    fn unregister(&mut self, key: &OwnerKey) {
        self.lock().unregister(key);
    }

    fn interface_recreated(&mut self, netns: &Option<String>, interface: &str) {
        self.lock().interface_recreated(netns, interface);
    }

    fn reconcile(&mut self) {}

    fn set_owned(&mut self, key: &OwnerKey, owned: bool, accept: bool, addresses: &[IpAddr]) {
        self.lock().set_owned(key, owned, accept, addresses);
    }

    fn renew(&mut self, key: &OwnerKey, lease: Duration) {
        self.lock().renew(key, lease);
    }

    fn counters(&self, key: &OwnerKey) -> Option<BTreeMap<String, u64>> {
        self.lock().counters(key)
    }

    fn global_counters(&self) -> Option<BTreeMap<String, u64>> {
        self.lock().global_counters()
    }

    fn supports_fastpath(&self) -> bool {
        self.lock().supports_fastpath()
    }

    fn apply_fastpath(&mut self, netns: &Option<String>, maps: FastPathMaps) {
        self.lock().apply_fastpath(netns, maps);
    }

    fn ensure_peer_napi(&mut self, peers: &[PeerRef]) {
        self.lock().ensure_peer_napi(peers);
    }

    fn describe(&self) -> String {
        format!("{} (node agent, shared)", self.lock().describe())
    }

    fn pin_dir(&self) -> Option<std::path::PathBuf> {
        self.lock().pin_dir()
    }

    fn shutdown(&mut self) {
        let netns = self.netns.clone();
        self.lock().shutdown_router(&netns);
    }

    fn shutdown_router(&mut self, netns: &Option<String>) {
        self.lock().shutdown_router(netns);
    }
}
