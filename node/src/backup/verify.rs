//! Verifying backups and the WAL archive.
//!
//! `verify_backup` checks the manifest chain (every parent present, same
//! database system, LSNs not going backwards, the chain rooted in a full
//! backup, every file's source inside the chain), re-reads every file the
//! backup needs against its size and sha256 (and, when encrypted, its
//! AES-GCM tag), then test-restores into a temporary directory and opens
//! the result read-only, reading every key (RocksDB checks its block
//! checksums) and comparing the LSN with the manifest's. It also checks
//! the archive from the backup's LSN on (what a PITR from it would need).
//!
//! `verify_archive` re-reads every indexed segment (checksum, decoding,
//! LSN range, timeline) and looks for gaps along the newest archived
//! timeline history.

use std::path::PathBuf;

use serde::Serialize;

use super::manifest::Manifest;
use super::progress::{Progress, ProgressSink};
use super::repo::Repo;
use super::restore::{check_restored, copy_files};
use super::{segment, sha256_hex};
use crate::error::Result;
use crate::wal::TimelineHistory;

/// What the archive check found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArchiveReport {
    pub segments: u64,
    pub first_lsn: Option<u64>,
    pub last_lsn: Option<u64>,
    pub problems: Vec<String>,
}

/// What verifying a backup found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub id: String,
    pub chain: Vec<String>,
    pub files: u64,
    pub bytes: u64,
    pub lsn: u64,
    pub restored_keys: u64,
    pub archive: Option<ArchiveReport>,
    pub problems: Vec<String>,
    pub ok: bool,
}

/// Verifies backup `id` (see the module notes).
pub fn verify_backup(repo: &Repo, id: &str, sink: ProgressSink) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        id: id.to_string(),
        ..Default::default()
    };
    let chain = match Manifest::chain(repo, id) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(e.to_string());
            return Ok(report);
        }
    };
    report.chain = chain.iter().map(|m| m.id.clone()).collect();
    let Some(manifest) = chain.first() else {
        report.problems.push("empty chain".into());
        return Ok(report);
    };
    report.lsn = manifest.lsn;
    let progress = Progress::new(&format!("verify {id}"), sink);
    progress.set_total(
        manifest.files.len() as u64,
        manifest.files.iter().map(|f| f.size).sum(),
    );
    for f in &manifest.files {
        let path = Manifest::file_path(&f.source, &f.name);
        match repo.get_object(&path) {
            Ok(data) if data.len() as u64 == f.size && sha256_hex(&data) == f.sha256 => {}
            Ok(_) => report
                .problems
                .push(format!("{path} does not match its checksum")),
            Err(e) => report.problems.push(format!("{path}: {e}")),
        }
        report.files += 1;
        report.bytes += f.size;
        progress.add(1, f.size);
    }
    progress.finish();
    if report.problems.is_empty() {
        test_restore(repo, manifest, sink, &mut report);
    }
    let archive = verify_archive(repo, Some(manifest.lsn + 1))?;
    report
        .problems
        .extend(archive.problems.iter().map(|p| format!("WAL archive: {p}")));
    report.archive = Some(archive);
    report.ok = report.problems.is_empty();
    Ok(report)
}

fn test_restore(repo: &Repo, manifest: &Manifest, sink: ProgressSink, report: &mut VerifyReport) {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("rustydb-verify-{:016x}", rand::random::<u64>()));
    let outcome = (|| -> Result<(u64, u64)> {
        std::fs::create_dir_all(&dir)?;
        let progress = Progress::new("test restore", sink);
        copy_files(repo, manifest, &dir, &progress)?;
        progress.finish();
        check_restored(&dir)
    })();
    match outcome {
        Ok((keys, lsn)) => {
            report.restored_keys = keys;
            if lsn != manifest.lsn {
                report.problems.push(format!(
                    "the test restore holds LSN {lsn}, the manifest says {}",
                    manifest.lsn
                ));
            }
        }
        Err(e) => report.problems.push(format!("test restore failed: {e}")),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Checks every indexed segment and the continuity of the archive from
/// `from` (default: its first LSN).
pub fn verify_archive(repo: &Repo, from: Option<u64>) -> Result<ArchiveReport> {
    let mut report = ArchiveReport::default();
    let index = match segment::load_index(repo) {
        Ok(i) => i,
        Err(e) => {
            report.problems.push(e.to_string());
            return Ok(report);
        }
    };
    if index.is_empty() {
        return Ok(report);
    }
    for entry in &index {
        report.segments += 1;
        if let Err(e) = segment::read(repo, entry) {
            report.problems.push(e.to_string());
        }
    }
    let history = segment::latest_history(repo)?.unwrap_or_else(TimelineHistory::initial);
    let first = index.iter().map(|e| e.first_lsn).min().unwrap_or(1);
    let last = index.iter().map(|e| e.last_lsn).max().unwrap_or(0);
    report.first_lsn = Some(first);
    report.last_lsn = Some(last);
    let start = from.unwrap_or(first);
    if start < first {
        report.problems.push(format!(
            "the archive starts at LSN {first}: LSNs {start}..{} are missing",
            first - 1
        ));
        return Ok(report);
    }
    let (_, first_missing) = segment::plan(&index, &history, start);
    // Anything archived past the first uncovered LSN on this path means a
    // hole, not just the end of the archive.
    let beyond = index
        .iter()
        .filter(|e| e.first_lsn > first_missing && history.timeline_at(e.first_lsn) == e.timeline)
        .map(|e| e.first_lsn)
        .min();
    if let Some(next) = beyond {
        report.problems.push(format!(
            "missing WAL segment: LSNs {first_missing}..{} are not in the archive",
            next - 1
        ));
    }
    Ok(report)
}
