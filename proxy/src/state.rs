//! What every session of one proxy process shares.
//!
//! [`Shared`] is created once by the server and handed (`Arc`) to each
//! session. The parts a SIGHUP reload replaces (configuration,
//! authenticator, router) sit behind `RwLock<Arc<_>>`: a session clones the
//! `Arc` it needs and never holds a lock across an await.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use crate::auth::Authenticator;
use crate::config::ProxyConfig;
use crate::metrics::ProxyMetrics;
use crate::pool::cancel::CancelRegistry;
use crate::pool::Pools;
use crate::routing::{ClassifyCache, Router};
use crate::topology::Topology;

/// One connected client, as the admin console lists it.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub user: String,
    pub database: String,
    pub service: String,
    pub addr: String,
    pub connected_at: SystemTime,
    /// The backend serving it right now, if any.
    pub backend: Option<String>,
}

/// Per-service counters for `SHOW STATS`.
#[derive(Debug, Default)]
pub struct ServiceStats {
    pub primary: AtomicU64,
    pub replica: AtomicU64,
    pub errors: AtomicU64,
    pub total_us: AtomicU64,
}

/// State shared by every session.
pub struct Shared {
    pub config: RwLock<Arc<ProxyConfig>>,
    pub auth: RwLock<Arc<Authenticator>>,
    pub router: RwLock<Arc<Router>>,
    pub topology: Topology,
    pub cache: ClassifyCache,
    pub pools: Arc<Pools>,
    pub metrics: Arc<ProxyMetrics>,
    pub cancels: Arc<CancelRegistry>,
    /// True while the admin console has paused new transactions.
    pub paused: watch::Sender<bool>,
    pub clients: Mutex<HashMap<u64, ClientInfo>>,
    pub client_count: AtomicUsize,
    pub stats: Mutex<HashMap<String, Arc<ServiceStats>>>,
    pub config_path: Option<std::path::PathBuf>,
    /// Fan-out caches: split points per table, backends without support.
    pub fanout: crate::fanout::FanoutCache,
    next_client: AtomicU64,
}

impl Shared {
    pub fn new(
        config: Arc<ProxyConfig>,
        auth: Authenticator,
        topology: Topology,
        metrics: Arc<ProxyMetrics>,
        config_path: Option<std::path::PathBuf>,
    ) -> Shared {
        Shared {
            router: RwLock::new(Arc::new(Router::new(config.clone()))),
            cache: ClassifyCache::new(config.routing.classify_cache_size),
            pools: Arc::new(Pools::new(config.pool.clone(), metrics.clone())),
            config: RwLock::new(config),
            auth: RwLock::new(Arc::new(auth)),
            topology,
            metrics,
            cancels: Arc::new(CancelRegistry::default()),
            paused: watch::channel(false).0,
            clients: Mutex::new(HashMap::new()),
            client_count: AtomicUsize::new(0),
            stats: Mutex::new(HashMap::new()),
            config_path,
            fanout: crate::fanout::FanoutCache::default(),
            next_client: AtomicU64::new(1),
        }
    }

    pub fn config(&self) -> Arc<ProxyConfig> {
        self.config.read().clone()
    }

    pub fn auth(&self) -> Arc<Authenticator> {
        self.auth.read().clone()
    }

    pub fn router(&self) -> Arc<Router> {
        self.router.read().clone()
    }

    pub fn service_stats(&self, service: &str) -> Arc<ServiceStats> {
        self.stats
            .lock()
            .entry(service.to_string())
            .or_default()
            .clone()
    }

    /// Registers a client for the admin console; returns its id.
    pub fn add_client(&self, info: ClientInfo) -> u64 {
        let id = self.next_client.fetch_add(1, Ordering::Relaxed);
        self.clients.lock().insert(id, info);
        id
    }

    pub fn remove_client(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn set_client_backend(&self, id: u64, backend: Option<&str>) {
        if let Some(c) = self.clients.lock().get_mut(&id) {
            c.backend = backend.map(str::to_string);
        }
    }

    /// Re-reads the configuration file (SIGHUP, `RELOAD`).
    pub fn reload(&self) -> crate::Result<()> {
        let Some(path) = &self.config_path else {
            return Err(crate::ProxyError::Config(
                "started without --config: nothing to reload".into(),
            ));
        };
        let config = Arc::new(ProxyConfig::load(path)?);
        let auth = Authenticator::new(&config)?;
        *self.auth.write() = Arc::new(auth);
        *self.router.write() = Arc::new(Router::new(config.clone()));
        self.pools.reload(config.pool.clone());
        self.topology.reload(config.clone());
        *self.config.write() = config;
        tracing::info!(path = %path.display(), "configuration reloaded");
        Ok(())
    }
}
