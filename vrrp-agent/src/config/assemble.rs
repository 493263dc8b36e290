//! The step both formats share after parsing: resolve references (track scripts and their
//! default weights, sync group membership), fill the per-instance tracking lists, run the
//! state machine's own `validate()`, and the cross-checks of `super::checks`. Every error
//! names the line of the offending item.
//!
//! Imports `super::{draft, checks, diag, types, vmac}` and `crate::fsm`.

use std::collections::HashMap;

use super::{
    checks,
    diag::Diag,
    draft::{Draft, DraftGroup, DraftInstance, InstanceLines},
    types::{AgentConfig, ConfigError, ScriptSpec},
};
use crate::fsm::{self, TrackedObject};

/// Turns a parsed file into the validated model.
pub(crate) fn assemble(draft: Draft, diag: &mut Diag) -> Result<AgentConfig, ConfigError> {
    let Draft {
        global,
        scripts,
        sync_groups,
        mut instances,
    } = draft;
    checks::unique(
        diag,
        "script",
        scripts.iter().map(|s| (s.value.name.as_str(), s.line)),
    )?;
    checks::unique(
        diag,
        "instance",
        instances
            .iter()
            .map(|i| (i.spec.vrrp.name.as_str(), i.line)),
    )?;
    checks::unique(
        diag,
        "sync group",
        sync_groups.iter().map(|g| (g.spec.name.as_str(), g.line)),
    )?;
    if instances.is_empty() {
        diag.warn(0, "no instances configured: the agent would do nothing");
    }
    let membership = group_membership(&sync_groups, &instances, diag)?;
    super::vmac::resolve(diag, &mut instances)?;
    let scripts: Vec<(ScriptSpec, usize)> =
        scripts.into_iter().map(|s| (s.value, s.line)).collect();

    let mut out = Vec::with_capacity(instances.len());
    for mut inst in instances {
        let v = &mut inst.spec.vrrp;
        v.startup_delay = global.startup_delay.unwrap_or_else(|| {
            fsm::default_startup_delay(v.version, v.priority, v.advert_interval)
        });
        v.balance = inst.balance.unwrap_or(global.balance);
        let group = membership.get(inst.spec.vrrp.name.as_str()).cloned();
        out.push(finish_instance(inst, group, &scripts, diag)?);
    }
    let instance_lines: Vec<(usize, InstanceLines)> = out
        .iter()
        .map(|(_, line, lines)| (*line, lines.clone()))
        .collect();
    let instances: Vec<_> = out.into_iter().map(|(spec, _, _)| spec).collect();
    checks::instances(diag, &instances, &instance_lines)?;
    for group in &sync_groups {
        checks::notify(
            diag,
            &format!("sync group `{}`", group.spec.name),
            &group.spec.notify,
            group.notify_lines,
            group.line,
        )?;
    }
    Ok(AgentConfig {
        global,
        instances,
        scripts: scripts.into_iter().map(|(s, _)| s).collect(),
        sync_groups: sync_groups.into_iter().map(|g| g.spec).collect(),
    })
}

/// Instance name → its group's name; checks that members exist and belong to one group.
fn group_membership<'a>(
    groups: &'a [DraftGroup],
    instances: &[DraftInstance],
    diag: &mut Diag,
) -> Result<HashMap<&'a str, String>, ConfigError> {
    let mut member_of: HashMap<&str, (&str, usize)> = HashMap::new();
    for group in groups {
        if group.spec.members.is_empty() {
            return Err(diag.error(
                group.line,
                format!("sync group `{}`: no members", group.spec.name),
            ));
        }
        if group.spec.members.len() == 1 {
            diag.warn(
                group.line,
                format!(
                    "sync group `{}` has one member; a group only matters with two or more",
                    group.spec.name
                ),
            );
        }
        for (i, member) in group.spec.members.iter().enumerate() {
            let line =
                InstanceLines::or(group.member_lines.get(i).copied().unwrap_or(0), group.line);
            if !instances.iter().any(|inst| inst.spec.vrrp.name == *member) {
                return Err(diag.error(
                    line,
                    format!(
                        "sync group `{}`: no instance named `{member}`",
                        group.spec.name
                    ),
                ));
            }
            if let Some((other, other_line)) = member_of.get(member.as_str()) {
                return Err(diag.error(
                    line,
                    format!(
                        "sync group `{}`: instance `{member}` is already in sync group `{other}` (line {other_line}); an instance can be in one group only",
                        group.spec.name
                    ),
                ));
            }
            member_of.insert(member.as_str(), (group.spec.name.as_str(), line));
        }
    }
    Ok(member_of
        .into_iter()
        .map(|(inst, (group, _))| (inst, group.to_string()))
        .collect())
}

/// Fills tracking and the sync group, then runs the state machine's `validate()`.
fn finish_instance(
    inst: DraftInstance,
    group: Option<String>,
    scripts: &[(ScriptSpec, usize)],
    diag: &mut Diag,
) -> Result<(super::types::InstanceSpec, usize, InstanceLines), ConfigError> {
    let DraftInstance {
        mut spec,
        line,
        tracks,
        lines,
        vmac: _,
        balance: _,
    } = inst;
    for t in tracks {
        let default_weight = match &t.kind {
            super::types::TrackSpec::Script { name } => {
                let Some((script, _)) = scripts.iter().find(|(s, _)| s.name == *name) else {
                    return Err(diag.error(
                        t.line,
                        format!(
                            "instance `{}`: track_script `{name}`: no script of that name",
                            spec.vrrp.name
                        ),
                    ));
                };
                script.weight
            }
            _ => 0,
        };
        spec.vrrp.tracked.push(TrackedObject {
            name: t.name,
            weight: t.weight.unwrap_or(default_weight),
        });
        spec.track.push(t.kind);
    }
    spec.vrrp.sync_group = group;
    if let Err(e) = spec.vrrp.validate() {
        let at = |l: usize| InstanceLines::or(l, line);
        let blame = match &e {
            fsm::ConfigError::Vrid { .. } => at(lines.vrid),
            fsm::ConfigError::Priority { .. } => at(lines.priority),
            fsm::ConfigError::Interval { .. } => at(lines.advert),
            fsm::ConfigError::NoAddresses { .. } => line,
            fsm::ConfigError::MixedFamilies { addr, .. } => {
                let idx = spec
                    .vrrp
                    .virtual_addresses
                    .iter()
                    .position(|a| a.addr == *addr);
                at(idx
                    .and_then(|i| lines.virtual_addresses.get(i).copied())
                    .unwrap_or(0))
            }
            fsm::ConfigError::V2Ipv6 { .. } => at(lines.version),
            fsm::ConfigError::AuthInV3 { .. } => at(lines.auth),
            fsm::ConfigError::GarpRepeat { .. } => at(lines.garp_repeat),
            fsm::ConfigError::BalanceOwner { .. } => at(lines.priority),
            fsm::ConfigError::BalanceSyncGroup { .. } => line,
        };
        return Err(diag.error(blame, e.to_string()));
    }
    if spec.vrrp.balance && spec.vrrp.tracked.iter().any(|t| t.weight != 0) {
        diag.warn(
            line,
            format!(
                "instance `{}`: with balance the priority is the node's load: tracked objects \
                 only fault it (weight 0), their weights do not count",
                spec.vrrp.name
            ),
        );
    }
    Ok((spec, line, lines))
}
