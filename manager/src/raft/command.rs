//! Commands: the only way the replicated [`ClusterState`] changes.
//!
//! A member proposes a `ClusterCommand`; once Raft has committed it, every
//! member runs [`ClusterState::apply`] on it, in log order. Apply must give
//! the same result on every member, so it is deterministic by construction:
//! it reads no clock, no environment and no randomness: times travel inside
//! the commands, and the only context it gets is the entry's own log
//! position (`Epoch`).
//!
//! A command that does not fit the current state (a primary that is not a
//! registered node, a timeline going backwards, a bad config value) is not
//! an error of the log: it is applied as a no-op and answers
//! [`CommandResult::Rejected`] with the reason, identically everywhere.
//! Validation happens before any field changes, so a rejected command never
//! leaves a half-applied state behind.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::state::{
    ClusterState, ConfigPatch, Epoch, FailoverRecord, NodeInfo, Role, ScheduledSwitchover,
    TimelineEntry, FAILOVER_HISTORY_CAP,
};

/// A mutation of the cluster state, as written to the Raft log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClusterCommand {
    /// Adds a node, or replaces the description of a node with that name.
    /// A re-registered node keeps its current role (roles move only through
    /// `SetPrimary` / `SetRoles`).
    RegisterNode { node: NodeInfo },
    /// Forgets a node. Refused for the current primary.
    RemoveNode { name: String },
    /// Installs `name` as the primary. A new primary must open a new
    /// timeline (`timeline` > current), recorded in the history with
    /// `start_lsn`, `reason` and `time_ms`; repeating the current primary
    /// with the current timeline is an idempotent no-op.
    SetPrimary {
        name: String,
        timeline: u64,
        start_lsn: u64,
        reason: String,
        time_ms: u64,
    },
    /// Sets the role of some nodes. Cannot make a second primary nor demote
    /// the current one (use `SetPrimary` / `ClearPrimary`).
    SetRoles { roles: BTreeMap<String, Role> },
    /// Clears the primary (for instance when it is known dead and no
    /// candidate exists); its node becomes `Unknown`.
    ClearPrimary { reason: String },
    /// Replaces the set of synchronous standbys.
    SetSyncSet { names: Vec<String> },
    /// Changes some dynamic configuration values.
    UpdateConfig { patch: ConfigPatch },
    /// Pauses (`true`) or resumes (`false`) automatic actions.
    Pause { paused: bool },
    /// Appends a failover / switchover record to the history.
    RecordFailover { record: FailoverRecord },
    /// Sets an operator's flags on a node (`None` keeps the value).
    /// Draining or stopping the current primary is refused: switch over
    /// first.
    SetNodeAdmin {
        name: String,
        #[serde(default)]
        drained: Option<bool>,
        #[serde(default)]
        stopped: Option<bool>,
    },
    /// Schedules a switchover at `at_ms` (Unix ms). Refused while one is
    /// pending; its id is this entry's log index.
    ScheduleSwitchover {
        at_ms: u64,
        scheduled_at: String,
        leader: Option<String>,
        candidate: Option<String>,
    },
    /// Removes the scheduled switchover (cancelled, or taken to run): only
    /// the one with `id` when given. Refused when there is none to remove.
    CancelSwitchover { id: Option<u64> },
    /// Records the timeline the primary's node reported after promotion
    /// (`ClusterState::node_timeline`). Refused for a node that is not the
    /// primary.
    SetNodeTimeline { name: String, timeline: u64 },
    /// Records (`Some`) or forgets (`None`) a manager member's API URL.
    SetMemberApi { id: u64, api: Option<String> },
    /// Geo / DR: standby mode, standby leader, drills, test fork
    /// (`dr_state.rs`).
    Dr { command: super::dr_state::DrCommand },
}

/// What applying a command answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandResult {
    /// The state changed (or already was as asked).
    Applied,
    /// The command did not fit the state; nothing changed.
    Rejected { reason: String },
    /// A Raft-internal entry (leader no-op, membership) was applied.
    Internal,
}

impl CommandResult {
    pub fn is_applied(&self) -> bool {
        matches!(self, CommandResult::Applied)
    }
}

fn rejected(reason: impl Into<String>) -> CommandResult {
    CommandResult::Rejected {
        reason: reason.into(),
    }
}

impl ClusterState {
    /// Applies one committed command. `epoch` is the command's log position.
    pub fn apply(&mut self, command: &ClusterCommand, epoch: Epoch) -> CommandResult {
        match command {
            ClusterCommand::RegisterNode { node } => self.register_node(node),
            ClusterCommand::RemoveNode { name } => self.remove_node(name),
            ClusterCommand::SetPrimary {
                name,
                timeline,
                start_lsn,
                reason,
                time_ms,
            } => self.set_primary(name, *timeline, *start_lsn, reason, *time_ms, epoch),
            ClusterCommand::SetRoles { roles } => self.set_roles(roles),
            ClusterCommand::ClearPrimary { reason: _ } => {
                if let Some(old) = self.primary.take() {
                    if let Some(node) = self.nodes.get_mut(&old) {
                        node.role = Role::Unknown;
                    }
                    self.primary_epoch = epoch;
                    self.node_timeline = 0;
                }
                CommandResult::Applied
            }
            ClusterCommand::SetSyncSet { names } => self.set_sync_set(names),
            ClusterCommand::UpdateConfig { patch } => self.update_config(patch),
            ClusterCommand::Pause { paused } => {
                self.paused = *paused;
                CommandResult::Applied
            }
            ClusterCommand::RecordFailover { record } => {
                self.failover_history.push(record.clone());
                let excess = self
                    .failover_history
                    .len()
                    .saturating_sub(FAILOVER_HISTORY_CAP);
                self.failover_history.drain(..excess);
                CommandResult::Applied
            }
            ClusterCommand::SetNodeAdmin {
                name,
                drained,
                stopped,
            } => self.set_node_admin(name, *drained, *stopped),
            ClusterCommand::ScheduleSwitchover {
                at_ms,
                scheduled_at,
                leader,
                candidate,
            } => {
                if let Some(s) = &self.scheduled_switchover {
                    return rejected(format!(
                        "a switchover is already scheduled at {}",
                        s.scheduled_at
                    ));
                }
                self.scheduled_switchover = Some(ScheduledSwitchover {
                    id: epoch.index,
                    at_ms: *at_ms,
                    scheduled_at: scheduled_at.clone(),
                    leader: leader.clone(),
                    candidate: candidate.clone(),
                });
                CommandResult::Applied
            }
            ClusterCommand::CancelSwitchover { id } => match &self.scheduled_switchover {
                Some(s) if id.is_none_or(|id| id == s.id) => {
                    self.scheduled_switchover = None;
                    CommandResult::Applied
                }
                Some(_) => rejected("the scheduled switchover was replaced"),
                None => rejected("no scheduled switchover"),
            },
            ClusterCommand::SetNodeTimeline { name, timeline } => {
                if self.primary.as_deref() != Some(name.as_str()) {
                    return rejected(format!("node \"{name}\" is not the primary"));
                }
                self.node_timeline = *timeline;
                CommandResult::Applied
            }
            ClusterCommand::Dr { command } => {
                let nodes = &self.nodes;
                self.dr.apply(command, |n| nodes.contains_key(n))
            }
            ClusterCommand::SetMemberApi { id, api } => {
                match api {
                    Some(url) => self.member_apis.insert(*id, url.clone()),
                    None => self.member_apis.remove(id),
                };
                CommandResult::Applied
            }
        }
    }

    fn set_node_admin(
        &mut self,
        name: &str,
        drained: Option<bool>,
        stopped: Option<bool>,
    ) -> CommandResult {
        let is_primary = self.primary.as_deref() == Some(name);
        let Some(node) = self.nodes.get_mut(name) else {
            return rejected(format!("no node named \"{name}\""));
        };
        if is_primary && (drained == Some(true) || stopped == Some(true)) {
            return rejected(format!("node \"{name}\" is the primary; switch over first"));
        }
        if let Some(d) = drained {
            node.drained = d;
        }
        if let Some(s) = stopped {
            node.stopped = s;
        }
        if node.drained || node.stopped {
            self.sync_set.retain(|n| n != name);
        }
        CommandResult::Applied
    }

    fn register_node(&mut self, node: &NodeInfo) -> CommandResult {
        if node.name.is_empty() {
            return rejected("a node needs a non-empty name");
        }
        let mut node = node.clone();
        match self.nodes.get(&node.name) {
            // Roles and operator flags are not part of a description.
            Some(existing) => {
                node.role = existing.role;
                node.drained = existing.drained;
                node.stopped = existing.stopped;
            }
            // A newcomer cannot claim the primary role by registering.
            None if node.role == Role::Primary => node.role = Role::Unknown,
            None => {}
        }
        self.nodes.insert(node.name.clone(), node);
        CommandResult::Applied
    }

    fn remove_node(&mut self, name: &str) -> CommandResult {
        if self.primary.as_deref() == Some(name) {
            return rejected(format!("node \"{name}\" is the primary"));
        }
        if self.nodes.remove(name).is_none() {
            return rejected(format!("no node named \"{name}\""));
        }
        self.sync_set.retain(|n| n != name);
        CommandResult::Applied
    }

    fn set_primary(
        &mut self,
        name: &str,
        timeline: u64,
        start_lsn: u64,
        reason: &str,
        time_ms: u64,
        epoch: Epoch,
    ) -> CommandResult {
        let Some(node) = self.nodes.get(name) else {
            return rejected(format!("no node named \"{name}\""));
        };
        if node.stopped {
            return rejected(format!("node \"{name}\" is stopped"));
        }
        if timeline == self.timeline && self.primary.as_deref() == Some(name) {
            return CommandResult::Applied;
        }
        if timeline <= self.timeline {
            return rejected(format!(
                "timeline {timeline} is not after the current timeline {}",
                self.timeline
            ));
        }
        if let Some(old) = self.primary.take() {
            if let Some(node) = self.nodes.get_mut(&old) {
                node.role = Role::Unknown;
            }
        }
        if let Some(node) = self.nodes.get_mut(name) {
            node.role = Role::Primary;
            // A node made primary serves traffic: whatever drained it is over.
            node.drained = false;
        }
        self.primary = Some(name.to_string());
        self.timeline = timeline;
        self.node_timeline = 0;
        self.timeline_history.push(TimelineEntry {
            timeline,
            start_lsn,
            reason: reason.to_string(),
            time_ms,
        });
        self.sync_set.retain(|n| n != name);
        self.primary_epoch = epoch;
        CommandResult::Applied
    }

    fn set_roles(&mut self, roles: &BTreeMap<String, Role>) -> CommandResult {
        for (name, role) in roles {
            if !self.nodes.contains_key(name) {
                return rejected(format!("no node named \"{name}\""));
            }
            if *role == Role::Primary && self.primary.as_deref() != Some(name.as_str()) {
                return rejected("the primary role moves only through SetPrimary");
            }
            if *role != Role::Primary && self.primary.as_deref() == Some(name.as_str()) {
                return rejected(format!(
                    "node \"{name}\" is the primary; use SetPrimary or ClearPrimary"
                ));
            }
        }
        for (name, role) in roles {
            if let Some(node) = self.nodes.get_mut(name) {
                node.role = *role;
            }
        }
        CommandResult::Applied
    }

    fn set_sync_set(&mut self, names: &[String]) -> CommandResult {
        for name in names {
            let Some(node) = self.nodes.get(name) else {
                return rejected(format!("no node named \"{name}\""));
            };
            if node.stopped {
                return rejected(format!("node \"{name}\" is stopped"));
            }
            if self.primary.as_deref() == Some(name.as_str()) {
                return rejected(format!("node \"{name}\" is the primary"));
            }
        }
        let mut set: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            if !set.contains(name) {
                set.push(name.clone());
            }
        }
        self.sync_set = set;
        CommandResult::Applied
    }

    fn update_config(&mut self, patch: &ConfigPatch) -> CommandResult {
        if patch.lease_ttl_ms == Some(0) {
            return rejected("lease_ttl_ms must be positive");
        }
        if patch.heartbeat_ms == Some(0) {
            return rejected("heartbeat_ms must be positive");
        }
        if let Some(t) = patch.failure_threshold {
            if !t.is_finite() || t <= 0.0 {
                return rejected("failure_threshold must be a positive number");
            }
        }
        let c = &mut self.config;
        if let Some(v) = patch.replication_mode {
            c.replication_mode = v;
        }
        if let Some(v) = patch.num_sync_replicas {
            c.num_sync_replicas = v;
        }
        if let Some(v) = patch.maximum_lag_on_failover {
            c.maximum_lag_on_failover = v;
        }
        if let Some(v) = patch.lease_ttl_ms {
            c.lease_ttl_ms = v;
        }
        if let Some(v) = patch.heartbeat_ms {
            c.heartbeat_ms = v;
        }
        if let Some(v) = patch.failure_threshold {
            c.failure_threshold = v;
        }
        CommandResult::Applied
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
