//! Read-only transactions and hot standby.
//!
//! A transaction is read-only when the node is a replica (the storage is
//! `in_recovery`, PostgreSQL's hot standby), when it was started with
//! `BEGIN READ ONLY` / `SET TRANSACTION READ ONLY`, or when
//! `default_transaction_read_only` is on. Every statement that would change
//! the database is refused with SQLSTATE `25006` and PostgreSQL's message
//! ("cannot execute INSERT in a read-only transaction"), before it touches
//! storage; the storage transaction is also opened read-only, as a backstop
//! that catches any write this classification missed.
//!
//! How it flows: `classify` looks at the parsed statement and names the
//! command the way PostgreSQL's command tags do. Utility statements (DDL,
//! COPY FROM, CREATE DATABASE, ...) are checked before anything runs, as
//! PostgreSQL's `ProcessUtility` does; DML and `SELECT ... FOR UPDATE` are
//! checked after binding, as PostgreSQL's executor start does (so a missing
//! table is still reported as such). A few commands are allowed in a
//! read-only transaction on a primary but not during recovery (VACUUM,
//! ANALYZE, strong LOCK TABLE, COPY FROM on a replica): those get PostgreSQL's
//! "cannot execute VACUUM during recovery". `nextval()` and `setval()` are
//! checked where they run (the executor), since any expression may call them.
//!
//! The error leaves the session usable: in autocommit the implicit
//! transaction is rolled back; inside a block the block fails (`25P02`
//! until ROLLBACK), exactly like any other statement error.

use std::sync::Arc;

use parking_lot::Mutex;
use sqlparser::ast::{self, SetExpr, Statement};

use crate::error::{Error, Result};
use crate::session::{OpenTxn, Session, SettingChange};
use crate::storage::{Isolation, TxnOptions};
use crate::SqlState;

/// When and how a write statement is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Write {
    /// Refused in any read-only transaction; checked before running.
    Utility(String),
    /// Refused in any read-only transaction; checked after binding.
    Dml(String),
    /// `COPY FROM`: "COPY FROM" in a read-only transaction, "COPY" during
    /// recovery (PostgreSQL classifies COPY as not allowed in recovery).
    CopyFrom,
    /// Allowed in a read-only transaction, refused during recovery.
    RecoveryOnly(String),
}

/// Whether the session's current transaction may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Access {
    /// The node is a replica.
    pub recovery: bool,
    /// The transaction is read-only (always true during recovery).
    pub read_only: bool,
}

/// PostgreSQL's error for a write in a read-only transaction.
pub(crate) fn read_only_error(command: &str) -> Error {
    Error::new(
        SqlState::READ_ONLY_SQL_TRANSACTION,
        format!("cannot execute {command} in a read-only transaction"),
    )
}

/// PostgreSQL's error for a command that cannot run on a hot standby.
pub(crate) fn recovery_error(command: &str) -> Error {
    Error::new(
        SqlState::READ_ONLY_SQL_TRANSACTION,
        format!("cannot execute {command} during recovery"),
    )
}

impl Write {
    /// Whether the check waits until the statement is bound.
    pub fn after_bind(&self) -> bool {
        matches!(self, Write::Dml(_))
    }

    /// Fails when `access` does not allow this statement.
    pub fn check(&self, access: Access) -> Result<()> {
        match self {
            Write::Utility(tag) | Write::Dml(tag) if access.read_only || access.recovery => {
                Err(read_only_error(tag))
            }
            Write::CopyFrom if access.recovery => Err(recovery_error("COPY")),
            Write::CopyFrom if access.read_only => Err(read_only_error("COPY FROM")),
            Write::RecoveryOnly(tag) if access.recovery => Err(recovery_error(tag)),
            _ => Ok(()),
        }
    }
}

/// `BEGIN READ WRITE` / `SET transaction_read_only = off` on a replica.
pub(crate) fn read_write_in_recovery() -> Error {
    Error::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        "cannot set transaction read-write mode during recovery",
    )
}

/// PostgreSQL refuses SERIALIZABLE on a hot standby.
pub(crate) fn check_isolation(
    level: &ast::TransactionIsolationLevel,
    recovery: bool,
) -> Result<()> {
    if recovery && matches!(level, ast::TransactionIsolationLevel::Serializable) {
        return Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "cannot use serializable mode in a hot standby",
        )
        .with_hint("You can use REPEATABLE READ instead."));
    }
    Ok(())
}

impl Session {
    /// Whether the current (or next implicit) transaction may write.
    pub(crate) fn access(&self) -> Access {
        let recovery = self.engine.storage.in_recovery();
        // A session reading at a fixed LSN (fan-out) is read-only.
        let read_only = recovery
            || crate::fanout::read_lsn(&self.settings).is_some()
            || match &self.block {
                Some(b) => b.read_only,
                None => crate::settings::is_on(&self.settings, "default_transaction_read_only"),
            };
        Access {
            recovery,
            read_only,
        }
    }

    /// Takes the transaction block away, undoing its `SET LOCAL` values
    /// and, unless it commits, its plain `SET` values too.
    pub(crate) fn end_block(&mut self, commit: bool) -> Option<OpenTxn> {
        let mut block = self.block.take()?;
        let log = std::mem::take(&mut block.setting_log);
        let undo = if commit && !block.failed {
            local_undo(log)
        } else {
            log.into_iter().map(|c| (c.name, c.old)).collect()
        };
        self.restore_settings(undo);
        Some(block)
    }

    /// `ROLLBACK TO SAVEPOINT`: undoes every SET and SET LOCAL made since
    /// the savepoint (`mark`: the log length then), as PostgreSQL does.
    pub(crate) fn rollback_settings_to(&mut self, mark: usize) {
        let Some(b) = &mut self.block else {
            return;
        };
        let undone = b.setting_log.split_off(mark.min(b.setting_log.len()));
        self.restore_settings(undone.into_iter().map(|c| (c.name, c.old)).collect());
    }

    /// Puts back `(name, old value)` pairs, newest first, reporting changed
    /// GUC_REPORT settings to the client.
    fn restore_settings(&mut self, undo: Vec<(String, Option<String>)>) {
        for (name, old) in undo.into_iter().rev() {
            let settings = Arc::make_mut(&mut self.settings);
            let changed = settings.get(&name) != old.as_ref();
            match &old {
                Some(v) => settings.insert(name.clone(), v.clone()),
                None => settings.remove(&name),
            };
            if changed && crate::engine::is_reported(&name) {
                self.reported_changes.push((
                    crate::engine::reported_name(&name).to_string(),
                    old.unwrap_or_default(),
                ));
            }
        }
    }

    /// `SET TRANSACTION READ ONLY | READ WRITE` and
    /// `SET transaction_read_only`, with PostgreSQL's checks: a read-only
    /// transaction becomes read-write only before its first query, not
    /// inside a subtransaction, and never during recovery. Outside a block
    /// it concerns only the implicit transaction, so nothing persists.
    pub(crate) fn set_transaction_read_only(&mut self, read_only: bool) -> Result<()> {
        let recovery = self.engine.storage.in_recovery();
        let Some(b) = &mut self.block else {
            if !read_only && recovery {
                return Err(read_write_in_recovery());
            }
            return Ok(());
        };
        if !read_only && (b.read_only || recovery) {
            if !b.savepoints.is_empty() {
                return Err(Error::new(
                    SqlState::ACTIVE_SQL_TRANSACTION,
                    "cannot set transaction read-write mode inside a read-only transaction",
                ));
            }
            if b.used {
                return Err(Error::new(
                    SqlState::ACTIVE_SQL_TRANSACTION,
                    "transaction read-write mode must be set before any query",
                ));
            }
            if recovery {
                return Err(read_write_in_recovery());
            }
        }
        if b.read_only == read_only {
            return Ok(());
        }
        b.read_only = read_only;
        if !b.used {
            // Nothing ran yet: reopen the storage transaction in the new
            // mode so the storage enforces it too.
            self.restart_block_txn()?;
        }
        Ok(())
    }

    /// Reopens the (still unused) block's storage transaction with the
    /// block's current isolation and access mode.
    pub(crate) fn restart_block_txn(&mut self) -> Result<()> {
        let recovery = self.engine.storage.in_recovery();
        let storage = self.engine.storage.clone();
        let cancel = self.cancel.clone();
        let Some(b) = &mut self.block else {
            return Ok(());
        };
        if b.txn.is_none() {
            return Ok(());
        }
        let isolation = match b.isolation_name.as_str() {
            "repeatable read" | "serializable" | "snapshot" => Isolation::RepeatableRead,
            _ => Isolation::ReadCommitted,
        };
        let options = TxnOptions {
            isolation,
            read_only: b.read_only || recovery,
            cancel: Some(cancel),
        };
        let fresh = match crate::fanout::read_lsn(&self.settings) {
            Some(lsn) => storage.begin_at(lsn, options)?,
            None => storage.begin(options)?,
        };
        if let Some(old) = b.txn.replace(Arc::new(Mutex::new(fresh))) {
            if let Ok(m) = Arc::try_unwrap(old) {
                m.into_inner().rollback();
            }
        }
        Ok(())
    }
}

/// Names the write a statement performs, or `None` for a read-only one.
pub(crate) fn classify(stmt: &Statement) -> Option<Write> {
    let utility = |tag: &str| Some(Write::Utility(tag.to_string()));
    match stmt {
        Statement::Query(q) => query_write(q).map(Write::Dml),
        Statement::Insert(_) => Some(Write::Dml("INSERT".into())),
        Statement::Update(_) => Some(Write::Dml("UPDATE".into())),
        Statement::Delete(_) => Some(Write::Dml("DELETE".into())),
        Statement::Merge(_) => Some(Write::Dml("MERGE".into())),
        Statement::Explain {
            analyze, statement, ..
        } if *analyze => classify(statement),
        Statement::Explain { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::Set(_)
        | Statement::Reset(_)
        | Statement::Discard { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Prepare { .. }
        | Statement::Execute { .. }
        | Statement::Deallocate { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. } => None,
        Statement::Copy { to: true, .. } => None,
        Statement::Copy { to: false, .. } => Some(Write::CopyFrom),
        Statement::Vacuum(_) => Some(Write::RecoveryOnly("VACUUM".into())),
        Statement::Analyze(_) => Some(Write::RecoveryOnly("ANALYZE".into())),
        Statement::Lock(lock) => {
            // PostgreSQL allows up to ROW EXCLUSIVE on a standby; the
            // default mode is ACCESS EXCLUSIVE.
            let weak = matches!(
                lock.lock_mode,
                Some(
                    ast::LockTableMode::AccessShare
                        | ast::LockTableMode::RowShare
                        | ast::LockTableMode::RowExclusive
                )
            );
            (!weak).then(|| Write::RecoveryOnly("LOCK TABLE".into()))
        }
        Statement::CreateTable(ct) if ct.query.is_some() => utility("CREATE TABLE AS"),
        Statement::CreateTable(_) => utility("CREATE TABLE"),
        Statement::CreateIndex(_) => utility("CREATE INDEX"),
        Statement::CreateSequence { .. } => utility("CREATE SEQUENCE"),
        Statement::CreateView(v) if v.materialized => utility("CREATE MATERIALIZED VIEW"),
        Statement::CreateView(_) => utility("CREATE VIEW"),
        Statement::CreateDatabase { .. } => utility("CREATE DATABASE"),
        Statement::CreateSchema { .. } => utility("CREATE SCHEMA"),
        Statement::CreateExtension(_) => utility("CREATE EXTENSION"),
        Statement::CreateFunction(_) => utility("CREATE FUNCTION"),
        Statement::CreateRole(_) => utility("CREATE ROLE"),
        Statement::Drop { object_type, .. } => Some(Write::Utility(format!("DROP {object_type}"))),
        Statement::Truncate(_) => utility("TRUNCATE TABLE"),
        Statement::AlterTable(_) => utility("ALTER TABLE"),
        Statement::AlterIndex { .. } => utility("ALTER INDEX"),
        Statement::AlterView { .. } => utility("ALTER VIEW"),
        Statement::Comment { .. } => utility("COMMENT"),
        Statement::Grant(_) => utility("GRANT"),
        Statement::Revoke(_) => utility("REVOKE"),
        // Anything else changes the database or is not supported; name it
        // by its leading keywords, as PostgreSQL's command tags do.
        other => Some(Write::Utility(leading_keywords(&other.to_string()))),
    }
}

/// The write a query performs: a data-modifying body (`WITH ... INSERT`),
/// row locks, or a data-modifying CTE (PostgreSQL then names it `SELECT`).
fn query_write(q: &ast::Query) -> Option<String> {
    let body = match q.body.as_ref() {
        SetExpr::Insert(_) => Some("INSERT"),
        SetExpr::Update(_) => Some("UPDATE"),
        SetExpr::Delete(_) => Some("DELETE"),
        SetExpr::Merge(_) => Some("MERGE"),
        _ => None,
    };
    if let Some(tag) = body {
        return Some(tag.to_string());
    }
    if let Some(lock) = first_lock(q) {
        return Some(match lock {
            ast::LockType::Update => "SELECT FOR UPDATE".into(),
            ast::LockType::Share => "SELECT FOR SHARE".into(),
        });
    }
    let modifying_cte = q.with.as_ref().is_some_and(|w| {
        w.cte_tables
            .iter()
            .any(|c| query_write(&c.query).is_some_and(|t| !t.starts_with("SELECT")))
    });
    modifying_cte.then(|| "SELECT".to_string())
}

/// The first row-locking clause anywhere in a query (subqueries and CTEs
/// included: PostgreSQL refuses those in a read-only transaction too).
fn first_lock(q: &ast::Query) -> Option<ast::LockType> {
    use std::ops::ControlFlow;
    struct Finder(Option<ast::LockType>);
    impl ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, q: &ast::Query) -> ControlFlow<()> {
            match q.locks.first() {
                Some(lock) => {
                    self.0 = Some(lock.lock_type);
                    ControlFlow::Break(())
                }
                None => ControlFlow::Continue(()),
            }
        }
    }
    let mut finder = Finder(None);
    let _ = ast::Visit::visit(q, &mut finder);
    finder.0
}

/// The first keywords of a statement's text (up to the first name).
fn leading_keywords(text: &str) -> String {
    const WORDS: &[&str] = &[
        "CREATE",
        "ALTER",
        "DROP",
        "OR",
        "REPLACE",
        "TABLE",
        "INDEX",
        "VIEW",
        "SEQUENCE",
        "TYPE",
        "DOMAIN",
        "SCHEMA",
        "FUNCTION",
        "PROCEDURE",
        "TRIGGER",
        "ROLE",
        "USER",
        "DATABASE",
        "EXTENSION",
        "POLICY",
        "RENAME",
        "TEMP",
        "TEMPORARY",
        "UNIQUE",
        "MATERIALIZED",
        "REFRESH",
        "CALL",
        "DO",
        "NOTIFY",
        "LISTEN",
        "UNLISTEN",
        "CLUSTER",
        "REINDEX",
    ];
    let words: Vec<&str> = text
        .split_whitespace()
        .take_while(|w| WORDS.contains(&w.to_ascii_uppercase().as_str()))
        .filter(|w| !matches!(w.to_ascii_uppercase().as_str(), "OR" | "REPLACE"))
        .filter(|w| !matches!(w.to_ascii_uppercase().as_str(), "TEMP" | "TEMPORARY"))
        .collect();
    if words.is_empty() {
        text.split_whitespace()
            .next()
            .unwrap_or("statement")
            .to_ascii_uppercase()
    } else {
        words.join(" ").to_ascii_uppercase()
    }
}

/// What a committing block puts back: a setting whose last changes were
/// `SET LOCAL` returns to its value before the first of them (after the
/// last plain `SET`, or at BEGIN); a plain `SET` made last persists. This is
/// PostgreSQL's rule (a SET after SET LOCAL in one transaction sticks).
fn local_undo(log: Vec<SettingChange>) -> Vec<(String, Option<String>)> {
    let mut restore: Vec<(String, Option<Option<String>>)> = Vec::new();
    for change in log {
        let slot = match restore.iter().position(|(n, _)| *n == change.name) {
            Some(i) => i,
            None => {
                restore.push((change.name.clone(), None));
                restore.len() - 1
            }
        };
        let value = &mut restore[slot].1;
        if !change.local {
            *value = None;
        } else if value.is_none() {
            *value = Some(change.old);
        }
    }
    restore
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(sql: &str) -> Option<Write> {
        let mut s = crate::parse::parse(sql).unwrap_or_default();
        s.pop().and_then(|s| classify(&s))
    }

    #[test]
    fn names_commands_like_postgres() {
        assert_eq!(
            tag("INSERT INTO t VALUES (1)"),
            Some(Write::Dml("INSERT".into()))
        );
        assert_eq!(tag("SELECT 1"), None);
        assert_eq!(
            tag("SELECT * FROM t FOR UPDATE"),
            Some(Write::Dml("SELECT FOR UPDATE".into()))
        );
        assert_eq!(
            tag("SELECT * FROM (SELECT * FROM t FOR UPDATE) s"),
            Some(Write::Dml("SELECT FOR UPDATE".into()))
        );
        assert_eq!(
            tag("WITH x AS (SELECT * FROM t FOR SHARE) SELECT * FROM x"),
            Some(Write::Dml("SELECT FOR SHARE".into()))
        );
        assert_eq!(
            tag("SELECT * FROM t WHERE a IN (SELECT a FROM t FOR UPDATE)"),
            Some(Write::Dml("SELECT FOR UPDATE".into()))
        );
        assert_eq!(
            tag("SELECT * FROM t FOR SHARE"),
            Some(Write::Dml("SELECT FOR SHARE".into()))
        );
        assert_eq!(
            tag("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x"),
            Some(Write::Dml("SELECT".into()))
        );
        assert_eq!(
            tag("DROP TABLE t"),
            Some(Write::Utility("DROP TABLE".into()))
        );
        assert_eq!(
            tag("TRUNCATE t"),
            Some(Write::Utility("TRUNCATE TABLE".into()))
        );
        assert_eq!(
            tag("CREATE TEMP TABLE t (a int)"),
            Some(Write::Utility("CREATE TABLE".into()))
        );
        assert_eq!(tag("COPY t FROM STDIN"), Some(Write::CopyFrom));
        assert_eq!(tag("COPY t TO STDOUT"), None);
        assert_eq!(tag("VACUUM"), Some(Write::RecoveryOnly("VACUUM".into())));
        assert_eq!(tag("EXPLAIN INSERT INTO t VALUES (1)"), None);
        assert_eq!(tag("SHOW transaction_read_only"), None);
    }

    #[test]
    fn recovery_only_commands_pass_on_a_read_only_primary() {
        let ro = Access {
            recovery: false,
            read_only: true,
        };
        let standby = Access {
            recovery: true,
            read_only: true,
        };
        let vacuum = Write::RecoveryOnly("VACUUM".into());
        assert!(vacuum.check(ro).is_ok());
        let err = vacuum.check(standby).err().map(|e| e.to_string());
        assert!(err.is_some_and(|m| m.contains("cannot execute VACUUM during recovery")));
        let copy = Write::CopyFrom.check(ro).err().map(|e| e.to_string());
        assert!(copy.is_some_and(|m| m.contains("COPY FROM in a read-only transaction")));
        assert!(Write::Dml("INSERT".into()).check(Access::default()).is_ok());
    }
}
