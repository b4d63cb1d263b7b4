//! The node side of parallel fan-out: reads at a fixed LSN, split points.
//!
//! The proxy splits one query into fragments that run on several nodes and
//! must all read the same state. It picks an LSN every chosen node holds
//! (`SELECT * FROM rustydb_snapshot_range()` on each), sends
//! `SET rustydb.read_lsn = N` on each fragment's session, and cuts the
//! driving table's primary key into ranges with
//! `SELECT * FROM rustydb_split_points('t', n)`.
//!
//! How `rustydb.read_lsn` flows:
//! - `SET` (see `settings.rs`) calls [`check_read_lsn`]: the storage must be
//!   able to read at `N` now (`Storage::begin_at` waits up to 5 s for an LSN
//!   not applied yet, then `55000`; older than retained is `72000`). `0`
//!   means normal reads; `RESET` removes the setting.
//! - Every transaction the session starts (implicit per statement, or a
//!   `BEGIN` block) goes through `Session::begin_storage_txn`, which begins
//!   at `N` while the setting is on, so the check is repeated per statement
//!   (a snapshot may have expired meanwhile: `72000`). A block keeps the
//!   snapshot it began with for all its statements.
//! - While the setting is on the session is read-only (`Session::access`),
//!   so writes fail with `25006` before they run.
//!
//! `split` computes split points; `crate::plan::fanout_fns` binds the two
//! table functions.

pub mod split;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::session::Session;
use crate::storage::{Lsn, Transaction, TxnOptions};
use crate::SqlState;

/// The setting's name.
pub const READ_LSN: &str = "rustydb.read_lsn";

/// The LSN the session reads at, if `rustydb.read_lsn` is set and not 0.
pub(crate) fn read_lsn(settings: &HashMap<String, String>) -> Option<Lsn> {
    settings
        .get(READ_LSN)
        .and_then(|v| parse_lsn(v).ok())
        .filter(|n| *n != 0)
        .map(Lsn)
}

/// An LSN as a number (`12345`) or in `pg_lsn` form (`0/3039`).
pub(crate) fn parse_lsn(text: &str) -> Result<u64> {
    let t = text.trim();
    if t.contains('/') {
        return crate::types::text::parse_pg_lsn(t);
    }
    t.parse::<u64>().map_err(|_| {
        Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"{READ_LSN}\": \"{text}\""),
        )
        .with_hint("An LSN is a non-negative integer (rustydb_current_lsn() as a number) or X/Y.")
    })
}

impl Session {
    /// Begins the storage transaction for a statement or block: at the
    /// session's `rustydb.read_lsn` when set, else a normal one.
    pub(crate) fn begin_storage_txn(&self, options: TxnOptions) -> Result<Box<dyn Transaction>> {
        match read_lsn(&self.settings) {
            Some(lsn) => self.engine.storage.begin_at(lsn, options),
            None => self.engine.storage.begin(options),
        }
    }

    /// Validates a new `rustydb.read_lsn` value and returns it normalised
    /// (decimal). A block that has not run a statement yet restarts at the
    /// new LSN, like `SET TRANSACTION SNAPSHOT`; a used one refuses.
    pub(crate) fn check_read_lsn(&mut self, value: &str) -> Result<String> {
        let lsn = parse_lsn(value)?;
        if let Some(b) = &self.block {
            if b.used {
                return Err(Error::new(
                    SqlState::ACTIVE_SQL_TRANSACTION,
                    format!("{READ_LSN} must be set before any query of a transaction"),
                ));
            }
        }
        if lsn != 0 {
            let txn = self.engine.storage.begin_at(
                Lsn(lsn),
                TxnOptions {
                    read_only: true,
                    cancel: Some(self.cancel.clone()),
                    ..TxnOptions::default()
                },
            )?;
            txn.rollback();
        }
        Ok(lsn.to_string())
    }

    /// After `rustydb.read_lsn` changed inside an unused block: the block's
    /// transaction starts again at the new LSN (or normally).
    pub(crate) fn restart_block_at_read_lsn(&mut self) -> Result<()> {
        let read_only = self.block.as_ref().is_some_and(|b| b.read_only)
            || self.engine.storage.in_recovery()
            || read_lsn(&self.settings).is_some();
        let isolation = match self.block.as_ref().map(|b| b.isolation_name.as_str()) {
            Some("repeatable read" | "serializable" | "snapshot") => {
                crate::storage::Isolation::RepeatableRead
            }
            _ => crate::storage::Isolation::ReadCommitted,
        };
        if self.block.as_ref().is_none_or(|b| b.txn.is_none()) {
            return Ok(());
        }
        let fresh = self.begin_storage_txn(TxnOptions {
            isolation,
            read_only,
            cancel: Some(self.cancel.clone()),
        })?;
        if let Some(b) = &mut self.block {
            if let Some(old) = b.txn.replace(Arc::new(Mutex::new(fresh))) {
                if let Ok(m) = Arc::try_unwrap(old) {
                    m.into_inner().rollback();
                }
            }
        }
        Ok(())
    }
}
