//! Binding of function calls, aggregates, casts and the SQL special forms.

use std::sync::Arc;

use sqlparser::ast;

use super::bind::{ident, operator_error, Binder, Bound};
use super::scope::Scope;
use super::{AggCall, AggFunc, SortKey};
use crate::error::{Error, Result};
use crate::exec::replication_fn::WalFn;
use crate::expr::{Expr, SessionFn};
use crate::functions;
use crate::types::ops::BinaryOp;
use crate::types::{cast, DataType, Value};
use crate::SqlState;

/// The last part of a (possibly schema-qualified) function name, lower-cased.
pub fn function_name(name: &ast::ObjectName) -> String {
    name.0
        .last()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(id) => ident(id),
            ast::ObjectNamePart::Function(f) => ident(&f.name),
        })
        .unwrap_or_default()
}

/// Whether `name` is an aggregate function.
pub fn is_aggregate(name: &str) -> bool {
    agg_func(name, 1).is_some() || agg_func(name, 2).is_some() || agg_func(name, 0).is_some()
}

pub(crate) fn agg_func(name: &str, nargs: usize) -> Option<AggFunc> {
    Some(match (name, nargs) {
        ("count", 1) => AggFunc::Count,
        ("sum", 1) => AggFunc::Sum,
        ("avg", 1) => AggFunc::Avg,
        ("min", 1) => AggFunc::Min,
        ("max", 1) => AggFunc::Max,
        ("bool_and" | "every", 1) => AggFunc::BoolAnd,
        ("bool_or", 1) => AggFunc::BoolOr,
        ("string_agg", 2) => AggFunc::StringAgg,
        ("array_agg", 1) => AggFunc::ArrayAgg,
        ("json_agg", 1) => AggFunc::JsonAgg(false),
        ("jsonb_agg", 1) => AggFunc::JsonAgg(true),
        ("json_object_agg", 2) => AggFunc::JsonObjectAgg(false),
        ("jsonb_object_agg", 2) => AggFunc::JsonObjectAgg(true),
        ("stddev" | "stddev_samp", 1) => AggFunc::StddevSamp,
        ("stddev_pop", 1) => AggFunc::StddevPop,
        ("variance" | "var_samp", 1) => AggFunc::VarSamp,
        ("var_pop", 1) => AggFunc::VarPop,
        ("bit_and", 1) => AggFunc::BitAnd,
        ("bit_or", 1) => AggFunc::BitOr,
        ("percentile_cont", 1) => AggFunc::PercentileCont,
        ("percentile_disc", 1) => AggFunc::PercentileDisc,
        ("mode", 0) => AggFunc::Mode,
        (name, 2) => return crate::exec::agg_stats::regr_func(name),
        _ => return None,
    })
}

pub(crate) fn agg_result_type(func: &AggFunc, arg: &DataType) -> Result<DataType> {
    use DataType as T;
    let numeric_arg = matches!(
        arg,
        T::Int2 | T::Int4 | T::Int8 | T::Numeric(_) | T::Float4 | T::Float8
    );
    Ok(match func {
        AggFunc::CountStar | AggFunc::Count => T::Int8,
        AggFunc::Sum => match arg {
            T::Int2 | T::Int4 => T::Int8,
            T::Int8 | T::Numeric(_) => T::Numeric(None),
            T::Float4 => T::Float4,
            T::Float8 | T::Unknown => T::Float8,
            T::Interval => T::Interval,
            other => return Err(no_function("sum", std::slice::from_ref(other))),
        },
        AggFunc::Avg => match arg {
            T::Int2 | T::Int4 | T::Int8 | T::Numeric(_) => T::Numeric(None),
            T::Float4 | T::Float8 | T::Unknown => T::Float8,
            T::Interval => T::Interval,
            other => return Err(no_function("avg", std::slice::from_ref(other))),
        },
        AggFunc::StddevSamp | AggFunc::StddevPop | AggFunc::VarSamp | AggFunc::VarPop => {
            match arg {
                T::Float4 | T::Float8 => T::Float8,
                _ if numeric_arg => T::Numeric(None),
                other => return Err(no_function("stddev", std::slice::from_ref(other))),
            }
        }
        AggFunc::Min | AggFunc::Max => match arg {
            T::Varchar(_) | T::Char(_) | T::Name | T::Unknown => T::Text,
            // PostgreSQL has no min/max for these (bool: use bool_and/or).
            T::Json | T::Jsonb | T::Bool => {
                let name = if matches!(func, AggFunc::Min) {
                    "min"
                } else {
                    "max"
                };
                return Err(no_function(name, std::slice::from_ref(arg)));
            }
            other => other.clone(),
        },
        AggFunc::BoolAnd | AggFunc::BoolOr => T::Bool,
        AggFunc::StringAgg => T::Text,
        AggFunc::ArrayAgg => T::Array(Box::new(if *arg == T::Unknown {
            T::Text
        } else {
            arg.clone()
        })),
        AggFunc::JsonAgg(b) | AggFunc::JsonObjectAgg(b) => {
            if *b {
                T::Jsonb
            } else {
                T::Json
            }
        }
        AggFunc::BitAnd | AggFunc::BitOr => arg.clone(),
        AggFunc::RegrCount => T::Int8,
        AggFunc::PercentileCont | AggFunc::PercentileDisc | AggFunc::Mode => arg.clone(),
        _ => T::Float8,
    })
}

/// `42883 function f(types) does not exist`.
pub fn no_function(name: &str, args: &[DataType]) -> Error {
    let list: Vec<String> = args.iter().map(crate::types::oid::type_name).collect();
    Error::new(SqlState::UNDEFINED_FUNCTION, format!("function {name}({}) does not exist", list.join(", ")))
        .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

/// Plain (positional) arguments of a call.
pub fn call_args(
    f: &ast::Function,
) -> Result<(Vec<&ast::Expr>, bool, bool, Vec<&ast::OrderByExpr>)> {
    match &f.args {
        ast::FunctionArguments::None => Ok((vec![], false, false, vec![])),
        ast::FunctionArguments::Subquery(_) => {
            Err(Error::unsupported("subquery as function argument list"))
        }
        ast::FunctionArguments::List(list) => {
            let mut args = Vec::new();
            let mut star = false;
            for a in &list.args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e),
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                    ast::FunctionArg::Named {
                        arg: ast::FunctionArgExpr::Expr(e),
                        ..
                    } => args.push(e),
                    other => return Err(Error::unsupported(format!("function argument {other}"))),
                }
            }
            let distinct = matches!(
                list.duplicate_treatment,
                Some(ast::DuplicateTreatment::Distinct)
            );
            let mut order = Vec::new();
            for c in &list.clauses {
                if let ast::FunctionArgumentClause::OrderBy(o) = c {
                    order.extend(o.iter());
                }
            }
            Ok((args, star, distinct, order))
        }
    }
}

impl<'a> Binder<'a> {
    /// Binds an aggregate call's arguments against the aggregated rows.
    pub(crate) fn aggregate_call(
        &mut self,
        name: &str,
        f: &ast::Function,
        input: &Scope,
    ) -> Result<AggCall> {
        let (args, star, distinct, order) = call_args(f)?;
        let saved = self.agg.take();
        // Nothing inside an aggregate call may be a window call (the
        // arguments were checked above for PostgreSQL's 42803 message).
        let saved_window = self.window.take();
        let saved_refusal = self
            .window_refusal
            .replace("window functions are not allowed in FILTER");
        let result = (|| {
            let ordered_set = |n: usize| {
                agg_func(name, n).is_some_and(|f| crate::exec::agg_stats::is_ordered_set(&f))
            };
            let ordered =
                ordered_set(args.len()) || (!args.is_empty() && ordered_set(args.len() - 1));
            if ordered || !f.within_group.is_empty() {
                return self.ordered_set_call(name, f, input);
            }
            if star || (name == "count" && args.is_empty()) {
                if name != "count" {
                    return Err(Error::syntax(format!("{name}(*) is not allowed")));
                }
                let filter = f
                    .filter
                    .as_ref()
                    .map(|w| self.predicate(w, input, "FILTER"))
                    .transpose()?;
                return Ok(AggCall {
                    func: AggFunc::CountStar,
                    args: vec![],
                    distinct: false,
                    filter,
                    order_by: vec![],
                    result_type: DataType::Int8,
                    arg_type: DataType::Int8,
                });
            }
            let func = agg_func(name, args.len()).ok_or_else(|| no_function(name, &[]))?;
            let mut bound = Vec::new();
            let mut arg_type = DataType::Unknown;
            for (i, a) in args.iter().enumerate() {
                if super::window::contains_window_ast(a) {
                    return Err(Error::new(
                        SqlState::GROUPING_ERROR,
                        "aggregate function calls cannot contain window function calls",
                    ));
                }
                let (e, t) = self.expr(a, input)?;
                if contains_aggregate_ast(a) {
                    return Err(Error::new(
                        SqlState::GROUPING_ERROR,
                        "aggregate function calls cannot be nested",
                    ));
                }
                let texty = matches!(
                    t,
                    DataType::Unknown | DataType::Name | DataType::Varchar(_) | DataType::Char(_)
                );
                let target = if crate::exec::agg_stats::is_regr(&func) {
                    // corr/covar/regr exist for double precision only.
                    if !crate::functions::is_num(&t) {
                        return Err(no_function(name, std::slice::from_ref(&t)));
                    }
                    DataType::Float8
                } else if t == DataType::Unknown || (texty && func == AggFunc::StringAgg) {
                    DataType::Text
                } else {
                    t.clone()
                };
                let e = match func {
                    AggFunc::JsonAgg(binary) => super::whole_row::agg_record_arg(binary, e),
                    AggFunc::Count => super::whole_row::count_record_arg(e),
                    _ => e,
                };
                bound.push(self.coerce(e, &t, &target)?);
                if i == 0 {
                    arg_type = target;
                }
            }
            if matches!(func, AggFunc::BoolAnd | AggFunc::BoolOr) && arg_type != DataType::Bool {
                return Err(no_function(name, &[arg_type]));
            }
            let result_type = agg_result_type(&func, &arg_type)?;
            let filter = f
                .filter
                .as_ref()
                .map(|w| self.predicate(w, input, "FILTER"))
                .transpose()?;
            let mut order_by = Vec::new();
            for o in order {
                let (e, _) = self.expr(&o.expr, input)?;
                let (desc, nulls_first) = super::names::sort_options(&o.options)?;
                order_by.push(SortKey {
                    expr: e,
                    desc,
                    nulls_first,
                });
            }
            Ok(AggCall {
                func,
                args: bound,
                distinct,
                filter,
                order_by,
                result_type,
                arg_type,
            })
        })();
        self.agg = saved;
        self.window = saved_window;
        self.window_refusal = saved_refusal;
        result
    }

    /// Binds a non-aggregate function call.
    pub(crate) fn function(
        &mut self,
        f: &ast::Function,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        let name = function_name(&f.name);
        let positional = super::named_args::positional(&name, f)?;
        let f = positional.as_ref().unwrap_or(f);
        if let Some(over) = &f.over {
            return self.window_function(f, over, scope, grouped);
        }
        if is_aggregate(&name) {
            return Err(Error::new(
                SqlState::GROUPING_ERROR,
                format!("aggregate functions are not allowed here ({name})"),
            ));
        }
        if let (ast::FunctionArguments::Subquery(q), "array") = (&f.args, name.as_str()) {
            let (plan, out) = self.subquery(q, scope)?;
            let elem = out
                .columns
                .first()
                .map(|c| c.data_type.clone())
                .unwrap_or(DataType::Text);
            return Ok((Expr::ArraySubquery(plan), DataType::Array(Box::new(elem))));
        }
        let (args, _, _, _) = call_args(f)?;
        let mut bound = Vec::with_capacity(args.len());
        for a in &args {
            bound.push(self.child(a, scope, grouped)?);
        }
        if let Some(b) = self.session_function(&name, &args, &mut bound)? {
            return Ok(b);
        }
        if name == "row" && f.over.is_none() {
            return super::whole_row::row_constructor(self, bound);
        }
        if let Some(b) = super::whole_row::record_to_json(&name, &bound) {
            return Ok(b);
        }
        match name.as_str() {
            "coalesce" | "greatest" | "least" => {
                let target =
                    super::bind_ops::unify(bound.iter().map(|(_, t)| t), &name.to_uppercase())?;
                let items = bound
                    .into_iter()
                    .map(|(e, t)| self.coerce(e, &t, &target))
                    .collect::<Result<Vec<_>>>()?;
                let e = match name.as_str() {
                    "coalesce" => Expr::Coalesce(items),
                    g => Expr::Extreme(g == "greatest", items),
                };
                return Ok((e, target));
            }
            "nullif" => {
                if bound.len() != 2 {
                    return Err(no_function("nullif", &[]));
                }
                let (b_e, b_t) = bound
                    .pop()
                    .unwrap_or((Expr::Literal(Value::Null), DataType::Unknown));
                let (a_e, a_t) = bound
                    .pop()
                    .unwrap_or((Expr::Literal(Value::Null), DataType::Unknown));
                let target =
                    cast::common_type(&a_t, &b_t).ok_or_else(|| operator_error("=", &a_t, &b_t))?;
                let target = if target == DataType::Unknown {
                    DataType::Text
                } else {
                    target
                };
                let a_e = self.coerce(a_e, &a_t, &target)?;
                let b_e = self.coerce(b_e, &b_t, &target)?;
                return Ok((Expr::NullIf(Box::new(a_e), Box::new(b_e)), target));
            }
            _ => {}
        }
        // `SELECT jsonb_each(x)`: the record-returning SRFs in a select list
        // return each row as one record value.
        let name = if super::from::is_record_srf(&name) {
            format!("{name}.record")
        } else {
            name
        };
        if super::from::is_srf(&name) {
            let mut exprs = Vec::with_capacity(bound.len());
            let mut types = Vec::with_capacity(bound.len());
            for (e, t) in bound {
                let target = if t == DataType::Unknown {
                    DataType::Text
                } else {
                    t.clone()
                };
                exprs.push(self.coerce_unknown(e, &t, &target)?);
                types.push(target);
            }
            let ty = super::from::srf_type(&name, &types)?;
            return Ok((Expr::Function(name, exprs), ty));
        }
        // Unknown literals default to text for ordinary functions.
        let mut exprs = Vec::with_capacity(bound.len());
        let mut types = Vec::with_capacity(bound.len());
        for (e, t) in bound {
            let (e, t) = if name == "octet_length" {
                (e, t)
            } else {
                super::bind_ops::strip_bpchar(e, t)
            };
            let target = if t == DataType::Unknown {
                default_arg_type(&name, exprs.len())
            } else {
                t.clone()
            };
            exprs.push(self.coerce_unknown(e, &t, &target)?);
            types.push(target);
        }
        let ty = functions::return_type(&name, &types)?;
        let ty = if ty == DataType::Unknown {
            DataType::Text
        } else {
            ty
        };
        Ok((Expr::Function(name, exprs), ty))
    }

    /// Functions that read the session, the engine or the catalog.
    fn session_function(
        &mut self,
        name: &str,
        args: &[&ast::Expr],
        bound: &mut Vec<Bound>,
    ) -> Result<Option<Bound>> {
        let simple = |f: SessionFn, t: DataType| Ok(Some((Expr::Session(f, vec![]), t)));
        match (name, bound.len()) {
            ("now" | "transaction_timestamp" | "current_timestamp", 0) => {
                simple(SessionFn::Now, DataType::TimestampTz)
            }
            ("localtimestamp", 0) => Ok(Some((
                Expr::Cast(
                    Box::new(Expr::Session(SessionFn::Now, vec![])),
                    DataType::Timestamp,
                ),
                DataType::Timestamp,
            ))),
            ("current_date", 0) => simple(SessionFn::CurrentDate, DataType::Date),
            ("current_time" | "localtime", 0) => simple(SessionFn::CurrentTime, DataType::Time),
            ("current_catalog", 0) => simple(SessionFn::CurrentDatabase, DataType::Name),
            ("current_role", 0) => simple(SessionFn::CurrentUser, DataType::Name),
            ("statement_timestamp", 0) => {
                simple(SessionFn::StatementTimestamp, DataType::TimestampTz)
            }
            ("clock_timestamp", 0) => simple(SessionFn::ClockTimestamp, DataType::TimestampTz),
            ("version", 0) => simple(SessionFn::Version, DataType::Text),
            ("current_database", 0) => simple(SessionFn::CurrentDatabase, DataType::Name),
            ("current_schema", 0) => simple(SessionFn::CurrentSchema, DataType::Name),
            ("current_user" | "session_user" | "user", 0) => {
                simple(SessionFn::CurrentUser, DataType::Name)
            }
            ("pg_backend_pid", 0) => simple(SessionFn::BackendPid, DataType::Int4),
            (name, n) if WalFn::lookup(name, n).is_some() => {
                let Some((f, ty)) = WalFn::lookup(name, n) else {
                    return Ok(None);
                };
                let args = bound
                    .drain(..)
                    .map(|(e, t)| self.coerce(e, &t, &f.arg_type()))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Some((Expr::Session(SessionFn::Wal(f), args), ty)))
            }
            ("txid_current", 0) => simple(SessionFn::TxidCurrent, DataType::Int8),
            ("current_schemas", 1) => {
                let args = bound.drain(..).map(|(e, _)| e).collect();
                Ok(Some((
                    Expr::Session(SessionFn::CurrentSchemas, args),
                    DataType::Array(Box::new(DataType::Name)),
                )))
            }
            (name, _) if crate::exec::catalog_fn::return_type(name, bound.len()).is_some() => {
                let ty = crate::exec::catalog_fn::return_type(name, bound.len())
                    .unwrap_or(DataType::Text);
                let args = bound
                    .drain(..)
                    .map(|(e, t)| self.coerce_unknown(e, &t, &DataType::Text))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Some((
                    Expr::Session(SessionFn::Catalog(name.to_string()), args),
                    ty,
                )))
            }
            ("pg_typeof", 1) => {
                let t = bound[0].1.clone();
                Ok(Some((
                    Expr::Session(SessionFn::PgTypeof(t), vec![]),
                    DataType::RegType,
                )))
            }
            ("nextval" | "currval", 1) => {
                let seq = self.sequence_arg(args[0], &bound[0])?;
                let f = if name == "nextval" {
                    SessionFn::NextVal
                } else {
                    SessionFn::CurrVal
                };
                Ok(Some((Expr::Session(f, vec![seq]), DataType::Int8)))
            }
            ("setval", 2 | 3) => {
                let seq = self.sequence_arg(args[0], &bound[0])?;
                let mut rest: Vec<Expr> = vec![seq];
                for (i, (e, t)) in bound.drain(..).enumerate().skip(1) {
                    let target = if i == 1 {
                        DataType::Int8
                    } else {
                        DataType::Bool
                    };
                    rest.push(self.coerce(e, &t, &target)?);
                }
                Ok(Some((
                    Expr::Session(SessionFn::SetVal, rest),
                    DataType::Int8,
                )))
            }
            ("set_config", 3) => {
                let args = bound
                    .drain(..)
                    .map(|(e, t)| {
                        let target = if t == DataType::Unknown {
                            DataType::Text
                        } else {
                            t.clone()
                        };
                        self.coerce_unknown(e, &t, &target)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Some((
                    Expr::Session(SessionFn::SetConfig, args),
                    DataType::Text,
                )))
            }
            ("current_setting", 1 | 2) => {
                let args = bound
                    .drain(..)
                    .map(|(e, t)| self.coerce_unknown(e, &t, &DataType::Text))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Some((
                    Expr::Session(SessionFn::CurrentSetting, args),
                    DataType::Text,
                )))
            }
            _ => Ok(None),
        }
    }

    /// A sequence argument: a literal name is checked now (`42P01`).
    fn sequence_arg(&mut self, ast_arg: &ast::Expr, bound: &Bound) -> Result<Expr> {
        let ast_arg = match ast_arg {
            ast::Expr::Cast { expr, .. } => expr.as_ref(),
            other => other,
        };
        if let ast::Expr::Value(v) = ast_arg {
            if let ast::Value::SingleQuotedString(s) = &v.value {
                let name = s.trim_start_matches("public.").to_string();
                let name = if name.starts_with('"') {
                    name.trim_matches('"').to_string()
                } else {
                    name.to_lowercase()
                };
                self.catalog.sequence(&name)?;
                return Ok(Expr::Literal(Value::Text(name)));
            }
        }
        let (e, t) = bound.clone();
        self.coerce_unknown(e, &t, &DataType::Text)
    }

    /// Binds a subquery with `scope` as its outer scope.
    pub(crate) fn subquery(
        &mut self,
        q: &ast::Query,
        scope: &Scope,
    ) -> Result<(Arc<super::Plan>, Scope)> {
        self.outer.push(scope.clone());
        let saved_agg = self.agg.take();
        let saved_window = self.window.take();
        let saved_refusal = self.window_refusal.take();
        let r = self.query(q);
        self.agg = saved_agg;
        self.window = saved_window;
        self.window_refusal = saved_refusal;
        self.outer.pop();
        let (plan, out) = r?;
        Ok((Arc::new(plan), out))
    }

    /// Binds `expr op ANY/ALL (...)`.
    pub(crate) fn any_all(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        all: bool,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        let bop = match op {
            ast::BinaryOperator::Eq => BinaryOp::Eq,
            ast::BinaryOperator::NotEq => BinaryOp::NotEq,
            ast::BinaryOperator::Lt => BinaryOp::Lt,
            ast::BinaryOperator::LtEq => BinaryOp::LtEq,
            ast::BinaryOperator::Gt => BinaryOp::Gt,
            ast::BinaryOperator::GtEq => BinaryOp::GtEq,
            other => return Err(Error::unsupported(format!("{other} ANY/ALL"))),
        };
        let (l, lt) = self.child(left, scope, grouped)?;
        if let ast::Expr::Subquery(q) = right {
            let (plan, out) = self.subquery(q, scope)?;
            let rt = out
                .columns
                .first()
                .map(|c| c.data_type.clone())
                .unwrap_or(DataType::Unknown);
            let l = self.coerce_unknown(l, &lt, &rt)?;
            return Ok((
                Expr::AnyAllSubquery {
                    expr: Box::new(l),
                    op: bop,
                    plan,
                    all,
                },
                DataType::Bool,
            ));
        }
        let (r, rt) = self.child(right, scope, grouped)?;
        let elem = match &rt {
            DataType::Array(e) => (**e).clone(),
            DataType::Unknown => lt.clone(),
            other => {
                return Err(Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "op ANY/ALL (array) requires array on right side, not {}",
                        crate::types::oid::type_name(other)
                    ),
                ))
            }
        };
        let r = self.coerce_unknown(r, &rt, &DataType::Array(Box::new(elem.clone())))?;
        let l = self.coerce_unknown(l, &lt, &elem)?;
        Ok((
            Expr::AnyAll {
                expr: Box::new(l),
                op: bop,
                array: Box::new(r),
                all,
            },
            DataType::Bool,
        ))
    }
}

/// The type an unknown literal argument of a function takes.
fn default_arg_type(name: &str, position: usize) -> DataType {
    match (name, position) {
        ("date_trunc" | "date_part", 1) => DataType::TimestampTz,
        // An untyped literal resolves to the only candidate's type.
        ("jsonb_typeof" | "jsonb_array_length" | "jsonb_strip_nulls" | "jsonb_pretty", 0) => {
            DataType::Jsonb
        }
        ("json_typeof" | "json_array_length" | "json_strip_nulls", 0) => DataType::Json,
        ("to_timestamp", 0) | ("to_char", _) | ("to_date", _) => DataType::Text,
        _ => DataType::Text,
    }
}

/// Whether an AST expression contains an aggregate call of this query level
/// (aggregates inside subqueries belong to the subquery).
pub fn contains_aggregate_ast(e: &ast::Expr) -> bool {
    struct Finder {
        depth: usize,
        found: bool,
    }
    impl ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _q: &ast::Query) -> std::ops::ControlFlow<()> {
            self.depth += 1;
            std::ops::ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _q: &ast::Query) -> std::ops::ControlFlow<()> {
            self.depth -= 1;
            std::ops::ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, x: &ast::Expr) -> std::ops::ControlFlow<()> {
            if self.depth == 0 {
                if let ast::Expr::Function(f) = x {
                    if is_aggregate(&function_name(&f.name)) && f.over.is_none() {
                        self.found = true;
                        return std::ops::ControlFlow::Break(());
                    }
                }
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut finder = Finder {
        depth: 0,
        found: false,
    };
    let _ = ast::Visit::visit(e, &mut finder);
    finder.found
}
