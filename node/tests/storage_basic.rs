//! Single-session behaviour of `RocksStorage`: own writes, scans, snapshots,
//! savepoints, read-only transactions and persistence across reopen.

use std::sync::Arc;

use rustydb_node::{RocksStorage, StorageOptions};
use rustydb_sql::storage::{Isolation, Lsn, Storage, TxnOptions};
use rustydb_sql::Error;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn open(dir: &std::path::Path) -> Result<Arc<RocksStorage>, Box<dyn std::error::Error>> {
    Ok(RocksStorage::open(
        dir,
        StorageOptions {
            sync: false,
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

fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

fn commit_pairs(storage: &RocksStorage, pairs: &[(&str, &str)]) -> Result<Option<Lsn>, Error> {
    let mut txn = storage.begin(TxnOptions::default())?;
    for (k, v) in pairs {
        txn.put(k.as_bytes(), v.as_bytes())?;
    }
    txn.commit()
}

#[test]
fn own_writes_are_visible_in_get_and_scans() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path())?;
    commit_pairs(&storage, &[("a", "1"), ("c", "3"), ("e", "5")])?;

    let mut txn = storage.begin(TxnOptions::default())?;
    txn.put(b"b", b"2")?;
    txn.put(b"c", b"33")?;
    txn.delete(b"e")?;
    txn.put(b"f", b"6")?;
    txn.delete(b"zz")?; // deleting a missing key is fine

    assert_eq!(txn.get(b"a")?, Some(b"1".to_vec()));
    assert_eq!(txn.get(b"b")?, Some(b"2".to_vec()));
    assert_eq!(txn.get(b"c")?, Some(b"33".to_vec()));
    assert_eq!(txn.get(b"e")?, None);
    assert_eq!(txn.get(b"zz")?, None);

    let forward = vec![kv("a", "1"), kv("b", "2"), kv("c", "33"), kv("f", "6")];
    assert_eq!(txn.scan(b"", b"\xff", 100)?, forward);
    let mut backward = forward.clone();
    backward.reverse();
    assert_eq!(txn.scan_rev(b"", b"\xff", 100)?, backward);
    // Bounds: from inclusive, to exclusive, on both sides of the merge.
    assert_eq!(
        txn.scan(b"b", b"f", 100)?,
        vec![kv("b", "2"), kv("c", "33")]
    );
    assert_eq!(
        txn.scan_rev(b"b", b"f", 100)?,
        vec![kv("c", "33"), kv("b", "2")]
    );
    assert_eq!(txn.scan(b"c", b"c", 100)?, vec![]);
    assert_eq!(txn.scan(b"d", b"c", 100)?, vec![]);
    assert!(txn.has_writes());

    // Another transaction sees none of it until commit.
    let mut other = storage.begin(TxnOptions::default())?;
    assert_eq!(other.get(b"b")?, None);
    assert_eq!(
        other.scan(b"", b"\xff", 100)?,
        vec![kv("a", "1"), kv("c", "3"), kv("e", "5")]
    );
    txn.commit()?;
    other.new_statement();
    assert_eq!(other.scan(b"", b"\xff", 100)?, forward);
    Ok(())
}

#[test]
fn scans_page_through_merged_ranges() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path())?;
    let mut txn = storage.begin(TxnOptions::default())?;
    for i in (0..200).step_by(2) {
        txn.put(format!("k{i:03}").as_bytes(), format!("v{i}").as_bytes())?;
    }
    txn.commit()?;

    let mut txn = storage.begin(TxnOptions::default())?;
    let mut expected = std::collections::BTreeMap::new();
    for i in (0..200).step_by(2) {
        expected.insert(format!("k{i:03}"), format!("v{i}"));
    }
    // Odd keys added, every tenth even key deleted, some overwritten.
    for i in (1..200).step_by(6) {
        txn.put(format!("k{i:03}").as_bytes(), b"new")?;
        expected.insert(format!("k{i:03}"), "new".to_string());
    }
    for i in (0..200).step_by(10) {
        txn.delete(format!("k{i:03}").as_bytes())?;
        expected.remove(&format!("k{i:03}"));
    }
    txn.put(b"k004", b"over")?;
    expected.insert("k004".to_string(), "over".to_string());
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
        .collect();

    let mut got = Vec::new();
    let mut from = b"k".to_vec();
    loop {
        let page = txn.scan(&from, b"l", 7)?;
        assert!(page.len() <= 7);
        let Some((last, _)) = page.last() else { break };
        from = last.clone();
        from.push(0);
        got.extend(page);
    }
    assert_eq!(got, expected);

    let mut got_rev = Vec::new();
    let mut to = b"l".to_vec();
    loop {
        let page = txn.scan_rev(b"k", &to, 7)?;
        assert!(page.len() <= 7);
        let Some((last, _)) = page.last() else { break };
        to = last.clone();
        got_rev.extend(page);
    }
    got_rev.reverse();
    assert_eq!(got_rev, expected);
    Ok(())
}

#[test]
fn read_committed_sees_new_commits_per_statement() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path())?;
    commit_pairs(&storage, &[("x", "1")])?;
    let mut rc = storage.begin(TxnOptions::default())?;
    assert_eq!(rc.get(b"x")?, Some(b"1".to_vec()));
    commit_pairs(&storage, &[("x", "2"), ("y", "new")])?;
    // Same statement: still the old snapshot.
    assert_eq!(rc.get(b"x")?, Some(b"1".to_vec()));
    rc.new_statement();
    assert_eq!(rc.get(b"x")?, Some(b"2".to_vec()));
    assert_eq!(
        rc.scan(b"", b"\xff", 10)?,
        vec![kv("x", "2"), kv("y", "new")]
    );
    Ok(())
}

#[test]
fn repeatable_read_keeps_its_snapshot() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path())?;
    commit_pairs(&storage, &[("x", "1")])?;
    let mut rr = storage.begin(TxnOptions {
        isolation: Isolation::RepeatableRead,
        ..TxnOptions::default()
    })?;
    assert_eq!(rr.get(b"x")?, Some(b"1".to_vec()));
    commit_pairs(&storage, &[("x", "2"), ("y", "new")])?;
    rr.new_statement();
    assert_eq!(rr.get(b"x")?, Some(b"1".to_vec()));
    assert_eq!(rr.scan(b"", b"\xff", 10)?, vec![kv("x", "1")]);
    // Writing a key nobody touched is fine; the changed one conflicts.
    rr.put(b"z", b"mine")?;
    let err = rr.put(b"x", b"3").err().ok_or("expected a conflict")?;
    assert_eq!(state(&err), "40001");
    let err = rr
        .lock(b"y")
        .err()
        .ok_or("expected a conflict on a key created later")?;
    assert_eq!(state(&err), "40001");
    Ok(())
}

#[test]
fn savepoints_undo_writes_but_keep_earlier_ones() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path())?;
    commit_pairs(&storage, &[("a", "committed")])?;
    let mut txn = storage.begin(TxnOptions::default())?;
    txn.put(b"b", b"before-sp")?;
    let sp1 = txn.savepoint();
    txn.put(b"a", b"changed")?;
    txn.put(b"b", b"after-sp")?;
    txn.put(b"c", b"new")?;
    let sp2 = txn.savepoint();
    txn.delete(b"a")?;
    txn.rollback_to(sp2)?;
    assert_eq!(txn.get(b"a")?, Some(b"changed".to_vec()));
    txn.rollback_to(sp1)?;
    assert_eq!(txn.get(b"a")?, Some(b"committed".to_vec()));
    assert_eq!(txn.get(b"b")?, Some(b"before-sp".to_vec()));
    assert_eq!(txn.get(b"c")?, None);
    // sp2 was established after sp1 and is gone; sp1 can be used again.
    assert!(txn.rollback_to(sp2).is_err());
    txn.put(b"d", b"x")?;
    txn.rollback_to(sp1)?;
    assert_eq!(txn.get(b"d")?, None);
    txn.commit()?;

    let mut check = storage.begin(TxnOptions::default())?;
    assert_eq!(
        check.scan(b"", b"\xff", 10)?,
        vec![kv("a", "committed"), kv("b", "before-sp")]
    );
    Ok(())
}

#[test]
fn read_only_transactions_refuse_writes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = open(dir.path())?;
    let mut txn = storage.begin(TxnOptions {
        read_only: true,
        ..TxnOptions::default()
    })?;
    for result in [
        txn.put(b"a", b"1").map(|_| ()),
        txn.delete(b"a").map(|_| ()),
        txn.lock(b"a").map(|_| ()),
    ] {
        let err = result
            .err()
            .ok_or("write allowed in a read-only transaction")?;
        assert_eq!(state(&err), "25006");
    }
    assert_eq!(txn.commit()?, None);
    Ok(())
}

#[test]
fn empty_commit_does_not_touch_the_log_and_data_survives_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let storage = open(dir.path())?;
        assert_eq!(storage.current_lsn(), Lsn(0));
        assert_eq!(storage.timeline(), 1);
        let mut txn = storage.begin(TxnOptions::default())?;
        assert_eq!(txn.get(b"a")?, None);
        txn.lock(b"a")?;
        assert!(!txn.has_writes());
        assert_eq!(txn.commit()?, None);
        assert_eq!(storage.current_lsn(), Lsn(0));
        assert_eq!(commit_pairs(&storage, &[("a", "1")])?, Some(Lsn(1)));
        assert_eq!(commit_pairs(&storage, &[("b", "2")])?, Some(Lsn(2)));
        assert_eq!(storage.current_lsn(), Lsn(2));
    }
    let storage = open(dir.path())?;
    assert_eq!(storage.current_lsn(), Lsn(2));
    assert_eq!(storage.timeline(), 1);
    let mut txn = storage.begin(TxnOptions::default())?;
    assert_eq!(
        txn.scan(b"", b"\xff", 10)?,
        vec![kv("a", "1"), kv("b", "2")]
    );
    txn.delete(b"a")?;
    assert_eq!(txn.commit()?, Some(Lsn(3)));
    Ok(())
}
