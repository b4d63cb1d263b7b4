//! Running PostgreSQL client programs (`pgbench`, `psql`) against a test
//! server with a hard time bound, and reading what they print.
//!
//! Output goes to files rather than pipes so a chatty child can never block
//! on a full pipe while we poll it; after the deadline the child is killed
//! and the run reported as timed out.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a bounded run produced.
#[derive(Debug)]
pub struct RunOutput {
    pub success: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl RunOutput {
    /// Panics with everything the program printed unless it exited 0.
    pub fn assert_success(&self, what: &str) {
        assert!(
            self.success,
            "{what} failed ({}{}):\nstdout:\n{}\nstderr:\n{}",
            self.status,
            if self.timed_out { ", timed out" } else { "" },
            self.stdout,
            self.stderr
        );
    }
}

/// Runs `cmd` with `PGCONNECT_TIMEOUT` set, killing it after `timeout`.
/// `scratch` holds the captured output files.
pub fn run_bounded(mut cmd: Command, timeout: Duration, scratch: &Path) -> RunOutput {
    let id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let out_path = scratch.join(format!("out-{id}.txt"));
    let err_path = scratch.join(format!("err-{id}.txt"));
    let out = std::fs::File::create(&out_path).expect("create stdout file");
    let err = std::fs::File::create(&err_path).expect("create stderr file");
    cmd.env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (Some(status), false),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                break (child.wait().ok(), true);
            }
        }
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    RunOutput {
        success: !timed_out && status.is_some_and(|s| s.success()),
        status: status.map_or("no status".into(), |s| s.to_string()),
        stdout: read(&out_path),
        stderr: read(&err_path),
        timed_out,
    }
}

/// Runs `rustydb-cli` (beside the `rustydb` binary under test) with
/// `args`, bounded to 5 minutes.
pub fn rustydb_cli(args: &[&str], scratch: &Path) -> RunOutput {
    let bin = crate::process::rustydb_bin().with_file_name("rustydb-cli");
    let mut cmd = Command::new(bin);
    cmd.args(args);
    run_bounded(cmd, Duration::from_secs(300), scratch)
}

/// Runs `rustydb-cli --format json` with `args`; panics unless it exits 0
/// and prints JSON, which it returns.
pub fn rustydb_cli_json(args: &[&str], scratch: &Path) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = rustydb_cli(&all, scratch);
    out.assert_success(&format!("rustydb-cli {args:?}"));
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("rustydb-cli {args:?}: not JSON ({e}): {}", out.stdout))
}

/// The figures pgbench prints at the end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct PgbenchSummary {
    pub processed: u64,
    pub failed: u64,
    pub tps: f64,
    pub latency_ms: Option<f64>,
}

/// Parses pgbench 15 output:
/// `number of transactions actually processed: N`,
/// `number of failed transactions: N (x%)`, `latency average = X ms`,
/// `tps = X (without initial connection time)`.
pub fn parse_pgbench(stdout: &str) -> Option<PgbenchSummary> {
    let after = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
    };
    let first_word = |s: &str| s.split_whitespace().next().map(str::to_string);
    let processed = after("number of transactions actually processed:")
        .and_then(|v| first_word(v.split('/').next().unwrap_or(v)))?
        .parse()
        .ok()?;
    // Older pgbench versions do not print the failed line: treat as 0 only
    // if absent, never when unparsable.
    let failed = match after("number of failed transactions:") {
        Some(v) => first_word(v)?.parse().ok()?,
        None => 0,
    };
    let tps = after("tps =").and_then(first_word)?.parse().ok()?;
    let latency_ms = after("latency average =")
        .and_then(first_word)
        .and_then(|v| v.parse().ok());
    Some(PgbenchSummary {
        processed,
        failed,
        tps,
        latency_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pgbench_15_output() {
        let out = "transaction type: <builtin: TPC-B (sort of)>\n\
            scaling factor: 2\nquery mode: simple\nnumber of clients: 4\n\
            number of threads: 2\nmaximum number of tries: 1\nduration: 10 s\n\
            number of transactions actually processed: 12345\n\
            number of failed transactions: 3 (0.024%)\n\
            latency average = 3.241 ms\ninitial connection time = 5.1 ms\n\
            tps = 1234.567890 (without initial connection time)\n";
        let s = parse_pgbench(out).expect("parse");
        assert_eq!(s.processed, 12345);
        assert_eq!(s.failed, 3);
        assert!((s.tps - 1234.56789).abs() < 1e-6);
        assert_eq!(s.latency_ms, Some(3.241));
        assert!(parse_pgbench("garbage").is_none());
    }
}
