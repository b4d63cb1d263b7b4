//! Role changes and status: start as primary or replica, promote, follow.
//!
//! These are the node-level primitives the manager drives (through the admin
//! API). Each writes its decision durably before acting on it:
//!
//! - **primary**: storage read-write, the commit gate installed, role
//!   `primary` recorded.
//! - **replica** (`follow`): role `replica` recorded first, then the node is
//!   *fenced* — sessions get `57P03` — and the receiver starts. The fence
//!   lifts once the receiver's first handshake has matched (and if needed
//!   rewound) the timeline with the upstream. A replica restarting on the
//!   same upstream was not a primary, so it serves reads at once, like a
//!   PostgreSQL hot standby.
//! - **promote**: the receiver stops, a new timeline starts at the next LSN
//!   and is recorded in the history, engine caches (sequences, row ids) are
//!   reset, and the storage accepts writes.

use std::sync::Arc;

use serde_json::json;

use super::{receiver, Follower, Replication};
use crate::storage::{Access, CommitGate};
use crate::wal::TimelineEntry;

impl Replication {
    /// Sets the role at start: follow `config.follow` if set, else primary.
    pub fn start_role(self: &Arc<Self>) -> Result<(), String> {
        match self.config.follow.clone() {
            Some(upstream) => {
                let rocks = self.rocks();
                let was_primary = rocks.last_role().map_err(|e| e.to_string())?.as_deref()
                    == Some("primary")
                    && rocks.last_lsn().0 > 0;
                self.become_replica(&upstream, was_primary)
            }
            None => {
                let rocks = self.rocks();
                if rocks.last_role().map_err(|e| e.to_string())?.as_deref() == Some("replica") {
                    // A replica restarted as a primary is a promotion: its
                    // records from now on must not share a timeline with
                    // whatever its old upstream writes.
                    let entry = rocks
                        .start_timeline("started as primary after being a replica")
                        .map_err(|e| e.to_string())?;
                    self.replicas.event(
                        "promoted",
                        format!(
                            "timeline {} from LSN {} at start",
                            entry.timeline, entry.start_lsn
                        ),
                    );
                }
                self.become_primary().map_err(|e| e.to_string())?;
                Ok(())
            }
        }
    }

    fn become_primary(&self) -> crate::error::Result<()> {
        let rocks = self.rocks();
        rocks.set_last_role("primary")?;
        let gate: Arc<dyn CommitGate> = self.replicas.clone();
        rocks.set_commit_gate(Some(gate));
        rocks.set_access(Access::ReadWrite);
        self.metrics.in_recovery.set(0);
        Ok(())
    }

    /// Becomes a replica of `upstream`; `fence` keeps sessions out until
    /// the timeline has been checked.
    fn become_replica(self: &Arc<Self>, upstream: &str, fence: bool) -> Result<(), String> {
        let rocks = self.rocks();
        rocks.set_access(if fence {
            Access::Fenced
        } else {
            Access::ReadOnly
        });
        rocks.set_commit_gate(None);
        rocks.set_last_role("replica").map_err(|e| e.to_string())?;
        self.metrics.in_recovery.set(1);
        self.kick_senders();
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(receiver::run(self.clone(), upstream.to_string(), stop_rx));
        *self.follower.lock() = Some(Follower {
            upstream: upstream.to_string(),
            stop,
            task,
        });
        self.replicas.event(
            "following",
            format!("following {upstream} (fenced: {fence})"),
        );
        tracing::info!(upstream, fenced = fence, "following");
        Ok(())
    }

    /// Stops the receiver, if any, and waits for it.
    pub async fn stop_following(&self) {
        let follower = self.follower.lock().take();
        if let Some(f) = follower {
            f.stop.send_replace(true);
            let abort = f.task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(10), f.task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Promotes this node: stop following, new timeline, accept writes.
    pub async fn promote(&self) -> Result<TimelineEntry, String> {
        if matches!(self.rocks().access(), Access::ReadWrite | Access::Draining) {
            return Err("this node is already a primary".into());
        }
        self.stop_following().await;
        let rocks = self.rocks();
        let entry = tokio::task::spawn_blocking(move || rocks.start_timeline("promote"))
            .await
            .map_err(|e| format!("promotion task failed: {e}"))?
            .map_err(|e| e.to_string())?;
        self.reset_engine_caches();
        self.become_primary().map_err(|e| e.to_string())?;
        self.metrics
            .timeline
            .set(i64::try_from(entry.timeline).unwrap_or(i64::MAX));
        self.kick_senders();
        self.storage.receiver.lock().state = "stopped";
        self.replicas.event(
            "promoted",
            format!("timeline {} from LSN {}", entry.timeline, entry.start_lsn),
        );
        tracing::info!(
            timeline = entry.timeline,
            start_lsn = entry.start_lsn,
            "promoted"
        );
        Ok(entry)
    }

    /// Demotes a primary for a switchover: new transactions become
    /// read-only at once; transactions already writing may commit for up to
    /// `drain` (until no row lock is held), then nothing more commits.
    /// Returns the final LSN, which the candidate must reach before it is
    /// promoted. The node stays readable (it serves reads at the final LSN)
    /// until told to follow the new primary.
    pub async fn demote(&self, drain: std::time::Duration) -> Result<u64, String> {
        let rocks = self.rocks();
        if rocks.access() != Access::ReadWrite {
            return Err("this node is not a read-write primary".into());
        }
        rocks.set_access(Access::Draining);
        let deadline = std::time::Instant::now() + drain;
        while rocks.locked_keys() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        rocks.set_access(Access::ReadOnly);
        rocks.set_commit_gate(None);
        let r2 = rocks.clone();
        let last = tokio::task::spawn_blocking(move || r2.barrier())
            .await
            .map_err(|e| format!("demote task: {e}"))?
            .map_err(|e| e.to_string())?;
        rocks.set_last_role("replica").map_err(|e| e.to_string())?;
        self.metrics.in_recovery.set(1);
        self.replicas.event(
            "demoted",
            format!("demoted for a switchover at LSN {}", last.0),
        );
        tracing::info!(final_lsn = last.0, "demoted");
        Ok(last.0)
    }

    /// Follows `upstream` from now on (fenced until the timeline is checked).
    pub async fn follow(self: &Arc<Self>, upstream: &str) -> Result<(), String> {
        if upstream.trim().is_empty() {
            return Err("the upstream address is empty".into());
        }
        self.stop_following().await;
        self.become_replica(upstream, true)
    }

    /// The upstream being followed, if any.
    pub fn upstream(&self) -> Option<String> {
        self.follower.lock().as_ref().map(|f| f.upstream.clone())
    }

    /// The role-related part of `GET /status`.
    pub fn status_json(&self) -> serde_json::Value {
        let rocks = self.rocks();
        let receiver = self.storage.receiver_status();
        let mode = self.replicas.mode();
        json!({
            "node_name": self.node_name,
            "role": rocks.role_name(),
            "in_recovery": matches!(rocks.access(), Access::ReadOnly | Access::Fenced),
            "draining": rocks.access() == Access::Draining,
            "fenced": rocks.access() == Access::Fenced,
            "timeline": rocks.timeline(),
            "commit_mode": mode.commit_mode.as_str(),
            "num_sync": mode.num_sync,
            "degraded": self.replicas.degraded(),
            "upstream": self.upstream(),
            "stream_state": receiver.state,
            "last_error": receiver.last_error,
            "upstream_lsn": receiver.upstream_lsn,
            "replication_endpoint": self.endpoint().map(|a| a.to_string()),
            "replicas": self.replicas.replicas().len(),
            "lease_remaining_ms": rocks.lease().remaining().map(|d| d.as_millis() as u64),
            "lease_valid": rocks.lease().valid(),
        })
    }

    /// `GET /replication`.
    pub fn replication_json(&self) -> serde_json::Value {
        use rustydb_sql::Storage;
        let mode = self.replicas.mode();
        let rocks = self.rocks();
        let last = rocks.last_lsn().0;
        let replicas: Vec<serde_json::Value> = self
            .storage
            .replication_stats()
            .into_iter()
            .map(|r| {
                let lag_ms = if r.replay_lsn.0 >= last {
                    0.0
                } else {
                    rocks
                        .commit_time_of(rustydb_sql::Lsn(r.replay_lsn.0 + 1))
                        .ok()
                        .flatten()
                        .map_or(0.0, |t| {
                            crate::storage::now_micros().saturating_sub(t) as f64 / 1e3
                        })
                };
                json!({
                    "name": r.name,
                    "client_addr": r.client_addr,
                    "state": r.state,
                    "sent_lsn": r.sent_lsn.0,
                    "flush_lsn": r.flush_lsn.0,
                    "replay_lsn": r.replay_lsn.0,
                    "lag_records": r.lag_records,
                    "lag_bytes": r.lag_bytes,
                    "lag_ms": lag_ms,
                    "last_ack_lag_ms": r.replay_lag_ms,
                    "sync_state": r.sync_state,
                    "sync_priority": r.sync_priority,
                })
            })
            .collect();
        let (p50, p99) = self.replicas.lag_percentiles().unzip();
        json!({
            "role": rocks.role_name(),
            "lsn": last,
            "commit_mode": mode.commit_mode.as_str(),
            "num_sync": mode.num_sync,
            "sync_standbys": mode.sync_standbys,
            "sync_quorum": mode.sync_quorum,
            "sync_timeout_ms": mode.sync_timeout_ms,
            "semi_sync_timeout_ms": mode.semi_sync_timeout_ms,
            "degraded": self.replicas.degraded(),
            "replicas": replicas,
            "lag_ms_p50": p50,
            "lag_ms_p99": p99,
            "events": self.replicas.events(),
        })
    }

    /// `GET /timeline`.
    pub fn timeline_json(&self) -> serde_json::Value {
        let history = self.rocks().history();
        json!({ "timeline": history.current(), "history": history.entries })
    }

    /// Prometheus text, with per-replica gauges refreshed first.
    pub fn metrics_text(&self) -> String {
        use rustydb_sql::Storage;
        let rocks = self.rocks();
        let m = &self.metrics;
        m.last_lsn
            .set(i64::try_from(rocks.last_lsn().0).unwrap_or(i64::MAX));
        m.timeline
            .set(i64::try_from(rocks.timeline()).unwrap_or(i64::MAX));
        m.replica_lag_records.reset();
        m.replica_lag_bytes.reset();
        m.replica_lag_ms.reset();
        for r in self.storage.replication_stats() {
            let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            m.replica_lag_records
                .with_label_values(&[r.name.as_str()])
                .set(clamp(r.lag_records));
            m.replica_lag_bytes
                .with_label_values(&[r.name.as_str()])
                .set(clamp(r.lag_bytes));
            m.replica_lag_ms
                .with_label_values(&[r.name.as_str()])
                .set(r.replay_lag_ms.unwrap_or(0.0) as i64);
        }
        m.render()
    }
}
