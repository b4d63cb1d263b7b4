//! Logical replication, subscriber side: the SQL half.
//!
//! A subscription pulls a publication's change stream from another RustyDB
//! cluster and applies it here. The work is split across two crates:
//!
//! ```text
//!  CREATE/ALTER/DROP SUBSCRIPTION ──parse──► exec ──► catalog (0x0D keys)
//!                                             │
//!                                             ▼ SubscriptionControl (set by the node)
//!                          node::subscription: one apply worker per enabled
//!                          subscription; reads the stream over HTTP and calls
//!                          Session::apply_remote (apply.rs) per transaction
//! ```
//!
//! - `parse`: the statements (sqlparser has no grammar for them).
//! - `conninfo`: libpq connection strings.
//! - `catalog`: definitions and per-publication progress.
//! - `exec`: running the statements, with PostgreSQL 15's checks and messages.
//! - `options`: their WITH (...) options.
//! - `apply`: applying one remote transaction as one local one, together
//!   with the progress (the no-loss / no-duplicate invariant).
//! - `views`: `pg_subscription`, `pg_stat_subscription`,
//!   `rustydb_stat_subscription`.
//!
//! The SQL crate knows nothing about networks: talking to the publisher
//! (slots, the stream) is the node's, behind `SubscriptionControl`, which
//! the node registers on the `Engine`. Without it (an engine in tests)
//! statements that need the publisher fail with `08006`.

pub mod apply;
pub mod catalog;
pub mod conninfo;
pub mod exec;
mod options;
pub mod parse;
pub mod views;

#[cfg(test)]
mod statement_tests;

pub use apply::{RemoteChange, RemoteOp, RemoteTxn};
pub use catalog::{Progress, SubscriptionDef, SyncState};
pub use conninfo::ConnInfo;

use crate::error::Result;

/// What the SQL layer asks of the node's subscription machinery.
/// Methods are called from the session's (blocking) thread.
pub trait SubscriptionControl: Send + Sync {
    /// Creates `slot` for `publication` on the publisher (CREATE
    /// SUBSCRIPTION with `create_slot`). Errors carry `08006`-style text.
    fn create_slot(&self, conninfo: &ConnInfo, slot: &str, publication: &str) -> Result<()>;

    /// Drops `slot` on the publisher. `Ok(false)` when the publisher could
    /// not be reached (DROP SUBSCRIPTION then goes ahead, see the docs).
    fn drop_slot(&self, conninfo: &ConnInfo, slot: &str) -> Result<bool>;

    /// Definitions changed: start, stop or restart workers to match.
    fn changed(&self);

    /// Restart a subscription's workers (REFRESH PUBLICATION).
    fn restart(&self, name: &str);

    /// The live state of every subscription with a worker or an error.
    fn stats(&self) -> Vec<SubscriptionStat>;
}

/// The live state of one subscription (the node's worker keeps it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscriptionStat {
    pub name: String,
    /// `streaming`, `copying`, `connecting`, `error` or `disabled`.
    pub status: String,
    pub last_error: Option<String>,
    /// The remote transaction the last error happened in (the LSN SKIP wants).
    pub last_error_lsn: Option<u64>,
    /// Microseconds since the epoch of the last error.
    pub last_error_micros: Option<i64>,
    /// Highest remote LSN received (changes or keepalives).
    pub received_lsn: u64,
    /// Last remote transaction applied locally.
    pub applied_lsn: u64,
    /// Remote commit time of the last applied transaction (µs since epoch).
    pub latest_end_micros: Option<i64>,
    /// When the last message arrived (µs since epoch).
    pub last_msg_receipt_micros: Option<i64>,
    /// Local commit time minus remote commit time of the last applied
    /// transaction, in milliseconds.
    pub apply_lag_ms: Option<f64>,
    /// Rows inserted, updated, deleted (and copied) since the node started.
    pub rows_applied: u64,
}

/// Parses an LSN as SKIP takes it: PostgreSQL's `X/Y` (two hex halves) or
/// a plain decimal number (our LSNs are dense integers).
pub fn parse_lsn(text: &str) -> Result<u64> {
    let bad = || {
        crate::Error::new(
            crate::SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type pg_lsn: \"{text}\""),
        )
    };
    let t = text.trim();
    match t.split_once('/') {
        Some((hi, lo)) => {
            let hi = u32::from_str_radix(hi, 16).map_err(|_| bad())?;
            let lo = u32::from_str_radix(lo, 16).map_err(|_| bad())?;
            Ok((u64::from(hi) << 32) | u64::from(lo))
        }
        None => t.parse::<u64>().map_err(|_| bad()),
    }
}

/// An LSN shown the way `pg_lsn` is.
pub fn format_lsn(lsn: u64) -> String {
    crate::storage::Lsn(lsn).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_forms() {
        assert_eq!(parse_lsn("0/2A").unwrap(), 42);
        assert_eq!(parse_lsn("1/0").unwrap(), 1 << 32);
        assert_eq!(parse_lsn("42").unwrap(), 42);
        assert!(parse_lsn("foo").is_err());
        assert!(parse_lsn("0/zz").is_err());
        assert_eq!(format_lsn(42), "0/2A");
    }
}
