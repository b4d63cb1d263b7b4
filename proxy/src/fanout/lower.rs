//! Aggregate queries: partial aggregates for the fragments, and the final
//! expressions that merge them.
//!
//! Each fragment computes, per group of its key range, the group keys and
//! one *partial* per aggregate; a backend then evaluates the *final* query
//! over all fragments' partial rows (see [`super::rewrite`]). The select
//! list, HAVING and ORDER BY are rewritten once, here, by a tree walk that
//! replaces every GROUP BY expression with its partial column `cK` and
//! every aggregate call with a placeholder `__rdb_mN__` that
//! [`Merge::final_sql`] fills once the partial columns' types are known.
//! Any column reference left over (not a group key, not inside an
//! aggregate) makes the statement unsplittable.
//!
//! | aggregate            | partial (per fragment)   | final                         |
//! |----------------------|--------------------------|-------------------------------|
//! | `count(*)`, `count(x)` | the same               | `coalesce(sum(c),0)::int8`    |
//! | `sum(x)`             | `sum(x)` (int8/numeric)  | `sum(c)::<its type>`          |
//! | `avg(x)`             | `sum(x)`, `count(x)`     | `sum(s)::numeric / sum(n)`    |
//! | `min`, `max`, `bool_and`, `bool_or`, `every` | the same | the same             |
//! | `agg(DISTINCT x)`    | `x` added to GROUP BY    | `agg(DISTINCT c)`             |
//!
//! `avg` is exact because PostgreSQL computes it as exactly that numeric
//! division (`int8_avg`, `numeric_avg`). Sums of floating-point values
//! depend on the order of addition, so float partials are refused when the
//! types are seen; `stddev`/`variance` (whose final rounding PostgreSQL
//! does internally), `string_agg`/`array_agg` and every other aggregate
//! are not split.

use std::ops::ControlFlow;

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, Ident, OrderByKind, OrderBySort, Query, Select, SelectItem, Value, VisitMut,
    VisitorMut,
};

use super::analyze::{Limits, Reason};

/// Aggregates with an exact merge.
const MERGEABLE: &[&str] = &[
    "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every",
];

/// Other aggregates (never split; listed so they are not taken for plain
/// functions).
const OTHER_AGGREGATES: &[&str] = &[
    "string_agg",
    "array_agg",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "xmlagg",
    "bit_and",
    "bit_or",
    "bit_xor",
    "corr",
    "covar_pop",
    "covar_samp",
    "percentile_cont",
    "percentile_disc",
    "mode",
    "range_agg",
    "range_intersect_agg",
    "any_value",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "grouping",
];

/// The aggregate's lower-case name when `f` names an aggregate.
pub(super) fn aggregate_name(f: &Function) -> Option<String> {
    let name = f.name.to_string().to_lowercase();
    let last = name
        .strip_prefix("pg_catalog.")
        .unwrap_or(&name)
        .to_string();
    (MERGEABLE.contains(&last.as_str()) || OTHER_AGGREGATES.contains(&last.as_str()))
        .then_some(last)
}

/// How one aggregate call is merged (columns index the partial row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    Count(usize),
    Sum(usize),
    Avg {
        sum: usize,
        count: usize,
    },
    /// `min`, `max`, `bool_and`, `bool_or`: the same function again.
    Same {
        func: &'static str,
        col: usize,
    },
    /// `agg(DISTINCT x)` over the distinct values column.
    Distinct {
        func: String,
        col: usize,
    },
}

/// A partial column's type, as far as merging cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SumType {
    Int8,
    Numeric,
    /// Anything else (float, interval, money, ...): not merged exactly.
    Other,
}

impl Merge {
    /// The final expression, or `None` when the partial's type has no
    /// exact merge (a float sum).
    pub fn final_sql(&self, type_of: impl Fn(usize) -> SumType) -> Option<String> {
        Some(match self {
            Merge::Count(c) => format!("coalesce(sum(c{c}), 0)::int8"),
            Merge::Sum(c) => match type_of(*c) {
                SumType::Int8 => format!("sum(c{c})::int8"),
                SumType::Numeric => format!("sum(c{c})"),
                SumType::Other => return None,
            },
            Merge::Avg { sum, count } => match type_of(*sum) {
                SumType::Int8 | SumType::Numeric => {
                    format!("(sum(c{sum})::numeric / nullif(sum(c{count}), 0)::numeric)")
                }
                SumType::Other => return None,
            },
            Merge::Same { func, col } => format!("{func}(c{col})"),
            Merge::Distinct { func, col } => match type_of(*col) {
                // The same values in another order: only exact types.
                SumType::Other if func == "sum" || func == "avg" => return None,
                _ => format!("{func}(DISTINCT c{col})"),
            },
        })
    }

    /// The columns whose types decide [`Merge::final_sql`].
    pub fn typed_column(&self) -> Option<usize> {
        match self {
            Merge::Sum(c) => Some(*c),
            Merge::Avg { sum, .. } => Some(*sum),
            Merge::Distinct { func, col } if func == "sum" || func == "avg" => Some(*col),
            _ => None,
        }
    }
}

/// The rewritten aggregate query.
#[derive(Debug, Clone)]
pub struct AggShape {
    /// Fragment select list, in column order `c0, c1, ...`: the group keys,
    /// then distinct-aggregate arguments and partials as discovered.
    pub columns: Vec<Expr>,
    /// The fragment's GROUP BY: group keys and distinct arguments.
    pub fragment_group_by: Vec<Expr>,
    /// The first `group_keys` columns are the final GROUP BY.
    pub group_keys: usize,
    /// Placeholder `__rdb_mN__` is `merges[N]`.
    pub merges: Vec<Merge>,
    /// Final select list (placeholders, `cK` references, aliases kept).
    pub outputs: Vec<String>,
    pub having: Option<String>,
    pub order_by: Vec<String>,
    pub distinct: bool,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// Builds the [`AggShape`] of an aggregate query.
pub(super) fn lower_aggregate_query(
    query: &Query,
    select: &Select,
    limits: Limits,
) -> Result<AggShape, Reason> {
    let GroupByExpr::Expressions(group_exprs, modifiers) = &select.group_by else {
        return Err("group_by_all");
    };
    if !modifiers.is_empty() {
        return Err("grouping_sets");
    }
    let mut keys = Vec::new();
    for g in group_exprs {
        keys.push(resolve_group_key(g, &select.projection)?);
    }
    let mut lower = Lower {
        keys: keys.iter().map(|k| k.to_string()).collect(),
        columns: keys.clone(),
        distinct_args: Vec::new(),
        merges: Vec::new(),
        calls: Vec::new(),
        reason: None,
    };
    let mut outputs = Vec::new();
    for item in &select.projection {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias)),
            _ => return Err("wildcard_in_aggregate"),
        };
        let lowered = lower.lower(expr)?;
        outputs.push(match alias {
            Some(a) => format!("{lowered} AS {a}"),
            None => lowered.to_string(),
        });
    }
    let having = match &select.having {
        Some(h) => Some(lower.lower(h)?.to_string()),
        None => None,
    };
    let mut order_by = Vec::new();
    if let Some(OrderByKind::Expressions(items)) = query.order_by.as_ref().map(|o| &o.kind) {
        let aliases: Vec<&Ident> = select
            .projection
            .iter()
            .filter_map(|i| match i {
                SelectItem::ExprWithAlias { alias, .. } => Some(alias),
                _ => None,
            })
            .collect();
        for item in items {
            let target = match &item.expr {
                Expr::Value(v) if matches!(v.value, Value::Number(..)) => item.expr.to_string(),
                Expr::Identifier(id) if aliases.iter().any(|a| a.value == id.value) => {
                    item.expr.to_string()
                }
                other => lower.lower(other)?.to_string(),
            };
            let direction = match &item.options.sort {
                None => "",
                Some(OrderBySort::Asc) => " ASC",
                Some(OrderBySort::Desc) => " DESC",
                Some(OrderBySort::Using(_)) => return Err("order_using"),
            };
            let nulls = match item.options.nulls_first {
                None => "",
                Some(true) => " NULLS FIRST",
                Some(false) => " NULLS LAST",
            };
            order_by.push(format!("{target}{direction}{nulls}"));
        }
    }
    let mut fragment_group_by = keys;
    fragment_group_by.extend(lower.distinct_args.iter().map(|(e, _)| e.clone()));
    Ok(AggShape {
        group_keys: group_exprs.len(),
        columns: lower.columns,
        fragment_group_by,
        merges: lower.merges,
        outputs,
        having,
        order_by,
        distinct: matches!(select.distinct, Some(sqlparser::ast::Distinct::Distinct)),
        limit: limits.0,
        offset: limits.1,
    })
}

/// A GROUP BY item with positions resolved. A name that is also an output
/// alias of a different expression is ambiguous to us (PostgreSQL prefers
/// an input column of that name, which we cannot see): refused.
fn resolve_group_key(g: &Expr, projection: &[SelectItem]) -> Result<Expr, Reason> {
    match g {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => {
                let i: usize = n.parse().map_err(|_| "group_position")?;
                match i.checked_sub(1).and_then(|i| projection.get(i)) {
                    Some(SelectItem::UnnamedExpr(e))
                    | Some(SelectItem::ExprWithAlias { expr: e, .. }) => Ok(e.clone()),
                    _ => Err("group_position"),
                }
            }
            _ => Err("group_constant"),
        },
        Expr::Identifier(id) => {
            let shadowed = projection.iter().any(|i| {
                matches!(i, SelectItem::ExprWithAlias { expr, alias }
                    if alias.value == id.value && expr.to_string() != g.to_string())
            });
            if shadowed {
                Err("group_alias")
            } else {
                Ok(g.clone())
            }
        }
        Expr::Rollup(_) | Expr::Cube(_) | Expr::GroupingSets(_) => Err("grouping_sets"),
        _ => Ok(g.clone()),
    }
}

struct Lower {
    /// Display text of each group key (matched against subexpressions).
    keys: Vec<String>,
    columns: Vec<Expr>,
    /// Distinct-aggregate arguments: (expression, column).
    distinct_args: Vec<(Expr, usize)>,
    merges: Vec<Merge>,
    /// Display text of each aggregate call already seen, by placeholder.
    calls: Vec<String>,
    reason: Option<Reason>,
}

impl Lower {
    fn lower(&mut self, expr: &Expr) -> Result<Expr, Reason> {
        let mut e = expr.clone();
        self.reason = None;
        let _ = e.visit(self);
        match self.reason {
            Some(r) => Err(r),
            None => Ok(e),
        }
    }

    fn column(&mut self, expr: Expr) -> usize {
        self.columns.push(expr);
        self.columns.len() - 1
    }

    /// Registers an aggregate call; returns its placeholder number.
    fn aggregate(&mut self, f: &Function, name: &str) -> Result<usize, Reason> {
        let text = f.to_string();
        if let Some(i) = self.calls.iter().position(|c| *c == text) {
            return Ok(i);
        }
        let func: &'static str = MERGEABLE
            .iter()
            .find(|m| **m == name)
            .ok_or("unsupported_aggregate")?;
        if !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err("aggregate_clause");
        }
        let FunctionArguments::List(list) = &f.args else {
            return Err("aggregate_args");
        };
        if !list.clauses.is_empty() {
            return Err("ordered_aggregate");
        }
        let arg = match list.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] if func == "count" => None,
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(e.clone()),
            _ => return Err("aggregate_args"),
        };
        let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
        let filter = f.filter.as_ref().map(|w| w.to_string());
        let partial = |call: &str| -> Expr {
            let text = match &filter {
                Some(w) => format!("{call} FILTER (WHERE {w})"),
                None => call.to_string(),
            };
            super::analyze::parse_expr(&text).unwrap_or(Expr::Value(Value::Null.into()))
        };
        let merge = match (func, arg, distinct) {
            (_, Some(arg), true) => {
                if filter.is_some() {
                    return Err("distinct_filter");
                }
                let key = arg.to_string();
                let col = match self
                    .distinct_args
                    .iter()
                    .find(|(e, _)| e.to_string() == key)
                {
                    Some((_, c)) => *c,
                    None => {
                        let c = self.column(arg.clone());
                        self.distinct_args.push((arg, c));
                        c
                    }
                };
                let func = if func == "every" { "bool_and" } else { func };
                Merge::Distinct {
                    func: func.to_string(),
                    col,
                }
            }
            ("count", arg, false) => {
                let call = match arg {
                    Some(a) => format!("count({a})"),
                    None => "count(*)".to_string(),
                };
                Merge::Count(self.column(partial(&call)))
            }
            ("sum", Some(a), false) => Merge::Sum(self.column(partial(&format!("sum({a})")))),
            ("avg", Some(a), false) => {
                let sum = self.column(partial(&format!("sum({a})")));
                let count = self.column(partial(&format!("count({a})")));
                Merge::Avg { sum, count }
            }
            (f @ ("min" | "max" | "bool_and" | "bool_or" | "every"), Some(a), false) => {
                let func = if f == "every" { "bool_and" } else { f };
                Merge::Same {
                    func,
                    col: self.column(partial(&format!("{func}({a})"))),
                }
            }
            _ => return Err("aggregate_args"),
        };
        if self
            .columns
            .iter()
            .any(|c| matches!(c, Expr::Value(v) if v.value == Value::Null))
        {
            return Err("aggregate_args");
        }
        self.merges.push(merge);
        self.calls.push(text);
        Ok(self.merges.len() - 1)
    }
}

impl VisitorMut for Lower {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let text = expr.to_string();
        if let Some(k) = self.keys.iter().position(|g| *g == text) {
            *expr = Expr::Identifier(Ident::new(format!("c{k}")));
            return ControlFlow::Continue(());
        }
        match expr {
            Expr::Function(f) if f.over.is_none() => {
                if let Some(name) = aggregate_name(f) {
                    match self.aggregate(f, &name) {
                        Ok(n) => *expr = Expr::Identifier(Ident::new(format!("__rdb_m{n}__"))),
                        Err(r) => {
                            self.reason = Some(r);
                            return ControlFlow::Break(());
                        }
                    }
                }
            }
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                self.reason = Some("ungrouped_column");
                return ControlFlow::Break(());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
