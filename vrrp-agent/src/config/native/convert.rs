//! From the TOML schema to the draft model: `[global]`, `[[script]]`, `[[sync_group]]`
//! (instances are in `instance`), with defaults and range checks. [`Ctx`] turns spans into
//! lines.
//!
//! Imports `super::{instance, schema}`, `crate::config::{diag, draft, limits, types, values}`.

use std::{ops::Range, time::Duration};

use toml::Spanned;

use super::{instance, schema};
use crate::config::{
    diag::{Diag, line_of},
    draft::{Draft, DraftGroup, Located, NotifyLines},
    limits::{
        BALANCE_COOLDOWN_MAX_MS, BALANCE_COOLDOWN_MIN_MS, BALANCE_HYSTERESIS_MAX, COUNT_MAX,
        NOTIFY_TIMEOUT_MAX_MS, SCRIPT_MAX_MS, SCRIPT_MIN_MS, STARTUP_DELAY_MAX_MS,
    },
    types::{
        ConfigError, DataplaneMode, GlobalConfig, NotifySpec, ScriptSpec, ScriptUser,
        SyncGroupSpec, XdpAttach,
    },
    values,
};

/// The text (for lines) and the diagnostics.
pub(crate) struct Ctx<'a> {
    pub text: &'a str,
    pub diag: Diag,
}

impl Ctx<'_> {
    pub(crate) fn line(&self, span: Range<usize>) -> usize {
        line_of(self.text, span.start)
    }

    /// An error at the line where `span` starts.
    pub(crate) fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        self.diag.error(self.line(span), message)
    }

    /// A value parser's result, its error placed at `span`.
    pub(crate) fn at<T>(&self, span: Range<usize>, r: Result<T, String>) -> Result<T, ConfigError> {
        r.map_err(|m| self.error(span, m))
    }

    /// An integer field in `min..=max`.
    pub(crate) fn int(
        &self,
        key: &str,
        v: &Spanned<i64>,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        self.at(
            v.span(),
            values::int_in(key, &v.get_ref().to_string(), min, max),
        )
    }

    /// A seconds field (float or integer) in `min_ms..=max_ms` milliseconds.
    pub(crate) fn secs(
        &self,
        key: &str,
        v: &Spanned<f64>,
        min_ms: u64,
        max_ms: u64,
    ) -> Result<Duration, ConfigError> {
        self.at(
            v.span(),
            values::float_secs_in(key, *v.get_ref(), min_ms, max_ms),
        )
    }
}

pub(crate) fn global(ctx: &Ctx, g: Option<schema::Global>) -> Result<GlobalConfig, ConfigError> {
    let mut out = GlobalConfig::default();
    let Some(g) = g else { return Ok(out) };
    out.router_id = g.router_id;
    out.script_user = script_user(
        ctx,
        "global",
        ("script_user", g.script_user),
        ("script_group", g.script_group),
    )?;
    out.script_security = g.script_security.unwrap_or(false);
    if let Some(d) = g.state_dir {
        out.state_dir = d;
    }
    if let Some(s) = g.status_socket {
        out.status_socket = s;
    }
    if let Some(t) = &g.notify_timeout {
        out.notify_timeout = ctx.secs("notify_timeout", t, 1, NOTIFY_TIMEOUT_MAX_MS)?;
    }
    if let Some(t) = &g.startup_delay {
        out.startup_delay = Some(if *t.get_ref() == 0.0 {
            Duration::ZERO
        } else {
            ctx.secs("global: startup_delay", t, 10, STARTUP_DELAY_MAX_MS)?
        });
    }
    if let Some(d) = &g.dataplane {
        out.dataplane = match d.get_ref().as_str() {
            "xdp" => DataplaneMode::Xdp,
            "none" => DataplaneMode::None,
            other => {
                return Err(ctx.error(
                    d.span(),
                    format!("global: dataplane: expected `xdp` or `none`, got `{other}`"),
                ));
            }
        };
    }
    if let Some(m) = &g.xdp_mode {
        out.xdp_mode = match m.get_ref().as_str() {
            "auto" => XdpAttach::Auto,
            "native" => XdpAttach::Native,
            "generic" => XdpAttach::Generic,
            other => {
                return Err(ctx.error(
                    m.span(),
                    format!(
                        "global: xdp_mode: expected `auto`, `native` or `generic`, got `{other}`"
                    ),
                ));
            }
        };
    }
    out.balance = g.balance.unwrap_or(false);
    if let Some(h) = &g.balance_hysteresis {
        let h = ctx.int("global: balance_hysteresis", h, 0, BALANCE_HYSTERESIS_MAX)?;
        out.balance_settings.hysteresis = u8::try_from(h).unwrap_or(0);
    }
    if let Some(t) = &g.balance_cooldown {
        out.balance_settings.cooldown = Some(ctx.secs(
            "global: balance_cooldown",
            t,
            BALANCE_COOLDOWN_MIN_MS,
            BALANCE_COOLDOWN_MAX_MS,
        )?);
    }
    out.bpf_pin_dir = g.bpf_pin_dir;
    out.fast_path = g.fast_path.unwrap_or(false);
    out.fast_path_peer_napi = g.fast_path_peer_napi.unwrap_or(false);
    out.conntrack_sync = g.conntrack_sync.unwrap_or(false);
    Ok(out)
}

/// A user and its group (`(key, value)` each; `section` and the keys are for messages): a
/// group needs a user, and neither may be empty.
fn script_user(
    ctx: &Ctx,
    section: &str,
    (user_key, user): (&str, Option<Spanned<String>>),
    (group_key, group): (&str, Option<Spanned<String>>),
) -> Result<Option<ScriptUser>, ConfigError> {
    for (key, v) in [(user_key, &user), (group_key, &group)] {
        if let Some(v) = v
            && v.get_ref().trim().is_empty()
        {
            return Err(ctx.error(
                v.span(),
                format!("{section}: {key}: expected a name, got an empty string"),
            ));
        }
    }
    match (user, group) {
        (None, None) => Ok(None),
        (None, Some(group)) => Err(ctx.error(
            group.span(),
            format!(
                "{section}: {group_key} needs {user_key} (a group alone names no user to run as)"
            ),
        )),
        (Some(user), group) => Ok(Some(ScriptUser {
            user: user.into_inner(),
            group: group.map(Spanned::into_inner),
        })),
    }
}

pub(crate) fn script(
    ctx: &Ctx,
    s: Spanned<schema::Script>,
) -> Result<Located<ScriptSpec>, ConfigError> {
    let line = ctx.line(s.span());
    let s = s.into_inner();
    let key = |k: &str| format!("script `{}`: {k}", s.name);
    if s.name.trim().is_empty() {
        return Err(ctx
            .diag
            .error(line, "script: name: expected a name, got an empty string"));
    }
    if s.command.get_ref().trim().is_empty() {
        return Err(ctx.error(
            s.command.span(),
            format!(
                "{}: expected a command, got an empty string",
                key("command")
            ),
        ));
    }
    let interval = match &s.interval {
        Some(v) => ctx.secs(&key("interval"), v, SCRIPT_MIN_MS, SCRIPT_MAX_MS)?,
        None => Duration::from_secs(1),
    };
    let timeout = match &s.timeout {
        Some(v) => ctx.secs(&key("timeout"), v, SCRIPT_MIN_MS, SCRIPT_MAX_MS)?,
        None => interval,
    };
    let count = |k: &str, v: &Option<Spanned<i64>>| -> Result<u32, ConfigError> {
        match v {
            None => Ok(1),
            Some(v) => ctx
                .int(&key(k), v, 1, i64::from(COUNT_MAX))
                .map(|n| u32::try_from(n).unwrap_or(1)),
        }
    };
    let weight = match &s.weight {
        None => 0,
        Some(v) => ctx
            .int(&key("weight"), v, -253, 253)
            .map(|n| i32::try_from(n).unwrap_or(0))?,
    };
    let section = format!("script `{}`", s.name);
    let user = script_user(ctx, &section, ("user", s.user), ("group", s.group))?;
    Ok(Located {
        line,
        value: ScriptSpec {
            fall: count("fall", &s.fall)?,
            rise: count("rise", &s.rise)?,
            name: s.name,
            command: s.command.into_inner(),
            interval,
            timeout,
            weight,
            user,
            run_as: None,
        },
    })
}

/// The five notify keys as a spec and their lines.
pub(crate) fn notify(ctx: &Ctx, keys: [Option<Spanned<String>>; 5]) -> (NotifySpec, NotifyLines) {
    let [any, master, backup, fault, stop] = keys;
    let mut lines = NotifyLines::default();
    let take = |v: Option<Spanned<String>>, line: &mut usize| {
        v.map(|v| {
            *line = ctx.line(v.span());
            v.into_inner()
        })
    };
    let spec = NotifySpec {
        any: take(any, &mut lines.any),
        master: take(master, &mut lines.master),
        backup: take(backup, &mut lines.backup),
        fault: take(fault, &mut lines.fault),
        stop: take(stop, &mut lines.stop),
        run_as: None,
    };
    (spec, lines)
}

pub(crate) fn sync_group(ctx: &Ctx, g: Spanned<schema::SyncGroup>) -> DraftGroup {
    let line = ctx.line(g.span());
    let g = g.into_inner();
    let member_lines = g.members.iter().map(|m| ctx.line(m.span())).collect();
    let members = g.members.into_iter().map(Spanned::into_inner).collect();
    let (spec_notify, notify_lines) = notify(
        ctx,
        [
            g.notify,
            g.notify_master,
            g.notify_backup,
            g.notify_fault,
            g.notify_stop,
        ],
    );
    DraftGroup {
        spec: SyncGroupSpec {
            name: g.name,
            members,
            notify: spec_notify,
        },
        line,
        member_lines,
        notify_lines,
    }
}

/// The whole file.
pub(crate) fn file(ctx: &mut Ctx, f: schema::File) -> Result<Draft, ConfigError> {
    let mut draft = Draft {
        global: global(ctx, f.global)?,
        ..Draft::default()
    };
    for s in f.script {
        draft.scripts.push(script(ctx, s)?);
    }
    for g in f.sync_group {
        draft.sync_groups.push(sync_group(ctx, g));
    }
    for i in f.instance {
        draft.instances.push(instance::convert(ctx, i)?);
    }
    Ok(draft)
}
