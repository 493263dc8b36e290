//! What a format parser hands to the shared assembly step: the model's pieces before the
//! cross-references are resolved (script weights, sync groups), each with the lines its
//! parts came from so that later checks can point at them.
//!
//! Imports `super::types`.

use super::types::{GlobalConfig, InstanceSpec, ScriptSpec, SyncGroupSpec, TrackSpec};

/// A parsed configuration file, not yet cross-checked.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub global: GlobalConfig,
    pub scripts: Vec<Located<ScriptSpec>>,
    pub sync_groups: Vec<DraftGroup>,
    pub instances: Vec<DraftInstance>,
}

/// A value and the line it was defined at.
#[derive(Debug)]
pub(crate) struct Located<T> {
    pub line: usize,
    pub value: T,
}

/// Lines of the notify settings (0: not set).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NotifyLines {
    pub any: usize,
    pub master: usize,
    pub backup: usize,
    pub fault: usize,
    pub stop: usize,
}

#[derive(Debug)]
pub(crate) struct DraftGroup {
    pub spec: SyncGroupSpec,
    pub line: usize,
    /// Parallel to `spec.members`.
    pub member_lines: Vec<usize>,
    pub notify_lines: NotifyLines,
}

/// An instance whose `spec.track`, `spec.vrrp.tracked` and `spec.vrrp.sync_group` are still
/// empty: the assembly fills them from `tracks` and the sync groups.
#[derive(Debug)]
pub(crate) struct DraftInstance {
    pub spec: InstanceSpec,
    pub line: usize,
    pub tracks: Vec<DraftTrack>,
    pub lines: InstanceLines,
    /// `use_vmac` as written; `super::vmac` names it and fills `spec.vmac`.
    pub vmac: Option<DraftVmac>,
    /// `balance` as written (`None`: the global default).
    pub balance: Option<bool>,
}

/// `use_vmac [NAME]` and `vmac_xmit_base` before the default name is chosen.
#[derive(Debug, Default)]
pub(crate) struct DraftVmac {
    /// The name given, if any.
    pub name: Option<String>,
    pub xmit_base: bool,
    /// The line of `use_vmac` (0: the instance's).
    pub line: usize,
}

/// A tracked object; `weight: None` means the default (the script's weight for scripts, 0
/// otherwise).
#[derive(Debug)]
pub(crate) struct DraftTrack {
    pub kind: TrackSpec,
    pub name: String,
    pub weight: Option<i32>,
    pub line: usize,
}

/// Lines of an instance's settings that checks may blame (0: not given, blame the instance).
#[derive(Clone, Debug, Default)]
pub(crate) struct InstanceLines {
    pub vrid: usize,
    pub priority: usize,
    pub advert: usize,
    pub version: usize,
    pub auth: usize,
    pub garp_repeat: usize,
    pub virtual_addresses: Vec<usize>,
    pub unicast_src: usize,
    pub mcast_src: usize,
    /// Parallel to `spec.unicast_peers`.
    pub unicast_peers: Vec<usize>,
    pub notify: NotifyLines,
}

impl InstanceLines {
    /// `line` if known, else `fallback`.
    pub(crate) fn or(line: usize, fallback: usize) -> usize {
        if line == 0 { fallback } else { line }
    }
}
