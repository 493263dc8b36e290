//! The XDP data plane behind the engine: registers instances with the program manager, turns
//! ownership outputs and advert-time renewals into lease writes, and reads counters.

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
    path::{Path, PathBuf},
};

use vrrp_ebpf_common::dataplane::{InstanceCounter, InstanceKey};

use super::ownership::{DataplaneSink, OwnerKey};
use crate::dataplane::{
    DataplaneError, XdpModePreference,
    manager::{Manager, Registration},
};

pub struct XdpSink {
    manager: Manager,
    keys: HashMap<OwnerKey, InstanceKey>,
    pin_dir: PathBuf,
}

impl XdpSink {
    pub fn open(pin_dir: &Path, pref: XdpModePreference) -> Result<Self, DataplaneError> {
        Ok(Self {
            manager: Manager::open(pin_dir, pref, None)?,
            keys: HashMap::new(),
            pin_dir: pin_dir.to_path_buf(),
        })
    }
}

impl DataplaneSink for XdpSink {
    fn register(&mut self, key: &OwnerKey, reg: Registration) -> Result<bool, String> {
        let done = self.manager.register(&reg).map_err(|e| e.to_string())?;
        self.keys.insert(key.clone(), done.key);
        Ok(done.resume_master)
    }

    fn unregister(&mut self, key: &OwnerKey) {
        if let Some(k) = self.keys.remove(key)
            && let Err(e) = self.manager.unregister(&k)
        {
            tracing::warn!(?key, "removing the instance from the data plane: {e}");
        }
    }

    fn interface_recreated(&mut self, netns: &Option<String>, interface: &str) {
        self.manager.forget_link(netns, interface);
    }

    fn reconcile(&mut self) {
        match self.manager.reconcile() {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "data plane: dropped instances of an earlier run"
            ),
            Err(e) => tracing::warn!("data plane reconcile: {e}"),
        }
    }

    fn set_owned(&mut self, key: &OwnerKey, owned: bool, accept: bool, _addresses: &[IpAddr]) {
        if let Some(k) = self.keys.get(key)
            && let Err(e) = self.manager.set_owned(k, owned, accept)
        {
            tracing::error!(?key, owned, "data plane ownership write failed: {e}");
        }
    }

    fn renew(&mut self, key: &OwnerKey, lease: std::time::Duration) {
        if let Some(k) = self.keys.get(key)
            && let Err(e) = self.manager.renew(k, lease)
        {
            tracing::error!(?key, "data plane lease renewal failed: {e}");
        }
    }

    fn counters(&self, key: &OwnerKey) -> Option<BTreeMap<String, u64>> {
        let values = self.manager.counters(self.keys.get(key)?)?;
        Some(
            InstanceCounter::ALL
                .iter()
                .zip(values)
                .map(|(c, v)| (c.name().to_string(), v))
                .collect(),
        )
    }

    fn global_counters(&self) -> Option<BTreeMap<String, u64>> {
        Some(
            self.manager
                .stats()?
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    fn supports_fastpath(&self) -> bool {
        true
    }

    fn apply_fastpath(
        &mut self,
        netns: &Option<String>,
        maps: crate::dataplane::fastpath_maps::FastPathMaps,
    ) {
        if let Err(e) = self.manager.apply_fastpath(netns, maps) {
            tracing::error!(
                netns = netns.as_deref().unwrap_or("-"),
                "writing the fast path into the data plane failed: {e}"
            );
        }
    }

    fn ensure_peer_napi(&mut self, peers: &[crate::dataplane::peer_napi::PeerRef]) {
        self.manager.ensure_peer_napi(peers);
    }

    fn describe(&self) -> String {
        self.manager.describe()
    }

    fn pin_dir(&self) -> Option<PathBuf> {
        Some(self.pin_dir.clone())
    }

    fn shutdown(&mut self) {
        self.manager.shutdown();
    }

    fn shutdown_router(&mut self, netns: &Option<String>) {
        self.keys.retain(|k, _| &k.netns != netns);
        self.manager.shutdown_router(netns);
    }
}
