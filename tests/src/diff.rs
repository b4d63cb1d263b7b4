//! Differential execution: run a corpus file on a reference PostgreSQL and
//! on a target server, statement by statement, and compare.
//!
//! ```text
//!   CorpusFile ──► fresh database `corpus_<stem>` on both servers
//!        │
//!        ├─ for each statement: reference.simple(sql), target.simple(sql)
//!        │     ├─ check the reference against `-- error:` (corpus sanity)
//!        │     └─ compare(reference, target) → match | mismatch reason
//!        ▼
//!   FileReport { results } ──► KnownFailures decides pass/fail
//! ```
//!
//! Comparison rules: success vs error must agree; two errors must share
//! the SQLSTATE (messages are shown, not compared); two successes must have
//! the same column names, the same CommandComplete row count and the same
//! rows as text, in order when the statement has a top-level `ORDER BY`
//! (rows with equal sort keys may permute, see `order`), as sorted lists
//! otherwise.
//!
//! A target that stops answering (crash, hang) is restarted and the file
//! continues on a new connection; after three consecutive broken answers the
//! rest of the file is marked broken without being sent, so a dead node
//! costs seconds, not minutes.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::client::{Outcome, SqlClient};
use crate::corpus::{is_ordered, CorpusFile, Statement};
use crate::order::{order_key_columns, same_ordered};
use crate::process::Server;

/// Result of one statement on both servers.
#[derive(Debug)]
pub struct StatementResult {
    pub index: usize,
    pub line: usize,
    pub sql: String,
    pub reference: Outcome,
    pub target: Outcome,
    /// `None` when the outcomes match.
    pub mismatch: Option<String>,
    /// Set when the reference itself did not do what the corpus declares.
    pub corpus_problem: Option<String>,
}

/// All results of one file.
#[derive(Debug)]
pub struct FileReport {
    pub file: String,
    pub results: Vec<StatementResult>,
    /// Notes about the run (fallbacks, restarts).
    pub notes: Vec<String>,
}

impl FileReport {
    pub fn matched(&self) -> usize {
        self.results.iter().filter(|r| r.mismatch.is_none()).count()
    }
}

/// Compares two outcomes; `None` means they match.
pub fn compare(sql: &str, reference: &Outcome, target: &Outcome) -> Option<String> {
    match (reference, target) {
        (
            Outcome::Ok {
                columns: rc,
                rows: rr,
                affected: ra,
            },
            Outcome::Ok {
                columns: tc,
                rows: tr,
                affected: ta,
            },
        ) => {
            if rc != tc {
                return Some(format!("column names differ: {rc:?} vs {tc:?}"));
            }
            if ra != ta {
                return Some(format!("row counts differ: {ra:?} vs {ta:?}"));
            }
            let same = if is_ordered(sql) {
                // Rows with equal sort keys may come in any order.
                let keys = rc.as_ref().and_then(|c| order_key_columns(sql, c));
                same_ordered(rr, tr, keys.as_deref())
            } else {
                let mut a = rr.clone();
                let mut b = tr.clone();
                a.sort();
                b.sort();
                a == b
            };
            (!same).then(|| "rows differ".to_string())
        }
        (Outcome::Error { code: a, .. }, Outcome::Error { code: b, .. }) => {
            (a != b).then(|| format!("SQLSTATE differs: {a} vs {b}"))
        }
        (Outcome::Ok { .. }, Outcome::Error { code, .. }) => {
            Some(format!("target failed with {code}, reference succeeded"))
        }
        (Outcome::Error { code, .. }, Outcome::Ok { .. }) => {
            Some(format!("target succeeded, reference failed with {code}"))
        }
        (_, Outcome::Broken(why)) => Some(format!("target broken: {why}")),
        (Outcome::Broken(why), _) => Some(format!("reference broken: {why}")),
    }
}

/// Compares only success vs error and the SQLSTATE (`-- status-only`).
pub fn compare_status(reference: &Outcome, target: &Outcome) -> Option<String> {
    match (reference, target) {
        (Outcome::Ok { .. }, Outcome::Ok { .. }) => None,
        _ => compare("", reference, target),
    }
}

/// Checks the reference outcome against the statement's annotation.
fn check_reference(stmt: &Statement, reference: &Outcome) -> Option<String> {
    match (&stmt.expect_error, reference) {
        (Some(want), Outcome::Error { code, .. }) if code == want => None,
        (Some(want), other) => Some(format!("PostgreSQL should fail with {want}, got {other}")),
        (None, Outcome::Ok { .. }) => None,
        (None, other) => Some(format!(
            "PostgreSQL should succeed (no `-- error:` annotation), got {other}"
        )),
    }
}

/// Per-statement bound on the target: `RUSTYDB_STATEMENT_TIMEOUT_SECS`,
/// 10 s by default (corpus statements are tiny; PostgreSQL takes
/// milliseconds).
fn statement_timeout() -> Duration {
    let secs = std::env::var("RUSTYDB_STATEMENT_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(secs)
}

/// True when the target is running and answers `SELECT 1` (with rows or
/// an error) within 5 s.
fn target_answers(target: &mut Server) -> bool {
    if !target.is_running() {
        return false;
    }
    match SqlClient::connect_with_timeout(target.port(), "postgres", Duration::from_secs(5)) {
        Ok(mut c) => {
            c.set_timeout(Duration::from_secs(5));
            // Any answer counts, an error included: an engine that does
            // not support a statement yet is alive.
            !matches!(c.simple("SELECT 1"), Outcome::Broken(_))
        }
        Err(_) => false,
    }
}

/// Drops and creates `db` through the `postgres` database.
fn fresh_database(server: &Server, db: &str) -> Result<(), String> {
    let mut admin = SqlClient::connect(server.port(), "postgres")?;
    admin.set_timeout(statement_timeout());
    let _ = admin.simple(&format!("DROP DATABASE IF EXISTS {db}"));
    match admin.simple(&format!("CREATE DATABASE {db}")) {
        Outcome::Ok { .. } => Ok(()),
        other => Err(format!("CREATE DATABASE {db}: {other}")),
    }
}

/// Runs one corpus file on both servers.
pub fn run_file(file: &CorpusFile, reference: &mut Server, target: &mut Server) -> FileReport {
    let db = file.database();
    let mut notes = Vec::new();
    if let Err(e) = fresh_database(reference, &db) {
        panic!("reference could not create {db}: {e}");
    }
    let mut ref_client = reference.connect(&db);
    // A target left dead or hung by the previous file is restarted first,
    // so one crash costs one file, not every file after it.
    if !target_answers(target) {
        notes.push(format!(
            "target not answering before this file; restarting. log tail:\n{}",
            target.log_tail()
        ));
        if let Err(e) = target.try_restart() {
            notes.push(format!("target restart failed: {e}"));
        }
    }
    // A target that cannot create databases yet still runs the file, in
    // `postgres`; table names are unique per file so files do not collide.
    let target_db = match fresh_database(target, &db) {
        Ok(()) => db.clone(),
        Err(e) => {
            notes.push(format!("target: {e}; running in database postgres"));
            "postgres".to_string()
        }
    };
    let connect = |port: u16| {
        SqlClient::connect(port, &target_db).ok().map(|mut c| {
            c.set_timeout(statement_timeout());
            c
        })
    };
    let mut tgt_client = connect(target.port());
    let mut broken_in_a_row = 0;
    let mut results = Vec::new();
    for stmt in &file.statements {
        let r = ref_client.simple(&stmt.sql);
        let t = if broken_in_a_row >= 3 {
            Outcome::Broken("not sent: target stopped answering earlier in this file".into())
        } else {
            if !tgt_client.as_ref().is_some_and(SqlClient::is_alive) {
                if !target.is_running() {
                    notes.push(format!(
                        "target died before statement {}; restarting. log tail:\n{}",
                        stmt.index,
                        target.log_tail()
                    ));
                    if let Err(e) = target.try_restart() {
                        notes.push(format!("target restart failed: {e}"));
                    }
                }
                tgt_client = connect(target.port());
            }
            match tgt_client.as_mut() {
                Some(c) => c.simple(&stmt.sql),
                None => Outcome::Broken("cannot connect to target".into()),
            }
        };
        if matches!(t, Outcome::Broken(_)) {
            broken_in_a_row += 1;
        } else {
            broken_in_a_row = 0;
        }
        let corpus_problem = check_reference(stmt, &r);
        let mismatch = if stmt.status_only {
            compare_status(&r, &t)
        } else {
            compare(&stmt.sql, &r, &t)
        };
        results.push(StatementResult {
            index: stmt.index,
            line: stmt.line,
            sql: stmt.sql.clone(),
            reference: r,
            target: t,
            mismatch,
            corpus_problem,
        });
    }
    FileReport {
        file: file.name.clone(),
        results,
        notes,
    }
}

/// `compat/known_failures.txt`: `file.sql:INDEX` per line, `#` comments.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KnownFailures {
    pub entries: BTreeSet<(String, usize)>,
}

impl KnownFailures {
    pub fn load(path: &Path) -> KnownFailures {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut entries = BTreeSet::new();
        for raw in text.lines() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let parsed = line
                .rsplit_once(':')
                .and_then(|(f, i)| Some((f.trim().to_string(), i.trim().parse().ok()?)));
            match parsed {
                Some(e) => {
                    entries.insert(e);
                }
                None => panic!("{}: bad line {raw:?}", path.display()),
            }
        }
        KnownFailures { entries }
    }

    pub fn contains(&self, file: &str, index: usize) -> bool {
        self.entries.contains(&(file.to_string(), index))
    }

    /// Rewrites the file from current mismatches, each with the start of
    /// its statement as a comment for reviewers.
    pub fn write(path: &Path, reports: &[FileReport]) -> std::io::Result<usize> {
        let mut out = String::from(
            "# Corpus statements where rustydb currently differs from PostgreSQL 15.\n\
             # Format: file.sql:statement-index (1-based). Regenerate with\n\
             # RUSTYDB_UPDATE_KNOWN_FAILURES=1 cargo test --release -p rustydb-tests --test differential\n\
             # The differential test fails if a listed statement starts matching: delete its line.\n",
        );
        let mut n = 0;
        for rep in reports {
            for r in rep.results.iter().filter(|r| r.mismatch.is_some()) {
                let snippet: String = r
                    .sql
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(70)
                    .collect();
                out.push_str(&format!("{}:{}  # {}\n", rep.file, r.index, snippet));
                n += 1;
            }
        }
        std::fs::write(path, out)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(rows: &[&[Option<&str>]]) -> Outcome {
        Outcome::Ok {
            columns: Some(vec!["a".into()]),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.map(str::to_string)).collect())
                .collect(),
            affected: Some(rows.len() as u64),
        }
    }

    fn err(code: &str) -> Outcome {
        Outcome::Error {
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn compare_rules() {
        let ab = ok(&[&[Some("a")], &[Some("b")]]);
        let ba = ok(&[&[Some("b")], &[Some("a")]]);
        assert_eq!(compare("select a from t", &ab, &ba), None);
        assert!(compare("select a from t order by a", &ab, &ba).is_some());
        // NULL is not the empty string.
        assert!(compare("select a", &ok(&[&[None]]), &ok(&[&[Some("")]])).is_some());
        assert_eq!(compare("x", &err("42P01"), &err("42P01")), None);
        assert!(compare("x", &err("42P01"), &err("42703")).is_some());
        assert!(compare("x", &err("42P01"), &ab).is_some());
        assert!(compare("x", &ab, &Outcome::Broken("gone".into())).is_some());
        let renamed = Outcome::Ok {
            columns: Some(vec!["b".into()]),
            rows: vec![vec![Some("a".into())], vec![Some("b".into())]],
            affected: Some(2),
        };
        assert!(compare("select a from t", &ab, &renamed).is_some());
    }

    #[test]
    fn known_failures_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kf.txt");
        let report = FileReport {
            file: "01_x.sql".into(),
            results: vec![StatementResult {
                index: 3,
                line: 7,
                sql: "SELECT   1 # not a comment\n FROM t".into(),
                reference: ok(&[]),
                target: err("0A000"),
                mismatch: Some("differs".into()),
                corpus_problem: None,
            }],
            notes: vec![],
        };
        assert_eq!(KnownFailures::write(&path, &[report]).expect("write"), 1);
        let k = KnownFailures::load(&path);
        assert!(k.contains("01_x.sql", 3));
        assert_eq!(k.entries.len(), 1);
    }
}
