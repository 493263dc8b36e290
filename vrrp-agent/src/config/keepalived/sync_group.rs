//! `vrrp_sync_group NAME { group { A B } notify... }`: members and the group's notify
//! scripts. Whether the members exist is checked later, with all instances known.
//!
//! Imports `super::{args, notify, tree}`, `crate::config::{diag, draft, types}`.

use super::{args, notify, tree::Stmt};
use crate::config::{
    diag::Diag,
    draft::{DraftGroup, NotifyLines},
    types::{ConfigError, NotifySpec, SyncGroupSpec},
};

pub(crate) fn parse(diag: &mut Diag, stmt: &Stmt) -> Result<DraftGroup, ConfigError> {
    let name = args::name(diag, stmt)?.to_string();
    let section = format!("vrrp_sync_group {name}");
    let mut members = Vec::new();
    let mut member_lines = Vec::new();
    let mut spec_notify = NotifySpec::default();
    let mut notify_lines = NotifyLines::default();
    for s in args::block(diag, stmt, true)? {
        match s.keyword() {
            "group" => {
                for entry in args::block(diag, s, false)? {
                    if entry.block.is_some() {
                        return Err(diag.error(entry.line, "group: members take no `{ }` block"));
                    }
                    for w in &entry.words {
                        members.push(w.text.clone());
                        member_lines.push(entry.line);
                    }
                }
            }
            k if notify::is_notify(k) => {
                notify::set(diag, s, &mut spec_notify, &mut notify_lines)?;
            }
            "track_interface"
            | "track_script"
            | "track_file"
            | "track_process"
            | "track_bfd"
            | "global_tracking"
            | "sync_group_tracking_weight" => {
                args::ignored(diag, s, &section, "track objects in the instances instead");
            }
            "smtp_alert" | "notify_priority_changes" => {
                args::ignored(diag, s, &section, "not implemented");
            }
            _ => args::unknown(diag, s, &section),
        }
    }
    Ok(DraftGroup {
        spec: SyncGroupSpec {
            name,
            members,
            notify: spec_notify,
        },
        line: stmt.line,
        member_lines,
        notify_lines,
    })
}
