//! Crash safety: a child process commits from several threads and reports
//! each acknowledged commit on stdout; the parent kills it with SIGKILL and
//! reopens the data directory. Every acknowledged commit must be there, and
//! no transaction may be half-applied (each writes two keys that must agree).
//!
//! The child is this same test binary, re-run with `RUSTYDB_CRASH_CHILD` set
//! to the data directory and filtered to the `crash_child` test.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use rustydb_node::{RocksStorage, StorageOptions};
use rustydb_sql::storage::{Lsn, Storage, TxnOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHILD_ENV: &str = "RUSTYDB_CRASH_CHILD";
const THREADS: usize = 4;

/// The child's body: commit forever, printing `thread seq lsn` per ack.
#[test]
fn crash_child() -> TestResult {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return Ok(());
    };
    let storage = RocksStorage::open(std::path::Path::new(&dir), StorageOptions::default())?;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let s: Arc<RocksStorage> = storage.clone();
            std::thread::spawn(move || -> Result<(), rustydb_sql::Error> {
                for seq in 0u64.. {
                    let mut txn = s.begin(TxnOptions::default())?;
                    let value = seq.to_be_bytes();
                    txn.put(format!("a/{t}/{seq:08}").as_bytes(), &value)?;
                    txn.put(format!("b/{t}/{seq:08}").as_bytes(), &value)?;
                    let lsn = txn.commit()?.map_or(0, |l| l.0);
                    println!("ack {t} {seq} {lsn}");
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "child thread panicked")??;
    }
    Ok(())
}

#[test]
fn acknowledged_commits_survive_sigkill() -> TestResult {
    if std::env::var(CHILD_ENV).is_ok() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "crash_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let ["ack", t, seq, lsn] = parts.as_slice() {
            acked.push((
                t.parse::<usize>()?,
                seq.parse::<u64>()?,
                lsn.parse::<u64>()?,
            ));
        }
        if acked.len() >= 300 {
            break;
        }
    }
    child.kill()?; // SIGKILL on Unix
    child.wait()?;
    assert!(
        acked.len() >= 300,
        "child stopped early after {} commits",
        acked.len()
    );

    let storage = RocksStorage::open(dir.path(), StorageOptions::default())?;
    let max_acked = acked.iter().map(|a| a.2).max().unwrap_or(0);
    assert!(storage.current_lsn() >= Lsn(max_acked));
    let mut txn = storage.begin(TxnOptions::default())?;
    for (t, seq, _) in &acked {
        let a = txn.get(format!("a/{t}/{seq:08}").as_bytes())?;
        assert_eq!(
            a,
            Some(seq.to_be_bytes().to_vec()),
            "acknowledged commit {t}/{seq} lost"
        );
    }
    // No half transactions: the a/ and b/ key sets are identical.
    let a_keys: Vec<Vec<u8>> = txn
        .scan(b"a/", b"a0", 1 << 20)?
        .into_iter()
        .map(|(k, _)| k[1..].to_vec())
        .collect();
    let b_keys: Vec<Vec<u8>> = txn
        .scan(b"b/", b"b0", 1 << 20)?
        .into_iter()
        .map(|(k, _)| k[1..].to_vec())
        .collect();
    assert_eq!(a_keys, b_keys);
    // The log is dense up to the recovered LSN.
    let records = storage.read_wal(Lsn(1), 1 << 20)?;
    assert_eq!(records.len() as u64, storage.current_lsn().0);
    Ok(())
}
