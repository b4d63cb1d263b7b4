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
    let summary = parse_pgbench(&stdout)
        .unwrap_or_else(|| panic!("cannot parse pgbench output:\n{stdout}"));
    println!("pgbench {}: {summary:?}", args.join(" "));
    assert_eq!(summary.failed, 0, "failed transactions:\n{stdout}");
    assert!(summary.processed > 0, "no transactions processed:\n{stdout}");
}

fn check_balances(client: &mut SqlClient) {
    let sums = client.must(
        "SELECT (SELECT sum(abalance) FROM pgbench_accounts), \
                (SELECT sum(bbalance) FROM pgbench_branches), \
                (SELECT sum(tbalance) FROM pgbench_tellers), \
                (SELECT coalesce(sum(delta), 0) FROM pgbench_history), \
                (SELECT count(*) FROM pgbench_history)",
    );
    let row = sums.rows().first().cloned().expect("one row");
    println!("balances (a, b, t, delta, history rows): {row:?}");
    assert!(row.iter().all(Option::is_some), "NULL sum: {row:?}");
    assert_eq!(row[0], row[1], "sum(abalance) != sum(bbalance)");
    assert_eq!(row[1], row[2], "sum(bbalance) != sum(tbalance)");
    assert_eq!(row[2], row[3], "sum(tbalance) != sum(delta)");
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
        client.scalar("SELECT count(*) FROM pgbench_accounts").as_deref(),
        Some("200000")
    );
    assert_eq!(
        client.scalar("SELECT count(*) FROM pgbench_branches").as_deref(),
        Some("2")
    );
    check_balances(&mut client);

    check_run(port, &["-c", "4", "-j", "2", "-T", &t], scratch.path());
    check_balances(&mut client);
    check_run(port, &["-c", "4", "-j", "2", "-T", &t, "-M", "prepared"], scratch.path());
    check_balances(&mut client);
    check_run(port, &["-c", "4", "-j", "2", "-T", &t, "-S"], scratch.path());
    check_balances(&mut client);
    let history: u64 = client
        .scalar("SELECT count(*) FROM pgbench_history")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(history > 0, "TPC-B runs left no history rows");
}
