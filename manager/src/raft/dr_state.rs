//! The replicated part of geo-distribution and disaster recovery.
//!
//! A cluster is either a normal HA cluster or a *standby cluster*
//! (Patroni's `standby_cluster`): its nodes replicate from another
//! cluster's primary, none of them accepts writes, and one of them, the
//! *standby leader*, is the only one that talks to the remote site; the
//! others cascade from it. What every manager member must agree on lives
//! here, in [`DrState`], and changes only through the DR commands of
//! `command.rs` (applied by [`DrState::apply`]):
//!
//! - `standby`: whether the cluster runs in standby mode, and the remote
//!   hosts it follows (seeded once from `[standby_cluster]` in
//!   manager.toml; a DR failover turns it off, a failback turns it on
//!   with the new primary site's hosts);
//! - `standby_leader`: the node chosen to follow the remote primary;
//! - `fork`: the node started for a test-mode drill, while it exists;
//! - `drills`: the history of DR failovers and drills with their measured
//!   RTO and RPO (`dr report`), at most [`DRILL_HISTORY_CAP`], oldest
//!   dropped first.
//!
//! - `site` / `site_held`: this site's durable ballot in the inter-site
//!   quorum of automatic DR failover (`site_lease.rs`, `dr_auto.rs`):
//!   the epoch it last voted in (or learnt), for whom, and the epoch this
//!   site itself won with a majority (0: none; cleared when the site
//!   becomes a standby, so a standby that holds an epoch is one that won
//!   a takeover and has not promoted itself yet).
//!
//! Invariants: `standby_leader` is `None` whenever `standby` is false, and
//! names a registered node otherwise; `seeded` only goes from false to
//! true, so a cluster promoted by a DR failover is not put back into
//! standby mode by its own configuration file; `site.epoch` never
//! decreases and, within one epoch, the recorded holder never changes once
//! set (one vote per epoch); `site_held` is at most `site.epoch`.

use serde::{Deserialize, Serialize};

use super::command::CommandResult;
use crate::site_lease::Ballot;

/// How many drill records the state keeps.
pub const DRILL_HISTORY_CAP: usize = 100;

/// One DR failover or test-mode drill, as `dr report` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DrDrill {
    /// Unix ms when the request arrived.
    pub time_ms: u64,
    /// `failover` (the standby cluster was promoted) or `test` (a fork was).
    pub kind: String,
    /// The node promoted.
    pub promoted: String,
    pub forced: bool,
    pub success: bool,
    /// Request to first write accepted on the promoted node, in ms.
    pub rto_ms: Option<u64>,
    /// Records the standby lacked against the primary's last known LSN.
    pub rpo_records: Option<u64>,
    /// The same loss in seconds of commits (lag at the last observation).
    pub rpo_seconds: Option<f64>,
    /// Whether the primary site answered at failover time (the RPO figure
    /// is then exact; otherwise it comes from the last observation).
    pub primary_reachable: bool,
    pub detail: String,
}

/// The fork node of a test-mode drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DrFork {
    pub name: String,
    pub pgwire_addr: String,
    pub admin_addr: String,
    pub data_dir: String,
    /// The member that started (and owns) the fork's process.
    pub member: u64,
}

/// The replicated DR state (`ClusterState::dr`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DrState {
    /// Standby-cluster mode is on.
    pub standby: bool,
    /// pgwire addresses of the remote (primary) cluster's nodes.
    pub primary_hosts: Vec<String>,
    /// True once `[standby_cluster]` of the file was written (or a DR
    /// command decided the mode): the file no longer rules.
    pub seeded: bool,
    pub standby_leader: Option<String>,
    pub fork: Option<DrFork>,
    pub drills: Vec<DrDrill>,
    /// This site's ballot in the inter-site quorum.
    pub site: Ballot,
    /// The epoch this site won (holds while `site.epoch` equals it and
    /// `site.holder` is this site); 0 when none.
    pub site_held: u64,
}

/// The DR mutations (variants of `ClusterCommand`, forwarded here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DrCommand {
    SetStandby {
        enabled: bool,
        primary_hosts: Vec<String>,
    },
    SetStandbyLeader {
        name: Option<String>,
    },
    RecordDrill {
        drill: DrDrill,
    },
    SetFork {
        fork: Option<DrFork>,
    },
    /// Records a vote, a learnt epoch or (with `held`) a won epoch.
    SetSite {
        ballot: Ballot,
        held: bool,
    },
}

impl DrState {
    /// Applies one DR command; `node_exists` says whether a node is
    /// registered (the standby leader must be).
    pub fn apply(
        &mut self,
        command: &DrCommand,
        node_exists: impl Fn(&str) -> bool,
    ) -> CommandResult {
        match command {
            DrCommand::SetStandby {
                enabled,
                primary_hosts,
            } => {
                if *enabled && primary_hosts.is_empty() {
                    return CommandResult::Rejected {
                        reason: "standby mode needs at least one primary host".into(),
                    };
                }
                self.standby = *enabled;
                self.seeded = true;
                if *enabled {
                    self.primary_hosts = primary_hosts.clone();
                    // A site that becomes a standby gives up the
                    // primary-site epoch it held (it stops renewing it).
                    self.site_held = 0;
                } else {
                    self.standby_leader = None;
                }
                CommandResult::Applied
            }
            DrCommand::SetStandbyLeader { name } => {
                if let Some(n) = name {
                    if !self.standby {
                        return CommandResult::Rejected {
                            reason: "not a standby cluster".into(),
                        };
                    }
                    if !node_exists(n) {
                        return CommandResult::Rejected {
                            reason: format!("no node named \"{n}\""),
                        };
                    }
                }
                self.standby_leader = name.clone();
                CommandResult::Applied
            }
            DrCommand::RecordDrill { drill } => {
                self.drills.push(drill.clone());
                let excess = self.drills.len().saturating_sub(DRILL_HISTORY_CAP);
                self.drills.drain(..excess);
                CommandResult::Applied
            }
            DrCommand::SetFork { fork } => {
                if fork.is_some() && self.fork.is_some() {
                    return CommandResult::Rejected {
                        reason: "a test-mode fork already exists; discard it first".into(),
                    };
                }
                self.fork = fork.clone();
                CommandResult::Applied
            }
            DrCommand::SetSite { ballot, held } => {
                let cur = &self.site;
                let double_vote = ballot.epoch == cur.epoch
                    && cur.holder.is_some()
                    && ballot.holder != cur.holder;
                if ballot.epoch < cur.epoch || double_vote {
                    return CommandResult::Rejected {
                        reason: format!(
                            "site ballot ({}, {:?}) conflicts with ({}, {:?})",
                            ballot.epoch, ballot.holder, cur.epoch, cur.holder
                        ),
                    };
                }
                let max_lease_ms = cur.max_lease_ms.max(ballot.max_lease_ms);
                self.site = Ballot {
                    max_lease_ms,
                    ..ballot.clone()
                };
                if *held {
                    self.site_held = ballot.epoch;
                }
                CommandResult::Applied
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standby_leader_needs_standby_mode_and_a_node() {
        let mut s = DrState::default();
        let set = DrCommand::SetStandbyLeader {
            name: Some("n1".into()),
        };
        assert!(!s.apply(&set, |_| true).is_applied());
        let on = DrCommand::SetStandby {
            enabled: true,
            primary_hosts: vec!["127.0.0.1:5433".into()],
        };
        assert!(s.apply(&on, |_| true).is_applied());
        assert!(!s.apply(&set, |_| false).is_applied());
        assert!(s.apply(&set, |_| true).is_applied());
        assert_eq!(s.standby_leader.as_deref(), Some("n1"));
        let off = DrCommand::SetStandby {
            enabled: false,
            primary_hosts: vec![],
        };
        assert!(s.apply(&off, |_| true).is_applied());
        assert!(s.standby_leader.is_none() && s.seeded && !s.standby);
    }

    #[test]
    fn site_ballot_is_monotonic_with_one_vote_per_epoch() {
        let mut s = DrState::default();
        let set = |epoch: u64, holder: &str, held: bool| DrCommand::SetSite {
            ballot: Ballot {
                epoch,
                holder: Some(holder.into()),
                max_lease_ms: 1000,
            },
            held,
        };
        assert!(s.apply(&set(2, "dc1", false), |_| true).is_applied());
        assert!(!s.apply(&set(2, "dc2", true), |_| true).is_applied());
        assert!(!s.apply(&set(1, "dc1", true), |_| true).is_applied());
        assert!(s.apply(&set(2, "dc1", true), |_| true).is_applied());
        assert_eq!((s.site.epoch, s.site_held), (2, 2));
        assert!(s.apply(&set(3, "dc2", false), |_| true).is_applied());
        assert_eq!((s.site.epoch, s.site_held), (3, 2));
    }

    #[test]
    fn standby_needs_hosts_and_drills_are_capped() {
        let mut s = DrState::default();
        let on = DrCommand::SetStandby {
            enabled: true,
            primary_hosts: vec![],
        };
        assert!(!s.apply(&on, |_| true).is_applied());
        assert!(!s.seeded);
        for i in 0..(DRILL_HISTORY_CAP + 5) {
            let drill = DrDrill {
                time_ms: i as u64,
                ..DrDrill::default()
            };
            s.apply(&DrCommand::RecordDrill { drill }, |_| true);
        }
        assert_eq!(s.drills.len(), DRILL_HISTORY_CAP);
        assert_eq!(s.drills.first().map(|d| d.time_ms), Some(5));
    }
}
