//! One `[[instance]]` table to a draft instance. Defaults: version 3, priority 100, advert
//! interval 1 s, preempt, accept (as keepalived without `vrrp_strict`), state backup (master
//! at priority 255), keepalived's garp schedule. List entries are in `lists`.
//!
//! Imports `super::{convert, lists, schema}`, `crate::config::{draft, limits, types, values}`,
//! `crate::fsm`, `crate::packet`.

use std::time::Duration;

use toml::Spanned;

use super::{convert::Ctx, lists, schema};
use crate::{
    config::{
        draft::{DraftInstance, DraftVmac, InstanceLines},
        limits::{GARP_DELAY_MAX_S, GARP_REFRESH_MAX_S, GARP_REPEAT_MAX, PREEMPT_DELAY_MAX_MS},
        types::{ConfigError, InstanceSpec},
        values,
    },
    fsm::{ChecksumPolicy, GarpConfig, InitialState, InstanceConfig},
    packet::{Auth, ChecksumForm, Version},
};

pub(crate) fn convert(
    ctx: &mut Ctx,
    inst: Spanned<schema::Instance>,
) -> Result<DraftInstance, ConfigError> {
    let line = ctx.line(inst.span());
    let i = inst.into_inner();
    let name = i.name.get_ref().clone();
    if name.trim().is_empty() {
        return Err(ctx.error(
            i.name.span(),
            "name: expected an instance name, got an empty string",
        ));
    }
    let key = |k: &str| format!("instance `{name}`: {k}");
    let mut lines = InstanceLines::default();

    let netns = match &i.netns {
        None => None,
        Some(n) => Some(ctx.at(n.span(), netns_name(&key("netns"), n.get_ref()))?),
    };
    let interface = ctx.at(
        i.interface.span(),
        values::ifname(&key("interface"), i.interface.get_ref()),
    )?;
    let vrid = u8::try_from(ctx.int(&key("vrid"), &i.vrid, 1, 255)?).unwrap_or(1);
    lines.vrid = ctx.line(i.vrid.span());
    let priority = match &i.priority {
        None => 100,
        Some(p) => {
            lines.priority = ctx.line(p.span());
            u8::try_from(ctx.int(&key("priority"), p, 1, 255)?).unwrap_or(100)
        }
    };
    let version = match &i.version {
        None => Version::V3,
        Some(v) => {
            lines.version = ctx.line(v.span());
            match v.get_ref() {
                2 => Version::V2,
                3 => Version::V3,
                other => {
                    return Err(ctx.error(
                        v.span(),
                        format!("{}: expected 2 or 3, got `{other}`", key("version")),
                    ));
                }
            }
        }
    };
    let advert_interval = match &i.advert_interval {
        None => crate::packet::Centisecs::from_secs(1),
        Some(a) => {
            lines.advert = ctx.line(a.span());
            let k = key("advert_interval");
            let ms = ctx.secs(&k, a, 10, 255_000)?.as_millis();
            if !ms.is_multiple_of(10) {
                return Err(ctx.error(
                    a.span(),
                    format!("{k}: expected a multiple of 0.01 s, got {}", a.get_ref()),
                ));
            }
            let cs = u64::try_from(ms / 10).unwrap_or(u64::MAX);
            ctx.at(
                a.span(),
                values::advert_interval(&k, cs, &a.get_ref().to_string(), version),
            )?
        }
    };
    let preempt_delay = match &i.preempt_delay {
        None => Duration::ZERO,
        Some(d) => ctx.secs(&key("preempt_delay"), d, 0, PREEMPT_DELAY_MAX_MS)?,
    };
    let initial_state = match i.state {
        Some(schema::State::Master) => InitialState::Master,
        Some(schema::State::Backup) => InitialState::Backup,
        None if priority == 255 => InitialState::Master,
        None => InitialState::Backup,
    };
    let auth_type = i.auth_type.as_ref().map(|t| (*t.get_ref(), t.span()));
    let auth = match &i.auth_pass {
        None => {
            if let Some((_, span)) = auth_type {
                return Err(ctx.error(span, format!("{} needs an auth_pass", key("auth_type"))));
            }
            Auth::None
        }
        Some(p) => {
            lines.auth = ctx.line(p.span());
            let pass = p.get_ref();
            if pass.is_empty() || pass.len() > 8 {
                return Err(ctx.error(
                    p.span(),
                    format!(
                        "{}: expected 1-8 characters, got {}",
                        key("auth_pass"),
                        pass.len()
                    ),
                ));
            }
            match auth_type {
                None | Some((schema::AuthType::Pass, _)) => Auth::simple(pass),
                Some((schema::AuthType::Ah, span)) => {
                    if initial_state == InitialState::Master && priority != 255 {
                        return Err(ctx.error(
                            span,
                            format!(
                                "{}: an AH instance starts as backup unless it owns the \
                                 addresses (priority 255): it must first learn the sequence \
                                 number from the master's adverts (keepalived clears `state \
                                 MASTER` too); remove state = \"master\"",
                                key("auth_type")
                            ),
                        ));
                    }
                    Auth::ah(pass)
                }
            }
        }
    };
    let ip = |ctx: &Ctx, k: &str, v: &Spanned<String>| {
        ctx.at(v.span(), values::ip(&key(k), v.get_ref()))
    };
    let unicast_src = match &i.unicast_src {
        None => None,
        Some(v) => {
            lines.unicast_src = ctx.line(v.span());
            Some(ip(ctx, "unicast_src", v)?)
        }
    };
    let mcast_src = match &i.mcast_src {
        None => None,
        Some(v) => {
            lines.mcast_src = ctx.line(v.span());
            Some(ip(ctx, "mcast_src", v)?)
        }
    };
    let mut unicast_peers = Vec::new();
    for p in &i.unicast_peers {
        unicast_peers.push(ip(ctx, "unicast_peers", p)?);
        lines.unicast_peers.push(ctx.line(p.span()));
    }
    let virtual_addresses = lists::addresses(
        ctx,
        &key("virtual_addresses"),
        i.virtual_addresses,
        Some(&mut lines.virtual_addresses),
    )?;
    let excluded_addresses =
        lists::addresses(ctx, &key("excluded_addresses"), i.excluded_addresses, None)?;
    let routes = lists::routes(ctx, &key("routes"), i.routes)?;
    let mut tracks = lists::tracks(ctx, &key("track_interfaces"), i.track_interfaces, true)?;
    tracks.extend(lists::tracks(
        ctx,
        &key("track_scripts"),
        i.track_scripts,
        false,
    )?);
    for r in i.track_reachability {
        tracks.push(lists::reachability(ctx, &key("track_reachability"), r)?);
    }
    let mut floating_ips = Vec::new();
    for f in &i.floating_ips {
        let v4 = |k: &str, text: &str| -> Result<std::net::Ipv4Addr, String> {
            text.parse().map_err(|_| {
                format!(
                    "{}: expected an IPv4 address, got `{text}`",
                    key(&format!("floating_ips.{k}"))
                )
            })
        };
        let t = f.get_ref();
        let floating = ctx.at(f.span(), v4("floating", &t.floating))?;
        let fixed = ctx.at(f.span(), v4("fixed", &t.fixed))?;
        if t.interface.is_empty() || t.interface.len() > 15 {
            return Err(ctx.error(
                f.span(),
                format!(
                    "{}: expected an interface name (1-15 characters), got `{}`",
                    key("floating_ips.interface"),
                    t.interface
                ),
            ));
        }
        floating_ips.push(crate::config::FloatingIp {
            floating,
            fixed,
            interface: t.interface.clone(),
        });
    }
    let mut advert_sources = Vec::new();
    for p in &i.advert_sources {
        advert_sources.push(ip(ctx, "advert_sources", p)?);
    }
    let garp = match i.garp {
        None => GarpConfig::default(),
        Some(g) => {
            lines.garp_repeat = ctx.line(g.span());
            garp(ctx, &key("garp"), g)?
        }
    };
    let (notify, notify_lines) = super::convert::notify(
        ctx,
        [
            i.notify,
            i.notify_master,
            i.notify_backup,
            i.notify_fault,
            i.notify_stop,
        ],
    );
    lines.notify = notify_lines;
    let vmac = vmac(ctx, &key, i.use_vmac, i.vmac_xmit_base)?;
    let v3_checksum = match &i.v3_checksum {
        None => ChecksumPolicy::Auto,
        Some(v) => match v.get_ref().as_str() {
            "auto" => ChecksumPolicy::Auto,
            "pseudo_header" => ChecksumPolicy::Fixed(ChecksumForm::WithPseudoHeader),
            "message_only" => ChecksumPolicy::Fixed(ChecksumForm::MessageOnly),
            other => {
                return Err(ctx.error(
                    v.span(),
                    format!(
                        "{}: expected \"auto\" (accept both VRRPv3 IPv4 checksum forms, send \
                         what the other routers send), \"pseudo_header\" (RFC 5798 as \
                         keepalived 2.2 and FRR send it) or \"message_only\" (RFC 9568, \
                         keepalived's v3_checksum_as_v2), got `{other}`",
                        key("v3_checksum")
                    ),
                ));
            }
        },
    };
    let vrrp = InstanceConfig {
        name,
        vrid,
        version,
        priority,
        advert_interval,
        preempt: i.preempt.unwrap_or(true),
        preempt_delay,
        accept_mode: i.accept.unwrap_or(true),
        initial_state,
        virtual_addresses,
        excluded_addresses,
        routes,
        auth,
        garp,
        tracked: Vec::new(),
        sync_group: None,
        v3_checksum,
        // Filled in by `assemble` from the global `startup_delay`.
        startup_delay: Duration::ZERO,
        balance: false,
    };
    Ok(DraftInstance {
        spec: InstanceSpec {
            vrrp,
            netns,
            interface,
            unicast_peers,
            unicast_src,
            mcast_src,
            notify,
            track: Vec::new(),
            floating_ips,
            advert_sources,
            vmac: None,
            conntrack_sync: i.conntrack_sync,
        },
        line,
        tracks,
        lines,
        vmac,
        balance: i.balance,
    })
}

/// `use_vmac` (true, false or the macvlan's name) and `vmac_xmit_base`, which needs it.
fn vmac(
    ctx: &Ctx,
    key: &impl Fn(&str) -> String,
    use_vmac: Option<Spanned<schema::UseVmac>>,
    xmit_base: Option<Spanned<bool>>,
) -> Result<Option<DraftVmac>, ConfigError> {
    let (name, line) = match use_vmac {
        None => (None, 0),
        Some(u) => {
            let line = ctx.line(u.span());
            match u.get_ref() {
                schema::UseVmac::Flag(false) => (None, 0),
                schema::UseVmac::Flag(true) => (Some(None), line),
                schema::UseVmac::Name(n) => (
                    Some(Some(ctx.at(u.span(), values::ifname(&key("use_vmac"), n))?)),
                    line,
                ),
            }
        }
    };
    let xmit = xmit_base.as_ref().is_some_and(|x| *x.get_ref());
    let Some(name) = name else {
        if let Some(x) = xmit_base.filter(|x| *x.get_ref()) {
            return Err(ctx.error(
                x.span(),
                format!("{} needs use_vmac", key("vmac_xmit_base")),
            ));
        }
        return Ok(None);
    };
    Ok(Some(DraftVmac {
        name,
        xmit_base: xmit,
        line,
    }))
}

/// An `ip netns` name: a file name under /run/netns.
fn netns_name(key: &str, n: &str) -> Result<String, String> {
    let ok = !n.is_empty()
        && n.len() <= 255
        && n != "."
        && n != ".."
        && !n
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control());
    if ok {
        Ok(n.to_string())
    } else {
        Err(format!(
            "{key}: expected a namespace name (no `/` or spaces), got `{n}`"
        ))
    }
}

fn garp(ctx: &Ctx, key: &str, g: Spanned<schema::Garp>) -> Result<GarpConfig, ConfigError> {
    let span = g.span();
    let g = g.into_inner();
    let d = GarpConfig::default();
    let secs = |k: &str, v: f64, max_ms: u64| {
        ctx.at(
            span.clone(),
            values::float_secs_in(&format!("{key}: {k}"), v, 0, max_ms),
        )
    };
    let count = |k: &str, v: i64| {
        ctx.at(
            span.clone(),
            values::u32_in(&format!("{key}: {k}"), &v.to_string(), 1, GARP_REPEAT_MAX),
        )
    };
    Ok(GarpConfig {
        master_delay: match g.master_delay {
            None => d.master_delay,
            Some(v) => secs("master_delay", v, u64::from(GARP_DELAY_MAX_S) * 1000)?,
        },
        master_repeat: match g.master_repeat {
            None => d.master_repeat,
            Some(v) => count("master_repeat", v)?,
        },
        refresh: match g.refresh {
            None => d.refresh,
            Some(v) => Some(secs("refresh", v, u64::from(GARP_REFRESH_MAX_S) * 1000)?)
                .filter(|r| !r.is_zero()),
        },
        refresh_repeat: match g.refresh_repeat {
            None => d.refresh_repeat,
            Some(v) => count("refresh_repeat", v)?,
        },
    })
}
