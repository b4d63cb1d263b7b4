//! Planning window functions (`f(...) OVER (PARTITION BY … ORDER BY … frame)`).
//!
//! A SELECT whose outputs (or ORDER BY / DISTINCT ON items) call window
//! functions gets a `Plan::Window` node between the rows it computes over
//! (the FROM/WHERE rows, or the Aggregate + HAVING output of a grouped
//! query) and the final projection. The node passes every input row through
//! and appends one column per distinct window call, so a call's result is
//! just a column reference for the projection above it.
//!
//! Binding happens while the select list is bound: `Binder::window` holds a
//! `WindowContext` (the calls collected so far and the query's `WINDOW`
//! clause) exactly while window calls are allowed. Because a grouped query's
//! Aggregate node keeps growing while its outputs are bound (each new
//! aggregate adds a column), the final width of the Window node's input is
//! unknown when a call is met; a call is therefore bound as the placeholder
//! column `WINDOW_BASE + k` and `remap` moves placeholders to `width + k`
//! once everything is bound. Identical calls share one column, which is also
//! how `ORDER BY rank() OVER (…)` finds the select item with the same call.
//!
//! Everything inside a call (arguments, PARTITION BY, ORDER BY, FILTER) is
//! bound in the context of the select list itself, so in a grouped query
//! `sum(sum(x)) OVER ()` sums the per-group sums. While a call is being
//! bound the context is taken away, which is how nested window calls are
//! refused (42P20), and a window call met with no context at all (WHERE,
//! GROUP BY, HAVING, JOIN ON, DML) is refused with the same SQLSTATE.

use sqlparser::ast;

use super::bind::{ident, Binder, Bound};
use super::func::{agg_func, agg_result_type, call_args, function_name, is_aggregate, no_function};
use super::scope::Scope;
use super::{AggCall, AggFunc, SortKey};
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::DataType;
use crate::SqlState;

/// SQLSTATE 42P20 windowing_error.
pub const WINDOWING_ERROR: SqlState = SqlState("42P20");

/// Placeholder column base for window results before the input width is known.
const WINDOW_BASE: usize = usize::MAX / 4;

/// A window function.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    /// An ordinary aggregate computed over the window frame.
    Agg(AggCall),
}

/// The unit frame offsets count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameUnits {
    Rows,
    Range,
    Groups,
}

/// One end of a window frame.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(Expr),
    CurrentRow,
    Following(Expr),
    UnboundedFollowing,
}

/// A window frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub units: FrameUnits,
    pub start: FrameBound,
    pub end: FrameBound,
}

/// Partitioning, ordering and frame of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    pub partition: Vec<Expr>,
    pub order: Vec<SortKey>,
    pub frame: Frame,
}

/// One window call of a Window node.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowCall {
    pub func: WindowFunc,
    /// Arguments of non-aggregate functions (aggregates carry their own).
    pub args: Vec<Expr>,
    pub spec: WindowSpec,
    pub result_type: DataType,
}

/// Window calls of the SELECT being bound, and its WINDOW clause.
#[derive(Debug, Default)]
pub struct WindowContext {
    pub calls: Vec<WindowCall>,
    pub named: Vec<(String, ast::WindowSpec)>,
}

impl WindowContext {
    /// A context for a SELECT with this WINDOW clause; refuses duplicate
    /// names and references to undefined windows.
    pub fn new(defs: &[ast::NamedWindowDefinition]) -> Result<Self> {
        let mut named: Vec<(String, ast::WindowSpec)> = Vec::new();
        for d in defs {
            let name = ident(&d.0);
            if named.iter().any(|(n, _)| *n == name) {
                return Err(Error::new(
                    WINDOWING_ERROR,
                    format!("window \"{name}\" is already defined"),
                ));
            }
            let spec = match &d.1 {
                ast::NamedWindowExpr::WindowSpec(s) => s.clone(),
                ast::NamedWindowExpr::NamedWindow(other) => ast::WindowSpec {
                    window_name: Some(other.clone()),
                    partition_by: vec![],
                    order_by: vec![],
                    window_frame: None,
                },
            };
            named.push((name, spec));
        }
        let ctx = WindowContext {
            calls: vec![],
            named,
        };
        for (_, spec) in &ctx.named {
            ctx.resolve(spec, 0)?;
        }
        Ok(ctx)
    }

    /// Merges a window specification with the named window it builds on,
    /// with PostgreSQL's rules about what may be overridden.
    fn resolve(&self, spec: &ast::WindowSpec, depth: usize) -> Result<ast::WindowSpec> {
        let Some(base_name) = &spec.window_name else {
            return Ok(spec.clone());
        };
        let name = ident(base_name);
        let base = self
            .named
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
            .ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!("window \"{name}\" does not exist"),
                )
            })?;
        if depth > self.named.len() {
            return Err(Error::new(
                WINDOWING_ERROR,
                "window definitions form a cycle",
            ));
        }
        let base = self.resolve(base, depth + 1)?;
        if !spec.partition_by.is_empty() {
            return Err(Error::new(
                WINDOWING_ERROR,
                format!("cannot override PARTITION BY clause of window \"{name}\""),
            ));
        }
        if !spec.order_by.is_empty() && !base.order_by.is_empty() {
            return Err(Error::new(
                WINDOWING_ERROR,
                format!("cannot override ORDER BY clause of window \"{name}\""),
            ));
        }
        if base.window_frame.is_some() {
            return Err(Error::new(
                WINDOWING_ERROR,
                format!("cannot copy window \"{name}\" because it has a frame clause"),
            ));
        }
        Ok(ast::WindowSpec {
            window_name: None,
            partition_by: base.partition_by,
            order_by: if spec.order_by.is_empty() {
                base.order_by
            } else {
                spec.order_by.clone()
            },
            window_frame: spec.window_frame.clone(),
        })
    }

    /// The specification an OVER clause stands for.
    fn over(&self, over: &ast::WindowType) -> Result<ast::WindowSpec> {
        match over {
            ast::WindowType::WindowSpec(s) => self.resolve(s, 0),
            ast::WindowType::NamedWindow(id) => {
                let name = ident(id);
                let spec = self
                    .named
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, s)| s)
                    .ok_or_else(|| {
                        Error::new(
                            SqlState::UNDEFINED_OBJECT,
                            format!("window \"{name}\" does not exist"),
                        )
                    })?;
                // `OVER w` uses w as is, frame included.
                let mut merged = self.resolve(
                    &ast::WindowSpec {
                        window_frame: None,
                        ..spec.clone()
                    },
                    0,
                )?;
                merged.window_frame = spec.window_frame.clone();
                Ok(merged)
            }
        }
    }
}

/// Whether an AST expression calls a window function at this query level.
pub fn contains_window_ast(e: &ast::Expr) -> bool {
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
                    if f.over.is_some() {
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

/// `42P20 window functions are not allowed in {clause}` when `e` has one.
pub fn refuse_window_in(e: &ast::Expr, clause: &str) -> Result<()> {
    if contains_window_ast(e) {
        return Err(Error::new(
            WINDOWING_ERROR,
            format!("window functions are not allowed in {clause}"),
        ));
    }
    Ok(())
}

/// `42804`: a polymorphic window function given only an unknown literal.
fn polymorphic_unknown() -> Error {
    Error::new(
        SqlState::DATATYPE_MISMATCH,
        "could not determine polymorphic type because input has type unknown",
    )
}

/// Moves window placeholders to the columns the Window node outputs them in.
pub fn remap(e: &mut Expr, base: usize) {
    match e {
        Expr::Column(c) if *c >= WINDOW_BASE => *c = base + (*c - WINDOW_BASE),
        Expr::Binary(_, a, b)
        | Expr::And(a, b)
        | Expr::Or(a, b)
        | Expr::IsDistinct(a, b)
        | Expr::NullIf(a, b)
        | Expr::Subscript(a, b) => {
            remap(a, base);
            remap(b, base);
        }
        Expr::Unary(_, a)
        | Expr::Not(a)
        | Expr::IsNull(a)
        | Expr::IsBool(a, _)
        | Expr::Cast(a, _)
        | Expr::InSubquery { expr: a, .. }
        | Expr::AnyAllSubquery { expr: a, .. } => remap(a, base),
        Expr::Function(_, list)
        | Expr::Session(_, list)
        | Expr::Coalesce(list)
        | Expr::Extreme(_, list)
        | Expr::Array(list)
        | Expr::RowInSubquery { exprs: list, .. } => list.iter_mut().for_each(|x| remap(x, base)),
        Expr::Case {
            operand,
            whens,
            otherwise,
        } => {
            if let Some(o) = operand {
                remap(o, base);
            }
            for (w, t) in whens {
                remap(w, base);
                remap(t, base);
            }
            if let Some(o) = otherwise {
                remap(o, base);
            }
        }
        Expr::InList { expr, list, .. } => {
            remap(expr, base);
            list.iter_mut().for_each(|x| remap(x, base));
        }
        Expr::Like {
            expr,
            pattern,
            escape,
            ..
        } => {
            remap(expr, base);
            remap(pattern, base);
            if let Some(x) = escape {
                remap(x, base);
            }
        }
        Expr::AnyAll { expr, array, .. } => {
            remap(expr, base);
            remap(array, base);
        }
        Expr::Literal(_)
        | Expr::Column(_)
        | Expr::Outer(..)
        | Expr::Param(_)
        | Expr::Exists { .. }
        | Expr::ScalarSubquery(_)
        | Expr::ArraySubquery(_) => {}
    }
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
            let msg = if self.window_nested {
                "window function calls cannot be nested"
            } else {
                "window functions are not allowed here"
            };
            return Err(Error::new(WINDOWING_ERROR, msg));
        };
        self.window_nested = true;
        let result = self.window_call(f, over, scope, grouped, &ctx);
        self.window_nested = false;
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

    fn window_call(
        &mut self,
        f: &ast::Function,
        over: &ast::WindowType,
        scope: &Scope,
        grouped: bool,
        ctx: &WindowContext,
    ) -> Result<WindowCall> {
        let name = function_name(&f.name);
        let spec_ast = ctx.over(over)?;
        let spec = self.window_spec(&spec_ast, scope, grouped)?;
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
                spec,
            });
        }
        if f.filter.is_some() {
            return Err(Error::new(
                SqlState::WRONG_OBJECT_TYPE,
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
                    format!("OVER is not supported for ordered-set aggregate {name}"),
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
            spec,
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
            let (desc, nulls_first) = super::names::sort_options(&o.options);
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
            (3, 2) => Some("frame starting from following row cannot end with current row"),
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
                Some(other) if has_offset => return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!(
                        "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {}",
                        crate::types::oid::type_name(other)
                    ),
                )),
                _ => DataType::Int8,
            },
            _ => DataType::Int8,
        };
        let start = self.frame_bound(&fr.start_bound, &offset_type)?;
        let end = self.frame_bound(&end_ast, &offset_type)?;
        Ok(Frame { units, start, end })
    }

    fn frame_bound(&mut self, b: &ast::WindowFrameBound, ty: &DataType) -> Result<FrameBound> {
        let mut offset = |b: &mut Self, e: &ast::Expr| -> Result<Expr> {
            // Offsets may not refer to the rows (PostgreSQL: 42P10).
            let (x, t) = b.expr(e, &Scope::default()).map_err(|err| {
                if err.state() == SqlState::UNDEFINED_COLUMN {
                    Error::new(
                        SqlState("42P10"),
                        "argument of window frame offset must not contain variables",
                    )
                } else {
                    err
                }
            })?;
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
