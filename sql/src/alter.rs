//! ALTER TABLE, CREATE TABLE AS, and column options shared with CREATE TABLE.

use sqlparser::ast;

use crate::catalog::{CheckDef, ColumnDef, IndexDef, Relation, TableDef};
use crate::ddl::{build_index, object_name};
use crate::encoding::{keycode, keys, row};
use crate::error::{Error, Result};
use crate::exec::scan::{all_rows, index_entry_key};
use crate::exec::ExecCtx;
use crate::foreign_key::ddl::{self as fk_ddl, FkSpec};
use crate::plan::bind::{ident, Binder};
use crate::plan::dml::parse_expr;
use crate::plan::forms::convert_type;
use crate::plan::scope::Scope;
use crate::session::{QueryResult, Session};
use crate::types::{cast, Value};
use crate::SqlState;

type KeySpec = (Option<String>, Vec<String>);

/// Applies one column option of CREATE TABLE / ADD COLUMN.
pub(crate) fn apply_column_option(
    table: &mut TableDef,
    def: &mut ColumnDef,
    opt: &ast::ColumnOption,
    name: Option<String>,
    pk: &mut Option<KeySpec>,
    uniques: &mut Vec<KeySpec>,
    fks: &mut Vec<FkSpec>,
) -> Result<()> {
    match opt {
        ast::ColumnOption::Null => def.nullable = true,
        ast::ColumnOption::NotNull => def.nullable = false,
        ast::ColumnOption::Default(e) => def.default = Some(e.to_string()),
        ast::ColumnOption::PrimaryKey(_) => {
            if pk.is_some() {
                return Err(Error::new(
                    SqlState::INVALID_TABLE_DEFINITION,
                    format!(
                        "multiple primary keys for table \"{}\" are not allowed",
                        table.name
                    ),
                ));
            }
            *pk = Some((name, vec![def.name.clone()]));
        }
        ast::ColumnOption::Unique(_) => uniques.push((name, vec![def.name.clone()])),
        ast::ColumnOption::Check(ch) => {
            let n = name.unwrap_or_else(|| format!("{}_{}_check", table.name, def.name));
            table.checks.push(CheckDef {
                name: n,
                expr: ch.expr.to_string(),
            });
        }
        ast::ColumnOption::ForeignKey(fk) => fks.push(FkSpec {
            name,
            constraint: fk.clone(),
            column: Some(def.name.clone()),
        }),
        ast::ColumnOption::Collation(_) | ast::ColumnOption::Comment(_) => {}
        other => return Err(Error::unsupported(format!("column option {other}"))),
    }
    Ok(())
}

/// A binder over the statement's transaction (for DDL that binds SQL).
fn with_binder<T>(
    session: &Session,
    ctx: &ExecCtx,
    f: impl FnOnce(&mut Binder) -> Result<T>,
) -> Result<T> {
    let mut guard = ctx.txn.lock();
    let view = crate::statement::View { session };
    let mut binder = session.binder(&mut **guard, &view, &[]);
    f(&mut binder)
}

/// Binds a table's DEFAULT and CHECK expressions (errors surface at CREATE).
pub(crate) fn validate_rules(session: &Session, ctx: &ExecCtx, table: &TableDef) -> Result<()> {
    with_binder(session, ctx, |b| b.table_rules(table).map(|_| ()))
}

/// The output scope of a query (for CREATE VIEW).
pub(crate) fn query_scope(session: &Session, ctx: &ExecCtx, q: &ast::Query) -> Result<Scope> {
    with_binder(session, ctx, |b| b.query(q).map(|(_, s)| s))
}

/// Evaluates a constant expression (an ADD COLUMN default).
fn constant_value(session: &Session, ctx: &ExecCtx, e: &ast::Expr) -> Result<Value> {
    let (x, _) = with_binder(session, ctx, |b| b.expr(e, &Scope::default()))?;
    x.eval(&[], ctx)
}

/// CREATE TABLE name AS query.
pub(crate) fn create_table_as(
    session: &mut Session,
    ctx: &ExecCtx,
    name: &str,
    q: &ast::Query,
) -> Result<QueryResult> {
    let (plan, scope) = with_binder(session, ctx, |b| b.query(q))?;
    let rows = crate::exec::collect(&plan, ctx)?;
    let id = ctx.with_catalog(|c| c.allocate_oid())?;
    let columns = scope
        .columns
        .iter()
        .map(|c| ColumnDef {
            name: c.name.clone(),
            data_type: if c.data_type == crate::types::DataType::Unknown {
                crate::types::DataType::Text
            } else {
                c.data_type.clone()
            },
            nullable: true,
            default: None,
        })
        .collect();
    let table = TableDef {
        id,
        name: name.to_string(),
        columns,
        primary_key: vec![],
        primary_key_name: None,
        indexes: vec![],
        checks: vec![],
        foreign_keys: vec![],
        referenced_by: vec![],
    };
    let n = rows.len();
    {
        let mut txn = ctx.txn.lock();
        let prefix = keys::object_prefix(ctx.db, id);
        for r in rows {
            let rid = ctx.engine.sequences.next_row_id(&ctx.engine, ctx.db, id)?;
            let mut k = prefix.clone();
            k.extend(keycode::encode_values(&[Value::Int8(rid)])?);
            txn.put(&k, &row::encode_row(&r))?;
        }
    }
    ctx.with_catalog(|c| c.put_relation(&Relation::Table(std::sync::Arc::new(table))))?;
    Ok(QueryResult::Command {
        tag: format!("SELECT {n}"),
    })
}

/// ALTER TABLE.
pub(crate) fn alter_table(
    session: &Session,
    ctx: &ExecCtx,
    at: &ast::AlterTable,
) -> Result<QueryResult> {
    let name = object_name(&at.name);
    let rel = ctx.with_catalog(|c| c.lock_relation(&name))?;
    let mut table = match rel.as_deref() {
        Some(Relation::Table(t)) => (**t).clone(),
        Some(_) => {
            return Err(Error::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{name}\" is not a table"),
            ))
        }
        None if at.if_exists => {
            return Ok(QueryResult::Command {
                tag: "ALTER TABLE".into(),
            })
        }
        None => {
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            ))
        }
    };
    for op in &at.operations {
        alter_one(session, ctx, &mut table, op)?;
    }
    ctx.with_catalog(|c| c.put_relation(&Relation::Table(std::sync::Arc::new(table))))?;
    Ok(QueryResult::Command {
        tag: "ALTER TABLE".into(),
    })
}

/// Rewrites every row of a table through `f` (new row from old).
fn rewrite_rows(
    ctx: &ExecCtx,
    table: &TableDef,
    mut f: impl FnMut(Vec<Value>) -> Result<Vec<Value>>,
) -> Result<()> {
    let rows: Vec<(Vec<u8>, Vec<Value>)> = all_rows(ctx, ctx.db, table).collect::<Result<_>>()?;
    let mut txn = ctx.txn.lock();
    for (k, r) in rows {
        txn.put(&k, &row::encode_row(&f(r)?))?;
    }
    Ok(())
}

fn column_pos(table: &TableDef, n: &str) -> Result<usize> {
    table.column_index(n).ok_or_else(|| {
        Error::new(
            SqlState::UNDEFINED_COLUMN,
            format!(
                "column \"{n}\" of relation \"{}\" does not exist",
                table.name
            ),
        )
    })
}

fn alter_one(
    session: &Session,
    ctx: &ExecCtx,
    table: &mut TableDef,
    op: &ast::AlterTableOperation,
) -> Result<()> {
    use ast::AlterTableOperation as Op;
    match op {
        Op::AddColumn {
            if_not_exists,
            column_def,
            ..
        } => {
            let cname = ident(&column_def.name);
            if table.column_index(&cname).is_some() {
                if *if_not_exists {
                    return Ok(());
                }
                return Err(Error::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!(
                        "column \"{cname}\" of relation \"{}\" already exists",
                        table.name
                    ),
                ));
            }
            let mut def = ColumnDef {
                name: cname,
                data_type: convert_type(&column_def.data_type)?,
                nullable: true,
                default: None,
            };
            let (mut pk, mut uniques, mut fks) = (None, vec![], vec![]);
            for o in &column_def.options {
                apply_column_option(
                    table,
                    &mut def,
                    &o.option,
                    o.name.as_ref().map(ident),
                    &mut pk,
                    &mut uniques,
                    &mut fks,
                )?;
            }
            if pk.is_some() || !uniques.is_empty() {
                return Err(Error::unsupported("ADD COLUMN with PRIMARY KEY or UNIQUE"));
            }
            // Existing rows get the default (evaluated once, like PostgreSQL
            // does for non-volatile defaults), or NULL.
            let fill = match &def.default {
                Some(sql) => {
                    let e = parse_expr(sql)?;
                    let v = constant_value(session, ctx, &e)?;
                    cast::assign(v, &def.data_type)?
                }
                None => Value::Null,
            };
            if fill.is_null() && !def.nullable && all_rows(ctx, ctx.db, table).next().is_some() {
                return Err(Error::new(
                    SqlState::NOT_NULL_VIOLATION,
                    format!(
                        "column \"{}\" of relation \"{}\" contains null values",
                        def.name, table.name
                    ),
                ));
            }
            rewrite_rows(ctx, table, |mut r| {
                r.push(fill.clone());
                Ok(r)
            })?;
            table.columns.push(def);
            for spec in &fks {
                fk_ddl::add(ctx, table, spec, true)?;
            }
        }
        Op::DropColumn {
            column_names,
            if_exists,
            drop_behavior,
            ..
        } => {
            for c in column_names {
                let n = ident(c);
                let Some(pos) = table.column_index(&n) else {
                    if *if_exists {
                        continue;
                    }
                    return Err(Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{n}\" of relation \"{}\" does not exist",
                            table.name
                        ),
                    ));
                };
                if table.primary_key.contains(&pos) {
                    return Err(Error::unsupported(
                        "dropping a primary key column is not supported",
                    ));
                }
                fk_ddl::on_drop_column(
                    ctx,
                    table,
                    pos,
                    matches!(drop_behavior, Some(ast::DropBehavior::Cascade)),
                )?;
                // Indexes on the column go with it.
                let doomed: Vec<IndexDef> = table
                    .indexes
                    .iter()
                    .filter(|i| i.columns.contains(&pos))
                    .cloned()
                    .collect();
                for ix in &doomed {
                    crate::ddl::delete_range(
                        &mut **ctx.txn.lock(),
                        &keys::object_prefix(ctx.db, ix.id),
                    )?;
                    ctx.with_catalog(|cat| cat.delete_relation(&ix.name))?;
                }
                table.indexes.retain(|i| !i.columns.contains(&pos));
                rewrite_rows(ctx, table, |mut r| {
                    if pos < r.len() {
                        r.remove(pos);
                    }
                    Ok(r)
                })?;
                table.columns.remove(pos);
                let shift = |v: &mut usize| {
                    if *v > pos {
                        *v -= 1
                    }
                };
                table.primary_key.iter_mut().for_each(shift);
                for ix in &mut table.indexes {
                    ix.columns.iter_mut().for_each(shift);
                }
            }
        }
        Op::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            let pos = column_pos(table, &ident(old_column_name))?;
            let new = ident(new_column_name);
            if table.column_index(&new).is_some() {
                return Err(Error::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!(
                        "column \"{new}\" of relation \"{}\" already exists",
                        table.name
                    ),
                ));
            }
            table.columns[pos].name = new;
        }
        Op::RenameTable { table_name } => {
            let new = match table_name {
                ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => object_name(n),
            };
            if ctx.with_catalog(|c| c.lock_relation(&new))?.is_some() {
                return Err(Error::new(
                    SqlState::DUPLICATE_TABLE,
                    format!("relation \"{new}\" already exists"),
                ));
            }
            let old = std::mem::replace(&mut table.name, new.clone());
            fk_ddl::on_rename(ctx, table, &old)?;
            ctx.with_catalog(|c| {
                c.delete_relation(&old)?;
                for ix in &table.indexes {
                    c.put_relation(&Relation::Index {
                        id: ix.id,
                        name: ix.name.clone(),
                        table: new.clone(),
                    })?;
                }
                if let Some(pk) = &table.primary_key_name {
                    if table.indexes.iter().all(|i| &i.name != pk) {
                        c.put_relation(&Relation::Index {
                            id: table.id + 1_000_000,
                            name: pk.clone(),
                            table: new.clone(),
                        })?;
                    }
                }
                Ok(())
            })?;
        }
        Op::AddConstraint {
            constraint,
            not_valid,
        } => add_constraint(ctx, table, constraint, *not_valid)?,
        Op::ValidateConstraint { name } => {
            let n = ident(name);
            if !fk_ddl::validate(ctx, table, &n)? && !table.checks.iter().any(|c| c.name == n) {
                return Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!(
                        "constraint \"{n}\" of relation \"{}\" does not exist",
                        table.name
                    ),
                ));
            }
        }
        Op::AlterColumn { column_name, op } => {
            let pos = column_pos(table, &ident(column_name))?;
            match op {
                ast::AlterColumnOperation::SetNotNull => set_not_null(ctx, table, pos)?,
                ast::AlterColumnOperation::DropNotNull => {
                    if table
                        .primary_key_columns()
                        .is_some_and(|pk| pk.contains(&pos))
                    {
                        return Err(Error::new(
                            SqlState::INVALID_TABLE_DEFINITION,
                            format!("column \"{}\" is in a primary key", table.columns[pos].name),
                        ));
                    }
                    table.columns[pos].nullable = true;
                }
                ast::AlterColumnOperation::SetDefault { value } => {
                    table.columns[pos].default = Some(value.to_string())
                }
                ast::AlterColumnOperation::DropDefault => table.columns[pos].default = None,
                ast::AlterColumnOperation::SetDataType {
                    data_type, using, ..
                } => {
                    if using.is_some() {
                        return Err(Error::unsupported("ALTER COLUMN TYPE ... USING"));
                    }
                    let ty = convert_type(data_type)?;
                    if table.primary_key.contains(&pos)
                        || table.indexes.iter().any(|i| i.columns.contains(&pos))
                    {
                        return Err(Error::unsupported("changing the type of an indexed column"));
                    }
                    rewrite_rows(ctx, table, |mut r| {
                        if let Some(v) = r.get_mut(pos) {
                            *v = cast::assign(
                                cast::cast(std::mem::replace(v, Value::Null), &ty)?,
                                &ty,
                            )?;
                        }
                        Ok(r)
                    })?;
                    table.columns[pos].data_type = ty;
                }
                other => return Err(Error::unsupported(format!("ALTER COLUMN {other}"))),
            }
        }
        Op::DropConstraint {
            name,
            if_exists,
            drop_behavior,
        } => {
            let n = ident(name);
            let cascade = matches!(drop_behavior, Some(ast::DropBehavior::Cascade));
            if let Some(i) = table.checks.iter().position(|c| c.name == n) {
                table.checks.remove(i);
            } else if table.foreign_keys.iter().any(|f| f.name == n) {
                fk_ddl::drop(ctx, table, &n)?;
            } else if !table.primary_key.is_empty()
                && table.primary_key_name.as_deref() == Some(n.as_str())
            {
                let cols = table.primary_key.clone();
                let what = format!("constraint {n} on table {}", table.name);
                fk_ddl::before_drop_key(ctx, table, &n, &cols, cascade, &what)?;
                crate::rekey::drop_primary_key(ctx, table)?;
                ctx.with_catalog(|c| c.delete_relation(&n))?;
            } else if let Some(i) = table
                .indexes
                .iter()
                .position(|ix| ix.name == n && (ix.unique || ix.primary))
            {
                let cols = table.indexes[i].columns.clone();
                let what = format!("constraint {n} on table {}", table.name);
                fk_ddl::before_drop_key(ctx, table, &n, &cols, cascade, &what)?;
                let Some(i) = table.indexes.iter().position(|ix| ix.name == n) else {
                    return Err(Error::internal("index vanished"));
                };
                let ix = table.indexes.remove(i);
                crate::ddl::delete_range(
                    &mut **ctx.txn.lock(),
                    &keys::object_prefix(ctx.db, ix.id),
                )?;
                if ix.primary {
                    table.primary_key_name = None;
                }
                ctx.with_catalog(|c| c.delete_relation(&n))?;
            } else if !*if_exists {
                return Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!(
                        "constraint \"{n}\" of relation \"{}\" does not exist",
                        table.name
                    ),
                ));
            }
        }
        other => return Err(Error::unsupported(format!("ALTER TABLE {other}"))),
    }
    Ok(())
}

fn add_constraint(
    ctx: &ExecCtx,
    table: &mut TableDef,
    c: &ast::TableConstraint,
    not_valid: bool,
) -> Result<()> {
    let names = |cols: &[ast::IndexColumn]| -> Result<Vec<usize>> {
        cols.iter()
            .map(|c| {
                column_pos(
                    table,
                    &c.column.expr.to_string().trim_matches('"').to_lowercase(),
                )
            })
            .collect()
    };
    match c {
        ast::TableConstraint::PrimaryKey(p) => {
            if table.primary_key_columns().is_some() {
                return Err(Error::new(
                    SqlState::INVALID_TABLE_DEFINITION,
                    format!(
                        "multiple primary keys for table \"{}\" are not allowed",
                        table.name
                    ),
                ));
            }
            let cols = names(&p.columns)?;
            for &i in &cols {
                set_not_null(ctx, table, i)?;
            }
            let name = p
                .name
                .as_ref()
                .map(ident)
                .unwrap_or_else(|| format!("{}_pkey", table.name));
            // Rows move under the new key (see `rekey`); the constraint is
            // then registered as `CREATE TABLE … PRIMARY KEY` registers it.
            crate::rekey::add_primary_key(ctx, table, cols, &name)?;
            ctx.with_catalog(|c| {
                c.put_relation(&Relation::Index {
                    id: table.id + 1_000_000,
                    name,
                    table: table.name.clone(),
                })
            })?;
        }
        ast::TableConstraint::Unique(u) => {
            let cols = names(&u.columns)?;
            let colnames: Vec<String> = cols
                .iter()
                .map(|i| table.columns[*i].name.clone())
                .collect();
            let name = u
                .name
                .as_ref()
                .map(ident)
                .unwrap_or_else(|| format!("{}_{}_key", table.name, colnames.join("_")));
            let id = ctx.with_catalog(|c| c.allocate_oid())?;
            let index = IndexDef {
                id,
                name: name.clone(),
                columns: cols,
                unique: true,
                primary: false,
            };
            build_index(ctx, table, &index)?;
            ctx.with_catalog(|c| {
                c.put_relation(&Relation::Index {
                    id,
                    name,
                    table: table.name.clone(),
                })
            })?;
            table.indexes.push(index);
        }
        ast::TableConstraint::Check(ch) => {
            let name = ch
                .name
                .as_ref()
                .map(ident)
                .unwrap_or_else(|| format!("{}_check", table.name));
            table.checks.push(CheckDef {
                name,
                expr: ch.expr.to_string(),
            });
        }
        ast::TableConstraint::ForeignKey(f) => {
            let spec = FkSpec {
                name: f.name.as_ref().map(ident),
                constraint: f.clone(),
                column: None,
            };
            fk_ddl::add(ctx, table, &spec, !not_valid)?;
        }
        other => return Err(Error::unsupported(format!("constraint {other}"))),
    }
    let _ = index_entry_key;
    Ok(())
}

/// Marks a column NOT NULL after checking that no stored row has a NULL in it.
fn set_not_null(ctx: &ExecCtx, table: &mut TableDef, pos: usize) -> Result<()> {
    for r in all_rows(ctx, ctx.db, table) {
        let (_, row) = r?;
        if row.get(pos).is_none_or(Value::is_null) {
            return Err(Error::new(
                SqlState::NOT_NULL_VIOLATION,
                format!(
                    "column \"{}\" of relation \"{}\" contains null values",
                    table.columns[pos].name, table.name
                ),
            ));
        }
    }
    table.columns[pos].nullable = false;
    Ok(())
}
