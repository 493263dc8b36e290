//! The ordered worker of one network namespace: adds and removes addresses and routes,
//! sends gratuitous ARP / unsolicited NA, writes state files, strictly in the order the
//! engine queued them (so addresses exist before the GARPs announce them), without ever
//! blocking the protocol.

use std::{collections::HashMap, net::IpAddr, path::PathBuf};

use tokio::sync::{mpsc, oneshot};

use crate::{
    fsm::{State, VirtualAddress, VirtualRoute},
    net::PacketSocket,
    netlink::Netlink,
    netns,
    packet::{gratuitous_arp, unsolicited_na},
};

/// One piece of work.
#[derive(Debug)]
pub enum Effect {
    AddAddresses {
        instance: String,
        ifindex: u32,
        list: Vec<VirtualAddress>,
    },
    RemoveAddresses {
        instance: String,
        ifindex: u32,
        list: Vec<VirtualAddress>,
    },
    AddRoutes {
        instance: String,
        ifindex: u32,
        list: Vec<VirtualRoute>,
    },
    RemoveRoutes {
        instance: String,
        ifindex: u32,
        list: Vec<VirtualRoute>,
    },
    /// `repeat` frames for each (address, interface name).
    Gratuitous {
        instance: String,
        targets: Vec<(IpAddr, String)>,
        repeat: u32,
    },
    WriteState {
        dir: PathBuf,
        instance: String,
        state: State,
    },
    /// Answered once everything queued before it is done.
    Barrier(oneshot::Sender<()>),
}

/// Starts the worker of namespace `netns`; returns its queue.
pub fn spawn(netns: Option<String>, netlink: Netlink) -> mpsc::UnboundedSender<Effect> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut worker = Worker {
            netns,
            netlink,
            packet_sockets: HashMap::new(),
        };
        while let Some(effect) = rx.recv().await {
            worker.apply(effect).await;
        }
    });
    tx
}

/// How many state files may be written at once (each write holds a blocking-pool thread).
/// `bench scale` saw 252 threads at the startup of 250 routers without this bound, and a
/// heap that stayed larger after them.
const STATE_WRITERS: usize = 4;
static STATE_WRITE_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(STATE_WRITERS);

struct Worker {
    netns: Option<String>,
    netlink: Netlink,
    /// By interface name: the socket and the interface's MAC.
    packet_sockets: HashMap<String, (PacketSocket, [u8; 6])>,
}

impl Worker {
    fn ns(&self) -> &str {
        self.netns.as_deref().unwrap_or("-")
    }

    async fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::AddAddresses {
                instance,
                ifindex,
                list,
            } => {
                // An address naming its interface (`dev`) is put there by netlink itself.
                for a in &list {
                    if let Err(e) = self.netlink.add_address(ifindex, a).await {
                        tracing::warn!(instance, netns = self.ns(), address = %a.addr, "adding address failed: {e}");
                    }
                }
            }
            Effect::RemoveAddresses {
                instance,
                ifindex,
                list,
            } => {
                // From its own interface (`dev`) when it names one; netlink looks it up.
                for a in &list {
                    if let Err(e) = self.netlink.del_address(ifindex, a).await {
                        tracing::warn!(instance, netns = self.ns(), address = %a.addr, "removing address failed: {e}");
                    }
                }
            }
            Effect::AddRoutes {
                instance,
                ifindex,
                list,
            } => {
                for r in &list {
                    if let Err(e) = self.netlink.add_route(r, Some(ifindex)).await {
                        tracing::warn!(instance, netns = self.ns(), route = %r.dst, "adding route failed: {e}");
                    }
                }
            }
            Effect::RemoveRoutes {
                instance,
                ifindex,
                list,
            } => {
                for r in &list {
                    if let Err(e) = self.netlink.del_route(r, Some(ifindex)).await {
                        tracing::warn!(instance, netns = self.ns(), route = %r.dst, "removing route failed: {e}");
                    }
                }
            }
            Effect::Gratuitous {
                instance,
                targets,
                repeat,
            } => {
                for (addr, ifname) in targets {
                    if let Err(e) = self.gratuitous(addr, &ifname, repeat).await {
                        tracing::warn!(instance, netns = self.ns(), %addr, interface = ifname, "gratuitous ARP/NA failed: {e}");
                    }
                }
            }
            Effect::WriteState {
                dir,
                instance,
                state,
            } => {
                // File system calls block (a rename can take milliseconds): on the blocking
                // pool, not on the runtime's two worker threads, which also drive every timer
                // and socket of the agent. (Blocking them there, with 250 routers flapping,
                // delayed adverts by more than the master-down interval: more flaps, more
                // state files, an ever-growing queue.)
                // At most STATE_WRITERS at once, though: every namespace has its own worker,
                // and 250 of them changing state together (startup) would start 250 threads.
                let d = dir.clone();
                let name = instance.clone();
                let written = match STATE_WRITE_SLOTS.acquire().await {
                    Ok(_permit) => tokio::task::spawn_blocking(move || {
                        super::state_file::write(&d, &name, state)
                    })
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| match r {
                        // Removed by its owner (Neutron, around its SIGTERM): not an error.
                        Err(gone @ super::state_file::StateFileError::FolderGone(_)) => {
                            tracing::info!(instance, "state file not written: {gone}");
                            Ok(())
                        }
                        other => other.map_err(|e| e.to_string()),
                    }),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = written {
                    tracing::warn!(instance, dir = %dir.display(), "writing the state file failed: {e}");
                }
            }
            Effect::Barrier(done) => {
                let _ = done.send(());
            }
        }
    }

    /// Sends `repeat` gratuitous ARPs (IPv4) or unsolicited NAs (IPv6) for `addr` on
    /// `ifname`. A failure on a cached socket is tried once more on a fresh one: the
    /// interface may have been deleted and created again under its name since (new index,
    /// new MAC).
    async fn gratuitous(&mut self, addr: IpAddr, ifname: &str, repeat: u32) -> Result<(), String> {
        let cached = self.packet_sockets.contains_key(ifname);
        match self.send_gratuitous(addr, ifname, repeat).await {
            Err(e) if cached => {
                tracing::debug!(
                    netns = self.ns(),
                    interface = ifname,
                    "gratuitous send failed on the cached socket ({e}); reopening"
                );
                self.packet_sockets.remove(ifname);
                self.send_gratuitous(addr, ifname, repeat).await
            }
            result => result,
        }
    }

    async fn send_gratuitous(
        &mut self,
        addr: IpAddr,
        ifname: &str,
        repeat: u32,
    ) -> Result<(), String> {
        if !self.packet_sockets.contains_key(ifname) {
            let link = self
                .netlink
                .link_by_name(ifname)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("interface {ifname} not found"))?;
            let mac = link.mac.ok_or("interface has no MAC address")?;
            let index = link.index;
            let socket = netns::run_in(self.netns.as_deref(), move || PacketSocket::open(index))
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            self.packet_sockets
                .insert(ifname.to_string(), (socket, mac));
        }
        let (socket, mac) = &self.packet_sockets[ifname];
        let frame = match addr {
            IpAddr::V4(v4) => gratuitous_arp(*mac, v4),
            IpAddr::V6(v6) => unsolicited_na(*mac, v6, false),
        };
        for _ in 0..repeat.max(1) {
            socket.send(&frame).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
