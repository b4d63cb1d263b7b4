//! Commit throughput of `RocksStorage` with fsync on, to see group commit.
//!
//! Usage: `cargo run --release -p rustydb-node --example storage_bench -- [THREADS...] [--secs N]`
//! (default threads 1 and 8, 5 seconds each). Each thread runs small write
//! transactions (two puts, like a pgbench UPDATE plus history INSERT) as fast
//! as it can; the output is commits/s and mean commit latency per thread
//! count. With group commit, 8 threads should reach several times the
//! 1-thread rate on the same disk.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustydb_node::{RocksStorage, StorageOptions};
use rustydb_sql::storage::{Storage, TxnOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut threads = Vec::new();
    let mut secs = 5u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--secs" {
            secs = args.next().ok_or("--secs needs a value")?.parse()?;
        } else {
            threads.push(arg.parse::<usize>()?);
        }
    }
    if threads.is_empty() {
        threads = vec![1, 8];
    }
    let dir = std::env::temp_dir().join(format!("rustydb-storage-bench-{}", std::process::id()));
    let storage = RocksStorage::open(&dir, StorageOptions::default())?;
    println!("data dir {} (sync on), {secs}s per run", dir.display());
    for n in threads {
        let commits = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let lsn_before = storage.current_lsn();
        let start = Instant::now();
        let handles: Vec<_> = (0..n)
            .map(|t| {
                let (s, commits, stop) = (storage.clone(), commits.clone(), stop.clone());
                std::thread::spawn(move || -> Result<(), rustydb_sql::Error> {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let mut txn = s.begin(TxnOptions::default())?;
                        let key = format!("acct/{t}/{}", i % 1000);
                        let balance = txn.lock(key.as_bytes())?.map_or(0, |v| v.len());
                        txn.put(key.as_bytes(), &vec![b'x'; balance % 100 + 1])?;
                        txn.put(format!("hist/{t}/{i:012}").as_bytes(), b"delta")?;
                        txn.commit()?;
                        commits.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                    }
                    Ok(())
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().map_err(|_| "bench thread panicked")??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let done = commits.load(Ordering::Relaxed);
        let lsns = storage.current_lsn().0 - lsn_before.0;
        println!(
            "threads {n:>3}: {:>9.0} commits/s, mean latency {:>7.3} ms ({done} commits, {lsns} LSNs)",
            done as f64 / elapsed,
            elapsed * 1000.0 * n as f64 / done.max(1) as f64,
        );
    }
    point_reads(&storage)?;
    drop(storage);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Mean cost of a read-only transaction doing one point get (the pgbench -S
/// shape) and of a bare `get` inside one transaction.
fn point_reads(storage: &RocksStorage) -> Result<(), Box<dyn std::error::Error>> {
    const N: u64 = 100_000;
    let keys: Vec<String> = (0..1000).map(|i| format!("acct/0/{i}")).collect();
    let start = Instant::now();
    for i in 0..N {
        let mut txn = storage.begin(TxnOptions::default())?;
        txn.new_statement();
        txn.get(keys[(i % 1000) as usize].as_bytes())?;
        txn.commit()?;
    }
    let per_txn = start.elapsed().as_secs_f64() * 1e6 / N as f64;
    let mut txn = storage.begin(TxnOptions::default())?;
    let start = Instant::now();
    for i in 0..N {
        txn.get(keys[(i % 1000) as usize].as_bytes())?;
    }
    let per_get = start.elapsed().as_secs_f64() * 1e6 / N as f64;
    println!("read-only txn with one get: {per_txn:.2} us; get alone: {per_get:.2} us");
    Ok(())
}
