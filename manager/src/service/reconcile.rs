//! Reconcile: the leader brings the cluster in line with the replicated
//! state, one small step per heartbeat.
//!
//! Runs on the leader after each poll, with the operation lock held (so
//! never during a switchover or a manual failover). Each step is
//! idempotent and reads only the replicated state and this member's
//! observations, so a new leader simply continues where the old one
//! stopped:
//!
//! - register configured nodes missing from the state (`RegisterNode`);
//! - no primary recorded: bootstrap one (the node reporting `primary` with
//!   the highest LSN, else the first configured node), once every node
//!   answered or a grace period passed;
//! - the primary failed (phi ≥ threshold) and not paused: automatic
//!   failover (`failover.rs`);
//! - the primary answers but runs as a replica (its promotion was lost):
//!   re-promote it or fail over, whichever is safe (`repair.rs`);
//! - a live node (not administratively stopped) that is not the recorded
//!   primary but runs as a primary
//!   (the old primary came back), or follows another upstream: `POST
//!   /follow` the recorded primary (rate-limited per node);
//! - the primary's commit mode and sync standbys differ from the config:
//!   choose the sync set (the `num_sync_replicas` best live replicas,
//!   never drained or stopped ones) and
//!   `POST /replication/mode`, then record the sync set in Raft.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::client::NodeApi;
use super::failover;
use super::health::Liveness;
use super::{unix_ms, Service};
use crate::raft::{ClusterCommand, ClusterState, Role};
use rustydb_node::replication::CommitMode;

/// How long a new leader waits for every node to answer before it
/// bootstraps a primary from the nodes that did.
const BOOTSTRAP_GRACE: Duration = Duration::from_secs(3);
/// Minimum time between two `/follow` calls to the same node.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// What reconcile remembers between ticks (leader-local).
#[derive(Debug, Default)]
pub struct ReconcileMemo {
    pub followed_at: BTreeMap<String, Instant>,
    /// (primary, mode, sync standbys) last pushed to a primary.
    pub mode_pushed: Option<(String, String, Vec<String>)>,
    pub last_refusal: Option<Instant>,
    /// The recorded primary seen running as a replica, and since when.
    pub replica_primary: Option<(String, Instant)>,
    /// When a re-promotion was last attempted (`repair.rs`).
    pub last_repair: Option<Instant>,
}

pub async fn reconcile(service: &Service, state: &ClusterState) {
    if state.nodes.is_empty() && state.config != service.config.cluster {
        seed_config(service).await;
        return;
    }
    if register_missing(service, state).await {
        return;
    }
    // Geo / DR: a standby cluster follows the remote primary instead of
    // electing its own (`dr_standby.rs`).
    if super::dr_standby::seed(service, state).await {
        return;
    }
    if state.dr.standby {
        super::dr_standby::reconcile(service, state).await;
        return;
    }
    let now = Instant::now();
    match state.primary.clone() {
        None => bootstrap(service, state, now).await,
        Some(primary) => {
            let failed =
                service
                    .health
                    .lock()
                    .liveness(&primary, now, state.config.failure_threshold)
                    == Liveness::Failed;
            if failed {
                if !state.paused {
                    auto_failover(service, state, &primary, now, "primary failed").await;
                }
                return;
            }
            // Nothing is re-pointed at a primary that does not run as one.
            if let Some(since) = runs_as_replica(service, &primary, now) {
                if since >= super::repair::REPAIR_AFTER {
                    super::repair::repair(service, state, &primary, now).await;
                }
                return;
            }
            repoint_strays(service, state, &primary, now).await;
            push_mode(service, state, &primary, now).await;
        }
    }
}

/// Writes the `[cluster]` section of the file on a fresh state (once:
/// afterwards the state has nodes and `PATCH /config` rules).
async fn seed_config(service: &Service) {
    let c = &service.config.cluster;
    let patch = crate::raft::ConfigPatch {
        replication_mode: Some(c.replication_mode),
        num_sync_replicas: Some(c.num_sync_replicas),
        maximum_lag_on_failover: Some(c.maximum_lag_on_failover),
        lease_ttl_ms: Some(c.lease_ttl_ms),
        heartbeat_ms: Some(c.heartbeat_ms),
        failure_threshold: Some(c.failure_threshold),
    };
    match service
        .raft
        .propose(ClusterCommand::UpdateConfig { patch })
        .await
    {
        Ok(_) => tracing::info!("initial cluster config written"),
        Err(e) => tracing::warn!(error = %e, "cannot write the initial config"),
    }
}

/// Registers configured nodes the state lacks; true when it proposed.
async fn register_missing(service: &Service, state: &ClusterState) -> bool {
    let mut proposed = false;
    for node in &service.config.nodes {
        let info = node.to_node_info();
        let same = state.nodes.get(&node.name).is_some_and(|n| {
            n.pgwire_addr == info.pgwire_addr
                && n.admin_addr == info.admin_addr
                && n.datacenter == info.datacenter
                && n.region == info.region
                && n.nofailover == info.nofailover
                && n.noloadbalance == info.noloadbalance
                && n.failover_priority == info.failover_priority
        });
        if !same {
            match service
                .raft
                .propose(ClusterCommand::RegisterNode { node: info })
                .await
            {
                Ok(_) => tracing::info!(node = %node.name, "node registered"),
                Err(e) => tracing::warn!(node = %node.name, error = %e, "cannot register node"),
            }
            proposed = true;
        }
    }
    proposed
}

async fn bootstrap(service: &Service, state: &ClusterState, now: Instant) {
    let since = service.lease.lock().leader_since.unwrap_or(now);
    let (answered, best_primary, first_answering) = {
        let health = service.health.lock();
        let answered = state
            .nodes
            .keys()
            .filter(|n| health.status(n).is_some())
            .count();
        let best_primary = state
            .nodes
            .keys()
            .filter_map(|n| health.status(n).map(|s| (n, s)))
            .filter(|(_, s)| s.is_primary())
            .max_by_key(|(n, s)| (s.lsn_number.unwrap_or(0), std::cmp::Reverse((*n).clone())))
            .map(|(n, _)| n.clone());
        let first_answering = service
            .config
            .nodes
            .iter()
            .find(|n| health.status(&n.name).is_some())
            .map(|n| n.name.clone());
        (answered, best_primary, first_answering)
    };
    if answered == 0
        || (answered < state.nodes.len() && now.duration_since(since) < BOOTSTRAP_GRACE)
    {
        return;
    }
    let time_ms = unix_ms();
    if let Some(name) = best_primary {
        let node_tl = service.health.lock().status(&name).and_then(|s| s.timeline);
        let timeline = node_tl.unwrap_or(1).max(state.timeline + 1);
        let start_lsn = service.health.lock().lsn(&name).unwrap_or(0);
        tracing::info!(node = %name, timeline, "bootstrap: recording the running primary");
        let cmd = ClusterCommand::SetPrimary {
            name: name.clone(),
            timeline,
            start_lsn,
            reason: "bootstrap".into(),
            time_ms,
        };
        if let Err(e) = service.raft.propose(cmd).await {
            tracing::warn!(error = %e, "bootstrap failed");
            return;
        }
        let (_, fresh) = service.raft.state();
        if let Some(tl) = node_tl {
            failover::record_node_timeline(service, &name, tl).await;
        }
        if let Some(node) = fresh.primary_node() {
            super::monitor::renew_now(service, &node.name, &node.admin_addr, &fresh).await;
        }
        failover::repoint_replicas(service, &fresh, None).await;
    } else if let Some(name) = first_answering {
        tracing::info!(node = %name, "bootstrap: no node runs as primary; promoting the first");
        if let Err(e) =
            failover::promote_recorded(service, state, &name, "bootstrap", time_ms).await
        {
            tracing::warn!(error = %e, "bootstrap promotion failed");
        }
    }
}

/// How long the recorded primary has been reporting role replica (None
/// while it reports primary; remembered in the memo across ticks).
fn runs_as_replica(service: &Service, primary: &str, now: Instant) -> Option<Duration> {
    let replica = service
        .health
        .lock()
        .status(primary)
        .is_some_and(|s| !s.is_primary() && s.role.is_some());
    let mut memo = service.memo.lock();
    if !replica {
        memo.replica_primary = None;
        return None;
    }
    let since = match &memo.replica_primary {
        Some((name, since)) if name == primary => *since,
        _ => {
            memo.replica_primary = Some((primary.to_string(), now));
            now
        }
    };
    Some(now.saturating_duration_since(since))
}

pub async fn auto_failover(
    service: &Service,
    state: &ClusterState,
    primary: &str,
    now: Instant,
    reason: &str,
) {
    let last_lsn = service.lease.lock().last_primary_lsn;
    let choice = {
        let health = service.health.lock();
        failover::choose_candidate(state, &health, last_lsn, now)
    };
    match choice {
        Ok(candidate) => {
            tracing::warn!(primary, candidate = %candidate.name, "primary failed: failing over");
            if let Err(e) = failover::fail_over(service, candidate, reason).await {
                tracing::error!(error = %e, "automatic failover failed");
            }
        }
        Err(why) => {
            let mut memo = service.memo.lock();
            if memo
                .last_refusal
                .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
            {
                memo.last_refusal = Some(Instant::now());
                tracing::warn!(primary, "primary failed but {why}");
            }
        }
    }
}

/// Re-points live nodes that do not follow the recorded primary.
async fn repoint_strays(service: &Service, state: &ClusterState, primary: &str, now: Instant) {
    let Some(primary_node) = state.nodes.get(primary) else {
        return;
    };
    let strays: Vec<(String, String)> = {
        let health = service.health.lock();
        let memo = service.memo.lock();
        state
            .nodes
            .values()
            .filter(|n| n.name != primary && !n.stopped)
            .filter(|n| {
                health.liveness(&n.name, now, state.config.failure_threshold) == Liveness::Alive
            })
            .filter(|n| {
                health.status(&n.name).is_some_and(|s| {
                    s.is_primary()
                        || s.upstream.as_deref() != Some(primary_node.pgwire_addr.as_str())
                })
            })
            .filter(|n| {
                memo.followed_at
                    .get(&n.name)
                    .is_none_or(|t| t.elapsed() >= FOLLOW_EVERY)
            })
            .map(|n| (n.name.clone(), n.admin_addr.clone()))
            .collect()
    };
    for (name, admin) in strays {
        service
            .memo
            .lock()
            .followed_at
            .insert(name.clone(), Instant::now());
        let api = NodeApi {
            client: &service.client,
            admin: &admin,
            timeout: Duration::from_secs(2),
        };
        match api.follow(&primary_node.pgwire_addr).await {
            Ok(()) => {
                tracing::info!(node = %name, primary, "re-pointed a stray node");
                if state
                    .nodes
                    .get(&name)
                    .is_some_and(|n| n.role != Role::Replica)
                {
                    let roles = BTreeMap::from([(name.clone(), Role::Replica)]);
                    let _ = service
                        .raft
                        .propose(ClusterCommand::SetRoles { roles })
                        .await;
                }
            }
            Err(e) => tracing::debug!(node = %name, error = %e, "cannot re-point"),
        }
    }
}

/// Keeps the primary's commit mode and sync set in line with the config.
async fn push_mode(service: &Service, state: &ClusterState, primary: &str, now: Instant) {
    let Some(primary_node) = state.nodes.get(primary) else {
        return;
    };
    let mode = state.config.replication_mode;
    let mut sync_set = state.sync_set.clone();
    if mode == CommitMode::Sync {
        let health = service.health.lock();
        // Drained and stopped nodes are kept out of the set: an operator
        // is about to take them down.
        let live = |n: &str| {
            health.liveness(n, now, state.config.failure_threshold) == Liveness::Alive
                && state.nodes.get(n).is_some_and(|x| !x.drained && !x.stopped)
        };
        let want = state.config.num_sync_replicas as usize;
        sync_set.retain(|n| live(n));
        if sync_set.len() < want {
            let mut extra: Vec<_> = state
                .nodes
                .values()
                .filter(|n| n.name != primary && !sync_set.contains(&n.name) && live(&n.name))
                .filter(|n| health.status(&n.name).is_some_and(|s| !s.is_primary()))
                .collect();
            extra.sort_by(|a, b| {
                b.failover_priority
                    .cmp(&a.failover_priority)
                    .then(a.name.cmp(&b.name))
            });
            for n in extra.into_iter().take(want - sync_set.len()) {
                sync_set.push(n.name.clone());
            }
        }
        // An unchanged set whose member died stays until a replacement exists.
        if sync_set.is_empty() {
            sync_set = state.sync_set.clone();
        }
    } else {
        sync_set.clear();
    }
    let key = (
        primary.to_string(),
        mode.as_str().to_string(),
        sync_set.clone(),
    );
    if service.memo.lock().mode_pushed.as_ref() == Some(&key) && sync_set == state.sync_set {
        return;
    }
    let api = NodeApi {
        client: &service.client,
        admin: &primary_node.admin_addr,
        timeout: Duration::from_secs(2),
    };
    let num_sync = state
        .config
        .num_sync_replicas
        .max(1)
        .min(sync_set.len().max(1) as u32);
    match api.set_mode(mode.as_str(), num_sync, &sync_set).await {
        Ok(()) => {
            if sync_set != state.sync_set {
                let _ = service
                    .raft
                    .propose(ClusterCommand::SetSyncSet {
                        names: sync_set.clone(),
                    })
                    .await;
            }
            tracing::info!(primary, mode = mode.as_str(), ?sync_set, "commit mode set");
            service.memo.lock().mode_pushed = Some(key);
        }
        Err(e) => tracing::debug!(error = %e, "cannot set the commit mode"),
    }
}
