//! Randomised comparison of `RocksStorage` against a `BTreeMap` model: one
//! session doing puts, deletes, gets, paged scans in both directions,
//! savepoints, rollbacks and commits over a small key space, so merges of the
//! write buffer with committed data hit every overlap case.

use std::collections::BTreeMap;

use rustydb_node::{RocksStorage, StorageOptions};
use rustydb_sql::storage::{SavepointId, Storage, TxnOptions};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn key(&mut self) -> Vec<u8> {
        format!("k{:02}", self.below(40)).into_bytes()
    }
}

fn model_range(
    model: &Model,
    from: &[u8],
    to: &[u8],
    limit: usize,
    rev: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if from >= to {
        return Vec::new();
    }
    let range = model.range::<[u8], _>((
        std::ops::Bound::Included(from),
        std::ops::Bound::Excluded(to),
    ));
    let pairs = range.map(|(k, v)| (k.clone(), v.clone()));
    if rev {
        pairs.rev().take(limit).collect()
    } else {
        pairs.take(limit).collect()
    }
}

#[test]
fn random_operations_match_a_model() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let storage = RocksStorage::open(
        dir.path(),
        StorageOptions {
            sync: false,
            ..StorageOptions::default()
        },
    )?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut committed = Model::new();
    for round in 0..60 {
        let mut txn = storage.begin(TxnOptions::default())?;
        let mut view = committed.clone();
        let mut savepoints: Vec<(SavepointId, Model)> = Vec::new();
        for step in 0..80 {
            let ctx = format!("round {round} step {step}");
            match rng.below(10) {
                0..=2 => {
                    let (k, v) = (rng.key(), format!("v{round}.{step}").into_bytes());
                    txn.put(&k, &v)?;
                    view.insert(k, v);
                }
                3 => {
                    let k = rng.key();
                    txn.delete(&k)?;
                    view.remove(&k);
                }
                4 => {
                    let k = rng.key();
                    assert_eq!(txn.get(&k)?, view.get(&k).cloned(), "{ctx}: get");
                }
                5 | 6 => {
                    let (a, b) = (rng.key(), rng.key());
                    let limit = rng.below(12) as usize;
                    let rev = rng.below(2) == 1;
                    let got = if rev {
                        txn.scan_rev(&a, &b, limit)?
                    } else {
                        txn.scan(&a, &b, limit)?
                    };
                    assert_eq!(
                        got,
                        model_range(&view, &a, &b, limit, rev),
                        "{ctx}: scan {rev}"
                    );
                }
                7 => savepoints.push((txn.savepoint(), view.clone())),
                8 => {
                    if !savepoints.is_empty() {
                        let i = rng.below(savepoints.len() as u64) as usize;
                        savepoints.truncate(i + 1);
                        if let Some((sp, saved)) = savepoints.last() {
                            txn.rollback_to(*sp)?;
                            view = saved.clone();
                        }
                    }
                }
                _ => {
                    let k = rng.key();
                    assert_eq!(txn.lock(&k)?, view.get(&k).cloned(), "{ctx}: lock");
                }
            }
        }
        // Full scans in both directions, then commit or roll back.
        assert_eq!(
            txn.scan(b"", b"\xff", usize::MAX)?,
            model_range(&view, b"", b"\xff", usize::MAX, false)
        );
        assert_eq!(
            txn.scan_rev(b"", b"\xff", usize::MAX)?,
            model_range(&view, b"", b"\xff", usize::MAX, true)
        );
        if rng.below(4) == 0 {
            txn.rollback();
        } else {
            txn.commit()?;
            committed = view;
        }
    }
    let mut check = storage.begin(TxnOptions::default())?;
    assert_eq!(
        check.scan(b"", b"\xff", usize::MAX)?,
        model_range(&committed, b"", b"\xff", usize::MAX, false)
    );
    Ok(())
}
