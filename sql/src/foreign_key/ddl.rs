//! Foreign keys in DDL: defining, dropping, and keeping both sides of each
//! constraint in step when tables are dropped, truncated, renamed, or lose
//! a column.
//!
//! Invariant kept here: table `c` appears in `p.referenced_by` exactly
//! while some foreign key of `c` references `p`. Every function that adds
//! or removes a `ForeignKeyDef` updates the other side in the same
//! transaction (a self-referencing table is its own parent and is updated
//! in place, since the caller writes it back).

use std::sync::Arc;

use sqlparser::ast;

use super::{lock_parent_key, missing_parent, parent_key_entry, pick, INVALID_FOREIGN_KEY};
use crate::catalog::{FkAction, ForeignKeyDef, Relation, TableDef};
use crate::ddl::object_name;
use crate::error::{Error, Result};
use crate::exec::scan::all_rows;
use crate::exec::ExecCtx;
use crate::plan::bind::ident;
use crate::types::{cast, oid::type_name, DataType};
use crate::SqlState;

/// A FOREIGN KEY clause of CREATE TABLE or ALTER TABLE, waiting for its
/// table's columns and keys to be known.
#[derive(Debug, Clone)]
pub struct FkSpec {
    /// `CONSTRAINT name`, if given.
    pub name: Option<String>,
    pub constraint: ast::ForeignKeyConstraint,
    /// The column of a column-level `REFERENCES` clause.
    pub column: Option<String>,
}

fn action(a: Option<&ast::ReferentialAction>) -> FkAction {
    match a {
        None | Some(ast::ReferentialAction::NoAction) => FkAction::NoAction,
        Some(ast::ReferentialAction::Restrict) => FkAction::Restrict,
        Some(ast::ReferentialAction::Cascade) => FkAction::Cascade,
        Some(ast::ReferentialAction::SetNull) => FkAction::SetNull,
        Some(ast::ReferentialAction::SetDefault) => FkAction::SetDefault,
    }
}

/// Whether a referencing column of type `child` may reference one of type
/// `parent`: PostgreSQL needs an equality operator of the referenced
/// column's index family, which holds for integers among themselves,
/// strings among themselves, and implicit casts to the parent's type.
fn compatible(child: &DataType, parent: &DataType) -> bool {
    let int = |t: &DataType| matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8);
    let string = |t: &DataType| {
        matches!(
            t,
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Name
        )
    };
    (int(child) && int(parent))
        || (string(child) && string(parent))
        || cast::can_implicit(child, parent)
}

/// Every constraint name of a table (to pick unused default names).
fn constraint_names(t: &TableDef) -> Vec<String> {
    let mut v: Vec<String> = t.checks.iter().map(|c| c.name.clone()).collect();
    v.extend(t.indexes.iter().map(|i| i.name.clone()));
    v.extend(t.primary_key_name.clone());
    v.extend(t.foreign_keys.iter().map(|f| f.name.clone()));
    v
}

fn fk_column_missing(n: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_COLUMN,
        format!("column \"{n}\" referenced in foreign key constraint does not exist"),
    )
}

/// Loads and locks a table other than `table` for a catalog change.
fn lock_table(ctx: &ExecCtx, name: &str) -> Result<Option<TableDef>> {
    let rel = ctx.with_catalog(|c| c.lock_relation(name))?;
    Ok(match rel.as_deref() {
        Some(Relation::Table(t)) => Some((**t).clone()),
        _ => None,
    })
}

fn put_table(ctx: &ExecCtx, t: TableDef) -> Result<()> {
    ctx.with_catalog(|c| c.put_relation(&Relation::Table(Arc::new(t))))
}

/// Adds a foreign key to `table` (which the caller writes back). With
/// `validate`, existing rows must all find their parent (ALTER TABLE).
pub fn add(ctx: &ExecCtx, table: &mut TableDef, spec: &FkSpec, validate: bool) -> Result<()> {
    let c = &spec.constraint;
    if matches!(
        c.match_kind,
        Some(ast::ConstraintReferenceMatchKind::Full | ast::ConstraintReferenceMatchKind::Partial)
    ) {
        return Err(Error::unsupported(
            "MATCH FULL and MATCH PARTIAL foreign keys are not supported",
        ));
    }
    if c.characteristics.as_ref().is_some_and(|ch| {
        ch.deferrable == Some(true)
            || matches!(ch.initially, Some(ast::DeferrableInitial::Deferred))
    }) {
        return Err(Error::unsupported(
            "DEFERRABLE foreign keys are not supported",
        ));
    }
    let child_names: Vec<String> = match &spec.column {
        Some(col) => vec![col.clone()],
        None => c.columns.iter().map(ident).collect(),
    };
    let columns = child_names
        .iter()
        .map(|n| table.column_index(n).ok_or_else(|| fk_column_missing(n)))
        .collect::<Result<Vec<usize>>>()?;
    let parent_name = object_name(&c.foreign_table);
    let self_ref = parent_name == table.name;
    let parent = if self_ref {
        table.clone()
    } else {
        match lock_table(ctx, &parent_name)? {
            Some(p) => p,
            None => {
                // The precise error (missing, or not a table).
                ctx.with_catalog(|cat| cat.table(&parent_name))?;
                return Err(Error::internal("referenced table vanished"));
            }
        }
    };
    let ref_columns = if c.referred_columns.is_empty() {
        parent.primary_key_columns().ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!(
                    "there is no primary key for referenced table \"{}\"",
                    parent.name
                ),
            )
        })?
    } else {
        let cols = c
            .referred_columns
            .iter()
            .map(|n| {
                let n = ident(n);
                parent.column_index(&n).ok_or_else(|| fk_column_missing(&n))
            })
            .collect::<Result<Vec<usize>>>()?;
        for (i, x) in cols.iter().enumerate() {
            if cols[..i].contains(x) {
                return Err(Error::new(
                    INVALID_FOREIGN_KEY,
                    "foreign key referenced-columns list must not contain duplicates",
                ));
            }
        }
        let probe = vec![crate::types::Value::Null; cols.len()];
        if parent_key_entry(ctx.db, &parent, &cols, &probe)?.is_none() {
            return Err(Error::new(
                INVALID_FOREIGN_KEY,
                format!(
                    "there is no unique constraint matching given keys for referenced table \"{}\"",
                    parent.name
                ),
            ));
        }
        cols
    };
    if columns.len() != ref_columns.len() {
        return Err(Error::new(
            INVALID_FOREIGN_KEY,
            "number of referencing and referenced columns for foreign key disagree",
        ));
    }
    let taken = constraint_names(table);
    let name = match &spec.name {
        Some(n) => {
            if taken.contains(n) {
                return Err(Error::new(
                    SqlState::DUPLICATE_OBJECT,
                    format!(
                        "constraint \"{n}\" for relation \"{}\" already exists",
                        table.name
                    ),
                ));
            }
            n.clone()
        }
        None => {
            let base = format!("{}_{}_fkey", table.name, child_names.join("_"));
            let mut n = base.clone();
            let mut k = 1;
            while taken.contains(&n) {
                n = format!("{base}{k}");
                k += 1;
            }
            n
        }
    };
    for (a, b) in columns.iter().zip(&ref_columns) {
        let (ca, cb) = (&table.columns[*a], &parent.columns[*b]);
        if !compatible(&ca.data_type, &cb.data_type) {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!("foreign key constraint \"{name}\" cannot be implemented"),
            )
            .with_detail(format!(
                "Key columns \"{}\" and \"{}\" are of incompatible types: {} and {}.",
                ca.name,
                cb.name,
                type_name(&ca.data_type),
                type_name(&cb.data_type)
            )));
        }
    }
    let fk = ForeignKeyDef {
        id: ctx.with_catalog(|cat| cat.allocate_oid())?,
        name,
        columns,
        ref_table: parent.name.clone(),
        ref_columns,
        on_delete: action(c.on_delete.as_ref()),
        on_update: action(c.on_update.as_ref()),
        validated: validate,
    };
    if validate {
        validate_rows(ctx, table, &parent, &fk)?;
    }
    table.foreign_keys.push(fk);
    if self_ref {
        if !table.referenced_by.contains(&table.name) {
            let n = table.name.clone();
            table.referenced_by.push(n);
        }
    } else if !parent.referenced_by.contains(&table.name) {
        let mut parent = parent;
        parent.referenced_by.push(table.name.clone());
        put_table(ctx, parent)?;
    }
    Ok(())
}

/// Fails with 23503 if a stored row of `table` has no parent.
fn validate_rows(
    ctx: &ExecCtx,
    table: &TableDef,
    parent: &TableDef,
    fk: &ForeignKeyDef,
) -> Result<()> {
    let rows: Vec<_> = all_rows(ctx, ctx.db, table).collect::<Result<_>>()?;
    for (_, row) in rows {
        ctx.check_cancel()?;
        let values = pick(&row, &fk.columns);
        if values.iter().any(crate::types::Value::is_null) {
            continue;
        }
        let found = lock_parent_key(
            &mut **ctx.txn.lock(),
            ctx.db,
            parent,
            &fk.ref_columns,
            &values,
        )?;
        if !found {
            return Err(missing_parent(table, fk, &values));
        }
    }
    Ok(())
}

/// `ALTER TABLE … VALIDATE CONSTRAINT name` for a foreign key added NOT
/// VALID: checks the existing rows (23503) and marks it validated. Returns
/// whether `table` has a foreign key of that name.
pub fn validate(ctx: &ExecCtx, table: &mut TableDef, name: &str) -> Result<bool> {
    let Some(pos) = table.foreign_keys.iter().position(|f| f.name == name) else {
        return Ok(false);
    };
    let fk = table.foreign_keys[pos].clone();
    if !fk.validated {
        let parent = if fk.ref_table == table.name {
            table.clone()
        } else {
            ctx.with_catalog(|c| c.table(&fk.ref_table))
                .map(|t| (*t).clone())?
        };
        validate_rows(ctx, table, &parent, &fk)?;
        if let Some(f) = table.foreign_keys.get_mut(pos) {
            f.validated = true;
        }
    }
    Ok(true)
}

/// Drops the foreign key `name` of `table` if it has one (returns whether).
pub fn drop(ctx: &ExecCtx, table: &mut TableDef, name: &str) -> Result<bool> {
    let Some(pos) = table.foreign_keys.iter().position(|f| f.name == name) else {
        return Ok(false);
    };
    let fk = table.foreign_keys.remove(pos);
    unlink_parent(ctx, table, &fk.ref_table)?;
    Ok(true)
}

/// Removes `table` from `parent`'s `referenced_by` when no foreign key of
/// `table` references `parent` any more.
fn unlink_parent(ctx: &ExecCtx, table: &mut TableDef, parent: &str) -> Result<()> {
    if table.foreign_keys.iter().any(|f| f.ref_table == parent) {
        return Ok(());
    }
    if parent == table.name {
        let me = table.name.clone();
        table.referenced_by.retain(|n| *n != me);
        return Ok(());
    }
    if let Some(mut p) = lock_table(ctx, parent)? {
        p.referenced_by.retain(|n| *n != table.name);
        put_table(ctx, p)?;
    }
    Ok(())
}

fn dependency_error(what: &str, details: Vec<String>) -> Error {
    Error::new(
        SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
        format!("cannot drop {what} because other objects depend on it"),
    )
    .with_detail(details.join("\n"))
    .with_hint("Use DROP ... CASCADE to drop the dependent objects too.")
}

/// Before DROP TABLE `t`: children's foreign keys on it block the drop
/// (2BP01) unless CASCADE drops them, or the children are dropped by the
/// same statement (`dropping`); `t`'s own foreign keys leave its parents.
pub fn before_drop_table(
    ctx: &ExecCtx,
    t: &TableDef,
    cascade: bool,
    dropping: &[String],
) -> Result<()> {
    let mut details = Vec::new();
    let mut children = Vec::new();
    for child_name in t.referenced_by.iter().filter(|n| **n != t.name) {
        if dropping.contains(child_name) {
            continue;
        }
        let Some(child) = lock_table(ctx, child_name)? else {
            continue;
        };
        for fk in child.foreign_keys.iter().filter(|f| f.ref_table == t.name) {
            details.push(format!(
                "constraint {} on table {} depends on table {}",
                fk.name, child.name, t.name
            ));
        }
        children.push(child);
    }
    if !details.is_empty() && !cascade {
        if dropping.len() > 1 {
            return Err(Error::new(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                "cannot drop desired object(s) because other objects depend on them",
            )
            .with_detail(details.join("\n"))
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        return Err(dependency_error(&format!("table {}", t.name), details));
    }
    for mut child in children {
        child.foreign_keys.retain(|f| f.ref_table != t.name);
        put_table(ctx, child)?;
    }
    let mut me = t.clone();
    let parents: Vec<String> = t.foreign_keys.iter().map(|f| f.ref_table.clone()).collect();
    me.foreign_keys.clear();
    for p in parents {
        if p != t.name {
            unlink_parent(ctx, &mut me, &p)?;
        }
    }
    Ok(())
}

/// The tables TRUNCATE empties: `names`, plus (with CASCADE) every table
/// referencing one of them. Without CASCADE, a referencing table left out
/// fails the statement with 0A000, as in PostgreSQL.
pub fn truncate_targets(ctx: &ExecCtx, names: Vec<String>, cascade: bool) -> Result<Vec<String>> {
    let mut list = names;
    let mut i = 0;
    while i < list.len() {
        let t = ctx.with_catalog(|c| c.table(&list[i]))?;
        for child in &t.referenced_by {
            if list.contains(child) {
                continue;
            }
            if cascade {
                list.push(child.clone());
            } else {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "cannot truncate a table referenced in a foreign key constraint",
                )
                .with_detail(format!("Table \"{child}\" references \"{}\".", t.name))
                .with_hint(format!(
                    "Truncate table \"{child}\" at the same time, or use TRUNCATE ... CASCADE."
                )));
            }
        }
        i += 1;
    }
    Ok(list)
}

/// After `table` was renamed from `old` (its `name` is already the new
/// one): the other side of each of its foreign keys follows.
pub fn on_rename(ctx: &ExecCtx, table: &mut TableDef, old: &str) -> Result<()> {
    let new = table.name.clone();
    for fk in &mut table.foreign_keys {
        if fk.ref_table == old {
            fk.ref_table = new.clone();
        }
    }
    for n in &mut table.referenced_by {
        if n == old {
            *n = new.clone();
        }
    }
    for child_name in table.referenced_by.iter().filter(|n| **n != new) {
        if let Some(mut child) = lock_table(ctx, child_name)? {
            for fk in &mut child.foreign_keys {
                if fk.ref_table == old {
                    fk.ref_table = new.clone();
                }
            }
            put_table(ctx, child)?;
        }
    }
    let mut parents: Vec<String> = table
        .foreign_keys
        .iter()
        .map(|f| f.ref_table.clone())
        .collect();
    parents.sort();
    parents.dedup();
    for p in parents.iter().filter(|p| **p != new) {
        if let Some(mut parent) = lock_table(ctx, p)? {
            for n in &mut parent.referenced_by {
                if n == old {
                    *n = new.clone();
                }
            }
            put_table(ctx, parent)?;
        }
    }
    Ok(())
}

/// Before column `pos` of `table` is dropped: its own foreign keys on the
/// column go (as in PostgreSQL); children referencing it block the drop
/// (2BP01) unless CASCADE. Then every stored position past `pos` shifts.
pub fn on_drop_column(
    ctx: &ExecCtx,
    table: &mut TableDef,
    pos: usize,
    cascade: bool,
) -> Result<()> {
    let colname = table
        .columns
        .get(pos)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let mut details = Vec::new();
    let mut children = Vec::new();
    for child_name in table.referenced_by.clone() {
        let child = if child_name == table.name {
            None
        } else {
            lock_table(ctx, &child_name)?
        };
        let fks = match &child {
            Some(c) => &c.foreign_keys,
            None => &table.foreign_keys,
        };
        for fk in fks
            .iter()
            .filter(|f| f.ref_table == table.name && f.ref_columns.contains(&pos))
            .filter(|f| child.is_some() || !f.columns.contains(&pos))
        {
            details.push(format!(
                "constraint {} on table {child_name} depends on column {colname} of table {}",
                fk.name, table.name
            ));
        }
        if let Some(c) = child {
            children.push(c);
        }
    }
    if !details.is_empty() && !cascade {
        return Err(dependency_error(
            &format!("column {colname} of table {}", table.name),
            details,
        ));
    }
    let shift = |v: &mut usize| {
        if *v > pos {
            *v -= 1
        }
    };
    // Own foreign keys on the column (and, for a self reference, those
    // whose referenced columns include it).
    let doomed: Vec<String> = table
        .foreign_keys
        .iter()
        .filter(|f| {
            f.columns.contains(&pos) || (f.ref_table == table.name && f.ref_columns.contains(&pos))
        })
        .map(|f| f.name.clone())
        .collect();
    for n in doomed {
        drop(ctx, table, &n)?;
    }
    let me = table.name.clone();
    for fk in &mut table.foreign_keys {
        fk.columns.iter_mut().for_each(shift);
        if fk.ref_table == me {
            fk.ref_columns.iter_mut().for_each(shift);
        }
    }
    for mut child in children {
        child
            .foreign_keys
            .retain(|f| !(f.ref_table == me && f.ref_columns.contains(&pos)));
        for fk in child.foreign_keys.iter_mut().filter(|f| f.ref_table == me) {
            fk.ref_columns.iter_mut().for_each(shift);
        }
        if !child.foreign_keys.iter().any(|f| f.ref_table == me) {
            let cn = child.name.clone();
            table.referenced_by.retain(|n| *n != cn);
        }
        put_table(ctx, child)?;
    }
    Ok(())
}

/// Before a unique key (`columns`) of `table` is dropped: foreign keys that
/// need it block the drop (2BP01), unless CASCADE drops them too.
/// `what` names the dropped object in the error: `constraint p_key on
/// table p` (ALTER TABLE … DROP CONSTRAINT) or `index p_idx` (DROP INDEX).
pub fn before_drop_key(
    ctx: &ExecCtx,
    table: &mut TableDef,
    key_name: &str,
    columns: &[usize],
    cascade: bool,
    what: &str,
) -> Result<()> {
    let mut details = Vec::new();
    let mut children = Vec::new();
    for child_name in table.referenced_by.clone() {
        let fks: Vec<ForeignKeyDef> = if child_name == table.name {
            table.foreign_keys.clone()
        } else {
            match lock_table(ctx, &child_name)? {
                Some(c) => {
                    let f = c.foreign_keys.clone();
                    children.push(c);
                    f
                }
                None => continue,
            }
        };
        for fk in fks
            .iter()
            .filter(|f| f.ref_table == table.name && super::same_set(&f.ref_columns, columns))
        {
            details.push(format!(
                "constraint {} on table {child_name} depends on index {key_name}",
                fk.name
            ));
        }
    }
    if details.is_empty() {
        return Ok(());
    }
    if !cascade {
        return Err(dependency_error(what, details));
    }
    let me = table.name.clone();
    let dependent =
        |f: &ForeignKeyDef| f.ref_table == me && super::same_set(&f.ref_columns, columns);
    let own: Vec<String> = table
        .foreign_keys
        .iter()
        .filter(|f| dependent(f))
        .map(|f| f.name.clone())
        .collect();
    for n in own {
        drop(ctx, table, &n)?;
    }
    for mut child in children {
        child.foreign_keys.retain(|f| !dependent(f));
        if !child.foreign_keys.iter().any(|f| f.ref_table == me) {
            let cn = child.name.clone();
            table.referenced_by.retain(|n| *n != cn);
        }
        put_table(ctx, child)?;
    }
    Ok(())
}
