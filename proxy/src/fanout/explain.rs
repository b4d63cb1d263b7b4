//! `EXPLAIN <select>` through the proxy when the statement fans out.
//!
//! The answer is one text column, `QUERY PLAN`, as PostgreSQL's EXPLAIN
//! has: a header line (degree, driving table and key, the read LSN every
//! fragment uses), one line per fragment (node and SQL), and the merge
//! steps (concatenation with its cut, or the final query a backend
//! evaluates over the partial rows, shown with `<partial rows>` in place
//! of the VALUES list; `sum` casts depend on the partial types seen at run
//! time). Nothing runs but the snapshot and split-point lookups; the
//! nodes' own plans of a fragment are one `EXPLAIN` of its SQL away.

use bytes::BytesMut;

use super::analyze::{FanoutPlan, PlanKind};
use super::execute::{scan_merge_of, Prepared};
use super::lower::SumType;
use super::rewrite::{self, ScanMerge};
use crate::wire::messages::{command_complete, data_row, row_description};

/// The plan as EXPLAIN rows (RowDescription, DataRows, CommandComplete).
pub(super) fn render(plan: &FanoutPlan, prepared: &Prepared) -> BytesMut {
    let lines = lines(plan, prepared);
    let mut out = BytesMut::new();
    out.extend_from_slice(&row_description(&["QUERY PLAN"]));
    for line in &lines {
        out.extend_from_slice(&data_row(&[Some(line.as_str())]));
    }
    out.extend_from_slice(&command_complete("EXPLAIN"));
    out
}

pub(super) fn lines(plan: &FanoutPlan, prepared: &Prepared) -> Vec<String> {
    let mut lines = vec![format!(
        "Fan-out  (degree {}, table {}, key {}, read LSN {})",
        prepared.fragments.len(),
        plan.driving.name,
        prepared.split.pk,
        prepared.lsn
    )];
    for (i, (sql, node)) in prepared.fragments.iter().zip(&prepared.nodes).enumerate() {
        lines.push(format!("  Fragment {} on {}: {}", i + 1, node.id, sql));
    }
    let relation = b"<partial rows>";
    match &plan.kind {
        PlanKind::Scan(scan) => match scan_merge_of(plan, &prepared.split) {
            Some(ScanMerge::Concat { reverse }) => {
                lines.push(format!(
                    "  Merge: concatenate fragments in {} key order{}{}",
                    if reverse { "descending" } else { "ascending" },
                    scan.offset
                        .map(|o| format!(", skip {o}"))
                        .unwrap_or_default(),
                    scan.limit
                        .map(|l| format!(", keep {l}"))
                        .unwrap_or_default(),
                ));
            }
            _ => {
                let cols = scan.order.iter().filter(|k| k.column.is_none()).count();
                let sql = rewrite::scan_final_sql(scan, cols + 1, relation);
                lines.push(format!(
                    "  Merge: final query on one node over the partial rows: {}",
                    String::from_utf8_lossy(&sql)
                ));
            }
        },
        PlanKind::Aggregate(agg) => {
            let sql = rewrite::aggregate_final_sql(agg, |_| SumType::Numeric, relation)
                .unwrap_or_default();
            lines.push(format!(
                "  Merge: final query on one node over the partial rows: {}",
                String::from_utf8_lossy(&sql)
            ));
        }
    }
    lines
}
