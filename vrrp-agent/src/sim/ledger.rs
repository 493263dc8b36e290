//! Who owned the virtual addresses when: every `SetOwnership` output, per (segment, VRID),
//! and the periods in which more than one live router owned them at once.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// A period with more than one owner of the same (segment, VRID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlap {
    pub segment: usize,
    pub vrid: u8,
    pub start: Instant,
    pub end: Option<Instant>,
    /// Instance indexes that owned at once.
    pub owners: Vec<usize>,
    /// Since when the network had been whole (no partition, no loss) without a break when
    /// the overlap began; `None` if it was not whole at some point during the overlap.
    /// Right after a heal the protocol still acts on what it missed before (a backup's
    /// timer armed by the last advert it heard), so callers judge overlaps by how long the
    /// network had been whole when they began.
    pub whole_since: Option<Instant>,
}

impl Overlap {
    /// Whether the network had been whole for at least `settle` when this overlap began and
    /// stayed whole throughout.
    pub fn whole_for(&self, settle: Duration) -> bool {
        self.whole_since.is_some_and(|t| self.start >= t + settle)
    }
}

/// Ownership per instance and the overlaps seen.
#[derive(Clone, Debug)]
pub struct OwnershipLedger {
    whole_since: Option<Instant>,
    owned: BTreeMap<(usize, u8), Vec<usize>>,
    open: BTreeMap<(usize, u8), Overlap>,
    closed: Vec<Overlap>,
}

impl OwnershipLedger {
    /// An empty ledger; the network is whole from `start`.
    pub fn new(start: Instant) -> Self {
        Self {
            whole_since: Some(start),
            owned: BTreeMap::new(),
            open: BTreeMap::new(),
            closed: Vec::new(),
        }
    }

    /// Records that `instance` on (segment, vrid) now owns (or not) at `now`.
    pub fn set(&mut self, segment: usize, vrid: u8, instance: usize, owned: bool, now: Instant) {
        let key = (segment, vrid);
        let owners = self.owned.entry(key).or_default();
        owners.retain(|i| *i != instance);
        if owned {
            owners.push(instance);
        }
        if owners.len() > 1 {
            let owners = owners.clone();
            let whole_since = self.whole_since;
            let o = self.open.entry(key).or_insert_with(|| Overlap {
                segment,
                vrid,
                start: now,
                end: None,
                owners: Vec::new(),
                whole_since,
            });
            for i in owners {
                if !o.owners.contains(&i) {
                    o.owners.push(i);
                }
            }
        } else if let Some(mut o) = self.open.remove(&key) {
            o.end = Some(now);
            self.closed.push(o);
        }
    }

    /// The network changed at `now` (partition, heal, loss) and is now `whole` or not.
    pub fn network_changed(&mut self, whole: bool, now: Instant) {
        if !whole {
            self.whole_since = None;
            for o in self.open.values_mut() {
                o.whole_since = None;
            }
        } else if self.whole_since.is_none() {
            self.whole_since = Some(now);
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
