//! Attaching the loaded program to interfaces (in any named network namespace), native mode
//! first with a warned fallback to generic mode, and detaching again.

use std::{fmt, str::FromStr};

use aya::programs::{XdpMode, xdp::XdpLinkId};

use super::{Dataplane, DataplaneError, error::attach_failure};
use crate::netns;

/// Which XDP mode to ask the kernel for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpModePreference {
    /// Native (driver) mode; fall back to generic mode with a warning when the driver lacks it.
    #[default]
    Auto,
    /// Native mode or fail.
    Native,
    /// Generic (skb) mode: works on any interface, slower.
    Generic,
}

impl FromStr for XdpModePreference {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "native" | "driver" | "drv" => Ok(Self::Native),
            "generic" | "skb" => Ok(Self::Generic),
            other => Err(format!(
                "unknown XDP mode `{other}`: expected auto, native or generic"
            )),
        }
    }
}

/// The mode a program actually got attached in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachMode {
    Native,
    Generic,
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachMode::Native => "native",
            AttachMode::Generic => "generic",
        })
    }
}

/// One interface the program is attached to.
#[derive(Debug)]
pub struct Attachment {
    pub netns: Option<String>,
    pub interface: String,
    pub ifindex: u32,
    pub mode: AttachMode,
    link: XdpLinkId,
}

impl Dataplane {
    /// Attaches the program to `interface` inside `netns` (or the agent's own namespace).
    pub fn attach(
        &mut self,
        netns: Option<&str>,
        interface: &str,
        pref: XdpModePreference,
    ) -> Result<&Attachment, DataplaneError> {
        let program = self.program_mut()?;
        let attach_error = |native: String, generic: String| DataplaneError::Attach {
            interface: interface.to_string(),
            netns: netns.map(str::to_string),
            native,
            generic,
        };
        let (ifindex, link, mode) = netns::run_in(netns, || {
            let ifindex = nix::net::if_::if_nametoindex(interface).map_err(|_| {
                DataplaneError::UnknownInterface {
                    interface: interface.to_string(),
                    netns: netns.map(str::to_string),
                }
            })?;
            match pref {
                XdpModePreference::Native => program
                    .attach_to_if_index(ifindex, XdpMode::Driver)
                    .map(|l| (ifindex, l, AttachMode::Native))
                    .map_err(|e| {
                        attach_error(attach_failure(&e), "not tried (native only)".into())
                    }),
                XdpModePreference::Generic => program
                    .attach_to_if_index(ifindex, XdpMode::Skb)
                    .map(|l| (ifindex, l, AttachMode::Generic))
                    .map_err(|e| {
                        attach_error("not tried (generic only)".into(), attach_failure(&e))
                    }),
                XdpModePreference::Auto => {
                    match program.attach_to_if_index(ifindex, XdpMode::Driver) {
                        Ok(l) => Ok((ifindex, l, AttachMode::Native)),
                        Err(native) => {
                            tracing::warn!(
                                interface,
                                netns = netns.unwrap_or("-"),
                                error = attach_failure(&native),
                                "native XDP not available; falling back to generic mode \
                                 (correct, but slower: every packet pays for an skb first)"
                            );
                            program
                                .attach_to_if_index(ifindex, XdpMode::Skb)
                                .map(|l| (ifindex, l, AttachMode::Generic))
                                .map_err(|generic| {
                                    attach_error(attach_failure(&native), attach_failure(&generic))
                                })
                        }
                    }
                }
            }
        })??;
        tracing::info!(interface, netns = netns.unwrap_or("-"), ifindex, %mode, "XDP program attached");
        self.attachments.push(Attachment {
            netns: netns.map(str::to_string),
            interface: interface.to_string(),
            ifindex,
            mode,
            link,
        });
        Ok(self.attachments.last().expect("just pushed"))
    }

    /// Detaches the program from every interface (each inside its own namespace). Errors are
    /// logged and the first one returned after all detaches were tried.
    pub fn detach_all(&mut self) -> Result<(), DataplaneError> {
        let attachments = std::mem::take(&mut self.attachments);
        let mut first_error = None;
        for a in attachments {
            let program = self.program_mut()?;
            let result = netns::run_in(a.netns.as_deref(), || program.detach(a.link));
            let result = match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(DataplaneError::Program(e)),
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(()) => tracing::info!(
                    interface = a.interface,
                    netns = a.netns.as_deref().unwrap_or("-"),
                    "XDP program detached"
                ),
                Err(e) => {
                    tracing::error!(interface = a.interface, "detaching XDP failed: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
