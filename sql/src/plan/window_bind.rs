//! Binding window calls: `f(args) OVER (…)` into a `WindowCall`.
//!
//! `window_function` is reached from `Binder::function` whenever a call has
//! an OVER clause. It resolves the window (inline, `OVER w`, or `OVER (w …)`
//! built on a named window), binds PARTITION BY / ORDER BY / the frame and
//! the arguments in the select list's context, checks the function's
//! signature the way PostgreSQL's function lookup would (integer offsets
//! must cast implicitly, polymorphic arguments may not be bare unknown
//! literals, `lag`'s default unifies with its value), and records the call in
//! the `WindowContext`, returning the placeholder column of its result (see
//! `window`'s essay). Frame clauses are validated here (42P20 for the frame
//! shapes PostgreSQL refuses); their offsets are constants, bound without
//! any row scope, typed bigint for ROWS/GROUPS and, for RANGE, the ORDER BY
//! column's type (interval for date/time columns).

use sqlparser::ast;

use super::bind::{Binder, Bound};
use super::func::{agg_func, agg_result_type, call_args, function_name, is_aggregate, no_function};
use super::scope::Scope;
use super::window::{
    Frame, FrameBound, FrameUnits, WindowCall, WindowContext, WindowFunc, WindowSpec,
    WINDOWING_ERROR, WINDOW_BASE,
};
use super::{AggCall, AggFunc, SortKey};
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::DataType;
use crate::SqlState;

const IN_DEFINITIONS: &str = "window functions are not allowed in window definitions";

/// `42804`: a polymorphic window function given only an unknown literal.
fn polymorphic_unknown() -> Error {
    Error::new(
        SqlState::DATATYPE_MISMATCH,
        "could not determine polymorphic type because input has type unknown",
    )
}

impl<'a> Binder<'a> {
    /// Binds `f(...) OVER ...` into the current window context and returns
    /// the placeholder column of its result.
    pub(crate) fn window_function(
        &mut self,
        f: &ast::Function,
        over: &ast::WindowType,
        scope: &Scope,
        grouped: bool,
    ) -> Result<Bound> {
        let Some(mut ctx) = self.window.take() else {
            let msg = self
                .window_refusal
                .unwrap_or("window functions are not allowed here");
            return Err(Error::new(WINDOWING_ERROR, msg));
        };
        let saved = self.window_refusal;
        let result = self.window_call(f, over, scope, grouped, &ctx);
        self.window_refusal = saved;
        let call = match result {
            Ok(c) => c,
            Err(e) => {
                self.window = Some(ctx);
                return Err(e);
            }
        };
        let ty = call.result_type.clone();
        let k = match ctx.calls.iter().position(|c| *c == call) {
            Some(k) => k,
            None => {
                ctx.calls.push(call);
                ctx.calls.len() - 1
            }
        };
        self.window = Some(ctx);
        Ok((Expr::Column(WINDOW_BASE + k), ty))
    }

    /// Runs `f` with `refusal` as the message for window calls met where
    /// none is allowed (WHERE, JOIN conditions, VALUES, UPDATE, LIMIT).
    pub(crate) fn refusing_windows<T>(
        &mut self,
        refusal: Option<&'static str>,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let saved = std::mem::replace(&mut self.window_refusal, refusal);
        let r = f(self);
        self.window_refusal = saved;
        r
    }

    /// Binds every WINDOW clause definition once, used or not, so its
    /// errors surface as in PostgreSQL (which transforms them all).
    pub(crate) fn check_named_windows(&mut self, scope: &Scope, grouped: bool) -> Result<()> {
        let Some(ctx) = self.window.take() else {
            return Ok(());
        };
        let saved = self.window_refusal.replace(IN_DEFINITIONS);
        let mut result = Ok(());
        for (_, spec) in &ctx.named {
            let checked = ctx
                .over(&ast::WindowType::WindowSpec(ast::WindowSpec {
                    window_frame: None,
                    ..spec.clone()
                }))
                .and_then(|mut merged| {
                    merged.window_frame = spec.window_frame.clone();
                    self.window_spec(&merged, scope, grouped)
                });
            if let Err(e) = checked {
                result = Err(e);
                break;
            }
        }
        self.window_refusal = saved;
        self.window = Some(ctx);
        result
    }

    fn window_call(
        &mut self,
        f: &ast::Function,
        over: &ast::WindowType,
        scope: &Scope,
        grouped: bool,
        ctx: &WindowContext,
    ) -> Result<WindowCall> {
        let name = function_name(&f.name);
        // PostgreSQL 15's grammar has no IGNORE / RESPECT NULLS.
        let null_clause = matches!(&f.args, ast::FunctionArguments::List(l)
            if l.clauses.iter().any(|c| matches!(c, ast::FunctionArgumentClause::IgnoreOrRespectNulls(_))));
        if let Some(t) = f
            .null_treatment
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| null_clause.then(|| "IGNORE NULLS".to_string()))
        {
            let word = t.split_whitespace().next().unwrap_or("IGNORE").to_string();
            return Err(Error::syntax(format!("syntax error at or near \"{word}\"")));
        }
        let spec_ast = ctx.over(over)?;
        // Arguments first, then the window's clauses (PostgreSQL's order,
        // which decides which of two errors is reported).
        let bind_spec = |b: &mut Self| -> Result<WindowSpec> {
            b.window_refusal = Some(IN_DEFINITIONS);
            let spec = b.window_spec(&spec_ast, scope, grouped);
            b.window_refusal = Some("window function calls cannot be nested");
            spec
        };
        self.window_refusal = Some("window function calls cannot be nested");
        let (args, star, distinct, order) = call_args(f)?;
        if is_aggregate(&name) || (name == "count" && star) {
            if distinct {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "DISTINCT is not implemented for window functions",
                ));
            }
            if !order.is_empty() {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "aggregate ORDER BY is not implemented for window functions",
                ));
            }
            let call = self.window_aggregate(&name, f, &args, star, scope, grouped)?;
            return Ok(WindowCall {
                result_type: call.result_type.clone(),
                func: WindowFunc::Agg(call),
                args: vec![],
                spec: bind_spec(self)?,
            });
        }
        if f.filter.is_some() {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "FILTER is not implemented for non-aggregate window functions",
            ));
        }
        let mut bound = Vec::with_capacity(args.len());
        for a in &args {
            bound.push(self.child(a, scope, grouped)?);
        }
        let types: Vec<DataType> = bound.iter().map(|(_, t)| t.clone()).collect();
        let (func, result_type) = match (name.as_str(), bound.len()) {
            ("rank" | "dense_rank" | "percent_rank" | "cume_dist", 1..) => {
                return Err(Error::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("WITHIN GROUP is required for ordered-set aggregate {name}"),
                ))
            }
            ("row_number", 0) => (WindowFunc::RowNumber, DataType::Int8),
            ("rank", 0) => (WindowFunc::Rank, DataType::Int8),
            ("dense_rank", 0) => (WindowFunc::DenseRank, DataType::Int8),
            ("percent_rank", 0) => (WindowFunc::PercentRank, DataType::Float8),
            ("cume_dist", 0) => (WindowFunc::CumeDist, DataType::Float8),
            ("ntile", 1) => {
                let (e, t) = bound.remove(0);
                bound.push((self.int_arg(e, &t, &name, &types)?, DataType::Int4));
                (WindowFunc::Ntile, DataType::Int4)
            }
            ("lag" | "lead", 1..=3) => {
                let func = if name == "lag" {
                    WindowFunc::Lag
                } else {
                    WindowFunc::Lead
                };
                let mut it = bound.into_iter();
                let (v, vt) = it.next().ok_or_else(|| no_function(&name, &types))?;
                let offset = it.next();
                let default = it.next();
                let target = match &default {
                    Some((_, dt)) => super::bind_ops::unify([&vt, dt], &name.to_uppercase())
                        .map_err(|_| no_function(&name, &types))?,
                    None => vt.clone(),
                };
                let target = match (target, &default) {
                    (DataType::Unknown, None) => return Err(polymorphic_unknown()),
                    (DataType::Unknown, Some(_)) => DataType::Text,
                    (t, _) => t,
                };
                let mut out = vec![(self.coerce(v, &vt, &target)?, target.clone())];
                if let Some((o, ot)) = offset {
                    let o = self.int_arg(o, &ot, &name, &types)?;
                    out.push((o, DataType::Int4));
                }
                if let Some((d, dt)) = default {
                    out.push((self.coerce(d, &dt, &target)?, target.clone()));
                }
                bound = out;
                (func, target)
            }
            ("first_value" | "last_value", 1) | ("nth_value", 2) => {
                let (v, vt) = bound.remove(0);
                if vt == DataType::Unknown {
                    return Err(polymorphic_unknown());
                }
                let target = vt.clone();
                let mut out = vec![(v, target.clone())];
                if let Some((n, nt)) = bound.pop() {
                    let n = self.int_arg(n, &nt, &name, &types)?;
                    out.push((n, DataType::Int4));
                }
                bound = out;
                let func = match name.as_str() {
                    "first_value" => WindowFunc::FirstValue,
                    "last_value" => WindowFunc::LastValue,
                    _ => WindowFunc::NthValue,
                };
                (func, target)
            }
            _ => {
                if crate::functions::return_type(&name, &types).is_ok() {
                    return Err(Error::new(
                        SqlState::WRONG_OBJECT_TYPE,
                        format!("OVER specified, but {name} is not a window function nor an aggregate function"),
                    ));
                }
                return Err(no_function(&name, &types));
            }
        };
        Ok(WindowCall {
            func,
            args: bound.into_iter().map(|(e, _)| e).collect(),
            spec: bind_spec(self)?,
            result_type,
        })
    }

    /// An integer argument (offset, bucket count): only types that cast to
    /// integer implicitly are accepted, as PostgreSQL's function lookup does.
    fn int_arg(&mut self, e: Expr, t: &DataType, name: &str, types: &[DataType]) -> Result<Expr> {
        if *t != DataType::Unknown && !crate::types::cast::can_implicit(t, &DataType::Int4) {
            return Err(no_function(name, types));
        }
        self.coerce(e, t, &DataType::Int4)
    }

    /// An aggregate used as a window function; its arguments are bound in
    /// the select list's context (so they may use grouped columns and
    /// aggregates of a grouped query).
    fn window_aggregate(
        &mut self,
        name: &str,
        f: &ast::Function,
        args: &[&ast::Expr],
        star: bool,
        scope: &Scope,
        grouped: bool,
    ) -> Result<AggCall> {
        let filter = match &f.filter {
            Some(w) => {
                let (e, t) = self.child(w, scope, grouped)?;
                Some(self.coerce(e, &t, &DataType::Bool)?)
            }
            None => None,
        };
        if star || (name == "count" && args.is_empty()) {
            if name != "count" {
                return Err(Error::syntax(format!("{name}(*) is not allowed")));
            }
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
            let (e, t) = self.child(a, scope, grouped)?;
            let texty = matches!(
                t,
                DataType::Unknown | DataType::Name | DataType::Varchar(_) | DataType::Char(_)
            );
            let target = if t == DataType::Unknown || (texty && func == AggFunc::StringAgg) {
                DataType::Text
            } else {
                t.clone()
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
        Ok(AggCall {
            func,
            args: bound,
            distinct: false,
            filter,
            order_by: vec![],
            result_type,
            arg_type,
        })
    }

    /// Binds PARTITION BY, ORDER BY and the frame of a resolved window.
    fn window_spec(
        &mut self,
        spec: &ast::WindowSpec,
        scope: &Scope,
        grouped: bool,
    ) -> Result<WindowSpec> {
        let mut partition = Vec::new();
        for p in &spec.partition_by {
            partition.push(self.child(p, scope, grouped)?.0);
        }
        let mut order = Vec::new();
        let mut order_types = Vec::new();
        for o in &spec.order_by {
            let (e, t) = self.child(&o.expr, scope, grouped)?;
            let (desc, nulls_first) = super::names::sort_options(&o.options)?;
            order.push(SortKey {
                expr: e,
                desc,
                nulls_first,
            });
            order_types.push(t);
        }
        let frame = match &spec.window_frame {
            None => Frame {
                units: FrameUnits::Range,
                start: FrameBound::UnboundedPreceding,
                end: FrameBound::CurrentRow,
            },
            Some(fr) => self.frame(fr, &order_types)?,
        };
        Ok(WindowSpec {
            partition,
            order,
            frame,
        })
    }

    fn frame(&mut self, fr: &ast::WindowFrame, order_types: &[DataType]) -> Result<Frame> {
        let units = match fr.units {
            ast::WindowFrameUnits::Rows => FrameUnits::Rows,
            ast::WindowFrameUnits::Range => FrameUnits::Range,
            ast::WindowFrameUnits::Groups => FrameUnits::Groups,
        };
        let end_ast = fr
            .end_bound
            .clone()
            .unwrap_or(ast::WindowFrameBound::CurrentRow);
        let rank = |b: &ast::WindowFrameBound| match b {
            ast::WindowFrameBound::Preceding(None) => 0,
            ast::WindowFrameBound::Preceding(Some(_)) => 1,
            ast::WindowFrameBound::CurrentRow => 2,
            ast::WindowFrameBound::Following(Some(_)) => 3,
            ast::WindowFrameBound::Following(None) => 4,
        };
        let (rs, re) = (rank(&fr.start_bound), rank(&end_ast));
        let msg = match (rs, re) {
            (4, _) => Some("frame start cannot be UNBOUNDED FOLLOWING"),
            (_, 0) => Some("frame end cannot be UNBOUNDED PRECEDING"),
            (2, 1) => Some("frame starting from current row cannot have preceding rows"),
            (3, 1) => Some("frame starting from following row cannot have preceding rows"),
            (3, 2) => Some("frame starting from following row cannot have preceding rows"),
            _ => None,
        };
        if let Some(m) = msg {
            return Err(Error::new(WINDOWING_ERROR, m));
        }
        let has_offset = matches!(rs, 1 | 3) || matches!(re, 1 | 3);
        if units == FrameUnits::Range && has_offset && order_types.len() != 1 {
            return Err(Error::new(
                WINDOWING_ERROR,
                "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column",
            ));
        }
        if units == FrameUnits::Groups && order_types.is_empty() {
            return Err(Error::new(
                WINDOWING_ERROR,
                "GROUPS mode requires an ORDER BY clause",
            ));
        }
        let offset_type = match units {
            FrameUnits::Range => match order_types.first() {
                Some(
                    t @ (DataType::Int2
                    | DataType::Int4
                    | DataType::Int8
                    | DataType::Numeric(_)
                    | DataType::Float4
                    | DataType::Float8),
                ) => t.clone(),
                Some(
                    DataType::Date
                    | DataType::Timestamp
                    | DataType::TimestampTz
                    | DataType::Time
                    | DataType::Interval,
                ) => DataType::Interval,
                Some(other) if has_offset => {
                    return Err(Error::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        format!(
                        "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {}",
                        crate::types::oid::type_name(other)
                    ),
                    ))
                }
                _ => DataType::Int8,
            },
            _ => DataType::Int8,
        };
        let range_column = match units {
            FrameUnits::Range => order_types.first(),
            _ => None,
        };
        let units_name = match units {
            FrameUnits::Rows => "ROWS",
            FrameUnits::Range => "RANGE",
            FrameUnits::Groups => "GROUPS",
        };
        let start = self.frame_bound(&fr.start_bound, &offset_type, range_column, units_name)?;
        let end = self.frame_bound(&end_ast, &offset_type, range_column, units_name)?;
        Ok(Frame { units, start, end })
    }

    /// One end of a frame; `range_column` is the ORDER BY column's type in
    /// RANGE mode, which decides what offset types PostgreSQL has an
    /// `in_range` support function for.
    fn frame_bound(
        &mut self,
        b: &ast::WindowFrameBound,
        ty: &DataType,
        range_column: Option<&DataType>,
        units: &str,
    ) -> Result<FrameBound> {
        let offset = |b: &mut Self, e: &ast::Expr| -> Result<Expr> {
            // sqlparser reads a quoted frame offset as an INTERVAL; to
            // PostgreSQL it is an unknown literal typed by its context.
            let e = match e {
                ast::Expr::Interval(iv)
                    if iv.leading_field.is_none()
                        && iv.last_field.is_none()
                        && matches!(&*iv.value, ast::Expr::Value(_)) =>
                {
                    &*iv.value
                }
                other => other,
            };
            // Offsets may not refer to the rows (PostgreSQL: 42P10).
            let (x, t) = b.expr(e, &Scope::default()).map_err(|err| {
                if err.state() == SqlState::UNDEFINED_COLUMN {
                    Error::new(
                        SqlState("42P10"),
                        format!("argument of {units} must not contain variables"),
                    )
                } else {
                    err
                }
            })?;
            if let Some(col) = range_column {
                if !range_offset_ok(col, &t) {
                    return Err(Error::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        format!(
                            "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {} and offset type {}",
                            crate::types::oid::type_name(col),
                            crate::types::oid::type_name(&t)
                        ),
                    ));
                }
            }
            b.coerce(x, &t, ty)
        };
        Ok(match b {
            ast::WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
            ast::WindowFrameBound::Preceding(Some(e)) => FrameBound::Preceding(offset(self, e)?),
            ast::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
            ast::WindowFrameBound::Following(Some(e)) => FrameBound::Following(offset(self, e)?),
            ast::WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
        })
    }
}

/// Whether PostgreSQL can compare a RANGE frame offset of type `offset`
/// against ORDER BY values of type `column` (it has an `in_range` function
/// for the pair, after implicit casts).
fn range_offset_ok(column: &DataType, offset: &DataType) -> bool {
    use DataType as T;
    let int = |t: &DataType| matches!(t, T::Int2 | T::Int4 | T::Int8);
    match column {
        _ if *offset == T::Unknown => true,
        T::Int2 | T::Int4 | T::Int8 => int(offset),
        T::Float4 | T::Float8 => {
            int(offset) || matches!(offset, T::Float4 | T::Float8 | T::Numeric(_))
        }
        T::Numeric(_) => int(offset) || matches!(offset, T::Numeric(_)),
        T::Date | T::Timestamp | T::TimestampTz | T::Time | T::Interval => *offset == T::Interval,
        _ => false,
    }
}
