//! Executing INSERT, UPDATE and DELETE: constraints, locks and indexes.
//!
//! Every row change goes through the same steps:
//! 1. lock the row's key (READ COMMITTED waits for a concurrent writer and
//!    then sees its committed version; REPEATABLE READ fails with 40001 if
//!    the row changed since the snapshot);
//! 2. if the row changed while we waited, re-check the WHERE clause on the
//!    new version (PostgreSQL's EvalPlanQual), so no update is lost;
//! 3. apply assignment casts, NOT NULL and CHECK constraints;
//! 4. lock and check every unique key the new row claims (23505);
//! 5. write the row and keep each index entry in step.

use std::collections::HashSet;

use super::scan::index_entry_key;
use super::{collect, ExecCtx};
use crate::catalog::TableDef;
use crate::encoding::{keycode, keys, row};
use crate::error::{Error, Result};
use crate::expr::{Expr, Row};
use crate::plan::dml::{DeletePlan, DmlPlan, InsertPlan, InsertSource, OnConflict, UpdatePlan};
use crate::types::{cast, text, Value};
use crate::SqlState;

/// The outcome of a DML statement: rows affected and RETURNING rows.
pub struct DmlResult {
    pub count: u64,
    pub returning: Vec<Row>,
}

/// Executes a DML plan.
pub fn execute(plan: &DmlPlan, ctx: &ExecCtx) -> Result<DmlResult> {
    match plan {
        DmlPlan::Insert(p) => insert(p, ctx),
        DmlPlan::Update(p) => update(p, ctx),
        DmlPlan::Delete(p) => delete(p, ctx),
        DmlPlan::With { ctes, body } => {
            for (id, def) in ctes {
                super::relational::materialize_cte(*id, def, ctx)?;
            }
            execute(body, ctx)
        }
    }
}

fn row_text(row: &[Value]) -> String {
    let parts: Vec<String> = row
        .iter()
        .map(|v| {
            if v.is_null() {
                "null".into()
            } else {
                text::format(v)
            }
        })
        .collect();
    parts.join(", ")
}

/// Casts, NOT NULL and CHECK for a row about to be stored.
pub(crate) fn finalize(
    table: &TableDef,
    row: &mut [Value],
    checks: &[(String, Expr)],
    ctx: &ExecCtx,
) -> Result<()> {
    for (i, col) in table.columns.iter().enumerate() {
        let v = std::mem::replace(&mut row[i], Value::Null);
        row[i] = cast::assign(v, &col.data_type)?;
        if row[i].is_null() && !col.nullable {
            return Err(Error::new(
                SqlState::NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    col.name, table.name
                ),
            )
            .with_detail(format!("Failing row contains ({}).", row_text(row))));
        }
    }
    for (name, check) in checks {
        // A CHECK passes unless it is FALSE (NULL passes).
        if let Value::Bool(false) = check.eval(row, ctx)? {
            return Err(Error::new(
                SqlState::CHECK_VIOLATION,
                format!(
                    "new row for relation \"{}\" violates check constraint \"{name}\"",
                    table.name
                ),
            )
            .with_detail(format!("Failing row contains ({}).", row_text(row))));
        }
    }
    Ok(())
}

/// The storage key suffix (after the table prefix) for a row.
pub(crate) fn row_key(table: &TableDef, row: &[Value], ctx: &ExecCtx) -> Result<Vec<u8>> {
    if table.has_row_id() {
        let id = ctx
            .engine
            .sequences
            .next_row_id(&ctx.engine, ctx.db, table.id)?;
        return keycode::encode_values(&[Value::Int8(id)]);
    }
    let values: Vec<Value> = table.primary_key.iter().map(|i| row[*i].clone()).collect();
    keycode::encode_values(&values)
}

fn key_detail(table: &TableDef, columns: &[usize], row: &[Value]) -> String {
    let names: Vec<&str> = columns
        .iter()
        .map(|i| table.columns[*i].name.as_str())
        .collect();
    let vals: Vec<String> = columns.iter().map(|i| text::format(&row[*i])).collect();
    format!(
        "Key ({})=({}) already exists.",
        names.join(", "),
        vals.join(", ")
    )
}

/// A unique key the row would collide on: the conflicting row's key
/// suffix, the error to raise, and the constraint's columns.
type Conflict = (Vec<u8>, Error, Vec<usize>);

/// `updating` is the key of the row being replaced by `row` (UPDATE): its
/// own entries are no conflict, so checking goes on to the other keys.
fn find_conflict(
    ctx: &ExecCtx,
    db: u32,
    table: &TableDef,
    row: &[Value],
    pk: &[u8],
    updating: Option<&[u8]>,
) -> Result<Option<Conflict>> {
    let mut txn = ctx.txn.lock();
    if !table.has_row_id() && updating != Some(pk) {
        let mut key = keys::object_prefix(db, table.id);
        key.extend_from_slice(pk);
        if txn.lock(&key)?.is_some() {
            let name = table
                .primary_key_name
                .clone()
                .unwrap_or_else(|| format!("{}_pkey", table.name));
            let err = Error::new(
                SqlState::UNIQUE_VIOLATION,
                format!("duplicate key value violates unique constraint \"{name}\""),
            )
            .with_detail(key_detail(table, &table.primary_key, row));
            return Ok(Some((pk.to_vec(), err, table.primary_key.clone())));
        }
    }
    for index in table.indexes.iter().filter(|i| i.unique) {
        let (key, unique_key) = index_entry_key(db, index, row, pk)?;
        if !unique_key {
            continue;
        }
        if let Some(owner) = txn.lock(&key)? {
            if owner != pk && updating != Some(owner.as_slice()) {
                let err = Error::new(
                    SqlState::UNIQUE_VIOLATION,
                    format!(
                        "duplicate key value violates unique constraint \"{}\"",
                        index.name
                    ),
                )
                .with_detail(key_detail(table, &index.columns, row));
                return Ok(Some((owner, err, index.columns.clone())));
            }
        }
    }
    Ok(None)
}

/// Writes a row and its index entries (replacing `old`'s entries).
pub(crate) fn write_row(
    ctx: &ExecCtx,
    db: u32,
    table: &TableDef,
    pk: &[u8],
    new: &[Value],
    old: Option<(&[u8], &[Value])>,
) -> Result<()> {
    let mut txn = ctx.txn.lock();
    let prefix = keys::object_prefix(db, table.id);
    if let Some((old_pk, _)) = old {
        if old_pk != pk {
            let mut k = prefix.clone();
            k.extend_from_slice(old_pk);
            txn.delete(&k)?;
        }
    }
    let mut k = prefix;
    k.extend_from_slice(pk);
    txn.put(&k, &row::encode_row(new))?;
    for index in &table.indexes {
        let (new_key, _) = index_entry_key(db, index, new, pk)?;
        if let Some((old_pk, old_row)) = old {
            let (old_key, _) = index_entry_key(db, index, old_row, old_pk)?;
            if old_key == new_key && old_pk == pk {
                continue;
            }
            txn.delete(&old_key)?;
        }
        txn.put(&new_key, pk)?;
    }
    Ok(())
}

pub(crate) fn remove_row(
    ctx: &ExecCtx,
    db: u32,
    table: &TableDef,
    pk: &[u8],
    old: &[Value],
) -> Result<()> {
    let mut txn = ctx.txn.lock();
    let mut k = keys::object_prefix(db, table.id);
    k.extend_from_slice(pk);
    txn.delete(&k)?;
    for index in &table.indexes {
        let (key, _) = index_entry_key(db, index, old, pk)?;
        txn.delete(&key)?;
    }
    Ok(())
}

fn insert(p: &InsertPlan, ctx: &ExecCtx) -> Result<DmlResult> {
    let table = &p.table;
    let width = table.columns.len();
    let sources: Vec<Vec<Option<Value>>> = match &p.source {
        InsertSource::Values(rows) => rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|e| e.as_ref().map(|e| e.eval(&[], ctx)).transpose())
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?,
        InsertSource::Query(plan) => collect(plan, ctx)?
            .into_iter()
            .map(|r| r.into_iter().map(Some).collect())
            .collect(),
    };
    let mut result = DmlResult {
        count: 0,
        returning: Vec::new(),
    };
    let mut touched: HashSet<Vec<u8>> = HashSet::new();
    let mut fk = crate::foreign_key::Pending::new(p.db, p.fk.clone());
    for src in sources {
        ctx.check_cancel()?;
        let mut full: Row = vec![Value::Null; width];
        let mut given = vec![false; width];
        for (v, t) in src.into_iter().zip(&p.targets) {
            if let Some(v) = v {
                full[*t] = v;
                given[*t] = true;
            }
        }
        for i in 0..width {
            if !given[i] {
                if let Some(d) = &p.defaults[i] {
                    full[i] = d.eval(&[], ctx)?;
                }
            }
        }
        finalize(table, &mut full, &p.checks, ctx)?;
        let pk = row_key(table, &full, ctx)?;
        match find_conflict(ctx, p.db, table, &full, &pk, None)? {
            None => {
                write_row(ctx, p.db, table, &pk, &full, None)?;
                fk.inserted(table, &pk);
                touched.insert(pk);
                result.count += 1;
                push_returning(&mut result, p.returning.as_deref(), &full, ctx)?;
            }
            Some((existing_pk, err, columns)) => match &p.on_conflict {
                None => return Err(err),
                // Only the arbiter constraint's conflicts are handled.
                Some((Some(target), _))
                    if !(target.len() == columns.len()
                        && target.iter().all(|c| columns.contains(c))) =>
                {
                    return Err(err)
                }
                Some((_, OnConflict::Nothing)) => {}
                Some((
                    _,
                    OnConflict::Update {
                        assignments,
                        predicate,
                    },
                )) => {
                    if !touched.insert(existing_pk.clone()) {
                        return Err(Error::new(SqlState::CARDINALITY_VIOLATION, "ON CONFLICT DO UPDATE command cannot affect row a second time")
                            .with_hint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values."));
                    }
                    let mut key = keys::object_prefix(p.db, table.id);
                    key.extend_from_slice(&existing_pk);
                    let raw = ctx.txn.lock().lock(&key)?.ok_or_else(|| {
                        Error::new(
                            SqlState::SERIALIZATION_FAILURE,
                            "could not serialize access due to concurrent delete",
                        )
                    })?;
                    let existing = row::decode_row(&raw)?;
                    let mut combined = existing.clone();
                    combined.extend(full.iter().cloned());
                    if let Some(pred) = predicate {
                        if !pred.eval_predicate(&combined, ctx)? {
                            continue;
                        }
                    }
                    let mut new = existing.clone();
                    for (i, e) in assignments {
                        new[*i] = e.eval(&combined, ctx)?;
                    }
                    finalize(table, &mut new, &p.checks, ctx)?;
                    let new_pk = if table.has_row_id() {
                        existing_pk.clone()
                    } else {
                        row_key(table, &new, ctx)?
                    };
                    check_changed_keys(
                        ctx,
                        p.db,
                        table,
                        (&new, &new_pk),
                        (&existing, &existing_pk),
                    )?;
                    write_row(
                        ctx,
                        p.db,
                        table,
                        &new_pk,
                        &new,
                        Some((&existing_pk, &existing)),
                    )?;
                    fk.updated(table, &existing, &new_pk);
                    result.count += 1;
                    push_returning(&mut result, p.returning.as_deref(), &new, ctx)?;
                }
            },
        }
    }
    fk.finish(ctx)?;
    Ok(result)
}

/// Unique checks for an updated row (a conflict with itself is no conflict).
pub(crate) fn check_changed_keys(
    ctx: &ExecCtx,
    db: u32,
    table: &TableDef,
    (new, new_pk): (&[Value], &[u8]),
    (old, old_pk): (&[Value], &[u8]),
) -> Result<()> {
    // The row keeps every unique key it had: nothing new is claimed.
    let same = |cols: &[usize]| cols.iter().all(|c| new.get(*c) == old.get(*c));
    if new_pk == old_pk
        && table
            .indexes
            .iter()
            .filter(|i| i.unique)
            .all(|i| same(&i.columns))
    {
        return Ok(());
    }
    match find_conflict(ctx, db, table, new, new_pk, Some(old_pk))? {
        Some((_, err, _)) => Err(err),
        None => Ok(()),
    }
}

fn push_returning(
    result: &mut DmlResult,
    returning: Option<&[Expr]>,
    row: &[Value],
    ctx: &ExecCtx,
) -> Result<()> {
    if let Some(exprs) = returning {
        result.returning.push(
            exprs
                .iter()
                .map(|e| e.eval(row, ctx))
                .collect::<Result<_>>()?,
        );
    }
    Ok(())
}

/// Locks a scanned row and returns its current version, or `None` if it is
/// gone or no longer matches `recheck`.
fn lock_current(
    ctx: &ExecCtx,
    db: u32,
    table: &TableDef,
    scanned: &[Value],
    recheck: Option<&Expr>,
) -> Result<Option<(Vec<u8>, Row)>> {
    let width = table.columns.len();
    let Some(Value::Bytea(pk)) = scanned.get(width) else {
        return Err(Error::internal("row key missing from DML scan"));
    };
    let mut key = keys::object_prefix(db, table.id);
    key.extend_from_slice(pk);
    let latest = ctx.txn.lock().lock(&key)?;
    let Some(raw) = latest else { return Ok(None) };
    let mut current = scanned.to_vec();
    if raw != row::encode_row(&scanned[..width]) {
        let fresh = row::decode_row(&raw)?;
        current.splice(..width, fresh);
        if let Some(pred) = recheck {
            if !pred.eval_predicate(&current, ctx)? {
                return Ok(None);
            }
        }
    }
    Ok(Some((pk.clone(), current)))
}

/// Runs `apply` once for every distinct row `source` found that is still
/// there (and still matches `recheck`) after locking it; `apply` gets the
/// row's key suffix and its current version (with any trailing columns).
fn for_each_locked_row(
    ctx: &ExecCtx,
    db: u32,
    table: &TableDef,
    source: &crate::plan::Plan,
    recheck: Option<&Expr>,
    mut apply: impl FnMut(Vec<u8>, Row) -> Result<()>,
) -> Result<()> {
    let mut seen = HashSet::new();
    for scanned in collect(source, ctx)? {
        ctx.check_cancel()?;
        let Some((pk, current)) = lock_current(ctx, db, table, &scanned, recheck)? else {
            continue;
        };
        // UPDATE ... FROM may join one target row to several source rows:
        // it is changed once, as in PostgreSQL.
        if seen.insert(pk.clone()) {
            apply(pk, current)?;
        }
    }
    Ok(())
}

fn update(p: &UpdatePlan, ctx: &ExecCtx) -> Result<DmlResult> {
    let table = &p.table;
    let width = table.columns.len();
    let mut result = DmlResult {
        count: 0,
        returning: Vec::new(),
    };
    let mut fk = crate::foreign_key::Pending::new(p.db, p.fk.clone());
    for_each_locked_row(
        ctx,
        p.db,
        table,
        &p.source,
        p.recheck.as_ref(),
        |pk, current| {
            let mut new: Row = current[..width].to_vec();
            for (i, e) in &p.assignments {
                new[*i] = e.eval(&current, ctx)?;
            }
            finalize(table, &mut new, &p.checks, ctx)?;
            let new_pk = if table.has_row_id() {
                pk.clone()
            } else {
                row_key(table, &new, ctx)?
            };
            check_changed_keys(ctx, p.db, table, (&new, &new_pk), (&current[..width], &pk))?;
            write_row(
                ctx,
                p.db,
                table,
                &new_pk,
                &new,
                Some((&pk, &current[..width])),
            )?;
            fk.updated(table, &current[..width], &new_pk);
            result.count += 1;
            if p.returning.is_some() {
                let mut ret_row = new;
                ret_row.extend(current[width..].iter().cloned());
                push_returning(&mut result, p.returning.as_deref(), &ret_row, ctx)?;
            }
            Ok(())
        },
    )?;
    fk.finish(ctx)?;
    Ok(result)
}

fn delete(p: &DeletePlan, ctx: &ExecCtx) -> Result<DmlResult> {
    let table = &p.table;
    let width = table.columns.len();
    let mut result = DmlResult {
        count: 0,
        returning: Vec::new(),
    };
    let mut fk = crate::foreign_key::Pending::new(p.db, p.fk.clone());
    for_each_locked_row(
        ctx,
        p.db,
        table,
        &p.source,
        p.recheck.as_ref(),
        |pk, current| {
            remove_row(ctx, p.db, table, &pk, &current[..width])?;
            fk.deleted(table, &current[..width]);
            result.count += 1;
            push_returning(&mut result, p.returning.as_deref(), &current, ctx)
        },
    )?;
    fk.finish(ctx)?;
    Ok(result)
}
