//! `vrrp_script NAME { script "cmd args" interval N timeout N fall N rise N weight N
//! user USER [GROUP] }` with keepalived's defaults: interval 1 s, timeout = interval, fall 1,
//! rise 1, weight 0, the global script user.
//!
//! Imports `super::{args, tree}`, `crate::config::{diag, draft, entries, limits, types, values}`.

use std::time::Duration;

use super::{
    args::{self, Seen, at},
    tree::Stmt,
};
use crate::config::{
    diag::Diag,
    draft::Located,
    entries,
    limits::{COUNT_MAX, SCRIPT_MAX_MS, SCRIPT_MIN_MS},
    types::{ConfigError, ScriptSpec},
    values,
};

pub(crate) fn parse(diag: &mut Diag, stmt: &Stmt) -> Result<Located<ScriptSpec>, ConfigError> {
    let name = args::name(diag, stmt)?.to_string();
    let section = format!("vrrp_script {name}");
    let mut command = None;
    let mut interval = Duration::from_secs(1);
    let mut timeout = None;
    let (mut fall, mut rise, mut weight) = (1, 1, 0);
    let mut user = None;
    let mut seen = Seen::default();
    for s in args::block(diag, stmt, true)? {
        let key = s.keyword();
        let secs = |diag: &Diag| -> Result<Duration, ConfigError> {
            let v = args::one(diag, s)?;
            at(
                diag,
                s.line,
                values::secs_in(key, v, SCRIPT_MIN_MS, SCRIPT_MAX_MS),
            )
        };
        let count = |diag: &Diag| -> Result<u32, ConfigError> {
            let v = args::one(diag, s)?;
            at(diag, s.line, values::u32_in(key, v, 1, COUNT_MAX))
        };
        match key {
            "script" => command = Some(args::command(diag, s)?),
            "interval" => interval = secs(diag)?,
            "timeout" => timeout = Some(secs(diag)?),
            "fall" => fall = count(diag)?,
            "rise" => rise = count(diag)?,
            "weight" => {
                args::no_block(diag, s)?;
                let words = s.texts();
                weight = at(
                    diag,
                    s.line,
                    entries::weight(&section, words.get(1..).unwrap_or(&[])),
                )?;
            }
            "user" => user = Some(args::script_user(diag, s)?),
            "init_fail" => args::ignored(
                diag,
                s,
                &section,
                "scripts start as failed only after their first run",
            ),
            _ => {
                args::unknown(diag, s, &section);
                continue;
            }
        }
        seen.note(diag, s, &section);
    }
    let Some(command) = command else {
        return Err(diag.error(stmt.line, format!("{section}: `script` is required")));
    };
    if command.trim().is_empty() {
        return Err(diag.error(
            stmt.line,
            format!("{section}: script: expected a command, got an empty string"),
        ));
    }
    Ok(Located {
        line: stmt.line,
        value: ScriptSpec {
            name,
            command,
            interval,
            timeout: timeout.unwrap_or(interval),
            fall,
            rise,
            weight,
            user,
            run_as: None,
        },
    })
}
