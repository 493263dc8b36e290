//! Loading the embedded object into the kernel and owning it for the agent's lifetime.

use aya::{Ebpf, EbpfLoader, programs::Xdp};
use aya_log::EbpfLogger;
use vrrp_ebpf_common::PROGRAM_NAME;

use super::{DataplaneError, attach::Attachment, object::object};

/// How to load the object.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Level up to which the program's own log statements (aya-log) are emitted, or `None`
    /// to disable them (the cheap default: a single comparison per statement).
    pub ebpf_log_level: Option<aya_log::Level>,
    /// The router (network namespace) this program instance serves: part of every map key.
    pub router_id: u32,
    /// Folder on a bpf filesystem where the shared maps are pinned (created on first use,
    /// reused afterwards, so every program instance and a restarted agent share them).
    /// `None`: private maps (tests).
    pub pin_dir: Option<std::path::PathBuf>,
}

/// The maps every program instance shares (pinned under `LoadOptions::pin_dir`).
pub const SHARED_MAPS: &[&str] = &[
    vrrp_ebpf_common::counters::ADVERTS_MAP,
    vrrp_ebpf_common::counters::STATS_MAP,
    vrrp_ebpf_common::dataplane::INSTANCES_MAP,
    vrrp_ebpf_common::dataplane::OWNERS_MAP,
    vrrp_ebpf_common::dataplane::VIPS_MAP,
    vrrp_ebpf_common::dataplane::NAT_OUT_MAP,
    vrrp_ebpf_common::dataplane::PEERS_MAP,
    vrrp_ebpf_common::dataplane::INSTANCE_COUNTERS_MAP,
    vrrp_ebpf_common::dataplane::PORTS_MAP,
    vrrp_ebpf_common::dataplane::TX_MAP,
    "AYA_LOGS",
];

/// A loaded XDP program with its maps and the interfaces it is attached to.
pub struct Dataplane {
    pub(super) ebpf: Ebpf,
    pub(super) attachments: Vec<Attachment>,
    logger: Option<EbpfLogger<&'static dyn log::Log>>,
}

impl Dataplane {
    /// Loads the embedded object and verifies the XDP program (not attached anywhere yet).
    pub fn load(opts: &LoadOptions) -> Result<Self, DataplaneError> {
        let bytes = object()?;
        // 0 = off; aya-log levels count up from Error = 1 to Trace = 5.
        let level: u8 = opts.ebpf_log_level.map_or(0, |l| l as u8);
        let mut loader = EbpfLoader::new();
        loader
            .override_global(aya_log::LEVEL, &level, false)
            .override_global(
                vrrp_ebpf_common::dataplane::ROUTER_ID_GLOBAL,
                &opts.router_id,
                false,
            );
        let pins: Vec<(&str, std::path::PathBuf)> = match &opts.pin_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| DataplaneError::PinDir {
                    dir: dir.clone(),
                    error: e.to_string(),
                })?;
                SHARED_MAPS.iter().map(|m| (*m, dir.join(m))).collect()
            }
            None => Vec::new(),
        };
        for (name, path) in &pins {
            loader.map_pin_path(name, path.as_path());
        }
        let mut ebpf = loader.load(bytes).map_err(DataplaneError::Load)?;
        let logger = if opts.ebpf_log_level.is_some() {
            match EbpfLogger::init(&mut ebpf) {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!("XDP program logs unavailable: {e}");
                    None
                }
            }
        } else {
            None
        };
        let program = program_mut(&mut ebpf)?;
        program.load().map_err(DataplaneError::Program)?;
        Ok(Self {
            ebpf,
            attachments: Vec::new(),
            logger,
        })
    }

    /// The interfaces the program is attached to.
    pub fn attachments(&self) -> &[Attachment] {
        &self.attachments
    }

    /// Hands the program's log reader to the runtime, which polls its fd (readable when new
    /// records arrive) and calls `flush` to forward them to the `log`/`tracing` pipeline.
    pub fn take_logger(&mut self) -> Option<EbpfLogger<&'static dyn log::Log>> {
        self.logger.take()
    }

    pub(super) fn program(&self) -> Result<&Xdp, DataplaneError> {
        self.ebpf
            .program(PROGRAM_NAME)
            .ok_or(DataplaneError::MissingProgram(PROGRAM_NAME))?
            .try_into()
            .map_err(DataplaneError::Program)
    }

    pub(super) fn program_mut(&mut self) -> Result<&mut Xdp, DataplaneError> {
        program_mut(&mut self.ebpf)
    }
}

fn program_mut(ebpf: &mut Ebpf) -> Result<&mut Xdp, DataplaneError> {
    ebpf.program_mut(PROGRAM_NAME)
        .ok_or(DataplaneError::MissingProgram(PROGRAM_NAME))?
        .try_into()
        .map_err(DataplaneError::Program)
}
