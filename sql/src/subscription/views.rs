//! `pg_subscription`, `pg_stat_subscription`, `rustydb_stat_subscription`.
//!
//! Definitions come from the catalog through the statement's transaction
//! (so they agree with the statement's snapshot); live state (status,
//! received/applied positions, errors, lag) from the node's workers through
//! the session view, read at bind time like the other statistics views.
//! `pg_subscription` and `pg_stat_subscription` keep PostgreSQL 15's
//! columns; `rustydb_stat_subscription` is ours, one row per subscription,
//! including disabled ones and those stopped by an error.

use std::sync::Arc;

use super::catalog::{self, SubscriptionDef};
use super::SubscriptionStat;
use crate::error::Result;
use crate::exec::replication_fn::timestamp;
use crate::expr::Row;
use crate::plan::bind::Binder;
use crate::plan::scope::Scope;
use crate::plan::Plan;
use crate::types::{DataType, Value};

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn cols(list: &[(&str, DataType)]) -> Vec<(String, DataType)> {
    list.iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect()
}

fn opt_micros(v: Option<i64>) -> Value {
    v.map(timestamp).unwrap_or(Value::Null)
}

/// The view named `name`, if it is one of these.
pub fn view(b: &mut Binder, name: &str) -> Result<Option<(Plan, Scope)>> {
    if !matches!(
        name,
        "pg_subscription" | "pg_stat_subscription" | "rustydb_stat_subscription"
    ) {
        return Ok(None);
    }
    let defs = catalog::list(b.catalog.txn)?;
    let mut applied: Vec<u64> = vec![];
    for d in &defs {
        let mut min: Option<u64> = None;
        for p in &d.publications {
            let at = catalog::progress(b.catalog.txn, &d.name, p)?
                .map(|p| p.lsn)
                .unwrap_or(0);
            min = Some(min.map_or(at, |m| m.min(at)));
        }
        applied.push(min.unwrap_or(0));
    }
    let stats = b.session.subscription_stats();
    let stat_of = |name: &str| stats.iter().find(|s| s.name == name);
    let (columns, rows) = match name {
        "pg_subscription" => pg_subscription(&defs),
        "pg_stat_subscription" => {
            let rows = defs
                .iter()
                .filter_map(|d| stat_of(&d.name).map(|s| (d, s)))
                .filter(|(d, s)| d.enabled && s.status != "disabled")
                .map(|(d, s)| {
                    vec![
                        Value::Oid(d.oid),
                        t(&d.name),
                        Value::Null,
                        Value::Null,
                        lsn_or_null(s.received_lsn),
                        opt_micros(s.last_msg_receipt_micros),
                        opt_micros(s.last_msg_receipt_micros),
                        lsn_or_null(s.applied_lsn),
                        opt_micros(s.latest_end_micros),
                    ]
                })
                .collect();
            (
                cols(&[
                    ("subid", DataType::Oid),
                    ("subname", DataType::Name),
                    ("pid", DataType::Int4),
                    ("relid", DataType::Oid),
                    ("received_lsn", DataType::PgLsn),
                    ("last_msg_send_time", DataType::TimestampTz),
                    ("last_msg_receipt_time", DataType::TimestampTz),
                    ("latest_end_lsn", DataType::PgLsn),
                    ("latest_end_time", DataType::TimestampTz),
                ]),
                rows,
            )
        }
        _ => {
            let rows = defs
                .iter()
                .zip(applied.iter())
                .map(|(d, applied)| rustydb_row(d, *applied, stat_of(&d.name)))
                .collect();
            (
                cols(&[
                    ("subname", DataType::Name),
                    ("enabled", DataType::Bool),
                    ("status", DataType::Text),
                    ("last_error", DataType::Text),
                    ("last_error_lsn", DataType::PgLsn),
                    ("last_error_time", DataType::TimestampTz),
                    ("received_lsn", DataType::PgLsn),
                    ("applied_lsn", DataType::PgLsn),
                    ("latest_end_time", DataType::TimestampTz),
                    ("apply_lag_ms", DataType::Float8),
                    ("rows_applied", DataType::Int8),
                ]),
                rows,
            )
        }
    };
    let width = columns.len();
    let scope = Scope::computed(columns).with_alias(name);
    Ok(Some((
        Plan::Rows {
            rows: Arc::new(rows),
            width,
        },
        scope,
    )))
}

fn lsn_or_null(lsn: u64) -> Value {
    if lsn == 0 {
        Value::Null
    } else {
        Value::PgLsn(lsn)
    }
}

fn rustydb_row(d: &SubscriptionDef, stored: u64, s: Option<&SubscriptionStat>) -> Row {
    let status = match s {
        _ if !d.enabled => "disabled".to_string(),
        Some(s) => s.status.clone(),
        None => "starting".to_string(),
    };
    let applied = s.map(|s| s.applied_lsn).unwrap_or(0).max(stored);
    vec![
        t(&d.name),
        Value::Bool(d.enabled),
        t(&status),
        s.and_then(|s| s.last_error.clone())
            .map(Value::Text)
            .unwrap_or(Value::Null),
        s.and_then(|s| s.last_error_lsn)
            .map(Value::PgLsn)
            .unwrap_or(Value::Null),
        opt_micros(s.and_then(|s| s.last_error_micros)),
        Value::PgLsn(s.map(|s| s.received_lsn).unwrap_or(0).max(applied)),
        Value::PgLsn(applied),
        opt_micros(s.and_then(|s| s.latest_end_micros)),
        s.and_then(|s| s.apply_lag_ms)
            .map(Value::Float8)
            .unwrap_or(Value::Null),
        Value::Int8(i64::try_from(s.map(|s| s.rows_applied).unwrap_or(0)).unwrap_or(i64::MAX)),
    ]
}

fn pg_subscription(defs: &[SubscriptionDef]) -> (Vec<(String, DataType)>, Vec<Row>) {
    let rows = defs
        .iter()
        .map(|d| {
            vec![
                Value::Oid(d.oid),
                Value::Oid(d.database_oid),
                Value::PgLsn(d.skip_lsn),
                t(&d.name),
                Value::Oid(crate::plan::system::OWNER),
                Value::Bool(d.enabled),
                Value::Bool(false),
                Value::Bool(false),
                t("d"),
                Value::Bool(d.disable_on_error),
                t(&d.conninfo),
                d.slot_name.as_deref().map(t).unwrap_or(Value::Null),
                t("off"),
                Value::Array(d.publications.iter().map(|p| t(p)).collect()),
            ]
        })
        .collect();
    (
        cols(&[
            ("oid", DataType::Oid),
            ("subdbid", DataType::Oid),
            ("subskiplsn", DataType::PgLsn),
            ("subname", DataType::Name),
            ("subowner", DataType::Oid),
            ("subenabled", DataType::Bool),
            ("subbinary", DataType::Bool),
            ("substream", DataType::Bool),
            ("subtwophasestate", DataType::InternalChar),
            ("subdisableonerr", DataType::Bool),
            ("subconninfo", DataType::Text),
            ("subslotname", DataType::Name),
            ("subsynccommit", DataType::Text),
            ("subpublications", DataType::Array(Box::new(DataType::Text))),
        ]),
        rows,
    )
}
