//! Concurrent behaviour of `RocksStorage`: row-lock waits, write conflicts,
//! deadlocks, cancellation, abandoned transactions and group commit.

use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use rustydb_node::{RocksStorage, StorageOptions};
use rustydb_sql::storage::{Isolation, Lsn, Storage, TxnOptions};
use rustydb_sql::Error;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn open(
    dir: &std::path::Path,
    sync: bool,
) -> Result<Arc<RocksStorage>, Box<dyn std::error::Error>> {
    Ok(RocksStorage::open(
        dir,
        StorageOptions {
            sync,
            ..StorageOptions::default()
        },
    )?)
}

fn state(err: &Error) -> &'static str {
    match err {
        Error::Sql { state, .. } => state.0,
        Error::Storage(_) => "storage",
    }
}

fn put_commit(storage: &RocksStorage, key: &[u8], value: &[u8]) -> Result<Option<Lsn>, Error> {
    let mut txn = storage.begin(TxnOptions::default())?;
    txn.put(key, value)?;
    txn.commit()
}

/// Runs `f` on a thread and returns a receiver for its result.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

const BLOCKED: Duration = Duration::from_millis(200);
const DONE: Duration = Duration::from_secs(10);

#[test]
fn updates_of_one_key_serialize_and_the_waiter_sees_the_new_value() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path(), false)?;
    put_commit(&storage, b"row", b"1")?;

    let mut first = storage.begin(TxnOptions::default())?;
    assert_eq!(first.lock(b"row")?, Some(b"1".to_vec()));
    first.put(b"row", b"2")?;

    let s = storage.clone();
    let second = spawn(move || -> Result<Option<Vec<u8>>, Error> {
        let mut txn = s.begin(TxnOptions::default())?;
        let seen = txn.lock(b"row")?;
        txn.put(b"row", b"3")?;
        txn.commit()?;
        Ok(seen)
    });
    assert!(
        second.recv_timeout(BLOCKED).is_err(),
        "second writer did not wait for the lock"
    );
    first.commit()?;
    assert_eq!(second.recv_timeout(DONE)??, Some(b"2".to_vec()));

    let mut check = storage.begin(TxnOptions::default())?;
    assert_eq!(check.get(b"row")?, Some(b"3".to_vec()));
    Ok(())
}

#[test]
fn repeatable_read_write_conflict_after_waiting_is_40001() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path(), false)?;
    put_commit(&storage, b"row", b"1")?;

    let mut first = storage.begin(TxnOptions::default())?;
    first.put(b"row", b"2")?;
    let s = storage.clone();
    let second = spawn(move || -> Result<(), Error> {
        let mut txn = s.begin(TxnOptions {
            isolation: Isolation::RepeatableRead,
            ..TxnOptions::default()
        })?;
        txn.put(b"row", b"3")
    });
    assert!(
        second.recv_timeout(BLOCKED).is_err(),
        "second writer did not wait for the lock"
    );
    first.commit()?;
    let err = second
        .recv_timeout(DONE)?
        .err()
        .ok_or("expected a serialization failure")?;
    assert_eq!(state(&err), "40001");
    assert_eq!(storage.locked_keys(), 0);
    Ok(())
}

#[test]
fn deadlock_fails_one_transaction_and_the_other_proceeds() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path(), false)?;
    let barrier = Arc::new(Barrier::new(2));

    let run = |mine: &'static [u8], theirs: &'static [u8]| {
        let s = storage.clone();
        let b = barrier.clone();
        spawn(move || -> Result<Option<Lsn>, Error> {
            let mut txn = s.begin(TxnOptions::default())?;
            txn.put(mine, b"x")?;
            b.wait();
            txn.put(theirs, b"y")?;
            txn.commit()
        })
    };
    let a = run(b"a", b"b");
    let b = run(b"b", b"a");
    let results = [a.recv_timeout(DONE)?, b.recv_timeout(DONE)?];
    let deadlocks = results
        .iter()
        .filter(|r| matches!(r, Err(e) if state(e) == "40P01"))
        .count();
    let commits = results.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    assert_eq!((deadlocks, commits), (1, 1), "{results:?}");
    assert_eq!(storage.locked_keys(), 0);
    Ok(())
}

#[test]
fn three_way_deadlock_is_detected() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path(), false)?;
    let barrier = Arc::new(Barrier::new(3));
    let keys: [&'static [u8]; 3] = [b"k0", b"k1", b"k2"];
    let receivers: Vec<_> = (0..3)
        .map(|i| {
            let s = storage.clone();
            let b = barrier.clone();
            let (mine, next) = (keys[i], keys[(i + 1) % 3]);
            spawn(move || -> Result<Option<Lsn>, Error> {
                let mut txn = s.begin(TxnOptions::default())?;
                txn.put(mine, b"x")?;
                b.wait();
                txn.put(next, b"y")?;
                txn.commit()
            })
        })
        .collect();
    let mut deadlocks = 0;
    for rx in receivers {
        if let Err(e) = rx.recv_timeout(DONE)? {
            assert_eq!(state(&e), "40P01");
            deadlocks += 1;
        }
    }
    assert!(deadlocks >= 1);
    Ok(())
}

#[test]
fn cancel_during_lock_wait_is_57014() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path(), false)?;
    let mut holder = storage.begin(TxnOptions::default())?;
    holder.put(b"row", b"held")?;

    let cancel = Arc::new(AtomicBool::new(false));
    let s = storage.clone();
    let flag = cancel.clone();
    let waiter = spawn(move || -> Result<(), Error> {
        let mut txn = s.begin(TxnOptions {
            cancel: Some(flag),
            ..TxnOptions::default()
        })?;
        txn.lock(b"row").map(|_| ())
    });
    assert!(
        waiter.recv_timeout(BLOCKED).is_err(),
        "waiter did not block"
    );
    cancel.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = waiter
        .recv_timeout(DONE)?
        .err()
        .ok_or("expected cancellation")?;
    assert_eq!(state(&err), "57014");
    // The holder is unaffected and commits.
    assert!(holder.commit()?.is_some());
    assert_eq!(storage.locked_keys(), 0);
    Ok(())
}

#[test]
fn dropped_transaction_releases_its_locks() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path(), false)?;
    let mut abandoned = storage.begin(TxnOptions::default())?;
    abandoned.put(b"a", b"1")?;
    abandoned.lock(b"b")?;

    let s = storage.clone();
    let waiter = spawn(move || -> Result<Option<Vec<u8>>, Error> {
        let mut txn = s.begin(TxnOptions::default())?;
        txn.lock(b"a")
    });
    assert!(
        waiter.recv_timeout(BLOCKED).is_err(),
        "waiter did not block"
    );
    drop(abandoned);
    // The abandoned write never became visible.
    assert_eq!(waiter.recv_timeout(DONE)??, None);
    assert_eq!(storage.locked_keys(), 0);
    Ok(())
}

#[test]
fn concurrent_commits_get_dense_unique_lsns_and_survive_reopen() -> TestResult {
    const THREADS: usize = 8;
    const COMMITS: usize = 40;
    let dir = tempfile::tempdir()?;
    let mut lsns = Vec::new();
    {
        let storage = open(dir.path(), true)?;
        let receivers: Vec<_> = (0..THREADS)
            .map(|t| {
                let s = storage.clone();
                spawn(move || -> Result<Vec<Lsn>, Error> {
                    let mut mine = Vec::new();
                    for i in 0..COMMITS {
                        let mut txn = s.begin(TxnOptions::default())?;
                        txn.put(
                            format!("t{t}/{i:04}").as_bytes(),
                            format!("{t}:{i}").as_bytes(),
                        )?;
                        // A shared counter forces lock waits between threads.
                        let n = txn.lock(b"counter")?.map_or(0, |v| v.len());
                        txn.put(b"counter", &vec![b'x'; n + 1])?;
                        mine.push(
                            txn.commit()?
                                .ok_or("write commit returned no LSN")
                                .map_err(|m| Error::Storage(m.into()))?,
                        );
                    }
                    Ok(mine)
                })
            })
            .collect();
        for rx in receivers {
            lsns.extend(rx.recv_timeout(Duration::from_secs(120))??);
        }
        assert_eq!(storage.current_lsn(), Lsn((THREADS * COMMITS) as u64));
    }
    lsns.sort();
    let expected: Vec<Lsn> = (1..=(THREADS * COMMITS) as u64).map(Lsn).collect();
    assert_eq!(lsns, expected);

    let storage = open(dir.path(), true)?;
    assert_eq!(storage.current_lsn(), Lsn((THREADS * COMMITS) as u64));
    let mut txn = storage.begin(TxnOptions::default())?;
    for t in 0..THREADS {
        let rows = txn.scan(
            format!("t{t}/").as_bytes(),
            format!("t{t}0").as_bytes(),
            1000,
        )?;
        assert_eq!(rows.len(), COMMITS);
    }
    assert_eq!(
        txn.get(b"counter")?.map(|v| v.len()),
        Some(THREADS * COMMITS)
    );
    let records = storage.read_wal(Lsn(1), 10_000)?;
    assert_eq!(records.len(), THREADS * COMMITS);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.lsn, Lsn(i as u64 + 1));
        assert_eq!(record.mutations.len(), 2);
    }
    Ok(())
}
