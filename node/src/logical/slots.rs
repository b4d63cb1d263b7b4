//! Slot operations: create, list, drop, confirm, invalidate.
//!
//! Each is one short transaction on the node's own storage, with the slot
//! key locked, so concurrent confirms of one slot serialise and a slot is
//! never half-written. They run on blocking threads (commits wait for the
//! WAL fsync). Writing needs the primary: on a replica the transaction is
//! read-only and the write fails, which `SlotError::ReadOnly` reports (409).

use std::sync::Arc;

use rustydb_sql::publication::{self, slots as store, slots::SlotDef};
use rustydb_sql::storage::TxnOptions;
use rustydb_sql::Engine;

/// Why a slot operation failed (each maps to one HTTP status).
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("replication slot \"{0}\" already exists")]
    Exists(String),
    #[error("replication slot \"{0}\" does not exist")]
    Missing(String),
    #[error("publication \"{0}\" does not exist")]
    NoPublication(String),
    #[error("database \"{0}\" does not exist")]
    NoDatabase(String),
    #[error(
        "cannot change replication slots: this node is read-only (a replica); use the primary"
    )]
    ReadOnly,
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("{0}")]
    Storage(String),
}

impl From<rustydb_sql::Error> for SlotError {
    fn from(e: rustydb_sql::Error) -> Self {
        if e.state() == rustydb_sql::SqlState::READ_ONLY_SQL_TRANSACTION {
            SlotError::ReadOnly
        } else {
            SlotError::Storage(e.to_string())
        }
    }
}

/// A valid slot name: PostgreSQL's rule (lower-case letters, digits, `_`).
fn check_name(name: &str) -> Result<(), SlotError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(SlotError::Invalid(format!(
            "replication slot name \"{name}\" contains invalid characters or is too long \
             (use lower-case letters, digits and underscores, at most 63)"
        )))
    }
}

fn write_txn(engine: &Engine) -> Result<Box<dyn rustydb_sql::Transaction>, SlotError> {
    if engine.storage().in_recovery() {
        return Err(SlotError::ReadOnly);
    }
    Ok(engine.storage().begin(TxnOptions::default())?)
}

/// Creates a slot at the current LSN.
pub fn create(
    engine: &Arc<Engine>,
    name: &str,
    publication_name: &str,
    database: &str,
) -> Result<SlotDef, SlotError> {
    check_name(name)?;
    let mut txn = write_txn(engine)?;
    let db = rustydb_sql::catalog::database(&mut *txn, database)?
        .ok_or_else(|| SlotError::NoDatabase(database.to_string()))?;
    if publication::get(&mut *txn, db.id, publication_name)?.is_none() {
        return Err(SlotError::NoPublication(publication_name.to_string()));
    }
    if store::lock(&mut *txn, name)?.is_some() {
        return Err(SlotError::Exists(name.to_string()));
    }
    // Everything committed so far is "before" the slot: its consumer starts
    // with the initial copy or from here.
    let lsn = engine.storage().current_lsn().0;
    let slot = SlotDef {
        name: name.to_string(),
        publication: publication_name.to_string(),
        database: database.to_string(),
        confirmed_lsn: lsn,
        created_lsn: lsn,
        invalidated: None,
    };
    store::put(&mut *txn, &slot)?;
    txn.commit()?;
    tracing::info!(
        slot = name,
        publication = publication_name,
        lsn,
        "replication slot created"
    );
    Ok(slot)
}

/// Every slot.
pub fn list(engine: &Engine) -> Result<Vec<SlotDef>, SlotError> {
    let mut txn = engine.storage().begin(TxnOptions {
        read_only: true,
        ..Default::default()
    })?;
    let list = store::list(&mut *txn)?;
    txn.rollback();
    Ok(list)
}

/// One slot.
pub fn get(engine: &Engine, name: &str) -> Result<SlotDef, SlotError> {
    let mut txn = engine.storage().begin(TxnOptions {
        read_only: true,
        ..Default::default()
    })?;
    let slot = store::get(&mut *txn, name)?;
    txn.rollback();
    slot.ok_or_else(|| SlotError::Missing(name.to_string()))
}

/// Drops a slot.
pub fn drop_slot(engine: &Engine, name: &str) -> Result<(), SlotError> {
    let mut txn = write_txn(engine)?;
    if store::lock(&mut *txn, name)?.is_none() {
        return Err(SlotError::Missing(name.to_string()));
    }
    store::delete(&mut *txn, name)?;
    txn.commit()?;
    tracing::info!(slot = name, "replication slot dropped");
    Ok(())
}

/// Moves a slot's confirmed LSN forward to `lsn` (never back, never past
/// the last commit). Returns the slot as stored.
pub fn confirm(engine: &Engine, name: &str, lsn: u64) -> Result<SlotDef, SlotError> {
    let mut txn = write_txn(engine)?;
    let Some(mut slot) = store::lock(&mut *txn, name)? else {
        return Err(SlotError::Missing(name.to_string()));
    };
    let target = lsn.min(engine.storage().current_lsn().0);
    if target <= slot.confirmed_lsn {
        txn.rollback();
        return Ok(slot);
    }
    slot.confirmed_lsn = target;
    store::put(&mut *txn, &slot)?;
    txn.commit()?;
    Ok(slot)
}

/// Marks a slot invalidated with a reason (the retention task does this).
pub fn invalidate(engine: &Engine, name: &str, reason: &str) -> Result<(), SlotError> {
    let mut txn = write_txn(engine)?;
    let Some(mut slot) = store::lock(&mut *txn, name)? else {
        return Err(SlotError::Missing(name.to_string()));
    };
    slot.invalidated = Some(reason.to_string());
    store::put(&mut *txn, &slot)?;
    txn.commit()?;
    Ok(())
}
