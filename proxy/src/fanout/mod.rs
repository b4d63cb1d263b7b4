//! Parallel fan-out: one SELECT split by key range over several nodes,
//! all reading one snapshot, merged exactly in the proxy.
//!
//! Every node holds all the data, so a big scan or aggregate can be cut
//! into fragments, each restricted to a range of the driving table's
//! primary key, run on different nodes at once, and merged. The pieces:
//!
//! ```text
//!  session ── degree (hint > SET parallel_degree > service default) > 1?
//!     │ yes, outside a transaction
//!     ▼
//!  analyze ── FanoutPlan (driving table, scan or aggregate shape)
//!     │        or a reason to run on one node unchanged
//!  lower   ── partial aggregates + final expressions (aggregate shape)
//!  execute ── nodes, pooled connections, N = one common snapshot LSN,
//!     │        split points (cached), fragments in parallel with
//!     │        `SET rustydb.read_lsn = N`, retry of a failed node at N
//!  rewrite ── fragment SQL, final query text
//!  probe   ── the driving key column and split points, from a node
//!  merge   ── row/description codecs, concatenation, VALUES relation
//!  finish  ── the client's bytes (concatenated, or the final query run
//!     │        on one backend: exact formatting, sorting, grouping)
//!  explain ── EXPLAIN <select>: the plan as text rows
//! ```
//!
//! Invariants: a statement is split only when the split is exact, and
//! every doubt (shape, types, missing node support, SQL errors) ends in
//! running it unchanged on one node; all fragments of a statement read
//! the same LSN; the client receives either the complete merged answer or
//! an error — never part of one — because nothing is written before the
//! merge finished.

mod analyze;
mod degree;
mod execute;
mod explain;
mod finish;
mod lower;
mod merge;
mod probe;
mod rewrite;
#[cfg(test)]
mod tests;

pub use analyze::{analyze, Driving, FanoutPlan, PlanKind, Reason, ScanShape, SortKey};
pub use degree::{degree_command, hint_degree, DegreeCommand, ParallelDegree, MAX_DEGREE};
pub use execute::{run, FanoutCache, FanoutCtx, Outcome};
pub use lower::{AggShape, Merge, SumType};
pub use rewrite::{fragments, Split};

/// Whether a statement could be a SELECT or EXPLAIN worth analysing
/// (cheap: skips whitespace, comments and parentheses).
pub fn looks_like_select(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("/*") {
            match r.find("*/") {
                Some(end) => rest = r[end + 2..].trim_start(),
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix("--") {
            match r.find('\n') {
                Some(end) => rest = r[end + 1..].trim_start(),
                None => return false,
            }
        } else if let Some(r) = rest.strip_prefix('(') {
            rest = r.trim_start();
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    word == "select" || word == "explain"
}
