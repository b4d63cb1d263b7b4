//! Running statements: transaction handling and dispatch.
//!
//! Outside a transaction block every statement runs in its own implicit
//! transaction, committed on success and rolled back on error. Inside a
//! block (BEGIN ... COMMIT) statements share the block's transaction; the
//! first error marks the block failed, and until ROLLBACK (or ROLLBACK TO a
//! savepoint) every statement gets `25P02`, as in PostgreSQL. COMMIT of a
//! failed block rolls back and reports `ROLLBACK`.

use std::sync::Arc;

use chrono::Utc;
use parking_lot::Mutex;
use sqlparser::ast::{self, Statement};

use crate::catalog::{Catalog, SequenceDef};
use crate::error::{Error, Result};
use crate::exec::{self, ExecCtx, SessionFacts};
use crate::plan::bind::{Binder, SessionView};
use crate::plan::scope::Scope;
use crate::session::{Column, OpenTxn, Prepared, QueryResult, Session};
use crate::storage::{Isolation, Transaction, TxnOptions};
use crate::types::{DataType, Value};
use crate::SqlState;

/// Parameter types and result columns of a prepared statement.
type Description = (Vec<Option<DataType>>, Option<Arc<[Column]>>);

/// What the binder may ask about the session.
pub(crate) struct View<'a> {
    pub session: &'a Session,
}

impl SessionView for View<'_> {
    fn user(&self) -> &str {
        &self.session.user
    }
    fn database(&self) -> &str {
        &self.session.db.name
    }
    fn setting(&self, name: &str) -> Option<String> {
        self.session.setting(name)
    }
    fn settings(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .session
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for name in ["transaction_read_only", "in_hot_standby"] {
            v.retain(|(k, _)| k != name);
            if let Some(value) = self.session.setting(name) {
                v.push((name.to_string(), value));
            }
        }
        v.extend(self.session.engine.server_settings());
        v.sort();
        v
    }
    fn databases(&self) -> Vec<(u32, String)> {
        let Ok(mut txn) = self.session.engine.storage.begin(TxnOptions {
            read_only: true,
            ..Default::default()
        }) else {
            return vec![];
        };
        let list = crate::catalog::databases(&mut *txn).unwrap_or_default();
        txn.rollback();
        list.into_iter().map(|d| (d.id, d.name)).collect()
    }
    fn subscription_stats(&self) -> Vec<crate::subscription::SubscriptionStat> {
        self.session
            .engine
            .subscription_control()
            .map(|c| c.stats())
            .unwrap_or_default()
    }
    fn replication_stats(&self) -> Vec<crate::storage::ReplicationStat> {
        self.session.engine.storage.replication_stats()
    }
    fn slot_active(&self, name: &str) -> bool {
        self.session.engine.slot_activity.is_active(name)
    }
    fn current_lsn(&self) -> u64 {
        self.session.engine.storage.current_lsn().0
    }
    fn sequence_state(&self, def: &SequenceDef) -> Result<(i64, bool)> {
        self.session
            .engine
            .sequences
            .peek(&self.session.engine, def)
    }
}

/// Whether a statement is transaction control.
fn is_txn_control(s: &Statement) -> bool {
    matches!(
        s,
        Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
    )
}

impl Session {
    pub(crate) fn run_simple(&mut self, sql: &str) -> Vec<Result<QueryResult>> {
        self.cancel
            .store(false, std::sync::atomic::Ordering::Relaxed);
        // Publication and subscription DDL has no sqlparser grammar.
        if crate::parse::starts_with_word(sql, &["create", "alter", "drop"]) {
            if let Some(r) = crate::subscription::exec::intercept(self, sql) {
                return vec![r];
            }
            if let Some(parsed) = crate::publication::recognize(sql) {
                return vec![self.run_publication(parsed)];
            }
        }
        let statements = match crate::parse::parse(sql) {
            Ok(s) => s,
            Err(e) => {
                self.fail_block();
                return vec![Err(e)];
            }
        };
        if statements.is_empty() {
            return vec![Ok(QueryResult::Empty)];
        }
        let mut out = Vec::new();
        for stmt in &statements {
            let r = self.run_statement(stmt, vec![], &[]);
            let stop = r.is_err() || matches!(r, Ok(QueryResult::CopyIn { .. }));
            out.push(r);
            if stop {
                break;
            }
        }
        out
    }

    pub(crate) fn prepare_statement(
        &mut self,
        sql: &str,
        param_types: &[Option<DataType>],
    ) -> Result<Arc<Prepared>> {
        self.enter_zone();
        let mut statements = crate::parse::parse(sql)?;
        if statements.len() > 1 {
            return Err(Error::syntax(
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(stmt) = statements.pop() else {
            return Ok(Arc::new(Prepared {
                sql: sql.to_string(),
                param_types: vec![],
                columns: None,
                statement: None,
                bound_types: vec![],
            }));
        };
        let (types, columns) = self.describe(&stmt, param_types)?;
        let param_types: Vec<DataType> = types
            .iter()
            .map(|t| t.clone().unwrap_or(DataType::Text))
            .collect();
        let bound_types = param_types.iter().cloned().map(Some).collect();
        Ok(Arc::new(Prepared {
            sql: sql.to_string(),
            param_types,
            columns,
            statement: Some(stmt),
            bound_types,
        }))
    }

    pub(crate) fn execute_prepared(
        &mut self,
        p: &Prepared,
        params: Vec<Value>,
    ) -> Result<QueryResult> {
        self.cancel
            .store(false, std::sync::atomic::Ordering::Relaxed);
        match &p.statement {
            None => Ok(QueryResult::Empty),
            Some(stmt) => self.run_statement(stmt, params, &p.bound_types),
        }
    }

    /// Parameter types and result columns of a statement, without running it.
    fn describe(&mut self, stmt: &Statement, given: &[Option<DataType>]) -> Result<Description> {
        if is_txn_control(stmt) || !returns_rows(stmt) && !has_params(stmt) {
            return Ok((
                given.to_vec(),
                if returns_rows(stmt) {
                    Some(Arc::from(vec![]))
                } else {
                    None
                },
            ));
        }
        let txn = self.statement_txn()?;
        let result = {
            let mut guard = txn.lock();
            let view = View { session: self };
            let mut binder = self.binder(&mut **guard, &view, given);
            crate::plan::bind_statement(&mut binder, stmt)
                .map(|bound| (binder.params.clone(), bound.columns()))
        };
        self.end_statement_txn(txn, result.is_ok());
        result
    }

    pub(crate) fn binder<'a>(
        &'a self,
        txn: &'a mut dyn Transaction,
        view: &'a View<'a>,
        params: &[Option<DataType>],
    ) -> Binder<'a> {
        Binder {
            catalog: Catalog {
                txn,
                cache: &self.engine.catalog_cache,
                db: self.db.id,
            },
            session: view,
            params: params.to_vec(),
            outer: vec![],
            ctes: vec![],
            next_cte_id: 0,
            agg: None,
            window: None,
            window_refusal: None,
            top_level: true,
            scalar_items: vec![],
        }
    }

    /// The transaction a statement runs in: the block's or a new implicit one.
    pub(crate) fn statement_txn(&mut self) -> Result<Arc<Mutex<Box<dyn Transaction>>>> {
        if let Some(b) = &mut self.block {
            b.used = true;
            let Some(txn) = &b.txn else {
                return Err(Error::new(SqlState::IN_FAILED_SQL_TRANSACTION, "current transaction is aborted, commands ignored until end of transaction block"));
            };
            txn.lock().new_statement();
            return Ok(txn.clone());
        }
        let isolation = isolation_setting(&self.settings, "default_transaction_isolation");
        let txn = self.begin_storage_txn(TxnOptions {
            isolation,
            read_only: self.access().read_only,
            cancel: Some(self.cancel.clone()),
        })?;
        Ok(Arc::new(Mutex::new(txn)))
    }

    /// Ends an implicit transaction (commit or rollback); a block's is left open.
    pub(crate) fn end_statement_txn(&self, txn: Arc<Mutex<Box<dyn Transaction>>>, _ok: bool) {
        if self.block.is_none() {
            if let Ok(m) = Arc::try_unwrap(txn) {
                m.into_inner().rollback();
            }
        }
    }

    pub(crate) fn commit_implicit(&self, txn: Arc<Mutex<Box<dyn Transaction>>>) -> Result<()> {
        match Arc::try_unwrap(txn) {
            Ok(m) => self.commit_txn(m.into_inner()).map(|_| ()),
            Err(_) => Err(Error::internal("transaction still in use at commit")),
        }
    }

    /// Marks the block failed. Like PostgreSQL, a failed transaction
    /// releases its locks at once (so a deadlock victim frees the other
    /// side), unless a savepoint may still be rolled back to.
    pub(crate) fn fail_block(&mut self) {
        if let Some(b) = &mut self.block {
            b.failed = true;
            if b.savepoints.is_empty() {
                if let Some(Ok(m)) = b.txn.take().map(Arc::try_unwrap) {
                    m.into_inner().rollback();
                }
            }
        }
    }

    /// Runs one statement with transaction handling.
    pub(crate) fn run_statement(
        &mut self,
        stmt: &Statement,
        params: Vec<Value>,
        param_types: &[Option<DataType>],
    ) -> Result<QueryResult> {
        self.enter_zone();
        let result = self.run_statement_in_zone(stmt, params, param_types);
        // A SET, RESET or ROLLBACK may have changed the zone rows are shown in.
        self.enter_zone();
        result
    }

    fn run_statement_in_zone(
        &mut self,
        stmt: &Statement,
        params: Vec<Value>,
        param_types: &[Option<DataType>],
    ) -> Result<QueryResult> {
        if is_txn_control(stmt) {
            return self.transaction_control(stmt);
        }
        if self.block.as_ref().is_some_and(|b| b.failed) {
            return Err(Error::new(
                SqlState::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let r = self.run_in_transaction(stmt, params, param_types);
        let pending: Vec<(String, String)> = std::mem::take(&mut *self.pending_settings.lock());
        if r.is_err() {
            self.fail_block();
            return r;
        }
        for (name, value) in pending {
            self.apply_setting(&name, value)?;
        }
        r
    }

    fn run_in_transaction(
        &mut self,
        stmt: &Statement,
        params: Vec<Value>,
        param_types: &[Option<DataType>],
    ) -> Result<QueryResult> {
        if let Some(r) = self.session_statement(stmt)? {
            return Ok(r);
        }
        let write = crate::readonly::classify(stmt);
        if let Some(w) = write.as_ref().filter(|w| !w.after_bind()) {
            w.check(self.access())?;
        }
        if crate::ddl::needs_no_transaction_block(stmt) {
            if self.block.is_some() {
                return Err(Error::new(
                    SqlState::ACTIVE_SQL_TRANSACTION,
                    format!(
                        "{} cannot run inside a transaction block",
                        crate::ddl::statement_name(stmt)
                    ),
                ));
            }
            return crate::ddl::database_statement(self, stmt);
        }
        let txn = self.statement_txn()?;
        let result = self.execute_in(&txn, stmt, params, param_types, write.as_ref());
        if self.block.is_some() {
            return result;
        }
        match result {
            Ok(QueryResult::CopyIn { columns, format }) => {
                // The COPY keeps the implicit transaction until CopyDone.
                if let Some(copy) = &mut self.copy {
                    copy.implicit_txn = Some(txn);
                }
                Ok(QueryResult::CopyIn { columns, format })
            }
            Ok(r) => {
                self.commit_implicit(txn)?;
                Ok(r)
            }
            Err(e) => {
                self.end_statement_txn(txn, false);
                Err(e)
            }
        }
    }

    pub(crate) fn facts(&self) -> Arc<SessionFacts> {
        let now = Utc::now();
        Arc::new(SessionFacts {
            user: self.user.clone(),
            database: self.db.name.clone(),
            backend_pid: self.pid,
            txn_start: self.block.as_ref().map(|b| b.start).unwrap_or(now),
            statement_start: now,
            settings: self.settings.clone(),
            currvals: self.currvals.clone(),
            pending_settings: self.pending_settings.clone(),
            read_only: self.access().read_only,
        })
    }

    /// Binds and executes a statement in `txn`.
    fn execute_in(
        &mut self,
        txn: &Arc<Mutex<Box<dyn Transaction>>>,
        stmt: &Statement,
        params: Vec<Value>,
        param_types: &[Option<DataType>],
        write: Option<&crate::readonly::Write>,
    ) -> Result<QueryResult> {
        let bound = {
            let mut guard = txn.lock();
            let view = View { session: self };
            let mut binder = self.binder(&mut **guard, &view, param_types);
            crate::plan::bind_statement(&mut binder, stmt)?
        };
        // Like PostgreSQL's executor start: DML is refused once it is
        // known to be valid (a missing table is reported as such).
        if let Some(w) = write.filter(|w| w.after_bind()) {
            w.check(self.access())?;
        }
        let facts = self.facts();
        let ctx = ExecCtx::new(
            txn.clone(),
            self.engine.clone(),
            self.db.id,
            params,
            facts.clone(),
            Some(self.cancel.clone()),
        );
        match bound {
            crate::plan::Bound::Query(plan, scope) => {
                let rows = exec::collect(&plan, &ctx)?;
                let tag = if matches!(stmt, Statement::ShowVariable { .. }) {
                    "SHOW".to_string()
                } else {
                    format!("SELECT {}", rows.len())
                };
                Ok(QueryResult::Rows {
                    columns: columns_of(&scope),
                    rows,
                    tag,
                })
            }
            crate::plan::Bound::Dml(plan, ret) => {
                let r = exec::dml::execute(&plan, &ctx)?;
                let verb = match plan.statement() {
                    crate::plan::dml::DmlStatement::Insert(_) => "INSERT 0",
                    crate::plan::dml::DmlStatement::Update(_) => "UPDATE",
                    crate::plan::dml::DmlStatement::Delete(_) => "DELETE",
                };
                let tag = format!("{verb} {}", r.count);
                match ret {
                    Some(scope) => Ok(QueryResult::Rows {
                        columns: columns_of(&scope),
                        rows: r.returning,
                        tag,
                    }),
                    None => Ok(QueryResult::Command { tag }),
                }
            }
            crate::plan::Bound::Explain(lines) => Ok(QueryResult::Rows {
                columns: Arc::from(vec![Column::new("QUERY PLAN", DataType::Text)]),
                tag: format!("EXPLAIN {}", lines.len()),
                rows: lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
            }),
            crate::plan::Bound::Other => crate::ddl::execute(self, &ctx, stmt),
        }
    }

    fn transaction_control(&mut self, stmt: &Statement) -> Result<QueryResult> {
        let tag = |t: &str| Ok(QueryResult::Command { tag: t.to_string() });
        match stmt {
            Statement::StartTransaction { modes, .. } => {
                if self.block.is_some() {
                    // PostgreSQL warns and carries on.
                    return tag("BEGIN");
                }
                let mut isolation =
                    isolation_setting(&self.settings, "default_transaction_isolation");
                let mut isolation_name = self
                    .settings
                    .get("default_transaction_isolation")
                    .cloned()
                    .unwrap_or_else(|| "read committed".into());
                let mut read_only =
                    crate::settings::is_on(&self.settings, "default_transaction_read_only");
                let recovery = self.engine.storage.in_recovery();
                for m in modes {
                    match m {
                        ast::TransactionMode::IsolationLevel(l) => {
                            crate::readonly::check_isolation(l, recovery)?;
                            isolation = isolation_of(l);
                            isolation_name = l.to_string().to_lowercase();
                        }
                        ast::TransactionMode::AccessMode(a) => {
                            read_only = matches!(a, ast::TransactionAccessMode::ReadOnly);
                            if !read_only && recovery {
                                return Err(crate::readonly::read_write_in_recovery());
                            }
                        }
                    }
                }
                let txn = self.begin_storage_txn(TxnOptions {
                    isolation,
                    read_only: read_only || recovery,
                    cancel: Some(self.cancel.clone()),
                })?;
                self.block = Some(OpenTxn {
                    txn: Some(Arc::new(Mutex::new(txn))),
                    failed: false,
                    savepoints: vec![],
                    start: Utc::now(),
                    isolation_name,
                    used: false,
                    read_only,
                    setting_log: vec![],
                });
                tag("BEGIN")
            }
            Statement::Commit { .. } => match (self.sync_commit(), self.end_block(true)) {
                (_, None) => tag("COMMIT"),
                (level, Some(b)) => {
                    let failed = b.failed;
                    let Some(shared) = b.txn else {
                        return tag("ROLLBACK");
                    };
                    let Ok(m) = Arc::try_unwrap(shared) else {
                        return Err(Error::internal("transaction still in use at commit"));
                    };
                    let txn = m.into_inner();
                    if failed {
                        txn.rollback();
                        tag("ROLLBACK")
                    } else {
                        // The level in force at COMMIT, before the block's
                        // SET LOCAL values were undone.
                        crate::settings::commit_with(txn, level)?;
                        tag("COMMIT")
                    }
                }
            },
            Statement::Rollback {
                savepoint: None, ..
            } => {
                if let Some(b) = self.end_block(false) {
                    if let Some(Ok(m)) = b.txn.map(Arc::try_unwrap) {
                        m.into_inner().rollback();
                    }
                }
                tag("ROLLBACK")
            }
            Statement::Rollback {
                savepoint: Some(name),
                ..
            } => {
                let name = crate::plan::bind::ident(name);
                let Some(b) = &mut self.block else {
                    return Err(Error::new(
                        SqlState::NO_ACTIVE_SQL_TRANSACTION,
                        "ROLLBACK TO SAVEPOINT can only be used in transaction blocks",
                    ));
                };
                let Some(pos) = b.savepoints.iter().rposition(|(n, ..)| *n == name) else {
                    b.failed = true;
                    return Err(Error::new(
                        SqlState("3B001"),
                        format!("savepoint \"{name}\" does not exist"),
                    ));
                };
                let (id, mark) = (b.savepoints[pos].1, b.savepoints[pos].2);
                b.savepoints.truncate(pos + 1);
                let Some(txn) = &b.txn else {
                    return Err(Error::internal("savepoint without a transaction"));
                };
                txn.lock().rollback_to(id)?;
                b.failed = false;
                self.rollback_settings_to(mark);
                tag("ROLLBACK")
            }
            Statement::Savepoint { name } => {
                let name = crate::plan::bind::ident(name);
                let Some(b) = &mut self.block else {
                    return Err(Error::new(
                        SqlState::NO_ACTIVE_SQL_TRANSACTION,
                        "SAVEPOINT can only be used in transaction blocks",
                    ));
                };
                if b.failed {
                    return Err(Error::new(SqlState::IN_FAILED_SQL_TRANSACTION, "current transaction is aborted, commands ignored until end of transaction block"));
                }
                let Some(txn) = &b.txn else {
                    return Err(Error::new(SqlState::IN_FAILED_SQL_TRANSACTION, "current transaction is aborted, commands ignored until end of transaction block"));
                };
                let id = txn.lock().savepoint();
                let mark = b.setting_log.len();
                b.savepoints.push((name, id, mark));
                tag("SAVEPOINT")
            }
            Statement::ReleaseSavepoint { name } => {
                let name = crate::plan::bind::ident(name);
                let Some(b) = &mut self.block else {
                    return Err(Error::new(
                        SqlState::NO_ACTIVE_SQL_TRANSACTION,
                        "RELEASE SAVEPOINT can only be used in transaction blocks",
                    ));
                };
                if b.failed {
                    return Err(Error::new(SqlState::IN_FAILED_SQL_TRANSACTION, "current transaction is aborted, commands ignored until end of transaction block"));
                }
                let Some(pos) = b.savepoints.iter().rposition(|(n, ..)| *n == name) else {
                    b.failed = true;
                    return Err(Error::new(
                        SqlState("3B001"),
                        format!("savepoint \"{name}\" does not exist"),
                    ));
                };
                b.savepoints.truncate(pos);
                tag("RELEASE")
            }
            _ => Err(Error::internal("not transaction control")),
        }
    }
}

/// Isolation from a setting value.
pub(crate) fn isolation_setting(
    settings: &std::collections::HashMap<String, String>,
    name: &str,
) -> Isolation {
    match settings.get(name).map(String::as_str) {
        Some("repeatable read") | Some("serializable") => Isolation::RepeatableRead,
        _ => Isolation::ReadCommitted,
    }
}

fn isolation_of(l: &ast::TransactionIsolationLevel) -> Isolation {
    match l {
        ast::TransactionIsolationLevel::RepeatableRead
        | ast::TransactionIsolationLevel::Serializable
        | ast::TransactionIsolationLevel::Snapshot => Isolation::RepeatableRead,
        _ => Isolation::ReadCommitted,
    }
}

/// RowDescription columns from a scope.
pub(crate) fn columns_of(scope: &Scope) -> Arc<[Column]> {
    scope
        .columns
        .iter()
        .map(|c| Column {
            name: c.name.clone(),
            data_type: if c.data_type == DataType::Unknown {
                DataType::Text
            } else {
                c.data_type.clone()
            },
            table_oid: c.table_oid,
            column_id: c.column_id.max(0),
        })
        .collect()
}

/// Whether a statement produces rows.
fn returns_rows(s: &Statement) -> bool {
    match s {
        Statement::Query(_) | Statement::ShowVariable { .. } | Statement::Explain { .. } => true,
        Statement::Insert(i) => i.returning.is_some(),
        Statement::Update(u) => u.returning.is_some(),
        Statement::Delete(d) => d.returning.is_some(),
        _ => false,
    }
}

fn has_params(s: &Statement) -> bool {
    s.to_string().contains('$')
}
