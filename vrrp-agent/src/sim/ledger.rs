//! Who owned the virtual addresses when: every `SetOwnership` output, per (segment, VRID),
//! and the periods in which more than one live router owned them at once.

use std::{collections::BTreeMap, time::Instant};

/// A period with more than one owner of the same (segment, VRID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlap {
    pub segment: usize,
    pub vrid: u8,
    pub start: Instant,
    pub end: Option<Instant>,
    /// Instance indexes that owned at once.
    pub owners: Vec<usize>,
    /// Whether the network was whole (no partition, no loss) during the whole period.
    pub network_whole: bool,
}

/// Ownership per instance and the overlaps seen.
#[derive(Clone, Debug, Default)]
pub struct OwnershipLedger {
    owned: BTreeMap<(usize, u8), Vec<usize>>,
    open: BTreeMap<(usize, u8), Overlap>,
    closed: Vec<Overlap>,
}

impl OwnershipLedger {
    /// Records that `instance` on (segment, vrid) now owns (or not) at `now`.
    pub fn set(
        &mut self,
        segment: usize,
        vrid: u8,
        instance: usize,
        owned: bool,
        now: Instant,
        whole: bool,
    ) {
        let owners = self.owned.entry((segment, vrid)).or_default();
        owners.retain(|i| *i != instance);
        if owned {
            owners.push(instance);
        }
        let owners = owners.clone();
        self.update(segment, vrid, owners, now, whole);
    }

    /// The network changed (partition, heal, loss): an open overlap is no longer "whole".
    pub fn network_changed(&mut self, whole: bool) {
        if !whole {
            for o in self.open.values_mut() {
                o.network_whole = false;
            }
        }
    }

    fn update(&mut self, segment: usize, vrid: u8, owners: Vec<usize>, now: Instant, whole: bool) {
        let key = (segment, vrid);
        if owners.len() > 1 {
            let o = self.open.entry(key).or_insert_with(|| Overlap {
                segment,
                vrid,
                start: now,
                end: None,
                owners: Vec::new(),
                network_whole: whole,
            });
            for i in owners {
                if !o.owners.contains(&i) {
                    o.owners.push(i);
                }
            }
            o.network_whole &= whole;
        } else if let Some(mut o) = self.open.remove(&key) {
            o.end = Some(now);
            self.closed.push(o);
        }
    }

    /// Current owners of (segment, vrid).
    pub fn owners(&self, segment: usize, vrid: u8) -> Vec<usize> {
        self.owned
            .get(&(segment, vrid))
            .cloned()
            .unwrap_or_default()
    }

    /// Every overlap so far, the open ones last (with `end: None`).
    pub fn overlaps(&self) -> Vec<Overlap> {
        let mut all = self.closed.clone();
        all.extend(self.open.values().cloned());
        all
    }
}
