//! Planning: from sqlparser's AST to an executable `Plan`.
//!
//! A query is planned bottom-up: FROM (scans, joins, subqueries, CTEs) →
//! WHERE → GROUP BY / aggregates → HAVING → SELECT list → DISTINCT →
//! ORDER BY → LIMIT/OFFSET. Each step produces a `Plan` node whose output
//! columns are described by a `Scope` (names and types), which the next step
//! binds names against. Predicates on a table scan are inspected for primary
//! key and index lookups (`access`), so `WHERE id = $1` reads one key instead
//! of scanning.
//!
//! - `scope`: name resolution.
//! - `bind`: expressions.
//! - `select`: queries (SELECT, set operations, VALUES, WITH).
//! - `access`: choosing primary-key / index access paths.

pub mod access;
mod agg_bind;
pub mod bind;
pub mod bind_ops;
pub mod dml;
pub mod explain;
pub mod fanout_fns;
pub mod forms;
pub mod from;
pub mod func;
mod grouping_sets;
pub mod lock;
mod modify_cte;
mod named_args;
pub mod names;
pub mod overlaps;
pub mod scope;
pub mod select;
pub mod setops;
pub mod system;
mod system_constraints;
pub mod system_replication;
pub mod system_rows;
pub(crate) mod whole_row;
pub mod window;
pub mod window_bind;

use std::sync::Arc;

use crate::catalog::{IndexDef, TableDef};
use crate::expr::{Expr, Row};
use crate::types::DataType;

/// How a table scan reads its rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Every row, in primary key order.
    Full,
    /// Rows whose primary key equals one of these key tuples.
    PrimaryKey(Vec<Vec<Expr>>),
    /// Rows whose primary key lies in a range of its first column.
    PrimaryRange {
        low: Option<(Expr, bool)>,
        high: Option<(Expr, bool)>,
    },
    /// Rows whose index columns equal one of these tuples (prefix of the index).
    Index {
        index: IndexDef,
        keys: Vec<Vec<Expr>>,
    },
    /// Rows whose first index column lies in a range.
    IndexRange {
        index: IndexDef,
        low: Option<(Expr, bool)>,
        high: Option<(Expr, bool)>,
    },
}

/// A join type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    /// Left semi join (EXISTS-style); not produced yet.
    Cross,
}

/// A set operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

/// An aggregate function.
#[derive(Debug, Clone, PartialEq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    StringAgg,
    ArrayAgg,
    JsonAgg(bool),
    JsonObjectAgg(bool),
    StddevSamp,
    StddevPop,
    VarSamp,
    VarPop,
    BitAnd,
    BitOr,
    /// Two-variable statistics over (Y, X), float8 (see exec/agg_stats.rs).
    Corr,
    CovarPop,
    CovarSamp,
    RegrAvgX,
    RegrAvgY,
    RegrCount,
    RegrIntercept,
    RegrR2,
    RegrSlope,
    RegrSxx,
    RegrSyy,
    RegrSxy,
    /// Ordered-set aggregates: `f(direct args) WITHIN GROUP (ORDER BY x)`;
    /// the WITHIN GROUP key is the call's `order_by`.
    PercentileCont,
    PercentileDisc,
    Mode,
    /// `grouping(...)`: a constant per grouping set (plan/grouping_sets.rs).
    Grouping,
}

/// One aggregate call in an Aggregate node.
#[derive(Debug, Clone, PartialEq)]
pub struct AggCall {
    pub func: AggFunc,
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub filter: Option<Expr>,
    /// ORDER BY inside the call (string_agg, array_agg).
    pub order_by: Vec<SortKey>,
    /// The type of the result.
    pub result_type: DataType,
    /// The type of the (first) argument.
    pub arg_type: DataType,
}

/// A sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

/// An executable plan. Every node produces rows of a fixed width.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Rows of a table.
    Scan {
        db: u32,
        table: Arc<TableDef>,
        access: Access,
        filter: Option<Expr>,
        with_key: bool,
    },
    /// Rows computed at plan time (system catalogs, SHOW).
    Rows {
        rows: Arc<Vec<Row>>,
        width: usize,
    },
    /// Literal rows (VALUES, SELECT without FROM).
    Values {
        rows: Vec<Vec<Expr>>,
        width: usize,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    /// A join; `equi` holds (left, right) key pairs usable for hashing, the
    /// `on` expression the rest (evaluated on the joined row).
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        equi: Vec<(Expr, Expr)>,
        on: Option<Expr>,
        left_width: usize,
        right_width: usize,
    },
    /// A lateral join: the right side is re-planned per left row via outer refs.
    Lateral {
        left: Box<Plan>,
        right: Arc<Plan>,
        left_outer_join: bool,
        right_width: usize,
    },
    Aggregate {
        input: Box<Plan>,
        group_by: Vec<Expr>,
        aggregates: Vec<AggCall>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    Distinct {
        input: Box<Plan>,
    },
    DistinctOn {
        input: Box<Plan>,
        keys: Vec<Expr>,
    },
    SetOp {
        kind: SetOpKind,
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
    },
    /// Reads the rows of a CTE materialised under `id`.
    CteScan {
        id: usize,
        width: usize,
    },
    /// Materialises CTEs (in order), then runs the body.
    With {
        ctes: Vec<(usize, CteDef)>,
        body: Box<Plan>,
    },
    /// Keeps only the first `width` columns (drops sort helper columns).
    Truncate {
        input: Box<Plan>,
        width: usize,
    },
    /// SELECT ... FOR UPDATE: locks each row its scan (which carries the
    /// row key as a trailing column) returns, re-checks `filter` on the
    /// latest version, and drops the key column.
    LockRows {
        input: Box<Plan>,
        filter: Option<Expr>,
        width: usize,
    },
    /// Window functions: every input row followed by one column per call.
    Window {
        input: Box<Plan>,
        calls: Vec<window::WindowCall>,
    },
    /// Calls a set-returning function per input row (unnest, generate_series).
    ProjectSet {
        input: Box<Plan>,
        exprs: Vec<ProjectSetItem>,
    },
}

/// An item of a ProjectSet: a plain expression or a set-returning call.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectSetItem {
    Scalar(Expr),
    Srf(String, Vec<Expr>),
}

/// A CTE to materialise.
#[derive(Debug, Clone, PartialEq)]
pub enum CteDef {
    Plain(Box<Plan>),
    /// WITH RECURSIVE: anchor UNION [ALL] recursive part (which scans `id`
    /// as the working table).
    Recursive {
        anchor: Box<Plan>,
        recursive: Box<Plan>,
        union_all: bool,
    },
    /// A data-modifying statement (`WITH d AS (DELETE ... RETURNING ...)`),
    /// run once; its RETURNING rows are the CTE's rows.
    Modify(Box<dml::DmlPlan>),
}

impl Plan {
    /// The number of columns each row has.
    pub fn width(&self) -> usize {
        match self {
            Plan::Scan {
                table, with_key, ..
            } => table.columns.len() + usize::from(*with_key),
            Plan::Rows { width, .. }
            | Plan::Values { width, .. }
            | Plan::CteScan { width, .. }
            | Plan::Truncate { width, .. }
            | Plan::LockRows { width, .. } => *width,
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input }
            | Plan::DistinctOn { input, .. } => input.width(),
            Plan::Project { exprs, .. } => exprs.len(),
            Plan::Join {
                left_width,
                right_width,
                ..
            } => left_width + right_width,
            Plan::Lateral {
                left, right_width, ..
            } => left.width() + right_width,
            Plan::Aggregate {
                group_by,
                aggregates,
                ..
            } => group_by.len() + aggregates.len(),
            Plan::SetOp { left, .. } => left.width(),
            Plan::With { body, .. } => body.width(),
            Plan::ProjectSet { exprs, .. } => exprs.len(),
            Plan::Window { input, calls } => input.width() + calls.len(),
        }
    }
}

/// A statement after binding. Short-lived (bound, run, dropped), so the
/// size difference between variants does not matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Bound {
    /// A query and its output columns.
    Query(Plan, scope::Scope),
    /// INSERT / UPDATE / DELETE, with the RETURNING columns if any.
    Dml(dml::DmlPlan, Option<scope::Scope>),
    /// EXPLAIN output lines.
    Explain(Vec<String>),
    /// Everything else (DDL, COPY, ...), executed from the AST.
    Other,
}

impl Bound {
    /// The columns the statement returns, if it returns rows.
    pub fn columns(&self) -> Option<std::sync::Arc<[crate::session::Column]>> {
        match self {
            Bound::Query(_, scope) => Some(crate::statement::columns_of(scope)),
            Bound::Dml(_, Some(scope)) => Some(crate::statement::columns_of(scope)),
            Bound::Explain(_) => Some(std::sync::Arc::from(vec![crate::session::Column::new(
                "QUERY PLAN",
                DataType::Text,
            )])),
            _ => None,
        }
    }
}

/// Binds a statement.
pub fn bind_statement(
    binder: &mut bind::Binder,
    stmt: &sqlparser::ast::Statement,
) -> crate::error::Result<Bound> {
    use sqlparser::ast::Statement as S;
    if !matches!(stmt, S::Query(_)) {
        binder.top_level = false;
    }
    Ok(match stmt {
        S::Query(q) if modify_cte::is_modifying_body(q) => {
            let (plan, returning) = binder.modifying_query(q)?;
            Bound::Dml(plan, returning)
        }
        S::Query(q) => {
            let (plan, scope) = binder.query(q)?;
            Bound::Query(plan, scope)
        }
        S::Insert(i) => {
            let (p, s) = binder.insert(i)?;
            Bound::Dml(p, s)
        }
        S::Update(u) => {
            let (p, s) = binder.update(u)?;
            Bound::Dml(p, s)
        }
        S::Delete(d) => {
            let (p, s) = binder.delete(d)?;
            Bound::Dml(p, s)
        }
        S::ShowVariable { variable } => {
            let (plan, scope) = system::show(binder, variable)?;
            Bound::Query(plan, scope)
        }
        S::Explain {
            statement, analyze, ..
        } => {
            if *analyze {
                return Err(crate::error::Error::unsupported(
                    "EXPLAIN ANALYZE is not supported yet",
                ));
            }
            let inner = bind_statement(binder, statement)?;
            Bound::Explain(explain::explain(&inner))
        }
        _ => Bound::Other,
    })
}
