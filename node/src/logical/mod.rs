//! Logical replication, publisher side: slots, WAL retention for them, and
//! the change stream.
//!
//! ```text
//!  WAL (one record per commit) ──read_wal──► stream::produce ──Decoder──► NDJSON lines
//!                                             (blocking thread)            │ bounded channel
//!  /changes ◄── StreamBody ◄───────────────────────────────────────────────┘ (back-pressure)
//!  /slots   ──► slots.rs (records in the replicated keyspace, primary only)
//!  retention task ──► retention_floor: keep WAL from min(confirmed + 1) of
//!                     valid slots, invalidate a slot that fell past the limit
//! ```
//!
//! Invariants:
//! - A slot's confirmed LSN only moves forward, and only by a client's
//!   confirm; the stream never confirms on its own, so a consumer that dies
//!   mid-stream resumes from what it confirmed (no loss), and a consumer
//!   that confirms each transaction it applied sees none twice.
//! - Slot records are ordinary rows (`rustydb_sql::publication::slots`),
//!   written through transactions on the primary, so they travel in the WAL:
//!   replicas hold them and honour them in their own retention, and a
//!   promoted replica serves the slots with their confirmed positions.
//! - WAL kept for slots is bounded by `max_slot_wal_keep_records` and
//!   `max_slot_wal_keep_bytes`; a slot that needs more is invalidated (log
//!   event, `rustydb_logical_slots_invalidated_total`), and its stream
//!   answers 410 / an `error` line.

pub mod http;
pub mod priority;
pub mod slots;
pub mod stream;

use std::sync::Arc;

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntGaugeVec, Opts};
use rustydb_sql::publication::slots as slot_store;
use rustydb_sql::storage::TxnOptions;
use serde::{Deserialize, Serialize};

use crate::replication::Replication;

/// `[logical]` in the node configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogicalConfig {
    /// Most WAL records kept for a lagging slot before it is invalidated.
    pub max_slot_wal_keep_records: u64,
    /// Most WAL bytes (estimated) kept for a lagging slot.
    pub max_slot_wal_keep_bytes: u64,
}

impl Default for LogicalConfig {
    fn default() -> Self {
        LogicalConfig {
            max_slot_wal_keep_records: 50_000_000,
            max_slot_wal_keep_bytes: 16 << 30,
        }
    }
}

/// Per-node logical decoding state.
pub struct Logical {
    pub config: LogicalConfig,
    slot_lag: IntGaugeVec,
    invalidated: IntCounter,
    /// Seconds from a transaction's commit to a stage of its trip through
    /// the change stream (`read`: decoded by a stream; `sent`: handed to
    /// the HTTP body), for transactions with published changes.
    pub stream_delay: HistogramVec,
}

/// Buckets (seconds) of the latency histograms of logical replication:
/// 0.25 ms to 10 s.
pub const DELAY_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
    2.048, 4.096, 10.0,
];

impl Logical {
    /// Creates the state and registers its metrics in the node's registry.
    pub fn new(config: LogicalConfig, registry: &prometheus::Registry) -> Arc<Logical> {
        let slot_lag = IntGaugeVec::new(
            Opts::new(
                "rustydb_logical_slot_lag_records",
                "WAL records committed after a replication slot's confirmed LSN",
            ),
            &["slot"],
        )
        .expect("static metric name is valid");
        let invalidated = IntCounter::new(
            "rustydb_logical_slots_invalidated_total",
            "Replication slots invalidated because they needed WAL past the retention limit",
        )
        .expect("static metric name is valid");
        let stream_delay = HistogramVec::new(
            HistogramOpts::new(
                "rustydb_logical_stream_delay_seconds",
                "Time from a transaction's commit until a change stream decoded (stage=read) \
                 and sent (stage=sent) it",
            )
            .buckets(DELAY_BUCKETS.to_vec()),
            &["stage"],
        )
        .expect("static metric name is valid");
        let _ = registry.register(Box::new(slot_lag.clone()));
        let _ = registry.register(Box::new(invalidated.clone()));
        let _ = registry.register(Box::new(stream_delay.clone()));
        Arc::new(Logical {
            config,
            slot_lag,
            invalidated,
            stream_delay,
        })
    }
}

/// The oldest LSN the node's slots need kept (`end` when none). Called by
/// the retention task once a second, off the async runtime. On the primary
/// it invalidates slots past the limit; a replica only stops holding WAL for
/// them (the primary's invalidation reaches it by replication).
pub fn retention_floor(repl: &Replication, end: u64, avg_record_bytes: u64) -> u64 {
    let (Some(logical), Some(engine)) = (repl.logical.get(), repl.engine()) else {
        return end;
    };
    let storage = engine.storage();
    let slots = match storage
        .begin(TxnOptions {
            read_only: true,
            ..Default::default()
        })
        .and_then(|mut txn| {
            let list = slot_store::list(&mut *txn);
            txn.rollback();
            list
        }) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read replication slots; keeping all WAL");
            return 0;
        }
    };
    let by_bytes = logical
        .config
        .max_slot_wal_keep_bytes
        .checked_div(avg_record_bytes.max(1))
        .unwrap_or(u64::MAX);
    let limit = logical.config.max_slot_wal_keep_records.min(by_bytes);
    let lowest_allowed = end.saturating_sub(limit);
    let last = end.saturating_sub(1);
    logical.slot_lag.reset();
    let mut floor = end;
    for slot in slots {
        if slot.invalidated.is_some() {
            continue;
        }
        let lag = last.saturating_sub(slot.confirmed_lsn);
        logical
            .slot_lag
            .with_label_values(&[slot.name.as_str()])
            .set(i64::try_from(lag).unwrap_or(i64::MAX));
        let need = slot.confirmed_lsn + 1;
        if need >= lowest_allowed {
            floor = floor.min(need);
            continue;
        }
        if storage.in_recovery() {
            continue;
        }
        let reason = format!(
            "slot needs WAL from LSN {need}, beyond the retention limit of {limit} records"
        );
        match slots::invalidate(engine, &slot.name, &reason) {
            Ok(()) => {
                logical.invalidated.inc();
                tracing::warn!(slot = %slot.name, lag, limit, "replication slot invalidated: {reason}");
            }
            Err(e) => {
                // Could not record it: keep the WAL rather than break the slot.
                tracing::warn!(slot = %slot.name, error = %e, "cannot invalidate replication slot");
                floor = floor.min(need);
            }
        }
    }
    floor
}
