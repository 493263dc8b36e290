//! The blocks inside `vrrp_instance`: `authentication`, `track_interface`, `track_script`,
//! `virtual_ipaddress[_excluded]`, `virtual_routes` and `unicast_peer`. Entries are parsed
//! by `crate::config::entries`; what those accept but ignore becomes a warning at the entry.
//!
//! Imports `super::{args, tree}`, `crate::config::{diag, draft, entries, types, values}`,
//! `crate::fsm` and `crate::packet`.

use std::net::IpAddr;

use super::{
    args::{self, at},
    tree::Stmt,
};
use crate::{
    config::{
        diag::Diag,
        draft::DraftTrack,
        entries,
        types::{ConfigError, TrackSpec},
        values,
    },
    fsm::{VirtualAddress, VirtualRoute},
    packet::Auth,
};

/// An `auth_type`: how to make the [`Auth`] from the password, its name, its line.
type AuthType = (fn(&str) -> Auth, &'static str, usize);

/// `authentication { auth_type PASS|AH auth_pass X }`; `None` when no type is set.
pub(crate) fn authentication(
    diag: &mut Diag,
    stmt: &Stmt,
    section: &str,
) -> Result<Option<Auth>, ConfigError> {
    let mut auth_type: Option<AuthType> = None;
    let mut password = None;
    for s in args::block(diag, stmt, false)? {
        match s.keyword() {
            "auth_type" => {
                let v = args::one(diag, s)?;
                auth_type = Some(match v {
                    "PASS" => (Auth::simple, "PASS", s.line),
                    "AH" => (Auth::ah, "AH", s.line),
                    _ => {
                        return Err(diag
                            .error(s.line, format!("auth_type: expected PASS or AH, got `{v}`")));
                    }
                });
            }
            "auth_pass" => {
                let v = args::one(diag, s)?;
                if v.is_empty() {
                    return Err(diag.error(
                        s.line,
                        "auth_pass: expected a password, got an empty string",
                    ));
                }
                if v.len() > 8 {
                    diag.warn(
                        s.line,
                        "auth_pass: longer than 8 characters; only the first 8 are used (as keepalived does)",
                    );
                }
                password = Some((v.to_string(), s.line));
            }
            _ => args::unknown(diag, s, &format!("{section} authentication")),
        }
    }
    match (auth_type, password) {
        (Some((make, _, _)), Some((p, _))) => Ok(Some(make(&p))),
        (Some((_, name, line)), None) => Err(diag.error(
            line,
            format!("authentication: auth_type {name} needs an auth_pass"),
        )),
        (None, Some((_, line))) => {
            diag.warn(
                line,
                "authentication: auth_pass without auth_type PASS or AH, ignored",
            );
            Ok(None)
        }
        (None, None) => Ok(None),
    }
}

/// `track_interface { IF [weight N] }` (`interfaces`) or `track_script { NAME [weight N] }`.
pub(crate) fn tracks(
    diag: &Diag,
    stmt: &Stmt,
    interfaces: bool,
    out: &mut Vec<DraftTrack>,
) -> Result<(), ConfigError> {
    let key = stmt.keyword();
    for (line, words) in args::entries(diag, stmt)? {
        let (name, weight) = at(diag, line, entries::tracked(key, &words))?;
        let kind = if interfaces {
            at(diag, line, values::ifname(key, &name))?;
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
    Ok(())
}

/// `virtual_ipaddress[_excluded] { ADDR[/PFX] [dev IF] ... }`; `lines` receives each entry's
/// line when given.
pub(crate) fn addresses(
    diag: &mut Diag,
    stmt: &Stmt,
    out: &mut Vec<VirtualAddress>,
    mut lines: Option<&mut Vec<usize>>,
) -> Result<(), ConfigError> {
    let key = stmt.keyword().to_string();
    for (line, words) in args::entries(diag, stmt)? {
        let parsed = at(diag, line, entries::address(&key, &words))?;
        for note in parsed.notes {
            diag.warn(line, note);
        }
        out.push(parsed.value);
        if let Some(lines) = lines.as_deref_mut() {
            lines.push(line);
        }
    }
    Ok(())
}

/// `virtual_routes { DST[/PFX] [via ADDR] [dev IF] ... }`.
pub(crate) fn routes(
    diag: &mut Diag,
    stmt: &Stmt,
    out: &mut Vec<VirtualRoute>,
) -> Result<(), ConfigError> {
    for (line, words) in args::entries(diag, stmt)? {
        let parsed = at(diag, line, entries::route("virtual_routes", &words))?;
        for note in parsed.notes {
            diag.warn(line, note);
        }
        out.push(parsed.value);
    }
    Ok(())
}

/// `unicast_peer { ADDR [min_ttl N] [max_ttl N] }`.
pub(crate) fn peers(
    diag: &mut Diag,
    stmt: &Stmt,
    out: &mut Vec<IpAddr>,
    lines: &mut Vec<usize>,
) -> Result<(), ConfigError> {
    for (line, words) in args::entries(diag, stmt)? {
        let parsed = at(diag, line, entries::peer("unicast_peer", &words))?;
        for note in parsed.notes {
            diag.warn(line, note);
        }
        out.push(parsed.value);
        lines.push(line);
    }
    Ok(())
}
