//! Sync groups (keepalived's `vrrp_sync_group`): members move together. When a member enters
//! MASTER, BACKUP or FAULT on its own, the others are told to follow; a group leaves FAULT
//! only when no member is in FAULT on its own. A member goes MASTER only when every member
//! wants to (its master-down timer expired): otherwise members with different peers would
//! pull each other up and down forever (keepalived: "prefer backup state to avoid
//! thrashing").

use super::{GroupCommand, Input, InstanceId, Reason, State};

/// A sync group over instances of a [`Router`](super::Router).
#[derive(Clone, Debug)]
pub struct SyncGroup {
    pub name: String,
    /// (instance, its name)
    members: Vec<(InstanceId, String)>,
    /// Members in FAULT on their own account.
    own_fault: Vec<bool>,
}

impl SyncGroup {
    pub fn new(name: &str, members: Vec<(InstanceId, String)>) -> Self {
        let n = members.len();
        Self {
            name: name.to_string(),
            members,
            own_fault: vec![false; n],
        }
    }

    pub fn contains(&self, index: InstanceId) -> bool {
        self.members.iter().any(|(i, _)| *i == index)
    }

    /// Forgets a member (removed from its router).
    pub fn remove(&mut self, index: InstanceId) {
        if let Some(pos) = self.members.iter().position(|(i, _)| *i == index) {
            self.members.remove(pos);
            self.own_fault.remove(pos);
        }
    }

    /// Member `index` wants MASTER ([`Output::SyncWantsMaster`](super::Output)): if every
    /// member wants it (`wants(i)`, i.e. `Instance::wants_master`), the commands that make
    /// them all master; otherwise nothing and they wait.
    pub fn on_wants_master(
        &self,
        index: InstanceId,
        wants: impl Fn(InstanceId) -> bool,
    ) -> Vec<(InstanceId, Input)> {
        let Some((_, member)) = self.members.iter().find(|(i, _)| *i == index) else {
            return Vec::new();
        };
        if !self.members.iter().all(|(i, _)| wants(*i)) {
            return Vec::new();
        }
        let cmd = GroupCommand::Master {
            group: self.name.clone(),
            member: member.clone(),
        };
        self.members
            .iter()
            .map(|(i, _)| (*i, Input::Group(cmd.clone())))
            .collect()
    }

    /// A member moved to `to` for `reason`: the inputs to give the other members (same
    /// instant). Moves caused by the group itself are not propagated again.
    pub fn on_transition(
        &mut self,
        index: InstanceId,
        to: State,
        reason: &Reason,
    ) -> Vec<(InstanceId, Input)> {
        let Some(pos) = self.members.iter().position(|(i, _)| *i == index) else {
            return Vec::new();
        };
        if matches!(reason, Reason::SyncGroup { .. }) {
            return Vec::new();
        }
        let member = self.members[pos].1.clone();
        let was_fault = self.own_fault[pos];
        self.own_fault[pos] = to == State::Fault;
        let group = self.name.clone();
        let cmd = match to {
            State::Master => Some(GroupCommand::Master {
                group: group.clone(),
                member,
            }),
            State::Backup if was_fault => {
                if self.own_fault.iter().any(|f| *f) {
                    None
                } else {
                    Some(GroupCommand::FaultCleared {
                        group: group.clone(),
                    })
                }
            }
            State::Backup => Some(GroupCommand::Backup {
                group: group.clone(),
                member,
            }),
            State::Fault => Some(GroupCommand::Fault {
                group: group.clone(),
                member,
            }),
            State::Initialize => None,
        };
        let Some(cmd) = cmd else { return Vec::new() };
        self.members
            .iter()
            .filter(|(i, _)| *i != index)
            .map(|(i, _)| (*i, Input::Group(cmd.clone())))
            .collect()
    }
}
