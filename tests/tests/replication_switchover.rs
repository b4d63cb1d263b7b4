//! Planned switchover with the node primitives (what the manager will
//! drive): `POST /demote` on the primary (drains open writers, answers the
//! final LSN), wait until the replica reaches it, `POST /promote` the
//! replica, `POST /follow` the old primary. Writers run throughout and
//! record every acknowledged id; afterwards every acknowledged id is on the
//! new primary and on the old one (now its replica), and only in-flight
//! transactions saw errors.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use rustydb_tests::cluster::{wait_caught_up, wait_until, ClusterNode};
use rustydb_tests::{Outcome, SqlClient};

/// Inserts ids forever, against whichever of `ports` accepts writes.
fn writer(
    ports: [u16; 2],
    id: i64,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<BTreeSet<i64>>>,
) -> usize {
    let mut errors = 0;
    let mut seq = 0i64;
    let mut target = 0usize;
    let mut client: Option<SqlClient> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let c = match client.as_mut() {
            Some(c) => c,
            None => match SqlClient::connect(ports[target], "postgres") {
                Ok(c) => client.insert(c),
                Err(_) => {
                    target = 1 - target;
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
            },
        };
        seq += 1;
        let key = id * 1_000_000 + seq;
        match c.simple(&format!("INSERT INTO sw (id) VALUES ({key})")) {
            Outcome::Ok { .. } => {
                acked.lock().unwrap_or_else(|e| e.into_inner()).insert(key);
            }
            _ => {
                errors += 1;
                // Read-only now, or gone: try the other node.
                client = None;
                target = 1 - target;
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
    errors
}

fn ids(node: &ClusterNode) -> BTreeSet<i64> {
    let mut c = node.connect();
    let out = c.must("SELECT id FROM sw");
    out.rows()
        .iter()
        .filter_map(|r| r.first().cloned().flatten())
        .filter_map(|v| v.parse().ok())
        .collect()
}

#[test]
fn switchover_under_load_loses_no_acknowledged_write() {
    let p = ClusterNode::primary("p", &[]);
    let r = ClusterNode::replica("r", &p, &[]);
    p.connect().must("CREATE TABLE sw (id int8 PRIMARY KEY)");
    wait_caught_up(&p, &[&r]);

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let ports = [p.port(), r.port()];
    let writers: Vec<_> = (1..=4)
        .map(|id| {
            let (stop, acked) = (stop.clone(), acked.clone());
            thread::spawn(move || writer(ports, id, stop, acked))
        })
        .collect();
    thread::sleep(Duration::from_millis(800));

    let demoted = p
        .admin()
        .post("/demote", Some(&json!({"drain_ms": 1000})))
        .expect("demote");
    assert_eq!(demoted.status, 200, "{}", demoted.text);
    let final_lsn = demoted
        .json
        .get("final_lsn")
        .and_then(Value::as_u64)
        .expect("final_lsn");
    // Nothing commits on the old primary after the final LSN.
    wait_until(
        "the candidate reaches the final LSN",
        Duration::from_secs(20),
        || {
            let lsn = r.lsn()?;
            if lsn >= final_lsn {
                Ok(())
            } else {
                Err(format!("r at {lsn} of {final_lsn}"))
            }
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let promoted = r.admin().post("/promote", None).expect("promote");
    assert_eq!(promoted.status, 200, "{}", promoted.text);
    assert_eq!(
        p.lsn().expect("p lsn"),
        final_lsn,
        "the demoted primary wrote past its final LSN"
    );
    let follow = p
        .admin()
        .post("/follow", Some(&json!({"primary": r.addr()})))
        .expect("follow");
    assert_eq!(follow.status, 200, "{}", follow.text);

    thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::Relaxed);
    let errors: usize = writers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
    let acked = acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(
        acked.len() > 50,
        "writers made little progress: {}",
        acked.len()
    );

    let on_new = ids(&r);
    let missing: Vec<_> = acked.difference(&on_new).take(10).collect();
    assert!(
        missing.is_empty(),
        "acknowledged ids missing on the new primary: {missing:?}"
    );
    wait_caught_up(&r, &[&p]);
    let on_old = ids(&p);
    assert_eq!(on_old, on_new, "the old primary does not match the new one");
    let mut pc = p.connect();
    assert_eq!(
        pc.scalar("SELECT pg_is_in_recovery()").as_deref(),
        Some("t")
    );
    eprintln!(
        "switchover: {} acknowledged, {errors} writer errors (in-flight only)",
        acked.len()
    );
}
