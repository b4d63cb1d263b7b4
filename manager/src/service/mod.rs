//! The manager service: `rustydb manager --config manager.toml`.
//!
//! One member of the manager group. It stands on the Raft layer
//! (`crate::raft`) and adds everything that makes the cluster highly
//! available:
//!
//! ```text
//!  manager.toml ─► config.rs ─► RaftMember (initialise, register nodes)
//!                                   │ state()/watch()
//!   monitor.rs: every heartbeat_ms ─┼─ poll nodes' /status ─► health.rs (phi)
//!      leader: confirm_leadership ─► renew primary lease (POST /lease)
//!      leader: reconcile.rs ─► bootstrap / failover.rs / re-point / mode
//!   http.rs + views.rs: the API (any member; mutations forwarded to the
//!      leader) ─► switchover.rs, failover.rs, Raft commands
//!   node_admin.rs: drain / stop / start (flags in Raft)
//!   schedule.rs: scheduled switchover (in Raft; run by whoever leads)
//!   supervise.rs: optional local node process, held down while the
//!      replicated state says it is stopped
//!   dr_*.rs: geo / DR (standby cluster, DR operations, and dr_auto.rs:
//!      this site in the inter-site quorum of automatic DR failover)
//! ```
//!
//! What is replicated (decisions: the primary, timelines, sync set,
//! config, pause, history, operator flags, a scheduled switchover,
//! runtime member URLs) lives in Raft; what is observed (node status,
//! LSNs, suspicion) lives in this member's memory and is rebuilt by
//! polling, so losing it costs nothing but a grace period.
//!
//! Invariants: only the Raft leader acts on nodes (promote, follow,
//! demote, lease, mode), and only after a recent quorum confirmation;
//! switchover and failover are serialised by one operation lock; a new
//! primary is written to Raft before it is promoted.

mod actions;
pub mod backup;
pub mod client;
pub mod config;
pub mod dr_auto;
pub mod dr_auto_view;
pub mod dr_config;
mod dr_fork;
mod dr_ops;
pub mod dr_probe;
mod dr_standby;
mod error;
pub mod failover;
pub mod health;
mod http;
mod monitor;
mod node_admin;
mod reconcile;
mod repair;
mod schedule;
mod supervise;
pub mod switchover;
mod views;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use prometheus::{IntCounter, Registry};
use tokio::sync::watch;

pub use config::ManagerConfig;
pub use error::ServiceError;

use crate::raft::{MemberConfig, RaftMember};
use client::HttpClient;
use health::HealthTable;
use monitor::LeaseBook;
use reconcile::ReconcileMemo;
use supervise::Supervisor;

/// Counters exported on `/metrics` (gauges are computed at scrape time).
pub struct Metrics {
    pub registry: Registry,
    pub failovers: IntCounter,
    pub switchovers: IntCounter,
    pub lease_renewals: IntCounter,
    pub api_requests: IntCounter,
}

impl Metrics {
    fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        Ok(Metrics {
            failovers: counter(
                "rustydb_manager_failovers_total",
                "Failovers completed by this member",
            )?,
            switchovers: counter(
                "rustydb_manager_switchovers_total",
                "Switchovers completed by this member",
            )?,
            lease_renewals: counter(
                "rustydb_manager_lease_renewals_total",
                "Successful primary lease renewals",
            )?,
            api_requests: counter(
                "rustydb_manager_api_requests_total",
                "HTTP API requests served",
            )?,
            registry,
        })
    }
}

/// One running manager member.
pub struct Service {
    pub config: ManagerConfig,
    pub raft: RaftMember,
    pub client: HttpClient,
    pub health: Mutex<HealthTable>,
    pub lease: Mutex<LeaseBook>,
    pub memo: Mutex<ReconcileMemo>,
    /// The DR link as this member observes it (`dr_standby.rs`).
    pub dr: Mutex<dr_standby::DrMemo>,
    /// This site in the inter-site quorum (`dr_auto.rs`, leader only).
    pub site: tokio::sync::Mutex<dr_auto::AutoMemo>,
    /// Serialises switchover, failover and reconcile.
    pub op: tokio::sync::Mutex<()>,
    pub metrics: Metrics,
    pub supervisor: Option<Supervisor>,
    pub started: Instant,
    pub stop: watch::Sender<bool>,
}

impl Service {
    /// Member id -> API URL: the configured members, then the URLs
    /// recorded in Raft for members added at run time (which win).
    pub fn member_apis(&self) -> BTreeMap<u64, String> {
        let mut apis: BTreeMap<u64, String> = self
            .config
            .members
            .iter()
            .map(|m| (m.id, m.api.clone()))
            .collect();
        apis.extend(self.raft.state().1.member_apis);
        apis
    }
}

/// A started member: its API address and a way to stop it.
pub struct Running {
    pub service: Arc<Service>,
    pub api_addr: SocketAddr,
}

impl Running {
    pub async fn shutdown(&self) {
        let _ = self.service.stop.send(true);
        if let Some(s) = &self.service.supervisor {
            s.join().await;
        }
        self.service.raft.shutdown().await;
    }
}

/// Unix time in milliseconds (for records; decisions use `Instant`).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Starts a member: Raft, the heartbeat loop, the API, supervision.
pub async fn start(config: ManagerConfig) -> Result<Running, String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    let peers: BTreeMap<u64, String> = config
        .members
        .iter()
        .map(|m| (m.id, m.raft.clone()))
        .collect();
    let member_config = MemberConfig::new(
        config.id,
        config.raft_listen,
        config.data_dir.clone(),
        peers,
    );
    let raft = RaftMember::start(member_config)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(config.api_listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.api_listen))?;
    let api_addr = listener
        .local_addr()
        .map_err(|e| format!("API listener: {e}"))?;
    let (stop, _) = watch::channel(false);
    // The stopped flag as this member last applied it (persisted with the
    // state machine), so a restarted member does not start a node an
    // operator stopped.
    let supervisor = config.supervise.as_ref().map(|s| {
        let held = raft.state().1.nodes.get(&s.node).is_some_and(|n| n.stopped);
        Supervisor::start(s, stop.subscribe(), held)
    });
    let metrics = Metrics::new().map_err(|e| format!("metrics: {e}"))?;
    let service = Arc::new(Service {
        config,
        raft,
        client: HttpClient::new(),
        health: Mutex::new(HealthTable::default()),
        lease: Mutex::new(LeaseBook::default()),
        memo: Mutex::new(ReconcileMemo::default()),
        dr: Mutex::new(dr_standby::DrMemo::default()),
        site: tokio::sync::Mutex::new(dr_auto::AutoMemo::default()),
        op: tokio::sync::Mutex::new(()),
        metrics,
        supervisor,
        started: Instant::now(),
        stop,
    });
    tokio::spawn(initialize(Arc::clone(&service)));
    tokio::spawn(supervise::follow_state(Arc::clone(&service)));
    tokio::spawn(monitor::run(Arc::clone(&service)));
    tokio::spawn(backup::schedule(Arc::clone(&service)));
    tokio::spawn(dr_standby::probe_loop(Arc::clone(&service)));
    tokio::spawn(dr_auto::run(Arc::clone(&service)));
    tokio::spawn(http::serve(listener, Arc::clone(&service)));
    tracing::info!(id = service.config.id, api = %api_addr, "manager member started");
    Ok(Running { service, api_addr })
}

/// Initialises a fresh group, then returns.
///
/// The member with the lowest configured id initialises (openraft's
/// `initialize` is a no-op on an initialised group, so a restart is
/// harmless); it retries until it succeeds or sees a leader. Seeding the
/// `[cluster]` config and registering nodes is done by `reconcile` on the
/// leader.
async fn initialize(service: Arc<Service>) {
    let lowest = service.config.members.iter().map(|m| m.id).min();
    if lowest == Some(service.config.id) {
        for _ in 0..600 {
            if service.raft.leader().is_some() {
                break;
            }
            match service.raft.initialize().await {
                Ok(()) => break,
                Err(e) => tracing::debug!(error = %e, "initialize: retrying"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

/// `rustydb manager --config FILE`: runs until Ctrl-C / SIGTERM.
pub async fn run(config: ManagerConfig) -> Result<(), String> {
    let running = start(config).await?;
    wait_for_signal().await;
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
