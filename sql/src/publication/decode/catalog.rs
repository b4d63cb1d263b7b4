//! Logical decoding, pass 1: catalog keys in a WAL record.
//!
//! Relation keys (table definitions) and the publication's own key in a
//! record update the `Decoder`'s copy of the catalog before the record's
//! rows are decoded, so rows decode with the schema of their own commit.
//! With `replicate_ddl`, the definitions that changed become DDL text
//! synthesised from the before and after definitions:
//!
//! ```text
//!  before only                  → DROP TABLE public.t
//!  after only (FOR ALL TABLES)  → CREATE TABLE public.t (columns, PRIMARY KEY)
//!  both                         → ALTER TABLE ... ADD / DROP COLUMN, ALTER COLUMN TYPE
//!  dropped and created, same id → ALTER TABLE ... RENAME TO (a rename moves the key)
//! ```
//!
//! DDL is judged against the publication as it was *before* the record (a
//! table dropped in the record was published until then). The decoder's
//! cached table shapes are cleared whenever a record touched the catalog.

use std::sync::Arc;

use super::{Decoded, Decoder, Mutation};
use crate::catalog::{Relation, TableDef};
use crate::encoding::keys;
use crate::error::{Error, Result};
use crate::publication::PublicationDef;

impl Decoder {
    /// Pass 1: relation and publication keys. Returns the ids of tables
    /// whose definition changed (not created or dropped) in the record.
    pub(super) fn catalog_pass(
        &mut self,
        mutations: &[Mutation],
        before: &[Mutation],
        out: &mut Vec<Decoded>,
    ) -> Result<Vec<u32>> {
        let rel_prefix = keys::relations_prefix(self.db);
        let pub_key = crate::publication::publication_key(self.db, &self.publication);
        let mut dropped: Vec<Arc<TableDef>> = Vec::new();
        let mut created: Vec<Arc<TableDef>> = Vec::new();
        let mut altered: Vec<(Arc<TableDef>, Arc<TableDef>)> = Vec::new();
        let mut touched = false;
        for (i, (key, after)) in mutations.iter().enumerate() {
            if *key == pub_key {
                self.def = after
                    .as_ref()
                    .map(|raw| {
                        serde_json::from_slice(raw)
                            .map_err(|e| Error::Storage(format!("corrupt publication: {e}")))
                    })
                    .transpose()?;
                touched = true;
                continue;
            }
            if !key.starts_with(&rel_prefix) {
                continue;
            }
            touched = true;
            let old = before
                .get(i)
                .filter(|(k, _)| k == key)
                .and_then(|(_, v)| v.as_ref())
                .map(|raw| table_of(raw))
                .transpose()?
                .flatten();
            let new = after
                .as_ref()
                .map(|raw| table_of(raw))
                .transpose()?
                .flatten();
            match (old, new) {
                (Some(o), Some(n)) => altered.push((o, n)),
                (Some(o), None) => dropped.push(o),
                (None, Some(n)) => created.push(n),
                (None, None) => {}
            }
        }
        if !touched {
            return Ok(Vec::new());
        }
        let altered_ids: Vec<u32> = altered.iter().map(|(_, n)| n.id).collect();
        // DDL text is judged against the publication *before* the record
        // (a dropped table was published until now).
        let ddl = self.def.as_ref().is_some_and(|d| d.replicate_ddl);
        let published =
            |d: &Option<PublicationDef>, id: u32| d.as_ref().is_some_and(|d| d.publishes(id));
        for (o, n) in &altered {
            if ddl && published(&self.def, n.id) {
                out.extend(alter_ddl(o, n).into_iter().map(Decoded::Ddl));
            }
        }
        for d in &dropped {
            if let Some(pos) = created.iter().position(|c| c.id == d.id) {
                // A rename moves the definition to a new key.
                let n = created.remove(pos);
                if ddl && published(&self.def, n.id) {
                    out.push(Decoded::Ddl(format!(
                        "ALTER TABLE public.{} RENAME TO {}",
                        quote(&d.name),
                        quote(&n.name)
                    )));
                    out.extend(alter_ddl(d, &n).into_iter().map(Decoded::Ddl));
                }
                self.tables.insert(n.id, n);
                continue;
            }
            if ddl && published(&self.def, d.id) {
                out.push(Decoded::Ddl(format!(
                    "DROP TABLE public.{}",
                    quote(&d.name)
                )));
            }
            self.tables.remove(&d.id);
        }
        for c in created {
            if ddl && self.def.as_ref().is_some_and(|d| d.all_tables) {
                out.push(Decoded::Ddl(create_ddl(&c)));
            }
            self.tables.insert(c.id, c);
        }
        for (_, n) in altered {
            self.tables.insert(n.id, n);
        }
        self.shapes.clear();
        Ok(altered_ids)
    }
}

fn table_of(raw: &[u8]) -> Result<Option<Arc<TableDef>>> {
    let rel: Relation = serde_json::from_slice(raw)
        .map_err(|e| Error::Storage(format!("corrupt catalog entry: {e}")))?;
    Ok(match rel {
        Relation::Table(t) => Some(t),
        _ => None,
    })
}

fn quote(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn column_ddl(c: &crate::catalog::ColumnDef) -> String {
    let mut s = format!(
        "{} {}",
        quote(&c.name),
        crate::types::oid::type_name(&c.data_type)
    );
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    s
}

/// `CREATE TABLE` for a definition (columns and primary key).
fn create_ddl(t: &TableDef) -> String {
    let mut parts: Vec<String> = t.columns.iter().map(column_ddl).collect();
    if !t.primary_key.is_empty() {
        let cols: Vec<String> = t
            .primary_key
            .iter()
            .filter_map(|&p| t.columns.get(p).map(|c| quote(&c.name)))
            .collect();
        parts.push(format!("PRIMARY KEY ({})", cols.join(", ")));
    }
    format!(
        "CREATE TABLE public.{} ({})",
        quote(&t.name),
        parts.join(", ")
    )
}

/// `ALTER TABLE` statements turning `old`'s columns into `new`'s.
fn alter_ddl(old: &TableDef, new: &TableDef) -> Vec<String> {
    let name = format!("public.{}", quote(&new.name));
    let mut out = Vec::new();
    for c in &old.columns {
        if new.column_index(&c.name).is_none() {
            out.push(format!("ALTER TABLE {name} DROP COLUMN {}", quote(&c.name)));
        }
    }
    for c in &new.columns {
        match old.columns.iter().find(|o| o.name == c.name) {
            None => out.push(format!("ALTER TABLE {name} ADD COLUMN {}", column_ddl(c))),
            Some(o) if o.data_type != c.data_type => out.push(format!(
                "ALTER TABLE {name} ALTER COLUMN {} TYPE {}",
                quote(&c.name),
                crate::types::oid::type_name(&c.data_type)
            )),
            Some(_) => {}
        }
    }
    out
}
