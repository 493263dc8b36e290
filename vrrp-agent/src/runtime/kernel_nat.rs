//! Keeps each namespace's kernel NAT for the configured floating IPs (`crate::kernel_nat`) in
//! step with the running instances: written once every instance is set up, rewritten when a
//! reload changes the floating IPs of a namespace, removed on a clean stop.

use std::collections::BTreeMap;

use super::engine::Engine;
use crate::{config::FloatingIp, kernel_nat};

impl Engine {
    /// The floating IPs of every namespace that has or had some.
    fn floating_ips_by_namespace(&self) -> BTreeMap<Option<String>, Vec<FloatingIp>> {
        let mut by_ns: BTreeMap<Option<String>, Vec<FloatingIp>> = self
            .kernel_nat
            .keys()
            .map(|ns| (ns.clone(), Vec::new()))
            .collect();
        for slot in self.slots.values() {
            if slot.spec.floating_ips.is_empty() {
                continue;
            }
            by_ns
                .entry(slot.spec.netns.clone())
                .or_default()
                .extend(slot.spec.floating_ips.iter().cloned());
        }
        by_ns
    }

    /// Writes the NAT of every namespace whose floating IPs changed since the last write.
    pub(super) async fn sync_kernel_nat(&mut self) {
        for (netns, fips) in self.floating_ips_by_namespace() {
            let script = kernel_nat::script(&fips);
            if self.kernel_nat.get(&netns) == Some(&script) {
                continue;
            }
            let ns = netns.clone();
            let text = script.clone();
            let result =
                tokio::task::spawn_blocking(move || kernel_nat::apply(ns.as_deref(), &text)).await;
            match result {
                Ok(Ok(())) => {
                    tracing::info!(
                        netns = netns.as_deref().unwrap_or("-"),
                        floating_ips = fips.len(),
                        table = kernel_nat::TABLE,
                        "kernel NAT for the floating IPs written"
                    );
                    if fips.is_empty() {
                        self.kernel_nat.remove(&netns);
                    } else {
                        self.kernel_nat.insert(netns, script);
                    }
                }
                Ok(Err(e)) => tracing::error!(
                    netns = netns.as_deref().unwrap_or("-"),
                    "floating IPs are not translated: {e}"
                ),
                Err(e) => tracing::error!("writing the kernel NAT: {e}"),
            }
        }
    }

    /// Removes every NAT table the agent wrote (clean stop).
    pub(super) async fn remove_kernel_nat(&mut self) {
        let namespaces: Vec<Option<String>> = self.kernel_nat.keys().cloned().collect();
        for netns in namespaces {
            let ns = netns.clone();
            let result = tokio::task::spawn_blocking(move || {
                kernel_nat::apply(ns.as_deref(), &kernel_nat::script(&[]))
            })
            .await;
            if !matches!(result, Ok(Ok(()))) {
                tracing::warn!(
                    netns = netns.as_deref().unwrap_or("-"),
                    "could not remove the floating-IP NAT table {}",
                    kernel_nat::TABLE
                );
            }
        }
        self.kernel_nat.clear();
    }
}
