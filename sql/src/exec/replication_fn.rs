//! Replication functions: where this node is in the WAL.
//!
//! - `pg_is_in_recovery()`: true on a replica (storage `in_recovery`).
//! - `pg_current_wal_lsn()` (and its `_insert_` / `_flush_` twins): the last
//!   durable LSN; on a replica PostgreSQL refuses with `55000` "recovery is
//!   in progress", and so do we.
//! - `rustydb_current_lsn()`: the last durable (on a replica: applied) LSN,
//!   everywhere.
//! - `pg_last_wal_receive_lsn()`, `pg_last_wal_replay_lsn()`,
//!   `pg_last_xact_replay_timestamp()`: the replica's position from the
//!   storage's `recovery_status`; NULL on a primary, as in PostgreSQL.
//! - `pg_wal_lsn_diff(a, b)`: `a - b` in bytes (numeric).
//! - `rustydb_timeline()`: the node's timeline (1 until a promotion).
//!
//! LSNs are `pg_lsn` values (type OID 3220), shown `hi/lo` in hex.

use chrono::{DateTime, Utc};

use super::ExecCtx;
use crate::error::{Error, Result};
use crate::types::{DataType, Value};
use crate::SqlState;

/// A replication function, bound by the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalFn {
    IsInRecovery,
    CurrentWalLsn,
    RustydbCurrentLsn,
    LastReceiveLsn,
    LastReplayLsn,
    LastReplayTimestamp,
    LsnDiff,
    Timeline,
}

impl WalFn {
    /// The function named `name` with `nargs` arguments, and its result type.
    pub fn lookup(name: &str, nargs: usize) -> Option<(WalFn, DataType)> {
        Some(match (name, nargs) {
            ("pg_is_in_recovery", 0) => (WalFn::IsInRecovery, DataType::Bool),
            (
                "pg_current_wal_lsn" | "pg_current_wal_insert_lsn" | "pg_current_wal_flush_lsn",
                0,
            ) => (WalFn::CurrentWalLsn, DataType::PgLsn),
            ("rustydb_current_lsn", 0) => (WalFn::RustydbCurrentLsn, DataType::PgLsn),
            ("pg_last_wal_receive_lsn", 0) => (WalFn::LastReceiveLsn, DataType::PgLsn),
            ("pg_last_wal_replay_lsn", 0) => (WalFn::LastReplayLsn, DataType::PgLsn),
            ("pg_last_xact_replay_timestamp", 0) => {
                (WalFn::LastReplayTimestamp, DataType::TimestampTz)
            }
            ("pg_wal_lsn_diff", 2) => (WalFn::LsnDiff, DataType::Numeric(None)),
            ("rustydb_timeline", 0) => (WalFn::Timeline, DataType::Int8),
            _ => return None,
        })
    }

    /// The type each argument is coerced to.
    pub fn arg_type(self) -> DataType {
        DataType::PgLsn
    }
}

/// A timestamp from microseconds since the Unix epoch.
pub(crate) fn timestamp(micros: i64) -> Value {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(Value::TimestampTz)
        .unwrap_or(Value::Null)
}

/// Evaluates a replication function.
pub fn call(ctx: &ExecCtx, f: WalFn, args: &[Value]) -> Result<Value> {
    let storage = &ctx.engine.storage;
    let status = || {
        if storage.in_recovery() {
            storage.recovery_status()
        } else {
            None
        }
    };
    Ok(match f {
        WalFn::IsInRecovery => Value::Bool(storage.in_recovery()),
        WalFn::CurrentWalLsn => {
            if storage.in_recovery() {
                return Err(Error::new(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "recovery is in progress",
                )
                .with_hint("WAL control functions cannot be executed during recovery."));
            }
            Value::PgLsn(storage.current_lsn().0)
        }
        WalFn::RustydbCurrentLsn => Value::PgLsn(storage.current_lsn().0),
        WalFn::LastReceiveLsn => status()
            .map(|s| Value::PgLsn(s.receive_lsn.0))
            .unwrap_or(Value::Null),
        WalFn::LastReplayLsn => status()
            .map(|s| Value::PgLsn(s.replay_lsn.0))
            .unwrap_or(Value::Null),
        WalFn::LastReplayTimestamp => status()
            .and_then(|s| s.last_replay_micros)
            .map(timestamp)
            .unwrap_or(Value::Null),
        WalFn::LsnDiff => match (args.first(), args.get(1)) {
            (Some(Value::PgLsn(a)), Some(Value::PgLsn(b))) => {
                Value::Numeric(rust_decimal::Decimal::from(i128::from(*a) - i128::from(*b)))
            }
            _ => Value::Null,
        },
        WalFn::Timeline => Value::Int8(i64::try_from(storage.timeline()).unwrap_or(i64::MAX)),
    })
}
