//! The data directory layout: which RocksDB directory is live.
//!
//! ```text
//! DATA/
//!   DATABASE          one line: the live database directory's name (db-1, db-2, ...)
//!   db-1/             a RocksDB (data, wal, meta column families)
//!   db-2.partial/     a re-clone being received (deleted at start if found)
//! ```
//!
//! A re-clone writes a complete new database next to the live one and then
//! switches `DATABASE` atomically (write a temporary file, fsync, rename,
//! fsync the directory). A crash at any point leaves either the old or the
//! new database live, never a mix; leftovers are removed at the next start.
//! A directory that is itself a RocksDB (the layout before re-clones
//! existed) keeps working as the live database.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const POINTER: &str = "DATABASE";
const FIRST: &str = "db-1";

/// The live database directory, after removing leftovers of interrupted
/// clones and of databases that are no longer live.
pub fn live_db_dir(data_dir: &Path) -> std::io::Result<PathBuf> {
    fs::create_dir_all(data_dir)?;
    let pointer = data_dir.join(POINTER);
    let name = match fs::read_to_string(&pointer) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if data_dir.join("CURRENT").exists() {
                return Ok(data_dir.to_path_buf());
            }
            FIRST.to_string()
        }
        Err(e) => return Err(e),
    };
    if !is_db_name(&name) {
        return Err(std::io::Error::other(format!(
            "{} names \"{name}\", not a database directory",
            pointer.display()
        )));
    }
    remove_stale(data_dir, &name);
    Ok(data_dir.join(name))
}

/// A fresh name for the next database (one past the highest present).
pub fn next_db_name(data_dir: &Path) -> String {
    let highest = fs::read_dir(data_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| db_number(&e.file_name().to_string_lossy()))
                .max()
                .unwrap_or(1)
        })
        .unwrap_or(1);
    format!("db-{}", highest + 1)
}

/// Makes `name` the live database, atomically and durably.
pub fn switch_to(data_dir: &Path, name: &str) -> std::io::Result<()> {
    let tmp = data_dir.join(format!("{POINTER}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(name.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    fs::rename(&tmp, data_dir.join(POINTER))?;
    fs::File::open(data_dir)?.sync_all()?;
    Ok(())
}

/// Removes a database directory that is no longer live (best effort).
pub fn remove_db(dir: &Path) {
    if let Err(e) = fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove an old database");
    }
}

fn db_number(name: &str) -> Option<u64> {
    let base = name.strip_suffix(".partial").unwrap_or(name);
    base.strip_prefix("db-")?.parse().ok()
}

fn is_db_name(name: &str) -> bool {
    !name.ends_with(".partial") && db_number(name).is_some()
}

fn remove_stale(data_dir: &Path, live: &str) {
    let Ok(entries) = fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != live && db_number(&name).is_some() {
            tracing::info!(dir = %name, "removing a database that is not live");
            remove_db(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switching_keeps_one_live_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = live_db_dir(dir.path()).expect("live");
        assert!(live.ends_with("db-1"));
        fs::create_dir_all(&live).expect("mkdir");
        let next = next_db_name(dir.path());
        assert_eq!(next, "db-2");
        fs::create_dir_all(dir.path().join(&next)).expect("mkdir");
        fs::create_dir_all(dir.path().join("db-3.partial")).expect("mkdir");
        switch_to(dir.path(), &next).expect("switch");
        let live = live_db_dir(dir.path()).expect("live");
        assert!(live.ends_with("db-2"));
        assert!(!dir.path().join("db-1").exists());
        assert!(!dir.path().join("db-3.partial").exists());
    }
}
