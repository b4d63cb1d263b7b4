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
//! table with the same columns become one multi-row INSERT.
//!
//! Conflicts stop the transaction: an insert of an existing key fails with
//! the unique violation (`23505`); an update or delete that finds no row
//! fails with `55000` (PostgreSQL 15 skips those silently; we stop, so
//! the two sides never diverge unnoticed). Errors name the remote relation
//! and the transaction's LSN, which is what `ALTER SUBSCRIPTION ... SKIP`
//! takes.

use super::catalog::{self, Progress, SyncState};
use crate::error::{Error, Result};
use crate::session::{QueryResult, Session};
use crate::SqlState;

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

/// Most rows in one run of inserts (one statement).
const INSERT_RUN: usize = 100_000;
/// Runs of at least this many inserts are applied with COPY.
const COPY_MIN_ROWS: usize = 64;

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded quotes doubled, or `NULL`.
fn literal(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("'{}'", s.replace('\'', "''")),
        None => "NULL".to_string(),
    }
}

/// The local table for a publisher's schema-qualified name: RustyDB has one
/// namespace per database, so the schema part is dropped.
pub fn local_table(remote: &str) -> &str {
    remote.rsplit_once('.').map(|(_, t)| t).unwrap_or(remote)
}

/// `"c1" = 'v1' AND "c2" IS NULL`
fn where_clause(key: &TextRow) -> String {
    key.iter()
        .map(|(c, v)| match v {
            Some(_) => format!("{} = {}", quote_ident(c), literal(v)),
            None => format!("{} IS NULL", quote_ident(c)),
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// One generated statement and what it stands for.
struct Planned {
    /// The statement; empty for a run of inserts (see `values`).
    sql: String,
    table: String,
    op: RemoteOp,
    /// Rows it must affect (update/delete of one row: 1; otherwise none checked).
    expect_one: bool,
    rows: u64,
    /// A run of inserts into `target (columns)`: their values, written at
    /// run time as one multi-row INSERT, or as COPY when there are many.
    insert: Option<InsertRun>,
}

/// Consecutive inserts into one table with the same columns.
struct InsertRun {
    target: String,
    columns: Vec<String>,
    values: Vec<Vec<Option<String>>>,
}

/// How a planned statement runs.
enum Run {
    Sql(String),
    /// `COPY ... FROM STDIN` and its data (text format).
    Copy(String, Vec<u8>),
}

impl InsertRun {
    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Few rows: one INSERT ... VALUES. Many (an initial copy, a bulk load
    /// on the publisher): COPY, which skips SQL parsing of every literal.
    fn statement(&self) -> Run {
        if self.values.len() < COPY_MIN_ROWS {
            let tuples = self
                .values
                .iter()
                .map(|row| {
                    format!(
                        "({})",
                        row.iter().map(literal).collect::<Vec<_>>().join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            return Run::Sql(format!(
                "INSERT INTO {} ({}) VALUES {tuples}",
                self.target,
                self.column_list()
            ));
        }
        let mut data = Vec::new();
        for row in &self.values {
            for (i, v) in row.iter().enumerate() {
                if i > 0 {
                    data.push(b'\t');
                }
                match v {
                    None => data.extend_from_slice(b"\\N"),
                    Some(text) => copy_escape(text, &mut data),
                }
            }
            data.push(b'\n');
        }
        Run::Copy(
            format!("COPY {} ({}) FROM STDIN", self.target, self.column_list()),
            data,
        )
    }
}

/// A value in COPY's text format.
fn copy_escape(text: &str, out: &mut Vec<u8>) {
    for b in text.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            other => out.push(other),
        }
    }
}

impl Planned {
    fn run(&self) -> Run {
        match &self.insert {
            Some(i) => i.statement(),
            None => Run::Sql(self.sql.clone()),
        }
    }
}

/// Turns changes into SQL statements (inserts batched).
fn plan(changes: &[RemoteChange]) -> Result<Vec<Planned>> {
    let mut out: Vec<Planned> = vec![];
    // Whether the last planned statement is an insert run still open.
    let mut open = false;
    for ch in changes {
        match ch {
            RemoteChange::Ddl(sql) => {
                open = false;
                out.push(Planned {
                    sql: sql.clone(),
                    table: String::new(),
                    op: RemoteOp::Truncate,
                    expect_one: false,
                    rows: 0,
                    insert: None,
                });
            }
            RemoteChange::Row {
                table,
                op,
                key,
                new,
            } => {
                let target = quote_ident(local_table(table));
                match op {
                    RemoteOp::Insert => {
                        let row = new.as_ref().ok_or_else(|| {
                            Error::new(SqlState("XX000"), "insert without a new row in stream")
                        })?;
                        let same_run = |p: &Planned| {
                            p.table == *table
                                && p.rows < INSERT_RUN as u64
                                && p.insert.as_ref().is_some_and(|r| {
                                    r.columns.len() == row.len()
                                        && r.columns.iter().zip(row).all(|(c, (n, _))| c == n)
                                })
                        };
                        if let Some(p) = out.last_mut().filter(|p| open && same_run(p)) {
                            if let Some(run) = &mut p.insert {
                                run.values
                                    .push(row.iter().map(|(_, v)| v.clone()).collect());
                                p.rows += 1;
                                continue;
                            }
                        }
                        if row.is_empty() {
                            out.push(Planned {
                                sql: format!("INSERT INTO {target} DEFAULT VALUES"),
                                table: table.clone(),
                                op: *op,
                                expect_one: false,
                                rows: 1,
                                insert: None,
                            });
                            open = false;
                            continue;
                        }
                        out.push(Planned {
                            sql: String::new(),
                            table: table.clone(),
                            op: *op,
                            expect_one: false,
                            rows: 1,
                            insert: Some(InsertRun {
                                target,
                                columns: row.iter().map(|(c, _)| c.clone()).collect(),
                                values: vec![row.iter().map(|(_, v)| v.clone()).collect()],
                            }),
                        });
                        open = true;
                    }
                    RemoteOp::Update => {
                        open = false;
                        let row = new.as_ref().ok_or_else(|| {
                            Error::new(SqlState("XX000"), "update without a new row in stream")
                        })?;
                        if key.is_empty() {
                            return Err(no_identity(table));
                        }
                        let set = row
                            .iter()
                            .map(|(c, v)| format!("{} = {}", quote_ident(c), literal(v)))
                            .collect::<Vec<_>>()
                            .join(", ");
                        out.push(Planned {
                            sql: format!("UPDATE {target} SET {set} WHERE {}", where_clause(key)),
                            table: table.clone(),
                            op: *op,
                            expect_one: true,
                            rows: 1,
                            insert: None,
                        });
                    }
                    RemoteOp::Delete => {
                        open = false;
                        if key.is_empty() {
                            return Err(no_identity(table));
                        }
                        out.push(Planned {
                            sql: format!("DELETE FROM {target} WHERE {}", where_clause(key)),
                            table: table.clone(),
                            op: *op,
                            expect_one: true,
                            rows: 1,
                            insert: None,
                        });
                    }
                    RemoteOp::Truncate => {
                        open = false;
                        // Tables truncated together (TRUNCATE a, b or a
                        // CASCADE) go in one statement, so foreign keys
                        // between them do not refuse it, as in PostgreSQL.
                        if let Some(p) = out
                            .last_mut()
                            .filter(|p| p.op == RemoteOp::Truncate && !p.table.is_empty())
                        {
                            p.sql.push_str(", ");
                            p.sql.push_str(&target);
                            continue;
                        }
                        out.push(Planned {
                            sql: format!("TRUNCATE {target}"),
                            table: table.clone(),
                            op: *op,
                            expect_one: false,
                            rows: 0,
                            insert: None,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

fn no_identity(table: &str) -> Error {
    Error::new(
        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("publisher sent an update/delete without a key for relation \"{table}\""),
    )
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
        if self.block.is_some() {
            let _ = self.run_simple("ROLLBACK");
        }
        first(self.run_simple("BEGIN"))?;
        let r = self.apply_in_block(subscription, publication, txn, progress, clear_skip, sync);
        match r {
            Ok(rows) => match first(self.run_simple("COMMIT"))? {
                QueryResult::Command { tag } if tag == "COMMIT" => Ok(rows),
                _ => Err(Error::new(
                    SqlState::SERIALIZATION_FAILURE,
                    "apply transaction was rolled back at commit",
                )),
            },
            Err(e) => {
                let _ = self.run_simple("ROLLBACK");
                Err(e)
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Option<&str>)]) -> TextRow {
        pairs
            .iter()
            .map(|(c, v)| (c.to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn plans_batched_inserts_and_keyed_updates() {
        let ins = |id: &str| RemoteChange::Row {
            table: "public.t".into(),
            op: RemoteOp::Insert,
            key: vec![],
            new: Some(row(&[("id", Some(id)), ("v", None)])),
        };
        let changes = vec![
            ins("1"),
            ins("2"),
            RemoteChange::Row {
                table: "public.t".into(),
                op: RemoteOp::Update,
                key: row(&[("id", Some("1"))]),
                new: Some(row(&[("id", Some("1")), ("v", Some("it's"))])),
            },
            RemoteChange::Row {
                table: "public.t".into(),
                op: RemoteOp::Delete,
                key: row(&[("id", Some("2"))]),
                new: None,
            },
        ];
        let p = plan(&changes).unwrap();
        let sql: Vec<String> = p
            .iter()
            .map(|p| match p.run() {
                Run::Sql(s) => s,
                Run::Copy(s, _) => s,
            })
            .collect();
        assert_eq!(
            sql,
            vec![
                "INSERT INTO \"t\" (\"id\", \"v\") VALUES ('1', NULL), ('2', NULL)",
                "UPDATE \"t\" SET \"id\" = '1', \"v\" = 'it''s' WHERE \"id\" = '1'",
                "DELETE FROM \"t\" WHERE \"id\" = '2'",
            ]
        );
        assert!(p[1].expect_one && p[2].expect_one && !p[0].expect_one);
    }

    #[test]
    fn many_inserts_become_copy_and_truncates_merge() {
        let ins = |id: usize| RemoteChange::Row {
            table: "public.t".into(),
            op: RemoteOp::Insert,
            key: vec![],
            new: Some(row(&[
                ("id", Some(&id.to_string())),
                ("v", if id == 0 { Some("a\tb\\c\nd") } else { None }),
            ])),
        };
        let trunc = |t: &str| RemoteChange::Row {
            table: t.into(),
            op: RemoteOp::Truncate,
            key: vec![],
            new: None,
        };
        let mut changes = vec![trunc("public.t"), trunc("public.u")];
        changes.extend((0..COPY_MIN_ROWS).map(ins));
        let p = plan(&changes).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].sql, "TRUNCATE \"t\", \"u\"");
        let Run::Copy(sql, data) = p[1].run() else {
            panic!("expected COPY")
        };
        assert_eq!(sql, "COPY \"t\" (\"id\", \"v\") FROM STDIN");
        let text = String::from_utf8(data).unwrap();
        assert!(text.starts_with("0\ta\\tb\\\\c\\nd\n1\t\\N\n"), "{text}");
        assert_eq!(text.lines().count(), COPY_MIN_ROWS);
        assert_eq!(p[1].rows, COPY_MIN_ROWS as u64);
    }

    #[test]
    fn names() {
        assert_eq!(local_table("public.t"), "t");
        assert_eq!(local_table("t"), "t");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
