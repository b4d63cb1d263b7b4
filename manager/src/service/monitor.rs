//! The heartbeat loop: poll nodes, hold the lease, reconcile.
//!
//! Every member runs this loop every `heartbeat_ms` (read from the
//! replicated config on each tick, so `PATCH /config` takes effect at
//! once):
//!
//! 1. poll every node's `GET /status` (and the primary's `/replication`)
//!    concurrently, with a deadline shorter than the lease, feeding the
//!    failure detectors (`health.rs`); followers do this too, so any
//!    member can answer `/cluster`;
//! 2. on the leader only: confirm leadership with a quorum, then renew the
//!    primary's lease, but only while the last confirmation is younger
//!    than `lease_ttl / 2` (`LeaseBook::may_renew`): a deposed leader
//!    cannot confirm, so it stops renewing within `lease_ttl / 2`;
//! 3. on the leader only, when no switchover/failover holds the operation
//!    lock: reconcile the cluster with the replicated state
//!    (`reconcile.rs`); then start the scheduled switchover when it is
//!    due (`schedule.rs`).
//!
//! Lease bookkeeping invariant (what makes failover safe): for the node
//! the leader may have to fail over, `LeaseBook::renewed` is never earlier
//! than the last renewal *any* leader could have sent. A member that just
//! became leader does not know when its predecessor last renewed, so it
//! assumes "at the moment I became leader plus `lease_ttl / 2`" (the
//! longest a deposed leader keeps renewing after its last confirmation).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::NodeApi;
use super::Service;
use crate::raft::ClusterState;

/// Leader-side lease and leadership bookkeeping.
#[derive(Debug, Default)]
pub struct LeaseBook {
    /// When this member became leader (None while it is not).
    pub leader_since: Option<Instant>,
    /// When `confirm_leadership` last succeeded.
    pub confirmed_at: Option<Instant>,
    /// The latest time a renewal of each node's lease may have been sent.
    pub renewed: HashMap<String, Instant>,
    /// A node whose lease must not be renewed (a failover away from it is
    /// in progress).
    pub fenced: Option<String>,
    /// The last LSN the recorded primary reported.
    pub last_primary_lsn: Option<u64>,
}

impl LeaseBook {
    /// Whether a renewal sent now is backed by a recent enough quorum.
    pub fn may_renew(&self, now: Instant, lease_ttl: Duration) -> bool {
        match self.confirmed_at {
            Some(at) => now.saturating_duration_since(at) < lease_ttl / 2,
            None => false,
        }
    }

    /// When `node`'s lease is certainly over (any renewal ever sent has
    /// expired), with `margin` for clock-rate differences.
    pub fn expiry(&self, node: &str, lease_ttl: Duration, margin: Duration) -> Option<Instant> {
        self.renewed.get(node).map(|t| *t + lease_ttl + margin)
    }
}

/// The deadline of one node poll.
pub fn poll_timeout(heartbeat_ms: u64, lease_ttl_ms: u64) -> Duration {
    let ms = (heartbeat_ms * 3).clamp(100, (lease_ttl_ms / 4).max(100));
    Duration::from_millis(ms)
}

/// Runs the loop until the service stops.
pub async fn run(service: Arc<Service>) {
    let mut stop = service.stop.subscribe();
    loop {
        let (_, state) = service.raft.state();
        let heartbeat = Duration::from_millis(state.config.heartbeat_ms.max(10));
        let next = Instant::now() + heartbeat;
        tick(&service, &state).await;
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

async fn tick(service: &Arc<Service>, state: &ClusterState) {
    let now = Instant::now();
    let lease_ttl = Duration::from_millis(state.config.lease_ttl_ms);
    let is_leader = service.raft.is_leader();
    if is_leader {
        let became = {
            let mut book = service.lease.lock();
            if book.leader_since.is_none() {
                book.leader_since = Some(now);
                book.confirmed_at = None;
                book.renewed.clear();
                book.fenced = None;
                // Our predecessor may have renewed up to lease_ttl/2 after
                // its last confirmation, which came before our election.
                for name in state.nodes.keys() {
                    book.renewed.insert(name.clone(), now + lease_ttl / 2);
                }
                true
            } else {
                false
            }
        };
        if became {
            tracing::info!(member = service.config.id, "became manager leader");
            let hb = Duration::from_millis(state.config.heartbeat_ms);
            service
                .health
                .lock()
                .reset(state.nodes.keys().cloned(), now, hb);
        }
        let confirm = tokio::time::timeout(lease_ttl / 2, service.raft.confirm_leadership());
        let confirmed = matches!(confirm.await, Ok(Ok(())));
        if confirmed {
            service.lease.lock().confirmed_at = Some(Instant::now());
        }
        tokio::join!(poll_all(service, state), renew_primary(service, state));
        // Act only on leadership confirmed by a quorum in this very tick: a
        // restarted member that briefly believes it leads must not re-point
        // nodes from a state that the real leader has already moved past.
        // (confirm_leadership returns once our state machine has applied
        // everything committed before the confirmation.)
        if confirmed {
            if let Ok(_guard) = service.op.try_lock() {
                let (_, fresh) = service.raft.state();
                super::reconcile::reconcile(service, &fresh).await;
            }
            let (_, fresh) = service.raft.state();
            super::schedule::run_due(service, &fresh).await;
        }
    } else {
        {
            let mut book = service.lease.lock();
            if book.leader_since.take().is_some() {
                tracing::info!(member = service.config.id, "no longer the manager leader");
            }
            book.confirmed_at = None;
        }
        poll_all(service, state).await;
    }
}

/// Polls every node once and feeds the detectors.
async fn poll_all(service: &Arc<Service>, state: &ClusterState) {
    let timeout = poll_timeout(state.config.heartbeat_ms, state.config.lease_ttl_ms);
    let hb = Duration::from_millis(state.config.heartbeat_ms);
    let polls = state.nodes.values().map(|node| {
        let service = Arc::clone(service);
        let is_primary = state.primary.as_deref() == Some(node.name.as_str());
        async move {
            let api = NodeApi {
                client: &service.client,
                admin: &node.admin_addr,
                timeout,
            };
            let status = api.status().await;
            let replication = match (&status, is_primary) {
                (Ok(s), true) if s.is_primary() => api.replication().await.ok(),
                _ => None,
            };
            (node.name.clone(), status, replication)
        }
    });
    let results = futures::future::join_all(polls).await;
    let now = Instant::now();
    let mut health = service.health.lock();
    for (name, status, replication) in results {
        let obs = health.entry(&name, now, hb);
        match status {
            Ok(s) => {
                obs.detector.heartbeat(now);
                obs.status = Some(s);
                obs.status_at = Some(now);
                obs.last_error = None;
                obs.replication = replication;
            }
            Err(e) => {
                obs.last_error = Some(e.to_string());
                obs.replication = None;
            }
        }
    }
    if let Some(primary) = &state.primary {
        if let Some(lsn) = health.lsn(primary) {
            service.lease.lock().last_primary_lsn = Some(lsn);
        }
    }
}

/// Renews the recorded primary's lease when leadership is fresh.
async fn renew_primary(service: &Arc<Service>, state: &ClusterState) {
    let Some(primary) = state.primary_node() else {
        return;
    };
    let lease_ttl = Duration::from_millis(state.config.lease_ttl_ms);
    {
        let book = service.lease.lock();
        if book.fenced.as_deref() == Some(primary.name.as_str())
            || !book.may_renew(Instant::now(), lease_ttl)
        {
            return;
        }
    }
    // Automatic DR failover: only while the primary-site lease outlives
    // the node lease (the site fence, `dr_auto.rs`).
    if !super::dr_auto::may_renew_node(service, state) {
        return;
    }
    let sent = Instant::now();
    // Record before sending: the node may receive it even if we time out.
    let previous = {
        let mut book = service.lease.lock();
        let previous = book.renewed.get(&primary.name).copied();
        let entry = book.renewed.entry(primary.name.clone()).or_insert(sent);
        if *entry < sent {
            *entry = sent;
        }
        previous
    };
    let api = NodeApi {
        client: &service.client,
        admin: &primary.admin_addr,
        timeout: poll_timeout(state.config.heartbeat_ms, state.config.lease_ttl_ms),
    };
    if let Err(e) = api.renew_lease(state.config.lease_ttl_ms).await {
        tracing::debug!(node = %primary.name, error = %e, "lease renewal failed");
        if matches!(e, super::client::ClientError::Refused(..)) {
            // Never sent (no connection): the node's lease did not move, so
            // neither does our record of it; a failover need not wait for it.
            let mut book = service.lease.lock();
            if book.renewed.get(&primary.name) == Some(&sent) {
                match previous {
                    Some(p) => book.renewed.insert(primary.name.clone(), p),
                    None => book.renewed.remove(&primary.name),
                };
            }
        }
    } else {
        service.metrics.lease_renewals.inc();
    }
}

/// Renews a node's lease right away (after a promotion), recording it.
pub async fn renew_now(service: &Service, name: &str, admin: &str, state: &ClusterState) -> bool {
    if !super::dr_auto::may_renew_node(service, state) {
        return false;
    }
    {
        let mut book = service.lease.lock();
        let now = Instant::now();
        let entry = book.renewed.entry(name.to_string()).or_insert(now);
        if *entry < now {
            *entry = now;
        }
    }
    let api = NodeApi {
        client: &service.client,
        admin,
        timeout: poll_timeout(state.config.heartbeat_ms, state.config.lease_ttl_ms),
    };
    api.renew_lease(state.config.lease_ttl_ms).await.is_ok()
}
