//! The WAL as seen through `RocksStorage::read_wal`: record contents,
//! before-images, paging, and corrupt bytes on disk.

use rustydb_node::{NodeError, RocksStorage, StorageOptions};
use rustydb_sql::storage::{Lsn, Storage, TxnOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn options() -> StorageOptions {
    StorageOptions {
        sync: false,
        ..StorageOptions::default()
    }
}

#[test]
fn records_hold_mutations_and_before_images() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = RocksStorage::open(dir.path(), options())?;
    let mut txn = storage.begin(TxnOptions::default())?;
    txn.put(b"b", b"2")?;
    txn.put(b"a", b"1")?;
    assert_eq!(txn.commit()?, Some(Lsn(1)));

    let mut txn = storage.begin(TxnOptions::default())?;
    txn.put(b"a", b"10")?;
    txn.delete(b"b")?;
    txn.delete(b"never")?;
    txn.put(b"c", b"tmp")?;
    txn.put(b"c", b"3")?;
    assert_eq!(txn.commit()?, Some(Lsn(2)));

    let records = storage.read_wal(Lsn(1), 10)?;
    assert_eq!(records.len(), 2);
    let (first, second) = (&records[0], &records[1]);
    assert_eq!(first.lsn, Lsn(1));
    assert_eq!(first.timeline, 1);
    assert!(first.commit_time_micros > 0);
    assert_eq!(
        first.mutations,
        vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), Some(b"2".to_vec()))
        ]
    );
    assert_eq!(
        first.before_images,
        vec![(b"a".to_vec(), None), (b"b".to_vec(), None)]
    );

    assert_eq!(second.lsn, Lsn(2));
    assert_eq!(
        second.mutations,
        vec![
            (b"a".to_vec(), Some(b"10".to_vec())),
            (b"b".to_vec(), None),
            (b"c".to_vec(), Some(b"3".to_vec())),
            (b"never".to_vec(), None),
        ]
    );
    assert_eq!(
        second.before_images,
        vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), Some(b"2".to_vec())),
            (b"c".to_vec(), None),
            (b"never".to_vec(), None),
        ]
    );
    assert!(second.commit_time_micros >= first.commit_time_micros);

    // Paging and reading from the middle or past the end.
    assert_eq!(storage.read_wal(Lsn(2), 10)?, vec![second.clone()]);
    assert_eq!(storage.read_wal(Lsn(1), 1)?.len(), 1);
    assert!(storage.read_wal(Lsn(3), 10)?.is_empty());
    Ok(())
}

#[test]
fn corrupt_wal_bytes_are_an_error_not_a_panic() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let storage = RocksStorage::open(dir.path(), options())?;
        for i in 0..3u8 {
            let mut txn = storage.begin(TxnOptions::default())?;
            txn.put(&[i], b"v")?;
            txn.commit()?;
        }
    }
    {
        // Damage record 2 behind the storage's back.
        let cfs = ["data", "wal", "meta"];
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), cfs)?;
        let wal = db.cf_handle("wal").ok_or("no wal column family")?;
        let mut value = db
            .get_cf(wal, 2u64.to_be_bytes())?
            .ok_or("record 2 missing")?;
        let last = value.len() - 1;
        value[last] ^= 0x55;
        db.put_cf(wal, 2u64.to_be_bytes(), &value)?;
        db.put_cf(wal, 9u64.to_be_bytes(), b"garbage")?;
    }
    let storage = RocksStorage::open(dir.path(), options())?;
    assert_eq!(storage.read_wal(Lsn(1), 1)?.len(), 1);
    assert!(matches!(
        storage.read_wal(Lsn(1), 10),
        Err(NodeError::Corrupt(_))
    ));
    assert!(matches!(
        storage.read_wal(Lsn(9), 10),
        Err(NodeError::Corrupt(_))
    ));
    Ok(())
}

#[test]
fn trimmed_wal_keeps_later_records_and_the_lsn_sequence() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let storage = RocksStorage::open(dir.path(), options())?;
        for i in 0..5u8 {
            let mut txn = storage.begin(TxnOptions::default())?;
            txn.put(&[i], b"v")?;
            txn.commit()?;
        }
        storage.trim_wal(Lsn(4))?;
        let lsns: Vec<Lsn> = storage
            .read_wal(Lsn(4), 10)?
            .iter()
            .map(|r| r.lsn)
            .collect();
        assert_eq!(lsns, vec![Lsn(4), Lsn(5)]);
        // Asking for trimmed records is an error, never a silent skip.
        assert!(matches!(
            storage.read_wal(Lsn(1), 10),
            Err(rustydb_node::NodeError::WalGone {
                wanted: 1,
                oldest: 4
            })
        ));
        // Trimming past the end keeps nothing but cannot move the LSN back.
        storage.trim_wal(Lsn(100))?;
        assert!(storage.read_wal(Lsn(6), 10)?.is_empty());
        assert!(storage.read_wal(Lsn(5), 10).is_err());
    }
    let storage = RocksStorage::open(dir.path(), options())?;
    assert_eq!(storage.current_lsn(), Lsn(5));
    let mut txn = storage.begin(TxnOptions::default())?;
    txn.put(b"next", b"v")?;
    assert_eq!(txn.commit()?, Some(Lsn(6)));
    assert_eq!(storage.read_wal(Lsn(6), 10)?.len(), 1);
    Ok(())
}
