//! Parallel fan-out through `rustydb proxy` (issue 8).
//!
//! - differential: every statement of `compat/fanout/queries.sql` returns
//!   through the proxy at `parallel_degree` 2, 3 and 4 exactly what it
//!   returns at 1 (rows compared in order when the statement has ORDER BY,
//!   as a sorted multiset otherwise), on three RustyDB nodes; and the same
//!   corpus on PostgreSQL 15 standing in for nodes (`compat/fanout/pg_shim.sql`
//!   provides the node contract's functions without real snapshots);
//! - consistency: transfers between accounts run while a fanned-out
//!   `SELECT sum(balance)` loops: the sum never changes;
//! - failure: a replica is killed while fan-out queries run: each answer
//!   is the correct one or a clean error, never a wrong number;
//! - plain PostgreSQL (no snapshot functions) never fans out and answers
//!   correctly.
//!
//! Fan-out actually happening is checked through the proxy's metrics
//! (`rustydb_proxy_fanout_queries_total`), so a proxy that silently never
//! splits cannot pass.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustydb_tests::fleet::{wait_replicas, Fleet};
use rustydb_tests::proxy::{ConnectOpts, ProxyProc, ProxySpec};
use rustydb_tests::{Outcome, SqlClient};

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("compat")
        .join("fanout")
}

fn read(name: &str) -> String {
    let path = corpus_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Statements of the corpus, one per line.
fn corpus() -> Vec<String> {
    read("queries.sql")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("--"))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect()
}

/// Runs a multi-statement script, statement by statement.
fn run_script(client: &mut SqlClient, script: &str) {
    // The shim holds dollar-quoted bodies: send it whole.
    let out = client.simple(script);
    assert!(out.is_ok(), "script failed: {out}");
}

fn fanout_count(proxy: &ProxyProc) -> u64 {
    let text = proxy.metrics().unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("rustydb_proxy_fanout_queries_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn normalised(sql: &str, out: &Outcome) -> String {
    match out {
        Outcome::Ok { columns, rows, .. } => {
            let mut rows = rows.clone();
            if !sql.to_ascii_lowercase().contains("order by") {
                rows.sort();
            }
            format!("{columns:?} {rows:?}")
        }
        Outcome::Error { code, .. } => format!("error {code}"),
        Outcome::Broken(why) => format!("broken {why}"),
    }
}

fn olap_proxy(fleet: &Fleet) -> ProxyProc {
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs())
            .set("default_service", "\"olap\"")
            .set("routing.max_lag_ms", "600000"),
    );
    if let Err(e) = wait_replicas(
        fleet,
        &proxy,
        &ConnectOpts::default(),
        fleet.names().len() - 1,
    ) {
        panic!("{e}\nproxy log:\n{}", proxy.log_tail(4000));
    }
    proxy
}

/// The corpus at DOP 2, 3, 4 against DOP 1; returns how many differed.
fn differential(proxy: &ProxyProc) -> Vec<String> {
    let mut client = proxy.client();
    let mut failures = Vec::new();
    for sql in corpus() {
        client.must("SET parallel_degree = 1");
        let want = normalised(&sql, &client.simple(&sql));
        for dop in [2, 3, 4] {
            client.must(&format!("SET parallel_degree = {dop}"));
            let got = normalised(&sql, &client.simple(&sql));
            if got != want {
                failures.push(format!("DOP {dop}: {sql}\n  want {want}\n  got  {got}"));
            }
        }
    }
    failures
}

#[test]
fn corpus_matches_a_single_node_on_rustydb() {
    let fleet = Fleet::rustydb(2);
    run_script(&mut fleet.primary_client(), &read("schema.sql"));
    fleet.wait_replayed();
    let proxy = olap_proxy(&fleet);
    assert!(corpus().len() >= 200, "corpus too small");
    let failures = differential(&proxy);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}\nproxy log:\n{}",
        failures.len(),
        failures.join("\n"),
        proxy.log_tail(4000)
    );
    assert!(fanout_count(&proxy) > 100, "fan-out barely happened");
}

#[test]
fn corpus_matches_a_single_node_on_postgres_shim() {
    let fleet = Fleet::postgres(1);
    let mut p = fleet.primary_client();
    run_script(&mut p, &read("schema.sql"));
    run_script(&mut p, &read("pg_shim.sql"));
    fleet.wait_replayed();
    let proxy = olap_proxy(&fleet);
    let failures = differential(&proxy);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}\nproxy log:\n{}",
        failures.len(),
        failures.join("\n"),
        proxy.log_tail(4000)
    );
    assert!(fanout_count(&proxy) > 100, "fan-out barely happened");
    // EXPLAIN shows the plan; SHOW reports the session's degree.
    let mut c = proxy.client();
    c.must("SET parallel_degree = 3");
    assert_eq!(c.scalar("SHOW parallel_degree").as_deref(), Some("3"));
    let plan = c.simple("EXPLAIN SELECT k, count(*) FROM fo_t GROUP BY k");
    let text: Vec<String> = plan.rows().iter().filter_map(|r| r[0].clone()).collect();
    assert!(text[0].starts_with("Fan-out"), "{text:?}");
    assert!(text.iter().any(|l| l.contains("Fragment 3")), "{text:?}");
    c.must("RESET parallel_degree");
    assert_eq!(c.scalar("SHOW parallel_degree").as_deref(), Some("auto"));
    assert_eq!(c.simple("SET parallel_degree = 0").code(), Some("22023"));
}

#[test]
fn plain_postgres_never_fans_out() {
    let fleet = Fleet::postgres(1);
    let mut p = fleet.primary_client();
    run_script(&mut p, &read("schema.sql"));
    fleet.wait_replayed();
    let proxy = olap_proxy(&fleet);
    let mut c = proxy.client();
    c.must("SET parallel_degree = 3");
    for _ in 0..3 {
        assert_eq!(
            c.scalar("SELECT count(*) FROM fo_t").as_deref(),
            Some("6000")
        );
    }
    assert_eq!(fanout_count(&proxy), 0);
    let metrics = proxy.metrics().unwrap_or_default();
    assert!(
        metrics.contains("reason=\"no_snapshot\"")
            || metrics.contains("reason=\"no_split_points\""),
        "{metrics}"
    );
}

#[test]
fn concurrent_transfers_never_change_a_fanned_out_sum() {
    let fleet = Fleet::rustydb(2);
    let mut p = fleet.primary_client();
    p.must("CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL)");
    p.must("INSERT INTO accounts SELECT i, 1000 FROM generate_series(1, 3000) AS i");
    fleet.wait_replayed();
    let proxy = olap_proxy(&fleet);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2u64 {
        let stop = stop.clone();
        let mut c = proxy.connect(&ConnectOpts::service("oltp"));
        writers.push(std::thread::spawn(move || {
            let mut n = 0u64;
            let mut i = w * 7919;
            while !stop.load(Ordering::Relaxed) {
                i = i
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let (a, b) = (1 + (i >> 33) % 3000, 1 + (i >> 13) % 3000);
                let amount = 1 + (i >> 40) % 50;
                let sql = format!(
                    "BEGIN; UPDATE accounts SET balance = balance - {amount} WHERE id = {a}; \
                     UPDATE accounts SET balance = balance + {amount} WHERE id = {b}; COMMIT"
                );
                if c.simple(&sql).is_ok() {
                    n += 1;
                } else {
                    let _ = c.simple("ROLLBACK");
                }
            }
            n
        }));
    }
    let mut c = proxy.client();
    c.must("SET parallel_degree = 3");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut checks = 0;
    while Instant::now() < deadline || checks < 20 {
        let out = c.simple("SELECT sum(balance), count(*) FROM accounts");
        assert_eq!(
            out.rows().first().cloned(),
            Some(vec![Some("3000000".to_string()), Some("3000".to_string())]),
            "sum changed: {out}\nproxy log:\n{}",
            proxy.log_tail(3000)
        );
        checks += 1;
        if checks > 400 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let transfers: u64 = writers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
    assert!(transfers > 0, "no transfer committed");
    assert!(fanout_count(&proxy) >= 20, "the sums did not fan out");
}

#[test]
fn a_node_killed_mid_fanout_gives_the_answer_or_a_clean_error() {
    let mut fleet = Fleet::rustydb(2);
    let mut p = fleet.primary_client();
    p.must("CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL)");
    p.must("INSERT INTO big SELECT i, i % 10 FROM generate_series(1, 60000) AS i");
    fleet.wait_replayed();
    let proxy = olap_proxy(&fleet);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let mut c = proxy.client();
        std::thread::spawn(move || {
            c.must("SET parallel_degree = 3");
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let out = c.simple("SELECT count(*), sum(v) FROM big");
                let ok = out.rows().first().cloned()
                    == Some(vec![Some("60000".to_string()), Some("270000".to_string())]);
                let clean = matches!(
                    out.code(),
                    Some("08006" | "58000" | "57P01" | "57P03" | "55000" | "72000")
                );
                if !ok && !clean {
                    seen.push(format!("{out}"));
                }
                if matches!(out, Outcome::Broken(_)) {
                    break;
                }
            }
            seen
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    if let Fleet::Rdb(nodes) = &mut fleet {
        nodes[2].kill9();
    }
    std::thread::sleep(Duration::from_secs(8));
    stop.store(true, Ordering::Relaxed);
    let wrong = reader
        .join()
        .unwrap_or_else(|_| vec!["reader panicked".into()]);
    assert!(wrong.is_empty(), "wrong answers: {wrong:?}");
    // After the kill, fan-out still answers correctly.
    let mut c = proxy.client();
    c.must("SET parallel_degree = 3");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = c.simple("SELECT count(*) FROM big");
        if out.scalar() == Some("60000") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no correct answer after the kill: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
