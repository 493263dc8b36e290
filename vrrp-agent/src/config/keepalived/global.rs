//! `global_defs { ... }`: the agent-wide settings (`router_id`, `script_user`,
//! `enable_script_security`) and the defaults instances inherit (`vrrp_version`,
//! `vrrp_garp_master_*`, `vrrp_strict`'s Accept_Mode default, `v3_checksum_as_v2`). E-mail settings are
//! accepted and ignored with a warning, except `notification_email_from`: Neutron writes it
//! into every router's configuration, and alone (no `smtp_server`, no `notification_email`)
//! it sends nothing in keepalived either, so it is a note.
//!
//! Imports `super::{args, tree}`, `crate::config::{diag, limits, types, values}`, `crate::fsm` and
//! `crate::packet`.

use std::time::Duration;

use super::{
    args::{self, Seen, at},
    tree::Stmt,
};
use crate::{
    config::{
        diag::Diag,
        limits::{GARP_DELAY_MAX_S, GARP_REFRESH_MAX_S, GARP_REPEAT_MAX, STARTUP_DELAY_MAX_MS},
        types::{ConfigError, GlobalConfig},
        values,
    },
    fsm::GarpConfig,
    packet::Version,
};

/// What instances inherit from `global_defs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Defaults {
    /// `vrrp_version` (default 2); IPv6 instances use 3 regardless.
    pub version: Version,
    pub garp: GarpConfig,
    /// `vrrp_strict`: instances default to Accept_Mode off (as keepalived's strict mode).
    pub strict: bool,
    /// `v3_checksum_as_v2` (keepalived 2.2.8+): instances without their own send RFC 9568's
    /// VRRPv3-over-IPv4 checksum (message only).
    pub v3_checksum_as_v2: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            version: Version::V2,
            garp: GarpConfig::default(),
            strict: false,
            v3_checksum_as_v2: false,
        }
    }
}

/// What `vrrp_strict` / `strict_mode` does here: keepalived's strict mode also refuses
/// configurations (authentication, unicast, ...) and changes timers; only its Accept_Mode
/// default is applied.
pub(crate) const STRICT_NOTE: &str = "only its Accept_Mode default is applied (an instance      accepts packets addressed to its virtual addresses only with `accept` or at priority 255,      and never with VRRPv2 below 255, as in keepalived); keepalived's other strict-mode checks      are not";

const SECTION: &str = "global_defs";

/// Applies one `global_defs` block.
pub(crate) fn parse(
    diag: &mut Diag,
    stmt: &Stmt,
    global: &mut GlobalConfig,
    defaults: &mut Defaults,
) -> Result<(), ConfigError> {
    let mut seen = Seen::default();
    for s in args::block(diag, stmt, false)? {
        let key = s.keyword();
        match key {
            "router_id" => {
                seen.note(diag, s, SECTION);
                global.router_id = Some(args::one(diag, s)?.to_string());
            }
            "vrrp_version" => {
                seen.note(diag, s, SECTION);
                defaults.version = version(diag, s)?;
            }
            "vrrp_garp_master_delay" => {
                seen.note(diag, s, SECTION);
                defaults.garp.master_delay = garp_delay(diag, s)?;
            }
            "vrrp_garp_master_repeat" => {
                seen.note(diag, s, SECTION);
                defaults.garp.master_repeat = garp_repeat(diag, s)?;
            }
            "vrrp_garp_master_refresh" => {
                seen.note(diag, s, SECTION);
                defaults.garp.refresh = garp_refresh(diag, s)?;
            }
            "vrrp_garp_master_refresh_repeat" => {
                seen.note(diag, s, SECTION);
                defaults.garp.refresh_repeat = garp_repeat(diag, s)?;
            }
            "vrrp_startup_delay" => {
                seen.note(diag, s, SECTION);
                global.startup_delay = Some(startup_delay(diag, s)?);
            }
            "script_user" => {
                seen.note(diag, s, SECTION);
                global.script_user = Some(args::script_user(diag, s)?);
            }
            "enable_script_security" => {
                args::flag(diag, s)?;
                global.script_security = true;
            }
            "v3_checksum_as_v2" => {
                // keepalived's manual: `v3_checksum_as_v2 [<BOOL>]`, the default of every
                // vrrp_instance. (keepalived 2.3.3 itself sets it whatever the argument.)
                seen.note(diag, s, SECTION);
                defaults.v3_checksum_as_v2 = args::bool_or_bare(diag, s)?;
            }
            "vrrp_strict" => {
                args::flag(diag, s)?;
                defaults.strict = true;
                diag.warn(s.line, format!("vrrp_strict: {STRICT_NOTE}"));
            }
            "notification_email_from" => diag.note(
                s.line,
                "`notification_email_from` in global_defs has no effect (vrrp-agent sends no e-mail)",
            ),
            "notification_email"
            | "smtp_server"
            | "smtp_connect_timeout"
            | "smtp_helo_name"
            | "smtp_alert"
            | "smtp_alert_vrrp"
            | "email_faults" => args::ignored(diag, s, SECTION, "vrrp-agent sends no e-mail"),
            _ => args::unknown(diag, s, SECTION),
        }
    }
    Ok(())
}

/// `vrrp_startup_delay`: seconds (decimals allowed, as keepalived), 0 to an hour.
fn startup_delay(diag: &Diag, s: &Stmt) -> Result<Duration, ConfigError> {
    let v = args::one(diag, s)?;
    let Ok(secs) = v.parse::<f64>() else {
        return Err(diag.error(
            s.line,
            format!("vrrp_startup_delay: expected seconds (such as 5 or 2.5), got `{v}`"),
        ));
    };
    if secs == 0.0 {
        return Ok(Duration::ZERO);
    }
    at(
        diag,
        s.line,
        values::float_secs_in("vrrp_startup_delay", secs, 10, STARTUP_DELAY_MAX_MS),
    )
}

/// `version` / `vrrp_version`: 2 or 3.
pub(crate) fn version(diag: &Diag, s: &Stmt) -> Result<Version, ConfigError> {
    let v = args::one(diag, s)?;
    match v {
        "2" => Ok(Version::V2),
        "3" => Ok(Version::V3),
        _ => Err(diag.error(
            s.line,
            format!("{}: expected 2 or 3, got `{v}`", s.keyword()),
        )),
    }
}

/// `[vrrp_]garp_master_delay`: whole seconds, 0 (no second burst) to 3600.
pub(crate) fn garp_delay(diag: &Diag, s: &Stmt) -> Result<Duration, ConfigError> {
    let v = args::one(diag, s)?;
    let secs = at(
        diag,
        s.line,
        values::u32_in(s.keyword(), v, 0, GARP_DELAY_MAX_S),
    )?;
    Ok(Duration::from_secs(u64::from(secs)))
}

/// `[vrrp_]garp_master_refresh`: whole seconds, 0 (off) to 86400.
pub(crate) fn garp_refresh(diag: &Diag, s: &Stmt) -> Result<Option<Duration>, ConfigError> {
    let v = args::one(diag, s)?;
    let secs = at(
        diag,
        s.line,
        values::u32_in(s.keyword(), v, 0, GARP_REFRESH_MAX_S),
    )?;
    Ok((secs > 0).then(|| Duration::from_secs(u64::from(secs))))
}

/// `[vrrp_]garp_master[_refresh]_repeat`: 1 to 1000.
pub(crate) fn garp_repeat(diag: &Diag, s: &Stmt) -> Result<u32, ConfigError> {
    let v = args::one(diag, s)?;
    at(
        diag,
        s.line,
        values::u32_in(s.keyword(), v, 1, GARP_REPEAT_MAX),
    )
}
