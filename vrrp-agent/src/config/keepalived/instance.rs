//! `vrrp_instance NAME { ... }`: reads every supported keyword into a [`Raw`] instance
//! (blocks in `instance_blocks`); `instance_build` then applies keepalived's defaults.
//! Unsupported keepalived keywords and unknown ones are warnings; bad values are errors.
//!
//! Imports `super::{args, global, instance_blocks, instance_build, notify, tree}`,
//! `crate::config::{diag, draft, limits, types, values}`, `crate::fsm`, `crate::packet`.

use std::{net::IpAddr, time::Duration};

use super::{
    args::{self, Seen, at},
    global::{self, Defaults},
    instance_blocks as blocks, instance_build, notify,
    tree::Stmt,
};
use crate::{
    config::{
        diag::Diag,
        draft::{DraftInstance, DraftTrack, InstanceLines},
        limits::PREEMPT_DELAY_MAX_MS,
        types::{ConfigError, NotifySpec},
        values,
    },
    fsm::{InitialState, VirtualAddress, VirtualRoute},
    packet::{Auth, Version},
};

/// An instance as written, before defaults.
#[derive(Debug, Default)]
pub(crate) struct Raw {
    pub name: String,
    pub line: usize,
    pub state: Option<InitialState>,
    pub state_line: usize,
    pub interface: Option<String>,
    pub vrid: Option<u8>,
    pub priority: Option<u8>,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    /// Centiseconds and the text as written.
    pub advert: Option<(u64, String)>,
    pub version: Option<Version>,
    pub native_ipv6: bool,
    pub native_ipv6_line: usize,
    /// `accept` / `no_accept`, and its line.
    pub accept: Option<bool>,
    pub accept_line: usize,
    /// `strict_mode [on|off]`.
    pub strict: Option<bool>,
    pub auth: Option<Auth>,
    pub track_interfaces: Vec<DraftTrack>,
    pub track_scripts: Vec<DraftTrack>,
    pub virtual_addresses: Vec<VirtualAddress>,
    pub excluded_addresses: Vec<VirtualAddress>,
    pub routes: Vec<VirtualRoute>,
    pub garp_delay: Option<Duration>,
    pub garp_repeat: Option<u32>,
    pub garp_refresh: Option<Option<Duration>>,
    pub garp_refresh_repeat: Option<u32>,
    pub unicast_src: Option<IpAddr>,
    pub mcast_src: Option<IpAddr>,
    pub unicast_peers: Vec<IpAddr>,
    /// `v3_checksum_as_v2` (unset: `global_defs`' setting).
    pub v3_checksum_as_v2: Option<bool>,
    pub notify: NotifySpec,
    pub lines: InstanceLines,
    /// `use_vmac [NAME]` (the name, if given, and the line).
    pub use_vmac: Option<(Option<String>, usize)>,
    /// The line of `vmac_xmit_base` (0: not given).
    pub vmac_xmit_base: usize,
}

/// `use_vmac [NAME]`: the macvlan's name, if given. keepalived also takes a MAC address
/// there; the agent's macvlan always has the RFC 9568 virtual MAC, so one is refused.
fn use_vmac(diag: &Diag, s: &Stmt) -> Result<Option<String>, ConfigError> {
    let mut name = None;
    for arg in s.args().iter().map(|w| w.text.as_str()) {
        if arg.contains(':') {
            return Err(diag.error(
                s.line,
                format!(
                    "use_vmac: a MAC address ({arg}) is not supported: the macvlan has the \
                     RFC 9568 virtual MAC 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID)"
                ),
            ));
        }
        if name.is_some() {
            return Err(diag.error(
                s.line,
                format!("use_vmac: expected at most one interface name, got `{arg}` too"),
            ));
        }
        name = Some(at(diag, s.line, values::ifname("use_vmac", arg))?);
    }
    Ok(name)
}

/// Keepalived keywords vrrp-agent knows but does not implement, and why.
fn unsupported(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "use_vmac_addr" | "use_ipvlan" => {
            "only use_vmac's macvlan of the instance's interface; the XDP program owns the \
             addresses"
        }
        "dont_track_primary" | "track_src_ip" | "linkbeat_use_polling" => {
            "the instance's interface is always tracked"
        }
        "track_file" | "track_process" | "track_bfd" => "only interfaces and scripts are tracked",
        "mcast_dst_ip" => "adverts go to the RFC multicast groups",
        "unicast_ttl" | "check_unicast_src" | "unicast_fault_no_peer" | "old_unicast_checksum" => {
            "not implemented"
        }
        "virtual_rules"
        | "no_virtual_ipaddress"
        | "promote_secondaries"
        | "garp_extra_if"
        | "vmac_garp_intvl"
        | "garp_lower_prio_delay"
        | "garp_lower_prio_repeat"
        | "lower_prio_no_advert"
        | "higher_prio_send_advert"
        | "owner_ignore_adverts"
        | "down_timer_adverts"
        | "timer_expired_backup"
        | "thread_timer_expired"
        | "kernel_rx_buf_size"
        | "skip_check_adv_addr"
        | "debug"
        | "smtp_alert"
        | "notify_priority_changes"
        | "lvs_sync_daemon_interface"
        | "notify_deleted"
        | "notify_master_rx_lower_pri"
        | "vrf"
        | "auth_hmac" => "not implemented",
        _ => return None,
    })
}

pub(crate) fn parse(
    diag: &mut Diag,
    stmt: &Stmt,
    defaults: &Defaults,
) -> Result<DraftInstance, ConfigError> {
    let mut raw = Raw {
        name: args::name(diag, stmt)?.to_string(),
        line: stmt.line,
        ..Raw::default()
    };
    let section = format!("vrrp_instance {}", raw.name);
    let mut seen = Seen::default();
    for s in args::block(diag, stmt, true)? {
        if keyword(diag, s, &mut raw, &section)? {
            seen.note(diag, s, &section);
        }
    }
    instance_build::build(diag, raw, defaults)
}

/// Applies one statement; returns whether it is a single-valued setting (to warn when one
/// is given twice).
fn keyword(diag: &mut Diag, s: &Stmt, raw: &mut Raw, section: &str) -> Result<bool, ConfigError> {
    let key = s.keyword();
    let line = s.line;
    match key {
        "state" => {
            let v = args::one(diag, s)?;
            raw.state_line = line;
            raw.state = Some(match v.to_ascii_uppercase().as_str() {
                "MASTER" => InitialState::Master,
                "BACKUP" => InitialState::Backup,
                _ => {
                    return Err(
                        diag.error(line, format!("state: expected MASTER or BACKUP, got `{v}`"))
                    );
                }
            });
        }
        "interface" => {
            raw.interface = Some(at(diag, line, values::ifname(key, args::one(diag, s)?))?);
        }
        "virtual_router_id" => {
            raw.vrid = Some(at(
                diag,
                line,
                values::u8_in(key, args::one(diag, s)?, 1, 255),
            )?);
            raw.lines.vrid = line;
        }
        "priority" => {
            raw.priority = Some(at(
                diag,
                line,
                values::u8_in(key, args::one(diag, s)?, 1, 255),
            )?);
            raw.lines.priority = line;
        }
        "nopreempt" | "preempt" => {
            args::flag(diag, s)?;
            raw.nopreempt = key == "nopreempt";
            return Ok(false);
        }
        "preempt_delay" => {
            raw.preempt_delay = at(
                diag,
                line,
                values::secs_in(key, args::one(diag, s)?, 0, PREEMPT_DELAY_MAX_MS),
            )?;
        }
        "advert_int" => {
            let v = args::one(diag, s)?;
            let Some(cs) = values::decimal(v, 2) else {
                return Err(diag.error(
                    line,
                    format!("advert_int: expected seconds with at most two decimals (e.g. 1 or 0.05), got `{v}`"),
                ));
            };
            raw.advert = Some((cs, v.to_string()));
            raw.lines.advert = line;
        }
        "version" => {
            raw.version = Some(global::version(diag, s)?);
            raw.lines.version = line;
        }
        "native_ipv6" => {
            args::flag(diag, s)?;
            raw.native_ipv6 = true;
            raw.native_ipv6_line = line;
        }
        "v3_checksum_as_v2" => {
            // keepalived: `v3_checksum_as_v2 [true|false]`, true when bare; it overrides
            // global_defs' either way.
            raw.v3_checksum_as_v2 = Some(args::bool_or_bare(diag, s)?);
        }
        "accept" | "no_accept" => {
            args::flag(diag, s)?;
            raw.accept = Some(key == "accept");
            raw.accept_line = line;
            return Ok(false);
        }
        "strict_mode" => {
            raw.strict = Some(args::bool_or_bare(diag, s)?);
            diag.warn(line, format!("strict_mode: {}", global::STRICT_NOTE));
        }
        "authentication" => {
            raw.auth = blocks::authentication(diag, s, section)?;
            raw.lines.auth = line;
        }
        "track_interface" => {
            blocks::tracks(diag, s, true, &mut raw.track_interfaces)?;
            return Ok(false);
        }
        "track_script" => {
            blocks::tracks(diag, s, false, &mut raw.track_scripts)?;
            return Ok(false);
        }
        "virtual_ipaddress" => {
            blocks::addresses(
                diag,
                s,
                &mut raw.virtual_addresses,
                Some(&mut raw.lines.virtual_addresses),
            )?;
            return Ok(false);
        }
        "virtual_ipaddress_excluded" => {
            blocks::addresses(diag, s, &mut raw.excluded_addresses, None)?;
            return Ok(false);
        }
        "virtual_routes" => {
            blocks::routes(diag, s, &mut raw.routes)?;
            return Ok(false);
        }
        "garp_master_delay" => raw.garp_delay = Some(global::garp_delay(diag, s)?),
        "garp_master_repeat" => {
            raw.garp_repeat = Some(global::garp_repeat(diag, s)?);
            raw.lines.garp_repeat = line;
        }
        "garp_master_refresh" => raw.garp_refresh = Some(global::garp_refresh(diag, s)?),
        "garp_master_refresh_repeat" => {
            raw.garp_refresh_repeat = Some(global::garp_repeat(diag, s)?);
        }
        "unicast_src_ip" => {
            raw.unicast_src = Some(at(diag, line, values::ip(key, args::one(diag, s)?))?);
            raw.lines.unicast_src = line;
        }
        "mcast_src_ip" => {
            raw.mcast_src = Some(at(diag, line, values::ip(key, args::one(diag, s)?))?);
            raw.lines.mcast_src = line;
        }
        "unicast_peer" => {
            blocks::peers(
                diag,
                s,
                &mut raw.unicast_peers,
                &mut raw.lines.unicast_peers,
            )?;
            return Ok(false);
        }
        "use_vmac" => raw.use_vmac = Some((use_vmac(diag, s)?, line)),
        "vmac_xmit_base" => {
            args::flag(diag, s)?;
            raw.vmac_xmit_base = line;
        }
        k if notify::is_notify(k) => {
            notify::set(diag, s, &mut raw.notify, &mut raw.lines.notify)?;
            return Ok(false);
        }
        k => {
            match unsupported(k) {
                Some(why) => args::ignored(diag, s, section, why),
                None => args::unknown(diag, s, section),
            }
            return Ok(false);
        }
    }
    Ok(true)
}
