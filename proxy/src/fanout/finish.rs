//! The last step of a fan-out: from the fragments' answers to the bytes
//! the client receives (RowDescription, DataRows, CommandComplete).
//!
//! Concatenated scans forward the fragments' own frames. Every other shape
//! sends one final query to a backend (over the partial rows, see
//! [`super::rewrite`]); for aggregates the original statement is also
//! described (a named statement, closed again, so the connection's
//! unnamed statement and cache are untouched) in the same round trip, and
//! its RowDescription — names, table OIDs, type modifiers — is what the
//! client gets. The final result's column types must equal the described
//! (or fragment) ones, else the statement runs on one node instead: a
//! merge that would change a type is never shown.

use bytes::{BufMut, BytesMut};

use super::analyze::{FanoutPlan, PlanKind};
use super::execute::{simple, Answer, Outcome, MAX_PARTIAL_BYTES};
use super::lower::SumType;
use super::merge::{self, Field};
use super::rewrite::{self, ScanMerge};
use crate::error::ProxyError;
use crate::pool::ServerConn;
use crate::wire::Frame;

const DESCRIBE_NAME: &str = "rdb_fanout_describe";

fn same_types(a: &[Field], b: &[Field]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.type_oid == y.type_oid)
}

/// Builds the client's answer from the fragments' answers.
pub(super) async fn finish(
    plan: &FanoutPlan,
    answers: Vec<Answer>,
    conn: &mut ServerConn,
    scan: Option<ScanMerge>,
) -> Result<Outcome, ProxyError> {
    let Some(desc) = answers.first().and_then(|a| a.desc.clone()) else {
        return Ok(Outcome::Single("no_description"));
    };
    let fields = match merge::parse_row_description(desc.body()) {
        Ok(f) => f,
        Err(r) => return Ok(Outcome::Single(r)),
    };
    for a in &answers {
        let ok = a
            .desc
            .as_ref()
            .and_then(|d| merge::parse_row_description(d.body()).ok())
            .is_some_and(|f| same_types(&f, &fields));
        if !ok {
            return Ok(Outcome::Single("mismatched_fragments"));
        }
    }
    let mut out = BytesMut::new();
    match (&plan.kind, scan) {
        (PlanKind::Scan(s), Some(ScanMerge::Concat { reverse })) => {
            let parts: Vec<Vec<Frame>> = answers.into_iter().map(|a| a.rows).collect();
            let rows = merge::concat(&parts, reverse, s.offset, s.limit);
            out.extend_from_slice(desc.raw());
            for r in &rows {
                out.extend_from_slice(r.raw());
            }
            out.extend_from_slice(&merge::select_complete(rows.len()));
        }
        (PlanKind::Scan(s), _) => {
            let visible = rewrite::scan_visible_columns(s, fields.len());
            let shown = fields.get(..visible).unwrap_or(&fields);
            out.extend_from_slice(&merge::row_description(shown));
            let bodies = answers.iter().flat_map(|a| a.rows.iter().map(|r| r.body()));
            if answers.iter().all(|a| a.rows.is_empty()) {
                out.extend_from_slice(&merge::select_complete(0));
                return Ok(Outcome::Answer(out));
            }
            let relation = match merge::values_relation(&fields, bodies) {
                Ok(r) => r,
                Err(reason) => return Ok(Outcome::Single(reason)),
            };
            let sql = rewrite::scan_final_sql(s, fields.len(), &relation);
            let fin = simple(conn, &sql).await?;
            let types_ok = fin
                .desc
                .as_ref()
                .and_then(|d| merge::parse_row_description(d.body()).ok())
                .is_some_and(|f| same_types(&f, shown));
            if fin.bytes > MAX_PARTIAL_BYTES {
                return Ok(Outcome::Single("too_large"));
            }
            if fin.error.is_some() || !types_ok {
                return Ok(Outcome::Single("final_failed"));
            }
            for r in &fin.rows {
                out.extend_from_slice(r.raw());
            }
            out.extend_from_slice(&merge::select_complete(fin.rows.len()));
        }
        (PlanKind::Aggregate(agg), _) => {
            let bodies = answers.iter().flat_map(|a| a.rows.iter().map(|r| r.body()));
            let relation = match merge::values_relation(&fields, bodies) {
                Ok(r) => r,
                Err(reason) => return Ok(Outcome::Single(reason)),
            };
            let type_of = |c: usize| {
                fields
                    .get(c)
                    .map_or(SumType::Other, |f| merge::sum_type(f.type_oid))
            };
            let Some(sql) = rewrite::aggregate_final_sql(agg, type_of, &relation) else {
                return Ok(Outcome::Single("inexact_type"));
            };
            let (described, fin) = describe_and_run(conn, &plan.sql, &sql).await?;
            let Some(described) = described else {
                return Ok(Outcome::Single("describe_failed"));
            };
            let final_fields = fin
                .desc
                .as_ref()
                .and_then(|d| merge::parse_row_description(d.body()).ok());
            if fin.bytes > MAX_PARTIAL_BYTES {
                return Ok(Outcome::Single("too_large"));
            }
            if fin.error.is_some() || !final_fields.is_some_and(|f| same_types(&f, &described)) {
                return Ok(Outcome::Single("final_failed"));
            }
            out.extend_from_slice(&merge::row_description(&described));
            for r in &fin.rows {
                out.extend_from_slice(r.raw());
            }
            out.extend_from_slice(&merge::select_complete(fin.rows.len()));
        }
    }
    Ok(Outcome::Answer(out))
}

fn cstr(out: &mut BytesMut, s: &[u8]) {
    out.put_slice(s);
    out.put_u8(0);
}

/// Describes `original` (a named statement, closed again) and runs
/// `final_sql`, in one round trip. Returns the original's fields (`None`
/// if it could not be described) and the final query's answer.
async fn describe_and_run(
    conn: &mut ServerConn,
    original: &str,
    final_sql: &[u8],
) -> Result<(Option<Vec<Field>>, Answer), ProxyError> {
    let mut bytes = BytesMut::new();
    let mut parse = BytesMut::new();
    cstr(&mut parse, DESCRIBE_NAME.as_bytes());
    cstr(&mut parse, original.as_bytes());
    parse.put_i16(0);
    bytes.extend_from_slice(Frame::new(b'P', &parse).raw());
    let mut target = BytesMut::new();
    target.put_u8(b'S');
    cstr(&mut target, DESCRIBE_NAME.as_bytes());
    bytes.extend_from_slice(Frame::new(b'D', &target).raw());
    bytes.extend_from_slice(Frame::new(b'C', &target).raw());
    bytes.extend_from_slice(Frame::new(b'S', &[]).raw());
    let mut query = BytesMut::new();
    cstr(&mut query, final_sql);
    bytes.extend_from_slice(Frame::new(b'Q', &query).raw());
    conn.send(&bytes).await?;
    // First the extended exchange up to its ReadyForQuery.
    let mut described = None;
    let mut failed = false;
    loop {
        let frame = conn.recv().await?;
        match frame.tag() {
            b'T' => described = merge::parse_row_description(frame.body()).ok(),
            b'E' => failed = true,
            b'Z' => break,
            _ => {}
        }
    }
    let fin = super::execute::collect_rest(conn).await?;
    Ok((if failed { None } else { described }, fin))
}
