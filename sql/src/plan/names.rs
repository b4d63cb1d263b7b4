//! Output column names (PostgreSQL's FigureColname rules) and ORDER BY
//! option defaults.

use sqlparser::ast;

use super::bind::ident;
use super::func::function_name;
use crate::types::DataType;

/// (descending, nulls first) for an ORDER BY item, with PostgreSQL's
/// defaults: NULLs sort as if larger than any value.
pub fn sort_options(o: &ast::OrderByOptions) -> crate::error::Result<(bool, bool)> {
    let desc =
        match &o.sort {
            Some(ast::OrderBySort::Desc) => true,
            None | Some(ast::OrderBySort::Asc) => false,
            // `USING <` / `USING >`: the btree ordering operators; PostgreSQL
            // refuses any other operator here.
            Some(ast::OrderBySort::Using(op)) => match op.to_string().as_str() {
                "<" => false,
                ">" => true,
                other => return Err(crate::error::Error::new(
                    crate::SqlState::WRONG_OBJECT_TYPE,
                    format!("operator {other} is not a valid ordering operator"),
                )
                .with_hint(
                    "Ordering operators must be \"<\" or \">\" members of btree operator families.",
                )),
            },
        };
    Ok((desc, o.nulls_first.unwrap_or(desc)))
}

/// The column name PostgreSQL gives an unaliased select item.
pub fn output_name(e: &ast::Expr) -> String {
    use ast::Expr as A;
    match e {
        A::Identifier(id) => ident(id),
        A::CompoundIdentifier(parts) => parts.last().map(ident).unwrap_or_default(),
        A::Function(f) => function_name(&f.name),
        // A cast keeps a strong name from its operand (a column or a
        // function), otherwise it is named after its type (PostgreSQL's
        // FigureColname strength rule).
        A::Cast {
            expr, data_type, ..
        } => match (output_name(expr), strong_name(expr)) {
            (n, true) => n,
            _ => cast_type_name(data_type),
        },
        A::Nested(inner) => output_name(inner),
        A::Case { .. } => "case".into(),
        A::Tuple(_) => "row".into(),
        A::Exists { .. } => "exists".into(),
        A::Extract { .. } => "extract".into(),
        A::Substring { shorthand, .. } => if *shorthand { "substr" } else { "substring" }.into(),
        A::Trim { trim_where, .. } => match trim_where {
            Some(ast::TrimWhereField::Leading) => "ltrim",
            Some(ast::TrimWhereField::Trailing) => "rtrim",
            _ => "btrim",
        }
        .into(),
        A::AtTimeZone { .. } => "timezone".into(),
        A::Overlay { .. } => "overlay".into(),
        A::Position { .. } => "position".into(),
        A::Ceil { .. } => "ceil".into(),
        A::Floor { .. } => "floor".into(),
        A::Array(_) => "array".into(),
        A::Subquery(q) => match &*q.body {
            ast::SetExpr::Select(s) => match s.projection.first() {
                Some(ast::SelectItem::UnnamedExpr(e)) => output_name(e),
                Some(ast::SelectItem::ExprWithAlias { alias, .. }) => ident(alias),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        A::TypedString(ts) => cast_type_name(&ts.data_type),
        A::Interval(_) => "interval".into(),
        A::CompoundFieldAccess { root, .. } => output_name(root),
        _ => "?column?".into(),
    }
}

/// Whether an expression's output name comes from a column or function
/// (strong) rather than a type or `?column?` (weak).
fn strong_name(e: &ast::Expr) -> bool {
    use ast::Expr as A;
    match e {
        A::Cast { expr, .. } | A::Nested(expr) => strong_name(expr),
        A::Value(_) | A::TypedString(_) | A::BinaryOp { .. } | A::UnaryOp { .. } => false,
        _ => output_name(e) != "?column?",
    }
}

fn cast_type_name(t: &ast::DataType) -> String {
    // PostgreSQL names a cast column after the type's pg_type name.
    match super::forms::convert_type(t) {
        Ok(DataType::Array(_)) | Err(_) => "?column?".into(),
        Ok(dt) => crate::types::oid::internal_name(&dt),
    }
}
