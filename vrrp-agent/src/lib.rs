//! vrrp-agent library: everything the `vrrp-agent` binary and the privileged test suite share.
//!
//! Module map (arrows point inwards; edges depend on the core, never the reverse):
//! * `packet`: pure codec (VRRP v2/v3 adverts, checksums, GARP/NA frames). Imports nothing.
//! * `fastpath`: pure analysis: which traffic the XDP fast path may forward as the kernel would.
//! * `fsm`: sans-IO RFC 5798 state machine (inputs and time in, outputs out). Imports `packet`.
//! * `sim`: deterministic many-router simulator over `fsm` and `packet` (for tests).
//! * `config`: configuration model, native TOML and keepalived.conf import. Imports `fsm`.
//! * `kernel_nat`: the nftables NAT the agent writes for configured floating IPs.
//! * `netlink`: rtnetlink (addresses, routes, link state and events), per namespace.
//! * `dataplane`: aya: load the embedded XDP object, attach, read counters, test runs.
//! * `net`: sockets: VRRP raw sockets, raw frames out of an interface, reachability probes.
//! * `netns`: enter named network namespaces.
//! * `node`: the node agent serving every `keepalived` process of a node, and their client.
//! * `pathstate`: what a namespace's packet path holds (netfilter rules, policy routing, tc,
//!   xfrm, forwarding settings, XDP redirect targets), read from the kernel.
//! * `daemon`: fork to the background with pid files (keepalived drop-in).
//! * `socket_lock`: one agent per status or control socket (a lock naming the holder's pid).
//! * `host_view`: the host's namespaces and bpffs seen from under `ip netns exec`.
//! * `api`: status reports, their unix-socket server and client, the status table.
//! * `runtime`: the tokio driver (clock, sockets, netlink, scripts, signals) around `fsm`.
pub mod api;
pub mod config;
pub mod daemon;
pub mod dataplane;
pub mod fastpath;
pub mod fsm;
pub mod host_view;
pub mod kernel_nat;
pub mod net;
pub mod netlink;
pub mod netns;
pub mod node;
pub mod packet;
pub mod pathstate;
pub mod runtime;
#[cfg(feature = "sim")]
pub mod sim;
pub mod socket_lock;
