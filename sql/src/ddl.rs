//! DDL and utility statements: databases, tables, indexes, sequences, views,
//! TRUNCATE, COPY, ANALYZE/VACUUM.
//!
//! DDL runs inside the statement's transaction like any other write: the
//! catalog entries and the data they describe change atomically, so a
//! rolled-back CREATE INDEX leaves neither the definition nor its entries.
//! Relation names are locked for the duration, so concurrent DDL on one
//! name serializes.

use sqlparser::ast::{self, Statement};

use crate::catalog::{
    self, CheckDef, ColumnDef, DatabaseDef, IndexDef, Relation, SequenceDef, TableDef, ViewDef,
};
use crate::encoding::keycode::prefix_end;
use crate::encoding::keys;
use crate::error::{Error, Result};
use crate::exec::scan::{all_rows, index_entry_key};
use crate::exec::ExecCtx;
use crate::plan::bind::ident;
use crate::plan::forms::{convert_type, serial_type};
use crate::session::{QueryResult, Session};
use crate::storage::TxnOptions;
use crate::types::DataType;
use crate::SqlState;

fn done(tag: &str) -> Result<QueryResult> {
    Ok(QueryResult::Command {
        tag: tag.to_string(),
    })
}

pub(crate) fn object_name(name: &ast::ObjectName) -> String {
    crate::plan::func::function_name(name)
}

/// Statements PostgreSQL refuses inside a transaction block.
pub fn needs_no_transaction_block(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::CreateDatabase { .. }
            | Statement::Drop {
                object_type: ast::ObjectType::Database,
                ..
            }
            | Statement::Vacuum(_)
    )
}

/// The command name for error messages.
pub fn statement_name(stmt: &Statement) -> &'static str {
    match stmt {
        Statement::CreateDatabase { .. } => "CREATE DATABASE",
        Statement::Drop { .. } => "DROP DATABASE",
        _ => "VACUUM",
    }
}

/// CREATE / DROP DATABASE and VACUUM (each in its own transaction).
pub fn database_statement(session: &mut Session, stmt: &Statement) -> Result<QueryResult> {
    let storage = session.engine.storage.clone();
    match stmt {
        Statement::Vacuum(_) => done("VACUUM"),
        Statement::CreateDatabase {
            db_name,
            if_not_exists,
            ..
        } => {
            let name = object_name(db_name);
            let mut txn = storage.begin(TxnOptions::default())?;
            if txn.lock(&keys::database(&name))?.is_some() {
                txn.rollback();
                if *if_not_exists {
                    return done("CREATE DATABASE");
                }
                return Err(Error::new(
                    SqlState::DUPLICATE_DATABASE,
                    format!("database \"{name}\" already exists"),
                ));
            }
            let id = catalog::allocate_oid(&mut *txn)?;
            catalog::put_database(
                &mut *txn,
                &DatabaseDef {
                    id,
                    name,
                    owner: session.user.clone(),
                },
            )?;
            session.commit_txn(txn)?;
            done("CREATE DATABASE")
        }
        Statement::Drop {
            names, if_exists, ..
        } => {
            for n in names {
                let name = object_name(n);
                if name == session.db.name {
                    return Err(Error::new(
                        SqlState::OBJECT_IN_USE,
                        "cannot drop the currently open database",
                    ));
                }
                let mut txn = storage.begin(TxnOptions::default())?;
                let Some(raw) = txn.lock(&keys::database(&name))? else {
                    txn.rollback();
                    if *if_exists {
                        continue;
                    }
                    return Err(Error::new(
                        SqlState::UNDEFINED_DATABASE,
                        format!("database \"{name}\" does not exist"),
                    ));
                };
                let def: DatabaseDef =
                    serde_json::from_slice(&raw).map_err(|e| Error::Storage(e.to_string()))?;
                for prefix in [
                    keys::relations_prefix(def.id),
                    keys::database_data_prefix(def.id),
                ] {
                    delete_range(&mut *txn, &prefix)?;
                }
                txn.delete(&keys::database(&name))?;
                session.commit_txn(txn)?;
            }
            done("DROP DATABASE")
        }
        _ => Err(Error::internal("not a database statement")),
    }
}

/// Deletes every key with `prefix`.
pub(crate) fn delete_range(txn: &mut dyn crate::storage::Transaction, prefix: &[u8]) -> Result<()> {
    let end = prefix_end(prefix);
    let mut from = prefix.to_vec();
    loop {
        let page = txn.scan(&from, &end, 1024)?;
        let Some((last, _)) = page.last() else {
            return Ok(());
        };
        // Continue after this page: rescanning from the prefix would walk
        // over every key already deleted (quadratic in the table size).
        from = last.clone();
        from.push(0);
        for (k, _) in page {
            txn.delete(&k)?;
        }
    }
}

/// Executes a DDL or utility statement in the statement's transaction.
pub fn execute(session: &mut Session, ctx: &ExecCtx, stmt: &Statement) -> Result<QueryResult> {
    match stmt {
        Statement::CreateTable(ct) => create_table(session, ctx, ct),
        Statement::CreateIndex(ci) => create_index(ctx, ci),
        Statement::CreateSequence {
            name,
            if_not_exists,
            sequence_options,
            data_type,
            ..
        } => {
            let n = object_name(name);
            let ty = data_type
                .as_ref()
                .map(convert_type)
                .transpose()?
                .unwrap_or(DataType::Int8);
            create_sequence(ctx, &n, *if_not_exists, &ty, sequence_options, None)?;
            done("CREATE SEQUENCE")
        }
        Statement::CreateView(cv) => create_view(session, ctx, cv),
        Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => drop_objects(ctx, object_type, *if_exists, names, *cascade),
        Statement::Truncate(t) => truncate(ctx, t),
        Statement::AlterTable(at) => crate::alter::alter_table(session, ctx, at),
        Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } => crate::copy::start(session, ctx, source, *to, target, options, legacy_options),
        Statement::Analyze(_) => done("ANALYZE"),
        Statement::Comment { .. } => done("COMMENT"),
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => {
            let n = schema_name.to_string();
            if n == "public" && *if_not_exists {
                return done("CREATE SCHEMA");
            }
            Err(Error::unsupported(
                "CREATE SCHEMA is not supported (only the public schema exists)",
            ))
        }
        Statement::CreateExtension(_) => Err(Error::unsupported("extensions are not supported")),
        Statement::Grant(_) => done("GRANT"),
        Statement::Revoke(_) => done("REVOKE"),
        Statement::Lock(_) | Statement::LockTables { .. } => done("LOCK TABLE"),
        other => Err(Error::unsupported(format!(
            "statement not supported: {}",
            first_words(&other.to_string())
        ))),
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Fails with 42P07 if the name is taken (unless IF NOT EXISTS).
fn claim_name(ctx: &ExecCtx, name: &str, if_not_exists: bool, kind: &str) -> Result<bool> {
    let existing = ctx.with_catalog(|c| c.lock_relation(name))?;
    if existing.is_some() {
        if if_not_exists {
            return Ok(false);
        }
        return Err(Error::new(
            SqlState::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        )
        .with_detail(format!("while creating {kind}")));
    }
    Ok(true)
}

fn index_columns(table: &TableDef, cols: &[ast::IndexColumn]) -> Result<Vec<usize>> {
    cols.iter()
        .map(|c| {
            let n = match &c.column.expr {
                ast::Expr::Identifier(id) => ident(id),
                other => return Err(Error::unsupported(format!("index on expression {other}"))),
            };
            table.column_index(&n).ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{n}\" does not exist"),
                )
            })
        })
        .collect()
}

/// The columns `CREATE TABLE t (LIKE src)` copies: names, types and NOT
/// NULL, plus defaults only with `INCLUDING DEFAULTS` (PostgreSQL copies
/// no other constraint and no index by default).
fn like_columns(ctx: &ExecCtx, like: &ast::CreateTableLikeKind) -> Result<Vec<ColumnDef>> {
    let (ast::CreateTableLikeKind::Parenthesized(like) | ast::CreateTableLikeKind::Plain(like)) =
        like;
    let source = ctx.with_catalog(|c| c.table(&object_name(&like.name)))?;
    let with_defaults = matches!(like.defaults, Some(ast::CreateTableLikeDefaults::Including));
    Ok(source
        .columns
        .iter()
        .map(|c| ColumnDef {
            name: c.name.clone(),
            data_type: c.data_type.clone(),
            nullable: c.nullable,
            default: c.default.clone().filter(|_| with_defaults),
        })
        .collect())
}

fn create_table(
    session: &mut Session,
    ctx: &ExecCtx,
    ct: &ast::CreateTable,
) -> Result<QueryResult> {
    let name = object_name(&ct.name);
    if !claim_name(ctx, &name, ct.if_not_exists, "table")? {
        return done("CREATE TABLE");
    }
    if let Some(q) = &ct.query {
        return crate::alter::create_table_as(session, ctx, &name, q);
    }
    let id = ctx.with_catalog(|c| c.allocate_oid())?;
    let mut table = TableDef {
        id,
        name: name.clone(),
        columns: vec![],
        primary_key: vec![],
        primary_key_name: None,
        indexes: vec![],
        checks: vec![],
        foreign_keys: vec![],
        referenced_by: vec![],
    };
    if let Some(like) = &ct.like {
        table.columns = like_columns(ctx, like)?;
    }
    let mut uniques: Vec<(Option<String>, Vec<String>)> = Vec::new();
    let mut pk: Option<(Option<String>, Vec<String>)> = None;
    let mut fks: Vec<crate::foreign_key::ddl::FkSpec> = Vec::new();
    for col in &ct.columns {
        let cname = ident(&col.name);
        if table.column_index(&cname).is_some() {
            return Err(Error::new(
                SqlState::DUPLICATE_COLUMN,
                format!("column \"{cname}\" specified more than once"),
            ));
        }
        let mut def = ColumnDef {
            name: cname.clone(),
            data_type: convert_type(&col.data_type)?,
            nullable: true,
            default: None,
        };
        if serial_type(&col.data_type).is_some() {
            let seq = format!("{name}_{cname}_seq");
            let ty = def.data_type.clone();
            create_sequence(
                ctx,
                &seq,
                false,
                &ty,
                &[],
                Some((name.clone(), cname.clone())),
            )?;
            def.default = Some(format!("nextval('{seq}'::regclass)"));
            def.nullable = false;
        }
        for opt in &col.options {
            crate::alter::apply_column_option(
                &mut table,
                &mut def,
                &opt.option,
                opt.name.as_ref().map(ident),
                &mut pk,
                &mut uniques,
                &mut fks,
            )?;
        }
        table.columns.push(def);
    }
    for c in &ct.constraints {
        match c {
            ast::TableConstraint::PrimaryKey(p) => {
                if pk.is_some() {
                    return Err(Error::new(
                        SqlState::INVALID_TABLE_DEFINITION,
                        format!("multiple primary keys for table \"{name}\" are not allowed"),
                    ));
                }
                let cols = p
                    .columns
                    .iter()
                    .map(|c| c.column.expr.to_string().trim_matches('"').to_lowercase())
                    .collect();
                pk = Some((p.name.as_ref().map(ident), cols));
            }
            ast::TableConstraint::Unique(u) => uniques.push((
                u.name.as_ref().map(ident),
                u.columns
                    .iter()
                    .map(|c| c.column.expr.to_string().trim_matches('"').to_lowercase())
                    .collect(),
            )),
            ast::TableConstraint::Check(ch) => {
                let n = ch.name.as_ref().map(ident).unwrap_or_else(|| {
                    format!(
                        "{name}_check{}",
                        if table.checks.is_empty() {
                            String::new()
                        } else {
                            table.checks.len().to_string()
                        }
                    )
                });
                table.checks.push(CheckDef {
                    name: n,
                    expr: ch.expr.to_string(),
                });
            }
            ast::TableConstraint::ForeignKey(f) => fks.push(crate::foreign_key::ddl::FkSpec {
                name: f.name.as_ref().map(ident),
                constraint: f.clone(),
                column: None,
            }),
            other => return Err(Error::unsupported(format!("constraint {other}"))),
        }
    }
    if let Some((cname, cols)) = pk {
        let mut positions = Vec::new();
        for n in &cols {
            let i = table.column_index(n).ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{n}\" named in key does not exist"),
                )
            })?;
            table.columns[i].nullable = false;
            positions.push(i);
        }
        table.primary_key = positions;
        table.primary_key_name = Some(cname.unwrap_or_else(|| format!("{name}_pkey")));
    }
    for (cname, cols) in uniques {
        let mut positions = Vec::new();
        for n in &cols {
            positions.push(table.column_index(n).ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{n}\" named in key does not exist"),
                )
            })?);
        }
        let iname = cname.unwrap_or_else(|| format!("{name}_{}_key", cols.join("_")));
        let iid = ctx.with_catalog(|c| c.allocate_oid())?;
        claim_name(ctx, &iname, false, "index")?;
        ctx.with_catalog(|c| {
            c.put_relation(&Relation::Index {
                id: iid,
                name: iname.clone(),
                table: name.clone(),
            })
        })?;
        table.indexes.push(IndexDef {
            id: iid,
            name: iname,
            columns: positions,
            unique: true,
            primary: false,
        });
    }
    if let Some(pkname) = &table.primary_key_name {
        ctx.with_catalog(|c| {
            c.put_relation(&Relation::Index {
                id: table.id + 1_000_000,
                name: pkname.clone(),
                table: name.clone(),
            })
        })?;
    }
    for spec in &fks {
        // Validating scans the new, empty table: cheap, and marks it valid.
        crate::foreign_key::ddl::add(ctx, &mut table, spec, true)?;
    }
    // Validate CHECK and DEFAULT expressions now, as PostgreSQL does.
    crate::alter::validate_rules(session, ctx, &table)?;
    ctx.with_catalog(|c| c.put_relation(&Relation::Table(std::sync::Arc::new(table))))?;
    done("CREATE TABLE")
}

/// Creates a sequence; `owned_by` ties it to a serial column.
pub(crate) fn create_sequence(
    ctx: &ExecCtx,
    name: &str,
    if_not_exists: bool,
    ty: &DataType,
    options: &[ast::SequenceOptions],
    owned_by: Option<(String, String)>,
) -> Result<()> {
    if !claim_name(ctx, name, if_not_exists, "sequence")? {
        return Ok(());
    }
    let type_max = match ty {
        DataType::Int2 => i64::from(i16::MAX),
        DataType::Int4 => i64::from(i32::MAX),
        _ => i64::MAX,
    };
    let mut def = SequenceDef {
        id: 0,
        name: name.to_string(),
        data_type: ty.clone(),
        start: 1,
        increment: 1,
        min: 1,
        max: type_max,
        cycle: false,
        owned_by,
    };
    let num = |e: &ast::Expr| -> Result<i64> {
        let s = e.to_string();
        s.parse::<i64>()
            .map_err(|_| Error::syntax(format!("invalid sequence option value {s}")))
    };
    let mut start = None;
    for o in options {
        match o {
            ast::SequenceOptions::IncrementBy(e, _) => def.increment = num(e)?,
            ast::SequenceOptions::MinValue(Some(e)) => def.min = num(e)?,
            ast::SequenceOptions::MaxValue(Some(e)) => def.max = num(e)?,
            ast::SequenceOptions::StartWith(e, _) => start = Some(num(e)?),
            ast::SequenceOptions::Cycle(c) => def.cycle = !*c,
            _ => {}
        }
    }
    if def.increment == 0 {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "INCREMENT must not be zero",
        ));
    }
    if def.increment < 0
        && !options
            .iter()
            .any(|o| matches!(o, ast::SequenceOptions::MinValue(Some(_))))
    {
        def.min = -type_max;
        if !options
            .iter()
            .any(|o| matches!(o, ast::SequenceOptions::MaxValue(Some(_))))
        {
            def.max = -1;
        }
    }
    def.start = start.unwrap_or(if def.increment > 0 { def.min } else { def.max });
    if def.start < def.min || def.start > def.max {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "START value ({}) cannot be less than MINVALUE ({})",
                def.start, def.min
            ),
        ));
    }
    def.id = ctx.with_catalog(|c| c.allocate_oid())?;
    ctx.engine.sequences.forget(&ctx.engine, def.id, None)?;
    ctx.with_catalog(|c| c.put_relation(&Relation::Sequence(def)))
}

fn create_view(session: &Session, ctx: &ExecCtx, cv: &ast::CreateView) -> Result<QueryResult> {
    let name = object_name(&cv.name);
    if cv.materialized {
        return Err(Error::unsupported("materialized views are not supported"));
    }
    let existing = ctx.with_catalog(|c| c.lock_relation(&name))?;
    match existing.as_deref() {
        Some(Relation::View(_)) if cv.or_replace => {}
        Some(_) if cv.if_not_exists => return done("CREATE VIEW"),
        Some(_) => {
            return Err(Error::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{name}\" already exists"),
            ))
        }
        None => {}
    }
    let query = cv.query.to_string();
    // Bind once now so a broken view fails at CREATE time.
    let scope = crate::alter::query_scope(session, ctx, &cv.query)?;
    let mut columns: Vec<String> = scope.columns.iter().map(|c| c.name.clone()).collect();
    for (c, n) in columns.iter_mut().zip(&cv.columns) {
        *c = ident(&n.name);
    }
    let id = match existing.as_deref() {
        Some(r) => r.id(),
        None => ctx.with_catalog(|c| c.allocate_oid())?,
    };
    ctx.with_catalog(|c| {
        c.put_relation(&Relation::View(ViewDef {
            id,
            name,
            query,
            columns,
        }))
    })?;
    done("CREATE VIEW")
}

fn create_index(ctx: &ExecCtx, ci: &ast::CreateIndex) -> Result<QueryResult> {
    let table_name = object_name(&ci.table_name);
    ctx.with_catalog(|c| c.lock_relation(&table_name))?;
    let mut table = (*ctx.with_catalog(|c| c.table(&table_name))?).clone();
    let columns = index_columns(&table, &ci.columns)?;
    if ci.predicate.is_some() {
        return Err(Error::unsupported("partial indexes are not supported"));
    }
    let names: Vec<String> = columns
        .iter()
        .map(|i| table.columns[*i].name.clone())
        .collect();
    let name = match &ci.name {
        Some(n) => object_name(n),
        None => format!("{table_name}_{}_idx", names.join("_")),
    };
    if !claim_name(ctx, &name, ci.if_not_exists, "index")? {
        return done("CREATE INDEX");
    }
    let id = ctx.with_catalog(|c| c.allocate_oid())?;
    let index = IndexDef {
        id,
        name: name.clone(),
        columns,
        unique: ci.unique,
        primary: false,
    };
    build_index(ctx, &table, &index)?;
    table.indexes.push(index);
    ctx.with_catalog(|c| {
        c.put_relation(&Relation::Index {
            id,
            name,
            table: table_name.clone(),
        })?;
        c.put_relation(&Relation::Table(std::sync::Arc::new(table)))
    })?;
    done("CREATE INDEX")
}

/// Writes index entries for every existing row (23505 on a duplicate).
pub(crate) fn build_index(ctx: &ExecCtx, table: &TableDef, index: &IndexDef) -> Result<()> {
    let plen = keys::object_prefix(ctx.db, table.id).len();
    let rows: Vec<(Vec<u8>, Vec<crate::types::Value>)> =
        all_rows(ctx, ctx.db, table).collect::<Result<_>>()?;
    let mut txn = ctx.txn.lock();
    for (key, row) in rows {
        let pk = &key[plen..];
        let (ikey, unique) = index_entry_key(ctx.db, index, &row, pk)?;
        if unique && txn.lock(&ikey)?.is_some() {
            return Err(duplicate_in_new_index(
                table,
                &index.columns,
                &row,
                &index.name,
            ));
        }
        txn.put(&ikey, pk)?;
    }
    Ok(())
}

/// PostgreSQL's error for a duplicate found while building unique index
/// (or primary key) `name` over `columns`: 23505 naming the key.
pub(crate) fn duplicate_in_new_index(
    table: &TableDef,
    columns: &[usize],
    row: &[crate::types::Value],
    name: &str,
) -> Error {
    let names: Vec<&str> = columns
        .iter()
        .filter_map(|c| table.columns.get(*c).map(|col| col.name.as_str()))
        .collect();
    let values: Vec<String> = columns
        .iter()
        .map(|c| crate::types::text::format(row.get(*c).unwrap_or(&crate::types::Value::Null)))
        .collect();
    Error::new(
        SqlState::UNIQUE_VIOLATION,
        format!("could not create unique index \"{name}\""),
    )
    .with_detail(format!(
        "Key ({})=({}) is duplicated.",
        names.join(", "),
        values.join(", ")
    ))
}

fn drop_objects(
    ctx: &ExecCtx,
    kind: &ast::ObjectType,
    if_exists: bool,
    names: &[ast::ObjectName],
    cascade: bool,
) -> Result<QueryResult> {
    let dropping: Vec<String> = names.iter().map(object_name).collect();
    let (tag, label) = match kind {
        ast::ObjectType::Table => ("DROP TABLE", "table"),
        ast::ObjectType::Index => ("DROP INDEX", "index"),
        ast::ObjectType::Sequence => ("DROP SEQUENCE", "sequence"),
        ast::ObjectType::View => ("DROP VIEW", "view"),
        ast::ObjectType::Schema => return Err(Error::unsupported("DROP SCHEMA is not supported")),
        other => return Err(Error::unsupported(format!("DROP {other}"))),
    };
    for n in names {
        let name = object_name(n);
        let rel = ctx.with_catalog(|c| c.lock_relation(&name))?;
        let Some(rel) = rel else {
            if if_exists {
                continue;
            }
            let state = if label == "index" {
                SqlState::UNDEFINED_OBJECT
            } else {
                SqlState::UNDEFINED_TABLE
            };
            return Err(Error::new(
                state,
                format!("{label} \"{name}\" does not exist"),
            ));
        };
        match (&*rel, kind) {
            (Relation::Table(t), ast::ObjectType::Table) => {
                // Re-read: an earlier table of this statement may have
                // changed this one's foreign keys.
                let t = ctx.with_catalog(|c| c.table(&t.name))?;
                crate::foreign_key::ddl::before_drop_table(ctx, &t, cascade, &dropping)?;
                drop_table(ctx, &t)?
            }
            (Relation::Index { table, .. }, ast::ObjectType::Index) => {
                drop_index(ctx, table, &name, cascade)?
            }
            (Relation::Sequence(s), ast::ObjectType::Sequence) => {
                ctx.with_catalog(|c| c.delete_relation(&name))?;
                ctx.engine.sequences.forget(&ctx.engine, s.id, None)?;
            }
            (Relation::View(_), ast::ObjectType::View) => {
                ctx.with_catalog(|c| c.delete_relation(&name))?
            }
            _ => {
                return Err(Error::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("\"{name}\" is not a {label}"),
                )
                .with_hint(format!("Use DROP {} to remove it.", kind_word(&rel))))
            }
        }
    }
    done(tag)
}

fn kind_word(rel: &Relation) -> &'static str {
    match rel {
        Relation::Table(_) => "TABLE",
        Relation::Index { .. } => "INDEX",
        Relation::Sequence(_) => "SEQUENCE",
        Relation::View(_) => "VIEW",
    }
}

fn drop_table(ctx: &ExecCtx, t: &TableDef) -> Result<()> {
    clear_table_data(ctx, t)?;
    ctx.with_catalog(|c| {
        for ix in &t.indexes {
            c.delete_relation(&ix.name)?;
        }
        if let Some(pk) = &t.primary_key_name {
            if t.indexes.iter().all(|i| &i.name != pk) {
                c.delete_relation(pk)?;
            }
        }
        c.delete_relation(&t.name)
    })?;
    // Owned sequences (serial columns) go with the table.
    let owned: Vec<SequenceDef> = ctx.with_catalog(|c| {
        Ok(c.relations()?
            .iter()
            .filter_map(|r| match &**r {
                Relation::Sequence(s)
                    if s.owned_by.as_ref().is_some_and(|(tb, _)| *tb == t.name) =>
                {
                    Some(s.clone())
                }
                _ => None,
            })
            .collect())
    })?;
    for s in owned {
        ctx.with_catalog(|c| c.delete_relation(&s.name))?;
        ctx.engine.sequences.forget(&ctx.engine, s.id, None)?;
    }
    Ok(())
}

/// Deletes a table's rows and index entries.
pub(crate) fn clear_table_data(ctx: &ExecCtx, t: &TableDef) -> Result<()> {
    let mut txn = ctx.txn.lock();
    delete_range(&mut **txn, &keys::object_prefix(ctx.db, t.id))?;
    for ix in &t.indexes {
        delete_range(&mut **txn, &keys::object_prefix(ctx.db, ix.id))?;
    }
    Ok(())
}

fn drop_index(ctx: &ExecCtx, table_name: &str, name: &str, cascade: bool) -> Result<()> {
    let mut table = (*ctx.with_catalog(|c| c.table(table_name))?).clone();
    let Some(ix) = table.indexes.iter().find(|i| i.name == name).cloned() else {
        return Err(Error::new(SqlState::DEPENDENT_OBJECTS_STILL_EXIST, format!("cannot drop index {name} because constraint {name} on table {table_name} requires it"))
            .with_hint(format!("You can drop constraint {name} on table {table_name} instead.")));
    };
    if ix.unique {
        // Foreign keys referencing through this index depend on it.
        let what = format!("index {name}");
        crate::foreign_key::ddl::before_drop_key(
            ctx,
            &mut table,
            name,
            &ix.columns,
            cascade,
            &what,
        )?;
    }
    let Some(pos) = table.indexes.iter().position(|i| i.name == name) else {
        return Err(Error::internal("index vanished"));
    };
    let index = table.indexes.remove(pos);
    {
        let mut txn = ctx.txn.lock();
        delete_range(&mut **txn, &keys::object_prefix(ctx.db, index.id))?;
    }
    ctx.with_catalog(|c| {
        c.delete_relation(name)?;
        c.put_relation(&Relation::Table(std::sync::Arc::new(table)))
    })
}

fn truncate(ctx: &ExecCtx, t: &ast::Truncate) -> Result<QueryResult> {
    let mut names = Vec::new();
    for target in &t.table_names {
        let name = object_name(&target.name);
        ctx.with_catalog(|c| c.lock_relation(&name))?;
        names.push(name);
    }
    let cascade = matches!(t.cascade, Some(ast::CascadeOption::Cascade));
    for name in crate::foreign_key::ddl::truncate_targets(ctx, names, cascade)? {
        ctx.with_catalog(|c| c.lock_relation(&name))?;
        let table = ctx.with_catalog(|c| c.table(&name))?;
        clear_table_data(ctx, &table)?;
        // Logical decoding sends this as a truncate, not as row deletes.
        crate::publication::note_truncate(&mut **ctx.txn.lock(), ctx.db, table.id)?;
        if matches!(t.identity, Some(ast::TruncateIdentityOption::Restart)) {
            let owned: Vec<SequenceDef> = ctx.with_catalog(|c| {
                Ok(c.relations()?
                    .iter()
                    .filter_map(|r| match &**r {
                        Relation::Sequence(s)
                            if s.owned_by.as_ref().is_some_and(|(tb, _)| *tb == name) =>
                        {
                            Some(s.clone())
                        }
                        _ => None,
                    })
                    .collect())
            })?;
            for s in owned {
                ctx.engine
                    .sequences
                    .forget(&ctx.engine, s.id, Some(s.start))?;
            }
        }
    }
    done("TRUNCATE TABLE")
}
