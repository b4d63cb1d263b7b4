//! Applying one remote transaction as one local transaction.
//!
//! The node's apply worker decodes a `begin .. commit` group of the change
//! stream into a `RemoteTxn` and calls `Session::apply_remote`, which runs
//!
//! ```text
//!  BEGIN
//!    INSERT / UPDATE / DELETE / TRUNCATE per change   (ordinary SQL, so
//!    [DDL text, when the publication replicates DDL]   constraints, indexes,
//!    progress(subscription, publication) := lsn        WAL and replicas all
//!  COMMIT                                              behave as for a client)
//! ```
//!
//! The invariant: the rows of remote transaction N and "applied up to N"
//! commit together or not at all, so a crash at any point neither loses nor
//! duplicates (the stream resumes past the stored LSN). The initial copy
//! uses the same call with the snapshot's rows as inserts and the snapshot
//! LSN as progress.
//!
//! Values arrive as PostgreSQL text-format strings and are written as
//! quoted literals, which the binder coerces to each column's type exactly
//! as it would a client's `'...'` literal. Consecutive inserts into the same
//! table with the same columns become one multi-row INSERT (`plan.rs` turns
//! changes into statements; this file runs them and checks the outcome).
//!
//! Conflicts stop the transaction: an insert of an existing key fails with
//! the unique violation (`23505`); an update or delete that finds no row
//! fails with `55000` (PostgreSQL 15 skips those silently; we stop, so
//! the two sides never diverge unnoticed). Errors name the remote relation
//! and the transaction's LSN, which is what `ALTER SUBSCRIPTION ... SKIP`
//! takes.

mod plan;

use super::catalog::{self, Progress, SyncState};
use crate::error::{Error, Result};
use crate::session::{QueryResult, Session};
use crate::SqlState;
pub use plan::{local_table, quote_ident};
use plan::{plan, Planned, Run};

/// A row as column name → text value (`None` is NULL), in stream order.
pub type TextRow = Vec<(String, Option<String>)>;

/// The kind of a row change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteOp {
    Insert,
    Update,
    Delete,
    Truncate,
}

impl RemoteOp {
    fn verb(self) -> &'static str {
        match self {
            RemoteOp::Insert => "INSERT",
            RemoteOp::Update => "UPDATE",
            RemoteOp::Delete => "DELETE",
            RemoteOp::Truncate => "TRUNCATE",
        }
    }
}

/// One change of a remote transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteChange {
    /// A row change on `table` (schema-qualified as the publisher names it).
    Row {
        table: String,
        op: RemoteOp,
        /// Replica identity (for update/delete).
        key: TextRow,
        /// The new row (insert/update).
        new: Option<TextRow>,
    },
    /// DDL text to run as is (publications that replicate DDL).
    Ddl(String),
}

/// A remote transaction: its commit LSN and changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemoteTxn {
    pub lsn: u64,
    /// Remote commit time, µs since the epoch (for lag).
    pub commit_micros: Option<i64>,
    pub changes: Vec<RemoteChange>,
}

/// The count in a command tag (`UPDATE 3` → 3).
fn tag_count(r: &QueryResult) -> Option<u64> {
    match r {
        QueryResult::Command { tag } | QueryResult::Rows { tag, .. } => {
            tag.rsplit(' ').next().and_then(|n| n.parse().ok())
        }
        _ => None,
    }
}

/// An apply error in PostgreSQL's words for the relation involved.
fn in_context(e: Error, p: &Planned, lsn: u64) -> Error {
    let table = &p.table;
    let message = match e.state() {
        SqlState::UNDEFINED_TABLE => {
            format!("logical replication target relation \"{table}\" does not exist")
        }
        SqlState::UNDEFINED_COLUMN => format!(
            "logical replication target relation \"{table}\" is missing replicated columns: {}",
            e.message()
        ),
        _ => e.message(),
    };
    let verb = if table.is_empty() { "DDL" } else { p.op.verb() };
    let mut out = Error::new(
        e.state(),
        format!(
            "{message} (while applying {verb} for replication target relation \"{table}\" in transaction finished at {})",
            super::format_lsn(lsn)
        ),
    );
    if let Some(d) = e.detail() {
        out = out.with_detail(d.to_string());
    }
    out
}

fn first(results: Vec<Result<QueryResult>>) -> Result<QueryResult> {
    let mut last = Err(Error::internal("no statement ran"));
    for r in results {
        last = Ok(r?);
    }
    last
}

impl Session {
    /// Applies `txn`'s changes and records `progress` for
    /// (`subscription`, `publication`) in one local transaction. With
    /// `clear_skip` the subscription's `skip_lsn` is reset in it too (the
    /// transaction being skipped is applied with no changes). Returns the
    /// number of rows applied.
    pub fn apply_remote(
        &mut self,
        subscription: &str,
        publication: &str,
        txn: &RemoteTxn,
        progress: Progress,
        clear_skip: bool,
    ) -> Result<u64> {
        self.apply_remote_sync(subscription, publication, txn, progress, clear_skip, None)
    }

    /// `apply_remote`, also storing the stream's table synchronisation
    /// state in the same transaction (an initial copy or a REFRESH copy).
    pub fn apply_remote_sync(
        &mut self,
        subscription: &str,
        publication: &str,
        txn: &RemoteTxn,
        progress: Progress,
        clear_skip: bool,
        sync: Option<&SyncState>,
    ) -> Result<u64> {
        self.in_local_transaction(|s| {
            s.apply_in_block(subscription, publication, txn, progress, clear_skip, sync)
        })
    }

    /// Runs `body` inside one local transaction block, the only place the
    /// apply path issues BEGIN / COMMIT / ROLLBACK: a block left open (by
    /// an earlier failure) is rolled back first, `body`'s error rolls the
    /// block back, and a COMMIT that turned into a rollback (a failed
    /// deferred check) is an error, never a silent success.
    fn in_local_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        if self.block.is_some() {
            let _ = self.run_simple("ROLLBACK");
        }
        first(self.run_simple("BEGIN"))?;
        let out = match body(self) {
            Ok(out) => out,
            Err(e) => {
                let _ = self.run_simple("ROLLBACK");
                return Err(e);
            }
        };
        match first(self.run_simple("COMMIT"))? {
            QueryResult::Command { tag } if tag == "COMMIT" => Ok(out),
            _ => Err(Error::new(
                SqlState::SERIALIZATION_FAILURE,
                "apply transaction was rolled back at commit",
            )),
        }
    }

    /// Runs one planned statement in the open block.
    fn run_planned(&mut self, p: &Planned) -> Result<QueryResult> {
        match p.run() {
            Run::Sql(sql) => first(self.run_simple(&sql)),
            Run::Copy(sql, data) => {
                match first(self.run_simple(&sql))? {
                    QueryResult::CopyIn { .. } => {}
                    _ => return Err(Error::internal("COPY did not start")),
                }
                self.copy_in_data(&data)?;
                let tag = self.copy_in_done()?;
                Ok(QueryResult::Command { tag })
            }
        }
    }

    fn apply_in_block(
        &mut self,
        subscription: &str,
        publication: &str,
        txn: &RemoteTxn,
        progress: Progress,
        clear_skip: bool,
        sync: Option<&SyncState>,
    ) -> Result<u64> {
        let mut rows = 0u64;
        for p in plan(&txn.changes)? {
            let r = self
                .run_planned(&p)
                .map_err(|e| in_context(e, &p, txn.lsn))?;
            let n = tag_count(&r).unwrap_or(0);
            if p.expect_one && n == 0 {
                let what = if p.op == RemoteOp::Update {
                    "updated"
                } else {
                    "deleted"
                };
                return Err(Error::new(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!(
                        "logical replication did not find row to be {what} in replication target relation \"{}\" (in transaction finished at {})",
                        p.table,
                        super::format_lsn(txn.lsn)
                    ),
                ));
            }
            rows += if p.op == RemoteOp::Truncate { 0 } else { n };
        }
        let Some(block) = &self.block else {
            return Err(Error::internal("apply transaction ended early"));
        };
        let Some(shared) = &block.txn else {
            return Err(Error::internal("apply transaction failed"));
        };
        let mut guard = shared.lock();
        let t = &mut **guard;
        if clear_skip {
            if let Some(mut def) = catalog::get(t, subscription)? {
                def.skip_lsn = 0;
                catalog::put(t, &def)?;
            }
        }
        // A DROP SUBSCRIPTION that committed meanwhile must not be undone
        // by a late progress write.
        if catalog::get(t, subscription)?.is_none() {
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("subscription \"{subscription}\" does not exist"),
            ));
        }
        catalog::put_progress(t, subscription, publication, progress)?;
        if let Some(state) = sync {
            catalog::put_sync_state(t, subscription, publication, state)?;
        }
        Ok(rows)
    }
}
