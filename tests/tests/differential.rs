//! Differential test: every statement of `compat/sql/*.sql` on PostgreSQL 15
//! and on a rustydb node, compared (see `rustydb_tests::diff`).
//!
//! Environment:
//! - `RUSTYDB_DIFF_TARGET=postgres` (or `RUSTYDB_TEST_TARGET=postgres`):
//!   the target is a second PostgreSQL. Known failures are ignored and every
//!   statement must match: this validates the corpus is deterministic.
//! - `RUSTYDB_UPDATE_KNOWN_FAILURES=1`: rewrite `compat/known_failures.txt`
//!   from this run instead of failing on mismatches.
//! - `RUSTYDB_CORPUS_FILTER=substr`: only files whose name contains it.
//! - `RUSTYDB_DIFF_BUDGET_SECS` (900): files not started by then are
//!   skipped and the test fails, so a target that keeps dying cannot stall CI.
//!
//! The test fails on: a corpus statement PostgreSQL does not treat as
//! annotated; a mismatch not listed in known_failures; a listed statement
//! that now matches (so the list only shrinks honestly).

use std::time::{Duration, Instant};

use rustydb_tests::corpus::{compat_dir, is_ordered, load_corpus};
use rustydb_tests::diff::{run_file, FileReport, KnownFailures};
use rustydb_tests::order::order_key_columns;
use rustydb_tests::{Outcome, PgServer, Server, Target};

fn target() -> Target {
    if std::env::var_os("RUSTYDB_DIFF_TARGET").is_some() {
        Target::from_var("RUSTYDB_DIFF_TARGET")
    } else {
        Target::from_env()
    }
}

/// Corpus review aid: ordered statements whose sort keys are not output
/// columns (so exact order is compared and ties would be flaky), and
/// ordered statements with LIMIT/OFFSET (ties at the cut would be flaky).
fn list_strict_orderings(reports: &[FileReport]) {
    for rep in reports {
        for r in &rep.results {
            let Outcome::Ok {
                columns: Some(cols),
                rows,
                ..
            } = &r.reference
            else {
                continue;
            };
            if rows.len() < 2 || !is_ordered(&r.sql) {
                continue;
            }
            let keys = order_key_columns(&r.sql, cols);
            let lower = r.sql.to_ascii_lowercase();
            let cut = ["limit", "offset", "fetch"]
                .iter()
                .any(|k| lower.contains(k));
            if keys.is_none() || cut {
                println!(
                    "STRICT {}:{} keys={keys:?} cut={cut}: {}",
                    rep.file,
                    r.index,
                    r.sql.split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
        }
    }
}

#[test]
fn corpus_matches_postgres() {
    let files = load_corpus();
    assert!(!files.is_empty(), "no corpus files found");
    let target_kind = target();
    let mut reference = Server::Pg(PgServer::start());
    let mut tgt = target_kind.start();
    let known_path = compat_dir().join("known_failures.txt");
    let known = KnownFailures::load(&known_path);
    let pg_vs_pg = target_kind == Target::Postgres;
    let update = std::env::var_os("RUSTYDB_UPDATE_KNOWN_FAILURES").is_some();

    // Every statement is bounded, but a target that keeps dying could
    // still make the whole run long: past this budget the remaining files
    // are skipped (and the test fails) rather than holding CI hostage.
    let budget = Duration::from_secs(
        std::env::var("RUSTYDB_DIFF_BUDGET_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(900),
    );
    let started = Instant::now();
    let mut skipped = Vec::new();
    let mut reports: Vec<FileReport> = Vec::new();
    for file in &files {
        if started.elapsed() > budget {
            skipped.push(file.name.clone());
            continue;
        }
        let rep = run_file(file, &mut reference, &mut tgt);
        println!(
            "{}: {} statements, {} match",
            rep.file,
            rep.results.len(),
            rep.matched()
        );
        for n in &rep.notes {
            println!("  note: {n}");
        }
        reports.push(rep);
    }

    if std::env::var_os("RUSTYDB_DIFF_LIST_STRICT").is_some() {
        list_strict_orderings(&reports);
    }

    let mut corpus_problems = Vec::new();
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    let mut total = 0;
    let mut matched = 0;
    for rep in &reports {
        for r in &rep.results {
            total += 1;
            let at = format!("{}:{} (line {})", rep.file, r.index, r.line);
            if let Some(p) = &r.corpus_problem {
                corpus_problems.push(format!("{at}\n  {}\n  {p}", r.sql));
            }
            let listed = !pg_vs_pg && known.contains(&rep.file, r.index);
            match (&r.mismatch, listed) {
                (None, false) => matched += 1,
                (None, true) => {
                    matched += 1;
                    now_passing.push(at);
                }
                (Some(_), true) => {}
                (Some(why), false) => unexpected.push(format!(
                    "{at}: {why}\n  sql: {}\n  postgres: {}\n  {}: {}",
                    r.sql,
                    r.reference,
                    tgt.kind(),
                    r.target
                )),
            }
        }
    }
    // Listed entries pointing at statements that no longer exist are stale.
    for (file, index) in &known.entries {
        let exists = reports
            .iter()
            .any(|rep| &rep.file == file && rep.results.iter().any(|r| r.index == *index));
        let file_ran = reports.iter().any(|rep| &rep.file == file);
        if file_ran && !exists && !pg_vs_pg {
            now_passing.push(format!("{file}:{index} (no such statement)"));
        }
    }

    println!(
        "\nTOTAL: {total} statements, {matched} match ({} target: {})",
        if pg_vs_pg {
            "postgres-vs-postgres,"
        } else {
            ""
        },
        tgt.kind()
    );
    for f in &skipped {
        println!("SKIPPED {f}: the run exceeded its {budget:?} budget");
    }
    for p in &corpus_problems {
        println!("CORPUS PROBLEM {p}");
    }
    // Checked before any rewrite of known_failures.txt, which would
    // otherwise silently drop the skipped files' entries.
    assert!(skipped.is_empty(), "{} corpus files skipped", skipped.len());
    if update && !pg_vs_pg {
        let n = KnownFailures::write(&known_path, &reports).expect("write known_failures.txt");
        println!("wrote {n} entries to {}", known_path.display());
    } else {
        for u in &unexpected {
            println!("MISMATCH {u}\n");
        }
        for p in &now_passing {
            println!("now passing, remove from known_failures: {p}");
        }
    }
    assert!(
        corpus_problems.is_empty(),
        "{} corpus statements do not behave as annotated on PostgreSQL",
        corpus_problems.len()
    );
    if !update || pg_vs_pg {
        assert!(
            unexpected.is_empty() && now_passing.is_empty(),
            "{} unexpected mismatches, {} known failures now passing (see output above)",
            unexpected.len(),
            now_passing.len()
        );
    }
}
