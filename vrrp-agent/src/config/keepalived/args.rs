//! Reading a statement's arguments with diagnostics: exactly one value, a flag without
//! values, a boolean, a required or forbidden block, a command line (scripts, notify), a script user,
//! block entries, and the warnings for unknown or ignored keywords and settings given twice.
//!
//! Imports `super::tree` and `crate::config::{diag, types}`.

use std::collections::HashMap;

use super::tree::{Stmt, Word};
use crate::config::{
    diag::Diag,
    types::{ConfigError, ScriptUser},
};

/// The single value of `key value`.
pub(crate) fn one<'a>(diag: &Diag, stmt: &'a Stmt) -> Result<&'a str, ConfigError> {
    no_block(diag, stmt)?;
    match stmt.args() {
        [w] => Ok(w.text.as_str()),
        [] => Err(diag.error(
            stmt.line,
            format!("{}: expected a value, got nothing", stmt.keyword()),
        )),
        [_, extra, ..] => Err(diag.error(
            stmt.line,
            format!(
                "{}: expected one value, got also `{}`",
                stmt.keyword(),
                extra.text
            ),
        )),
    }
}

/// A flag keyword such as `nopreempt`: no values.
pub(crate) fn flag(diag: &Diag, stmt: &Stmt) -> Result<(), ConfigError> {
    no_block(diag, stmt)?;
    match stmt.args().first() {
        None => Ok(()),
        Some(w) => Err(diag.error(
            stmt.line,
            format!("{}: takes no value, got `{}`", stmt.keyword(), w.text),
        )),
    }
}

/// A boolean keyword such as `strict_mode` or `v3_checksum_as_v2`, as keepalived reads them:
/// true when bare, else one of on/off, true/false, yes/no.
pub(crate) fn bool_or_bare(diag: &Diag, stmt: &Stmt) -> Result<bool, ConfigError> {
    if stmt.args().is_empty() {
        no_block(diag, stmt)?;
        return Ok(true);
    }
    let v = one(diag, stmt)?;
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(diag.error(
            stmt.line,
            format!(
                "{}: expected on or off (true/false, yes/no), got `{v}`",
                stmt.keyword()
            ),
        )),
    }
}

pub(crate) fn no_block(diag: &Diag, stmt: &Stmt) -> Result<(), ConfigError> {
    if stmt.block.is_some() {
        return Err(diag.error(
            stmt.line,
            format!("{}: takes no `{{ }}` block", stmt.keyword()),
        ));
    }
    Ok(())
}

/// The statements of `key { ... }`; `key` takes no words of its own unless `args_ok`.
pub(crate) fn block<'a>(
    diag: &Diag,
    stmt: &'a Stmt,
    args_ok: bool,
) -> Result<&'a [Stmt], ConfigError> {
    let Some(block) = &stmt.block else {
        return Err(diag.error(
            stmt.line,
            format!("{}: expected a `{{ ... }}` block", stmt.keyword()),
        ));
    };
    if !args_ok && let Some(w) = stmt.args().first() {
        return Err(diag.error(
            stmt.line,
            format!(
                "{}: unexpected `{}` before the block",
                stmt.keyword(),
                w.text
            ),
        ));
    }
    Ok(block)
}

/// The one name of `vrrp_instance NAME {`, `vrrp_script NAME {`, ...
pub(crate) fn name<'a>(diag: &Diag, stmt: &'a Stmt) -> Result<&'a str, ConfigError> {
    match stmt.args() {
        [w] if !w.text.is_empty() => Ok(w.text.as_str()),
        [] | [_] => Err(diag.error(stmt.line, format!("{}: expected a name", stmt.keyword()))),
        [_, extra, ..] => Err(diag.error(
            stmt.line,
            format!(
                "{}: expected one name, got also `{}`",
                stmt.keyword(),
                extra.text
            ),
        )),
    }
}

/// `USER [GROUP]` (`script_user` in global_defs, `user` in vrrp_script).
pub(crate) fn script_user(diag: &Diag, stmt: &Stmt) -> Result<ScriptUser, ConfigError> {
    no_block(diag, stmt)?;
    let text = |w: &Word| (!w.text.is_empty()).then(|| w.text.clone());
    match stmt.args() {
        [user] => Ok(ScriptUser {
            user: text(user).ok_or_else(|| empty(diag, stmt))?,
            group: None,
        }),
        [user, group] => Ok(ScriptUser {
            user: text(user).ok_or_else(|| empty(diag, stmt))?,
            group: Some(text(group).ok_or_else(|| empty(diag, stmt))?),
        }),
        [] => Err(diag.error(
            stmt.line,
            format!("{}: expected a user name, got nothing", stmt.keyword()),
        )),
        [_, _, extra, ..] => Err(diag.error(
            stmt.line,
            format!(
                "{}: expected a user and a group at most, got also `{}`",
                stmt.keyword(),
                extra.text
            ),
        )),
    }
}

fn empty(diag: &Diag, stmt: &Stmt) -> ConfigError {
    diag.error(
        stmt.line,
        format!("{}: expected a name, got an empty string", stmt.keyword()),
    )
}

/// A command line (`script`, `notify*`): one quoted string as written, or the words joined
/// (quoted words holding spaces are single-quoted for `/bin/sh -c`).
pub(crate) fn command(diag: &Diag, stmt: &Stmt) -> Result<String, ConfigError> {
    no_block(diag, stmt)?;
    match stmt.args() {
        [] => Err(diag.error(
            stmt.line,
            format!("{}: expected a script path, got nothing", stmt.keyword()),
        )),
        [w] => Ok(w.text.clone()),
        words => Ok(words.iter().map(shell_word).collect::<Vec<_>>().join(" ")),
    }
}

fn shell_word(w: &Word) -> String {
    if w.quoted
        && (w.text.is_empty()
            || w.text
                .chars()
                .any(|c| c.is_whitespace() || "'\"$`\\;&|<>()*?".contains(c)))
    {
        format!("'{}'", w.text.replace('\'', r"'\''"))
    } else {
        w.text.clone()
    }
}

/// The entries of a block such as `virtual_ipaddress { ... }`: each line's words. A nested
/// block is an error.
pub(crate) fn entries<'a>(
    diag: &Diag,
    stmt: &'a Stmt,
) -> Result<Vec<(usize, Vec<&'a str>)>, ConfigError> {
    let mut out = Vec::new();
    for entry in block(diag, stmt, false)? {
        if entry.block.is_some() {
            return Err(diag.error(
                entry.line,
                format!("{}: entries take no `{{ }}` block", stmt.keyword()),
            ));
        }
        out.push((entry.line, entry.texts()));
    }
    Ok(out)
}

/// Turns a value parser's message into an error at `line`.
pub(crate) fn at<T>(diag: &Diag, line: usize, r: Result<T, String>) -> Result<T, ConfigError> {
    r.map_err(|m| diag.error(line, m))
}

/// Warns about a keyword vrrp-agent does not know, in `section`.
pub(crate) fn unknown(diag: &mut Diag, stmt: &Stmt, section: &str) {
    let block = if stmt.block.is_some() {
        " (and its block)"
    } else {
        ""
    };
    diag.warn(
        stmt.line,
        format!(
            "unknown keyword `{}` in {section}, ignored{block}",
            stmt.keyword()
        ),
    );
}

/// Warns about a keepalived keyword vrrp-agent accepts but does not implement.
pub(crate) fn ignored(diag: &mut Diag, stmt: &Stmt, section: &str, why: &str) {
    diag.warn(
        stmt.line,
        format!(
            "`{}` in {section} is not supported, ignored ({why})",
            stmt.keyword()
        ),
    );
}

/// Remembers where each setting was given; warns when one is given again.
#[derive(Default)]
pub(crate) struct Seen(HashMap<String, usize>);

impl Seen {
    pub(crate) fn note(&mut self, diag: &mut Diag, stmt: &Stmt, section: &str) {
        let key = stmt.keyword().to_string();
        if let Some(first) = self.0.get(&key) {
            diag.warn(
                stmt.line,
                format!("`{key}` in {section} is also set at line {first}; this one wins"),
            );
        }
        self.0.insert(key, stmt.line);
    }
}
