//! A running node: storage, SQL engine and pgwire server, started and
//! stopped as one unit.
//!
//! `Node::start` opens the storage in `data_dir`, builds the engine over it
//! (which creates the `postgres` database on first start) and binds the
//! server. `Node::shutdown` stops the server, waits for every connection to
//! close its session, then drops the engine and with it the last reference
//! to the storage, which flushes and closes RocksDB. Dropping a `Node`
//! without `shutdown` also stops the server, but does not wait.

use std::net::SocketAddr;
use std::sync::Arc;

use rustydb_sql::{Engine, Storage};
use tokio::task::JoinHandle;

use crate::config::NodeConfig;
use crate::server::{Server, ServerError, ShutdownHandle};

/// A started node.
pub struct Node {
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    engine: Option<Arc<Engine>>,
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
        let storage = open_storage(&config)?;
        let engine = {
            let storage = storage.clone();
            tokio::task::spawn_blocking(move || Engine::new(storage))
                .await
                .map_err(|e| ServerError::Storage(format!("engine start panicked: {e}")))??
        };
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
                let state = crate::admin::AdminState {
                    engine: engine.clone(),
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

    /// Stops serving, closes all sessions, then releases the storage.
    pub async fn shutdown(mut self) {
        self.stop.shutdown();
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
    }
}

/// Opens the node's storage.
fn open_storage(config: &NodeConfig) -> Result<Arc<dyn Storage>, ServerError> {
    let options = crate::storage::StorageOptions {
        sync: config.sync_commit,
        ..Default::default()
    };
    let storage = crate::storage::RocksStorage::open(&config.data_dir, options)
        .map_err(|e| ServerError::Storage(e.to_string()))?;
    Ok(storage)
}
