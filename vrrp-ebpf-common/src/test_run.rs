//! The context BPF_PROG_TEST_RUN takes for an XDP program (`ctx_in`): the kernel's
//! `struct xdp_md`, as the agent's test runner and the benchmarks' raw runner fill it in.

/// `struct xdp_md` (include/uapi/linux/bpf.h): data offsets into the frame, then the
/// interface and queue the frame pretends to arrive on.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpMd {
    pub data: u32,
    pub data_end: u32,
    pub data_meta: u32,
    pub ingress_ifindex: u32,
    pub rx_queue_index: u32,
    pub egress_ifindex: u32,
}

const _: () = assert!(core::mem::size_of::<XdpMd>() == 24);

impl XdpMd {
    /// A frame of `len` bytes arriving on `ingress_ifindex` (0: no interface).
    pub fn frame(len: u32, ingress_ifindex: u32) -> Self {
        Self {
            data_end: len,
            ingress_ifindex,
            ..Self::default()
        }
    }
}
