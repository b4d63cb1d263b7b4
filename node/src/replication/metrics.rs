//! Prometheus metrics of replication (`GET /metrics` on the admin API).
//!
//! One registry per node, so several nodes in one process (tests) do not
//! collide. Per-replica gauges are refreshed from the replica set when the
//! metrics are scraped.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::config::CommitMode;

/// The replication metrics of one node.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub replicas: IntGauge,
    pub degraded: IntGauge,
    pub degraded_total: IntCounter,
    pub sync_timeouts: IntCounter,
    pub lag: Histogram,
    pub sync_wait: Histogram,
    pub mode: IntGaugeVec,
    pub last_lsn: IntGauge,
    pub timeline: IntGauge,
    pub in_recovery: IntGauge,
    pub replica_lag_records: IntGaugeVec,
    pub replica_lag_bytes: IntGaugeVec,
    pub replica_lag_ms: IntGaugeVec,
    pub received_records: IntCounter,
    pub wal_trimmed_below: IntGauge,
    pub clones: IntCounter,
    pub rewinds: IntCounter,
}

// Metric names below are constants, so construction cannot fail at run time.
fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("static metric name is valid");
    let _ = registry.register(Box::new(g.clone()));
    g
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("static metric name is valid");
    let _ = registry.register(Box::new(c.clone()));
    c
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric name is valid");
    let _ = registry.register(Box::new(g.clone()));
    g
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let lag = Histogram::with_opts(
            HistogramOpts::new(
                "rustydb_replication_lag_seconds",
                "Time from commit on the primary to a replica's acknowledgement",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
            ]),
        )
        .expect("static metric name is valid");
        let _ = registry.register(Box::new(lag.clone()));
        let sync_wait = Histogram::with_opts(
            HistogramOpts::new(
                "rustydb_replication_sync_wait_seconds",
                "Time a sync or semi-sync commit waited for replicas after its local fsync",
            )
            .buckets(vec![
                0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.5,
                1.0, 10.0,
            ]),
        )
        .expect("static metric name is valid");
        let _ = registry.register(Box::new(sync_wait.clone()));
        Metrics {
            replicas: gauge(
                &registry,
                "rustydb_replication_replicas",
                "Replicas streaming from this node",
            ),
            degraded: gauge(
                &registry,
                "rustydb_replication_degraded",
                "1 while semi-sync runs degraded (async)",
            ),
            degraded_total: counter(
                &registry,
                "rustydb_replication_degraded_total",
                "Times semi-sync degraded to async",
            ),
            sync_timeouts: counter(
                &registry,
                "rustydb_replication_sync_timeouts_total",
                "Synchronous commits that timed out",
            ),
            mode: gauge_vec(
                &registry,
                "rustydb_replication_commit_mode",
                "1 for the active commit mode",
                &["mode"],
            ),
            last_lsn: gauge(&registry, "rustydb_wal_last_lsn", "Last durable LSN"),
            timeline: gauge(&registry, "rustydb_timeline", "Current timeline"),
            in_recovery: gauge(&registry, "rustydb_in_recovery", "1 on a replica"),
            replica_lag_records: gauge_vec(
                &registry,
                "rustydb_replication_replica_lag_records",
                "Records a replica has not applied",
                &["replica"],
            ),
            replica_lag_bytes: gauge_vec(
                &registry,
                "rustydb_replication_replica_lag_bytes",
                "Estimated WAL bytes a replica has not applied",
                &["replica"],
            ),
            replica_lag_ms: gauge_vec(
                &registry,
                "rustydb_replication_replica_lag_ms",
                "Age of the oldest record a replica has not applied",
                &["replica"],
            ),
            received_records: counter(
                &registry,
                "rustydb_replication_received_records_total",
                "Records applied from the upstream",
            ),
            wal_trimmed_below: gauge(
                &registry,
                "rustydb_wal_oldest_lsn",
                "Oldest LSN kept in the WAL",
            ),
            clones: counter(
                &registry,
                "rustydb_replication_clones_total",
                "Re-clones from the upstream",
            ),
            rewinds: counter(
                &registry,
                "rustydb_replication_rewinds_total",
                "Rewinds to a fork point",
            ),
            lag,
            sync_wait,
            registry,
        }
    }

    pub fn set_mode(&self, mode: CommitMode) {
        for m in [CommitMode::Async, CommitMode::Sync, CommitMode::SemiSync] {
            self.mode
                .with_label_values(&[m.as_str()])
                .set(i64::from(m == mode));
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        if encoder.encode(&self.registry.gather(), &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
