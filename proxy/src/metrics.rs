//! Prometheus metrics of one proxy process.
//!
//! One [`ProxyMetrics`] is created at startup and shared (`Arc`) by every
//! session, pool and checker; each field is a metric family registered in
//! its own registry, which the admin HTTP endpoint renders as text. Label
//! values are bounded sets (service names, backend names, route kinds), never
//! client-controlled strings, so the series count stays small.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// Every metric the proxy exports.
#[derive(Debug, Clone)]
pub struct ProxyMetrics {
    pub registry: Registry,
    /// Open client connections.
    pub client_connections: IntGauge,
    /// Client connections refused, by reason (`limit`, `auth`, `protocol`).
    pub client_rejections: IntCounterVec,
    /// Open backend connections, by backend and state (`active`, `idle`).
    pub server_connections: IntGaugeVec,
    /// Statements routed, by service and route (`primary`, `replica`, `pinned`).
    pub queries: IntCounterVec,
    /// Reads routed, by service, session consistency level (`local`,
    /// `regional`, `global`, `strong`) and route (`primary`, `replica`).
    pub consistency_reads: IntCounterVec,
    /// Statement round-trip time through the proxy, by service.
    pub query_seconds: HistogramVec,
    /// Time a client waited for a pooled connection.
    pub acquire_seconds: Histogram,
    /// Errors, by kind (`backend`, `protocol`, `timeout`, `client`).
    pub errors: IntCounterVec,
    /// Backend bans, by backend.
    pub bans: IntCounterVec,
    /// Topology changes applied.
    pub topology_changes: IntGauge,
    /// Statements answered by a parallel fan-out, by service.
    pub fanout_queries: IntCounterVec,
    /// Fragments run by fan-outs (first attempts).
    pub fanout_fragments: IntCounter,
    /// Time spent merging fragments' results (incl. the final query).
    pub fanout_merge_seconds: Histogram,
    /// Fragments re-run on another node after a node failed.
    pub fanout_retries: IntCounter,
    /// Statements that could have fanned out but ran on one node, by reason.
    pub fanout_fallbacks: IntCounterVec,
}

impl ProxyMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let client_connections = IntGauge::new(
            "rustydb_proxy_client_connections",
            "Open client connections",
        )?;
        let client_rejections = IntCounterVec::new(
            Opts::new(
                "rustydb_proxy_client_rejections_total",
                "Client connections refused",
            ),
            &["reason"],
        )?;
        let server_connections = IntGaugeVec::new(
            Opts::new(
                "rustydb_proxy_server_connections",
                "Open backend connections",
            ),
            &["backend", "state"],
        )?;
        let queries = IntCounterVec::new(
            Opts::new("rustydb_proxy_queries_total", "Statements routed"),
            &["service", "route"],
        )?;
        let consistency_reads = IntCounterVec::new(
            Opts::new(
                "rustydb_proxy_consistency_reads_total",
                "Reads routed, by the session's consistency level",
            ),
            &["service", "level", "route"],
        )?;
        let query_seconds = HistogramVec::new(
            HistogramOpts::new(
                "rustydb_proxy_query_seconds",
                "Statement round trip through the proxy",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 10.0,
            ]),
            &["service"],
        )?;
        let acquire_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "rustydb_proxy_pool_acquire_seconds",
                "Time waited for a pooled backend connection",
            )
            .buckets(vec![0.0001, 0.001, 0.01, 0.1, 1.0, 10.0]),
        )?;
        let errors = IntCounterVec::new(
            Opts::new("rustydb_proxy_errors_total", "Errors by kind"),
            &["kind"],
        )?;
        let bans = IntCounterVec::new(
            Opts::new("rustydb_proxy_backend_bans_total", "Backend bans"),
            &["backend"],
        )?;
        let topology_changes = IntGauge::new(
            "rustydb_proxy_topology_changes",
            "Topology changes applied since start",
        )?;
        let fanout_queries = IntCounterVec::new(
            Opts::new(
                "rustydb_proxy_fanout_queries_total",
                "Statements answered by a parallel fan-out",
            ),
            &["service"],
        )?;
        let fanout_fragments = IntCounter::new(
            "rustydb_proxy_fanout_fragments_total",
            "Fragments run by fan-outs",
        )?;
        let fanout_merge_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "rustydb_proxy_fanout_merge_seconds",
                "Time merging fan-out fragments",
            )
            .buckets(vec![0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
        )?;
        let fanout_retries = IntCounter::new(
            "rustydb_proxy_fanout_retries_total",
            "Fan-out fragments re-run on another node",
        )?;
        let fanout_fallbacks = IntCounterVec::new(
            Opts::new(
                "rustydb_proxy_fanout_fallbacks_total",
                "Statements run on one node instead of fanning out, by reason",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(fanout_queries.clone()))?;
        registry.register(Box::new(fanout_fragments.clone()))?;
        registry.register(Box::new(fanout_merge_seconds.clone()))?;
        registry.register(Box::new(fanout_retries.clone()))?;
        registry.register(Box::new(fanout_fallbacks.clone()))?;
        registry.register(Box::new(client_connections.clone()))?;
        registry.register(Box::new(client_rejections.clone()))?;
        registry.register(Box::new(server_connections.clone()))?;
        registry.register(Box::new(queries.clone()))?;
        registry.register(Box::new(consistency_reads.clone()))?;
        registry.register(Box::new(query_seconds.clone()))?;
        registry.register(Box::new(acquire_seconds.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(bans.clone()))?;
        registry.register(Box::new(topology_changes.clone()))?;
        Ok(ProxyMetrics {
            registry,
            client_connections,
            client_rejections,
            server_connections,
            queries,
            consistency_reads,
            query_seconds,
            acquire_seconds,
            errors,
            bans,
            topology_changes,
            fanout_queries,
            fanout_fragments,
            fanout_merge_seconds,
            fanout_retries,
            fanout_fallbacks,
        })
    }

    /// The text exposition format of every metric.
    pub fn render(&self) -> String {
        let families = self.registry.gather();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_default()
    }
}
