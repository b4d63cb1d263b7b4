//! Replication over mutual TLS: a replica with a certificate from the
//! cluster's CA streams; one with a certificate from another CA is refused
//! and never receives a record. Also in-process checks of the stream:
//! a replica converges and refuses writes with 25006.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustydb_node::replication::config::ReplicationTls;

/// A CA and one leaf certificate (for 127.0.0.1) it signed, as PEM files.
fn make_pki(dir: &Path, tag: &str) -> ReplicationTls {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf cert");
    let write = |name: &str, pem: String| -> PathBuf {
        let path = dir.join(format!("{tag}-{name}"));
        std::fs::write(&path, pem).expect("write pem");
        path
    };
    ReplicationTls {
        cert: Some(write("node.crt", leaf.pem())),
        key: Some(write("node.key", leaf_key.serialize_pem())),
        ca: Some(write("ca.crt", ca.pem())),
    }
}

fn lsn_of(node: &TestNode) -> u64 {
    node.node
        .as_ref()
        .map_or(0, |n| n.replication().rocks().last_lsn().0)
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("gave up waiting for {what}");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_stream_and_foreign_certificates_are_refused() {
    let pki = tempfile::tempdir().expect("tempdir");
    let cluster = make_pki(pki.path(), "cluster");
    let stranger = make_pki(pki.path(), "stranger");

    let primary = {
        let tls = cluster.clone();
        TestNode::start_with(move |c| c.replication.tls = tls).await
    };
    let client = primary.connect("postgres", None).await.expect("connect");
    client
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b')",
        )
        .await
        .expect("write on primary");
    let upstream = primary.addr.to_string();

    let replica = {
        let (tls, upstream) = (cluster.clone(), upstream.clone());
        TestNode::start_with(move |c| {
            c.replication.tls = tls;
            c.replication.follow = Some(upstream);
        })
        .await
    };
    let target = lsn_of(&primary);
    assert!(
        wait_until("the TLS replica to catch up", || lsn_of(&replica) >= target).await,
        "replica at {} of {target}",
        lsn_of(&replica)
    );
    let rclient = replica
        .connect("postgres", None)
        .await
        .expect("connect replica");
    let rows = rclient
        .query("SELECT v FROM t ORDER BY id", &[])
        .await
        .expect("read on replica");
    let values: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(values, ["a", "b"]);
    let err = rclient
        .batch_execute("INSERT INTO t VALUES (3, 'c')")
        .await
        .expect_err("replica is read-only");
    assert_eq!(sqlstate(&err).as_deref(), Some("25006"));
    // The session stays usable after the refused write.
    assert_eq!(
        rclient
            .query_one("SELECT count(*) FROM t", &[])
            .await
            .expect("read")
            .get::<_, i64>(0),
        2
    );

    let outsider = {
        let upstream = upstream.clone();
        TestNode::start_with(move |c| {
            c.replication.tls = stranger;
            c.replication.follow = Some(upstream);
        })
        .await
    };
    // Give it time to try (and fail) several times.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        lsn_of(&outsider),
        0,
        "a foreign certificate must not receive records"
    );
    let status = outsider
        .node
        .as_ref()
        .map(|n| n.replication().status_json())
        .expect("status");
    assert_eq!(status["stream_state"], "error", "{status}");

    outsider.stop().await;
    replica.stop().await;
    primary.stop().await;
}
