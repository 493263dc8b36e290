//! The `notify`, `notify_master`, `notify_backup`, `notify_fault` and `notify_stop`
//! keywords, shared by instances and sync groups.
//!
//! Imports `super::{args, tree}`, `crate::config::{diag, draft, types}`.

use super::{args, tree::Stmt};
use crate::config::{
    diag::Diag,
    draft::NotifyLines,
    types::{ConfigError, NotifySpec},
};

pub(crate) fn is_notify(keyword: &str) -> bool {
    matches!(
        keyword,
        "notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop"
    )
}

/// Stores the command of a notify statement (the last one given wins, with a warning).
pub(crate) fn set(
    diag: &mut Diag,
    s: &Stmt,
    spec: &mut NotifySpec,
    lines: &mut NotifyLines,
) -> Result<(), ConfigError> {
    let command = args::command(diag, s)?;
    let (slot, line) = match s.keyword() {
        "notify" => (&mut spec.any, &mut lines.any),
        "notify_master" => (&mut spec.master, &mut lines.master),
        "notify_backup" => (&mut spec.backup, &mut lines.backup),
        "notify_fault" => (&mut spec.fault, &mut lines.fault),
        _ => (&mut spec.stop, &mut lines.stop),
    };
    if slot.is_some() {
        diag.warn(
            s.line,
            format!(
                "`{}` is also set at line {}; this one wins",
                s.keyword(),
                line
            ),
        );
    }
    *slot = Some(command);
    *line = s.line;
    Ok(())
}
