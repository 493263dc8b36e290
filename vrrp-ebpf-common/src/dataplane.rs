//! Maps of the forwarding data plane: which virtual addresses exist, which instance owns them
//! (with its lease), floating-IP NAT, peer allow-lists, and per-instance counters.
//!
//! Namespace isolation: interface indexes and tenant addresses repeat across network
//! namespaces, so every key starts with the `router` id of the namespace. The program is
//! loaded once per namespace with that id in its [`ROUTER_ID_GLOBAL`] constant, and all
//! instances share these maps (pinned).
//!
//! Ownership: a VIP entry names an instance *slot*; [`OWNERS_MAP`] holds one
//! [`OwnerState`] per slot. The slot is owned while `lease_deadline_ns` (kernel monotonic
//! time, `bpf_ktime_get_ns`) is in the future; 0 means released (BACKUP, FAULT, INIT). The
//! agent renews the lease at every advert it sends, so a killed or frozen master stops
//! forwarding by itself when the lease runs out. One 8-byte write flips every VIP of an
//! instance at once.
//!
//! Fast path: the program only ever *forwards* (translates and redirects) a packet when the
//! agent has marked its class eligible, i.e. proved from the namespace's own netfilter rules,
//! routing rules, tc and settings that the kernel would send exactly the same bytes. The marks
//! are [`VIP_FLAG_FAST_IN`] (traffic to a floating IP, leaving through the interface the agent
//! checked), [`NAT_OUT_FLAG_FAST`] (traffic from its fixed IP, arriving on the interface the
//! agent checked) and the `PORT_FLAG_ROUTE_*` bits of each interface in [`PORTS_MAP`] (plain
//! routing); the egress must also be in [`TX_MAP`] (a device that takes XDP frames). Anything
//! else goes to the kernel untouched.

/// Version of the map layouts (names, key and value types, sizes). Pinned maps live in a
/// folder named after it, so an upgraded agent never reuses maps of another layout (aya
/// reuses a pin without comparing sizes). Bump on any layout change.
pub const LAYOUT_VERSION: u32 = 6;

/// Name of the global `u32` the agent sets at load time: this program instance's router id.
pub const ROUTER_ID_GLOBAL: &str = "ROUTER_ID";

/// `HashMap<InstanceKey, InstanceValue>`: the VRRP instances per (router, interface, VRID,
/// family); adverts for other VRIDs on an interface are dropped.
pub const INSTANCES_MAP: &str = "VRRP_INSTANCES";
/// `Array<OwnerState>` indexed by slot.
pub const OWNERS_MAP: &str = "VRRP_OWNERS";
/// `HashMap<AddrKey, VipValue>`: virtual addresses and floating IPs (destination side).
pub const VIPS_MAP: &str = "VRRP_VIPS";
/// `HashMap<AddrKey, NatOutValue>`: fixed IPs with a floating IP (source side).
pub const NAT_OUT_MAP: &str = "VRRP_NAT_OUT";
/// `HashMap<PeerKey, u8>`: allowed advert sources per slot (when the slot's allow-list is on).
pub const PEERS_MAP: &str = "VRRP_PEERS";
/// `PerCpuArray<InstanceCounters>` indexed by slot.
pub const INSTANCE_COUNTERS_MAP: &str = "VRRP_INSTANCE_COUNTERS";
/// `HashMap<PortKey, PortValue>`: the router's interfaces the program knows: their MAC (only
/// frames addressed to it are routed by the kernel), the instance whose gateway they are
/// (routed traffic through a not-owned gateway is dropped, so a fenced master stops routing
/// too, not only answering its VIPs), which fast-path classes may enter or leave through them,
/// and their [`TX_MAP`] key.
pub const PORTS_MAP: &str = "VRRP_PORTS";
/// `DevMapHash` (key `u32`, value `bpf_devmap_val`): the interfaces that take frames redirected
/// by XDP, under [`PortValue::tx`]. The agent keeps only devices whose `xdp-features` include
/// `NDO_XMIT` here; the program forwards only through this map.
pub const TX_MAP: &str = "VRRP_TX";

/// Number of instance slots.
pub const MAX_SLOTS: u32 = 4096;
/// Entries of the address maps.
pub const MAX_ADDRESSES: u32 = 65536;
/// Entries of [`PORTS_MAP`] and [`TX_MAP`].
pub const MAX_PORTS: u32 = MAX_SLOTS * 4;

/// Address family codes used in keys.
pub const FAMILY_IPV4: u8 = 4;
pub const FAMILY_IPV6: u8 = 6;

/// Key of [`INSTANCES_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstanceKey {
    pub router: u32,
    pub ifindex: u32,
    pub vrid: u8,
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
    pub _pad: [u8; 2],
}

/// Value of [`INSTANCES_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstanceValue {
    pub slot: u32,
    /// [`INSTANCE_FLAG_ALLOWLIST`], ...
    pub flags: u32,
}

/// Adverts for this instance must come from an address in [`PEERS_MAP`].
pub const INSTANCE_FLAG_ALLOWLIST: u32 = 1;

/// The instance talks unicast to configured peers: adverts from an address in [`PEERS_MAP`]
/// are accepted with any TTL / hop limit, as keepalived accepts them (keepalived sends IPv6
/// unicast adverts with the default hop limit, and IPv4 ones with its `unicast_ttl`).
pub const INSTANCE_FLAG_UNICAST_ANY_TTL: u32 = 2;

/// Value of [`OWNERS_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OwnerState {
    /// Owned while later than `bpf_ktime_get_ns()`; 0: released.
    pub lease_deadline_ns: u64,
    /// [`OWNER_FLAG_ACCEPT`].
    pub flags: u32,
    pub _pad: u32,
}

/// RFC 9568 §6.4.3: while owned, the master accepts IPv4 / IPv6 packets addressed to the
/// instance's addresses (advertised and excluded, floating IPs included). The agent sets it
/// when the instance's Accept_Mode is on or it is the address owner (priority 255). Without
/// it the program drops such packets ([`InstanceCounter::AcceptModeDropped`]) except IPv6
/// neighbour solicitations and advertisements (RFC 9568 §6.1); ARP requests and neighbour
/// solicitations for the addresses pass either way (the master must answer them).
pub const OWNER_FLAG_ACCEPT: u32 = 1;

/// Key of [`VIPS_MAP`] and [`NAT_OUT_MAP`]: an address inside one router.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddrKey {
    pub router: u32,
    pub family: u8,
    pub _pad: [u8; 3],
    /// IPv4 in the first 4 bytes, the rest zero.
    pub addr: [u8; 16],
}

/// What a destination address in [`VIPS_MAP`] is.
pub const VIP_KIND_VIRTUAL: u8 = 0;
/// A floating IP the kernel translates 1:1 to `nat_addr` (the namespace's own NAT rules);
/// with [`VIP_FLAG_FAST_IN`] the program may do the same translation and forward.
pub const VIP_KIND_FLOATING: u8 = 1;
/// An address the kernel handles with rules the fast path does not implement (for example the
/// metadata address Neutron redirects to a local proxy): traffic to it always goes to the
/// kernel untouched, whoever owns what. `slot` is unused.
pub const VIP_KIND_KERNEL: u8 = 2;

/// Floating IP: traffic to it that arrives on `ext_ifindex` and that the FIB sends out of
/// `int_ifindex` may be translated and forwarded by the program (the agent proved it
/// equivalent to the kernel path for exactly that pair of interfaces).
pub const VIP_FLAG_FAST_IN: u8 = 1;

/// Value of [`VIPS_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VipValue {
    /// The instance whose ownership decides.
    pub slot: u32,
    /// [`VIP_KIND_VIRTUAL`], [`VIP_KIND_FLOATING`] or [`VIP_KIND_KERNEL`].
    pub kind: u8,
    /// [`VIP_FLAG_FAST_IN`].
    pub flags: u8,
    pub _pad: [u8; 2],
    /// Floating: the fixed address (IPv4) it maps to.
    pub nat_addr: [u8; 4],
    /// Floating: the external interface, the only one inbound translation applies on.
    pub ext_ifindex: u32,
    /// Floating, fast: the interface translated traffic must leave through.
    pub int_ifindex: u32,
}

/// Traffic from this fixed IP arriving on `int_ifindex` and leaving through `ext_ifindex` may
/// be translated to the floating IP and forwarded by the program.
pub const NAT_OUT_FLAG_FAST: u32 = 1;

/// Value of [`NAT_OUT_MAP`] (IPv4): a fixed IP that has a floating IP. Also read on the
/// inbound path: a packet from outside whose *source* is such a fixed IP is left to the kernel
/// (the kernel's source NAT rule would match it too).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NatOutValue {
    pub slot: u32,
    /// Only traffic leaving through this interface (the router's external port) is
    /// translated: east-west traffic keeps its fixed address.
    pub ext_ifindex: u32,
    /// The floating address.
    pub floating: [u8; 4],
    /// [`NAT_OUT_FLAG_FAST`].
    pub flags: u32,
    /// Fast: the interface outbound traffic must arrive on.
    pub int_ifindex: u32,
}

/// Key of [`PORTS_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortKey {
    pub router: u32,
    pub ifindex: u32,
}

/// [`PortValue::slot`] of an interface that is nobody's gateway.
pub const NO_SLOT: u32 = u32::MAX;

/// The interface carries the virtual addresses of instance `slot`: routed traffic arriving
/// here is dropped while the instance is not owned.
pub const PORT_FLAG_GATEWAY: u16 = 1;
/// [`TX_MAP`] holds the interface under [`PortValue::tx`]: it takes redirected frames.
pub const PORT_FLAG_TX: u16 = 1 << 1;
/// Plain routed traffic (no translation) arriving here may be forwarded by the program ...
pub const PORT_FLAG_ROUTE_IN: u16 = 1 << 2;
/// ... to an interface with this flag.
pub const PORT_FLAG_ROUTE_OUT: u16 = 1 << 3;

/// Value of [`PORTS_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortValue {
    /// The instance whose gateway this is ([`NO_SLOT`]: none).
    pub slot: u32,
    /// The interface's own MAC: only frames addressed to it are routed traffic (others
    /// reach the port on a flooding segment and are none of the router's business).
    pub mac: [u8; 6],
    /// `PORT_FLAG_*`.
    pub flags: u16,
    /// Key of the interface in [`TX_MAP`] (valid with [`PORT_FLAG_TX`]).
    pub tx: u32,
}

/// Key of [`PEERS_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerKey {
    pub slot: u32,
    pub family: u8,
    pub _pad: [u8; 3],
    pub addr: [u8; 16],
}

/// Per-instance counters (per CPU; the agent sums them). Index with [`InstanceCounter`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceCounters {
    pub values: [u64; INSTANCE_COUNTER_COUNT],
}

/// What is counted per instance.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InstanceCounter {
    /// Valid adverts passed to the agent.
    AdvertsPassed = 0,
    /// Adverts dropped: bad TTL / hop limit.
    AdvertsBadTtl = 1,
    /// Adverts dropped: source not in the allow-list.
    AdvertsSpoofed = 2,
    /// Packets to an owned virtual address, passed to the kernel.
    VipPassed = 3,
    /// Packets (and ARP/NS) to a virtual address we do not own: dropped.
    NotOwnedDropped = 4,
    /// Same, because the lease ran out (the agent stopped renewing): dropped.
    LeaseExpiredDropped = 5,
    /// Floating IP: destination translated (inbound).
    NatIn = 6,
    /// Floating IP: source translated (outbound).
    NatOut = 7,
    /// Forwarded by the fast path (translated if a floating IP, handed to a device that takes
    /// XDP frames).
    Redirected = 8,
    /// Of a fast-path class, but left to the kernel untouched: TTL <= 1, fragment, IP
    /// options, VLAN tag, protocol or ICMP type the fast path does not handle, no route or
    /// unresolved neighbour, packet larger than the egress MTU.
    PassedToKernel = 9,
    /// Would have been forwarded, but the egress device does not take XDP frames (a veth
    /// whose peer runs no NAPI): left to the kernel untouched.
    EgressNoXdp = 10,
    /// Owned routed traffic (through a gateway interface, or from a fixed IP with a floating
    /// IP) for which the fast path is off or not eligible: passed to the kernel untouched.
    KernelPath = 11,
    /// IPv4 / IPv6 packets to a virtual address of this master, which has Accept_Mode off and
    /// is not the address owner ([`OWNER_FLAG_ACCEPT`] clear): dropped.
    AcceptModeDropped = 12,
    /// Adverts whose VRRP checksum matches no form: passed for the agent to refuse and log.
    AdvertsBadChecksum = 13,
    /// Adverts too long to verify here (see `proto::MAX_VERIFIED_VRRP_LEN`): passed.
    AdvertsUnverified = 14,
}

pub const INSTANCE_COUNTER_COUNT: usize = 15;

impl InstanceCounter {
    pub const ALL: [InstanceCounter; INSTANCE_COUNTER_COUNT] = [
        InstanceCounter::AdvertsPassed,
        InstanceCounter::AdvertsBadTtl,
        InstanceCounter::AdvertsSpoofed,
        InstanceCounter::VipPassed,
        InstanceCounter::NotOwnedDropped,
        InstanceCounter::LeaseExpiredDropped,
        InstanceCounter::NatIn,
        InstanceCounter::NatOut,
        InstanceCounter::Redirected,
        InstanceCounter::PassedToKernel,
        InstanceCounter::EgressNoXdp,
        InstanceCounter::KernelPath,
        InstanceCounter::AcceptModeDropped,
        InstanceCounter::AdvertsBadChecksum,
        InstanceCounter::AdvertsUnverified,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            InstanceCounter::AdvertsPassed => "adverts_passed",
            InstanceCounter::AdvertsBadTtl => "adverts_bad_ttl",
            InstanceCounter::AdvertsSpoofed => "adverts_spoofed",
            InstanceCounter::VipPassed => "vip_passed",
            InstanceCounter::NotOwnedDropped => "not_owned_dropped",
            InstanceCounter::LeaseExpiredDropped => "lease_expired_dropped",
            InstanceCounter::NatIn => "nat_in",
            InstanceCounter::NatOut => "nat_out",
            InstanceCounter::Redirected => "redirected",
            InstanceCounter::PassedToKernel => "passed_to_kernel",
            InstanceCounter::EgressNoXdp => "egress_no_xdp",
            InstanceCounter::KernelPath => "kernel_path",
            InstanceCounter::AcceptModeDropped => "accept_mode_dropped",
            InstanceCounter::AdvertsBadChecksum => "adverts_bad_checksum",
            InstanceCounter::AdvertsUnverified => "adverts_unverified",
        }
    }
}

const _: () = assert!(core::mem::size_of::<InstanceKey>() == 12);
const _: () = assert!(core::mem::size_of::<InstanceValue>() == 8);
const _: () = assert!(core::mem::size_of::<OwnerState>() == 16);
const _: () = assert!(core::mem::size_of::<AddrKey>() == 24);
const _: () = assert!(core::mem::size_of::<VipValue>() == 20);
const _: () = assert!(core::mem::size_of::<NatOutValue>() == 20);
const _: () = assert!(core::mem::size_of::<PeerKey>() == 24);
const _: () = assert!(core::mem::size_of::<PortKey>() == 8);
const _: () = assert!(core::mem::size_of::<PortValue>() == 16);
const _: () = assert!(core::mem::size_of::<InstanceCounters>() == 8 * INSTANCE_COUNTER_COUNT);
const _: () = assert!(core::mem::size_of::<InstanceCounters>() == 120);
const _: () = assert!(InstanceCounter::ALL.len() == INSTANCE_COUNTER_COUNT);
const _: () = assert!(InstanceCounter::AdvertsUnverified as usize == INSTANCE_COUNTER_COUNT - 1);

/// An address as stored in keys (IPv4 in the first 4 bytes).
pub const fn addr_v4(a: [u8; 4]) -> [u8; 16] {
    [a[0], a[1], a[2], a[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: all these are #[repr(C)] plain data with explicit padding fields (no implicit
    // padding bytes, as the size assertions above show), valid for any bit pattern.
    unsafe impl aya::Pod for InstanceKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for InstanceValue {}
    // SAFETY: as above.
    unsafe impl aya::Pod for OwnerState {}
    // SAFETY: as above.
    unsafe impl aya::Pod for AddrKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for VipValue {}
    // SAFETY: as above.
    unsafe impl aya::Pod for NatOutValue {}
    // SAFETY: as above.
    unsafe impl aya::Pod for PeerKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for InstanceCounters {}
    // SAFETY: as above.
    unsafe impl aya::Pod for PortKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for PortValue {}
}
