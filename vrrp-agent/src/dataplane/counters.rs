//! Reading the program's per-CPU counters into one summed snapshot, and printing it.

use std::{collections::BTreeMap, fmt};

use aya::maps::{MapData, PerCpuArray};
use serde::Serialize;
use vrrp_ebpf_common::counters::{
    ADVERT_SLOTS, ADVERTS_MAP, Family, STATS_MAP, Stat, advert_slot_key,
};

use super::{Dataplane, DataplaneError};

/// Adverts counted for one (VRID, version, family).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdvertCount {
    pub vrid: u8,
    pub version: u8,
    pub family: &'static str,
    pub count: u64,
}

/// The program's counters summed over all CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    /// Frames per kind, by `Stat::name`.
    pub stats: BTreeMap<&'static str, u64>,
    /// Non-zero advert counters, ordered by (VRID, version, family).
    pub adverts: Vec<AdvertCount>,
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    }
}

impl CounterSnapshot {
    /// Count of one frame kind.
    pub fn stat(&self, s: Stat) -> u64 {
        self.stats.get(s.name()).copied().unwrap_or(0)
    }

    /// Adverts counted for one (VRID, version, family).
    pub fn adverts(&self, vrid: u8, version: u8, family: Family) -> u64 {
        self.adverts
            .iter()
            .find(|a| a.vrid == vrid && a.version == version && a.family == family_name(family))
            .map_or(0, |a| a.count)
    }

    /// Sum of all malformed kinds.
    pub fn malformed(&self) -> u64 {
        Stat::ALL
            .iter()
            .filter(|s| s.is_malformed())
            .map(|s| self.stat(*s))
            .sum()
    }
}

impl fmt::Display for CounterSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<28} {:>12}", "frames by kind", "count")?;
        for s in Stat::ALL {
            writeln!(f, "  {:<26} {:>12}", s.name(), self.stat(s))?;
        }
        if self.adverts.is_empty() {
            writeln!(f, "adverts per VRID: none seen")?;
        } else {
            writeln!(
                f,
                "{:<6} {:<8} {:<7} {:>12}",
                "VRID", "version", "family", "adverts"
            )?;
            for a in &self.adverts {
                writeln!(
                    f,
                    "{:<6} v{:<7} {:<7} {:>12}",
                    a.vrid, a.version, a.family, a.count
                )?;
            }
        }
        Ok(())
    }
}

impl Dataplane {
    /// The frame counters by kind only (cheap: no per-VRID slots), summed over CPUs.
    pub fn stats(&self) -> Result<BTreeMap<&'static str, u64>, DataplaneError> {
        let stats_map = self.per_cpu_array(STATS_MAP)?;
        let mut stats = BTreeMap::new();
        for s in Stat::ALL {
            let values = stats_map
                .get(&(s as u32), 0)
                .map_err(|error| DataplaneError::Map {
                    name: STATS_MAP,
                    error,
                })?;
            stats.insert(s.name(), values.iter().sum());
        }
        Ok(stats)
    }

    /// Reads and sums the per-CPU counters.
    pub fn counters(&self) -> Result<CounterSnapshot, DataplaneError> {
        let stats_map = self.per_cpu_array(STATS_MAP)?;
        let map_err = |name| move |error| DataplaneError::Map { name, error };
        let mut stats = BTreeMap::new();
        for s in Stat::ALL {
            let values = stats_map.get(&(s as u32), 0).map_err(map_err(STATS_MAP))?;
            stats.insert(s.name(), values.iter().sum());
        }
        let adverts_map = self.per_cpu_array(ADVERTS_MAP)?;
        let mut adverts = Vec::new();
        for slot in 0..ADVERT_SLOTS {
            let count: u64 = adverts_map
                .get(&slot, 0)
                .map_err(map_err(ADVERTS_MAP))?
                .iter()
                .sum();
            if count > 0 {
                let (vrid, version, family) = advert_slot_key(slot);
                adverts.push(AdvertCount {
                    vrid,
                    version,
                    family: family_name(family),
                    count,
                });
            }
        }
        Ok(CounterSnapshot { stats, adverts })
    }

    fn per_cpu_array(
        &self,
        name: &'static str,
    ) -> Result<PerCpuArray<&MapData, u64>, DataplaneError> {
        let map = self
            .ebpf
            .map(name)
            .ok_or(DataplaneError::MissingMap(name))?;
        PerCpuArray::try_from(map).map_err(|error| DataplaneError::Map { name, error })
    }
}
