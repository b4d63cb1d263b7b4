//! Progress of long operations: files, bytes, rate and ETA.
//!
//! Callers set the totals up front and add as they go; a line is emitted
//! at most every 500 ms (and once at the end) to stderr (the CLI) or to the
//! log (the node). A snapshot is readable at any time so the node's admin
//! API can report a running backup.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

/// Where progress lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressSink {
    Stderr,
    Log,
    Silent,
}

/// A point-in-time view of an operation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProgressSnapshot {
    pub operation: String,
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub elapsed_ms: u64,
    pub mb_per_s: f64,
    pub eta_s: Option<u64>,
}

struct Inner {
    snapshot: ProgressSnapshot,
    last_print: Option<Instant>,
}

/// A shared progress counter.
#[derive(Clone)]
pub struct Progress {
    sink: ProgressSink,
    started: Instant,
    inner: Arc<Mutex<Inner>>,
}

impl Progress {
    pub fn new(operation: &str, sink: ProgressSink) -> Progress {
        Progress {
            sink,
            started: Instant::now(),
            inner: Arc::new(Mutex::new(Inner {
                snapshot: ProgressSnapshot {
                    operation: operation.to_string(),
                    ..Default::default()
                },
                last_print: None,
            })),
        }
    }

    /// Sets the totals (files, bytes).
    pub fn set_total(&self, files: u64, bytes: u64) {
        let mut inner = self.inner.lock();
        inner.snapshot.files_total = files;
        inner.snapshot.bytes_total = bytes;
    }

    /// Renames the phase (`copying`, `replaying WAL`, ...).
    pub fn set_operation(&self, operation: &str) {
        self.inner.lock().snapshot.operation = operation.to_string();
    }

    /// One more file of `bytes` done.
    pub fn add(&self, files: u64, bytes: u64) {
        let line = {
            let mut inner = self.inner.lock();
            inner.snapshot.files_done += files;
            inner.snapshot.bytes_done += bytes;
            let due = inner
                .last_print
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
            if due {
                inner.last_print = Some(Instant::now());
                Some(self.render(&mut inner.snapshot))
            } else {
                None
            }
        };
        if let Some(line) = line {
            self.emit(&line);
        }
    }

    /// The current state.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let mut inner = self.inner.lock();
        self.render(&mut inner.snapshot);
        inner.snapshot.clone()
    }

    /// Emits the final line.
    pub fn finish(&self) {
        let line = {
            let mut inner = self.inner.lock();
            self.render(&mut inner.snapshot)
        };
        self.emit(&format!("{line} done"));
    }

    /// Refreshes rate/ETA in `s` and returns its line.
    fn render(&self, s: &mut ProgressSnapshot) -> String {
        let elapsed = self.started.elapsed();
        s.elapsed_ms = elapsed.as_millis() as u64;
        let secs = elapsed.as_secs_f64().max(1e-3);
        s.mb_per_s = s.bytes_done as f64 / 1e6 / secs;
        let rate = s.bytes_done as f64 / secs;
        s.eta_s = (rate > 0.0 && s.bytes_total >= s.bytes_done)
            .then(|| ((s.bytes_total - s.bytes_done) as f64 / rate).ceil() as u64);
        format!(
            "{}: {}/{} files, {:.1}/{:.1} MB, {:.1} MB/s, ETA {}",
            s.operation,
            s.files_done,
            s.files_total,
            s.bytes_done as f64 / 1e6,
            s.bytes_total as f64 / 1e6,
            s.mb_per_s,
            s.eta_s.map_or("?".to_string(), |e| format!("{e}s"))
        )
    }

    fn emit(&self, line: &str) {
        match self.sink {
            ProgressSink::Stderr => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{line}");
            }
            ProgressSink::Log => tracing::info!("{line}"),
            ProgressSink::Silent => {}
        }
    }
}
