//! Crash test: acknowledged commits survive `kill -9`, and no transaction
//! is ever half applied.
//!
//! Eight committer threads each write keys `(thread, seq)`:
//! - even seq: one autocommit `INSERT INTO crash_single`;
//! - odd seq: `BEGIN; INSERT INTO crash_a; INSERT INTO crash_b; COMMIT`.
//!
//! A key is recorded as acknowledged only once the server answered the
//! INSERT (autocommit) or the COMMIT. After ~3 s the server is killed
//! mid-flight and restarted on the same data dir. Then:
//! - every acknowledged key is present;
//! - `crash_a` and `crash_b` hold exactly the same keys (an unacknowledged
//!   transaction may be wholly present or wholly absent, never half);
//! - nothing is present that was never attempted.
//!
//! Three kill/restart cycles, each with fresh thread ids, so later cycles
//! also re-check the keys acknowledged before earlier crashes.
//! `RUSTYDB_TEST_TARGET=postgres` runs it against PostgreSQL (killed with
//! `pg_ctl stop -m immediate`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustydb_tests::{Outcome, SqlClient, Target};

const THREADS: i64 = 8;
const CYCLES: i64 = 3;

type Keys = BTreeSet<(i64, i64)>;

#[derive(Default)]
struct Ledger {
    /// Acknowledged single-statement inserts.
    single_acked: Keys,
    /// Acknowledged two-table transactions.
    pair_acked: Keys,
    /// Everything ever sent (acknowledged or not).
    attempted_single: Keys,
    attempted_pair: Keys,
}

fn committer(port: u16, thread_id: i64, stop: Arc<AtomicBool>, ledger: Arc<Mutex<Ledger>>) {
    let Ok(mut c) = SqlClient::connect(port, "postgres") else {
        return;
    };
    c.set_timeout(Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seq = 0i64;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        seq += 1;
        let key = (thread_id, seq);
        if seq % 2 == 0 {
            lock(&ledger).attempted_single.insert(key);
            match c.simple(&format!(
                "INSERT INTO crash_single (thread, seq) VALUES ({thread_id}, {seq})"
            )) {
                Outcome::Ok { .. } => {
                    lock(&ledger).single_acked.insert(key);
                }
                _ => return,
            }
        } else {
            lock(&ledger).attempted_pair.insert(key);
            for sql in [
                "BEGIN".to_string(),
                format!("INSERT INTO crash_a (thread, seq) VALUES ({thread_id}, {seq})"),
                format!("INSERT INTO crash_b (thread, seq) VALUES ({thread_id}, {seq})"),
            ] {
                if !c.simple(&sql).is_ok() {
                    return;
                }
            }
            match c.simple("COMMIT") {
                Outcome::Ok { .. } => {
                    lock(&ledger).pair_acked.insert(key);
                }
                _ => return,
            }
        }
    }
}

fn lock(l: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    match l.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn keys(c: &mut SqlClient, table: &str) -> Keys {
    c.must(&format!("SELECT thread, seq FROM {table}"))
        .rows()
        .iter()
        .map(|r| {
            let n = |i: usize| -> i64 {
                r.get(i)
                    .and_then(|v| v.as_deref())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("bad row in {table}: {r:?}"))
            };
            (n(0), n(1))
        })
        .collect()
}

#[test]
fn acknowledged_commits_survive_kill_9() {
    let mut server = Target::from_env().start();
    {
        let mut c = server.connect("postgres");
        for t in ["crash_single", "crash_a", "crash_b"] {
            c.must(&format!(
                "CREATE TABLE {t} (thread int8 NOT NULL, seq int8 NOT NULL, PRIMARY KEY (thread, seq))"
            ));
        }
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    for cycle in 0..CYCLES {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (stop, ledger, port) = (stop.clone(), ledger.clone(), server.port());
                thread::spawn(move || committer(port, cycle * THREADS + t, stop, ledger))
            })
            .collect();
        thread::sleep(Duration::from_secs(3));
        // Kill while the committers are still running, then let them notice.
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().expect("committer thread panicked");
        }
        server.restart();

        let mut c = server.connect("postgres");
        let single = keys(&mut c, "crash_single");
        let a = keys(&mut c, "crash_a");
        let b = keys(&mut c, "crash_b");
        let l = lock(&ledger);
        println!(
            "cycle {cycle}: acked {} single + {} pairs; found {} single, {} a, {} b",
            l.single_acked.len(),
            l.pair_acked.len(),
            single.len(),
            a.len(),
            b.len()
        );
        assert!(
            !l.single_acked.is_empty() && !l.pair_acked.is_empty(),
            "cycle {cycle}: no commit was acknowledged before the kill"
        );
        let lost: Vec<_> = l.single_acked.difference(&single).collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle}: acknowledged single inserts lost: {lost:?}"
        );
        let lost: Vec<_> = l.pair_acked.difference(&a).collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle}: acknowledged transactions lost: {lost:?}"
        );
        let half: Vec<_> = a.symmetric_difference(&b).collect();
        assert!(
            half.is_empty(),
            "cycle {cycle}: half-applied transactions: {half:?}"
        );
        let phantom: Vec<_> = single.difference(&l.attempted_single).collect();
        assert!(
            phantom.is_empty(),
            "cycle {cycle}: rows never written: {phantom:?}"
        );
        let phantom: Vec<_> = a.difference(&l.attempted_pair).collect();
        assert!(
            phantom.is_empty(),
            "cycle {cycle}: rows never written: {phantom:?}"
        );
    }
}
