//! pgbench against one server: `-i -s 2`, then TPC-B (simple protocol),
//! TPC-B with `-M prepared`, and `-S`. Each run must exit 0 with no failed
//! transactions, and the TPC-B invariant must hold afterwards:
//! sum(abalance) = sum(bbalance) = sum(tbalance) = sum(delta).
//!
//! `RUSTYDB_TEST_TARGET=postgres` runs it against PostgreSQL;
//! `RUSTYDB_PGBENCH_T` overrides the 10 s duration of each run.

use std::process::Command;
use std::time::Duration;

use rustydb_tests::tools::{parse_pgbench, run_bounded};
use rustydb_tests::{SqlClient, Target};

fn pgbench(port: u16, args: &[&str], scratch: &std::path::Path) -> String {
    let mut cmd = Command::new("pgbench");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(args)
        .arg("postgres");
    let out = run_bounded(cmd, Duration::from_secs(180), scratch);
    out.assert_success(&format!("pgbench {}", args.join(" ")));
    out.stdout
}

fn check_run(port: u16, args: &[&str], scratch: &std::path::Path) {
    let stdout = pgbench(port, args, scratch);
    let summary =
        parse_pgbench(&stdout).unwrap_or_else(|| panic!("cannot parse pgbench output:\n{stdout}"));
    println!("pgbench {}: {summary:?}", args.join(" "));
    assert_eq!(summary.failed, 0, "failed transactions:\n{stdout}");
    assert!(
        summary.processed > 0,
        "no transactions processed:\n{stdout}"
    );
}

/// Checks the TPC-B invariant and returns sum(abalance).
///
/// pgbench (without `-n`) truncates `pgbench_history` before every run, so
/// after a run the history holds exactly that run's deltas:
/// sum(abalance) = sum(bbalance) = sum(tbalance), and
/// sum(abalance) - `balance_before` = sum(delta). When the balances started
/// at zero (first run after `-i`) that is the literal invariant
/// sum(abalance) = sum(delta).
fn check_balances(client: &mut SqlClient, balance_before: i64) -> i64 {
    let sums = client.must(
        "SELECT (SELECT sum(abalance) FROM pgbench_accounts), \
                (SELECT sum(bbalance) FROM pgbench_branches), \
                (SELECT sum(tbalance) FROM pgbench_tellers), \
                (SELECT coalesce(sum(delta), 0) FROM pgbench_history), \
                (SELECT count(*) FROM pgbench_history)",
    );
    let row = sums.rows().first().cloned().expect("one row");
    println!("balances (a, b, t, delta, history rows): {row:?}");
    let n: Vec<i64> = row
        .iter()
        .map(|v| {
            v.as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("bad sums row {row:?}"))
        })
        .collect();
    assert_eq!(n[0], n[1], "sum(abalance) != sum(bbalance)");
    assert_eq!(n[1], n[2], "sum(bbalance) != sum(tbalance)");
    assert_eq!(
        n[0] - balance_before,
        n[3],
        "balance change != sum(delta) of this run's history"
    );
    n[0]
}

#[test]
fn pgbench_tpcb_prepared_and_select_only() {
    let server = Target::from_env().start();
    let port = server.port();
    let scratch = tempfile::tempdir().expect("tempdir");
    let t = std::env::var("RUSTYDB_PGBENCH_T").unwrap_or_else(|_| "10".into());

    let init = pgbench(port, &["-i", "-s", "2", "-q"], scratch.path());
    println!("init: {}", init.trim());
    let mut client = server.connect("postgres");
    assert_eq!(
        client
            .scalar("SELECT count(*) FROM pgbench_accounts")
            .as_deref(),
        Some("200000")
    );
    assert_eq!(
        client
            .scalar("SELECT count(*) FROM pgbench_branches")
            .as_deref(),
        Some("2")
    );
    assert_eq!(check_balances(&mut client, 0), 0, "fresh balances not zero");

    check_run(port, &["-c", "4", "-j", "2", "-T", &t], scratch.path());
    let after_tpcb = check_balances(&mut client, 0);
    let history = client.scalar("SELECT count(*) FROM pgbench_history");
    assert_ne!(history.as_deref(), Some("0"), "TPC-B left no history rows");
    check_run(
        port,
        &["-c", "4", "-j", "2", "-T", &t, "-M", "prepared"],
        scratch.path(),
    );
    let after_prepared = check_balances(&mut client, after_tpcb);
    check_run(
        port,
        &["-c", "4", "-j", "2", "-T", &t, "-S"],
        scratch.path(),
    );
    let after_select = check_balances(&mut client, after_prepared);
    assert_eq!(after_select, after_prepared, "-S changed balances");
}
