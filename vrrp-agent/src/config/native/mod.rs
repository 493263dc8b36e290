//! The native TOML format: `[global]`, `[[script]]`, `[[sync_group]]` and `[[instance]]`
//! tables (documented by the commented files in `vrrp-agent/config-examples/`). Unknown keys
//! are errors naming their line; entries can be written in keepalived's one-line syntax or
//! as tables.
//!
//! Files: `schema` (serde types), `either` (string-or-table entries), `convert` (global,
//! scripts, groups, span → line), `instance`, `lists` (address, route and track entries).
//!
//! Imports `crate::config::{assemble, diag, draft, entries, types, values}`, `crate::fsm`
//! and `crate::packet`.

mod convert;
mod either;
mod instance;
mod lists;
mod schema;

use std::path::Path;

use super::{
    assemble::assemble,
    diag::{Diag, line_of},
    types::{AgentConfig, ConfigError, ConfigWarning},
};

/// Parses and validates native TOML text (`path` is for messages only).
pub(crate) fn parse(
    text: &str,
    path: &Path,
) -> Result<(AgentConfig, Vec<ConfigWarning>), ConfigError> {
    let diag = Diag::new(path);
    let file: schema::File = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        diag.error(line, e.message().trim().to_string())
    })?;
    let mut ctx = convert::Ctx { text, diag };
    let draft = convert::file(&mut ctx, file)?;
    let config = assemble(draft, &mut ctx.diag)?;
    Ok((config, ctx.diag.into_warnings()))
}
