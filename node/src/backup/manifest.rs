//! The backup manifest: what one backup is and which bytes make it up.
//!
//! `backups/<id>/manifest.json` is written after every file it lists, so a
//! manifest is the commit point of a backup. Each file entry names the
//! backup whose `files/` folder holds the bytes (`source`): this backup
//! (`stored: true`) or one of its ancestors (an unchanged, immutable SST
//! referenced by an incremental backup). Restoring a backup needs exactly
//! its own manifest plus the folders its entries name, all of which are in
//! its parent chain.

use serde::{Deserialize, Serialize};

use super::repo::{to_json, Repo};
use super::{err, micros_to_rfc3339};
use crate::error::Result;
use crate::wal::TimelineHistory;

/// Full or incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    Full,
    Incremental,
}

impl std::str::FromStr for BackupKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "full" => Ok(BackupKind::Full),
            "incremental" | "incr" => Ok(BackupKind::Incremental),
            other => Err(format!(
                "backup type must be full or incremental, not {other:?}"
            )),
        }
    }
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Full => "full",
            BackupKind::Incremental => "incremental",
        }
    }
}

/// One RocksDB file of the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
    /// sha256 of the file's content (before any encryption), hex.
    pub sha256: String,
    /// Whether this backup's own `files/` folder holds the bytes.
    pub stored: bool,
    /// The backup whose `files/` folder holds the bytes.
    pub source: String,
}

/// `backups/<id>/manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: BackupKind,
    pub parent: Option<String>,
    /// The node the checkpoint was taken on.
    pub node: String,
    /// Which RocksDB instance the checkpoint came from (see
    /// `create::db_identity`); empty when unknown.
    #[serde(default)]
    pub db_identity: String,
    /// The database system id (all nodes of one cluster share it).
    pub system_id: u64,
    /// The last LSN the checkpoint holds.
    pub lsn: u64,
    /// The timeline that wrote `lsn`.
    pub timeline: u64,
    /// Commit time of record `lsn` (µs), when its record was still in the
    /// checkpoint's WAL; else the checkpoint time.
    pub lsn_time_micros: u64,
    pub start_time: String,
    pub end_time: String,
    pub start_micros: u64,
    pub end_micros: u64,
    pub history: TimelineHistory,
    pub files: Vec<FileEntry>,
    /// Bytes of the whole database / bytes this backup stored itself.
    pub total_bytes: u64,
    pub stored_bytes: u64,
}

impl Manifest {
    /// The manifest's repository path.
    pub fn path(id: &str) -> String {
        format!("backups/{id}/manifest.json")
    }

    /// Where file `name` of backup `id` is stored.
    pub fn file_path(id: &str, name: &str) -> String {
        format!("backups/{id}/files/{name}")
    }

    /// Reads and checks one manifest.
    pub fn load(repo: &Repo, id: &str) -> Result<Manifest> {
        if !valid_id(id) {
            return Err(err(format!("{id:?} is not a backup id")));
        }
        let bytes = repo
            .get_object(&Manifest::path(id))
            .map_err(|e| err(format!("backup {id}: cannot read its manifest ({e})")))?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("backup {id}: manifest does not parse: {e}")))?;
        if manifest.id != id {
            return Err(err(format!(
                "backup {id}: manifest names backup {}",
                manifest.id
            )));
        }
        Ok(manifest)
    }

    /// Writes the manifest (the backup's commit point).
    pub fn store(&self, repo: &Repo) -> Result<()> {
        repo.put_object(&Manifest::path(&self.id), &to_json(self)?)
    }

    /// Every backup in the repository, oldest first. Folders without a
    /// readable manifest (interrupted backups) are skipped with a warning.
    pub fn list(repo: &Repo) -> Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for path in repo.store().list("backups")? {
            let Some(id) = path
                .strip_prefix("backups/")
                .and_then(|p| p.strip_suffix("/manifest.json"))
            else {
                continue;
            };
            match Manifest::load(repo, id) {
                Ok(m) => out.push(m),
                Err(e) => tracing::warn!(error = %e, "skipping a backup"),
            }
        }
        out.sort_by(|a, b| (a.end_micros, &a.id).cmp(&(b.end_micros, &b.id)));
        Ok(out)
    }

    /// This backup and its ancestors, newest first; checks that the chain
    /// is whole and consistent.
    pub fn chain(repo: &Repo, id: &str) -> Result<Vec<Manifest>> {
        let mut chain = vec![Manifest::load(repo, id)?];
        while let Some(parent) = chain.last().and_then(|m| m.parent.clone()) {
            if chain.len() > 10_000 || chain.iter().any(|m| m.id == parent) {
                return Err(err(format!("backup {id}: the parent chain loops")));
            }
            let child = chain.last().map(|m| (m.id.clone(), m.lsn, m.system_id));
            let p = Manifest::load(repo, &parent)
                .map_err(|e| err(format!("backup {id}: parent {parent} is missing ({e})")))?;
            if let Some((cid, clsn, csys)) = child {
                if p.system_id != csys {
                    return Err(err(format!(
                        "backup {cid}: parent {parent} belongs to another database system"
                    )));
                }
                if p.lsn > clsn {
                    return Err(err(format!(
                        "backup {cid} (LSN {clsn}) is older than its parent {parent} (LSN {})",
                        p.lsn
                    )));
                }
            }
            chain.push(p);
        }
        if chain.last().map(|m| m.kind) != Some(BackupKind::Full) {
            return Err(err(format!(
                "backup {id}: the chain does not start with a full backup"
            )));
        }
        let ids: Vec<&str> = chain.iter().map(|m| m.id.as_str()).collect();
        if let Some(top) = chain.first() {
            for f in &top.files {
                if !ids.contains(&f.source.as_str()) {
                    return Err(err(format!(
                        "backup {id}: file {} is stored in {}, outside its chain",
                        f.name, f.source
                    )));
                }
            }
        }
        Ok(chain)
    }

    /// A short line for listings.
    pub fn summary(&self) -> String {
        format!(
            "{}  {:<11}  lsn {:<10} tl {:<3} {}  {} files  {} stored / {} total bytes{}",
            self.id,
            self.kind.as_str(),
            self.lsn,
            self.timeline,
            micros_to_rfc3339(self.end_micros),
            self.files.len(),
            self.stored_bytes,
            self.total_bytes,
            self.parent
                .as_deref()
                .map(|p| format!("  parent {p}"))
                .unwrap_or_default()
        )
    }
}

/// A fresh backup id: UTC time to the millisecond plus F or I.
pub fn new_id(kind: BackupKind, micros: u64) -> String {
    let text = micros_to_rfc3339(micros);
    // 2026-11-22T11:38:49.123456Z -> 20261122T113849123
    let digits: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .take(18)
        .collect();
    let suffix = match kind {
        BackupKind::Full => 'F',
        BackupKind::Incremental => 'I',
    };
    format!("{digits}{suffix}")
}

/// Ids are plain: letters, digits, `-`, `_`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_are_valid() {
        let a = new_id(BackupKind::Full, 1_700_000_000_000_000);
        let b = new_id(BackupKind::Incremental, 1_700_000_000_001_000);
        assert!(valid_id(&a) && valid_id(&b));
        assert!(a < b, "{a} < {b}");
        assert!(!valid_id("../x"));
    }
}
