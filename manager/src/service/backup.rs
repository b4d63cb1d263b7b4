//! Backups driven by the manager: `POST /backups`, `GET /backups`, and
//! the schedule in the manager's config.
//!
//! ```toml
//! [backup]
//! repo = "/backups/main"          # a path every storage node can write (and this member read)
//! # key_file = "/etc/rustydb/backup.key"
//! full_every_hours = 168          # weekly full (hours, a float; 0: never)
//! incremental_every_hours = 24    # daily incremental
//! # check_every_seconds = 60      # how often the schedule looks
//! # node = "n2"                   # always back up this node (default: a replica)
//! ```
//!
//! `POST /backups` `{"type": "full"|"incremental", "node": NAME?, "repo":
//! PATH?, "parent": ID?, "key_file": PATH?, "parallel": N?,
//! "max_mb_per_s": R?, "priority": "low"|"idle"|"normal"?}` runs on the leader: it picks
//! the node (the named one, else the replica with the highest LSN that
//! answered its last health probe, else the primary, so the primary is
//! spared whenever a replica can do it) and calls that node's
//! `POST /backup`, answering its manifest summary plus the node chosen.
//! `GET /backups` lists the configured repository's manifests (any member
//! that can read the repository answers). `GET /backups/progress` asks
//! every node of the replicated state for its running backup (`GET
//! /backup`, bounded at 2 s each, all at once) and answers `{"running":
//! [{"node": NAME, "operation", "files_done", "files_total", "bytes_done",
//! "bytes_total", "mb_per_s", "eta_s", ...}]}`: what `rustydb-cli backup
//! create` polls to show progress while the manager runs a backup (any
//! member answers, so it does not matter which one the CLI asked).
//!
//! The schedule runs on the leader every `check_every_seconds`: no full
//! backup younger than `full_every_hours` → a full one; else no backup
//! younger than `incremental_every_hours` → an incremental. A failure is
//! logged and retried at the next tick. `0` disables either. Periods are
//! floats so a test can ask for seconds (`0.001` hours = 3.6 s); the
//! defaults are the seeds' weekly full and daily incremental.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::NodeApi;
use super::error::ServiceError;
use super::http::{json as answer, Answer};
use super::Service;

/// How long a node may take for one backup.
pub const BACKUP_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// The `[backup]` section of the manager's config.
///
/// Periods are hours as a float (`168`, `24`, or `0.001` = 3.6 s for a
/// test); `0` disables that kind. The schedule looks at the repository
/// every `check_every_seconds` (default 60).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSchedule {
    pub repo: PathBuf,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    #[serde(default = "weekly")]
    pub full_every_hours: f64,
    #[serde(default = "daily")]
    pub incremental_every_hours: f64,
    #[serde(default = "minute")]
    pub check_every_seconds: f64,
    #[serde(default)]
    pub node: Option<String>,
}

fn weekly() -> f64 {
    168.0
}

fn daily() -> f64 {
    24.0
}

fn minute() -> f64 {
    60.0
}

impl BackupSchedule {
    /// Rejects periods that are negative or not numbers, and a check
    /// interval under 100 ms (the schedule would spin on the repository).
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("full_every_hours", self.full_every_hours),
            ("incremental_every_hours", self.incremental_every_hours),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("[backup] {name} must be >= 0 (0: never), not {v}"));
            }
        }
        if !self.check_every_seconds.is_finite() || self.check_every_seconds < 0.1 {
            return Err(format!(
                "[backup] check_every_seconds must be >= 0.1, not {}",
                self.check_every_seconds
            ));
        }
        if self.repo.as_os_str().is_empty() {
            return Err("[backup] repo must name a directory".into());
        }
        Ok(())
    }

    /// How often the schedule looks at the repository.
    fn tick(&self) -> Duration {
        Duration::from_secs_f64(self.check_every_seconds.max(0.1))
    }
}

/// `hours` as microseconds (`None`: disabled).
fn period_micros(hours: f64) -> Option<u64> {
    (hours.is_finite() && hours > 0.0)
        .then(|| (hours * 3_600_000_000.0).min(u64::MAX as f64) as u64)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    #[serde(rename = "type", default = "full")]
    kind: String,
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    /// Copy settings passed to the node as they are (it checks them).
    #[serde(default)]
    parallel: Option<Value>,
    #[serde(default)]
    max_mb_per_s: Option<Value>,
    #[serde(default)]
    priority: Option<Value>,
}

fn full() -> String {
    "full".into()
}

/// `POST /backups`.
pub async fn create(service: &Arc<Service>, body: &[u8]) -> Result<Answer, ServiceError> {
    let req: CreateRequest = if body.is_empty() {
        serde_json::from_slice(b"{}")
    } else {
        serde_json::from_slice(body)
    }
    .map_err(|e| ServiceError::BadRequest(format!("invalid body: {e}")))?;
    let kind: rustydb_node::backup::BackupKind =
        req.kind.parse().map_err(ServiceError::BadRequest)?;
    if let Some(p) = &req.parent {
        if !rustydb_node::backup::manifest::valid_id(p) {
            return Err(ServiceError::BadRequest(format!(
                "parent must be a backup id, not {p:?}"
            )));
        }
    }
    let schedule = service.config.backup.as_ref();
    let repo = req
        .repo
        .clone()
        .or_else(|| schedule.map(|s| s.repo.to_string_lossy().into_owned()))
        .ok_or_else(|| {
            ServiceError::BadRequest("no repo given and no [backup] repo configured".into())
        })?;
    let key_file = req.key_file.clone().or_else(|| {
        schedule
            .and_then(|s| s.key_file.as_ref())
            .map(|k| k.to_string_lossy().into_owned())
    });
    let node = req
        .node
        .clone()
        .or_else(|| schedule.and_then(|s| s.node.clone()));
    let copy: Vec<(&str, Value)> = [
        ("parallel", &req.parallel),
        ("max_mb_per_s", &req.max_mb_per_s),
        ("priority", &req.priority),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect();
    let mut doc = run(
        service,
        kind.as_str(),
        node.as_deref(),
        &repo,
        req.parent.as_deref(),
        key_file.as_deref(),
        &copy,
    )
    .await?;
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("repo".into(), json!(repo));
    }
    Ok(answer(StatusCode::OK, &doc))
}

/// Picks the node and runs the backup on it.
async fn run(
    service: &Arc<Service>,
    kind: &str,
    node: Option<&str>,
    repo: &str,
    parent: Option<&str>,
    key_file: Option<&str>,
    copy: &[(&str, Value)],
) -> Result<Value, ServiceError> {
    let (name, admin) = pick_node(service, node)?;
    let mut body = json!({"type": kind, "repo": repo});
    for (k, v) in copy {
        body[*k] = v.clone();
    }
    if let Some(p) = parent {
        body["parent"] = json!(p);
    }
    if let Some(k) = key_file {
        body["key_file"] = json!(k);
    }
    tracing::info!(node = %name, kind, repo, "backup starting");
    let api = NodeApi {
        client: &service.client,
        admin: &admin,
        timeout: BACKUP_TIMEOUT,
    };
    let mut doc = api
        .client
        .call(
            Method::POST,
            &format!("http://{admin}/backup"),
            Some(body),
            api.timeout,
        )
        .await
        .map_err(|e| node_error(&name, e))?;
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("node".into(), json!(name));
    }
    Ok(doc)
}

/// The node's refusal as the manager's: its own status class and its
/// `{"error": ...}` text.
fn node_error(node: &str, e: super::client::ClientError) -> ServiceError {
    use super::client::ClientError;
    match e {
        ClientError::Status { status, body, .. } => {
            let text = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or(body);
            let message = format!("backup on {node}: {text}");
            match status {
                400 => ServiceError::BadRequest(message),
                409 => ServiceError::conflict(message),
                _ => ServiceError::Failed(message),
            }
        }
        other => ServiceError::Unavailable(format!("backup on {node}: {other}")),
    }
}

/// The named node, else the most advanced answering replica, else the
/// primary; answers (name, admin address).
fn pick_node(service: &Service, wanted: Option<&str>) -> Result<(String, String), ServiceError> {
    let state = service.raft.state().1;
    if let Some(name) = wanted {
        let node = state
            .nodes
            .get(name)
            .ok_or_else(|| ServiceError::NotFound(format!("no node {name}")))?;
        return Ok((node.name.clone(), node.admin_addr.clone()));
    }
    let health = service.health.lock();
    let replica = state
        .nodes
        .values()
        .filter(|n| state.primary.as_deref() != Some(n.name.as_str()) && !n.stopped)
        .filter_map(|n| health.lsn(&n.name).map(|lsn| (lsn, n)))
        .max_by_key(|(lsn, _)| *lsn)
        .map(|(_, n)| (n.name.clone(), n.admin_addr.clone()));
    if let Some(r) = replica {
        return Ok(r);
    }
    state
        .primary
        .as_deref()
        .and_then(|p| state.nodes.get(p))
        .map(|n| (n.name.clone(), n.admin_addr.clone()))
        .ok_or_else(|| {
            ServiceError::conflict("no node can take a backup (no replica or primary answers)")
        })
}

/// How long `GET /backups/progress` waits for each node.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /backups/progress`: the running backups of every node. A node
/// that does not answer in time is left out (it is not running one as
/// far as anyone can tell now).
pub async fn progress(service: &Arc<Service>) -> Answer {
    let nodes: Vec<(String, String)> = service
        .raft
        .state()
        .1
        .nodes
        .values()
        .filter(|n| !n.stopped)
        .map(|n| (n.name.clone(), n.admin_addr.clone()))
        .collect();
    let asks = nodes.iter().map(|(name, admin)| async move {
        let url = format!("http://{admin}/backup");
        let got = service
            .client
            .call(Method::GET, &url, None, PROGRESS_TIMEOUT)
            .await;
        match got {
            Ok(mut v) if v["running"] == json!(true) => {
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("node".into(), json!(name));
                }
                Some(v)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(node = %name, error = %e, "backup progress: no answer");
                None
            }
        }
    });
    let running: Vec<Value> = futures::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect();
    answer(StatusCode::OK, &json!({ "running": running }))
}

/// `GET /backups`.
pub async fn list(service: &Arc<Service>) -> Answer {
    let Some(schedule) = service.config.backup.clone() else {
        return answer(
            StatusCode::NOT_FOUND,
            &json!({"error": "no [backup] repo configured on this member"}),
        );
    };
    let listed = tokio::task::spawn_blocking(move || -> Result<Value, String> {
        let empty_dir = std::fs::read_dir(&schedule.repo).map_or(true, |mut d| d.next().is_none());
        if !schedule.repo.join("repo.json").exists() && empty_dir {
            // Configured but no backup taken yet: the first one creates it.
            return Ok(Value::Array(Vec::new()));
        }
        let repo = rustydb_node::backup::Repo::open(&schedule.repo, schedule.key_file.as_deref())
            .map_err(|e| e.to_string())?;
        let all = rustydb_node::backup::Manifest::list(&repo).map_err(|e| e.to_string())?;
        Ok(Value::Array(
            all.iter()
                .map(|m| {
                    json!({"id": m.id, "type": m.kind.as_str(), "parent": m.parent, "node": m.node,
                           "lsn": m.lsn, "timeline": m.timeline, "end_time": m.end_time,
                           "files": m.files.len(), "stored_bytes": m.stored_bytes,
                           "total_bytes": m.total_bytes})
                })
                .collect(),
        ))
    })
    .await;
    match listed {
        Ok(Ok(v)) => answer(StatusCode::OK, &v),
        Ok(Err(e)) => answer(StatusCode::INTERNAL_SERVER_ERROR, &json!({"error": e})),
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": e.to_string()}),
        ),
    }
}

/// The schedule loop (leader only); returns at once without `[backup]`.
pub async fn schedule(service: Arc<Service>) {
    let Some(config) = service.config.backup.clone() else {
        return;
    };
    let mut stop = service.stop.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(config.tick()) => {}
            _ = stop.changed() => return,
        }
        if !service.raft.is_leader() {
            continue;
        }
        let due = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || due(&config)).await
        };
        let kind = match due {
            Ok(Ok(Some(kind))) => kind,
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "backup schedule: cannot read the repository");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "backup schedule task failed");
                continue;
            }
        };
        let repo = config.repo.to_string_lossy().into_owned();
        let key = config
            .key_file
            .as_ref()
            .map(|k| k.to_string_lossy().into_owned());
        match run(
            &service,
            kind,
            config.node.as_deref(),
            &repo,
            None,
            key.as_deref(),
            &[],
        )
        .await
        {
            Ok(doc) => tracing::info!(id = %doc["id"], kind, "scheduled backup done"),
            Err(e) => tracing::warn!(error = %e, kind, "scheduled backup failed"),
        }
    }
}

/// Which backup the schedule wants now, if any.
fn due(config: &BackupSchedule) -> Result<Option<&'static str>, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let all = match rustydb_node::backup::Repo::open(&config.repo, config.key_file.as_deref()) {
        Ok(repo) => rustydb_node::backup::Manifest::list(&repo).map_err(|e| e.to_string())?,
        // No repository yet: the first backup creates it.
        Err(_) if !config.repo.join("repo.json").exists() => Vec::new(),
        Err(e) => return Err(e.to_string()),
    };
    let newest_full = all
        .iter()
        .filter(|m| m.kind == rustydb_node::backup::BackupKind::Full)
        .map(|m| m.end_micros)
        .max();
    let newest = all.iter().map(|m| m.end_micros).max();
    let full_every = period_micros(config.full_every_hours);
    let incremental_every = period_micros(config.incremental_every_hours);
    if let Some(every) = full_every {
        if newest_full.is_none_or(|t| now.saturating_sub(t) >= every) {
            return Ok(Some("full"));
        }
    }
    if let Some(every) = incremental_every {
        if newest_full.is_some() && newest.is_none_or(|t| now.saturating_sub(t) >= every) {
            return Ok(Some("incremental"));
        }
    }
    Ok(None)
}
