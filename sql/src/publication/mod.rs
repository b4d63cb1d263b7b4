//! Publications: which rows and columns of which tables a node publishes,
//! and the logical decoding that turns WAL mutations into row changes.
//!
//! ```text
//!  CREATE/ALTER/DROP PUBLICATION ──parse──► PubStatement ──exec──► PublicationDef
//!                                                                    (catalog key,
//!                                                                     JSON, in the WAL)
//!  WAL record mutations ──decode::Decoder──► Change {table, op, key, old, new}
//!                         (catalog + publication: filter, column list, masks)
//! ```
//!
//! - `parse`: the statements (sqlparser does not know them).
//! - `exec`: running them in the session's transaction, with PostgreSQL
//!   15's validation and messages.
//! - `mask`: our masking extension.
//! - `decode`: logical decoding of one WAL record, and the initial copy.
//! - `slots`: replication slot definitions (the node drives them; they live
//!   here so SQL views and the node read the same keys).
//! - `views`: `pg_publication`, `pg_publication_tables`, `pg_publication_rel`,
//!   `rustydb_publication_masks`, `rustydb_replication_slots`.
//!
//! A publication is a catalog entry like a table: a JSON `PublicationDef`
//! under `0x02 <db> 'P' <name>`, written through the statement's transaction,
//! so it is transactional, lands in the WAL and reaches replicas with
//! everything else. Tables are referenced by object id (a renamed table
//! stays published; a dropped one disappears from every publication, as in
//! PostgreSQL); the name is kept only for messages.

pub mod decode;
pub mod exec;
pub mod mask;
pub mod parse;
pub mod slots;
pub mod views;

use serde::{Deserialize, Serialize};

use crate::encoding::keycode::prefix_end;
use crate::error::{Error, Result};
use crate::storage::Transaction;

pub use mask::Mask;
pub use parse::recognize;

/// Which operations a publication sends (`WITH (publish = ...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishOps {
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
    pub truncate: bool,
}

impl Default for PublishOps {
    fn default() -> Self {
        PublishOps {
            insert: true,
            update: true,
            delete: true,
            truncate: true,
        }
    }
}

/// One published table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedTable {
    pub table_id: u32,
    /// The name when it was added (messages only; look up by id).
    pub table: String,
    /// The column list, in table order; `None` publishes every column.
    pub columns: Option<Vec<String>>,
    /// The row filter as SQL text.
    pub row_filter: Option<String>,
}

/// One column mask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskDef {
    pub table_id: u32,
    pub table: String,
    pub column: String,
    pub mask: Mask,
}

/// A publication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicationDef {
    pub id: u32,
    pub name: String,
    pub owner: String,
    pub all_tables: bool,
    pub publish: PublishOps,
    pub via_root: bool,
    pub tables: Vec<PublishedTable>,
    #[serde(default)]
    pub masks: Vec<MaskDef>,
    /// The salt of `hash` masks (never shown by the views).
    #[serde(default)]
    pub mask_salt: Option<String>,
    /// Send CREATE/ALTER/DROP TABLE of published tables in the stream.
    #[serde(default)]
    pub replicate_ddl: bool,
}

impl PublicationDef {
    /// The entry for a table id, when published explicitly.
    pub fn table(&self, id: u32) -> Option<&PublishedTable> {
        self.tables.iter().find(|t| t.table_id == id)
    }

    /// Whether rows of table `id` are published.
    pub fn publishes(&self, id: u32) -> bool {
        self.all_tables || self.table(id).is_some()
    }

    /// The mask of a column, if any.
    pub fn mask(&self, table_id: u32, column: &str) -> Option<&Mask> {
        self.masks
            .iter()
            .find(|m| m.table_id == table_id && m.column == column)
            .map(|m| &m.mask)
    }
}

/// The key prefix of a database's publications.
pub fn publications_prefix(db: u32) -> Vec<u8> {
    let mut k = vec![0x02];
    k.extend_from_slice(&db.to_be_bytes());
    k.push(b'P');
    k
}

/// The key of a publication.
pub fn publication_key(db: u32, name: &str) -> Vec<u8> {
    let mut k = publications_prefix(db);
    k.extend_from_slice(name.as_bytes());
    k
}

/// Whether `key` is a publication entry of any database.
pub fn is_publication_key(key: &[u8]) -> bool {
    key.len() > 6 && key.first() == Some(&0x02) && key.get(5) == Some(&b'P')
}

fn decode_def(raw: &[u8]) -> Result<PublicationDef> {
    serde_json::from_slice(raw).map_err(|e| Error::Storage(format!("corrupt publication: {e}")))
}

/// Reads a publication.
pub fn get(txn: &mut dyn Transaction, db: u32, name: &str) -> Result<Option<PublicationDef>> {
    match txn.get(&publication_key(db, name))? {
        Some(raw) => decode_def(&raw).map(Some),
        None => Ok(None),
    }
}

/// Every publication of a database, by name.
pub fn list(txn: &mut dyn Transaction, db: u32) -> Result<Vec<PublicationDef>> {
    let prefix = publications_prefix(db);
    let end = prefix_end(&prefix);
    let mut out = Vec::new();
    let mut from = prefix;
    loop {
        let page = txn.scan(&from, &end, 256)?;
        let done = page.len() < 256;
        for (k, v) in page {
            out.push(decode_def(&v)?);
            from = k;
            from.push(0);
        }
        if done {
            return Ok(out);
        }
    }
}

/// Writes a publication.
pub fn put(txn: &mut dyn Transaction, db: u32, def: &PublicationDef) -> Result<()> {
    let raw = serde_json::to_vec(def).map_err(|e| Error::internal(e.to_string()))?;
    txn.put(&publication_key(db, &def.name), &raw)
}

/// Removes a publication.
pub fn delete(txn: &mut dyn Transaction, db: u32, name: &str) -> Result<()> {
    txn.delete(&publication_key(db, name))
}

/// The prefix of the TRUNCATE markers of a database.
pub fn truncate_prefix(db: u32) -> Vec<u8> {
    let mut k = b"\x06truncate/".to_vec();
    k.extend_from_slice(&db.to_be_bytes());
    k
}

/// The TRUNCATE marker of a table: `0x06 "truncate/" <db> <table>`.
pub fn truncate_key(db: u32, table_id: u32) -> Vec<u8> {
    let mut k = truncate_prefix(db);
    k.extend_from_slice(&table_id.to_be_bytes());
    k
}

/// Records in `txn` that table `table_id` was truncated.
///
/// TRUNCATE empties a table with one delete per row, which the WAL cannot
/// tell apart from a `DELETE` without `WHERE`. PostgreSQL replicates a
/// TRUNCATE as one truncate message (when the publication publishes
/// `truncate`) and never as deletes, so the statement leaves a mark the
/// decoder sees in the same record: a delete of a key that never holds a
/// value (nothing is stored; the mutation itself is the message).
pub fn note_truncate(txn: &mut dyn Transaction, db: u32, table_id: u32) -> Result<()> {
    txn.delete(&truncate_key(db, table_id))
}
