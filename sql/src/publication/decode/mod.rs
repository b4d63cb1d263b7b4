//! Logical decoding: WAL mutations → row changes of one publication.
//!
//! A WAL record is a list of raw key/value mutations with before-images.
//! The `Decoder` keeps a decoded copy of one database's catalog (tables by
//! object id, and the publication's definition) and walks a record in three
//! passes:
//!
//! 1. **catalog**: relation and publication keys in the record update the
//!    decoder's copy first, so the rows of the same record (and of later
//!    records) decode with the schema of their own commit; with
//!    `replicate_ddl`, table definitions that changed become DDL text
//!    (`CREATE TABLE`, `ALTER TABLE ... ADD/DROP COLUMN / RENAME TO`,
//!    `DROP TABLE`) synthesised from the before and after definitions;
//! 2. **truncates**: a TRUNCATE leaves a marker key in its record
//!    (`super::note_truncate`); each truncated published table becomes one
//!    `truncate` change (when `publish` includes truncate, as PostgreSQL),
//!    and its row deletes in the record are dropped (the truncate implies
//!    them; rows written after it in the same transaction are inserts);
//! 3. **rows**: a key `0x03 <db> <table id> <pk>` of a published table is a
//!    row; before-image absent → INSERT, after absent → DELETE, both →
//!    UPDATE. Index entries share the prefix but their object id is an
//!    index's, which is not in the table map, so they are skipped.
//!
//! The publication then shapes each change the way PostgreSQL 15's pgoutput
//! does: the row filter (NULL is false) decides, and an UPDATE is checked
//! against both rows (old no / new yes → INSERT of the new row, old yes /
//! new no → DELETE of the old key); `new` holds the column list's columns
//! after masking; `old` holds the key columns (the whole published row for
//! a table without a primary key, like REPLICA IDENTITY FULL); `key` holds
//! the primary key, never masked (a mask on a key column is refused when
//! the publication is defined).
//!
//! The catalog copy starts from the current catalog when the decoder is
//! built and follows the records from there; a stream resumed from an old
//! LSN whose tables were altered since decodes the older rows with the
//! newer definition until the record of the change (noted in the docs).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use super::PublicationDef;
use crate::catalog::{Catalog, Relation, TableDef};
use crate::encoding::keys;
use crate::encoding::row::decode_row;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::exec::ExecCtx;
use crate::expr::Expr;
use crate::session::Session;
use crate::statement::View;
use crate::storage::{Transaction, TxnOptions};
use crate::types::{text, Value};
use crate::SqlState;

mod catalog;

/// Column name → value in PostgreSQL text form (`None` = NULL), in table order.
pub type TextRow = serde_json::Map<String, serde_json::Value>;

/// One decoded row change, shaped by the publication.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Schema-qualified table name (`public.t`).
    pub table: String,
    /// `insert`, `update`, `delete`, `truncate` (no key or rows).
    pub op: &'static str,
    pub key: TextRow,
    pub new: Option<TextRow>,
    pub old: Option<TextRow>,
}

/// What one WAL record yields, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Change(Box<Change>),
    Ddl(String),
}

/// A raw mutation: key and value after (or before) the transaction.
pub type Mutation = (Vec<u8>, Option<Vec<u8>>);

/// The per-table state the decoder derives from the catalog and publication.
struct Shape {
    table: Arc<TableDef>,
    /// Positions of the published columns.
    columns: Vec<usize>,
    filter: Option<Expr>,
}

/// Decodes one publication's changes from a database's WAL records.
pub struct Decoder {
    engine: Arc<Engine>,
    session: Session,
    db: u32,
    publication: String,
    def: Option<PublicationDef>,
    tables: HashMap<u32, Arc<TableDef>>,
    shapes: HashMap<u32, Option<Arc<Shape>>>,
    /// Context for evaluating row filters: they read only the row.
    ctx: ExecCtx,
}

impl Decoder {
    /// A decoder for `publication` in `database`, from the current catalog.
    /// `42704` when the publication does not exist.
    pub fn new(engine: &Arc<Engine>, database: &str, publication: &str) -> Result<Decoder> {
        let session = engine.connect("rustydb_logical", database)?;
        let db = session.db.id;
        let mut txn = engine.storage.begin(TxnOptions {
            read_only: true,
            ..Default::default()
        })?;
        let def = super::get(&mut *txn, db, publication)?;
        let tables = {
            let mut catalog = Catalog {
                txn: &mut *txn,
                cache: &engine.catalog_cache,
                db,
            };
            catalog
                .relations()?
                .iter()
                .filter_map(|r| match &**r {
                    Relation::Table(t) => Some((t.id, t.clone())),
                    _ => None,
                })
                .collect()
        };
        txn.rollback();
        let Some(def) = def else {
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("publication \"{publication}\" does not exist"),
            ));
        };
        // Row filters never read storage: an empty in-memory store does.
        let scratch = crate::memory::MemoryStorage::new();
        let scratch_txn = crate::storage::Storage::begin(&*scratch, TxnOptions::default())?;
        let ctx = ExecCtx::new(
            Arc::new(Mutex::new(scratch_txn)),
            engine.clone(),
            db,
            vec![],
            session.facts(),
            None,
        );
        Ok(Decoder {
            engine: engine.clone(),
            session,
            db,
            publication: publication.to_string(),
            def: Some(def),
            tables,
            shapes: HashMap::new(),
            ctx,
        })
    }

    /// The publication as the decoder currently sees it (`None` once dropped).
    pub fn publication(&self) -> Option<&PublicationDef> {
        self.def.as_ref()
    }

    /// The shape of a table under the publication (`None`: not published).
    fn shape(&mut self, table_id: u32) -> Result<Option<Arc<Shape>>> {
        if let Some(s) = self.shapes.get(&table_id) {
            return Ok(s.clone());
        }
        let shape = self.build_shape(table_id)?.map(Arc::new);
        self.shapes.insert(table_id, shape.clone());
        Ok(shape)
    }

    fn build_shape(&mut self, table_id: u32) -> Result<Option<Shape>> {
        let (Some(def), Some(table)) = (&self.def, self.tables.get(&table_id)) else {
            return Ok(None);
        };
        if !def.publishes(table_id) {
            return Ok(None);
        }
        let table = table.clone();
        let entry = def.table(table_id).cloned();
        let columns: Vec<usize> = match entry.as_ref().and_then(|e| e.columns.as_ref()) {
            Some(cols) => cols.iter().filter_map(|c| table.column_index(c)).collect(),
            None => (0..table.columns.len()).collect(),
        };
        let filter = match entry.as_ref().and_then(|e| e.row_filter.as_ref()) {
            Some(text) => Some(self.bind_filter(&table, text)?),
            None => None,
        };
        Ok(Some(Shape {
            table,
            columns,
            filter,
        }))
    }

    fn bind_filter(&self, table: &TableDef, text: &str) -> Result<Expr> {
        let expr = crate::plan::dml::parse_expr(text)?;
        let mut txn = self.engine.storage.begin(TxnOptions {
            read_only: true,
            ..Default::default()
        })?;
        let bound = {
            let view = View {
                session: &self.session,
            };
            let mut binder = self.session.binder(&mut *txn, &view, &[]);
            let scope = crate::plan::dml::table_scope(table, &table.name, false);
            binder.predicate(&expr, &scope, "PUBLICATION WHERE")
        };
        txn.rollback();
        bound
    }

    /// Decodes one record's mutations (with their before-images).
    pub fn decode(&mut self, mutations: &[Mutation], before: &[Mutation]) -> Result<Vec<Decoded>> {
        let mut out = Vec::new();
        let altered = self.catalog_pass(mutations, before, &mut out)?;
        let truncated = self.truncate_pass(mutations, &mut out)?;
        let prefix = keys::database_data_prefix(self.db);
        for (i, (key, after)) in mutations.iter().enumerate() {
            if !key.starts_with(&prefix) {
                continue;
            }
            let Some(id_bytes) = key.get(5..9) else {
                continue;
            };
            let mut id = [0u8; 4];
            id.copy_from_slice(id_bytes);
            let Some(shape) = self.shape(u32::from_be_bytes(id))? else {
                continue;
            };
            // After a TRUNCATE in the record, the table's surviving rows
            // are inserts into an empty table and its deletes are implied.
            let emptied = truncated.contains(&shape.table.id);
            if emptied && after.is_none() {
                continue;
            }
            let before = before
                .get(i)
                .filter(|(k, _)| k == key && !emptied)
                .and_then(|(_, v)| v.as_ref());
            let old = before.map(|b| full_row(&shape.table, b)).transpose()?;
            let new = after
                .as_ref()
                .map(|a| full_row(&shape.table, a))
                .transpose()?;
            // Rows rewritten by an ALTER TABLE in the same record (a new
            // column's default, a type change) are not changes of their
            // own, as in PostgreSQL; neither is an update that changed
            // nothing.
            if let (Some(o), Some(n)) = (&old, &new) {
                if o == n || altered.contains(&shape.table.id) {
                    continue;
                }
            }
            if let Some(change) = self.shape_change(&shape, old, new)? {
                out.push(Decoded::Change(Box::new(change)));
            }
        }
        Ok(out)
    }

    /// TRUNCATE markers (`note_truncate`) of the record: a `truncate`
    /// change per published table when the publication sends truncates,
    /// ahead of the record's row changes. Returns the ids of every
    /// truncated table (published or not), whose deletes `decode` drops.
    fn truncate_pass(
        &mut self,
        mutations: &[Mutation],
        out: &mut Vec<Decoded>,
    ) -> Result<Vec<u32>> {
        let prefix = super::truncate_prefix(self.db);
        let mut ids = Vec::new();
        for (key, _) in mutations {
            let Some(rest) = key.strip_prefix(prefix.as_slice()) else {
                continue;
            };
            let Ok(raw) = <[u8; 4]>::try_from(rest) else {
                continue;
            };
            let id = u32::from_be_bytes(raw);
            ids.push(id);
            let send = self.def.as_ref().is_some_and(|d| d.publish.truncate);
            if !send {
                continue;
            }
            if let Some(shape) = self.shape(id)? {
                out.push(Decoded::Change(Box::new(Change {
                    table: format!("public.{}", shape.table.name),
                    op: "truncate",
                    key: TextRow::new(),
                    new: None,
                    old: None,
                })));
            }
        }
        Ok(ids)
    }

    /// Applies the publication (ops, filter, columns, masks) to one row change.
    fn shape_change(
        &self,
        shape: &Shape,
        old: Option<Vec<Value>>,
        new: Option<Vec<Value>>,
    ) -> Result<Option<Change>> {
        let Some(def) = &self.def else {
            return Ok(None);
        };
        let ops = def.publish;
        let matches = |row: &[Value]| -> Result<bool> {
            match &shape.filter {
                Some(f) => f.eval_predicate(row, &self.ctx),
                None => Ok(true),
            }
        };
        let (op, old, new) = match (old, new) {
            (None, Some(n)) if ops.insert => (matches(&n)?.then_some("insert"), None, Some(n)),
            (Some(o), None) if ops.delete => (matches(&o)?.then_some("delete"), Some(o), None),
            (Some(o), Some(n)) if ops.update => {
                let op = match (matches(&o)?, matches(&n)?) {
                    (true, true) => Some("update"),
                    (false, true) => Some("insert"),
                    (true, false) => Some("delete"),
                    (false, false) => None,
                };
                match op {
                    Some("insert") => (op, None, Some(n)),
                    Some("delete") => (op, Some(o), None),
                    _ => (op, Some(o), Some(n)),
                }
            }
            _ => (None, None, None),
        };
        let Some(op) = op else {
            return Ok(None);
        };
        let table = &shape.table;
        let key_row = new.as_ref().or(old.as_ref());
        let pk = table.primary_key_columns().unwrap_or_default();
        let key = match key_row {
            Some(r) => text_row(table, r, &pk, None),
            None => TextRow::new(),
        };
        let old_out = old.as_ref().map(|o| {
            if pk.is_empty() {
                text_row(table, o, &shape.columns, Some(def))
            } else {
                text_row(table, o, &pk, None)
            }
        });
        let new_out = new
            .as_ref()
            .map(|n| text_row(table, n, &shape.columns, Some(def)));
        Ok(Some(Change {
            table: format!("public.{}", table.name),
            op,
            key,
            new: new_out,
            old: if op == "insert" { None } else { old_out },
        }))
    }

    /// Names (`public.t`) of the tables the publication publishes now, in
    /// the decoder's view of the catalog.
    pub fn published_tables(&self) -> Vec<String> {
        let Some(def) = &self.def else {
            return Vec::new();
        };
        let mut out: Vec<String> = self
            .tables
            .values()
            .filter(|t| def.publishes(t.id))
            .map(|t| format!("public.{}", t.name))
            .collect();
        out.sort();
        out
    }

    /// The initial copy: every published row of every published table as
    /// `txn` sees it, shaped like an INSERT (filter, column list, masks).
    /// Tables named in `skip` are left out (a REFRESH copies only tables
    /// the subscriber does not have yet). Returns the tables copied.
    pub fn copy(
        &mut self,
        txn: &mut dyn Transaction,
        skip: &[String],
        emit: &mut dyn FnMut(&str, TextRow) -> Result<()>,
    ) -> Result<Vec<String>> {
        let relations = Catalog {
            txn: &mut *txn,
            cache: &self.engine.catalog_cache,
            db: self.db,
        }
        .relations()?;
        self.def = super::get(txn, self.db, &self.publication)?;
        for rel in relations {
            let Relation::Table(t) = &*rel else { continue };
            self.tables.insert(t.id, t.clone());
        }
        self.shapes.clear();
        let mut ids: Vec<u32> = self.tables.keys().copied().collect();
        ids.sort_unstable();
        let mut copied = Vec::new();
        for id in ids {
            let Some(shape) = self.shape(id)? else {
                continue;
            };
            let Some(def) = self.def.clone() else {
                continue;
            };
            let table_name = format!("public.{}", shape.table.name);
            if skip.contains(&table_name) {
                continue;
            }
            copied.push(table_name.clone());
            let prefix = keys::object_prefix(self.db, id);
            let end = crate::encoding::keycode::prefix_end(&prefix);
            let mut from = prefix;
            loop {
                let page = txn.scan(&from, &end, 512)?;
                let done = page.len() < 512;
                for (k, v) in page {
                    let row = full_row(&shape.table, &v)?;
                    let keep = match &shape.filter {
                        Some(f) => f.eval_predicate(&row, &self.ctx)?,
                        None => true,
                    };
                    if keep {
                        emit(
                            &table_name,
                            text_row(&shape.table, &row, &shape.columns, Some(&def)),
                        )?;
                    }
                    from = k;
                    from.push(0);
                }
                if done {
                    break;
                }
            }
        }
        Ok(copied)
    }
}

/// A stored row, padded with NULLs to the table's width (rows written
/// before an ADD COLUMN are shorter).
fn full_row(table: &TableDef, raw: &[u8]) -> Result<Vec<Value>> {
    let mut row = decode_row(raw)?;
    row.resize(table.columns.len().max(row.len()), Value::Null);
    Ok(row)
}

/// The columns at `positions` in text form, masked when `def` is given.
fn text_row(
    table: &TableDef,
    row: &[Value],
    positions: &[usize],
    def: Option<&PublicationDef>,
) -> TextRow {
    let mut out = TextRow::new();
    for &p in positions {
        let Some(col) = table.columns.get(p) else {
            continue;
        };
        let value = row.get(p).unwrap_or(&Value::Null);
        let mut text = (!value.is_null()).then(|| text::format(value));
        if let Some(def) = def {
            if let Some(mask) = def.mask(table.id, &col.name) {
                text = mask.apply(def.mask_salt.as_deref().unwrap_or(""), text);
            }
        }
        out.insert(
            col.name.clone(),
            text.map_or(serde_json::Value::Null, serde_json::Value::String),
        );
    }
    out
}
