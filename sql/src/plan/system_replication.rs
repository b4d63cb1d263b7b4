//! `pg_stat_replication` and `rustydb_stat_replication`: the replicas
//! streaming from this node, one row each.
//!
//! The rows come from the storage's `replication_stats()` (the node's WAL
//! sender keeps them), read through the binder's session view at bind time,
//! like every other system view. `pg_stat_replication` has PostgreSQL 15's
//! columns and types, so monitoring queries written for PostgreSQL work;
//! `rustydb_stat_replication` adds the lag in records and bytes. Columns
//! PostgreSQL fills from its process model (pid, backend_xmin,
//! client_hostname) are NULL: a replica is a stream, not a backend.
//! `client_addr` is text (there is no `inet` type yet).

use std::sync::Arc;

use super::bind::Binder;
use super::scope::Scope;
use super::system::{cols, i4, o, t, OWNER};
use super::Plan;
use crate::error::Result;
use crate::expr::Row;
use crate::storage::ReplicationStat;
use crate::types::{DataType, Interval, Value};

/// The view named `name`, if it is one of ours.
pub fn view(b: &mut Binder, name: &str) -> Result<Option<(Plan, Scope)>> {
    let extended = match name {
        "pg_stat_replication" => false,
        "rustydb_stat_replication" => true,
        _ => return Ok(None),
    };
    let mut columns = pg_columns();
    if extended {
        columns.extend(cols(&[
            ("lag_records", DataType::Int8),
            ("lag_bytes", DataType::Int8),
        ]));
    }
    let rows: Vec<Row> = b
        .session
        .replication_stats()
        .iter()
        .map(|s| row(s, extended))
        .collect();
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

fn pg_columns() -> Vec<(String, DataType)> {
    use DataType as T;
    cols(&[
        ("pid", T::Int4),
        ("usesysid", T::Oid),
        ("usename", T::Name),
        ("application_name", T::Text),
        ("client_addr", T::Text),
        ("client_hostname", T::Text),
        ("client_port", T::Int4),
        ("backend_start", T::TimestampTz),
        ("backend_xmin", T::Text),
        ("state", T::Text),
        ("sent_lsn", T::PgLsn),
        ("write_lsn", T::PgLsn),
        ("flush_lsn", T::PgLsn),
        ("replay_lsn", T::PgLsn),
        ("write_lag", T::Interval),
        ("flush_lag", T::Interval),
        ("replay_lag", T::Interval),
        ("sync_priority", T::Int4),
        ("sync_state", T::Text),
        ("reply_time", T::TimestampTz),
    ])
}

/// Splits `host:port` (or `[v6]:port`) into the address and the port.
fn split_addr(addr: &str) -> (Value, Value) {
    if addr.is_empty() {
        return (Value::Null, Value::Null);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => match port.parse::<u16>() {
            Ok(p) => {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                (t(host), i4(i32::from(p)))
            }
            Err(_) => (t(addr), Value::Null),
        },
        _ => (t(addr), Value::Null),
    }
}

/// A lag in milliseconds as an interval (NULL when unknown).
fn lag(ms: Option<f64>) -> Value {
    match ms {
        Some(ms) if ms.is_finite() && ms >= 0.0 => {
            Value::Interval(Interval::new(0, 0, (ms * 1000.0).round() as i64))
        }
        _ => Value::Null,
    }
}

fn row(s: &ReplicationStat, extended: bool) -> Row {
    use crate::exec::replication_fn::timestamp;
    let (addr, port) = split_addr(&s.client_addr);
    let mut row = vec![
        Value::Null,
        o(OWNER),
        t("postgres"),
        t(&s.name),
        addr,
        Value::Null,
        port,
        timestamp(s.backend_start_micros),
        Value::Null,
        t(&s.state),
        Value::PgLsn(s.sent_lsn.0),
        Value::PgLsn(s.write_lsn.0),
        Value::PgLsn(s.flush_lsn.0),
        Value::PgLsn(s.replay_lsn.0),
        lag(s.write_lag_ms),
        lag(s.flush_lag_ms),
        lag(s.replay_lag_ms),
        i4(s.sync_priority),
        t(&s.sync_state),
        s.reply_time_micros.map(timestamp).unwrap_or(Value::Null),
    ];
    if extended {
        let int8 = |v: u64| Value::Int8(i64::try_from(v).unwrap_or(i64::MAX));
        row.push(int8(s.lag_records));
        row.push(int8(s.lag_bytes));
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_addresses() {
        assert_eq!(split_addr("127.0.0.1:5433"), (t("127.0.0.1"), i4(5433)));
        assert_eq!(split_addr("[::1]:7000"), (t("::1"), i4(7000)));
        assert_eq!(split_addr("replica-a"), (t("replica-a"), Value::Null));
        assert_eq!(split_addr(""), (Value::Null, Value::Null));
    }

    #[test]
    fn lags_are_intervals() {
        assert_eq!(lag(Some(1.5)), Value::Interval(Interval::new(0, 0, 1500)));
        assert_eq!(lag(None), Value::Null);
        assert_eq!(lag(Some(f64::NAN)), Value::Null);
    }
}
