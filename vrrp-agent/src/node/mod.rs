//! One node-wide agent for every `keepalived` process Neutron starts.
//!
//! Neutron runs one `keepalived` per router, inside the router's namespace. Run as whole agents
//! those processes would each load the XDP object and a tokio runtime (about 10 MB per router);
//! instead each `keepalived` process is a small client (`client`, no threads, no runtime) of
//! one node agent (`server`) that runs every router's elections in its own engine and holds
//! the one data plane (`router_sink`). A client starts the node agent when none answers
//! (`spawn`, outside the router's namespaces). Neutron's process semantics stay: the client
//! writes the pid files, turns SIGHUP into a reload and SIGTERM into a release of its router,
//! and exits when the node agent goes (Neutron's process monitor then respawns it, which
//! starts a new node agent); a client that dies makes the node agent release its router.
//!
//! The wire between them (`protocol`): one JSON object per line on a unix socket.
//!
//! Depends on `config`, `runtime`, `dataplane` (server side) and `host_view` (spawning).

// A driver like runtime/: timeouts of the node agent and its clients (see clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod client;
pub mod heap;
pub mod netns_name;
pub mod protocol;
pub mod router_sink;
pub mod server;
pub mod spawn;
