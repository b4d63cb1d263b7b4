//! A running node: storage, SQL engine and pgwire server, started and
//! stopped as one unit.
//!
//! `Node::start` opens the storage in `data_dir` (the live database named
//! by `datadir`), sets up replication and the node's role (primary, or
//! replica of `replication.follow`), builds the engine over it (which
//! creates the `postgres` database on a primary's first start), binds the
//! WAL sender and the server. `Node::shutdown` stops the server, waits for every connection to
//! close its session, then drops the engine and with it the last reference
//! to the storage, which flushes and closes RocksDB. Dropping a `Node`
//! without `shutdown` also stops the server, but does not wait.

use std::net::SocketAddr;
use std::sync::Arc;

use rustydb_sql::{Engine, Storage};
use tokio::task::JoinHandle;

use crate::config::NodeConfig;
use crate::replication::Replication;
use crate::server::{Server, ServerError, ShutdownHandle};

/// A started node.
pub struct Node {
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    engine: Option<Arc<Engine>>,
    replication: Arc<Replication>,
    stop: ShutdownHandle,
    server: Option<JoinHandle<()>>,
}

impl Node {
    /// Opens storage and engine and starts serving on `config.listen`.
    pub async fn start(config: NodeConfig) -> Result<Node, ServerError> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            ServerError::Storage(format!("cannot create {}: {e}", config.data_dir.display()))
        })?;
        let replication = open_replication(&config).await?;
        let _ = replication.logical.set(crate::logical::Logical::new(
            config.logical.clone(),
            &replication.metrics.registry,
        ));
        let engine = {
            let storage: Arc<dyn Storage> = replication.storage.clone();
            tokio::task::spawn_blocking(move || Engine::new(storage))
                .await
                .map_err(|e| ServerError::Storage(format!("engine start panicked: {e}")))??
        };
        replication.attach_engine(engine.clone());
        crate::subscription::Subscriptions::start(
            engine.clone(),
            &replication.metrics.registry,
            replication.stop.subscribe(),
        );
        let repl_addr = config.replication_listen();
        let listener = crate::replication::sender::bind(&replication, repl_addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: repl_addr,
                source,
            })?;
        if let Some(endpoint) = replication.endpoint() {
            engine.set_server_setting("rustydb.replication_endpoint", &endpoint.to_string());
        }
        engine.set_server_setting("rustydb.node_name", &replication.node_name);
        engine.set_server_setting(
            "rustydb.datacenter",
            config.datacenter.as_deref().unwrap_or(""),
        );
        engine.set_server_setting("rustydb.region", config.region.as_deref().unwrap_or(""));
        tokio::spawn(crate::replication::sender::serve(
            replication.clone(),
            listener,
        ));
        tokio::spawn(crate::replication::retention::run(replication.clone()));
        tokio::spawn(crate::backup::archive::run(
            replication.clone(),
            config.backup.clone(),
        ));
        replication.start_role().map_err(ServerError::Storage)?;
        let server = Server::bind(&config, engine.clone()).await?;
        let addr = server.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let stop = server.shutdown_handle();
        let admin = match config.admin_listen {
            Some(admin_addr) => {
                let listener =
                    crate::admin::bind(admin_addr)
                        .await
                        .map_err(|source| ServerError::Bind {
                            addr: admin_addr,
                            source,
                        })?;
                let bound = listener.local_addr().ok();
                if let Some(addr) = bound {
                    // Subscribers read it over pgwire, then use HTTP.
                    engine.set_server_setting("rustydb.admin_endpoint", &addr.to_string());
                }
                let state = crate::admin::AdminState {
                    engine: engine.clone(),
                    replication: replication.clone(),
                    stats: server.stats(),
                    started: std::time::Instant::now(),
                };
                tokio::spawn(crate::admin::serve(listener, state, server.stop_signal()));
                bound
            }
            None => None,
        };
        let server = tokio::spawn(server.serve());
        tracing::info!(%addr, data_dir = %config.data_dir.display(), "node started");
        Ok(Node {
            addr,
            admin,
            engine: Some(engine),
            replication,
            stop,
            server: Some(server),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the admin HTTP API, when enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// The SQL engine (for in-process callers such as an admin API).
    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.as_ref()
    }

    /// The node's replication state (role, replicas, promote/follow).
    pub fn replication(&self) -> &Arc<Replication> {
        &self.replication
    }

    /// Stops serving, closes all sessions, then releases the storage.
    pub async fn shutdown(mut self) {
        self.stop.shutdown();
        self.replication.shutdown().await;
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let engine = self.engine.take();
        // Dropping the last engine reference closes the storage; do it off
        // the runtime since a RocksDB close flushes and may block.
        let _ = tokio::task::spawn_blocking(move || drop(engine)).await;
        tracing::info!("node stopped");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.shutdown();
        self.replication.stop.send_replace(true);
    }
}

/// Opens the node's storage and wraps it for replication.
async fn open_replication(config: &NodeConfig) -> Result<Arc<Replication>, ServerError> {
    let options = crate::storage::StorageOptions {
        sync: config.sync_commit,
        snapshot_retention_ms: config.fanout.snapshot_retention_ms,
        ..Default::default()
    };
    let data_dir = config.data_dir.clone();
    let opened = {
        let options = options.clone();
        let data_dir = data_dir.clone();
        tokio::task::spawn_blocking(move || -> Result<_, String> {
            let db_dir = crate::datadir::live_db_dir(&data_dir)
                .map_err(|e| format!("data directory {}: {e}", data_dir.display()))?;
            crate::storage::RocksStorage::open(&db_dir, options).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| ServerError::Storage(format!("storage open panicked: {e}")))?
    };
    let storage = opened.map_err(ServerError::Storage)?;
    if config.replication.follow.is_some() {
        // Read-only before anything (the engine's bootstrap included) runs.
        storage.set_access(crate::storage::Access::ReadOnly);
    }
    Replication::new(
        storage,
        config.replication.clone(),
        config.name(),
        data_dir,
        options,
    )
    .map_err(ServerError::Storage)
}
