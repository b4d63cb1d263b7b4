//! Re-keying a table when its primary key is added or dropped later.
//!
//! A table's rows are stored under their primary key (see `catalog`), so a
//! lookup by key is one storage read. A table created without one stores
//! its rows under hidden row ids instead. `ALTER TABLE … ADD PRIMARY KEY`
//! is common right after a bulk load (pgbench, pg_dump/pg_restore); if the
//! key then lived only in a unique index, every lookup by it would be two
//! reads (index entry, then row). So adding a primary key rewrites the
//! table under the new key, and dropping one rewrites it under fresh row
//! ids: afterwards the table is exactly what `CREATE TABLE` with (or
//! without) the key would have produced.
//!
//! The rewrite runs in the statement's transaction, like PostgreSQL's
//! table rewrites: all rows are read, old row keys and every index entry
//! (they point at row keys) are deleted, rows are written under their new
//! keys and the indexes rebuilt. Duplicates of the new key are found by
//! sorting the new keys before anything is written, and reported the way
//! PostgreSQL reports them (`23505`, "could not create unique index").

use crate::catalog::TableDef;
use crate::ddl::{build_index, delete_range, duplicate_in_new_index};
use crate::encoding::{keycode, keys, row};
use crate::error::Result;
use crate::exec::scan::all_rows;
use crate::exec::ExecCtx;
use crate::types::Value;

/// Rewrites `table`'s rows under the primary key `columns` (positions),
/// which the caller has checked are NOT NULL; sets the table's key. The
/// caller stores the changed definition.
pub fn add_primary_key(
    ctx: &ExecCtx,
    table: &mut TableDef,
    columns: Vec<usize>,
    constraint: &str,
) -> Result<()> {
    let rows = read_rows(ctx, table)?;
    let mut keyed = Vec::with_capacity(rows.len());
    for row in rows {
        let values: Vec<Value> = columns
            .iter()
            .map(|c| row.get(*c).cloned().unwrap_or(Value::Null))
            .collect();
        keyed.push((keycode::encode_values(&values)?, row));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = keyed.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(duplicate_in_new_index(
            table, &columns, &pair[0].1, constraint,
        ));
    }
    table.primary_key = columns;
    table.primary_key_name = Some(constraint.to_string());
    rewrite(ctx, table, keyed)
}

/// Rewrites `table`'s rows under fresh hidden row ids and clears its key.
pub fn drop_primary_key(ctx: &ExecCtx, table: &mut TableDef) -> Result<()> {
    let rows = read_rows(ctx, table)?;
    let mut keyed = Vec::with_capacity(rows.len());
    let mut last = 0i64;
    for row in rows {
        last += 1;
        keyed.push((keycode::encode_values(&[Value::Int8(last)])?, row));
    }
    table.primary_key.clear();
    table.primary_key_name = None;
    rewrite(ctx, table, keyed)?;
    // New inserts continue after the ids handed out here.
    ctx.engine.sequences.set_last_row_id(table.id, last);
    Ok(())
}

fn read_rows(ctx: &ExecCtx, table: &TableDef) -> Result<Vec<Vec<Value>>> {
    all_rows(ctx, ctx.db, table)
        .map(|r| r.map(|(_, row)| row))
        .collect()
}

/// Replaces every stored row and index entry of `table` with `keyed`
/// (row-key suffix, row) and fresh index entries.
fn rewrite(ctx: &ExecCtx, table: &TableDef, keyed: Vec<(Vec<u8>, Vec<Value>)>) -> Result<()> {
    let prefix = keys::object_prefix(ctx.db, table.id);
    {
        let mut txn = ctx.txn.lock();
        delete_range(&mut **txn, &prefix)?;
        for index in &table.indexes {
            delete_range(&mut **txn, &keys::object_prefix(ctx.db, index.id))?;
        }
        for (suffix, values) in &keyed {
            ctx.check_cancel()?;
            let mut key = prefix.clone();
            key.extend_from_slice(suffix);
            txn.put(&key, &row::encode_row(values))?;
        }
    }
    drop(keyed);
    for index in &table.indexes {
        build_index(ctx, table, index)?;
    }
    Ok(())
}
