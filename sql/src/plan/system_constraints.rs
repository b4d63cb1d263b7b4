//! Constraints in the system catalogs: `pg_constraint`, the definitions
//! `pg_get_constraintdef` prints, and the `information_schema` views
//! `table_constraints`, `key_column_usage` and `referential_constraints`.
//!
//! Every constraint of a table is first turned into one `Constraint` value
//! (`constraints_of`), and each view is a projection of that list, so
//! psql's `\d`, drivers' reflection queries and SQLAlchemy see the same
//! constraint the same way everywhere. OIDs: a row-key primary key is
//! `table + 2,000,000` (its index `table + 1,000,000`), a key kept as an
//! index is `index + 2,000,000`, a CHECK `table * 100 + n + 3,000,000`,
//! a foreign key its own allocated object id.

use std::sync::Arc;

use super::system::{bo, cols, i2, o, t, PUBLIC_NS};
use crate::catalog::{FkAction, ForeignKeyDef, Relation, TableDef};
use crate::expr::Row;
use crate::types::{DataType, Value};

/// One constraint as the catalogs describe it.
pub struct Constraint {
    pub oid: u32,
    pub name: String,
    /// `p`, `u`, `c` or `f`.
    pub contype: &'static str,
    pub relid: u32,
    pub table: String,
    /// The supporting index (for a foreign key: the referenced key's).
    pub indid: u32,
    /// Constrained columns (0-based positions).
    pub keys: Vec<usize>,
    /// Foreign keys: the referenced table and columns, and the actions.
    pub foreign: Option<(Arc<TableDef>, Vec<usize>, FkAction, FkAction)>,
    /// False for a foreign key added NOT VALID and not validated since.
    pub validated: bool,
    /// `pg_get_constraintdef` text.
    pub def: String,
}

fn names(tb: &TableDef, c: &[usize]) -> String {
    c.iter()
        .filter_map(|i| tb.columns.get(*i).map(|c| c.name.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `FOREIGN KEY (a) REFERENCES p(id) ON UPDATE ... ON DELETE ...`, as
/// PostgreSQL's `pg_get_constraintdef` prints it.
pub fn foreign_key_def(tb: &TableDef, fk: &ForeignKeyDef, parent: Option<&TableDef>) -> String {
    let ref_names = match parent {
        Some(p) => names(p, &fk.ref_columns),
        None => String::new(),
    };
    let mut s = format!(
        "FOREIGN KEY ({}) REFERENCES {}({})",
        names(tb, &fk.columns),
        fk.ref_table,
        ref_names
    );
    if fk.on_update != FkAction::NoAction {
        s.push_str(&format!(" ON UPDATE {}", fk.on_update.sql()));
    }
    if fk.on_delete != FkAction::NoAction {
        s.push_str(&format!(" ON DELETE {}", fk.on_delete.sql()));
    }
    s
}

/// The index that backs `cols` of `parent` (for `conindid`).
fn key_index(parent: &TableDef, cols: &[usize]) -> u32 {
    if !parent.has_row_id() && crate::foreign_key::same_set(&parent.primary_key, cols) {
        return parent.id + 1_000_000;
    }
    parent
        .indexes
        .iter()
        .find(|i| i.unique && crate::foreign_key::same_set(&i.columns, cols))
        .map(|i| i.id)
        .unwrap_or(0)
}

/// Every constraint of `tb`; `tables` resolves foreign keys' parents.
pub fn constraints_of(tb: &TableDef, tables: &[Arc<TableDef>]) -> Vec<Constraint> {
    let mut out = Vec::new();
    let base = |oid, name: &str, contype, indid, keys: Vec<usize>, def| Constraint {
        oid,
        name: name.to_string(),
        contype,
        relid: tb.id,
        table: tb.name.clone(),
        indid,
        keys,
        foreign: None,
        validated: true,
        def,
    };
    if !tb.primary_key.is_empty() {
        let n = tb
            .primary_key_name
            .clone()
            .unwrap_or_else(|| format!("{}_pkey", tb.name));
        out.push(base(
            tb.id + 2_000_000,
            &n,
            "p",
            tb.id + 1_000_000,
            tb.primary_key.clone(),
            format!("PRIMARY KEY ({})", names(tb, &tb.primary_key)),
        ));
    }
    for ix in tb.indexes.iter().filter(|i| i.primary || i.unique) {
        let (kind, word) = if ix.primary {
            ("p", "PRIMARY KEY")
        } else {
            ("u", "UNIQUE")
        };
        out.push(base(
            ix.id + 2_000_000,
            &ix.name,
            kind,
            ix.id,
            ix.columns.clone(),
            format!("{word} ({})", names(tb, &ix.columns)),
        ));
    }
    for (i, c) in tb.checks.iter().enumerate() {
        out.push(base(
            tb.id * 100 + i as u32 + 3_000_000,
            &c.name,
            "c",
            0,
            Vec::new(),
            format!("CHECK ({})", c.expr),
        ));
    }
    for fk in &tb.foreign_keys {
        let parent = tables.iter().find(|p| p.name == fk.ref_table).cloned();
        let def = foreign_key_def(tb, fk, parent.as_deref());
        let indid = parent
            .as_deref()
            .map(|p| key_index(p, &fk.ref_columns))
            .unwrap_or(0);
        let mut c = base(fk.id, &fk.name, "f", indid, fk.columns.clone(), def);
        c.foreign = parent.map(|p| (p, fk.ref_columns.clone(), fk.on_update, fk.on_delete));
        c.validated = fk.validated;
        if !fk.validated {
            c.def.push_str(" NOT VALID");
        }
        out.push(c);
    }
    out
}

/// The tables among `relations`.
pub fn tables_of(relations: &[Arc<Relation>]) -> Vec<Arc<TableDef>> {
    relations
        .iter()
        .filter_map(|r| match &**r {
            Relation::Table(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// (constraint oid, definition) of a table's constraints.
pub fn constraint_defs(tb: &TableDef, relations: &[Arc<Relation>]) -> Vec<(u32, String)> {
    constraints_of(tb, &tables_of(relations))
        .into_iter()
        .map(|c| (c.oid, c.def))
        .collect()
}

fn int2_array(c: &[usize]) -> Value {
    if c.is_empty() {
        return Value::Null;
    }
    Value::Array(c.iter().map(|i| i2(*i as i16 + 1)).collect())
}

pub(super) fn pg_constraint(tables: &[Arc<TableDef>]) -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let mut rows = Vec::new();
    for tb in tables {
        for c in constraints_of(tb, tables) {
            let (frelid, fkeys, upd, del, matchtype) = match &c.foreign {
                Some((p, k, u, d)) => (p.id, int2_array(k), t(u.code()), t(d.code()), t("s")),
                None => (0, Value::Null, t(" "), t(" "), t(" ")),
            };
            rows.push(vec![
                o(c.oid),
                t(&c.name),
                o(PUBLIC_NS),
                t(c.contype),
                bo(false),
                bo(false),
                o(c.relid),
                o(c.indid),
                t(&c.def),
                o(frelid),
                upd,
                del,
                matchtype,
                int2_array(&c.keys),
                fkeys,
                o(0),
                bo(c.validated),
                bo(true),
                i2(0),
                bo(false),
                o(0),
            ]);
        }
    }
    (
        cols(&[
            ("oid", T::Oid),
            ("conname", T::Name),
            ("connamespace", T::Oid),
            ("contype", T::InternalChar),
            ("condeferrable", T::Bool),
            ("condeferred", T::Bool),
            ("conrelid", T::Oid),
            ("conindid", T::Oid),
            ("condef", T::Text),
            ("confrelid", T::Oid),
            ("confupdtype", T::InternalChar),
            ("confdeltype", T::InternalChar),
            ("confmatchtype", T::InternalChar),
            ("conkey", T::Array(Box::new(T::Int2))),
            ("confkey", T::Array(Box::new(T::Int2))),
            ("conparentid", T::Oid),
            ("convalidated", T::Bool),
            ("conislocal", T::Bool),
            ("coninhcount", T::Int2),
            ("connoinherit", T::Bool),
            ("contypid", T::Oid),
        ]),
        rows,
    )
}

fn yes_no(b: bool) -> Value {
    t(if b { "YES" } else { "NO" })
}

/// `information_schema.table_constraints` (PRIMARY KEY, UNIQUE, FOREIGN
/// KEY, CHECK; PostgreSQL also lists NOT NULL checks, which we omit).
pub(super) fn table_constraints(
    db: &str,
    tables: &[Arc<TableDef>],
) -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let mut rows = Vec::new();
    for tb in tables {
        for c in constraints_of(tb, tables) {
            let kind = match c.contype {
                "p" => "PRIMARY KEY",
                "u" => "UNIQUE",
                "f" => "FOREIGN KEY",
                _ => "CHECK",
            };
            rows.push(vec![
                t(db),
                t("public"),
                t(&c.name),
                t(db),
                t("public"),
                t(&c.table),
                t(kind),
                yes_no(false),
                yes_no(false),
                yes_no(true),
                Value::Null,
            ]);
        }
    }
    (
        cols(&[
            ("constraint_catalog", T::Name),
            ("constraint_schema", T::Name),
            ("constraint_name", T::Name),
            ("table_catalog", T::Name),
            ("table_schema", T::Name),
            ("table_name", T::Name),
            ("constraint_type", T::Text),
            ("is_deferrable", T::Text),
            ("initially_deferred", T::Text),
            ("enforced", T::Text),
            ("nulls_distinct", T::Text),
        ]),
        rows,
    )
}

/// `information_schema.key_column_usage`: the columns of PRIMARY KEY,
/// UNIQUE and FOREIGN KEY constraints.
pub(super) fn key_column_usage(
    db: &str,
    tables: &[Arc<TableDef>],
) -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let mut rows = Vec::new();
    for tb in tables {
        for c in constraints_of(tb, tables) {
            if c.contype == "c" {
                continue;
            }
            for (i, col) in c.keys.iter().enumerate() {
                let Some(column) = tb.columns.get(*col) else {
                    continue;
                };
                // For a foreign key: the position of the referenced column
                // within the referenced unique key.
                let in_unique = match &c.foreign {
                    Some((p, ref_cols, _, _)) => {
                        let key = if !p.has_row_id()
                            && crate::foreign_key::same_set(&p.primary_key, ref_cols)
                        {
                            p.primary_key.clone()
                        } else {
                            p.indexes
                                .iter()
                                .find(|x| {
                                    x.unique && crate::foreign_key::same_set(&x.columns, ref_cols)
                                })
                                .map(|x| x.columns.clone())
                                .unwrap_or_default()
                        };
                        ref_cols
                            .get(i)
                            .and_then(|rc| key.iter().position(|k| k == rc))
                            .map(|p| Value::Int4(p as i32 + 1))
                            .unwrap_or(Value::Null)
                    }
                    None => Value::Null,
                };
                rows.push(vec![
                    t(db),
                    t("public"),
                    t(&c.name),
                    t(db),
                    t("public"),
                    t(&tb.name),
                    t(&column.name),
                    Value::Int4(i as i32 + 1),
                    in_unique,
                ]);
            }
        }
    }
    (
        cols(&[
            ("constraint_catalog", T::Name),
            ("constraint_schema", T::Name),
            ("constraint_name", T::Name),
            ("table_catalog", T::Name),
            ("table_schema", T::Name),
            ("table_name", T::Name),
            ("column_name", T::Name),
            ("ordinal_position", T::Int4),
            ("position_in_unique_constraint", T::Int4),
        ]),
        rows,
    )
}

/// `information_schema.referential_constraints`: each foreign key with the
/// unique constraint it references and its actions.
pub(super) fn referential_constraints(
    db: &str,
    tables: &[Arc<TableDef>],
) -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let mut rows = Vec::new();
    for tb in tables {
        for c in constraints_of(tb, tables) {
            let Some((p, ref_cols, upd, del)) = &c.foreign else {
                continue;
            };
            let unique_name = constraints_of(p, tables)
                .into_iter()
                .find(|u| {
                    matches!(u.contype, "p" | "u")
                        && crate::foreign_key::same_set(&u.keys, ref_cols)
                })
                .map(|u| t(&u.name))
                .unwrap_or(Value::Null);
            rows.push(vec![
                t(db),
                t("public"),
                t(&c.name),
                t(db),
                t("public"),
                unique_name,
                t("NONE"),
                t(upd.sql()),
                t(del.sql()),
            ]);
        }
    }
    (
        cols(&[
            ("constraint_catalog", T::Name),
            ("constraint_schema", T::Name),
            ("constraint_name", T::Name),
            ("unique_constraint_catalog", T::Name),
            ("unique_constraint_schema", T::Name),
            ("unique_constraint_name", T::Name),
            ("match_option", T::Text),
            ("update_rule", T::Text),
            ("delete_rule", T::Text),
        ]),
        rows,
    )
}
