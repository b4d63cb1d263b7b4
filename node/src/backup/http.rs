//! The node admin API's backup routes (wired in `crate::admin`).
//!
//! - `POST /backup` `{"repo": "/path", "type": "full"|"incremental",
//!   "parent": "ID"?, "key_file": "/path"?, "parallel": N?, "max_mb_per_s":
//!   R?, "priority": "low"|"idle"|"normal"?}`: takes a backup now and
//!   answers its manifest (without the file list) once it is complete.
//!   The copy runs on `parallel` threads (default: two per core, 2..8),
//!   at low CPU and I/O priority unless `priority` is `normal`, paced to
//!   the disks' write latency when `idle` (see `pace`), and reads at most
//!   `max_mb_per_s` MB/s when given (see `copy`).
//!   One backup at a time per node (409 otherwise). Paths are on the
//!   node's host.
//! - `GET /backup`: the running backup's progress (files, bytes, rate,
//!   ETA), or `{"running": false}`.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use super::copy::CopyOptions;
use super::create::{take_backup, BackupRequest};
use super::manifest::BackupKind;
use super::progress::{Progress, ProgressSink};
use crate::replication::Replication;

/// Handles `POST /backup`; returns the HTTP status and body.
pub async fn post_backup(repl: &Arc<Replication>, body: Value) -> (u16, Value) {
    let req = match parse(&body) {
        Ok(r) => r,
        Err(e) => return (400, json!({"error": e})),
    };
    let progress = Progress::new("backup", ProgressSink::Log);
    {
        let mut running = repl.backup.running.lock();
        if running.is_some() {
            return (
                409,
                json!({"error": "a backup is already running on this node"}),
            );
        }
        *running = Some(progress.clone());
    }
    let repl2 = repl.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let rocks = repl2.rocks();
        take_backup(&rocks, &repl2.data_dir, &repl2.node_name, &req, &progress)
    })
    .await;
    *repl.backup.running.lock() = None;
    match outcome {
        Ok(Ok(m)) => {
            let mut doc = serde_json::to_value(&m).unwrap_or_default();
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("files".into(), json!(m.files.len()));
                obj.insert(
                    "elapsed_ms".into(),
                    json!(m.end_micros.saturating_sub(m.start_micros) / 1000),
                );
            }
            (200, doc)
        }
        Ok(Err(e)) => (500, json!({"error": e.to_string()})),
        Err(e) => (500, json!({"error": format!("backup task failed: {e}")})),
    }
}

/// Handles `GET /backup`.
pub fn backup_progress(repl: &Replication) -> Value {
    match repl.backup.running.lock().as_ref() {
        Some(p) => {
            let mut doc = serde_json::to_value(p.snapshot()).unwrap_or_default();
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("running".into(), json!(true));
            }
            doc
        }
        None => json!({"running": false}),
    }
}

fn parse(body: &Value) -> Result<BackupRequest, String> {
    let repo = body
        .get("repo")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("body must name the repository: {\"repo\": \"/path\", \"type\": \"full\"}")?;
    let kind: BackupKind = body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("full")
        .parse()?;
    let parent = match body.get("parent") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if super::manifest::valid_id(s) => Some(s.clone()),
        Some(other) => return Err(format!("parent must be a backup id, not {other}")),
    };
    let key_file = body
        .get("key_file")
        .and_then(Value::as_str)
        .map(PathBuf::from);
    let mut copy = CopyOptions::default();
    match body.get("parallel") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_u64().filter(|n| (1..=64).contains(n)) {
            Some(n) => copy.parallel = n as usize,
            None => return Err(format!("parallel must be 1..64, not {v}")),
        },
    }
    match body.get("max_mb_per_s") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_f64().filter(|r| r.is_finite() && *r > 0.0) {
            Some(r) => copy.max_bytes_per_s = Some((r * 1e6) as u64),
            None => return Err(format!("max_mb_per_s must be a positive number, not {v}")),
        },
    }
    match body.get("priority").and_then(Value::as_str) {
        None | Some("low") => copy.low_priority = true,
        Some("normal") => copy.low_priority = false,
        Some("idle") => {
            copy.low_priority = true;
            copy.adaptive = true;
        }
        Some(other) => {
            return Err(format!(
                "priority must be low, idle or normal, not {other:?}"
            ))
        }
    }
    Ok(BackupRequest {
        repo: PathBuf::from(repo),
        kind,
        parent,
        key_file,
        copy,
    })
}
