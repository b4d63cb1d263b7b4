//! openraft's `RaftStateMachine`: applying committed commands, snapshots.
//!
//! The applied state (`Applied`: last applied log id, last membership,
//! `ClusterState`) lives in memory behind [`Shared`], which `RaftMember`
//! reads for `state()` and `watch()`. Each `apply` batch works on a copy,
//! persists it (synced, `sm/state`), and only then publishes it and bumps
//! the watch channel. So what readers see is always on disk, and after a
//! restart the member resumes from exactly the last applied entry: openraft
//! then re-applies nothing twice and skips nothing.
//!
//! Snapshots are the `Applied` value as JSON. `build_snapshot` stores the
//! latest one under `sm/snapshot` (after which openraft may purge the log
//! up to it); `install_snapshot` replaces the state with a leader's
//! snapshot, stores it, and publishes it like an apply.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::command::CommandResult;
use super::state::{ClusterState, Epoch};
use super::store::{Op, Store, StoreError, CF_SM, KEY_SNAPSHOT, KEY_STATE};
use super::types::{
    storage_err, Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

/// Everything the state machine has applied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Applied {
    pub(crate) last_applied: Option<LogId>,
    pub(crate) membership: StoredMembership,
    pub(crate) state: ClusterState,
}

impl Applied {
    fn index(&self) -> u64 {
        self.last_applied.map(|l| l.index).unwrap_or(0)
    }
}

/// A snapshot as stored on disk: openraft's metadata plus the JSON data.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

/// The applied state shared between the state machine and `RaftMember`.
pub(crate) struct Shared {
    applied: RwLock<Arc<Applied>>,
    watch_tx: watch::Sender<u64>,
}

impl Shared {
    /// The applied index and a clone of the cluster state.
    pub(crate) fn state(&self) -> (u64, ClusterState) {
        let applied = Arc::clone(&self.applied.read());
        (applied.index(), applied.state.clone())
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.watch_tx.subscribe()
    }

    fn publish(&self, applied: Applied) {
        let index = applied.index();
        *self.applied.write() = Arc::new(applied);
        // send_replace: delivers even when nobody is subscribed right now.
        self.watch_tx.send_replace(index);
    }

    fn current(&self) -> Arc<Applied> {
        Arc::clone(&self.applied.read())
    }
}

pub(crate) struct StateMachine {
    store: Arc<Store>,
    shared: Arc<Shared>,
    /// Makes snapshot ids unique within this process run.
    snapshot_seq: Arc<AtomicU64>,
}

fn sm_err(verb: ErrorVerb) -> impl Fn(StoreError) -> StorageError {
    move |e| storage_err(ErrorSubject::StateMachine, verb, e)
}

impl StateMachine {
    /// Loads the persisted applied state (or starts empty).
    pub(crate) fn load(store: Arc<Store>) -> Result<StateMachine, StoreError> {
        let applied: Applied = store.get_json(CF_SM, KEY_STATE)?.unwrap_or_default();
        let (watch_tx, _) = watch::channel(applied.index());
        let shared = Arc::new(Shared {
            applied: RwLock::new(Arc::new(applied)),
            watch_tx,
        });
        Ok(StateMachine {
            store,
            shared,
            snapshot_seq: Arc::new(AtomicU64::new(0)),
        })
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    fn state_op(applied: &Applied) -> Result<Op, StoreError> {
        Op::put_json(CF_SM, KEY_STATE.to_vec(), "applied state", applied)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.shared.current();
        Ok((applied.last_applied, applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut next = (*self.shared.current()).clone();
        let mut results = Vec::new();
        for entry in entries {
            next.last_applied = Some(entry.log_id);
            let result = match entry.payload {
                EntryPayload::Blank => CommandResult::Internal,
                EntryPayload::Normal(command) => {
                    let epoch = Epoch {
                        term: entry.log_id.leader_id.term,
                        index: entry.log_id.index,
                    };
                    let result = next.state.apply(&command, epoch);
                    if let CommandResult::Rejected { reason } = &result {
                        tracing::info!(index = entry.log_id.index, %reason, "command rejected");
                    }
                    result
                }
                EntryPayload::Membership(membership) => {
                    next.membership = StoredMembership::new(Some(entry.log_id), membership);
                    CommandResult::Internal
                }
            };
            results.push(result);
        }
        if results.is_empty() {
            return Ok(results);
        }
        let op = Self::state_op(&next).map_err(sm_err(ErrorVerb::Write))?;
        self.store
            .write(vec![op])
            .await
            .map_err(sm_err(ErrorVerb::Write))?;
        self.shared.publish(next);
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            store: Arc::clone(&self.store),
            shared: Arc::clone(&self.shared),
            snapshot_seq: Arc::clone(&self.snapshot_seq),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let subject = ErrorSubject::Snapshot(Some(meta.signature()));
        // A snapshot from the network is untrusted input: decode, never panic.
        let mut applied: Applied = serde_json::from_slice(&data)
            .map_err(|e| storage_err(subject.clone(), ErrorVerb::Read, e))?;
        // openraft's metadata is authoritative for the log position.
        applied.last_applied = meta.last_log_id;
        applied.membership = meta.last_membership.clone();
        tracing::info!(snapshot = %meta.snapshot_id, index = applied.index(), "installing snapshot");

        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        let ops = Self::state_op(&applied)
            .and_then(|state| {
                let snap = Op::put_json(CF_SM, KEY_SNAPSHOT.to_vec(), "snapshot", &stored)?;
                Ok(vec![state, snap])
            })
            .map_err(|e| storage_err(subject.clone(), ErrorVerb::Write, e))?;
        self.store
            .write(ops)
            .await
            .map_err(|e| storage_err(subject, ErrorVerb::Write, e))?;
        self.shared.publish(applied);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let stored: Option<StoredSnapshot> = self
            .store
            .get_json(CF_SM, KEY_SNAPSHOT)
            .map_err(|e| storage_err(ErrorSubject::Snapshot(None), ErrorVerb::Read, e))?;
        Ok(stored.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

/// Builds a snapshot of the applied state at the moment it is called.
pub(crate) struct SnapshotBuilder {
    store: Arc<Store>,
    shared: Arc<Shared>,
    snapshot_seq: Arc<AtomicU64>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let applied = self.shared.current();
        let data = serde_json::to_vec(&*applied)
            .map_err(|e| storage_err(ErrorSubject::Snapshot(None), ErrorVerb::Write, e))?;
        let seq = self.snapshot_seq.fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match applied.last_applied {
            Some(l) => format!("{}-{}-{seq}", l.leader_id.term, l.index),
            None => format!("0-0-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id: applied.last_applied,
            last_membership: applied.membership.clone(),
            snapshot_id,
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        let subject = ErrorSubject::Snapshot(Some(meta.signature()));
        let op = Op::put_json(CF_SM, KEY_SNAPSHOT.to_vec(), "snapshot", &stored)
            .map_err(|e| storage_err(subject.clone(), ErrorVerb::Write, e))?;
        self.store
            .write(vec![op])
            .await
            .map_err(|e| storage_err(subject, ErrorVerb::Write, e))?;
        tracing::debug!(snapshot = %meta.snapshot_id, "built snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}
