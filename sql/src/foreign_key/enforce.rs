//! Enforcing foreign keys when rows change.
//!
//! The DML executor tells a `Pending` about every row it inserts, updates
//! or deletes (only when the table takes part in a foreign key: otherwise
//! `Pending` is inert and records nothing). `finish`, called once the
//! statement's own rows are written, works through the events in order:
//!
//! - a row of a *referencing* table that was inserted, or whose FK columns
//!   changed, must find its key in the parent (`lock_parent_key`, which
//!   locks the key: see the module notes of `foreign_key`); rows with a
//!   NULL in the FK columns are not checked (MATCH SIMPLE). The row is read
//!   again first: a later change in the same statement wins.
//! - a deleted row of a *referenced* table, or one whose referenced columns
//!   changed, applies each child's ON DELETE / ON UPDATE action to the rows
//!   still holding the old key. NO ACTION first looks whether another row
//!   now has the old key (then nothing is referenced any more); RESTRICT
//!   does not. CASCADE, SET NULL and SET DEFAULT change child rows, which
//!   become new events, so actions chain through any depth without
//!   recursion, and a self-referencing table needs no special case.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::{lock_parent_key, missing_parent, pick, referencing_rows, still_referenced, FkRules};
use crate::catalog::{FkAction, TableDef};
use crate::encoding::{keycode, keys, row};
use crate::error::Result;
use crate::exec::dml::{check_changed_keys, finalize, remove_row, row_key, write_row};
use crate::exec::ExecCtx;
use crate::expr::Row;
use crate::types::{cast, Value};

/// One row change the foreign keys must look at.
enum Event {
    Inserted {
        table: Arc<TableDef>,
        pk: Vec<u8>,
    },
    Updated {
        table: Arc<TableDef>,
        old: Row,
        new_pk: Vec<u8>,
    },
    Deleted {
        table: Arc<TableDef>,
        old: Row,
    },
}

/// Row changes of one statement, checked when the statement's rows are in.
pub struct Pending {
    db: u32,
    rules: Option<Arc<FkRules>>,
    events: VecDeque<Event>,
    /// Table definitions looked up so far (parents), by name.
    tables: HashMap<String, Arc<TableDef>>,
}

fn involved(table: &TableDef) -> bool {
    !table.foreign_keys.is_empty() || !table.referenced_by.is_empty()
}

fn has_null(values: &[Value]) -> bool {
    values.iter().any(Value::is_null)
}

fn same_key(a: &[Value], b: &[Value]) -> Result<bool> {
    Ok(keycode::encode_values(a)? == keycode::encode_values(b)?)
}

impl Pending {
    /// A list for a statement on a table of database `db`; `rules` are the
    /// bound rules of the tables actions may reach (`Binder::fk_rules`).
    pub fn new(db: u32, rules: Option<Arc<FkRules>>) -> Self {
        Pending {
            db,
            rules,
            events: VecDeque::new(),
            tables: HashMap::new(),
        }
    }

    /// A row was inserted under key suffix `pk`.
    pub fn inserted(&mut self, table: &Arc<TableDef>, pk: &[u8]) {
        if !table.foreign_keys.is_empty() {
            self.events.push_back(Event::Inserted {
                table: table.clone(),
                pk: pk.to_vec(),
            });
        }
    }

    /// A row changed from `old` to the row now at key `new_pk`.
    pub fn updated(&mut self, table: &Arc<TableDef>, old: &[Value], new_pk: &[u8]) {
        if involved(table) {
            self.events.push_back(Event::Updated {
                table: table.clone(),
                old: old.to_vec(),
                new_pk: new_pk.to_vec(),
            });
        }
    }

    /// A row `old` was deleted.
    pub fn deleted(&mut self, table: &Arc<TableDef>, old: &[Value]) {
        if !table.referenced_by.is_empty() {
            self.events.push_back(Event::Deleted {
                table: table.clone(),
                old: old.to_vec(),
            });
        }
    }

    /// Runs the checks and actions of every recorded change (and of the
    /// changes the actions make), failing on the first violation.
    pub fn finish(mut self, ctx: &ExecCtx) -> Result<()> {
        while let Some(event) = self.events.pop_front() {
            ctx.check_cancel()?;
            match event {
                Event::Inserted { table, pk } => self.check_child(ctx, &table, &pk, None)?,
                Event::Updated { table, old, new_pk } => {
                    self.parent_changed(ctx, &table, &old, Some(&new_pk))?;
                    self.check_child(ctx, &table, &new_pk, Some(&old))?;
                }
                Event::Deleted { table, old } => self.parent_changed(ctx, &table, &old, None)?,
            }
        }
        Ok(())
    }

    /// A table's definition: `self_table` itself, a table of the rules, or
    /// the catalog's.
    fn table(
        &mut self,
        ctx: &ExecCtx,
        name: &str,
        self_table: &Arc<TableDef>,
    ) -> Result<Arc<TableDef>> {
        if name == self_table.name {
            return Ok(self_table.clone());
        }
        if let Some(t) = self.rules.as_ref().and_then(|r| r.tables.get(name)) {
            return Ok(t.def.clone());
        }
        if let Some(t) = self.tables.get(name) {
            return Ok(t.clone());
        }
        let t = ctx.with_catalog(|c| c.table(name))?;
        self.tables.insert(name.to_string(), t.clone());
        Ok(t)
    }

    /// The current version of a row of `table` (own writes included).
    fn current_row(&self, ctx: &ExecCtx, table: &TableDef, pk: &[u8]) -> Result<Option<Row>> {
        let mut key = keys::object_prefix(self.db, table.id);
        key.extend_from_slice(pk);
        let raw = ctx.txn.lock().get(&key)?;
        raw.map(|r| row::decode_row(&r)).transpose()
    }

    /// Checks that the row at `pk` finds each of its parents.
    fn check_child(
        &mut self,
        ctx: &ExecCtx,
        table: &Arc<TableDef>,
        pk: &[u8],
        old: Option<&Row>,
    ) -> Result<()> {
        if table.foreign_keys.is_empty() {
            return Ok(());
        }
        let Some(current) = self.current_row(ctx, table, pk)? else {
            return Ok(());
        };
        for fk in &table.foreign_keys {
            let values = pick(&current, &fk.columns);
            if has_null(&values) {
                continue;
            }
            if let Some(old) = old {
                if same_key(&pick(old, &fk.columns), &values)? {
                    continue;
                }
            }
            let parent = self.table(ctx, &fk.ref_table, table)?;
            let found = lock_parent_key(
                &mut **ctx.txn.lock(),
                self.db,
                &parent,
                &fk.ref_columns,
                &values,
            )?;
            if !found {
                return Err(missing_parent(table, fk, &values));
            }
        }
        Ok(())
    }

    /// Applies the children's actions to a referenced row that was deleted
    /// (`new_pk` None) or updated to the row now at `new_pk`.
    fn parent_changed(
        &mut self,
        ctx: &ExecCtx,
        table: &Arc<TableDef>,
        old: &Row,
        new_pk: Option<&[u8]>,
    ) -> Result<()> {
        if table.referenced_by.is_empty() {
            return Ok(());
        }
        let new_row = match new_pk {
            Some(pk) => self.current_row(ctx, table, pk)?,
            None => None,
        };
        for child_name in table.referenced_by.clone() {
            let child = self.table(ctx, &child_name, table)?;
            for fk in child
                .foreign_keys
                .iter()
                .filter(|f| f.ref_table == table.name)
            {
                let old_key = pick(old, &fk.ref_columns);
                if has_null(&old_key) {
                    continue;
                }
                let (action, new_key) = match &new_row {
                    Some(n) => {
                        let new_key = pick(n, &fk.ref_columns);
                        if same_key(&old_key, &new_key)? {
                            continue;
                        }
                        (fk.on_update, Some(new_key))
                    }
                    None => (fk.on_delete, None),
                };
                if action == FkAction::NoAction
                    && lock_parent_key(
                        &mut **ctx.txn.lock(),
                        self.db,
                        table,
                        &fk.ref_columns,
                        &old_key,
                    )?
                {
                    // Another row holds the old key now: nothing dangles.
                    continue;
                }
                let rows = referencing_rows(ctx, self.db, &child, fk, &old_key)?;
                if rows.is_empty() {
                    continue;
                }
                match (action, &new_key) {
                    (FkAction::NoAction | FkAction::Restrict, _) => {
                        return Err(still_referenced(table, &child, fk, &old_key));
                    }
                    (FkAction::Cascade, None) => {
                        for (pk, r) in rows {
                            remove_row(ctx, self.db, &child, &pk, &r)?;
                            self.deleted(&child, &r);
                        }
                    }
                    (_, _) => {
                        let fill =
                            self.fill_values(ctx, &child, &fk.columns, action, new_key.as_deref())?;
                        for (pk, r) in rows {
                            self.rewrite_child(ctx, &child, &fk.columns, &fill, pk, r)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The values an action writes into the FK columns.
    fn fill_values(
        &self,
        ctx: &ExecCtx,
        child: &TableDef,
        columns: &[usize],
        action: FkAction,
        new_key: Option<&[Value]>,
    ) -> Result<Vec<Value>> {
        match (action, new_key) {
            (FkAction::Cascade, Some(new_key)) => super::cast_to(child, columns, new_key),
            (FkAction::SetDefault, _) => {
                let bound = self.rules.as_ref().and_then(|r| r.tables.get(&child.name));
                columns
                    .iter()
                    .map(|c| {
                        match bound
                            .and_then(|b| b.defaults.get(*c))
                            .and_then(Option::as_ref)
                        {
                            Some(e) => e.eval(&[], ctx),
                            None => Ok(Value::Null),
                        }
                    })
                    .collect()
            }
            _ => Ok(vec![Value::Null; columns.len()]),
        }
    }

    /// Writes `fill` into the FK columns of one child row (with its
    /// NOT NULL, CHECK and unique rules) and records the change.
    fn rewrite_child(
        &mut self,
        ctx: &ExecCtx,
        child: &Arc<TableDef>,
        columns: &[usize],
        fill: &[Value],
        pk: Vec<u8>,
        old: Row,
    ) -> Result<()> {
        let mut new = old.clone();
        for (c, v) in columns.iter().zip(fill) {
            if let (Some(slot), Some(col)) = (new.get_mut(*c), child.columns.get(*c)) {
                *slot = cast::assign(v.clone(), &col.data_type)?;
            }
        }
        let checks = self
            .rules
            .as_ref()
            .and_then(|r| r.tables.get(&child.name))
            .map(|b| b.checks.clone())
            .unwrap_or_default();
        finalize(child, &mut new, &checks, ctx)?;
        let new_pk = if child.has_row_id() {
            pk.clone()
        } else {
            row_key(child, &new, ctx)?
        };
        check_changed_keys(ctx, self.db, child, (&new, &new_pk), (&old, &pk))?;
        write_row(ctx, self.db, child, &new_pk, &new, Some((&pk, &old)))?;
        self.updated(child, &old, &new_pk);
        Ok(())
    }
}
