//! Is a statement splittable exactly, and how?
//!
//! [`analyze`] parses one simple-protocol statement with sqlparser and
//! either returns a [`FanoutPlan`] or the reason it must run on one node
//! unchanged (a short fixed label, used as a metrics label). The rules are
//! deliberately narrow — when in doubt, do not split:
//!
//! * one `SELECT` (or `EXPLAIN SELECT` without options), no CTE, no set
//!   operation, no locking clause, no `FETCH`, no `DISTINCT ON`, no
//!   window function, no subquery anywhere, no parameter, no function whose
//!   value differs between nodes or calls (`now()`, `random()`,
//!   `nextval()`, …);
//! * `FROM` is one plain table (the *driving* table, range-restricted in
//!   each fragment), optionally inner/left/cross-joined to further plain
//!   tables which every fragment reads whole. Rows of the result are then
//!   partitioned by the driving table's rows, so the fragments' results
//!   together are exactly the whole result. A RIGHT or FULL join, a comma
//!   join or a derived table breaks that and is refused;
//! * either an aggregate query (GROUP BY, HAVING, or aggregates in the
//!   select list) whose aggregates all have an exact merge
//!   ([`super::lower`]), or a plain scan (optionally DISTINCT, ORDER BY,
//!   LIMIT/OFFSET with literal counts).
//!
//! Whether the driving table has a primary key, and where to split it, is
//! only known by asking a node: that is [`super::execute`]'s job.

use std::ops::ControlFlow;

use sqlparser::ast::{
    DescribeAlias, Distinct, Expr, Function, GroupByExpr, JoinOperator, LimitClause, ObjectName,
    ObjectNamePart, OrderByKind, Query, Select, SelectFlavor, SelectItem, SetExpr, Statement,
    TableFactor, Value, Visit, Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::lower::{aggregate_name, lower_aggregate_query, AggShape};

/// Why a statement is not split (a bounded set: metrics labels).
pub type Reason = &'static str;

/// The driving table: the one whose key range each fragment reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driving {
    /// As written (`public.t`, `"T"`).
    pub name: String,
    /// Its last part, as the catalog spells it (unquoted names folded).
    pub relname: String,
    /// How the statement refers to it: the alias, else the name as written.
    pub qualifier: String,
}

/// What the merge must do.
#[derive(Debug, Clone)]
pub enum PlanKind {
    Aggregate(AggShape),
    Scan(ScanShape),
}

/// A plain scan: the fragments return rows of the final shape (plus
/// hidden sort columns) that the proxy concatenates or a backend merges.
#[derive(Debug, Clone)]
pub struct ScanShape {
    pub distinct: bool,
    /// The select list contains `*` / `t.*` (column count known only at run).
    pub wildcard: bool,
    pub order: Vec<SortKey>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// One ORDER BY item of a scan.
#[derive(Debug, Clone)]
pub struct SortKey {
    /// The expression, positions and output aliases resolved.
    pub expr: Expr,
    /// Select-list index the key equals (required under DISTINCT).
    pub column: Option<usize>,
    pub desc: bool,
    pub nulls_first: Option<bool>,
}

/// A statement that can be split.
#[derive(Debug, Clone)]
pub struct FanoutPlan {
    /// The original query (the fragments are rewritten copies).
    pub query: Query,
    /// The original text, for a single-node fallback and Describe.
    pub sql: String,
    pub driving: Driving,
    pub kind: PlanKind,
    /// `EXPLAIN <select>`: show the plan instead of running it.
    pub explain: bool,
}

/// Parses and judges one statement.
pub fn analyze(sql: &str) -> Result<FanoutPlan, Reason> {
    if sql.contains("__rdb_") {
        return Err("reserved_name");
    }
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|_| "unparsed")?;
    let [statement] = statements.as_slice() else {
        return Err("not_one_statement");
    };
    let (query, explain) = match statement {
        Statement::Query(q) => (q.as_ref().clone(), false),
        Statement::Explain {
            describe_alias: DescribeAlias::Explain,
            analyze: false,
            verbose: false,
            query_plan: false,
            estimate: false,
            statement,
            format: None,
            options: None,
        } => match statement.as_ref() {
            Statement::Query(q) => (q.as_ref().clone(), true),
            _ => return Err("not_select"),
        },
        _ => return Err("not_select"),
    };
    let select = plain_select(&query)?;
    check_tree(&query)?;
    let driving = driving_table(select)?;
    let limits = limits(&query)?;
    let kind = if is_aggregate(&query, select) {
        PlanKind::Aggregate(lower_aggregate_query(&query, select, limits)?)
    } else {
        PlanKind::Scan(scan_shape(&query, select, limits)?)
    };
    Ok(FanoutPlan {
        sql: sql.to_string(),
        query,
        driving,
        kind,
        explain,
    })
}

/// The query's single SELECT, with every clause we cannot split refused.
fn plain_select(query: &Query) -> Result<&Select, Reason> {
    if query.with.is_some() {
        return Err("cte");
    }
    if query.fetch.is_some()
        || !query.locks.is_empty()
        || query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return Err("clause");
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err("set_operation");
    };
    if select.top.is_some()
        || select.into.is_some()
        || !select.lateral_views.is_empty()
        || select.prewhere.is_some()
        || !select.connect_by.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || !select.named_window.is_empty()
        || select.qualify.is_some()
        || select.value_table_mode.is_some()
        || select.exclude.is_some()
        || select.flavor != SelectFlavor::Standard
    {
        return Err("clause");
    }
    if matches!(select.distinct, Some(Distinct::On(_))) {
        return Err("distinct_on");
    }
    if let Some(order) = &query.order_by {
        if order.interpolate.is_some() {
            return Err("clause");
        }
        if let OrderByKind::Expressions(items) = &order.kind {
            if items.iter().any(|i| i.with_fill.is_some()) {
                return Err("clause");
            }
        } else {
            return Err("clause");
        }
    }
    Ok(select)
}

/// `LIMIT` and `OFFSET` as literal counts.
pub(super) type Limits = (Option<u64>, Option<u64>);

fn limits(query: &Query) -> Result<Limits, Reason> {
    match &query.limit_clause {
        None => Ok((None, None)),
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => {
            let limit = match limit {
                None => None,
                Some(Expr::Value(v)) if v.value == Value::Null => None,
                Some(e) => Some(count_literal(e)?),
            };
            let offset = match offset {
                None => None,
                Some(o) => Some(count_literal(&o.value)?),
            };
            Ok((limit, offset))
        }
        Some(_) => Err("limit"),
    }
}

fn count_literal(e: &Expr) -> Result<u64, Reason> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().map_err(|_| "limit"),
            _ => Err("limit"),
        },
        _ => Err("limit"),
    }
}

/// The driving table and the joins' shape (see the module essay).
fn driving_table(select: &Select) -> Result<Driving, Reason> {
    let [from] = select.from.as_slice() else {
        return Err(if select.from.is_empty() {
            "no_table"
        } else {
            "comma_join"
        });
    };
    let (name, alias) = plain_table(&from.relation)?;
    for join in &from.joins {
        plain_table(&join.relation)?;
        match &join.join_operator {
            JoinOperator::Join(_)
            | JoinOperator::Inner(_)
            | JoinOperator::Left(_)
            | JoinOperator::LeftOuter(_)
            | JoinOperator::CrossJoin(_) => {}
            _ => return Err("join_kind"),
        }
        if join.global {
            return Err("join_kind");
        }
    }
    let relname = match name.0.last() {
        Some(ObjectNamePart::Identifier(id)) => match id.quote_style {
            Some(_) => id.value.clone(),
            None => id.value.to_lowercase(),
        },
        _ => return Err("table_name"),
    };
    if relname.starts_with("pg_") || name.0.len() > 2 {
        return Err("system_table");
    }
    if let Some(ObjectNamePart::Identifier(schema)) = name.0.first().filter(|_| name.0.len() == 2) {
        let s = schema.value.to_lowercase();
        if s == "pg_catalog" || s == "information_schema" {
            return Err("system_table");
        }
    }
    Ok(Driving {
        name: name.to_string(),
        qualifier: alias.unwrap_or_else(|| name.to_string()),
        relname,
    })
}

/// A plain table reference: its name and alias.
fn plain_table(factor: &TableFactor) -> Result<(&ObjectName, Option<String>), Reason> {
    match factor {
        TableFactor::Table {
            name,
            alias,
            args: None,
            with_hints,
            version: None,
            with_ordinality: false,
            partitions,
            json_path: None,
            sample: None,
            index_hints,
        } if with_hints.is_empty() && partitions.is_empty() && index_hints.is_empty() => {
            if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
                return Err("column_aliases");
            }
            Ok((name, alias.as_ref().map(|a| a.name.to_string())))
        }
        _ => Err("not_a_table"),
    }
}

/// Whether the query aggregates (GROUP BY, HAVING or an aggregate call in
/// the select list or ORDER BY).
fn is_aggregate(query: &Query, select: &Select) -> bool {
    let grouped = match &select.group_by {
        GroupByExpr::Expressions(e, m) => !e.is_empty() || !m.is_empty(),
        GroupByExpr::All(_) => true,
    };
    if grouped || select.having.is_some() {
        return true;
    }
    struct Finder(bool);
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = e {
                if f.over.is_none() && aggregate_name(f).is_some() {
                    self.0 = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder(false);
    let _ = select.projection.visit(&mut finder);
    let _ = query.order_by.visit(&mut finder);
    finder.0
}

/// Functions whose value differs between nodes or between calls.
const VOLATILE: &[&str] = &[
    "random",
    "setseed",
    "now",
    "current_timestamp",
    "current_time",
    "current_date",
    "localtime",
    "localtimestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "currval",
    "lastval",
    "setval",
    "gen_random_uuid",
    "txid_current",
    "txid_current_if_assigned",
    "pg_current_xact_id",
    "pg_backend_pid",
    "inet_server_addr",
    "inet_server_port",
    "pg_sleep",
    "pg_current_wal_lsn",
    "pg_last_wal_replay_lsn",
    "pg_is_in_recovery",
    "current_setting",
    "set_config",
    "pg_postmaster_start_time",
];

/// Checks everything in the tree at once: subqueries, windows, volatile
/// functions, parameters.
fn check_tree(query: &Query) -> Result<(), Reason> {
    struct Check {
        queries: usize,
        reason: Option<Reason>,
    }
    impl Visitor for Check {
        type Break = ();
        fn pre_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
            self.queries += 1;
            if self.queries > 1 {
                self.reason = Some("subquery");
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            let reason = match e {
                Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
                    Some("subquery")
                }
                Expr::Function(f) => function_reason(f),
                Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => Some("parameter"),
                _ => None,
            };
            match reason {
                Some(r) => {
                    self.reason = Some(r);
                    ControlFlow::Break(())
                }
                None => ControlFlow::Continue(()),
            }
        }
    }
    let mut check = Check {
        queries: 0,
        reason: None,
    };
    let _ = query.visit(&mut check);
    check.reason.map_or(Ok(()), Err)
}

fn function_reason(f: &Function) -> Option<Reason> {
    if f.over.is_some() {
        return Some("window");
    }
    let name = f.name.to_string().to_lowercase();
    let last = name.rsplit('.').next().unwrap_or(&name);
    if VOLATILE.contains(&last)
        || last.contains("random")
        || last.contains("uuid")
        || last.starts_with("pg_advisory")
        || last.starts_with("rustydb_")
    {
        return Some("volatile");
    }
    None
}

/// The scan shape: ORDER BY keys resolved against the select list.
fn scan_shape(query: &Query, select: &Select, limits: Limits) -> Result<ScanShape, Reason> {
    let distinct = matches!(select.distinct, Some(Distinct::Distinct));
    let wildcard = select.projection.iter().any(|i| {
        matches!(
            i,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    });
    let mut order = Vec::new();
    if let Some(OrderByKind::Expressions(items)) = query.order_by.as_ref().map(|o| &o.kind) {
        for item in items {
            let desc = match &item.options.sort {
                None | Some(sqlparser::ast::OrderBySort::Asc) => false,
                Some(sqlparser::ast::OrderBySort::Desc) => true,
                Some(sqlparser::ast::OrderBySort::Using(_)) => return Err("order_using"),
            };
            let (expr, column) = resolve_sort(&item.expr, &select.projection, wildcard)?;
            if distinct && column.is_none() {
                return Err("distinct_order");
            }
            order.push(SortKey {
                expr,
                column,
                desc,
                nulls_first: item.options.nulls_first,
            });
        }
    }
    if limits.0.is_some() && order.is_empty() {
        // Which rows a LIMIT without ORDER BY returns is the plan's whim.
        return Err("limit_without_order");
    }
    Ok(ScanShape {
        distinct,
        wildcard,
        order,
        limit: limits.0,
        offset: limits.1,
    })
}

/// An ORDER BY expression with positions and output aliases resolved, and
/// the select-list index it equals (when the list has no wildcard).
fn resolve_sort(
    expr: &Expr,
    projection: &[SelectItem],
    wildcard: bool,
) -> Result<(Expr, Option<usize>), Reason> {
    if let Expr::Value(v) = expr {
        if let Value::Number(n, _) = &v.value {
            if wildcard {
                return Err("order_position");
            }
            let i: usize = n.parse().map_err(|_| "order_position")?;
            return match i.checked_sub(1).and_then(|i| projection.get(i)) {
                Some(SelectItem::UnnamedExpr(e))
                | Some(SelectItem::ExprWithAlias { expr: e, .. }) => Ok((e.clone(), Some(i - 1))),
                _ => Err("order_position"),
            };
        }
    }
    if let Expr::Identifier(id) = expr {
        // Output names win over input columns in ORDER BY.
        for (i, item) in projection.iter().enumerate() {
            if let SelectItem::ExprWithAlias { expr: e, alias } = item {
                if alias.value == id.value && alias.quote_style == id.quote_style {
                    return Ok((e.clone(), (!wildcard).then_some(i)));
                }
            }
        }
    }
    let text = expr.to_string();
    let column = projection.iter().position(|item| match item {
        SelectItem::UnnamedExpr(e) => e.to_string() == text,
        _ => false,
    });
    Ok((expr.clone(), column.filter(|_| !wildcard)))
}

/// A parsed expression (for predicates the rewriter builds from text).
pub(super) fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .ok()?
        .parse_expr()
        .ok()
}
