//! XDP attachments that survive the agent: each link is pinned on the bpf filesystem, so the
//! program keeps running (and keeps fencing with its leases) when the agent dies, and a
//! restarted agent atomically swaps its freshly loaded program into the existing link
//! (`bpf_link_update`) instead of detaching and re-attaching. A clean stop unpins and
//! detaches.

use std::path::{Path, PathBuf};

use aya::programs::{
    XdpMode,
    links::{FdLink, PinnedLink},
    xdp::{XdpLink, XdpLinkId},
};

use super::{AttachMode, Dataplane, DataplaneError, XdpModePreference, error::attach_failure};
use crate::netns;

/// A pinned XDP link held by this process.
#[derive(Debug)]
pub enum PersistentLink {
    /// Attached by us and pinned at `path`.
    Fresh { link: PinnedLink, mode: AttachMode },
    /// Found pinned at `path` (a previous agent's) and updated to our program.
    Adopted { id: XdpLinkId, path: PathBuf },
}

impl PersistentLink {
    pub fn describe(&self) -> &'static str {
        match self {
            PersistentLink::Fresh {
                mode: AttachMode::Native,
                ..
            } => "native",
            PersistentLink::Fresh {
                mode: AttachMode::Generic,
                ..
            } => "generic",
            PersistentLink::Adopted { .. } => "adopted",
        }
    }
}

impl Dataplane {
    /// Makes this program run on `ifindex` (in `netns`) through a link pinned at `pin`:
    /// adopts an existing pinned link, or attaches afresh (native first, per `pref`) and pins.
    pub fn attach_persistent(
        &mut self,
        netns: Option<&str>,
        interface: &str,
        ifindex: u32,
        pref: XdpModePreference,
        pin: &Path,
    ) -> Result<PersistentLink, DataplaneError> {
        if pin.exists() {
            match self.adopt(pin) {
                Ok(id) => {
                    return Ok(PersistentLink::Adopted {
                        id,
                        path: pin.to_path_buf(),
                    });
                }
                Err(e) => {
                    tracing::warn!(pin = %pin.display(), "stale pinned link, re-attaching: {e}");
                    let _ = std::fs::remove_file(pin);
                }
            }
        }
        if let Some(dir) = pin.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DataplaneError::PinDir {
                dir: dir.to_path_buf(),
                error: e.to_string(),
            })?;
        }
        let program = self.program_mut()?;
        let mut attach = |mode| {
            netns::run_in(netns, || program.attach_to_if_index(ifindex, mode))
                .map_err(DataplaneError::from)
        };
        let attach_error = |native: String, generic: String| DataplaneError::Attach {
            interface: interface.to_string(),
            netns: netns.map(str::to_string),
            native,
            generic,
        };
        let (id, mode) = match pref {
            XdpModePreference::Generic => (
                attach(XdpMode::Skb)?.map_err(|e| {
                    attach_error("not tried (generic only)".into(), attach_failure(&e))
                })?,
                AttachMode::Generic,
            ),
            XdpModePreference::Native => (
                attach(XdpMode::Driver)?.map_err(|e| {
                    attach_error(attach_failure(&e), "not tried (native only)".into())
                })?,
                AttachMode::Native,
            ),
            XdpModePreference::Auto => match attach(XdpMode::Driver)? {
                Ok(id) => (id, AttachMode::Native),
                Err(native) => {
                    tracing::warn!(
                        interface,
                        netns = netns.unwrap_or("-"),
                        error = attach_failure(&native),
                        "native XDP not available; falling back to generic mode"
                    );
                    let id = attach(XdpMode::Skb)?.map_err(|generic| {
                        attach_error(attach_failure(&native), attach_failure(&generic))
                    })?;
                    (id, AttachMode::Generic)
                }
            },
        };
        let program = self.program_mut()?;
        let link: XdpLink = program.take_link(id).map_err(DataplaneError::Program)?;
        let fd = FdLink::try_from(link).map_err(|e| DataplaneError::Link(e.to_string()))?;
        let pinned = fd
            .pin(pin)
            .map_err(|e| DataplaneError::Link(format!("pinning at {}: {e}", pin.display())))?;
        tracing::info!(interface, netns = netns.unwrap_or("-"), %mode, "XDP program attached (pinned link)");
        Ok(PersistentLink::Fresh { link: pinned, mode })
    }

    /// Points an existing pinned link at this program.
    fn adopt(&mut self, pin: &Path) -> Result<XdpLinkId, DataplaneError> {
        let pinned = PinnedLink::from_pin(pin).map_err(|e| DataplaneError::Link(e.to_string()))?;
        let link = XdpLink::try_from(FdLink::from(pinned))
            .map_err(|e| DataplaneError::Link(e.to_string()))?;
        let id = self
            .program_mut()?
            .attach_to_link(link)
            .map_err(DataplaneError::Program)?;
        tracing::info!(pin = %pin.display(), "adopted the pinned XDP link (program replaced atomically)");
        Ok(id)
    }

    /// Unpins and detaches (clean stop).
    pub fn release_persistent(&mut self, link: PersistentLink) {
        match link {
            PersistentLink::Fresh { link, .. } => {
                if let Err(e) = link.unpin() {
                    tracing::warn!("unpinning an XDP link: {e}");
                }
            }
            PersistentLink::Adopted { id, path } => {
                let _ = std::fs::remove_file(&path);
                if let Ok(program) = self.program_mut() {
                    let _ = program.detach(id);
                }
            }
        }
    }
}
