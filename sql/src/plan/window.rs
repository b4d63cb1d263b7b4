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

use super::bind::ident;
use super::{AggCall, Plan, SortKey};
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::DataType;
use crate::SqlState;

/// SQLSTATE 42P20 windowing_error.
pub const WINDOWING_ERROR: SqlState = SqlState("42P20");

/// Placeholder column base for window results before the input width is known.
pub(super) const WINDOW_BASE: usize = usize::MAX / 4;

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
            // A definition may only build on windows defined before it.
            let earlier = WindowContext {
                calls: vec![],
                named,
            };
            earlier.resolve(&spec, 0)?;
            named = earlier.named;
            named.push((name, spec));
        }
        Ok(WindowContext {
            calls: vec![],
            named,
        })
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
    pub(super) fn over(&self, over: &ast::WindowType) -> Result<ast::WindowSpec> {
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

/// Puts the Window node over `plan` (the rows after grouping and HAVING)
/// when the select list or ORDER BY called window functions, moving the
/// placeholders in `exprs` to the node's output columns.
pub fn attach(plan: Plan, ctx: Option<&mut WindowContext>, exprs: &mut [Expr]) -> Plan {
    let calls = ctx
        .map(|w| std::mem::take(&mut w.calls))
        .unwrap_or_default();
    if calls.is_empty() {
        return plan;
    }
    let base = plan.width();
    for e in exprs.iter_mut() {
        remap(e, base);
    }
    Plan::Window {
        input: Box::new(plan),
        calls,
    }
}
