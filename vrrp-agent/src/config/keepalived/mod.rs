//! Import of keepalived.conf: the subset OpenStack Neutron writes (`global_defs`,
//! `vrrp_script`, `vrrp_sync_group`, `vrrp_instance`) with keepalived's defaults. Unknown
//! keywords are warnings naming their line (their blocks are skipped); bad values are errors
//! naming the line and what is expected.
//!
//! Files: `lexer` (tokens), `tree` (statements and blocks), `args` (statement arguments),
//! `global`, `script`, `sync_group`, `notify`, `instance` (+ `instance_blocks`,
//! `instance_build`).
//!
//! Imports `crate::config::{assemble, diag, draft, entries, types, values}`, `crate::fsm`
//! and `crate::packet`.

mod args;
mod global;
mod instance;
mod instance_blocks;
mod instance_build;
mod lexer;
mod notify;
mod script;
mod sync_group;
mod tree;

use std::path::Path;

use super::{
    assemble::assemble,
    diag::Diag,
    draft::Draft,
    types::{AgentConfig, ConfigError, ConfigWarning},
};

/// Parses and validates keepalived.conf text (`path` is for messages only): the
/// configuration, its warnings and its notes.
pub(crate) fn parse(
    text: &str,
    path: &Path,
) -> Result<(AgentConfig, Vec<ConfigWarning>, Vec<ConfigWarning>), ConfigError> {
    let mut diag = Diag::new(path);
    let stmts = lexer::lex(text)
        .and_then(tree::build)
        .map_err(|e| diag.error(e.line, e.message))?;
    let mut draft = Draft::default();
    let mut defaults = global::Defaults::default();
    for s in stmts.iter().filter(|s| s.keyword() == "global_defs") {
        global::parse(&mut diag, s, &mut draft.global, &mut defaults)?;
    }
    for s in &stmts {
        match s.keyword() {
            "global_defs" => {}
            "vrrp_script" => draft.scripts.push(script::parse(&mut diag, s)?),
            "vrrp_sync_group" => draft.sync_groups.push(sync_group::parse(&mut diag, s)?),
            "vrrp_instance" => draft
                .instances
                .push(instance::parse(&mut diag, s, &defaults)?),
            "include" => {
                return Err(diag.error(
                    s.line,
                    "include: not supported; put the included configuration in this file",
                ));
            }
            _ => args::unknown(&mut diag, s, "the top level"),
        }
    }
    let config = assemble(draft, &mut diag)?;
    let (warnings, notes) = diag.into_parts();
    Ok((config, warnings, notes))
}
