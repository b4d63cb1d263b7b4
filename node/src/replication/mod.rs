//! Physical replication: WAL shipping, commit modes, promotion, follow.
//!
//! A node is a primary or a replica. Both run a WAL *sender* listener (so a
//! replica can feed further replicas: cascading); a replica also runs one
//! *receiver* that follows its upstream:
//!
//! ```text
//!   primary                                      replica
//!   commit ─► group committer ─► wal cf ──┐       receiver ──► storage.apply ─► wal cf + data
//!      │                                  ▼          ▲   │            (one fsynced batch)
//!      └─ ReplicaSet::wait ◄── acks ── sender ── records ─┘ └─ acks (flushed, applied)
//! ```
//!
//! - `config`: the `[replication]` settings and the live commit mode.
//! - `proto`: framed messages of the stream.
//! - `gate`: the replica set and the commit wait (async / sync / semi-sync).
//! - `sender`: the listener and one task per connected replica.
//! - `receiver`: the replica's follow loop (handshake, apply, rewind, clone).
//! - `clone`: streaming a RocksDB checkpoint to a replica that needs one.
//! - `retention`: trimming the WAL by size, age and replica positions.
//! - `live`: the swappable storage the SQL engine sees.
//! - `control`: promote, follow and status, used by the admin API.
//!
//! Safety rules kept here: a replica never writes except by applying
//! records in LSN order on the timeline its history names; a gap or a
//! mismatch stops the stream with an error. A node told to follow a new
//! primary is *fenced* (serves nothing) until it has compared timeline
//! histories with it and undone records past the fork point.

pub mod clone;
pub mod config;
pub mod control;
pub mod gate;
pub mod live;
pub mod metrics;
pub mod proto;
pub mod receiver;
pub mod retention;
pub mod sender;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rustydb_sql::Engine;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{CommitMode, CommitModeConfig, ReplicationConfig};
pub use gate::ReplicaSet;
pub use live::LiveStorage;
pub use metrics::Metrics;

use crate::storage::{RocksStorage, StorageOptions};

/// The running follow loop of a replica.
struct Follower {
    upstream: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Replication state of one node.
pub struct Replication {
    pub storage: Arc<LiveStorage>,
    pub replicas: Arc<ReplicaSet>,
    pub metrics: Metrics,
    pub config: ReplicationConfig,
    pub node_name: String,
    pub data_dir: PathBuf,
    /// How RocksDB is opened (again, for a re-clone).
    pub storage_options: StorageOptions,
    /// The bound WAL sender address.
    endpoint: OnceLock<SocketAddr>,
    engine: OnceLock<Arc<Engine>>,
    follower: Mutex<Option<Follower>>,
    /// Bumped on every role or log change that invalidates open streams;
    /// senders end their stream when it moves.
    pub(crate) epoch: watch::Sender<u64>,
    /// Set when the node shuts down.
    pub(crate) stop: watch::Sender<bool>,
    /// Databases replaced by a re-clone, removed once nothing uses them.
    retired: Mutex<Vec<Arc<RocksStorage>>>,
    tls: Option<tls::ReplicationTlsSetup>,
    /// Backup state: the WAL archive's hold on retention, archive status,
    /// a running backup's progress.
    pub backup: crate::backup::BackupHooks,
    /// Logical decoding state (slots' retention limit, metrics), set at start.
    pub logical: OnceLock<Arc<crate::logical::Logical>>,
}

impl Replication {
    /// Wraps opened storage. The role is set by `control::start_role`.
    pub fn new(
        storage: Arc<RocksStorage>,
        config: ReplicationConfig,
        node_name: String,
        data_dir: PathBuf,
        storage_options: StorageOptions,
    ) -> Result<Arc<Replication>, String> {
        let metrics = Metrics::new();
        let replicas = Arc::new(ReplicaSet::new(config.mode(), metrics.clone()));
        let tls = if config.tls.enabled() {
            Some(tls::ReplicationTlsSetup::load(&config.tls)?)
        } else {
            None
        };
        Ok(Arc::new(Replication {
            storage: Arc::new(LiveStorage::new(storage, replicas.clone())),
            replicas,
            metrics,
            config,
            node_name,
            data_dir,
            storage_options,
            endpoint: OnceLock::new(),
            engine: OnceLock::new(),
            follower: Mutex::new(None),
            epoch: watch::channel(0).0,
            stop: watch::channel(false).0,
            retired: Mutex::new(Vec::new()),
            tls,
            backup: Default::default(),
            logical: OnceLock::new(),
        }))
    }

    /// The engine, once attached (caches are reset through it).
    pub fn attach_engine(&self, engine: Arc<Engine>) {
        let _ = self.engine.set(engine);
    }

    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.get()
    }

    /// The RocksDB in use now.
    pub fn rocks(&self) -> Arc<RocksStorage> {
        self.storage.current()
    }

    /// The WAL sender's address, once bound.
    pub fn endpoint(&self) -> Option<SocketAddr> {
        self.endpoint.get().copied()
    }

    /// Ends every open WAL stream (their replicas reconnect and re-handshake).
    pub(crate) fn kick_senders(&self) {
        self.epoch.send_modify(|e| *e += 1);
    }

    /// Forgets engine caches that mirror storage (after the log changed
    /// under them: promotion, rewind, re-clone).
    pub(crate) fn reset_engine_caches(&self) {
        if let Some(engine) = self.engine.get() {
            engine.reset_volatile_state();
        }
    }

    /// Replaces the live RocksDB after a re-clone.
    pub(crate) fn install_storage(&self, storage: Arc<RocksStorage>) {
        let old = self.storage.swap(storage);
        self.retired.lock().push(old);
        self.reset_engine_caches();
        self.kick_senders();
    }

    /// Drops (and deletes) replaced databases nothing uses any more.
    pub(crate) fn collect_retired(&self) {
        let mut retired = self.retired.lock();
        let mut keep = Vec::new();
        for storage in retired.drain(..) {
            if storage.is_idle() && Arc::strong_count(&storage) == 1 {
                let dir = storage.dir().to_path_buf();
                drop(storage);
                crate::datadir::remove_db(&dir);
                tracing::info!(dir = %dir.display(), "removed the database replaced by a re-clone");
            } else {
                keep.push(storage);
            }
        }
        *retired = keep;
    }

    /// Stops the follower and every background task.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        self.stop_following().await;
        self.kick_senders();
    }
}
