//! Running publication statements in the session's transaction.
//!
//! The statement runs like any DDL: in the open block's transaction or an
//! implicit one committed on success, refused with `25006` when the session
//! is read-only (a replica included). Validation follows PostgreSQL 15 and
//! uses its messages and SQLSTATEs (checked against a real server); the
//! row filter is bound with the same binder as a CHECK constraint, over the
//! table's columns, after a walk that refuses what PostgreSQL refuses in a
//! publication WHERE clause (subqueries, mutable functions, aggregates,
//! system columns).
//!
//! Masks are validated here too: the table must be published, the column
//! must exist, be published (column list) and not be part of the primary
//! key (the stream's `key` is never masked), and the mask must fit the
//! column's type.

use std::ops::ControlFlow;
use std::sync::Arc;

use sqlparser::ast::{self, Visit, Visitor};

use super::parse::{AlterAction, MaskSpec, PubStatement, TableSpec, Target};
use super::{MaskDef, PublicationDef, PublishOps, PublishedTable};
use crate::catalog::{Catalog, Relation, TableDef};
use crate::error::{Error, Result};
use crate::session::{QueryResult, Session};
use crate::statement::View;
use crate::storage::Transaction;
use crate::SqlState;

/// Functions a row filter may not call: PostgreSQL allows only immutable
/// built-ins, and these are the volatile or stable ones we implement.
const MUTABLE_FUNCTIONS: &[&str] = &[
    "random",
    "now",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "nextval",
    "currval",
    "setval",
    "lastval",
    "gen_random_uuid",
    "uuid_generate_v4",
    "txid_current",
    "current_setting",
    "set_config",
    "pg_backend_pid",
    "current_user",
    "session_user",
    "current_database",
    "to_char",
    "age",
];

const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "string_agg",
    "array_agg",
    "bool_and",
    "bool_or",
    "every",
    "json_agg",
    "jsonb_agg",
    "stddev",
    "variance",
];

impl Session {
    /// Runs a recognised publication statement (see `parse::recognize`).
    pub(crate) fn run_publication(&mut self, parsed: Result<PubStatement>) -> Result<QueryResult> {
        let r = self.run_publication_inner(parsed);
        if r.is_err() {
            self.fail_block();
        }
        r
    }

    fn run_publication_inner(&mut self, parsed: Result<PubStatement>) -> Result<QueryResult> {
        if self.block.as_ref().is_some_and(|b| b.failed) {
            return Err(Error::new(
                SqlState::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let stmt = parsed?;
        let verb = match &stmt {
            PubStatement::Create { .. } => "CREATE PUBLICATION",
            PubStatement::Alter { .. } => "ALTER PUBLICATION",
            PubStatement::Drop { .. } => "DROP PUBLICATION",
        };
        if self.access().read_only {
            return Err(Error::new(
                SqlState::READ_ONLY_SQL_TRANSACTION,
                format!("cannot execute {verb} in a read-only transaction"),
            ));
        }
        let txn = self.statement_txn()?;
        let result = {
            let mut guard = txn.lock();
            self.publication_statement(&mut **guard, stmt)
        };
        if self.block.is_some() {
            return result;
        }
        match result {
            Ok(r) => {
                self.commit_implicit(txn)?;
                Ok(r)
            }
            Err(e) => {
                self.end_statement_txn(txn, false);
                Err(e)
            }
        }
    }

    fn publication_statement(
        &self,
        txn: &mut dyn Transaction,
        stmt: PubStatement,
    ) -> Result<QueryResult> {
        let db = self.db.id;
        let tag = |t: &str| Ok(QueryResult::Command { tag: t.to_string() });
        match stmt {
            PubStatement::Create {
                name,
                target,
                options,
                masks,
            } => {
                if txn.lock(&super::publication_key(db, &name))?.is_some() {
                    return Err(Error::new(
                        SqlState::DUPLICATE_OBJECT,
                        format!("publication \"{name}\" already exists"),
                    ));
                }
                let id = crate::catalog::allocate_oid(txn)?;
                let mut def = PublicationDef {
                    id,
                    name,
                    owner: self.user.clone(),
                    all_tables: matches!(target, Target::AllTables),
                    publish: PublishOps::default(),
                    via_root: false,
                    tables: vec![],
                    masks: vec![],
                    mask_salt: None,
                    replicate_ddl: false,
                };
                apply_options(&mut def, &options)?;
                if let Target::Tables(specs) = target {
                    def.tables = self.resolve_tables(txn, &specs)?;
                }
                def.masks = self.resolve_masks(txn, &def, &masks)?;
                super::put(txn, db, &def)?;
                tag("CREATE PUBLICATION")
            }
            PubStatement::Alter { name, action } => {
                let Some(mut def) = self.locked(txn, &name)? else {
                    return Err(missing(&name));
                };
                match action {
                    AlterAction::SetOptions(options) => apply_options(&mut def, &options)?,
                    AlterAction::SetMask(masks) => {
                        def.masks = self.resolve_masks(txn, &def, &masks)?;
                    }
                    AlterAction::RenameTo(new) => {
                        if txn.lock(&super::publication_key(db, &new))?.is_some() {
                            return Err(Error::new(
                                SqlState::DUPLICATE_OBJECT,
                                format!("publication \"{new}\" already exists"),
                            ));
                        }
                        super::delete(txn, db, &def.name)?;
                        def.name = new;
                    }
                    AlterAction::OwnerTo(owner) => def.owner = owner,
                    AlterAction::AddTables(specs)
                    | AlterAction::SetTables(specs)
                    | AlterAction::DropTables(specs)
                        if def.all_tables =>
                    {
                        let _ = specs;
                        return Err(Error::new(
                            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                            format!("publication \"{}\" is defined as FOR ALL TABLES", def.name),
                        )
                        .with_detail(
                            "Tables cannot be added to or dropped from FOR ALL TABLES publications.",
                        ));
                    }
                    AlterAction::AddTables(specs) => {
                        for t in self.resolve_tables(txn, &specs)? {
                            if def.table(t.table_id).is_some() {
                                return Err(Error::new(
                                    SqlState::DUPLICATE_OBJECT,
                                    format!(
                                        "relation \"{}\" is already member of publication \"{}\"",
                                        t.table, def.name
                                    ),
                                ));
                            }
                            def.tables.push(t);
                        }
                    }
                    AlterAction::SetTables(specs) => {
                        def.tables = self.resolve_tables(txn, &specs)?;
                    }
                    AlterAction::DropTables(specs) => {
                        for t in self.resolve_tables(txn, &specs)? {
                            let Some(pos) =
                                def.tables.iter().position(|x| x.table_id == t.table_id)
                            else {
                                return Err(Error::new(
                                    SqlState::UNDEFINED_OBJECT,
                                    format!(
                                        "relation \"{}\" is not part of the publication",
                                        t.table
                                    ),
                                ));
                            };
                            def.tables.remove(pos);
                        }
                    }
                }
                // Masks on tables no longer published go with them.
                let published: Vec<u32> = def.tables.iter().map(|t| t.table_id).collect();
                if !def.all_tables {
                    def.masks.retain(|m| published.contains(&m.table_id));
                }
                super::put(txn, db, &def)?;
                tag("ALTER PUBLICATION")
            }
            PubStatement::Drop { names, if_exists } => {
                for name in names {
                    match self.locked(txn, &name)? {
                        Some(def) => super::delete(txn, db, &def.name)?,
                        None if if_exists => {
                            tracing::info!("publication \"{name}\" does not exist, skipping");
                        }
                        None => return Err(missing(&name)),
                    }
                }
                tag("DROP PUBLICATION")
            }
        }
    }

    /// Reads a publication with its key locked for the rest of the
    /// transaction (concurrent DDL on it serialises).
    fn locked(&self, txn: &mut dyn Transaction, name: &str) -> Result<Option<PublicationDef>> {
        match txn.lock(&super::publication_key(self.db.id, name))? {
            Some(raw) => serde_json::from_slice(&raw)
                .map(Some)
                .map_err(|e| Error::Storage(format!("corrupt publication: {e}"))),
            None => Ok(None),
        }
    }

    fn table_def(&self, txn: &mut dyn Transaction, name: &str) -> Result<Arc<TableDef>> {
        let mut catalog = Catalog {
            txn,
            cache: &self.engine.catalog_cache,
            db: self.db.id,
        };
        match catalog.relation(name)?.as_deref() {
            Some(Relation::Table(t)) => Ok(t.clone()),
            Some(other) => {
                let kind = match other {
                    Relation::View(_) => "views",
                    Relation::Sequence(_) => "sequences",
                    _ => "indexes",
                };
                Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("cannot add relation \"{name}\" to publication"),
                )
                .with_detail(format!("This operation is not supported for {kind}.")))
            }
            None => Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            )),
        }
    }

    /// Resolves and validates a table list (column lists, row filters).
    fn resolve_tables(
        &self,
        txn: &mut dyn Transaction,
        specs: &[TableSpec],
    ) -> Result<Vec<PublishedTable>> {
        let mut out: Vec<(PublishedTable, bool)> = Vec::new();
        for spec in specs {
            let table = self.table_def(txn, &spec.name)?;
            let columns = match &spec.columns {
                Some(cols) => Some(column_list(&table, cols)?),
                None => None,
            };
            let row_filter = match &spec.filter {
                Some(e) => {
                    self.check_filter(txn, &table, e)?;
                    Some(e.to_string())
                }
                None => None,
            };
            let explicit = spec.columns.is_some() || spec.filter.is_some();
            if let Some((prev, prev_explicit)) =
                out.iter_mut().find(|(p, _)| p.table_id == table.id)
            {
                // PostgreSQL merges a repeated plain entry, but refuses two
                // entries of which one has a filter or a column list.
                if explicit || *prev_explicit {
                    let what = if spec.filter.is_some() || prev.row_filter.is_some() {
                        "WHERE clauses"
                    } else {
                        "column lists"
                    };
                    return Err(Error::new(
                        SqlState::DUPLICATE_OBJECT,
                        format!(
                            "conflicting or redundant {what} for table \"{}\"",
                            table.name
                        ),
                    ));
                }
                continue;
            }
            out.push((
                PublishedTable {
                    table_id: table.id,
                    table: table.name.clone(),
                    columns,
                    row_filter,
                },
                explicit,
            ));
        }
        Ok(out.into_iter().map(|(t, _)| t).collect())
    }

    /// Validates a row filter as PostgreSQL does, then binds it over the
    /// table's columns (which checks names and the boolean type).
    fn check_filter(
        &self,
        txn: &mut dyn Transaction,
        table: &TableDef,
        e: &ast::Expr,
    ) -> Result<()> {
        check_filter_shape(e)?;
        let view = View { session: self };
        let mut binder = self.binder(txn, &view, &[]);
        let scope = crate::plan::dml::table_scope(table, &table.name, false);
        binder.predicate(e, &scope, "PUBLICATION WHERE").map(|_| ())
    }

    fn resolve_masks(
        &self,
        txn: &mut dyn Transaction,
        def: &PublicationDef,
        specs: &[MaskSpec],
    ) -> Result<Vec<MaskDef>> {
        let mut out: Vec<MaskDef> = Vec::new();
        for spec in specs {
            let table = self.table_def(txn, &spec.table)?;
            if !def.publishes(table.id) {
                return Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!("relation \"{}\" is not part of the publication", table.name),
                )
                .with_hint("Only columns of published tables can be masked."));
            }
            let Some(pos) = table.column_index(&spec.column) else {
                return Err(Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!(
                        "column \"{}\" of relation \"{}\" does not exist",
                        spec.column, table.name
                    ),
                ));
            };
            if let Some(cols) = def.table(table.id).and_then(|t| t.columns.as_ref()) {
                if !cols.contains(&spec.column) {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!(
                            "column \"{}\" of relation \"{}\" is not in the publication's column list",
                            spec.column, table.name
                        ),
                    ));
                }
            }
            if table
                .primary_key_columns()
                .is_some_and(|pk| pk.contains(&pos))
            {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!(
                        "cannot mask column \"{}\" of relation \"{}\": it is part of the primary key",
                        spec.column, table.name
                    ),
                )
                .with_detail("Changes are identified by their primary key, which is sent unmasked."));
            }
            if let Some(col) = table.columns.get(pos) {
                spec.mask.check_type(&spec.column, &col.data_type)?;
            }
            if spec.mask == super::Mask::Hash && def.mask_salt.is_none() {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "mask \"hash\" requires the publication option mask_salt",
                ));
            }
            if out
                .iter()
                .any(|m| m.table_id == table.id && m.column == spec.column)
            {
                return Err(Error::new(
                    SqlState::DUPLICATE_OBJECT,
                    format!(
                        "conflicting or redundant masks for column \"{}\" of relation \"{}\"",
                        spec.column, table.name
                    ),
                ));
            }
            out.push(MaskDef {
                table_id: table.id,
                table: table.name.clone(),
                column: spec.column.clone(),
                mask: spec.mask.clone(),
            });
        }
        Ok(out)
    }
}

fn missing(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_OBJECT,
        format!("publication \"{name}\" does not exist"),
    )
}

/// A column list: known columns, no duplicates, kept in table order.
fn column_list(table: &TableDef, cols: &[String]) -> Result<Vec<String>> {
    let mut seen = Vec::new();
    for c in cols {
        if matches!(
            c.as_str(),
            "ctid" | "xmin" | "xmax" | "cmin" | "cmax" | "tableoid"
        ) {
            return Err(Error::new(
                SqlState::INVALID_COLUMN_REFERENCE,
                format!("cannot use system column \"{c}\" in publication column list"),
            ));
        }
        let Some(pos) = table.column_index(c) else {
            return Err(Error::new(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{c}\" of relation \"{}\" does not exist",
                    table.name
                ),
            ));
        };
        if seen.contains(&pos) {
            return Err(Error::new(
                SqlState::DUPLICATE_OBJECT,
                format!("duplicate column \"{c}\" in publication column list"),
            ));
        }
        seen.push(pos);
    }
    seen.sort_unstable();
    Ok(seen
        .into_iter()
        .filter_map(|p| table.columns.get(p).map(|c| c.name.clone()))
        .collect())
}

fn invalid_filter(detail: &str) -> Error {
    Error::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        "invalid publication WHERE expression",
    )
    .with_detail(detail)
}

/// Refuses what PostgreSQL's `check_simple_rowfilter_expr` refuses.
fn check_filter_shape(e: &ast::Expr) -> Result<()> {
    struct Walk(Option<Error>);
    impl Visitor for Walk {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &ast::Expr) -> ControlFlow<()> {
            let err = match e {
                ast::Expr::Subquery(_) | ast::Expr::Exists { .. } | ast::Expr::InSubquery { .. } => {
                    Some(invalid_filter(
                        "Only columns, constants, built-in operators, built-in data types, built-in collations, and immutable built-in functions are allowed.",
                    ))
                }
                ast::Expr::Identifier(id)
                    if matches!(id.value.as_str(), "ctid" | "xmin" | "xmax" | "cmin" | "cmax" | "tableoid") =>
                {
                    Some(invalid_filter("System columns are not allowed."))
                }
                ast::Expr::Function(f) => {
                    let name = f.name.to_string().to_lowercase();
                    let name = name.rsplit('.').next().unwrap_or(&name).to_string();
                    if AGGREGATES.contains(&name.as_str()) {
                        Some(Error::new(
                            SqlState::GROUPING_ERROR,
                            "aggregate functions are not allowed in WHERE",
                        ))
                    } else if MUTABLE_FUNCTIONS.contains(&name.as_str()) {
                        Some(invalid_filter(
                            "User-defined or built-in mutable functions are not allowed.",
                        ))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            match err {
                Some(e) => {
                    self.0 = Some(e);
                    ControlFlow::Break(())
                }
                None => ControlFlow::Continue(()),
            }
        }
    }
    let mut walk = Walk(None);
    let _ = e.visit(&mut walk);
    match walk.0 {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Applies `WITH (...)` / `SET (...)` options.
fn apply_options(def: &mut PublicationDef, options: &[(String, String)]) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in options {
        if seen.contains(&name.as_str()) {
            return Err(Error::syntax("conflicting or redundant options"));
        }
        seen.push(name);
        match name.as_str() {
            "publish" => {
                let mut ops = PublishOps {
                    insert: false,
                    update: false,
                    delete: false,
                    truncate: false,
                };
                for op in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match op {
                        "insert" => ops.insert = true,
                        "update" => ops.update = true,
                        "delete" => ops.delete = true,
                        "truncate" => ops.truncate = true,
                        other => {
                            return Err(Error::syntax(format!(
                                "unrecognized value for publication option \"publish\": \"{other}\""
                            )))
                        }
                    }
                }
                def.publish = ops;
            }
            "publish_via_partition_root" => def.via_root = boolean(name, value)?,
            "replicate_ddl" => def.replicate_ddl = boolean(name, value)?,
            "mask_salt" => def.mask_salt = Some(value.clone()),
            other => {
                return Err(Error::syntax(format!(
                    "unrecognized publication parameter: \"{other}\""
                )))
            }
        }
    }
    Ok(())
}

fn boolean(name: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "on" | "1" | "yes" => Ok(true),
        "false" | "off" | "0" | "no" => Ok(false),
        _ => Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("{name} requires a Boolean value"),
        )),
    }
}
