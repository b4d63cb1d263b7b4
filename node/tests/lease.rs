//! The primary's lease: once the manager has renewed it, commits are
//! acknowledged only while it holds; reads go on; renewing restores writes.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_need_a_live_lease_once_one_was_granted() {
    let (node, admin) = TestNode::start_with_admin().await;
    let client = node.connect("postgres", None).await.expect("connect");
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .expect("no lease yet: not enforced");

    let granted = http(admin, "POST", "/lease", r#"{"ttl_ms": 300}"#).await;
    assert!(granted.starts_with("HTTP/1.1 200"), "{granted}");
    client
        .batch_execute("INSERT INTO t VALUES (1)")
        .await
        .expect("commit under a live lease");

    tokio::time::sleep(Duration::from_millis(400)).await;
    let err = client
        .batch_execute("INSERT INTO t VALUES (2)")
        .await
        .expect_err("the lease expired");
    assert_eq!(sqlstate(&err).as_deref(), Some("25006"), "{err:?}");
    let count: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("reads need no lease")
        .get(0);
    assert_eq!(count, 1, "the refused insert left nothing behind");

    http(admin, "POST", "/lease", r#"{"ttl_ms": 5000}"#).await;
    client
        .batch_execute("INSERT INTO t VALUES (2)")
        .await
        .expect("renewed");

    let bad = http(admin, "POST", "/lease", r#"{"ttl_ms": "soon"}"#).await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let bad = http(admin, "POST", "/lease", "{not json").await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");

    let disabled = http(admin, "DELETE", "/lease", "").await;
    assert!(disabled.starts_with("HTTP/1.1 200"), "{disabled}");
    client
        .batch_execute("INSERT INTO t VALUES (3)")
        .await
        .expect("not enforced any more");
    node.stop().await;
}

#[test]
fn a_node_once_governed_by_a_lease_restarts_without_one() {
    use rustydb_node::{RocksStorage, StorageOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let storage = RocksStorage::open(dir.path(), StorageOptions::default()).expect("open");
        assert!(storage.lease().valid(), "no lease enforced on a fresh node");
        storage.renew_lease(Duration::from_secs(60)).expect("renew");
    }
    {
        let storage = RocksStorage::open(dir.path(), StorageOptions::default()).expect("reopen");
        assert!(
            !storage.lease().valid(),
            "after a restart a governed node must wait for the manager's renewal"
        );
        storage.disable_lease().expect("disable");
    }
    let storage = RocksStorage::open(dir.path(), StorageOptions::default()).expect("reopen");
    assert!(storage.lease().valid(), "disabled durably");
}
