//! Remote changes → SQL statements for the apply transaction.
//!
//! Inserts, updates and deletes become statements on the local table (the
//! publisher's schema dropped: one namespace per database) with values as
//! quoted text literals, so the binder coerces them as it would a client's.
//! Consecutive inserts into one table with the same columns become one
//! run: a multi-row INSERT, or COPY FROM STDIN when there are many (no SQL
//! parsing of every literal). Updates and deletes are keyed by the
//! replica identity and must affect exactly one row (`expect_one`);
//! truncates of consecutive tables merge into one TRUNCATE so foreign keys
//! between them do not refuse it. DDL text passes through as is.

use super::{RemoteChange, RemoteOp, TextRow};
use crate::error::{Error, Result};
use crate::SqlState;

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
pub(super) struct Planned {
    /// The statement; empty for a run of inserts (see `values`).
    pub(super) sql: String,
    pub(super) table: String,
    pub(super) op: RemoteOp,
    /// Rows it must affect (update/delete of one row: 1; otherwise none checked).
    pub(super) expect_one: bool,
    pub(super) rows: u64,
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
pub(super) enum Run {
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
    pub(super) fn run(&self) -> Run {
        match &self.insert {
            Some(i) => i.statement(),
            None => Run::Sql(self.sql.clone()),
        }
    }
}

/// Turns changes into SQL statements (inserts batched).
pub(super) fn plan(changes: &[RemoteChange]) -> Result<Vec<Planned>> {
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
