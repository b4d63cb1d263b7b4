//! SELECT … FOR UPDATE / FOR SHARE: rewriting a query plan so that every
//! table scan under its row-preserving nodes locks the rows it returns.
//! Nodes that do not map output rows to table rows (aggregates, window
//! functions, DISTINCT, set operations) refuse with PostgreSQL's 0A000.

use super::Plan;
use crate::error::{Error, Result};
use crate::SqlState;

/// SELECT ... FOR UPDATE / FOR SHARE: every table scan under the query's
/// row-preserving nodes locks the rows it returns (FOR SHARE takes the same
/// exclusive lock: stricter than PostgreSQL, never weaker).
pub fn lock_rows(plan: Plan) -> Result<Plan> {
    let refuse = |what: &str| {
        Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("FOR UPDATE is not allowed with {what}"),
        )
    };
    Ok(match plan {
        Plan::Scan {
            db,
            table,
            access,
            filter,
            with_key: false,
        } => {
            let width = table.columns.len();
            let inner = Plan::Scan {
                db,
                table,
                access,
                filter: filter.clone(),
                with_key: true,
            };
            Plan::LockRows {
                input: Box::new(inner),
                filter,
                width,
            }
        }
        Plan::Filter { input, predicate } => Plan::Filter {
            input: Box::new(lock_rows(*input)?),
            predicate,
        },
        Plan::Project { input, exprs } => Plan::Project {
            input: Box::new(lock_rows(*input)?),
            exprs,
        },
        Plan::Sort { input, keys } => Plan::Sort {
            input: Box::new(lock_rows(*input)?),
            keys,
        },
        Plan::Limit {
            input,
            limit,
            offset,
        } => Plan::Limit {
            input: Box::new(lock_rows(*input)?),
            limit,
            offset,
        },
        Plan::Truncate { input, width } => Plan::Truncate {
            input: Box::new(lock_rows(*input)?),
            width,
        },
        Plan::Join {
            left,
            right,
            kind,
            equi,
            on,
            left_width,
            right_width,
        } => Plan::Join {
            left: Box::new(lock_rows(*left)?),
            right: Box::new(lock_rows(*right)?),
            kind,
            equi,
            on,
            left_width,
            right_width,
        },
        Plan::Lateral {
            left,
            right,
            left_outer_join,
            right_width,
        } => Plan::Lateral {
            left: Box::new(lock_rows(*left)?),
            right: std::sync::Arc::new(lock_rows((*right).clone())?),
            left_outer_join,
            right_width,
        },
        Plan::Aggregate { .. } => return Err(refuse("aggregate functions")),
        Plan::Window { .. } => return Err(refuse("window functions")),
        Plan::Distinct { .. } | Plan::DistinctOn { .. } => return Err(refuse("DISTINCT clause")),
        Plan::SetOp { .. } => return Err(refuse("UNION/INTERSECT/EXCEPT")),
        other => other,
    })
}
