//! The router's interfaces as the agent describes them (`VRRP_PORTS`: MAC, gateway instance,
//! fast-path flags, devmap key) and the devmap of those that take XDP frames (`VRRP_TX`).
//! Every forward of the program goes through [`transmit`], so a frame is only ever redirected
//! to a device the agent found able to take it (`xdp-features` with `NDO_XMIT`): anything
//! else stays with the kernel.

use aya_ebpf::{
    bindings::{BPF_F_NO_PREALLOC, xdp_action},
    macros::map,
    maps::{DevMapHash, HashMap},
    programs::XdpContext,
};
use network_types::eth::EthHdr;
use vrrp_ebpf_common::dataplane::{MAX_PORTS, PORT_FLAG_TX, PortKey, PortValue};

use crate::parse::ptr_at;

/// See `vrrp_ebpf_common::dataplane::PORTS_MAP`.
#[map]
static VRRP_PORTS: HashMap<PortKey, PortValue> =
    HashMap::with_max_entries(MAX_PORTS, BPF_F_NO_PREALLOC);

/// See `vrrp_ebpf_common::dataplane::TX_MAP`.
#[map]
static VRRP_TX: DevMapHash = DevMapHash::with_max_entries(MAX_PORTS, 0);

/// The entry of interface `ifindex` of this router.
#[inline(always)]
pub fn get(ifindex: u32) -> Option<PortValue> {
    let key = PortKey {
        router: crate::router_id(),
        ifindex,
    };
    VRRP_PORTS.get_ptr(key).map(|p| {
        // SAFETY: a pointer from a map lookup is valid for reading the value.
        unsafe { *p }
    })
}

/// The entry of the ingress interface, if the frame is addressed to that interface's MAC
/// (frames for other hosts reach a port on a flooding segment; the kernel drops them, so the
/// program must not act on them either).
#[inline(always)]
pub fn ingress(ctx: &XdpContext) -> Option<PortValue> {
    let port = get(ctx.ingress_ifindex() as u32)?;
    let eth = ptr_at::<EthHdr>(ctx, 0)?;
    // SAFETY: `ptr_at` checked that the header lies inside the frame.
    let dst = unsafe { (*eth).dst_addr };
    (dst == port.mac).then_some(port)
}

/// Whether `port` (the FIB's egress `ifindex`) takes redirected frames right now: flagged by
/// the agent and present in the devmap under its key, for that very interface.
#[inline(always)]
pub fn can_transmit(port: &PortValue, ifindex: u32) -> bool {
    port.flags & PORT_FLAG_TX != 0 && VRRP_TX.get_ifindex(port.tx) == Some(ifindex)
}

/// Redirects the (already rewritten) frame to `port`. Call only after [`can_transmit`]; if the
/// entry vanished in between (the agent removed it) the frame is dropped, not handed to the
/// kernel half rewritten.
#[inline(always)]
pub fn transmit(port: &PortValue) -> u32 {
    VRRP_TX
        .redirect(port.tx, u64::from(xdp_action::XDP_DROP))
        .unwrap_or(xdp_action::XDP_DROP)
}
