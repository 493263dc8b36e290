//! Making router ports take redirected frames (`fast_path_peer_napi`): a veth takes frames
//! that XDP redirects into it only while its peer runs NAPI, so the agent attaches the
//! object's pass-through program (`vrrp_xdp_pass`, native mode: generic XDP does not start
//! NAPI) to the peer, which may live in another namespace (the bridge's, or the host's). The
//! link is pinned (`<pin dir>/peers/<namespace inode>-<ifindex>`) so it outlives a restart,
//! which adopts it; a clean stop detaches it.

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use aya::programs::{
    Xdp, XdpMode,
    links::{FdLink, PinnedLink},
};
use vrrp_ebpf_common::PASS_PROGRAM_NAME;

use super::{Dataplane, DataplaneError, error::attach_failure, manager::Manager};

/// A veth peer to run NAPI on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerRef {
    /// Handle of the peer's network namespace (`/run/netns/<name>`, `/proc/1/ns/net`).
    pub netns: PathBuf,
    pub ifindex: u32,
}

impl PeerRef {
    /// Where its link is pinned under `pin_dir`.
    pub fn pin(&self, pin_dir: &Path) -> Result<PathBuf, DataplaneError> {
        let inode = std::fs::metadata(&self.netns)
            .map_err(|e| DataplaneError::Link(format!("{}: {e}", self.netns.display())))?
            .ino();
        Ok(pin_dir
            .join("peers")
            .join(format!("{inode:x}-{}", self.ifindex)))
    }
}

impl Dataplane {
    fn pass_program_mut(&mut self) -> Result<&mut Xdp, DataplaneError> {
        let program: &mut Xdp = self
            .ebpf
            .program_mut(PASS_PROGRAM_NAME)
            .ok_or(DataplaneError::MissingProgram(PASS_PROGRAM_NAME))?
            .try_into()
            .map_err(DataplaneError::Program)?;
        if program.fd().is_err() {
            program.load().map_err(DataplaneError::Program)?;
        }
        Ok(program)
    }

    /// Attaches the pass-through program to `peer` through a link pinned at `pin`, unless a
    /// link is pinned there already (this or an earlier agent attached it).
    pub fn attach_pass(&mut self, peer: &PeerRef, pin: &Path) -> Result<(), DataplaneError> {
        if pin.exists() {
            return Ok(());
        }
        if let Some(dir) = pin.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DataplaneError::PinDir {
                dir: dir.to_path_buf(),
                error: e.to_string(),
            })?;
        }
        let program = self.pass_program_mut()?;
        let ifindex = peer.ifindex;
        let id = crate::netns::run_in_path(&peer.netns, || {
            program.attach_to_if_index(ifindex, XdpMode::Driver)
        })?
        .map_err(|e| {
            DataplaneError::Link(format!(
                "attaching the pass-through program to interface {ifindex} of {}: {}",
                peer.netns.display(),
                attach_failure(&e)
            ))
        })?;
        let link = self
            .pass_program_mut()?
            .take_link(id)
            .map_err(DataplaneError::Program)?;
        let fd = FdLink::try_from(link).map_err(|e| DataplaneError::Link(e.to_string()))?;
        fd.pin(pin)
            .map_err(|e| DataplaneError::Link(format!("pinning at {}: {e}", pin.display())))?;
        tracing::info!(
            peer_netns = %peer.netns.display(),
            ifindex,
            "pass-through XDP program attached to a router port's veth peer (it now takes \
             redirected frames)"
        );
        Ok(())
    }
}

/// Unpins and detaches the link pinned at `pin` (clean stop).
pub fn detach_pass(pin: &Path) {
    match PinnedLink::from_pin(pin) {
        Ok(link) => match link.unpin() {
            Ok(fd) => drop(fd),
            Err(e) => tracing::warn!(pin = %pin.display(), "unpinning a peer's link: {e}"),
        },
        Err(e) => tracing::warn!(pin = %pin.display(), "a peer's pinned link: {e}"),
    }
}

impl Manager {
    /// Makes every one of `peers` run NAPI (idempotent; failures are logged per peer).
    pub fn ensure_peer_napi(&mut self, peers: &[PeerRef]) {
        for peer in peers {
            let pin = match peer.pin(&self.pin_dir) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("veth peer {}: {e}", peer.ifindex);
                    continue;
                }
            };
            if self.peer_pins.contains(&pin) {
                continue;
            }
            match self.control.attach_pass(peer, &pin) {
                Ok(()) => {
                    self.peer_pins.insert(pin);
                }
                Err(e) => tracing::warn!(
                    peer_netns = %peer.netns.display(),
                    ifindex = peer.ifindex,
                    "cannot make the veth peer take redirected frames: {e}"
                ),
            }
        }
    }
}
