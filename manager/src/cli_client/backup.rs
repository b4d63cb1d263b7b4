//! `rustydb-cli backup …`: create, list, verify, restore (PITR), prune.
//!
//! `create` asks a node to take the backup (the node writes the RocksDB
//! checkpoint and copies it into the repository): directly with
//! `--node-url http://HOST:ADMIN_PORT`, or through the manager
//! (`POST /backups`, which picks a replica unless `--node` names one).
//! While it runs, a second thread polls every second for progress and
//! prints it (files, bytes, rate, ETA) on stderr: the node's `GET
//! /backup`, or through the manager its `GET /backups/progress` (every
//! node's running backup, each line prefixed with the node's name).
//!
//! The other verbs work on the repository directly (`--repo DIR`, which
//! must be reachable from where the CLI runs), with progress on stderr
//! and the result on stdout (a table, or JSON with `--format json`).
//! Encrypted repositories need `--key-file` (or `RUSTYDB_BACKUP_KEY_FILE`).
//! A failed verification exits with status 1.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use rustydb_node::backup::{self as bk, BackupKind, Manifest, ProgressSink, Repo, RestoreTarget};
use serde_json::{json, Value};

use super::render::Table;
use super::{ApiClient, CliError, Method};

/// How long `create` waits for the backup (the node's and the manager's
/// own bound is the same).
const CREATE_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// Where the repository is.
#[derive(Debug, Args)]
pub struct RepoArgs {
    /// Backup repository directory.
    #[arg(long, env = "RUSTYDB_BACKUP_REPO")]
    pub repo: Option<PathBuf>,
    /// Key file of an encrypted repository (32 bytes or 64 hex digits).
    #[arg(long, env = "RUSTYDB_BACKUP_KEY_FILE")]
    pub key_file: Option<PathBuf>,
}

impl RepoArgs {
    fn dir(&self) -> Result<&Path, CliError> {
        self.repo.as_deref().ok_or_else(|| {
            CliError::Usage("--repo DIR (or RUSTYDB_BACKUP_REPO) is required".into())
        })
    }

    fn open(&self) -> Result<Repo, CliError> {
        Repo::open(self.dir()?, self.key_file.as_deref()).map_err(fail)
    }
}

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Take a backup of a running node.
    Create {
        /// full or incremental.
        #[arg(long = "type", default_value = "full")]
        kind: String,
        /// Parent of an incremental backup (default: the newest backup).
        #[arg(long)]
        parent: Option<String>,
        /// Node to back up, by name, through the manager (default: a replica).
        #[arg(long, conflicts_with = "node_url")]
        node: Option<String>,
        /// Back up this node directly: its admin API URL (http://HOST:PORT).
        #[arg(long)]
        node_url: Option<String>,
        /// Copy threads on the node (default: two per core, 2..8).
        #[arg(long)]
        parallel: Option<u64>,
        /// Read at most this many MB/s (default: no limit).
        #[arg(long)]
        max_mb_per_s: Option<f64>,
        /// CPU and I/O priority of the copy: low (default), idle (low, and
        /// slowed down while it makes other writers' disk latency rise) or
        /// normal.
        #[arg(long)]
        priority: Option<String>,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Backups in the repository, oldest first.
    List {
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Re-read a backup against its checksums, check its chain and the WAL
    /// archive after it, and test-restore it. Without ID: the archive only.
    Verify {
        id: Option<String>,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Restore a backup, or the state at a time or LSN (PITR), into a new
    /// data directory.
    Restore {
        /// The backup to restore as it is.
        #[arg(conflicts_with_all = ["to_time", "to_lsn"])]
        id: Option<String>,
        /// Every transaction committed at or before this time (RFC 3339).
        #[arg(long, conflicts_with = "to_lsn")]
        to_time: Option<String>,
        /// Everything up to and including this LSN.
        #[arg(long)]
        to_lsn: Option<u64>,
        /// The new data directory (must be absent or empty).
        #[arg(long)]
        target: PathBuf,
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Delete backups (and archived WAL) the retention policy does not keep.
    Prune {
        #[arg(long, default_value_t = 2)]
        keep_full: usize,
        #[arg(long, default_value_t = 7)]
        keep_daily: usize,
        #[arg(long, default_value_t = 4)]
        keep_weekly: usize,
        #[arg(long, default_value_t = 6)]
        keep_monthly: usize,
        /// Show what would be deleted.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        repo: RepoArgs,
    },
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Runs one backup verb; returns what to print.
pub fn run(manager: &ApiClient, cmd: &BackupCmd, json_out: bool) -> Result<String, CliError> {
    let out = |v: Value, table: String| {
        if json_out {
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s
        } else {
            table
        }
    };
    match cmd {
        BackupCmd::Create {
            kind,
            parent,
            node,
            node_url,
            parallel,
            max_mb_per_s,
            priority,
            repo,
        } => {
            let kind: BackupKind = kind.parse().map_err(CliError::Usage)?;
            let mut body = json!({"type": kind.as_str()});
            // A node needs the repository named; the manager has a default.
            if node_url.is_some() || repo.repo.is_some() {
                body["repo"] = json!(repo.dir()?.to_string_lossy());
            }
            if let Some(p) = parent {
                body["parent"] = json!(p);
            }
            if let Some(k) = &repo.key_file {
                body["key_file"] = json!(k.to_string_lossy());
            }
            if let Some(n) = parallel {
                body["parallel"] = json!(n);
            }
            if let Some(r) = max_mb_per_s {
                body["max_mb_per_s"] = json!(r);
            }
            if let Some(p) = priority {
                body["priority"] = json!(p);
            }
            let reply = match node_url {
                Some(url) => {
                    let node = ApiClient::with_timeout(url, None, CREATE_TIMEOUT);
                    let poll = ApiClient::with_timeout(url, None, POLL_TIMEOUT);
                    with_progress(
                        move || node_progress(&poll),
                        || node.send(Method::Post, "/backup", Some(&body)),
                    )?
                }
                None => {
                    if let Some(n) = node {
                        body["node"] = json!(n);
                    }
                    let poll = manager.retimed(POLL_TIMEOUT);
                    with_progress(
                        move || manager_progress(&poll),
                        || {
                            manager.retimed(CREATE_TIMEOUT).send(
                                Method::Post,
                                "/backups",
                                Some(&body),
                            )
                        },
                    )?
                }
            };
            let b = &reply.body;
            let secs = b["elapsed_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
            let total = b["total_bytes"].as_u64().unwrap_or(0);
            let stored = b["stored_bytes"].as_u64().unwrap_or(0);
            let table = format!(
                "backup {} ({}) of {} at LSN {} (timeline {}): {} files, {:.1} MB stored of {:.1} MB in {:.1} s ({:.1} MB/s)\n",
                b["id"].as_str().unwrap_or("?"),
                b["type"].as_str().unwrap_or("?"),
                b["node"].as_str().unwrap_or("?"),
                b["lsn"],
                b["timeline"],
                b["files"],
                stored as f64 / 1e6,
                total as f64 / 1e6,
                secs,
                total as f64 / 1e6 / secs.max(1e-3),
            );
            Ok(out(reply.body.clone(), table))
        }
        BackupCmd::List { repo } => {
            let repo = repo.open()?;
            let all = Manifest::list(&repo).map_err(fail)?;
            let mut t = Table::new(&[
                "ID",
                "Type",
                "Parent",
                "LSN",
                "TL",
                "End",
                "Files",
                "Stored MB",
                "Total MB",
            ]);
            for m in &all {
                t.row(vec![
                    m.id.clone(),
                    m.kind.as_str().to_string(),
                    m.parent.clone().unwrap_or_default(),
                    m.lsn.to_string(),
                    m.timeline.to_string(),
                    m.end_time.clone(),
                    m.files.len().to_string(),
                    format!("{:.1}", m.stored_bytes as f64 / 1e6),
                    format!("{:.1}", m.total_bytes as f64 / 1e6),
                ]);
            }
            let summaries: Vec<Value> = all
                .iter()
                .map(|m| {
                    let mut v = to_value(m);
                    v["files"] = json!(m.files.len());
                    v.as_object_mut().map(|o| o.remove("history"));
                    v
                })
                .collect();
            Ok(out(json!(summaries), t.render()))
        }
        BackupCmd::Verify { id, repo } => {
            let repo = repo.open()?;
            let (value, ok, table) = match id {
                Some(id) => {
                    let r = bk::verify_backup(&repo, id, ProgressSink::Stderr).map_err(fail)?;
                    let mut text = format!(
                        "backup {}: chain {}, {} files, {:.1} MB, LSN {}, test restore {} keys\n",
                        r.id,
                        r.chain.join(" <- "),
                        r.files,
                        r.bytes as f64 / 1e6,
                        r.lsn,
                        r.restored_keys
                    );
                    if let Some(a) = &r.archive {
                        text.push_str(&archive_line(a));
                    }
                    (to_value(&r), r.ok, problems(text, &r.problems))
                }
                None => {
                    let a = bk::verify_archive(&repo, None).map_err(fail)?;
                    let ok = a.problems.is_empty();
                    (to_value(&a), ok, problems(archive_line(&a), &a.problems))
                }
            };
            let printed = out(value, table);
            if ok {
                Ok(printed)
            } else {
                print!("{printed}");
                Err(CliError::Failed("verification failed".into()))
            }
        }
        BackupCmd::Restore {
            id,
            to_time,
            to_lsn,
            target,
            repo,
        } => {
            let what = match (id, to_time, to_lsn) {
                (Some(id), None, None) => RestoreTarget::Backup(id.clone()),
                (None, Some(t), None) => RestoreTarget::Time(
                    bk::parse_time(t).map_err(|e| CliError::Usage(e.to_string()))?,
                ),
                (None, None, Some(l)) => RestoreTarget::Lsn(*l),
                _ => {
                    return Err(CliError::Usage(
                        "name a backup ID, or --to-time TS, or --to-lsn L".into(),
                    ))
                }
            };
            let repo = repo.open()?;
            let r = bk::restore(&repo, &what, target, ProgressSink::Stderr).map_err(fail)?;
            let table = format!(
                "restored {} into {} at LSN {} (base LSN {}, {} WAL records replayed), timeline {}: {} files, {:.1} MB\nstart it with: rustydb node --data-dir {}\n",
                r.base,
                r.target_dir.display(),
                r.lsn,
                r.base_lsn,
                r.replayed_records,
                r.timeline,
                r.files,
                r.bytes as f64 / 1e6,
                r.target_dir.display()
            );
            Ok(out(to_value(&r), table))
        }
        BackupCmd::Prune {
            keep_full,
            keep_daily,
            keep_weekly,
            keep_monthly,
            dry_run,
            repo,
        } => {
            let repo = repo.open()?;
            let policy = bk::PrunePolicy {
                keep_full: *keep_full,
                keep_daily: *keep_daily,
                keep_weekly: *keep_weekly,
                keep_monthly: *keep_monthly,
            };
            let r = bk::prune(&repo, &policy, *dry_run).map_err(fail)?;
            let verb = if r.dry_run { "would delete" } else { "deleted" };
            let table = format!(
                "kept {}: {}\n{verb} {}: {}\n{verb} {} WAL segments\n",
                r.kept.len(),
                r.kept.join(", "),
                r.deleted.len(),
                r.deleted.join(", "),
                r.wal_segments_deleted
            );
            Ok(out(to_value(&r), table))
        }
    }
}

fn archive_line(a: &bk::verify::ArchiveReport) -> String {
    match (a.first_lsn, a.last_lsn) {
        (Some(f), Some(l)) => format!("WAL archive: {} segments, LSN {f}..{l}\n", a.segments),
        _ => "WAL archive: empty\n".to_string(),
    }
}

fn problems(mut text: String, problems: &[String]) -> String {
    if problems.is_empty() {
        text.push_str("OK\n");
    } else {
        for p in problems {
            text.push_str(&format!("PROBLEM: {p}\n"));
        }
    }
    text
}

/// Bound of one progress poll.
const POLL_TIMEOUT: Duration = Duration::from_secs(5);

/// Progress of the backup a node runs (its `GET /backup`).
fn node_progress(node: &ApiClient) -> Vec<String> {
    match node.get("/backup") {
        Ok(r) if r.body["running"] == json!(true) => vec![progress_line(&r.body)],
        _ => Vec::new(),
    }
}

/// Progress of every backup the cluster's nodes run (the manager's `GET
/// /backups/progress`), each line prefixed with its node.
fn manager_progress(manager: &ApiClient) -> Vec<String> {
    let Ok(r) = manager.get("/backups/progress") else {
        return Vec::new();
    };
    r.body["running"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|p| {
                    format!(
                        "{}: {}",
                        p["node"].as_str().unwrap_or("?"),
                        progress_line(p)
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One progress line from a node's progress document.
pub fn progress_line(p: &Value) -> String {
    format!(
        "{}: {}/{} files, {:.1}/{:.1} MB, {:.1} MB/s, ETA {}",
        p["operation"].as_str().unwrap_or("backup"),
        p["files_done"],
        p["files_total"],
        p["bytes_done"].as_f64().unwrap_or(0.0) / 1e6,
        p["bytes_total"].as_f64().unwrap_or(0.0) / 1e6,
        p["mb_per_s"].as_f64().unwrap_or(0.0),
        p["eta_s"]
            .as_u64()
            .map_or("?".to_string(), |s| format!("{s}s")),
    )
}

/// Runs `call` (the POST that takes the backup) while printing what
/// `poll` answers on stderr every second.
fn with_progress<T>(
    poll: impl Fn() -> Vec<String> + Send + 'static,
    call: impl FnOnce() -> Result<T, CliError>,
) -> Result<T, CliError> {
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut waited = Duration::ZERO;
            while !done.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(100));
                waited += Duration::from_millis(100);
                if waited < Duration::from_secs(1) {
                    continue;
                }
                waited = Duration::ZERO;
                for line in poll() {
                    if done.load(Ordering::Acquire) {
                        break;
                    }
                    eprintln!("{line}");
                }
            }
        })
    };
    let result = call();
    done.store(true, Ordering::Release);
    let _ = poller.join();
    result
}
