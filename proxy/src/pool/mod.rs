//! Backend connection pools, one per (user, database, backend).
//!
//! A session asks [`Pools::acquire`] for a connection to one backend and
//! gets a [`PooledConn`]: a guard that owns the [`ServerConn`] and a permit
//! of the pool's semaphore (`pool.max_size`). Dropping the guard puts the
//! connection back, or closes it when it is broken or left mid-transaction,
//! so no early return or error path can leak one. A client that finds the
//! pool at its maximum waits up to `pool.acquire_timeout_ms`, then gets
//! `53300`.
//!
//! Idle connections are checked without a round trip before reuse
//! ([`ServerConn::looks_alive`]: a killed backend's socket reads as closed),
//! closed after `idle_timeout_ms` above `min_size`, and dropped when the
//! topology says their backend is gone or unhealthy.

pub mod cancel;
pub mod mux;
pub mod server_conn;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus::IntGauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use server_conn::ServerConn;

use crate::config::PoolConfig;
use crate::error::{ProxyError, Result};
use crate::metrics::ProxyMetrics;
use crate::routing::BackendLoad;
use crate::topology::{BackendId, TopologySnapshot};

/// ParameterStatus values of a backend, in the order reported.
pub type ServerParams = Vec<(String, String)>;

/// Which pool a connection belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolKey {
    pub user: String,
    pub database: String,
    pub backend: BackendId,
}

/// One pool.
#[derive(Debug)]
pub struct Pool {
    pub key: PoolKey,
    idle: Mutex<VecDeque<ServerConn>>,
    permits: Arc<Semaphore>,
    max_size: usize,
    /// Clients waiting for a permit right now.
    pub waiting: AtomicUsize,
    /// Connections checked out right now.
    pub active: AtomicUsize,
    /// Connections open (idle + active).
    pub open: AtomicUsize,
    active_gauge: IntGauge,
    idle_gauge: IntGauge,
    /// Multiplexing lanes, started on first use (`pool::mux`).
    lanes: std::sync::OnceLock<Vec<mux::Lane>>,
}

impl Pool {
    fn new(key: PoolKey, max_size: usize, metrics: &ProxyMetrics) -> Self {
        let gauge = |state: &str| {
            metrics
                .server_connections
                .with_label_values(&[key.backend.as_str(), state])
        };
        Pool {
            active_gauge: gauge("active"),
            idle_gauge: gauge("idle"),
            key,
            idle: Mutex::new(VecDeque::new()),
            permits: Arc::new(Semaphore::new(max_size)),
            max_size,
            waiting: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            lanes: std::sync::OnceLock::new(),
        }
    }

    /// This pool's multiplexing lanes, started by the first caller.
    pub fn lanes(
        self: &Arc<Self>,
        count: usize,
        pools: &Arc<Pools>,
        addr: &str,
        password: Option<&str>,
    ) -> &[mux::Lane] {
        self.lanes.get_or_init(|| {
            (0..count)
                .map(|_| {
                    mux::Lane::spawn(
                        pools.clone(),
                        self.clone(),
                        addr.to_string(),
                        password.map(str::to_string),
                    )
                })
                .collect()
        })
    }

    /// Idle connections right now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().len()
    }

    pub fn max_size(&self) -> usize {
        self.max_size
    }
}

/// A checked-out connection; returns itself to its pool on drop.
#[derive(Debug)]
pub struct PooledConn {
    conn: Option<ServerConn>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl PooledConn {
    pub fn conn(&mut self) -> &mut ServerConn {
        match self.conn.as_mut() {
            Some(conn) => conn,
            // Only Drop takes the connection out.
            None => unreachable!("PooledConn used after drop"),
        }
    }

    pub fn get(&self) -> Option<&ServerConn> {
        self.conn.as_ref()
    }

    pub fn backend(&self) -> &BackendId {
        &self.pool.key.backend
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        self.pool.active.fetch_sub(1, Ordering::Relaxed);
        self.pool.active_gauge.dec();
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if conn.broken || conn.status != b'I' {
            // Mid-transaction or broken: never hand it to someone else.
            self.pool.open.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        conn.last_used = Instant::now();
        self.pool.idle_gauge.inc();
        self.pool.idle.lock().push_back(conn);
    }
}

/// Every pool of the proxy.
#[derive(Debug)]
pub struct Pools {
    pools: Mutex<HashMap<PoolKey, Arc<Pool>>>,
    config: Mutex<PoolConfig>,
    metrics: Arc<ProxyMetrics>,
    /// Server parameters learned from the first connection per (user, db).
    params: Mutex<HashMap<(String, String), ServerParams>>,
}

impl Pools {
    pub fn new(config: PoolConfig, metrics: Arc<ProxyMetrics>) -> Self {
        Pools {
            pools: Mutex::new(HashMap::new()),
            config: Mutex::new(config),
            metrics,
            params: Mutex::new(HashMap::new()),
        }
    }

    /// New settings apply to pools created from now on and to timeouts.
    pub fn reload(&self, config: PoolConfig) {
        *self.config.lock() = config;
    }

    /// The pool for `key` (created on first use). Sessions keep the
    /// `Arc` so later acquires skip the map.
    pub fn pool(&self, key: &PoolKey) -> Arc<Pool> {
        let max = self.config.lock().max_size;
        self.pools
            .lock()
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Pool::new(key.clone(), max, &self.metrics)))
            .clone()
    }

    /// A connection to `key.backend` at `addr` (see [`Pools::acquire_in`]).
    pub async fn acquire(
        &self,
        key: &PoolKey,
        addr: &str,
        password: Option<&str>,
    ) -> Result<PooledConn> {
        let pool = self.pool(key);
        self.acquire_in(&pool, addr, password).await
    }

    /// A connection from `pool`: an idle one that still looks alive, or a
    /// new one while under `max_size`, or the next freed one within the
    /// acquire timeout.
    pub async fn acquire_in(
        &self,
        pool: &Arc<Pool>,
        addr: &str,
        password: Option<&str>,
    ) -> Result<PooledConn> {
        let pool = pool.clone();
        let key = &pool.key;
        let (acquire_timeout, connect_timeout) = {
            let c = self.config.lock();
            (
                Duration::from_millis(c.acquire_timeout_ms),
                Duration::from_millis(c.connect_timeout_ms),
            )
        };
        let started = Instant::now();
        let permit = match pool.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                pool.waiting.fetch_add(1, Ordering::Relaxed);
                let waited =
                    tokio::time::timeout(acquire_timeout, pool.permits.clone().acquire_owned())
                        .await;
                pool.waiting.fetch_sub(1, Ordering::Relaxed);
                match waited {
                    Ok(Ok(p)) => p,
                    _ => {
                        return Err(ProxyError::client(
                            "53300",
                            format!(
                                "no free connection to {} within {} ms (pool max_size {})",
                                key.backend,
                                acquire_timeout.as_millis(),
                                pool.max_size
                            ),
                        ))
                    }
                }
            }
        };
        self.metrics
            .acquire_seconds
            .observe(started.elapsed().as_secs_f64());
        let conn = loop {
            let idle = pool.idle.lock().pop_back();
            match idle {
                Some(mut conn) => {
                    pool.idle_gauge.dec();
                    if conn.addr == addr && conn.looks_alive() {
                        break conn;
                    }
                    pool.open.fetch_sub(1, Ordering::Relaxed);
                }
                None => {
                    let conn = ServerConn::connect(
                        &key.backend,
                        addr,
                        &key.user,
                        &key.database,
                        password,
                        connect_timeout,
                    )
                    .await?;
                    pool.open.fetch_add(1, Ordering::Relaxed);
                    self.params
                        .lock()
                        .entry((key.user.clone(), key.database.clone()))
                        .or_insert_with(|| conn.params.clone());
                    break conn;
                }
            }
        };
        pool.active.fetch_add(1, Ordering::Relaxed);
        pool.active_gauge.inc();
        Ok(PooledConn {
            conn: Some(conn),
            pool,
            _permit: permit,
        })
    }

    /// Server parameters for (user, database), once a connection was made.
    pub fn server_params(&self, user: &str, database: &str) -> Option<Vec<(String, String)>> {
        self.params
            .lock()
            .get(&(user.to_string(), database.to_string()))
            .cloned()
    }

    /// Closes idle connections past the idle timeout (keeping `min_size`)
    /// and those of backends the topology no longer lists as healthy.
    pub fn reap(&self, topology: &TopologySnapshot) {
        let (idle_timeout, min_size) = {
            let c = self.config.lock();
            (Duration::from_millis(c.idle_timeout_ms), c.min_size)
        };
        let pools: Vec<Arc<Pool>> = self.pools.lock().values().cloned().collect();
        for pool in pools {
            let backend = pool.key.backend.as_str();
            let usable = topology
                .get(backend)
                .is_some_and(|b| b.healthy && !b.banned);
            let mut idle = pool.idle.lock();
            let before = idle.len();
            let mut kept = VecDeque::with_capacity(before);
            while let Some(conn) = idle.pop_front() {
                let open = pool.open.load(Ordering::Relaxed);
                let expired = conn.last_used.elapsed() > idle_timeout && open > min_size;
                if usable && !expired {
                    kept.push_back(conn);
                } else {
                    pool.open.fetch_sub(1, Ordering::Relaxed);
                }
            }
            let closed = before - kept.len();
            *idle = kept;
            pool.idle_gauge.sub(closed as i64);
        }
    }

    /// Every pool, for the admin console.
    pub fn snapshot(&self) -> Vec<Arc<Pool>> {
        let mut pools: Vec<Arc<Pool>> = self.pools.lock().values().cloned().collect();
        pools.sort_by(|a, b| a.key.cmp(&b.key));
        pools
    }
}

impl BackendLoad for Pools {
    fn active(&self, backend: &BackendId) -> usize {
        self.pools
            .lock()
            .values()
            .filter(|p| &p.key.backend == backend)
            .map(|p| p.active.load(Ordering::Relaxed))
            .sum()
    }
}
