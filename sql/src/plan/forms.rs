//! Binding of SQL's special expression forms (BETWEEN, CASE, CAST, EXTRACT,
//! SUBSTRING, subqueries, ...) and of type names.

use sqlparser::ast;

use super::bind::{Binder, Bound};
use super::scope::Scope;
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::ops::BinaryOp;
use crate::types::{cast, DataType, Value};
use crate::SqlState;

impl<'a> Binder<'a> {
    /// Everything `plain_expr_with` does not handle inline.
    pub(crate) fn bind_more(
        &mut self,
        e: &ast::Expr,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        use ast::Expr as A;
        match e {
            A::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (x, xt) = self.child(expr, scope, grouped)?;
                let (lo, lot) = self.child(low, scope, grouped)?;
                let (hi, hit) = self.child(high, scope, grouped)?;
                let (ge, _) = self.apply_binary(BinaryOp::GtEq, x.clone(), xt.clone(), lo, lot)?;
                let (le, _) = self.apply_binary(BinaryOp::LtEq, x, xt, hi, hit)?;
                let both = Expr::And(Box::new(ge), Box::new(le));
                Ok((
                    if *negated {
                        Expr::Not(Box::new(both))
                    } else {
                        both
                    },
                    DataType::Bool,
                ))
            }
            A::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            } => self.like(
                expr,
                pattern,
                escape_char.as_deref(),
                false,
                *negated,
                scope,
                grouped,
            ),
            A::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            } => self.like(
                expr,
                pattern,
                escape_char.as_deref(),
                true,
                *negated,
                scope,
                grouped,
            ),
            A::Cast {
                expr, data_type, ..
            } => {
                let target = convert_type(data_type)?;
                self.cast_to(expr, target, scope, grouped)
            }
            A::TypedString(ts) => {
                let target = convert_type(&ts.data_type)?;
                let s = ts.value.value.clone().into_string().unwrap_or_default();
                Ok((
                    Expr::Literal(crate::types::text::parse(&s, &target)?),
                    target,
                ))
            }
            A::Function(f) => self.function(f, scope, grouped),
            A::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(
                operand.as_deref(),
                conditions,
                else_result.as_deref(),
                scope,
                grouped,
            ),
            A::Exists { subquery, negated } => {
                let (plan, _) = self.subquery(subquery, scope)?;
                Ok((
                    Expr::Exists {
                        plan,
                        negated: *negated,
                    },
                    DataType::Bool,
                ))
            }
            A::Subquery(q) => {
                let (plan, out) = self.subquery(q, scope)?;
                if out.len() != 1 {
                    return Err(Error::syntax("subquery must return only one column"));
                }
                Ok((Expr::ScalarSubquery(plan), out.columns[0].data_type.clone()))
            }
            A::InSubquery {
                expr,
                subquery,
                negated,
            } if super::bind_ops::row_items(expr).is_some() => {
                let items = super::bind_ops::row_items(expr).unwrap_or_default();
                let (plan, out) = self.subquery(subquery, scope)?;
                if out.len() != items.len() {
                    return Err(Error::syntax("subquery has too many columns"));
                }
                let mut exprs = Vec::new();
                for (item, col) in items.iter().zip(&out.columns) {
                    let (x, xt) = self.child(item, scope, grouped)?;
                    exprs.push(self.coerce_unknown(x, &xt, &col.data_type)?);
                }
                Ok((
                    Expr::RowInSubquery {
                        exprs,
                        plan,
                        negated: *negated,
                    },
                    DataType::Bool,
                ))
            }
            A::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let (x, xt) = self.child(expr, scope, grouped)?;
                let (plan, out) = self.subquery(subquery, scope)?;
                if out.len() != 1 {
                    return Err(Error::syntax("subquery has too many columns"));
                }
                let st = out.columns[0].data_type.clone();
                cast::common_type(&xt, &st)
                    .ok_or_else(|| super::bind::operator_error("=", &xt, &st))?;
                let x = self.coerce_unknown(x, &xt, &st)?;
                Ok((
                    Expr::InSubquery {
                        expr: Box::new(x),
                        plan,
                        negated: *negated,
                    },
                    DataType::Bool,
                ))
            }
            A::AnyOp {
                left,
                compare_op,
                right,
                ..
            } => self.any_all(left, compare_op, right, false, scope, grouped),
            A::AllOp {
                left,
                compare_op,
                right,
            } => self.any_all(left, compare_op, right, true, scope, grouped),
            A::Array(arr) => {
                let mut items = Vec::new();
                for el in &arr.elem {
                    items.push(self.child(el, scope, grouped)?);
                }
                let elem = super::bind_ops::unify(items.iter().map(|(_, t)| t), "ARRAY")?;
                let exprs = items
                    .into_iter()
                    .map(|(e, t)| self.coerce(e, &t, &elem))
                    .collect::<Result<Vec<_>>>()?;
                Ok((Expr::Array(exprs), DataType::Array(Box::new(elem))))
            }
            A::Extract { field, expr, .. } => {
                let (x, xt) = self.child(expr, scope, grouped)?;
                let x = self.coerce_unknown(x, &xt, &DataType::Timestamp)?;
                let field = field.to_string().to_lowercase();
                Ok((
                    Expr::Function("extract".into(), vec![Expr::Literal(Value::Text(field)), x]),
                    DataType::Numeric(None),
                ))
            }
            A::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![expr.as_ref().clone()];
                args.push(
                    substring_from
                        .as_deref()
                        .cloned()
                        .unwrap_or(ast::Expr::value(ast::Value::Number("1".into(), false))),
                );
                if let Some(f) = substring_for {
                    args.push(f.as_ref().clone());
                }
                self.call_by_name("substring", &args, scope, grouped)
            }
            A::Trim {
                trim_where,
                trim_what,
                expr,
                trim_characters,
            } => {
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![expr.as_ref().clone()];
                if let Some(w) = trim_what {
                    args.push(w.as_ref().clone());
                } else if let Some(chars) = trim_characters.as_ref().and_then(|c| c.first()) {
                    args.push(chars.clone());
                }
                self.call_by_name(name, &args, scope, grouped)
            }
            A::Position { expr, r#in } => self.call_by_name(
                "strpos",
                &[r#in.as_ref().clone(), expr.as_ref().clone()],
                scope,
                grouped,
            ),
            A::Ceil { expr, .. } => {
                self.call_by_name("ceil", &[expr.as_ref().clone()], scope, grouped)
            }
            A::Floor { expr, .. } => {
                self.call_by_name("floor", &[expr.as_ref().clone()], scope, grouped)
            }
            A::Overlay {
                expr,
                overlay_what,
                overlay_from,
                overlay_for,
            } => {
                let mut args = vec![
                    expr.as_ref().clone(),
                    overlay_what.as_ref().clone(),
                    overlay_from.as_ref().clone(),
                ];
                if let Some(f) = overlay_for {
                    args.push(f.as_ref().clone());
                }
                self.call_by_name("overlay", &args, scope, grouped)
            }
            A::Interval(iv) => {
                let (x, xt) = self.child(&iv.value, scope, grouped)?;
                let mut text = match (&x, &xt) {
                    (Expr::Literal(Value::Text(s)), _) => s.clone(),
                    (Expr::Literal(v), _) => crate::types::text::format(v),
                    _ => return self.cast_expr(x, xt, DataType::Interval),
                };
                if let Some(f) = &iv.leading_field {
                    if iv.last_field.is_none() && text.trim().parse::<f64>().is_ok() {
                        text = format!("{text} {f}");
                    }
                }
                Ok((
                    Expr::Literal(crate::types::text::parse(&text, &DataType::Interval)?),
                    DataType::Interval,
                ))
            }
            A::CompoundFieldAccess { root, access_chain } => {
                let (mut x, mut xt) = self.child(root, scope, grouped)?;
                for access in access_chain {
                    match access {
                        ast::AccessExpr::Subscript(ast::Subscript::Index { index }) => {
                            let (i, it) = self.child(index, scope, grouped)?;
                            let i = self.coerce(i, &it, &DataType::Int4)?;
                            xt = match xt {
                                DataType::Array(e) => *e,
                                other => {
                                    return Err(Error::new(
                                        SqlState::DATATYPE_MISMATCH,
                                        format!(
                                            "cannot subscript type {} because it is not an array",
                                            crate::types::oid::type_name(&other)
                                        ),
                                    ))
                                }
                            };
                            x = Expr::Subscript(Box::new(x), Box::new(i));
                        }
                        _ => return Err(Error::unsupported("field access")),
                    }
                }
                Ok((x, xt))
            }
            A::AtTimeZone {
                timestamp,
                time_zone,
            } => self.call_by_name(
                "timezone",
                &[time_zone.as_ref().clone(), timestamp.as_ref().clone()],
                scope,
                grouped,
            ),
            A::Collate { expr, .. } => self.child(expr, scope, grouped),
            A::Prefixed { value, .. } => self.child(value, scope, grouped),
            A::Tuple(items) => {
                let mut bound = Vec::with_capacity(items.len());
                for item in items {
                    bound.push(self.child(item, scope, grouped)?);
                }
                Ok(super::whole_row::row_constructor(self, bound)?)
            }
            A::SimilarTo {
                negated,
                expr,
                pattern,
                escape_char,
            } => {
                // A literal pattern is rewritten to the equivalent anchored
                // POSIX regex (PostgreSQL's similar_to_escape) and bound as `~`.
                let (ast::Expr::Value(p), None) = (pattern.as_ref(), escape_char) else {
                    return Err(Error::unsupported(
                        "SIMILAR TO with a non-literal pattern or ESCAPE",
                    ));
                };
                let ast::Value::SingleQuotedString(p) = &p.value else {
                    return Err(Error::unsupported("SIMILAR TO with a non-text pattern"));
                };
                let re = ast::Expr::Value(
                    ast::Value::SingleQuotedString(crate::functions::pattern::similar_to_regex(p))
                        .with_empty_span(),
                );
                let op = if *negated {
                    ast::BinaryOperator::PGRegexNotMatch
                } else {
                    ast::BinaryOperator::PGRegexMatch
                };
                let e = ast::Expr::BinaryOp {
                    left: expr.clone(),
                    op,
                    right: Box::new(re),
                };
                self.child(&e, scope, grouped)
            }
            A::Wildcard(_) | A::QualifiedWildcard(..) => {
                Err(Error::syntax("\"*\" is not allowed here"))
            }
            other => Err(Error::unsupported(format!(
                "expression not supported: {other}"
            ))),
        }
    }

    /// Binds `f(args)` for a desugared special form.
    fn call_by_name(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        let f = ast::Function {
            name: ast::ObjectName::from(vec![ast::Ident::new(name)]),
            uses_odbc_syntax: false,
            parameters: ast::FunctionArguments::None,
            args: ast::FunctionArguments::List(ast::FunctionArgumentList {
                duplicate_treatment: None,
                args: args
                    .iter()
                    .map(|a| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a.clone())))
                    .collect(),
                clauses: vec![],
            }),
            filter: None,
            null_treatment: None,
            over: None,
            within_group: vec![],
        };
        self.function(&f, scope, grouped)
    }

    fn cast_to(
        &mut self,
        expr: &ast::Expr,
        target: DataType,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        // 'name'::regclass resolves the relation now, like PostgreSQL.
        if matches!(target, DataType::RegClass) {
            if let ast::Expr::Value(v) = expr {
                if let ast::Value::SingleQuotedString(s) = &v.value {
                    // A number is an OID already ('16385'::regclass, as psql sends).
                    if let Ok(oid) = s.trim().parse::<u32>() {
                        return Ok((Expr::Literal(Value::Oid(oid)), DataType::RegClass));
                    }
                    let name = s
                        .rsplit('.')
                        .next()
                        .unwrap_or(s)
                        .trim_matches('"')
                        .to_string();
                    let oid = match self.catalog.relation(&name)? {
                        Some(rel) => rel.id(),
                        None => match super::system::system_table_oid(&name) {
                            Some(oid) => oid,
                            None => {
                                return Err(Error::new(
                                    SqlState::UNDEFINED_TABLE,
                                    format!("relation \"{s}\" does not exist"),
                                ))
                            }
                        },
                    };
                    return Ok((Expr::Literal(Value::Oid(oid)), DataType::RegClass));
                }
            }
        }
        // `1e100::float8`: the literal is numeric in PostgreSQL, whose
        // numeric has no practical range limit; ours has 28 digits, so a
        // literal headed for a float type is read as one directly.
        if matches!(target, DataType::Float4 | DataType::Float8) {
            if let Some(f) = float_literal(expr) {
                let v = cast::cast(Value::Float8(f), &target)?;
                return Ok((Expr::Literal(v), target));
            }
        }
        let (x, xt) = self.child(expr, scope, grouped)?;
        self.cast_expr(x, xt, target)
    }

    fn cast_expr(&mut self, x: Expr, xt: DataType, target: DataType) -> Result<Bound> {
        // regclass/regtype shown as text are names, not numbers.
        if matches!(xt, DataType::RegClass | DataType::RegType)
            && super::bind_ops::is_texty(&target)
        {
            let f = if xt == DataType::RegClass {
                "regclass_out"
            } else {
                "regtype_out"
            };
            return Ok((
                Expr::Session(crate::expr::SessionFn::Catalog(f.into()), vec![x]),
                target,
            ));
        }
        match x {
            Expr::Literal(v) => Ok((Expr::Literal(cast::cast(v, &target)?), target)),
            Expr::Param(i) if xt == DataType::Unknown => {
                let x = self.coerce_unknown(Expr::Param(i), &xt, &target)?;
                Ok((x, target))
            }
            // Casting an OID column to regclass/regtype shows the name.
            other
                if matches!(target, DataType::RegClass | DataType::RegType)
                    && matches!(xt, DataType::Oid | DataType::Int4 | DataType::Int8) =>
            {
                let f = if target == DataType::RegClass {
                    "regclass_out"
                } else {
                    "regtype_out"
                };
                Ok((
                    Expr::Session(crate::expr::SessionFn::Catalog(f.into()), vec![other]),
                    DataType::Text,
                ))
            }
            other => Ok((Expr::Cast(Box::new(other), target.clone()), target)),
        }
    }

    fn case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        let operand = match operand {
            Some(o) => Some(self.child(o, scope, grouped)?),
            None => None,
        };
        let mut whens = Vec::new();
        let mut results = Vec::new();
        for cw in conditions {
            let cond = match &operand {
                Some((_, ot)) => {
                    let (c, ct) = self.child(&cw.condition, scope, grouped)?;
                    let target = cast::common_type(ot, &ct)
                        .ok_or_else(|| super::bind::operator_error("=", ot, &ct))?;
                    self.coerce(c, &ct, &target)?
                }
                None => self.predicate(&cw.condition, scope, "CASE/WHEN")?,
            };
            whens.push(cond);
            results.push(self.child(&cw.result, scope, grouped)?);
        }
        let otherwise = match else_result {
            Some(e) => Some(self.child(e, scope, grouped)?),
            None => None,
        };
        let ty = super::bind_ops::unify(
            results.iter().chain(otherwise.iter()).map(|(_, t)| t),
            "CASE",
        )?;
        let mut pairs = Vec::new();
        for (w, (r, rt)) in whens.into_iter().zip(results) {
            pairs.push((w, self.coerce(r, &rt, &ty)?));
        }
        let otherwise = match otherwise {
            Some((e, t)) => Some(Box::new(self.coerce(e, &t, &ty)?)),
            None => None,
        };
        let operand = match operand {
            Some((o, ot)) => Some(Box::new(self.coerce_unknown(o, &ot, &DataType::Text)?)),
            None => None,
        };
        Ok((
            Expr::Case {
                operand,
                whens: pairs,
                otherwise,
            },
            ty,
        ))
    }
}

/// Converts a type name from the AST.
pub fn convert_type(t: &ast::DataType) -> Result<DataType> {
    use ast::DataType as T;
    let len = |l: &Option<ast::CharacterLength>| match l {
        Some(ast::CharacterLength::IntegerLength { length, .. }) => u32::try_from(*length).ok(),
        _ => None,
    };
    Ok(match t {
        T::SmallInt(_) | T::Int2(_) => DataType::Int2,
        T::Int(_) | T::Integer(_) | T::Int4(_) => DataType::Int4,
        T::BigInt(_) | T::Int8(_) => DataType::Int8,
        T::Real | T::Float4 => DataType::Float4,
        T::Double(_) | T::DoublePrecision | T::Float8 => DataType::Float8,
        T::Float(info) => match info {
            ast::ExactNumberInfo::Precision(p) if *p <= 24 => DataType::Float4,
            _ => DataType::Float8,
        },
        T::Numeric(info) | T::Decimal(info) | T::Dec(info) => match info {
            ast::ExactNumberInfo::None => DataType::Numeric(None),
            ast::ExactNumberInfo::Precision(p) => numeric_type(*p, 0)?,
            ast::ExactNumberInfo::PrecisionAndScale(p, s) => numeric_type(*p, *s)?,
        },
        T::Text | T::String(None) => DataType::Text,
        T::Varchar(l) | T::CharacterVarying(l) | T::CharVarying(l) => DataType::Varchar(len(l)),
        T::Char(l) | T::Character(l) => DataType::Char(len(l).unwrap_or(1)),
        T::Bool | T::Boolean => DataType::Bool,
        T::Bytea => DataType::Bytea,
        T::Date => DataType::Date,
        T::Time(_, _) => DataType::Time,
        T::Timestamp(_, ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz) => {
            DataType::TimestampTz
        }
        T::Timestamp(_, _) => DataType::Timestamp,
        T::Interval { .. } => DataType::Interval,
        T::Uuid => DataType::Uuid,
        T::JSON => DataType::Json,
        T::JSONB => DataType::Jsonb,
        T::Regclass => DataType::RegClass,
        T::Array(
            ast::ArrayElemTypeDef::SquareBracket(inner, _)
            | ast::ArrayElemTypeDef::AngleBracket(inner),
        ) => DataType::Array(Box::new(convert_type(inner)?)),
        T::Custom(name, mods) => {
            let n = name.to_string().to_lowercase();
            let n = n.trim_start_matches("pg_catalog.").trim_matches('"');
            let mods: Vec<u32> = mods.iter().filter_map(|m| m.parse().ok()).collect();
            match n {
                "serial" | "serial4" => DataType::Int4,
                "bigserial" | "serial8" => DataType::Int8,
                "smallserial" | "serial2" => DataType::Int2,
                "timestamptz" => DataType::TimestampTz,
                "bpchar" => DataType::Char(mods.first().copied().unwrap_or(1)),
                "oid" => DataType::Oid,
                "name" => DataType::Name,
                "regtype" => DataType::RegType,
                "regclass" => DataType::RegClass,
                "regnamespace" | "regrole" | "regoper" | "regprocedure" => DataType::Oid,
                "int2" => DataType::Int2,
                "int4" => DataType::Int4,
                "int8" => DataType::Int8,
                "text" => DataType::Text,
                "float8" => DataType::Float8,
                "float4" => DataType::Float4,
                "bool" => DataType::Bool,
                "varchar" => DataType::Varchar(mods.first().copied()),
                "regproc" => DataType::RegProc,
                "char" => DataType::InternalChar,
                other => crate::types::oid::parse_type_name(other, &mods).ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("type \"{other}\" does not exist"),
                    )
                })?,
            }
        }
        other => {
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("type \"{other}\" is not supported"),
            ))
        }
    })
}

fn numeric_type(p: u64, s: i64) -> Result<DataType> {
    if p == 0 || p > 1000 {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("NUMERIC precision {p} must be between 1 and 1000"),
        ));
    }
    if s < 0 || s as u64 > p {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("NUMERIC scale {s} must be between 0 and precision {p}"),
        ));
    }
    Ok(DataType::Numeric(Some((p as u32, s as u32))))
}

/// Whether a column type is declared `serial`-like.
pub fn serial_type(t: &ast::DataType) -> Option<DataType> {
    if let ast::DataType::Custom(name, _) = t {
        return match name.to_string().to_lowercase().as_str() {
            "serial" | "serial4" => Some(DataType::Int4),
            "bigserial" | "serial8" => Some(DataType::Int8),
            "smallserial" | "serial2" => Some(DataType::Int2),
            _ => None,
        };
    }
    None
}

/// The value of a (possibly negated) numeric literal as a float, when it is
/// one and is finite.
fn float_literal(expr: &ast::Expr) -> Option<f64> {
    let (negative, inner) = match expr {
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => (true, expr.as_ref()),
        ast::Expr::Nested(inner) => return float_literal(inner),
        other => (false, other),
    };
    let ast::Expr::Value(v) = inner else {
        return None;
    };
    let ast::Value::Number(n, _) = &v.value else {
        return None;
    };
    let f: f64 = n.parse().ok().filter(|f: &f64| f.is_finite())?;
    Some(if negative { -f } else { f })
}
