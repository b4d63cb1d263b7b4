//! Subscriptions, node side: apply workers and the publisher connection.
//!
//! `Subscriptions::start` registers itself on the engine as the SQL
//! layer's `SubscriptionControl` and runs a reconcile loop:
//!
//! ```text
//!   catalog (subscription defs) ──► reconcile ──► one worker task per
//!   CREATE/ALTER/DROP ─changed()─►  (each second,   (enabled subscription,
//!   promotion / demotion            and on change)    publication)
//! ```
//!
//! Workers run only on a primary (a replica applies nothing: it receives
//! the applied rows through its own physical replication, and takes over
//! the workers when promoted, resuming from the replicated progress). A
//! worker is restarted when its subscription's definition changes (ALTER
//! ... CONNECTION, SKIP, SET PUBLICATION), stopped when it is disabled or
//! dropped. The live state of each subscription (status, positions, last
//! error, lag) lives in `Shared::stats` for the SQL views, the admin API
//! (`GET /subscriptions`) and Prometheus.
//!
//! - `stream`: decoding the change stream's lines and grouping them.
//! - `publisher`: finding the publisher's primary; slots; the HTTP stream.
//! - `worker`: the stream loop (connect, read, resume, confirm), one
//!   thread per worker (`Subscriptions::spawn_worker`).
//! - `apply`: units → local transactions (merging, SKIP, table sync).

mod apply;
pub mod publisher;
pub mod stream;
pub mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use rustydb_sql::subscription::{
    catalog, ConnInfo, SubscriptionControl, SubscriptionDef, SubscriptionStat,
};
use rustydb_sql::{Engine, Error, SqlState, TxnOptions};
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// How often the catalog is re-read (catches commits of ALTER in a block,
/// and promotion/demotion).
const RECONCILE_EVERY: Duration = Duration::from_secs(1);
/// Longest a SQL statement waits for the publisher (slot create/drop).
const PUBLISHER_WAIT: Duration = Duration::from_secs(60);

/// Prometheus metrics of the subscriptions.
#[derive(Clone)]
pub struct SubscriptionMetrics {
    pub rows: IntCounterVec,
    pub errors: IntCounterVec,
    pub lag_ms: IntGaugeVec,
    pub applied_lsn: IntGaugeVec,
    /// Seconds from a remote transaction's commit (publisher clock) to a
    /// stage on this node: `received` (its lines read off the stream) and
    /// `applied` (the local transaction holding it committed).
    pub delay: HistogramVec,
    /// Seconds one local apply transaction takes (begin to commit).
    pub apply_seconds: Histogram,
}

impl SubscriptionMetrics {
    fn new(registry: &Registry) -> SubscriptionMetrics {
        let counter = |name: &str, help: &str| {
            let c = IntCounterVec::new(Opts::new(name, help), &["subscription"])
                .expect("static metric name is valid");
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), &["subscription"])
                .expect("static metric name is valid");
            let _ = registry.register(Box::new(g.clone()));
            g
        };
        SubscriptionMetrics {
            rows: counter(
                "rustydb_subscription_rows_applied_total",
                "Rows applied (and copied) by a subscription",
            ),
            errors: counter(
                "rustydb_subscription_apply_errors_total",
                "Apply errors of a subscription (conflicts included)",
            ),
            lag_ms: gauge(
                "rustydb_subscription_apply_lag_ms",
                "Local commit time minus publisher commit time of the last applied transaction",
            ),
            applied_lsn: gauge(
                "rustydb_subscription_applied_lsn",
                "Last publisher LSN applied by a subscription",
            ),
            delay: {
                let h = HistogramVec::new(
                    HistogramOpts::new(
                        "rustydb_subscription_delay_seconds",
                        "Time from a remote transaction's commit until this node received \
                         (stage=received) and applied (stage=applied) it",
                    )
                    .buckets(crate::logical::DELAY_BUCKETS.to_vec()),
                    &["stage"],
                )
                .expect("static metric name is valid");
                let _ = registry.register(Box::new(h.clone()));
                h
            },
            apply_seconds: {
                let h = Histogram::with_opts(
                    HistogramOpts::new(
                        "rustydb_subscription_apply_seconds",
                        "Duration of one local apply transaction (one or more remote ones)",
                    )
                    .buckets(crate::logical::DELAY_BUCKETS.to_vec()),
                )
                .expect("static metric name is valid");
                let _ = registry.register(Box::new(h.clone()));
                h
            },
        }
    }
}

/// What workers share with the manager.
pub struct Shared {
    pub engine: Arc<Engine>,
    pub metrics: SubscriptionMetrics,
    stats: Mutex<HashMap<String, SubscriptionStat>>,
}

impl Shared {
    /// Changes one subscription's live state.
    pub fn update(&self, name: &str, f: impl FnOnce(&mut SubscriptionStat)) {
        let mut stats = self.stats.lock();
        let s = stats
            .entry(name.to_string())
            .or_insert_with(|| SubscriptionStat {
                name: name.to_string(),
                status: "connecting".into(),
                ..Default::default()
            });
        f(s);
    }
}

struct Running {
    def: SubscriptionDef,
    task: AbortHandle,
}

/// The node's subscription manager.
pub struct Subscriptions {
    shared: Arc<Shared>,
    handle: tokio::runtime::Handle,
    workers: Mutex<HashMap<(String, String), Running>>,
}

impl Subscriptions {
    /// Registers on `engine` and starts the reconcile loop (until `stop`).
    /// Must be called inside the node's runtime.
    pub fn start(
        engine: Arc<Engine>,
        registry: &Registry,
        mut stop: watch::Receiver<bool>,
    ) -> Arc<Subscriptions> {
        let subs = Arc::new(Subscriptions {
            shared: Arc::new(Shared {
                engine: engine.clone(),
                metrics: SubscriptionMetrics::new(registry),
                stats: Mutex::new(HashMap::new()),
            }),
            handle: tokio::runtime::Handle::current(),
            workers: Mutex::new(HashMap::new()),
        });
        engine.set_subscription_control(subs.clone());
        let me = subs.clone();
        tokio::spawn(async move {
            loop {
                let m = me.clone();
                let _ = tokio::task::spawn_blocking(move || m.reconcile()).await;
                tokio::select! {
                    _ = tokio::time::sleep(RECONCILE_EVERY) => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    break;
                }
            }
            me.stop_all();
        });
        subs
    }

    fn stop_all(&self) {
        for (_, r) in self.workers.lock().drain() {
            r.task.abort();
        }
    }

    /// Makes the running workers match the catalog (blocking: reads storage).
    fn reconcile(&self) {
        let engine = &self.shared.engine;
        let storage = engine.storage();
        if storage.in_recovery() {
            self.stop_all();
            return;
        }
        let defs = match storage
            .begin(TxnOptions {
                read_only: true,
                ..Default::default()
            })
            .and_then(|mut txn| {
                let l = catalog::list(&mut *txn);
                txn.rollback();
                l
            }) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e.message(), "cannot read subscriptions");
                return;
            }
        };
        let mut want: HashMap<(String, String), SubscriptionDef> = HashMap::new();
        for d in &defs {
            if !d.enabled || d.slot_name.is_none() {
                continue;
            }
            for p in &d.publications {
                want.insert((d.name.clone(), p.clone()), d.clone());
            }
        }
        let mut workers = self.workers.lock();
        workers.retain(|key, r| {
            let keep = want.get(key).is_some_and(|d| *d == r.def) && !r.task.is_finished();
            if !keep {
                r.task.abort();
            }
            keep
        });
        for (key, def) in want {
            if workers.contains_key(&key) {
                continue;
            }
            let task = self.spawn_worker(def.clone(), key.1.clone());
            workers.insert(key, Running { def, task });
        }
        // Forget live state of dropped subscriptions; mark disabled ones.
        let mut stats = self.shared.stats.lock();
        stats.retain(|name, _| defs.iter().any(|d| d.name == *name));
        for d in defs.iter().filter(|d| !d.enabled) {
            if let Some(s) = stats.get_mut(&d.name) {
                s.status = "disabled".into();
            }
        }
    }

    /// Starts the worker of (`def`, `publication`) on a thread of its own
    /// (see `worker::dedicated`): the stream's socket, the stream loop and
    /// the apply calls all run there, so a change goes from the socket to
    /// its local commit without waking another thread of this node on the
    /// way. Falls back to a task on the node's runtime (apply calls then
    /// run on blocking threads) when the thread cannot be started.
    fn spawn_worker(&self, def: SubscriptionDef, publication: String) -> AbortHandle {
        let (tx, rx) = std::sync::mpsc::sync_channel::<AbortHandle>(1);
        let (shared, d, p) = (self.shared.clone(), def.clone(), publication.clone());
        let spawned = std::thread::Builder::new()
            .name("rustydb-apply".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start an apply runtime");
                        return;
                    }
                };
                // This thread only ever runs the worker: boosted for life.
                let _boost = crate::logical::priority::Boost::current_thread();
                let task = runtime.spawn(worker::dedicated(shared, d, p));
                if tx.send(task.abort_handle()).is_err() {
                    return;
                }
                // Ends when the worker returns or is aborted; the runtime
                // (and the tasks the worker started on it) go with it.
                let _ = runtime.block_on(task);
            });
        if let Err(e) = &spawned {
            tracing::warn!(subscription = %def.name, error = %e, "cannot start an apply thread");
        }
        match spawned.ok().and_then(|_| rx.recv().ok()) {
            Some(abort) => abort,
            None => self
                .handle
                .spawn(worker::run(self.shared.clone(), def, publication))
                .abort_handle(),
        }
    }

    /// Runs `fut` on the node's runtime and waits for it (from a blocking thread).
    fn wait<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv_timeout(PUBLISHER_WAIT).ok()
    }

    /// The JSON of `GET /subscriptions` on the admin API.
    pub fn json(&self) -> serde_json::Value {
        admin_json(&self.shared.engine)
    }
}

fn connection_failure(message: String) -> Error {
    Error::new(SqlState("08006"), message)
}

impl SubscriptionControl for Subscriptions {
    fn create_slot(
        &self,
        info: &ConnInfo,
        slot: &str,
        publication: &str,
    ) -> rustydb_sql::Result<()> {
        let (info, slot, publication) = (info.clone(), slot.to_string(), publication.to_string());
        match self.wait(async move { publisher::create_slot(&info, &slot, &publication).await }) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) if e.0.starts_with("no primary") => Err(connection_failure(format!(
                "could not connect to the publisher: {}",
                e.0
            ))),
            Some(Err(e)) => Err(connection_failure(e.0)),
            None => Err(connection_failure(
                "could not connect to the publisher: timeout".into(),
            )),
        }
    }

    fn drop_slot(&self, info: &ConnInfo, slot: &str) -> rustydb_sql::Result<bool> {
        let (info, slot) = (info.clone(), slot.to_string());
        match self.wait(async move { publisher::drop_slot(&info, &slot).await }) {
            Some(Ok(b)) => Ok(b),
            Some(Err(e)) => Err(connection_failure(e.0)),
            None => Ok(false),
        }
    }

    fn changed(&self) {
        self.reconcile();
    }

    fn restart(&self, name: &str) {
        {
            let mut workers = self.workers.lock();
            workers.retain(|(sub, _), r| {
                if sub == name {
                    r.task.abort();
                }
                sub != name
            });
        }
        self.reconcile();
    }

    fn stats(&self) -> Vec<SubscriptionStat> {
        self.shared.stats.lock().values().cloned().collect()
    }
}

/// Every subscription with its definition and live state, as the admin
/// API's `GET /subscriptions` answers.
pub fn admin_json(engine: &Arc<Engine>) -> serde_json::Value {
    let defs = engine
        .storage()
        .begin(TxnOptions {
            read_only: true,
            ..Default::default()
        })
        .and_then(|mut txn| {
            let l = catalog::list(&mut *txn);
            txn.rollback();
            l
        })
        .unwrap_or_default();
    let stats = engine
        .subscription_control()
        .map(|c| c.stats())
        .unwrap_or_default();
    let list: Vec<serde_json::Value> = defs
        .iter()
        .map(|d| {
            let s = stats.iter().find(|s| s.name == d.name);
            let status = if !d.enabled {
                "disabled".to_string()
            } else {
                s.map(|s| s.status.clone())
                    .unwrap_or_else(|| "starting".into())
            };
            serde_json::json!({
                "name": d.name,
                "enabled": d.enabled,
                "publications": d.publications,
                "slot_name": d.slot_name,
                "status": status,
                "last_error": s.and_then(|s| s.last_error.clone()),
                "last_error_lsn": s.and_then(|s| s.last_error_lsn),
                "received_lsn": s.map(|s| s.received_lsn).unwrap_or(0),
                "applied_lsn": s.map(|s| s.applied_lsn).unwrap_or(0),
                "apply_lag_ms": s.and_then(|s| s.apply_lag_ms),
                "rows_applied": s.map(|s| s.rows_applied).unwrap_or(0),
            })
        })
        .collect();
    serde_json::Value::Array(list)
}
