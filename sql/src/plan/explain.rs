//! EXPLAIN: a readable tree of the chosen plan.

use super::{Access, Bound, JoinKind, Plan};

/// The lines of EXPLAIN output for a bound statement.
pub fn explain(bound: &Bound) -> Vec<String> {
    let mut out = Vec::new();
    match bound {
        Bound::Query(plan, _) => walk(plan, 0, &mut out),
        Bound::Dml(dml, _) => {
            use super::dml::DmlStatement;
            let (verb, table, source) = match dml.statement() {
                DmlStatement::Insert(p) => ("Insert on", &p.table.name, None),
                DmlStatement::Update(p) => ("Update on", &p.table.name, Some(&p.source)),
                DmlStatement::Delete(p) => ("Delete on", &p.table.name, Some(&p.source)),
            };
            out.push(format!("{verb} {table}"));
            if let Some(s) = source {
                walk(s, 1, &mut out);
            }
        }
        Bound::Explain(_) | Bound::Other => out.push("Utility Statement".into()),
    }
    out
}

fn line(depth: usize, text: String, out: &mut Vec<String>) {
    if depth == 0 {
        out.push(text);
    } else {
        out.push(format!("{}->  {text}", "  ".repeat(depth * 2 - 1)));
    }
}

fn walk(plan: &Plan, depth: usize, out: &mut Vec<String>) {
    match plan {
        Plan::Scan {
            table,
            access,
            filter,
            ..
        } => {
            let how = match access {
                Access::Full => format!("Seq Scan on {}", table.name),
                Access::PrimaryKey(_) => format!("Primary Key Lookup on {}", table.name),
                Access::PrimaryRange { .. } => format!("Primary Key Range Scan on {}", table.name),
                Access::Index { index, .. } => {
                    format!("Index Scan using {} on {}", index.name, table.name)
                }
                Access::IndexRange { index, .. } => {
                    format!("Index Range Scan using {} on {}", index.name, table.name)
                }
            };
            line(depth, how, out);
            if filter.is_some() {
                out.push(format!("{}  Filter: (...)", "  ".repeat(depth * 2 + 1)));
            }
        }
        Plan::Rows { rows, .. } => line(
            depth,
            format!("Materialized Rows (rows={})", rows.len()),
            out,
        ),
        Plan::Values { rows, .. } => line(depth, format!("Values Scan (rows={})", rows.len()), out),
        Plan::Filter { input, .. } => {
            line(depth, "Filter".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::Project { input, .. } | Plan::Truncate { input, .. } => walk(input, depth, out),
        Plan::Join {
            left,
            right,
            kind,
            equi,
            ..
        } => {
            let k = match kind {
                JoinKind::Inner | JoinKind::Cross => "",
                JoinKind::Left => " Left",
                JoinKind::Right => " Right",
                JoinKind::Full => " Full",
            };
            let algo = if equi.is_empty() {
                "Nested Loop"
            } else {
                "Hash"
            };
            line(depth, format!("{algo}{k} Join"), out);
            walk(left, depth + 1, out);
            walk(right, depth + 1, out);
        }
        Plan::Lateral { left, right, .. } => {
            line(depth, "Nested Loop (lateral)".into(), out);
            walk(left, depth + 1, out);
            walk(right, depth + 1, out);
        }
        Plan::Aggregate {
            input, group_by, ..
        } => {
            line(
                depth,
                if group_by.is_empty() {
                    "Aggregate".into()
                } else {
                    "HashAggregate".into()
                },
                out,
            );
            walk(input, depth + 1, out);
        }
        Plan::Window { input, .. } => {
            line(depth, "WindowAgg".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::Sort { input, .. } => {
            line(depth, "Sort".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::Limit { input, .. } => {
            line(depth, "Limit".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::Distinct { input } | Plan::DistinctOn { input, .. } => {
            line(depth, "Unique".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::SetOp {
            kind, left, right, ..
        } => {
            line(depth, format!("{kind:?}"), out);
            walk(left, depth + 1, out);
            walk(right, depth + 1, out);
        }
        Plan::CteScan { id, .. } => line(depth, format!("CTE Scan on cte_{id}"), out),
        Plan::With { body, .. } => walk(body, depth, out),
        Plan::LockRows { input, .. } => {
            line(depth, "LockRows".into(), out);
            walk(input, depth + 1, out);
        }
        Plan::ProjectSet { input, .. } => {
            line(depth, "ProjectSet".into(), out);
            walk(input, depth + 1, out);
        }
    }
}
