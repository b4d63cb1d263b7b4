//! FOREIGN KEY constraints, with PostgreSQL 15's semantics.
//!
//! A foreign key lives in the referencing (child) table's definition
//! (`TableDef::foreign_keys`); the referenced (parent) table lists its
//! children by name (`TableDef::referenced_by`), so a DELETE or UPDATE on a
//! table with no children pays nothing. Both sides are catalog entries, so
//! they are transactional, persisted, and replicated like any other write.
//!
//! The pieces:
//! - `ddl`: CREATE TABLE / ALTER TABLE ADD and DROP CONSTRAINT, and what
//!   DROP TABLE, TRUNCATE, RENAME and DROP COLUMN must do about foreign keys;
//! - `rules`: at bind time, the DEFAULT and CHECK rules of every table a
//!   DELETE or UPDATE may cascade into (SET DEFAULT evaluates defaults, and
//!   cascaded rows must still pass their CHECKs);
//! - `enforce`: the executor's side. The DML executor reports each row it
//!   inserts, updates or deletes to a `Pending` list; when the statement's
//!   own changes are done, `Pending::finish` runs the checks and actions,
//!   like PostgreSQL's RI triggers, which fire after the statement's rows
//!   (so a multi-row INSERT into a self-referencing table works).
//!
//! Concurrency (READ COMMITTED and REPEATABLE READ). The lock manager has
//! exclusive key locks only, so the protocol is:
//! 1. a child row check *locks* the parent's key entry (the parent row key
//!    when the referenced columns are the row-key primary key, else the
//!    unique index entry) and reads its latest committed version through
//!    the lock: a parent delete in flight makes it wait, and once that
//!    commits the key is gone and the check fails with 23503;
//! 2. a parent delete (or key update) has locked that same key by deleting
//!    it; it then looks for children both in its own view and in a fresh
//!    read-only transaction (the latest committed state), and locks every
//!    candidate child row, re-reading it through the lock. A child insert
//!    that held the parent key before us has committed by the time we hold
//!    it, so the fresh view sees it; under REPEATABLE READ the lock of a row
//!    newer than our snapshot fails with 40001, as in PostgreSQL.
//!
//! So a child insert and a parent delete of its key never both commit.
//! The price of exclusive locks: concurrent inserts of children of one
//! parent row serialize on it until commit (PostgreSQL would share a KEY
//! SHARE lock).

pub mod ddl;
pub mod enforce;
pub mod rules;

use crate::catalog::{ForeignKeyDef, TableDef};
use crate::encoding::keycode::{self, prefix_end};
use crate::encoding::{keys, row};
use crate::error::{Error, Result};
use crate::exec::ExecCtx;
use crate::expr::Row;
use crate::storage::{Isolation, Transaction, TxnOptions};
use crate::types::{cast, text, DataType, Value};
use crate::SqlState;

pub use enforce::Pending;
pub use rules::FkRules;

/// SQLSTATE 42830, invalid_foreign_key.
pub const INVALID_FOREIGN_KEY: SqlState = SqlState("42830");

/// `Key (a, b)=(1, 2)` for an error detail.
fn key_text(table: &TableDef, columns: &[usize], values: &[Value]) -> String {
    let names: Vec<&str> = columns
        .iter()
        .filter_map(|c| table.columns.get(*c).map(|c| c.name.as_str()))
        .collect();
    let vals: Vec<String> = values
        .iter()
        .map(|v| {
            if v.is_null() {
                "null".to_string()
            } else {
                text::format(v)
            }
        })
        .collect();
    format!("Key ({})=({})", names.join(", "), vals.join(", "))
}

/// The 23503 of a child row whose key has no parent.
pub(crate) fn missing_parent(child: &TableDef, fk: &ForeignKeyDef, values: &[Value]) -> Error {
    Error::new(
        SqlState::FOREIGN_KEY_VIOLATION,
        format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
            child.name, fk.name
        ),
    )
    .with_detail(format!(
        "{} is not present in table \"{}\".",
        key_text(child, &fk.columns, values),
        fk.ref_table
    ))
}

/// The 23503 of a parent key that is still referenced.
fn still_referenced(
    parent: &TableDef,
    child: &TableDef,
    fk: &ForeignKeyDef,
    values: &[Value],
) -> Error {
    Error::new(
        SqlState::FOREIGN_KEY_VIOLATION,
        format!(
            "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
            parent.name, fk.name, child.name
        ),
    )
    .with_detail(format!(
        "{} is still referenced from table \"{}\".",
        key_text(parent, &fk.ref_columns, values),
        child.name
    ))
}

/// The values of `columns` in `row` (NULL past the end).
fn pick(row: &[Value], columns: &[usize]) -> Vec<Value> {
    columns
        .iter()
        .map(|c| row.get(*c).cloned().unwrap_or(Value::Null))
        .collect()
}

/// Casts key values to the types of `columns` of `table`, so they encode
/// like the stored keys.
fn cast_to(table: &TableDef, columns: &[usize], values: &[Value]) -> Result<Vec<Value>> {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| {
            let ty = table
                .columns
                .get(*c)
                .map(|c| c.data_type.clone())
                .unwrap_or(DataType::Text);
            cast::cast(v.clone(), &ty)
        })
        .collect()
}

/// Whether two lists hold the same column positions in any order.
pub(crate) fn same_set(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// The values of `cols` (given in `given` order) rearranged into `order`.
fn reorder(given: &[usize], values: &[Value], order: &[usize]) -> Option<Vec<Value>> {
    order
        .iter()
        .map(|c| {
            given
                .iter()
                .position(|g| g == c)
                .and_then(|i| values.get(i).cloned())
        })
        .collect()
}

/// Where a parent's key lives: the storage key holding `values` of the
/// referenced columns `cols` (the row itself for a row-key primary key, or
/// the unique index entry). `None` if no unique key covers exactly `cols`.
pub(crate) fn parent_key_entry(
    db: u32,
    parent: &TableDef,
    cols: &[usize],
    values: &[Value],
) -> Result<Option<Vec<u8>>> {
    let values = cast_to(parent, cols, values)?;
    if !parent.has_row_id() && same_set(&parent.primary_key, cols) {
        let Some(ordered) = reorder(cols, &values, &parent.primary_key) else {
            return Ok(None);
        };
        let mut key = keys::object_prefix(db, parent.id);
        key.extend(keycode::encode_values(&ordered)?);
        return Ok(Some(key));
    }
    for ix in parent.indexes.iter().filter(|i| i.unique) {
        if same_set(&ix.columns, cols) {
            let Some(ordered) = reorder(cols, &values, &ix.columns) else {
                continue;
            };
            let mut key = keys::object_prefix(db, ix.id);
            key.extend(keycode::encode_values(&ordered)?);
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// Whether `parent` has a row with `values` in `cols`, locking that key
/// (see the module notes: this is what orders a child check against a
/// concurrent delete of the parent).
pub(crate) fn lock_parent_key(
    txn: &mut dyn Transaction,
    db: u32,
    parent: &TableDef,
    cols: &[usize],
    values: &[Value],
) -> Result<bool> {
    // A value the parent's column cannot hold (an int8 beyond int4) is no
    // parent's key.
    let Ok(values) = cast_to(parent, cols, values) else {
        return Ok(false);
    };
    let Some(key) = parent_key_entry(db, parent, cols, &values)? else {
        return Err(Error::new(
            INVALID_FOREIGN_KEY,
            format!(
                "there is no unique constraint matching given keys for referenced table \"{}\"",
                parent.name
            ),
        ));
    };
    Ok(txn.lock(&key)?.is_some())
}

/// How to find a child's rows by their foreign key values: a key range
/// whose entries' values (index) or keys (rows) lead to the rows.
enum Access {
    /// Rows keyed by a primary key that starts with the FK columns.
    RowPrefix(Vec<u8>),
    /// An index whose leading columns are the FK columns; values are row keys.
    IndexPrefix(Vec<u8>),
    /// No usable key: every row of the table.
    Full,
}

fn access_path(db: u32, child: &TableDef, fk: &ForeignKeyDef, values: &[Value]) -> Result<Access> {
    let n = fk.columns.len();
    if !child.has_row_id()
        && child.primary_key.len() >= n
        && same_set(&child.primary_key[..n], &fk.columns)
    {
        if let Some(ordered) = reorder(&fk.columns, values, &child.primary_key[..n]) {
            let mut p = keys::object_prefix(db, child.id);
            p.extend(keycode::encode_values(&ordered)?);
            return Ok(Access::RowPrefix(p));
        }
    }
    for ix in &child.indexes {
        if ix.columns.len() >= n && same_set(&ix.columns[..n], &fk.columns) {
            if let Some(ordered) = reorder(&fk.columns, values, &ix.columns[..n]) {
                let mut p = keys::object_prefix(db, ix.id);
                p.extend(keycode::encode_values(&ordered)?);
                return Ok(Access::IndexPrefix(p));
            }
        }
    }
    Ok(Access::Full)
}

/// Row key suffixes (after the table prefix) of candidate child rows found
/// in one transaction's view.
fn candidates(
    txn: &mut dyn Transaction,
    db: u32,
    child: &TableDef,
    fk: &ForeignKeyDef,
    access: &Access,
    want: &[u8],
    out: &mut Vec<Vec<u8>>,
) -> Result<()> {
    let table_prefix = keys::object_prefix(db, child.id);
    let (from, end) = match access {
        Access::RowPrefix(p) | Access::IndexPrefix(p) => (p.clone(), prefix_end(p)),
        Access::Full => (table_prefix.clone(), prefix_end(&table_prefix)),
    };
    let mut from = from;
    loop {
        let page = txn.scan(&from, &end, 512)?;
        let done = page.len() < 512;
        for (k, v) in page {
            match access {
                Access::IndexPrefix(_) => out.push(v),
                Access::RowPrefix(_) => {
                    if let Some(suffix) = k.get(table_prefix.len()..) {
                        out.push(suffix.to_vec());
                    }
                }
                Access::Full => {
                    let r = row::decode_row(&v)?;
                    if keycode::encode_values(&pick(&r, &fk.columns))? == want {
                        if let Some(suffix) = k.get(table_prefix.len()..) {
                            out.push(suffix.to_vec());
                        }
                    }
                }
            }
            from = k;
            from.push(0);
        }
        if done {
            return Ok(());
        }
    }
}

/// The child rows whose FK columns hold `values` (child column types),
/// each locked and read at its latest committed version merged with our
/// own writes: `(row key suffix, row)`.
pub(crate) fn referencing_rows(
    ctx: &ExecCtx,
    db: u32,
    child: &TableDef,
    fk: &ForeignKeyDef,
    values: &[Value],
) -> Result<Vec<(Vec<u8>, Row)>> {
    // A key value the child's columns cannot hold references nothing.
    let Ok(values) = cast_to(child, &fk.columns, values) else {
        return Ok(Vec::new());
    };
    let want = keycode::encode_values(&values)?;
    let access = access_path(db, child, fk, &values)?;
    let mut found = Vec::new();
    candidates(
        &mut **ctx.txn.lock(),
        db,
        child,
        fk,
        &access,
        &want,
        &mut found,
    )?;
    // Rows committed after our snapshot by transactions that held the
    // parent key before us (module notes, step 2).
    let mut fresh = ctx.engine.storage.begin(TxnOptions {
        isolation: Isolation::ReadCommitted,
        read_only: true,
        cancel: None,
    })?;
    let scanned = candidates(&mut *fresh, db, child, fk, &access, &want, &mut found);
    fresh.rollback();
    scanned?;
    found.sort();
    found.dedup();
    let mut out = Vec::new();
    let mut txn = ctx.txn.lock();
    for suffix in found {
        let mut key = keys::object_prefix(db, child.id);
        key.extend_from_slice(&suffix);
        let Some(raw) = txn.lock(&key)? else { continue };
        let r = row::decode_row(&raw)?;
        if keycode::encode_values(&pick(&r, &fk.columns))? == want {
            out.push((suffix, r));
        }
    }
    Ok(out)
}
