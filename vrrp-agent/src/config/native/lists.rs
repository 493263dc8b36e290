//! The list entries of an `[[instance]]`: virtual and excluded addresses, routes, tracked
//! interfaces and scripts (a string in keepalived's syntax or a table, the table turned into
//! the words of the string form so both go through the same checks in `entries`), and
//! reachability checks.
//!
//! Imports `super::{convert, either, schema}`, `crate::config::{draft, entries, limits,
//! types, values}`, `crate::fsm`.

use std::time::Duration;

use toml::Spanned;

use super::{convert::Ctx, either::Either, schema};
use crate::{
    config::{
        draft::DraftTrack,
        entries,
        limits::{COUNT_MAX, PROBE_MAX_MS, PROBE_MIN_MS},
        types::{ConfigError, ProbeMethod, ReachabilitySpec, TrackSpec},
        values,
    },
    fsm::{VirtualAddress, VirtualRoute},
};

/// The words of a string entry, or of a table turned into the string form.
fn words_of<T>(e: &Either<T>, table: impl Fn(&T) -> Vec<String>) -> Vec<String> {
    match e {
        Either::Text(t) => t.split_whitespace().map(str::to_string).collect(),
        Either::Table(t) => table(t),
    }
}

fn push_opt(words: &mut Vec<String>, key: &str, v: Option<String>) {
    if let Some(v) = v {
        words.push(key.to_string());
        words.push(v);
    }
}

pub(crate) fn addresses(
    ctx: &mut Ctx,
    key: &str,
    list: Vec<Spanned<Either<schema::AddressTable>>>,
    mut lines: Option<&mut Vec<usize>>,
) -> Result<Vec<VirtualAddress>, ConfigError> {
    let mut out = Vec::new();
    for e in list {
        let line = ctx.line(e.span());
        let words = words_of(e.get_ref(), |t| {
            let mut w = vec![t.address.clone()];
            push_opt(&mut w, "dev", t.dev.clone());
            push_opt(&mut w, "scope", t.scope.clone());
            push_opt(&mut w, "label", t.label.clone());
            push_opt(&mut w, "brd", t.broadcast.clone());
            if t.no_track {
                w.push("no_track".into());
            }
            w
        });
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let parsed = ctx.at(e.span(), entries::address(key, &refs))?;
        for note in parsed.notes {
            ctx.diag.warn(line, note);
        }
        out.push(parsed.value);
        if let Some(lines) = lines.as_deref_mut() {
            lines.push(line);
        }
    }
    Ok(out)
}

pub(crate) fn routes(
    ctx: &mut Ctx,
    key: &str,
    list: Vec<Spanned<Either<schema::RouteTable>>>,
) -> Result<Vec<VirtualRoute>, ConfigError> {
    let mut out = Vec::new();
    for e in list {
        let line = ctx.line(e.span());
        let words = words_of(e.get_ref(), |t| {
            let mut w = vec![t.destination.clone()];
            push_opt(&mut w, "via", t.via.clone());
            push_opt(&mut w, "dev", t.dev.clone());
            push_opt(&mut w, "scope", t.scope.clone());
            push_opt(&mut w, "protocol", t.protocol.clone());
            push_opt(&mut w, "table", t.table.map(|n| n.to_string()));
            push_opt(&mut w, "metric", t.metric.map(|n| n.to_string()));
            push_opt(&mut w, "src", t.src.clone());
            if t.no_track {
                w.push("no_track".into());
            }
            w
        });
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let parsed = ctx.at(e.span(), entries::route(key, &refs))?;
        for note in parsed.notes {
            ctx.diag.warn(line, note);
        }
        out.push(parsed.value);
    }
    Ok(out)
}

fn track_words(e: &Either<schema::TrackTable>) -> Vec<String> {
    words_of(e, |t| {
        let mut w = vec![t.name.clone()];
        push_opt(&mut w, "weight", t.weight.map(|n| n.to_string()));
        w
    })
}

pub(crate) fn tracks(
    ctx: &Ctx,
    key: &str,
    list: Vec<Spanned<Either<schema::TrackTable>>>,
    interfaces: bool,
) -> Result<Vec<DraftTrack>, ConfigError> {
    let mut out = Vec::new();
    for e in list {
        let line = ctx.line(e.span());
        let words = track_words(e.get_ref());
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let (name, weight) = ctx.at(e.span(), entries::tracked(key, &refs))?;
        let kind = if interfaces {
            ctx.at(e.span(), values::ifname(key, &name))?;
            TrackSpec::Interface { name: name.clone() }
        } else {
            TrackSpec::Script { name: name.clone() }
        };
        out.push(DraftTrack {
            kind,
            name,
            weight,
            line,
        });
    }
    Ok(out)
}

pub(crate) fn reachability(
    ctx: &Ctx,
    key: &str,
    r: Spanned<schema::Reachability>,
) -> Result<DraftTrack, ConfigError> {
    let span = r.span();
    let line = ctx.line(span.clone());
    let r = r.into_inner();
    let address = ctx.at(
        span.clone(),
        values::ip(&format!("{key}: address"), &r.address),
    )?;
    let interface = ctx.at(
        span.clone(),
        values::ifname(&format!("{key}: interface"), &r.interface),
    )?;
    let secs = |k: &str, v: Option<f64>, default: Duration| -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(v) => ctx.at(
                span.clone(),
                values::float_secs_in(&format!("{key}: {k}"), v, PROBE_MIN_MS, PROBE_MAX_MS),
            ),
        }
    };
    let interval = secs("interval", r.interval, Duration::from_secs(1))?;
    let timeout = secs("timeout", r.timeout, interval)?;
    let count = |k: &str, v: Option<i64>, default: u32| -> Result<u32, ConfigError> {
        match v {
            None => Ok(default),
            Some(n) => ctx.at(
                span.clone(),
                values::u32_in(&format!("{key}: {k}"), &n.to_string(), 1, COUNT_MAX),
            ),
        }
    };
    let fall = count("fall", r.fall, 3)?;
    let rise = count("rise", r.rise, 2)?;
    let weight = match r.weight {
        None => None,
        Some(w) => Some(ctx.at(
            span.clone(),
            values::weight(&format!("{key}: weight"), &w.to_string()),
        )?),
    };
    let name = match r.name {
        Some(n) if n.trim().is_empty() => {
            return Err(ctx.error(
                span,
                format!("{key}: name: expected a name, got an empty string"),
            ));
        }
        Some(n) => n,
        None => format!("reach:{address}"),
    };
    let method = match r.method {
        None | Some(schema::Method::Neighbour) => ProbeMethod::Neighbour,
        Some(schema::Method::Icmp) => ProbeMethod::Icmp,
    };
    Ok(DraftTrack {
        kind: TrackSpec::Reachability(ReachabilitySpec {
            address,
            interface,
            method,
            interval,
            timeout,
            fall,
            rise,
        }),
        name,
        weight,
        line,
    })
}
