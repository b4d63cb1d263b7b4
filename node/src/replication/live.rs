//! `LiveStorage`: the storage the SQL engine sees, which a re-clone can
//! replace underneath it.
//!
//! The engine holds one `Arc<dyn Storage>` for its whole life; a replica
//! that re-clones gets a whole new RocksDB. `LiveStorage` is the indirection:
//! each `begin` goes to the current `RocksStorage`, and `swap` installs a new
//! one. Transactions already open keep the old one alive (through their own
//! `Arc`) until they finish. It also answers the replication questions of
//! the storage seam (`in_recovery`, `replication_stats`, ...) from the
//! replica set and the receiver's status.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rustydb_sql::storage::{
    Lsn, RecoveryStatus, ReplicationStat, Storage, Transaction, TxnOptions,
};

use super::gate::ReplicaSet;
use crate::storage::RocksStorage;

/// What the replica's receiver reports about its stream.
#[derive(Debug, Clone, Default)]
pub struct ReceiverStatus {
    /// The upstream's pgwire address.
    pub upstream: Option<String>,
    /// `connecting`, `streaming`, `rewinding`, `cloning`, `error`, `stopped`.
    pub state: &'static str,
    pub last_error: Option<String>,
    /// The upstream's last LSN, from its keepalives and batches.
    pub upstream_lsn: u64,
    /// Commit time of the last applied record.
    pub last_replay_micros: Option<u64>,
}

/// The engine's storage: the current RocksDB, swappable.
pub struct LiveStorage {
    current: RwLock<Arc<RocksStorage>>,
    replicas: Arc<ReplicaSet>,
    pub(crate) receiver: Arc<Mutex<ReceiverStatus>>,
}

impl LiveStorage {
    pub fn new(storage: Arc<RocksStorage>, replicas: Arc<ReplicaSet>) -> LiveStorage {
        LiveStorage {
            current: RwLock::new(storage),
            replicas,
            receiver: Arc::new(Mutex::new(ReceiverStatus {
                state: "stopped",
                ..ReceiverStatus::default()
            })),
        }
    }

    /// The RocksDB in use now.
    pub fn current(&self) -> Arc<RocksStorage> {
        self.current.read().clone()
    }

    /// Installs a new RocksDB; returns the old one.
    pub fn swap(&self, storage: Arc<RocksStorage>) -> Arc<RocksStorage> {
        std::mem::replace(&mut *self.current.write(), storage)
    }

    pub fn receiver_status(&self) -> ReceiverStatus {
        self.receiver.lock().clone()
    }
}

fn micros_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Storage for LiveStorage {
    fn begin(&self, options: TxnOptions) -> rustydb_sql::Result<Box<dyn Transaction>> {
        self.current().begin(options)
    }

    fn begin_at(&self, lsn: Lsn, options: TxnOptions) -> rustydb_sql::Result<Box<dyn Transaction>> {
        self.current().begin_at(lsn, options)
    }

    fn current_lsn(&self) -> Lsn {
        self.current().last_lsn()
    }

    fn in_recovery(&self) -> bool {
        self.current().in_recovery()
    }

    fn recovery_status(&self) -> Option<RecoveryStatus> {
        let storage = self.current();
        if !storage.in_recovery() {
            return None;
        }
        let lsn = storage.last_lsn();
        let receiver = self.receiver.lock();
        Some(RecoveryStatus {
            receive_lsn: lsn,
            replay_lsn: lsn,
            last_replay_micros: receiver.last_replay_micros.map(micros_i64),
        })
    }

    fn replication_stats(&self) -> Vec<ReplicationStat> {
        let storage = self.current();
        let last = storage.last_lsn().0;
        self.replicas
            .replicas()
            .into_iter()
            .map(|r| {
                let (sync_priority, sync_state) = self.replicas.sync_role(&r.name);
                let lag_records = last.saturating_sub(r.applied);
                let lag = if lag_records == 0 {
                    None
                } else {
                    r.last_lag_ms
                };
                ReplicationStat {
                    name: r.name.clone(),
                    client_addr: r.client_addr.clone(),
                    backend_start_micros: micros_i64(r.started_micros),
                    state: r.state.to_string(),
                    sent_lsn: Lsn(r.sent),
                    write_lsn: Lsn(r.flushed),
                    flush_lsn: Lsn(r.flushed),
                    replay_lsn: Lsn(r.applied),
                    write_lag_ms: lag,
                    flush_lag_ms: lag,
                    replay_lag_ms: lag,
                    lag_records,
                    lag_bytes: storage.estimate_wal_bytes(lag_records),
                    sync_priority,
                    sync_state: sync_state.to_string(),
                    reply_time_micros: r.reply_micros.map(micros_i64),
                }
            })
            .collect()
    }

    fn timeline(&self) -> u64 {
        self.current().timeline()
    }
}
