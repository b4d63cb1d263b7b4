//! DR operations: `GET /dr/status`, `/dr/check`, `/dr/report` and
//! `POST /dr/failover` (real or `test_mode`), the API behind
//! `rustydb-cli dr …`.
//!
//! `dr failover` on a standby cluster, run by the leader with the
//! operation lock held:
//! 1. probe the primary site once more (`dr_standby::probe_once`), read
//!    the standby leader's applied LSN from the node itself;
//! 2. RPO: records = the primary's LSN − the standby's applied LSN, and
//!    the lag in seconds; exact when the primary answered now, otherwise
//!    the last observation (`primary_reachable: false`);
//! 3. refuse (409) when the lag in seconds exceeds `[dr]
//!    max_lag_tolerance_s` (or is unknown) unless `force`;
//! 4. leave standby mode in Raft (`SetStandby {enabled: false}`), then
//!    record, promote and re-point exactly as an HA failover does
//!    (`failover::promote_recorded`): the standby leader opens a new
//!    timeline and the other nodes, which already cascade from it, keep
//!    following it; the cluster now runs normal HA;
//! 5. RTO: write a probe row on the new primary (`rustydb_dr_probe`),
//!    retrying until it is acknowledged; the time from the request to
//!    that acknowledgement is the RTO;
//! 6. record the drill in Raft (`dr report`).
//!
//! With `test_mode` the standby cluster is left alone: `dr_fork.rs`
//! starts a fork node from the standby leader and promotes only it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde::{Deserialize, Serialize};

use super::client::NodeApi;
use super::dr_standby::{DrEvent, Lag, Level};
use super::error::ServiceError;
use super::http::{json, Answer};
use super::{dr_probe, unix_ms, Service};
use crate::raft::{ClusterCommand, CommandResult, DrCommand, DrDrill};

/// How long the RTO probe write keeps retrying.
const PROBE_WRITE_FOR: Duration = Duration::from_secs(15);

/// `POST /dr/failover`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrFailoverRequest {
    pub force: bool,
    pub test_mode: bool,
}

/// What a DR failover lost, as far as the manager can tell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rpo {
    /// Records the primary had that the standby had not applied (None:
    /// the primary site was never observed).
    pub records: Option<u64>,
    pub seconds: Option<f64>,
    /// True when measured against the primary at failover time; false
    /// when it did not answer (the figures are then the last observation).
    pub exact: bool,
    /// The primary's LSN the figure compares with, and when it was seen.
    pub primary_lsn: Option<u64>,
    pub primary_seen_ms: Option<u64>,
    pub standby_lsn: Option<u64>,
}

/// `POST /dr/failover` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrFailoverResult {
    pub promoted: String,
    pub test_mode: bool,
    pub timeline: Option<u64>,
    /// pgwire address of the promoted node (the fork in test mode).
    pub pgwire: String,
    pub rpo: Rpo,
    pub rto_ms: Option<u64>,
    pub forced: bool,
    pub primary_reachable: bool,
}

/// `GET /dr/status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrStatus {
    pub standby_cluster: bool,
    pub datacenter: String,
    pub region: String,
    pub primary_hosts: Vec<String>,
    pub standby_leader: Option<String>,
    pub standby_leader_lsn: Option<u64>,
    /// The remote primary host followed, its LSN, when it was seen.
    pub remote_primary: Option<String>,
    pub remote_lsn: Option<u64>,
    pub remote_seen_ms: Option<u64>,
    pub primary_reachable: bool,
    pub last_error: Option<String>,
    pub lag: Option<Lag>,
    pub level: Level,
    pub lag_warning_s: f64,
    pub lag_critical_s: f64,
    pub max_lag_tolerance_s: f64,
    pub fork: Option<crate::raft::DrFork>,
    pub events: Vec<DrEvent>,
    /// The inter-site quorum of automatic DR failover (`dr_auto.rs`).
    pub site_quorum: super::dr_auto_view::SiteView,
}

pub fn status(service: &Service) -> DrStatus {
    let (_, state) = service.raft.state();
    // Lock order: health before dr (as in `/metrics`).
    let leader_lsn = state
        .dr
        .standby_leader
        .as_deref()
        .and_then(|l| service.health.lock().lsn(l));
    let memo = service.dr.lock();
    let c = &service.config;
    DrStatus {
        standby_cluster: state.dr.standby,
        datacenter: c.datacenter.clone(),
        region: c.region.clone(),
        primary_hosts: state.dr.primary_hosts.clone(),
        standby_leader: state.dr.standby_leader.clone(),
        standby_leader_lsn: leader_lsn,
        remote_primary: memo.last.as_ref().map(|o| o.remote.host.clone()),
        remote_lsn: memo.last.as_ref().map(|o| o.remote.lsn),
        remote_seen_ms: memo.last.as_ref().map(|o| o.at_ms),
        primary_reachable: memo.reachable(),
        last_error: memo.last_error.clone(),
        lag: memo.last.as_ref().map(|o| o.lag),
        level: memo.level,
        lag_warning_s: c.dr.lag_warning_s,
        lag_critical_s: c.dr.lag_critical_s,
        max_lag_tolerance_s: c.dr.max_lag_tolerance_s,
        fork: state.dr.fork.clone(),
        events: memo.events.iter().cloned().collect(),
        site_quorum: memo.site.clone(),
    }
}

/// `GET /dr/check`: 200 when the standby is healthy and within the
/// tolerance, 503 with the reasons otherwise.
pub fn check(service: &Service) -> Answer {
    let s = status(service);
    let mut problems = Vec::new();
    if !s.standby_cluster {
        problems.push("not a standby cluster".to_string());
    }
    if s.standby_cluster && s.standby_leader.is_none() {
        problems.push("no standby leader".to_string());
    }
    if let Some(l) = &s.standby_leader {
        let healthy = service
            .health
            .lock()
            .status(l)
            .is_some_and(|st| st.stream_state.as_deref() == Some("streaming"));
        if !healthy {
            problems.push(format!("standby leader {l} is not streaming"));
        }
    }
    if s.standby_cluster && !s.primary_reachable {
        problems.push(format!(
            "primary site unreachable ({})",
            s.last_error.clone().unwrap_or_default()
        ));
    }
    match s.lag.and_then(|l| l.seconds) {
        Some(lag) if lag > s.max_lag_tolerance_s => problems.push(format!(
            "lag {lag:.1} s above max_lag_tolerance_s {}",
            s.max_lag_tolerance_s
        )),
        None if s.standby_cluster => problems.push("lag unknown".to_string()),
        _ => {}
    }
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(
        code,
        &serde_json::json!({"healthy": problems.is_empty(), "problems": problems, "status": s}),
    )
}

/// `GET /dr/report`: the drill history against the targets.
pub fn report(service: &Service) -> Answer {
    let (_, state) = service.raft.state();
    let rto_target = service.config.rto.target_seconds;
    let rpo_target = service.config.rpo.target_seconds;
    let drills: Vec<serde_json::Value> = state
        .dr
        .drills
        .iter()
        .map(|d| {
            let rto_ok = d.rto_ms.map(|ms| ms as f64 / 1e3 <= rto_target);
            let rpo_ok = d.rpo_seconds.map(|s| s <= rpo_target);
            serde_json::json!({
                "drill": d,
                "rto_met": rto_ok,
                "rpo_met": rpo_ok,
            })
        })
        .collect();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "rto_target_seconds": rto_target,
            "rpo_target_seconds": rpo_target,
            "drills": drills,
        }),
    )
}

/// `POST /dr/failover` (the caller runs on the leader).
pub async fn failover(
    service: &Arc<Service>,
    request: DrFailoverRequest,
) -> Result<Answer, ServiceError> {
    let started = Instant::now();
    let time_ms = unix_ms();
    let _guard = service.op.lock().await;
    let (_, state) = service.raft.state();
    if !state.dr.standby {
        return Err(ServiceError::conflict("not a standby cluster"));
    }
    let Some(leader) = state.dr.standby_leader.clone() else {
        return Err(ServiceError::conflict("no standby leader chosen yet"));
    };
    let Some(leader_node) = state.nodes.get(&leader).cloned() else {
        return Err(ServiceError::conflict(format!("no node {leader}")));
    };
    service.raft.confirm_leadership().await?;
    super::dr_standby::probe_once(service, &state).await;
    let api = NodeApi {
        client: &service.client,
        admin: &leader_node.admin_addr,
        timeout: Duration::from_secs(2),
    };
    let leader_status = api
        .status()
        .await
        .map_err(|e| ServiceError::Unavailable(format!("standby leader {leader}: {e}")))?;
    let standby_lsn = leader_status.lsn_number;
    let (reachable, last) = {
        let memo = service.dr.lock();
        (memo.reachable(), memo.last.clone())
    };
    let rpo = Rpo {
        records: match (&last, standby_lsn) {
            (Some(o), Some(s)) => Some(o.remote.lsn.saturating_sub(s)),
            _ => None,
        },
        seconds: last.as_ref().and_then(|o| {
            // Caught up at the observation and nothing newer: nothing lost.
            match (o.remote.lsn, standby_lsn) {
                (r, Some(s)) if s >= r => Some(0.0),
                _ => o.lag.seconds,
            }
        }),
        exact: reachable,
        primary_lsn: last.as_ref().map(|o| o.remote.lsn),
        primary_seen_ms: last.as_ref().map(|o| o.at_ms),
        standby_lsn,
    };
    let tolerance = service.config.dr.max_lag_tolerance_s;
    let lag_s = last.as_ref().and_then(|o| o.lag.seconds);
    let too_far = lag_s.is_none_or(|l| l > tolerance);
    if too_far && !request.force {
        return Err(ServiceError::Conflict {
            message: match lag_s {
                Some(l) => format!(
                    "standby lag {l:.1} s exceeds max_lag_tolerance_s {tolerance}; use --force"
                ),
                None => "standby lag unknown; use --force".to_string(),
            },
            detail: Some(serde_json::json!({"rpo": rpo, "lag_seconds": lag_s})),
        });
    }
    let outcome = if request.test_mode {
        super::dr_fork::start_fork(service, &leader_node, time_ms).await
    } else {
        promote_standby(service, &leader, time_ms)
            .await
            .map(|tl| (leader.clone(), leader_node.pgwire_addr.clone(), Some(tl)))
    };
    let (promoted, pgwire, timeline, rto_ms, detail) = match &outcome {
        Ok((name, pgwire, tl)) => {
            // With automatic failover on, a promoted site that does not
            // hold the primary-site epoch yet takes writes only once it
            // won it (`dr_auto.rs`): that can take auto_failover_after_s.
            let (_, now_state) = service.raft.state();
            let mut wait = PROBE_WRITE_FOR;
            if service.config.dr.auto_failover
                && !request.test_mode
                && !super::dr_auto::holds(service, &now_state)
            {
                wait += Duration::from_secs_f64(
                    service.config.dr.auto_failover_after_s + service.config.dr.site_lease_s,
                );
            }
            let rto = probe_write(pgwire, time_ms, wait).await;
            let rto_ms = rto
                .as_ref()
                .ok()
                .map(|()| started.elapsed().as_millis() as u64);
            let detail = rto.err().unwrap_or_default();
            (name.clone(), pgwire.clone(), *tl, rto_ms, detail)
        }
        Err(e) => (leader.clone(), String::new(), None, None, e.to_string()),
    };
    let drill = DrDrill {
        time_ms,
        kind: if request.test_mode {
            "test"
        } else {
            "failover"
        }
        .into(),
        promoted: promoted.clone(),
        forced: request.force,
        success: outcome.is_ok() && rto_ms.is_some(),
        rto_ms,
        rpo_records: rpo.records,
        rpo_seconds: rpo.seconds,
        primary_reachable: reachable,
        detail,
    };
    let record = ClusterCommand::Dr {
        command: DrCommand::RecordDrill { drill },
    };
    if let Err(e) = service.raft.propose(record).await {
        tracing::warn!(error = %e, "cannot record the DR drill");
    }
    outcome?;
    tracing::warn!(promoted = %promoted, test_mode = request.test_mode, ?rto_ms, rpo_records = ?rpo.records, "DR failover done");
    Ok(json(
        StatusCode::OK,
        &DrFailoverResult {
            promoted,
            test_mode: request.test_mode,
            timeline,
            pgwire,
            rpo,
            rto_ms,
            forced: request.force,
            primary_reachable: reachable,
        },
    ))
}

/// Leaves standby mode and promotes `leader` as the cluster's primary.
async fn promote_standby(
    service: &Service,
    leader: &str,
    time_ms: u64,
) -> Result<u64, ServiceError> {
    let off = ClusterCommand::Dr {
        command: DrCommand::SetStandby {
            enabled: false,
            primary_hosts: Vec::new(),
        },
    };
    if let CommandResult::Rejected { reason } = service.raft.propose(off).await? {
        return Err(ServiceError::conflict(reason));
    }
    let (_, state) = service.raft.state();
    super::failover::promote_recorded(service, &state, leader, "dr failover", time_ms).await
}

/// Writes one probe row on `pgwire`, retrying until acknowledged.
pub async fn probe_write(pgwire: &str, drill_ms: u64, wait: Duration) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    let timeout = Duration::from_secs(2);
    let mut last = String::new();
    while Instant::now() < deadline {
        let create = dr_probe::simple(
            pgwire,
            "CREATE TABLE IF NOT EXISTS rustydb_dr_probe (drill_ms bigint, written_ms bigint)",
            timeout,
        )
        .await;
        let insert = match create {
            Ok(_) => {
                let sql = format!(
                    "INSERT INTO rustydb_dr_probe VALUES ({drill_ms}, {})",
                    unix_ms()
                );
                dr_probe::simple(pgwire, &sql, timeout).await
            }
            Err(e) => Err(e),
        };
        match insert {
            Ok(_) => return Ok(()),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("no write accepted within {wait:?}: {last}"))
}

/// `POST /dr/standby`: turn this cluster into a standby of `primary_hosts`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BecomeStandbyRequest {
    pub primary_hosts: Vec<String>,
}

/// `POST /dr/standby` (failback, step 1, on the old primary site): the
/// cluster forgets its primary and follows the given hosts; its nodes
/// rejoin by the node's follow handshake (rewinding records the other
/// site never had, re-cloning only when the WAL to undo is gone).
pub async fn become_standby(
    service: &Arc<Service>,
    request: BecomeStandbyRequest,
) -> Result<Answer, ServiceError> {
    if request.primary_hosts.is_empty() {
        return Err(ServiceError::BadRequest("primary_hosts is required".into()));
    }
    let _guard = service.op.lock().await;
    let (_, state) = service.raft.state();
    if state.dr.standby {
        return Err(ServiceError::conflict("already a standby cluster"));
    }
    service.raft.confirm_leadership().await?;
    // A primary that answers is drained first (planned switch-back: no
    // acknowledged commit is lost; its final LSN is answered so the other
    // site can wait for it). One that does not answer stops acknowledging
    // when its lease runs out, since nothing renews it any more.
    let mut final_lsn = None;
    if let Some(p) = state.primary_node() {
        let api = NodeApi {
            client: &service.client,
            admin: &p.admin_addr,
            timeout: Duration::from_secs(5),
        };
        match api.demote(2000).await {
            Ok(lsn) => final_lsn = Some(lsn),
            Err(e) => tracing::warn!(node = %p.name, error = %e, "cannot drain the old primary"),
        }
    }
    {
        let mut memo = service.dr.lock();
        memo.last = None;
        memo.caught_up_at = None;
        memo.followed_at.clear();
    }
    let on = ClusterCommand::Dr {
        command: DrCommand::SetStandby {
            enabled: true,
            primary_hosts: request.primary_hosts.clone(),
        },
    };
    if let CommandResult::Rejected { reason } = service.raft.propose(on).await? {
        return Err(ServiceError::conflict(reason));
    }
    // From here on nothing renews the old primary's lease: it stops
    // acknowledging commits within lease_ttl and is then re-pointed.
    service
        .raft
        .propose(ClusterCommand::ClearPrimary {
            reason: "became a standby cluster".into(),
        })
        .await?;
    tracing::warn!(hosts = ?request.primary_hosts, old_primary = ?state.primary, "now a standby cluster");
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"standby_cluster": true, "primary_hosts": request.primary_hosts,
            "old_primary": state.primary, "final_lsn": final_lsn}),
    ))
}
