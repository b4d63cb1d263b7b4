//! The [`Topology`] handle: shared state, health-check tasks, bans and
//! snapshot publication.
//!
//! Everything mutable sits in one `Shared` behind a mutex: the members
//! (from the configuration or the manager), the latest probe of each
//! backend and the ban deadlines. Every change goes through
//! `Shared::publish`, which rebuilds the backends (`snapshot::build`),
//! compares them with the published ones and, only if they differ, sends a
//! snapshot with `version + 1` — under the same lock, so versions are
//! strictly increasing and never skip a change. A change of shape (who is
//! there, roles, health, bans — not a moving LSN) also counts in
//! `metrics.topology_changes`.
//!
//! Tasks: one checker per backend (`run_checker`), plus the manager
//! watcher in dynamic mode. They hold the `Shared`; the handles hold a
//! `Guard` too, and when the last handle is dropped the guard aborts every
//! task, so a dropped `Topology` leaves nothing running.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::health::Checker;
use super::manager_watch;
use super::snapshot::{self, Checked, Member};
use super::{BackendId, BackendInfo, Role, TopologySnapshot};
use crate::config::ProxyConfig;
use crate::error::{ProxyError, Result};
use crate::metrics::ProxyMetrics;

/// A cheap, cloneable handle on the proxy's view of its backends.
#[derive(Clone)]
pub struct Topology {
    shared: Arc<Shared>,
    _guard: Arc<Guard>,
}

pub(crate) struct Shared {
    config: Mutex<Arc<ProxyConfig>>,
    metrics: Arc<ProxyMetrics>,
    runtime: Handle,
    tx: watch::Sender<Arc<TopologySnapshot>>,
    state: Mutex<State>,
    tasks: Mutex<Tasks>,
}

#[derive(Default)]
struct State {
    members: Vec<Member>,
    probes: HashMap<BackendId, Checked>,
    bans: HashMap<BackendId, Instant>,
}

#[derive(Default)]
struct Tasks {
    watcher: Option<JoinHandle<()>>,
    checkers: HashMap<BackendId, CheckerTask>,
}

struct CheckerTask {
    addr: String,
    wake: Arc<Notify>,
    handle: JoinHandle<()>,
}

/// Aborts every task when the last handle goes.
struct Guard(Arc<Shared>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.stop_tasks();
    }
}

impl Topology {
    /// Starts the static detector or the manager watcher (per config) plus
    /// health checks. Must be called inside a tokio runtime.
    pub fn start(config: Arc<ProxyConfig>, metrics: Arc<ProxyMetrics>) -> Result<Topology> {
        let runtime = Handle::try_current()
            .map_err(|_| ProxyError::Config("the topology needs a tokio runtime".into()))?;
        if config.backends.is_empty() && config.manager.is_empty() {
            return Err(ProxyError::Config(
                "no backends: set `backends` (static mode) or `manager` (dynamic mode)".into(),
            ));
        }
        let (tx, _) = watch::channel(Arc::new(TopologySnapshot::default()));
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            metrics,
            runtime,
            tx,
            state: Mutex::new(State::default()),
            tasks: Mutex::new(Tasks::default()),
        });
        Shared::start_sources(&shared);
        Ok(Topology {
            _guard: Arc::new(Guard(shared.clone())),
            shared,
        })
    }

    /// The latest published snapshot.
    pub fn snapshot(&self) -> Arc<TopologySnapshot> {
        self.shared.tx.borrow().clone()
    }

    /// A receiver that wakes on every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<TopologySnapshot>> {
        self.shared.tx.subscribe()
    }

    /// The session/pool saw a connection failure: ban for health.ban_ms
    /// (and re-check soon).
    pub fn report_failure(&self, id: &str, reason: &str) {
        let known = self.shared.state.lock().members.iter().any(|m| m.id == id);
        if !known {
            tracing::debug!(backend = %id, reason, "failure reported for an unknown backend");
            return;
        }
        Shared::ban(&self.shared, id, reason);
        if let Some(task) = self.shared.tasks.lock().checkers.get(id) {
            task.wake.notify_one();
        }
        self.shared.publish();
    }

    /// For tests/admin: wait until a snapshot satisfies pred (bounded).
    pub async fn wait_for(
        &self,
        pred: impl Fn(&TopologySnapshot) -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.subscribe();
        loop {
            if pred(&rx.borrow_and_update()) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return pred(&rx.borrow()),
            }
        }
    }

    /// Applies a new configuration (SIGHUP). Backends, manager URLs or
    /// health settings that changed restart the watcher and the checkers;
    /// anything else is read by them at their next round.
    pub fn reload(&self, config: Arc<ProxyConfig>) {
        let old = std::mem::replace(&mut *self.shared.config.lock(), config.clone());
        if old.backends == config.backends
            && old.manager == config.manager
            && old.health == config.health
        {
            return;
        }
        tracing::info!("topology sources changed; restarting checks");
        self.shared.stop_tasks();
        // Probes stay: a restart must not blank the roles until the next
        // check. Departed or moved members lose theirs in set_members.
        Shared::start_sources(&self.shared);
    }
}

impl Shared {
    pub(crate) fn config(&self) -> Arc<ProxyConfig> {
        self.config.lock().clone()
    }

    fn start_sources(shared: &Arc<Shared>) {
        let config = shared.config();
        if config.manager.is_empty() {
            let members = config
                .backends
                .iter()
                .map(|a| Member::detected(a))
                .collect();
            Shared::set_members(shared, members);
        } else {
            // Members so far stay until the manager answers.
            let members = shared.state.lock().members.clone();
            Shared::set_members(shared, members);
            let task = shared.runtime.spawn(manager_watch::run(shared.clone()));
            shared.tasks.lock().watcher = Some(task);
        }
    }

    fn stop_tasks(&self) {
        let mut tasks = self.tasks.lock();
        if let Some(w) = tasks.watcher.take() {
            w.abort();
        }
        for (_, c) in tasks.checkers.drain() {
            c.handle.abort();
        }
    }

    /// Replaces the member list: one checker per member (re-spawned when
    /// its address changed), probes of departed members forgotten.
    pub(crate) fn set_members(shared: &Arc<Shared>, members: Vec<Member>) {
        {
            let mut state = shared.state.lock();
            let old: HashMap<BackendId, String> = state
                .members
                .iter()
                .map(|m| (m.id.clone(), m.addr.clone()))
                .collect();
            state.probes.retain(|id, _| {
                members
                    .iter()
                    .any(|m| &m.id == id && old.get(id) == Some(&m.addr))
            });
            state
                .bans
                .retain(|id, _| members.iter().any(|m| &m.id == id));
            state.members = members.clone();
        }
        {
            let mut tasks = shared.tasks.lock();
            tasks.checkers.retain(|id, task| {
                let keep = members.iter().any(|m| &m.id == id && m.addr == task.addr);
                if !keep {
                    task.handle.abort();
                }
                keep
            });
            for m in &members {
                if tasks.checkers.contains_key(&m.id) {
                    continue;
                }
                let wake = Arc::new(Notify::new());
                let handle = shared.runtime.spawn(run_checker(
                    shared.clone(),
                    m.id.clone(),
                    m.addr.clone(),
                    wake.clone(),
                ));
                tasks.checkers.insert(
                    m.id.clone(),
                    CheckerTask {
                        addr: m.addr.clone(),
                        wake,
                        handle,
                    },
                );
            }
        }
        shared.publish();
    }

    /// Bans `id` for `health.ban_ms`; a new ban (not an extension) counts
    /// in `metrics.bans`. A timer republishes when it expires.
    fn ban(shared: &Arc<Shared>, id: &str, reason: &str) {
        let ban = Duration::from_millis(shared.config().health.ban_ms);
        let now = Instant::now();
        let fresh = {
            let mut state = shared.state.lock();
            let fresh = state.bans.get(id).is_none_or(|until| *until <= now);
            state.bans.insert(id.to_string(), now + ban);
            fresh
        };
        if fresh {
            tracing::warn!(backend = %id, reason, ban_ms = ban.as_millis() as u64, "backend banned");
            shared.metrics.bans.with_label_values(&[id]).inc();
        }
        let weak = Arc::downgrade(shared);
        shared.runtime.spawn(async move {
            tokio::time::sleep(ban + Duration::from_millis(1)).await;
            if let Some(shared) = weak.upgrade() {
                shared.publish();
            }
        });
    }

    fn apply_probe(
        shared: &Arc<Shared>,
        id: &str,
        result: std::result::Result<super::health::Probe, String>,
    ) {
        let (checked, previous) = {
            let mut state = shared.state.lock();
            if !state.members.iter().any(|m| m.id == id) {
                return;
            }
            let previous = state.probes.get(id).cloned();
            let checked = match result {
                Ok(p) => Checked::Ok(p),
                // The role last seen survives a failed check (a blip must
                // not leave the cluster without a primary).
                Err(reason) => Checked::Failed {
                    reason,
                    last: previous.as_ref().and_then(Checked::last_ok),
                },
            };
            state.probes.insert(id.to_string(), checked.clone());
            (checked, previous)
        };
        let was_failing = matches!(previous, Some(Checked::Failed { .. }));
        if let Checked::Failed { reason, .. } = &checked {
            if !was_failing {
                tracing::warn!(backend = %id, error = %reason, "health check failed");
            }
            Shared::ban(shared, id, reason);
        } else if was_failing {
            tracing::info!(backend = %id, "health check passes again");
        }
        shared.publish();
    }

    /// Rebuilds the backends and publishes them if anything changed.
    pub(crate) fn publish(&self) {
        let state = self.state.lock();
        let current = self.tx.borrow().clone();
        let primary = current.primary().map(|p| p.id.clone());
        let backends = snapshot::build(
            &state.members,
            &state.probes,
            &state.bans,
            Instant::now(),
            primary.as_deref(),
        );
        if backends == current.backends {
            return;
        }
        if !same_shape(&backends, &current.backends) {
            self.metrics.topology_changes.inc();
            let primary = backends
                .iter()
                .find(|b| b.role == Role::Primary)
                .map(|b| b.id.as_str());
            tracing::info!(version = current.version + 1, primary = ?primary, "topology changed");
        }
        self.tx.send_replace(Arc::new(TopologySnapshot {
            version: current.version + 1,
            backends,
        }));
    }
}

/// Equal but for WAL positions and lag, which move all the time.
fn same_shape(a: &[BackendInfo], b: &[BackendInfo]) -> bool {
    let key = |x: &BackendInfo| {
        (
            x.id.clone(),
            x.addr.clone(),
            x.role,
            x.healthy,
            x.banned,
            x.noloadbalance,
            x.sync,
            x.datacenter.clone(),
            x.region.clone(),
            x.tags.clone(),
        )
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| key(x) == key(y))
}

/// Checks one backend every `health.interval_ms`, or at once when woken
/// (a reported failure).
async fn run_checker(shared: Arc<Shared>, id: BackendId, addr: String, wake: Arc<Notify>) {
    let mut checker = Checker::new(addr);
    loop {
        let health = shared.config().health.clone();
        let result = checker.check(&health).await;
        Shared::apply_probe(&shared, &id, result);
        let interval = Duration::from_millis(health.interval_ms.max(10));
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = wake.notified() => {}
        }
    }
}
