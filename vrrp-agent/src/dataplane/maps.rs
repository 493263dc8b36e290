//! Typed access to the forwarding maps (layouts in `vrrp_ebpf_common::dataplane`): instances,
//! ownership leases, virtual addresses and floating IPs, NAT, interfaces and the devmap of
//! redirect targets, peer allow-lists, and per-instance counters.

use aya::maps::{Array, DevMapHash, HashMap, MapData, PerCpuArray};
use vrrp_ebpf_common::dataplane::{
    AddrKey, INSTANCE_COUNTER_COUNT, INSTANCE_COUNTERS_MAP, INSTANCES_MAP, InstanceCounters,
    InstanceKey, InstanceValue, NAT_OUT_MAP, NatOutValue, OWNERS_MAP, OwnerState, PEERS_MAP,
    PORTS_MAP, PeerKey, PortKey, PortValue, TX_MAP, VIPS_MAP, VipValue,
};

use super::{Dataplane, DataplaneError};

macro_rules! map_mut {
    ($self:ident, $name:expr, $ty:ty) => {{
        let map = $self
            .ebpf
            .map_mut($name)
            .ok_or(DataplaneError::MissingMap($name))?;
        <$ty>::try_from(map).map_err(|error| DataplaneError::Map { name: $name, error })?
    }};
}

macro_rules! map_ref {
    ($self:ident, $name:expr, $ty:ty) => {{
        let map = $self
            .ebpf
            .map($name)
            .ok_or(DataplaneError::MissingMap($name))?;
        <$ty>::try_from(map).map_err(|error| DataplaneError::Map { name: $name, error })?
    }};
}

fn err(name: &'static str) -> impl Fn(aya::maps::MapError) -> DataplaneError {
    move |error| DataplaneError::Map { name, error }
}

/// Deleting an absent key is fine.
fn absent_ok(r: Result<(), aya::maps::MapError>) -> Result<(), aya::maps::MapError> {
    match r {
        Err(aya::maps::MapError::KeyNotFound) => Ok(()),
        Err(aya::maps::MapError::SyscallError(e))
            if e.io_error.raw_os_error() == Some(libc::ENOENT) =>
        {
            Ok(())
        }
        other => other,
    }
}

impl Dataplane {
    pub fn upsert_instance(
        &mut self,
        key: InstanceKey,
        value: InstanceValue,
    ) -> Result<(), DataplaneError> {
        let mut m =
            map_mut!(self, INSTANCES_MAP, HashMap<&mut MapData, InstanceKey, InstanceValue>);
        m.insert(key, value, 0).map_err(err(INSTANCES_MAP))
    }

    pub fn remove_instance(&mut self, key: &InstanceKey) -> Result<(), DataplaneError> {
        let mut m =
            map_mut!(self, INSTANCES_MAP, HashMap<&mut MapData, InstanceKey, InstanceValue>);
        absent_ok(m.remove(key)).map_err(err(INSTANCES_MAP))
    }

    pub fn instances(&self) -> Result<Vec<(InstanceKey, InstanceValue)>, DataplaneError> {
        let m = map_ref!(self, INSTANCES_MAP, HashMap<&MapData, InstanceKey, InstanceValue>);
        m.iter().map(|r| r.map_err(err(INSTANCES_MAP))).collect()
    }

    /// Writes the ownership of a slot (one 8-byte-aligned value: readers see the old or the
    /// new state, never a mix of lease and flags that matters).
    pub fn set_owner(&mut self, slot: u32, state: OwnerState) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, OWNERS_MAP, Array<&mut MapData, OwnerState>);
        m.set(slot, state, 0).map_err(err(OWNERS_MAP))
    }

    pub fn owner(&self, slot: u32) -> Result<OwnerState, DataplaneError> {
        let m = map_ref!(self, OWNERS_MAP, Array<&MapData, OwnerState>);
        m.get(&slot, 0).map_err(err(OWNERS_MAP))
    }

    pub fn upsert_vip(&mut self, key: AddrKey, value: VipValue) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, VIPS_MAP, HashMap<&mut MapData, AddrKey, VipValue>);
        m.insert(key, value, 0).map_err(err(VIPS_MAP))
    }

    pub fn remove_vip(&mut self, key: &AddrKey) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, VIPS_MAP, HashMap<&mut MapData, AddrKey, VipValue>);
        absent_ok(m.remove(key)).map_err(err(VIPS_MAP))
    }

    pub fn vips(&self) -> Result<Vec<(AddrKey, VipValue)>, DataplaneError> {
        let m = map_ref!(self, VIPS_MAP, HashMap<&MapData, AddrKey, VipValue>);
        m.iter().map(|r| r.map_err(err(VIPS_MAP))).collect()
    }

    pub fn upsert_nat_out(
        &mut self,
        key: AddrKey,
        value: NatOutValue,
    ) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, NAT_OUT_MAP, HashMap<&mut MapData, AddrKey, NatOutValue>);
        m.insert(key, value, 0).map_err(err(NAT_OUT_MAP))
    }

    pub fn remove_nat_out(&mut self, key: &AddrKey) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, NAT_OUT_MAP, HashMap<&mut MapData, AddrKey, NatOutValue>);
        absent_ok(m.remove(key)).map_err(err(NAT_OUT_MAP))
    }

    pub fn nat_outs(&self) -> Result<Vec<(AddrKey, NatOutValue)>, DataplaneError> {
        let m = map_ref!(self, NAT_OUT_MAP, HashMap<&MapData, AddrKey, NatOutValue>);
        m.iter().map(|r| r.map_err(err(NAT_OUT_MAP))).collect()
    }

    pub fn upsert_port(&mut self, key: PortKey, value: PortValue) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, PORTS_MAP, HashMap<&mut MapData, PortKey, PortValue>);
        m.insert(key, value, 0).map_err(err(PORTS_MAP))
    }

    pub fn remove_port(&mut self, key: &PortKey) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, PORTS_MAP, HashMap<&mut MapData, PortKey, PortValue>);
        absent_ok(m.remove(key)).map_err(err(PORTS_MAP))
    }

    pub fn ports(&self) -> Result<Vec<(PortKey, PortValue)>, DataplaneError> {
        let m = map_ref!(self, PORTS_MAP, HashMap<&MapData, PortKey, PortValue>);
        m.iter().map(|r| r.map_err(err(PORTS_MAP))).collect()
    }

    /// Puts interface `ifindex` into the devmap under `key`. The kernel resolves the index in
    /// the calling thread's network namespace: call it from inside the interface's namespace.
    pub fn upsert_tx(&mut self, key: u32, ifindex: u32) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, TX_MAP, DevMapHash<&mut MapData>);
        m.insert(key, ifindex, None, 0)
            .map_err(|e| DataplaneError::Tx {
                ifindex,
                error: e.to_string(),
            })
    }

    pub fn remove_tx(&mut self, key: u32) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, TX_MAP, DevMapHash<&mut MapData>);
        absent_ok(m.remove(key)).map_err(err(TX_MAP))
    }

    /// The devmap's keys and interface indexes.
    pub fn tx_entries(&self) -> Result<Vec<(u32, u32)>, DataplaneError> {
        let m = map_ref!(self, TX_MAP, DevMapHash<&MapData>);
        m.iter()
            .map(|r| r.map(|(k, v)| (k, v.if_index)).map_err(err(TX_MAP)))
            .collect()
    }

    pub fn add_peer(&mut self, key: PeerKey) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, PEERS_MAP, HashMap<&mut MapData, PeerKey, u8>);
        m.insert(key, 1, 0).map_err(err(PEERS_MAP))
    }

    pub fn remove_peer(&mut self, key: &PeerKey) -> Result<(), DataplaneError> {
        let mut m = map_mut!(self, PEERS_MAP, HashMap<&mut MapData, PeerKey, u8>);
        absent_ok(m.remove(key)).map_err(err(PEERS_MAP))
    }

    pub fn peers(&self) -> Result<Vec<PeerKey>, DataplaneError> {
        let m = map_ref!(self, PEERS_MAP, HashMap<&MapData, PeerKey, u8>);
        m.keys().map(|r| r.map_err(err(PEERS_MAP))).collect()
    }

    /// The counters of one slot, summed over CPUs (index with `InstanceCounter`).
    pub fn instance_counters(
        &self,
        slot: u32,
    ) -> Result<[u64; INSTANCE_COUNTER_COUNT], DataplaneError> {
        let m = map_ref!(self, INSTANCE_COUNTERS_MAP, PerCpuArray<&MapData, InstanceCounters>);
        let per_cpu = m.get(&slot, 0).map_err(err(INSTANCE_COUNTERS_MAP))?;
        let mut out = [0u64; INSTANCE_COUNTER_COUNT];
        for c in per_cpu.iter() {
            for (o, v) in out.iter_mut().zip(c.values) {
                *o += v;
            }
        }
        Ok(out)
    }
}
