//! The catalog: databases, tables, indexes and sequences, kept in storage.
//!
//! Definitions are JSON values under the keys of `encoding::keys`, read and
//! written through the statement's transaction, so DDL is transactional like
//! PostgreSQL's (a rolled-back CREATE TABLE leaves nothing behind) and a
//! statement sees the catalog of its own snapshot. Decoding JSON on every
//! statement would be slow, so `CatalogCache` keeps the decoded definition
//! next to the exact bytes it came from: a lookup still reads the key (one
//! point read), and reuses the decoded value when the bytes are unchanged.
//!
//! A table declared with a PRIMARY KEY stores each row under its encoded key
//! values. A table without one gets a hidden row id from an in-memory counter
//! (see `Engine::next_row_id`); a primary key added later with ALTER TABLE is
//! kept as a unique index flagged `primary`, so no table is rewritten.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::encoding::keys;
use crate::error::{Error, Result};
use crate::storage::Transaction;
use crate::types::DataType;
use crate::SqlState;

/// A database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseDef {
    pub id: u32,
    pub name: String,
    pub owner: String,
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The DEFAULT expression as SQL text.
    pub default: Option<String>,
}

/// An index on a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexDef {
    pub id: u32,
    pub name: String,
    /// Positions of the indexed columns in the table.
    pub columns: Vec<usize>,
    pub unique: bool,
    /// A primary key added after the table was created.
    pub primary: bool,
}

/// A CHECK constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckDef {
    pub name: String,
    /// The expression as SQL text.
    pub expr: String,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub id: u32,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Positions of the primary key columns that form the row key; empty
    /// when rows are keyed by a hidden row id.
    pub primary_key: Vec<usize>,
    /// The name of the primary key constraint (also when it is an index).
    pub primary_key_name: Option<String>,
    pub indexes: Vec<IndexDef>,
    pub checks: Vec<CheckDef>,
    /// FOREIGN KEY constraints this table (the referencing side) declares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Names of the tables whose foreign keys reference this one (each
    /// once; a self-referencing table lists itself). Kept in step with
    /// their `foreign_keys` by `foreign_key::ddl`, so a DELETE or UPDATE
    /// knows which children to look at without reading the whole catalog.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<String>,
}

/// What a foreign key does to referencing rows when the referenced key is
/// deleted or updated (PostgreSQL's `confdeltype` / `confupdtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FkAction {
    #[default]
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    /// The one-letter code of `pg_constraint.confdeltype`.
    pub fn code(self) -> &'static str {
        match self {
            FkAction::NoAction => "a",
            FkAction::Restrict => "r",
            FkAction::Cascade => "c",
            FkAction::SetNull => "n",
            FkAction::SetDefault => "d",
        }
    }

    /// The SQL words (`SET NULL`), as `pg_get_constraintdef` prints them.
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }
}

/// A FOREIGN KEY constraint (MATCH SIMPLE, not deferrable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    /// The constraint's object id (`pg_constraint.oid`).
    pub id: u32,
    pub name: String,
    /// Positions of the referencing columns in this table.
    pub columns: Vec<usize>,
    /// The referenced table's name.
    pub ref_table: String,
    /// Positions of the referenced columns in the referenced table, in the
    /// order of `columns` (they form its primary key or a unique key).
    pub ref_columns: Vec<usize>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
    /// False after `ADD … NOT VALID` until `VALIDATE CONSTRAINT`: existing
    /// rows were not checked (new and changed rows always are).
    #[serde(default = "validated_default")]
    pub validated: bool,
}

fn validated_default() -> bool {
    true
}

impl TableDef {
    /// The position of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Whether rows are keyed by a hidden row id.
    pub fn has_row_id(&self) -> bool {
        self.primary_key.is_empty()
    }

    /// The primary key columns, wherever the key lives.
    pub fn primary_key_columns(&self) -> Option<Vec<usize>> {
        if !self.primary_key.is_empty() {
            return Some(self.primary_key.clone());
        }
        self.indexes
            .iter()
            .find(|i| i.primary)
            .map(|i| i.columns.clone())
    }
}

/// A sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceDef {
    pub id: u32,
    pub name: String,
    pub data_type: DataType,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cycle: bool,
    /// `table.column` that owns it (serial columns).
    pub owned_by: Option<(String, String)>,
}

/// A view: its defining query as SQL text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewDef {
    pub id: u32,
    pub name: String,
    pub query: String,
    pub columns: Vec<String>,
}

/// Anything with a name in a database's relation namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Relation {
    Table(Arc<TableDef>),
    Sequence(SequenceDef),
    View(ViewDef),
    /// An index's name, so index names share the namespace like in PostgreSQL.
    Index {
        id: u32,
        name: String,
        table: String,
    },
}

impl Relation {
    /// The relation's name.
    pub fn name(&self) -> &str {
        match self {
            Relation::Table(t) => &t.name,
            Relation::Sequence(s) => &s.name,
            Relation::View(v) => &v.name,
            Relation::Index { name, .. } => name,
        }
    }

    /// The relation's object id.
    pub fn id(&self) -> u32 {
        match self {
            Relation::Table(t) => t.id,
            Relation::Sequence(s) => s.id,
            Relation::View(v) => v.id,
            Relation::Index { id, .. } => *id,
        }
    }
}

/// Decoded catalog entries, keyed by storage key, checked against the bytes.
/// A cached definition: the stored bytes and what they decode to.
type CacheEntry = (Vec<u8>, Arc<Relation>);

#[derive(Default)]
pub struct CatalogCache {
    entries: Mutex<HashMap<Vec<u8>, CacheEntry>>,
}

impl CatalogCache {
    fn decode(&self, key: &[u8], raw: Vec<u8>) -> Result<Arc<Relation>> {
        let mut entries = self.entries.lock();
        if let Some((bytes, rel)) = entries.get(key) {
            if *bytes == raw {
                return Ok(rel.clone());
            }
        }
        let rel: Relation = serde_json::from_slice(&raw)
            .map_err(|e| Error::Storage(format!("corrupt catalog entry: {e}")))?;
        let rel = Arc::new(rel);
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(key.to_vec(), (raw, rel.clone()));
        Ok(rel)
    }
}

/// Catalog access for one statement: a transaction plus the shared cache.
pub struct Catalog<'a> {
    pub txn: &'a mut dyn Transaction,
    pub cache: &'a CatalogCache,
    pub db: u32,
}

impl<'a> Catalog<'a> {
    /// Looks up a relation by name.
    pub fn relation(&mut self, name: &str) -> Result<Option<Arc<Relation>>> {
        let key = keys::relation(self.db, name);
        match self.txn.get(&key)? {
            Some(raw) => Ok(Some(self.cache.decode(&key, raw)?)),
            None => Ok(None),
        }
    }

    /// Looks up a table by name (`42P01` if missing or not a table).
    pub fn table(&mut self, name: &str) -> Result<Arc<TableDef>> {
        match self.relation(name)?.as_deref() {
            Some(Relation::Table(t)) => Ok(t.clone()),
            Some(_) => Err(Error::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{name}\" is not a table"),
            )),
            None => Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            )),
        }
    }

    /// Looks up a sequence by name.
    pub fn sequence(&mut self, name: &str) -> Result<SequenceDef> {
        match self.relation(name)?.as_deref() {
            Some(Relation::Sequence(s)) => Ok(s.clone()),
            Some(_) => Err(Error::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{name}\" is not a sequence"),
            )),
            None => Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            )),
        }
    }

    /// All relations of the database, in name order.
    pub fn relations(&mut self) -> Result<Vec<Arc<Relation>>> {
        let prefix = keys::relations_prefix(self.db);
        let end = crate::encoding::keycode::prefix_end(&prefix);
        let mut out = Vec::new();
        let mut from = prefix;
        loop {
            let page = self.txn.scan(&from, &end, 256)?;
            let done = page.len() < 256;
            for (k, v) in page {
                out.push(self.cache.decode(&k, v)?);
                from = k;
                from.push(0);
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// Writes (creates or replaces) a relation definition.
    pub fn put_relation(&mut self, rel: &Relation) -> Result<()> {
        let key = keys::relation(self.db, rel.name());
        let raw = serde_json::to_vec(rel).map_err(|e| Error::internal(e.to_string()))?;
        self.txn.put(&key, &raw)
    }

    /// Removes a relation definition.
    pub fn delete_relation(&mut self, name: &str) -> Result<()> {
        self.txn.delete(&keys::relation(self.db, name))
    }

    /// Locks a relation name for DDL, so concurrent DDL on it serializes.
    pub fn lock_relation(&mut self, name: &str) -> Result<Option<Arc<Relation>>> {
        let key = keys::relation(self.db, name);
        match self.txn.lock(&key)? {
            Some(raw) => Ok(Some(self.cache.decode(&key, raw)?)),
            None => Ok(None),
        }
    }

    /// Allocates a fresh object id.
    pub fn allocate_oid(&mut self) -> Result<u32> {
        allocate_oid(self.txn)
    }
}

/// Allocates an object id from the global counter (locks it until commit).
pub fn allocate_oid(txn: &mut dyn Transaction) -> Result<u32> {
    let key = keys::next_oid();
    let next = match txn.lock(&key)? {
        Some(raw) => u32::from_be_bytes(
            raw.as_slice()
                .try_into()
                .map_err(|_| Error::Storage("corrupt oid counter".into()))?,
        ),
        None => keys::FIRST_OBJECT_ID,
    };
    txn.put(&key, &(next + 1).to_be_bytes())?;
    Ok(next)
}

/// Reads a database definition.
pub fn database(txn: &mut dyn Transaction, name: &str) -> Result<Option<DatabaseDef>> {
    match txn.get(&keys::database(name))? {
        Some(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| Error::Storage(format!("corrupt database entry: {e}"))),
        None => Ok(None),
    }
}

/// Lists all databases.
pub fn databases(txn: &mut dyn Transaction) -> Result<Vec<DatabaseDef>> {
    let (start, end) = keys::databases();
    let page = txn.scan(&start, &end, 100_000)?;
    page.into_iter()
        .map(|(_, v)| {
            serde_json::from_slice(&v)
                .map_err(|e| Error::Storage(format!("corrupt database entry: {e}")))
        })
        .collect()
}

/// Writes a database definition.
pub fn put_database(txn: &mut dyn Transaction, def: &DatabaseDef) -> Result<()> {
    let raw = serde_json::to_vec(def).map_err(|e| Error::internal(e.to_string()))?;
    txn.put(&keys::database(&def.name), &raw)
}
