//! Standby cluster: follow the primary site, measure and alert on lag.
//!
//! A cluster in standby mode (`ClusterState::dr.standby`, seeded from
//! `[standby_cluster]`) has no primary of its own. Instead:
//!
//! ```text
//!  primary site: P (primary) ── WAN ──► standby leader S ──► other standby nodes
//!                    ▲ probe (pgwire, every probe_interval_ms, every member)
//! ```
//!
//! - `probe_loop` (every member): finds the remote primary among
//!   `primary_hosts` (`dr_probe.rs`) and derives the lag of the standby
//!   leader in records, bytes and seconds ([`Lag`]); raises warning /
//!   critical events when it crosses `[dr] lag_warning_s` /
//!   `lag_critical_s` (and when the site stops answering).
//! - `reconcile` (leader, instead of the HA reconcile): chooses the
//!   standby leader (kept while alive; else the live node with the highest
//!   LSN) and records it in Raft; points it at the remote primary with the
//!   node's `POST /follow` (so it re-points when the primary site fails
//!   over); points every other node at the standby leader (cascading). A
//!   node that runs as a primary is told to follow as well: nothing in a
//!   standby cluster accepts writes.
//!
//! Invariant: in standby mode the manager never promotes a node, never
//! renews a lease and records no primary; only `dr failover` (`dr_ops.rs`)
//! leaves standby mode, and it does so in Raft before promoting.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::client::NodeApi;
use super::dr_probe::{self, RemotePrimary};
use super::failover::RECORD_BYTES;
use super::health::Liveness;
use super::{unix_ms, Service};
use crate::raft::{ClusterCommand, ClusterState, DrCommand};

/// Minimum time between two `/follow` calls to the same node.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);
/// How many lag events are kept for `GET /dr/status`.
const EVENTS_CAP: usize = 50;

/// The standby leader's lag behind the remote primary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Lag {
    pub records: u64,
    pub bytes: u64,
    /// None when it cannot be told (never caught up since we started).
    pub seconds: Option<f64>,
}

/// Alert level of the lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Ok,
    Warning,
    Critical,
}

/// One alerting event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrEvent {
    pub time_ms: u64,
    pub level: Level,
    pub message: String,
}

/// The last successful observation of the primary site.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub remote: RemotePrimary,
    pub at: Instant,
    pub at_ms: u64,
    /// The standby leader's applied LSN at that moment.
    pub standby_lsn: Option<u64>,
    pub lag: Lag,
}

/// What this member knows about the DR link (memory only).
#[derive(Debug, Default)]
pub struct DrMemo {
    pub last: Option<Observation>,
    pub last_error: Option<String>,
    pub checked_at: Option<Instant>,
    /// The last time the standby leader was seen fully caught up.
    pub caught_up_at: Option<Instant>,
    pub level: Level,
    pub unreachable_reported: bool,
    pub events: VecDeque<DrEvent>,
    pub followed_at: BTreeMap<String, Instant>,
    /// The process of a test-mode fork this member started (`dr_fork.rs`).
    pub fork_child: Option<tokio::process::Child>,
    /// Until when this site's primary-site lease is valid (`dr_auto.rs`;
    /// leader only, None when not held).
    pub site_lease_until: Option<Instant>,
    /// The inter-site quorum as `GET /dr/status` shows it.
    pub site: super::dr_auto_view::SiteView,
}

impl DrMemo {
    pub fn event(&mut self, level: Level, message: String) {
        match level {
            Level::Critical => tracing::error!(%message, "dr"),
            Level::Warning => tracing::warn!(%message, "dr"),
            Level::Ok => tracing::info!(%message, "dr"),
        }
        self.events.push_back(DrEvent {
            time_ms: unix_ms(),
            level,
            message,
        });
        while self.events.len() > EVENTS_CAP {
            self.events.pop_front();
        }
    }

    /// Whether the remote primary answered the last probe.
    pub fn reachable(&self) -> bool {
        self.last_error.is_none() && self.last.is_some()
    }
}

/// Writes `[standby_cluster]` to Raft on a fresh group; true when it
/// proposed (the caller stops this tick).
pub async fn seed(service: &Service, state: &ClusterState) -> bool {
    if state.dr.seeded {
        return false;
    }
    let Some(standby) = &service.config.standby_cluster else {
        return false;
    };
    let command = ClusterCommand::Dr {
        command: DrCommand::SetStandby {
            enabled: true,
            primary_hosts: standby.primary_hosts.clone(),
        },
    };
    match service.raft.propose(command).await {
        Ok(_) => tracing::info!(hosts = ?standby.primary_hosts, "standby cluster mode written"),
        Err(e) => tracing::warn!(error = %e, "cannot write standby cluster mode"),
    }
    true
}

/// The lag of `leader` given a probe of the remote primary.
pub fn lag_of(
    remote: &RemotePrimary,
    leader: Option<&str>,
    leader_lsn: Option<u64>,
    caught_up_for: Option<Duration>,
) -> Lag {
    let row = leader.and_then(|l| remote.replicas.iter().find(|r| r.name == l));
    let by_lsn = leader_lsn.map(|l| remote.lsn.saturating_sub(l));
    // The remote's row is measured where the records are produced; our own
    // LSN is fresher (polled every heartbeat): take the smaller figure.
    let records = match (row.map(|r| r.lag_records), by_lsn) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => remote.lsn,
    };
    let bytes = match row {
        Some(r) if r.lag_records == records => r.lag_bytes,
        _ => records * RECORD_BYTES,
    };
    let seconds = if records == 0 {
        Some(0.0)
    } else {
        match row.and_then(|r| r.replay_lag_s) {
            Some(s) => Some(s),
            // Not streaming from the primary (or never acknowledged): at
            // least as long as since it was last seen caught up.
            None => caught_up_for.map(|d| d.as_secs_f64()),
        }
    };
    Lag {
        records,
        bytes,
        seconds,
    }
}

/// Probes the remote site every `probe_interval_ms` while in standby mode.
pub async fn probe_loop(service: Arc<Service>) {
    let mut stop = service.stop.subscribe();
    let every = Duration::from_millis(service.config.dr.probe_interval_ms.max(50));
    loop {
        let (_, state) = service.raft.state();
        if state.dr.standby {
            probe_once(&service, &state).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// One probe and its bookkeeping (lag, events).
pub async fn probe_once(service: &Service, state: &ClusterState) {
    let timeout = Duration::from_secs(2);
    let found = dr_probe::find_primary(&state.dr.primary_hosts, timeout).await;
    let now = Instant::now();
    let leader = state.dr.standby_leader.clone();
    let leader_lsn = leader.as_deref().and_then(|l| service.health.lock().lsn(l));
    let dr = &service.config.dr;
    let mut memo = service.dr.lock();
    memo.checked_at = Some(now);
    match found {
        Ok(remote) => {
            if memo.unreachable_reported {
                memo.unreachable_reported = false;
                memo.event(
                    Level::Ok,
                    format!("primary site answers again ({})", remote.host),
                );
            }
            let caught_up_for = memo.caught_up_at.map(|t| now.saturating_duration_since(t));
            let lag = lag_of(&remote, leader.as_deref(), leader_lsn, caught_up_for);
            if lag.records == 0 {
                memo.caught_up_at = Some(now);
            }
            let level = match lag.seconds {
                Some(s) if s >= dr.lag_critical_s => Level::Critical,
                Some(s) if s >= dr.lag_warning_s => Level::Warning,
                _ => Level::Ok,
            };
            if level != memo.level {
                let message = match level {
                    Level::Ok => "standby lag back within the warning threshold".to_string(),
                    _ => format!(
                        "standby lag {:.1} s ({} records) above the {} threshold ({} s)",
                        lag.seconds.unwrap_or(0.0),
                        lag.records,
                        if level == Level::Critical {
                            "critical"
                        } else {
                            "warning"
                        },
                        if level == Level::Critical {
                            dr.lag_critical_s
                        } else {
                            dr.lag_warning_s
                        },
                    ),
                };
                memo.level = level;
                memo.event(level, message);
            }
            memo.last_error = None;
            memo.last = Some(Observation {
                remote,
                at: now,
                at_ms: unix_ms(),
                standby_lsn: leader_lsn,
                lag,
            });
        }
        Err(e) => {
            if !memo.unreachable_reported {
                memo.unreachable_reported = true;
                memo.event(Level::Critical, format!("primary site unreachable: {e}"));
            }
            memo.last_error = Some(e);
        }
    }
}

/// The leader's standby-mode reconcile (see the module comment).
pub async fn reconcile(service: &Service, state: &ClusterState) {
    let now = Instant::now();
    let threshold = state.config.failure_threshold;
    let alive = |name: &str| {
        state.nodes.get(name).is_some_and(|n| !n.stopped)
            && service.health.lock().liveness(name, now, threshold) == Liveness::Alive
    };
    let leader = match state.dr.standby_leader.clone() {
        Some(l) if alive(&l) => l,
        current => {
            let best = {
                let health = service.health.lock();
                state
                    .nodes
                    .values()
                    .filter(|n| !n.stopped && !n.nofailover)
                    .filter(|n| health.liveness(&n.name, now, threshold) == Liveness::Alive)
                    .filter_map(|n| health.lsn(&n.name).map(|l| (l, n.failover_priority, n)))
                    .max_by(|a, b| {
                        a.0.cmp(&b.0)
                            .then(a.1.cmp(&b.1))
                            .then(b.2.name.cmp(&a.2.name))
                    })
                    .map(|(_, _, n)| n.name.clone())
            };
            let Some(best) = best else {
                return;
            };
            tracing::info!(previous = ?current, leader = %best, "choosing the standby leader");
            let cmd = ClusterCommand::Dr {
                command: DrCommand::SetStandbyLeader {
                    name: Some(best.clone()),
                },
            };
            if let Err(e) = service.raft.propose(cmd).await {
                tracing::warn!(error = %e, "cannot record the standby leader");
                return;
            }
            best
        }
    };
    // Where the standby leader should stream from: the remote primary of
    // the last probe (which follows the primary site's failovers).
    let fresh_for = Duration::from_millis(service.config.dr.probe_interval_ms.max(50) * 5);
    let remote = service
        .dr
        .lock()
        .last
        .as_ref()
        .filter(|o| o.at.elapsed() <= fresh_for)
        .map(|o| o.remote.host.clone());
    let Some(leader_node) = state.nodes.get(&leader).cloned() else {
        return;
    };
    let mut wanted: Vec<(String, String, String)> = Vec::new();
    if let Some(remote) = remote {
        wanted.push((leader.clone(), leader_node.admin_addr.clone(), remote));
    }
    for n in state.nodes.values() {
        if n.name != leader && !n.stopped && alive(&n.name) {
            wanted.push((
                n.name.clone(),
                n.admin_addr.clone(),
                leader_node.pgwire_addr.clone(),
            ));
        }
    }
    for (name, admin, upstream) in wanted {
        let stray =
            service.health.lock().status(&name).is_some_and(|s| {
                s.is_primary() || s.upstream.as_deref() != Some(upstream.as_str())
            });
        let due = service
            .dr
            .lock()
            .followed_at
            .get(&name)
            .is_none_or(|t| t.elapsed() >= FOLLOW_EVERY);
        if !stray || !due {
            continue;
        }
        service
            .dr
            .lock()
            .followed_at
            .insert(name.clone(), Instant::now());
        let api = NodeApi {
            client: &service.client,
            admin: &admin,
            timeout: Duration::from_secs(2),
        };
        match api.follow(&upstream).await {
            Ok(()) => tracing::info!(node = %name, %upstream, "standby cluster: re-pointed"),
            Err(e) => tracing::debug!(node = %name, error = %e, "standby cluster: cannot re-point"),
        }
    }
}

/// Prometheus lines for the DR link (appended to `/metrics`).
pub fn metrics_text(service: &Service, state: &ClusterState) -> String {
    let mut text = link_metrics(service, state);
    text.push_str(&super::dr_auto::metrics_text(service, state));
    text
}

fn link_metrics(service: &Service, state: &ClusterState) -> String {
    let memo = service.dr.lock();
    let mut text = String::new();
    let mut push = |name: &str, help: &str, value: String| {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    };
    push(
        "rustydb_dr_standby_cluster",
        "1 while this cluster runs in standby mode",
        u8::from(state.dr.standby).to_string(),
    );
    if !state.dr.standby {
        return text;
    }
    push(
        "rustydb_dr_primary_reachable",
        "1 when the primary site answered the last probe",
        u8::from(memo.reachable()).to_string(),
    );
    if let Some(o) = &memo.last {
        push(
            "rustydb_dr_lag_records",
            "Records the standby leader is behind the primary site",
            o.lag.records.to_string(),
        );
        push(
            "rustydb_dr_lag_bytes",
            "Bytes the standby leader is behind the primary site",
            o.lag.bytes.to_string(),
        );
        if let Some(s) = o.lag.seconds {
            push(
                "rustydb_dr_lag_seconds",
                "Seconds the standby leader is behind the primary site",
                format!("{s:.3}"),
            );
        }
        push(
            "rustydb_dr_remote_lsn",
            "The primary site's last known LSN",
            o.remote.lsn.to_string(),
        );
    }
    push(
        "rustydb_dr_lag_level",
        "0 ok, 1 warning, 2 critical",
        match memo.level {
            Level::Ok => "0",
            Level::Warning => "1",
            Level::Critical => "2",
        }
        .to_string(),
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::dr_probe::RemoteReplica;

    fn remote(lsn: u64, rows: Vec<RemoteReplica>) -> RemotePrimary {
        RemotePrimary {
            host: "h:1".into(),
            lsn,
            replicas: rows,
        }
    }

    #[test]
    fn lag_prefers_the_fresher_figure() {
        let row = RemoteReplica {
            name: "s1".into(),
            lag_records: 10,
            lag_bytes: 5000,
            replay_lag_s: Some(0.4),
        };
        let r = remote(100, vec![row]);
        let lag = lag_of(&r, Some("s1"), Some(95), None);
        assert_eq!(lag.records, 5);
        assert_eq!(lag.bytes, 5 * RECORD_BYTES);
        assert_eq!(lag.seconds, Some(0.4));
        let caught = lag_of(&r, Some("s1"), Some(100), None);
        assert_eq!((caught.records, caught.seconds), (0, Some(0.0)));
    }

    #[test]
    fn lag_without_a_row_uses_the_time_since_caught_up() {
        let r = remote(50, vec![]);
        let lag = lag_of(&r, Some("s1"), Some(40), Some(Duration::from_secs(3)));
        assert_eq!(lag.records, 10);
        assert_eq!(lag.seconds, Some(3.0));
        assert_eq!(lag_of(&r, Some("s1"), Some(40), None).seconds, None);
    }
}
