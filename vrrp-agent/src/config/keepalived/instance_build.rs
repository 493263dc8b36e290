//! Turns a [`Raw`] instance into a draft with keepalived's defaults: state BACKUP (MASTER
//! when priority is 255), priority 100 (255 for `state MASTER`), advert_int 1 s, version
//! from `vrrp_version` (3 for IPv6), preempt unless `nopreempt`, Accept_Mode unless
//! `no_accept` (in strict mode, `vrrp_strict` or `strict_mode`: only with `accept` or at
//! priority 255, and never for VRRPv2 below 255, as keepalived 2.2.7 decides it), the
//! `global_defs` garp settings, and the VRRPv3-over-IPv4 checksum form (`v3_checksum_as_v2`,
//! the instance's, else global_defs'). The advert interval and authentication are checked
//! for the version here, where their lines are known; `state MASTER` with AH becomes BACKUP
//! with a warning, as in keepalived.
//!
//! Imports `super::{global, instance}`, `crate::config::{diag, draft, types, values}`, `crate::fsm`,
//! `crate::packet`.

use super::{global::Defaults, instance::Raw};
use crate::{
    config::{
        diag::Diag,
        draft::{DraftInstance, DraftVmac, InstanceLines},
        types::{ConfigError, InstanceSpec},
        values,
    },
    fsm::{ChecksumPolicy, GarpConfig, InitialState, InstanceConfig},
    packet::{Auth, Centisecs, ChecksumForm, Version},
};

pub(crate) fn build(
    diag: &mut Diag,
    raw: Raw,
    defaults: &Defaults,
) -> Result<DraftInstance, ConfigError> {
    let Raw {
        name,
        line,
        state,
        state_line,
        interface,
        vrid,
        priority,
        nopreempt,
        preempt_delay,
        advert,
        version,
        native_ipv6,
        native_ipv6_line,
        accept,
        accept_line,
        strict,
        auth,
        mut track_interfaces,
        track_scripts,
        virtual_addresses,
        excluded_addresses,
        routes,
        garp_delay,
        garp_repeat,
        garp_refresh,
        garp_refresh_repeat,
        unicast_src,
        mcast_src,
        unicast_peers,
        v3_checksum_as_v2,
        notify,
        lines,
        use_vmac,
        vmac_xmit_base,
    } = raw;
    let required =
        |key: &str| diag.error(line, format!("vrrp_instance {name}: `{key}` is required"));
    let Some(interface) = interface else {
        return Err(required("interface"));
    };
    let Some(vrid) = vrid else {
        return Err(required("virtual_router_id"));
    };
    let first_v6 = virtual_addresses.first().map(|a| a.addr.is_ipv6());
    if native_ipv6 && first_v6 == Some(false) {
        return Err(diag.error(
            native_ipv6_line,
            format!("vrrp_instance {name}: native_ipv6, but the virtual addresses are IPv4"),
        ));
    }
    let ipv6 = native_ipv6 || first_v6 == Some(true);
    let version = version.unwrap_or(if ipv6 { Version::V3 } else { defaults.version });
    let advert_interval = interval(diag, advert, version, InstanceLines::or(lines.advert, line))?;
    if version == Version::V3
        && let Some(auth) = &auth
    {
        return Err(diag.error(
            InstanceLines::or(lines.auth, line),
            format!(
                "vrrp_instance {name}: authentication (auth_type {}) needs VRRPv2 (`version 2`); \
                 keepalived ignores it with version 3 and sends unauthenticated adverts",
                if matches!(auth, Auth::Ah { .. }) {
                    "AH"
                } else {
                    "PASS"
                }
            ),
        ));
    }
    let priority = priority.unwrap_or(if state == Some(InitialState::Master) {
        255
    } else {
        100
    });
    let mut initial_state = state.unwrap_or(if priority == 255 {
        InitialState::Master
    } else {
        InitialState::Backup
    });
    if initial_state == InitialState::Master
        && priority != 255
        && matches!(auth, Some(Auth::Ah { .. }))
    {
        // keepalived: "Initial state master is incompatible with AH authentication".
        diag.warn(
            InstanceLines::or(state_line, line),
            format!(
                "vrrp_instance {name}: state MASTER with auth_type AH starts as BACKUP, as \
                 keepalived does (a new AH master must first learn the sequence number from \
                 the current master's adverts)"
            ),
        );
        initial_state = InitialState::Backup;
    }
    let accept_mode = accept_mode(
        diag,
        &name,
        AcceptInput {
            accept,
            strict: strict.unwrap_or(defaults.strict),
            priority,
            version,
        },
        InstanceLines::or(accept_line, line),
    );
    let garp = GarpConfig {
        master_repeat: garp_repeat.unwrap_or(defaults.garp.master_repeat),
        master_delay: garp_delay.unwrap_or(defaults.garp.master_delay),
        refresh: garp_refresh.unwrap_or(defaults.garp.refresh),
        refresh_repeat: garp_refresh_repeat.unwrap_or(defaults.garp.refresh_repeat),
    };
    track_interfaces.extend(track_scripts);
    let strict = strict.unwrap_or(defaults.strict);
    let vmac = vmac(diag, &name, use_vmac, vmac_xmit_base, strict);
    let vrrp = InstanceConfig {
        name,
        vrid,
        version,
        priority,
        advert_interval,
        preempt: !nopreempt,
        preempt_delay,
        accept_mode,
        initial_state,
        virtual_addresses,
        excluded_addresses,
        routes,
        auth: auth.unwrap_or(Auth::None),
        garp,
        tracked: Vec::new(),
        sync_group: None,
        // keepalived 2.2 sends the pseudo-header form unless told otherwise, and accepts
        // only the form it sends; we accept both, and by default follow the peers. The
        // instance's own `v3_checksum_as_v2` wins over global_defs'.
        v3_checksum: if v3_checksum_as_v2.unwrap_or(defaults.v3_checksum_as_v2) {
            ChecksumPolicy::Fixed(ChecksumForm::MessageOnly)
        } else {
            ChecksumPolicy::Auto
        },
        // Filled in by `assemble` from `vrrp_startup_delay`.
        startup_delay: std::time::Duration::ZERO,
        balance: false,
    };
    Ok(DraftInstance {
        spec: InstanceSpec {
            vrrp,
            netns: None,
            interface,
            unicast_peers,
            unicast_src,
            mcast_src,
            notify,
            track: Vec::new(),
            floating_ips: Vec::new(),
            advert_sources: Vec::new(),
            vmac: None,
            conntrack_sync: None,
        },
        line,
        tracks: track_interfaces,
        lines,
        vmac,
        // keepalived.conf has no such keyword (the entry point's settings may turn it on).
        balance: None,
    })
}

/// `use_vmac` and `vmac_xmit_base` as keepalived 2.2.7 takes them: `vmac_xmit_base` alone
/// does nothing, and strict mode clears it (vrrp.c: "xmit_base is incompatible with strict
/// mode - resetting"); both with a warning.
fn vmac(
    diag: &mut Diag,
    name: &str,
    use_vmac: Option<(Option<String>, usize)>,
    xmit_base_line: usize,
    strict: bool,
) -> Option<DraftVmac> {
    let Some((vmac_name, line)) = use_vmac else {
        if xmit_base_line != 0 {
            diag.warn(
                xmit_base_line,
                format!("vrrp_instance {name}: vmac_xmit_base without use_vmac is ignored"),
            );
        }
        return None;
    };
    let mut xmit_base = xmit_base_line != 0;
    if xmit_base && strict {
        diag.warn(
            xmit_base_line,
            format!(
                "vrrp_instance {name}: vmac_xmit_base is incompatible with strict mode; \
                 ignored, as keepalived resets it"
            ),
        );
        xmit_base = false;
    }
    Some(DraftVmac {
        name: vmac_name,
        xmit_base,
        line,
    })
}

/// `advert_int` (centiseconds and text) checked for `version`; default 1 s.
fn interval(
    diag: &Diag,
    advert: Option<(u64, String)>,
    version: Version,
    line: usize,
) -> Result<Centisecs, ConfigError> {
    match advert {
        None => Ok(Centisecs::from_secs(1)),
        Some((cs, text)) => values::advert_interval("advert_int", cs, &text, version)
            .map_err(|m| diag.error(line, m)),
    }
}

/// What decides an instance's Accept_Mode.
struct AcceptInput {
    /// `accept` (true) / `no_accept` (false), if given.
    accept: Option<bool>,
    strict: bool,
    priority: u8,
    version: Version,
}

/// keepalived 2.2.7's Accept_Mode (`vrrp.c`, `vrrp_complete_instance`): as written, else on
/// unless in strict mode (then only at priority 255); in strict mode VRRPv2 below priority 255
/// never accepts (RFC 3768 has no Accept_Mode), with a warning when `accept` asked for it.
fn accept_mode(diag: &mut Diag, name: &str, input: AcceptInput, line: usize) -> bool {
    let owner = input.priority == 255;
    let accept = input.accept.unwrap_or(owner || !input.strict);
    if accept && !owner && input.strict && input.version == Version::V2 {
        diag.warn(
            line,
            format!(
                "vrrp_instance {name}: accept mode with VRRPv2 does not comply with RFC 3768 in                  strict mode; Accept_Mode off, as keepalived resets it"
            ),
        );
        return false;
    }
    accept
}
