//! Logging setup: `tracing` to stderr, filtered by `RUSTYDB_LOG`
//! (e.g. `RUSTYDB_LOG=debug` or `RUSTYDB_LOG=rustydb_node=trace`), else by
//! the configured default level.
//!
//! openraft logs at ERROR / WARN on every failed RPC to a peer: with a
//! manager member down, that is several lines every ~150 ms (each
//! replication retry and each leadership confirmation), which buries
//! everything else. Our own Raft network (`raft/network.rs`) already says
//! once per few seconds which peer is unreachable, so openraft's WARN and
//! ERROR events pass [`RateLimit`]: each of its call sites logs at most
//! once per [`OPENRAFT_EVERY`]. Nothing is hidden for good: a genuinely
//! new problem (a different call site) shows at once, a repeated one once
//! per period. Other crates' events are not touched.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing::callsite::Identifier;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How often one openraft WARN/ERROR call site may log.
pub const OPENRAFT_EVERY: Duration = Duration::from_secs(30);

/// Lets each noisy call site through at most once per `every`.
pub struct RateLimit {
    every: Duration,
    last: Mutex<HashMap<Identifier, Instant>>,
}

impl RateLimit {
    pub fn new(every: Duration) -> RateLimit {
        RateLimit {
            every,
            last: Mutex::new(HashMap::new()),
        }
    }

    fn noisy(meta: &Metadata<'_>) -> bool {
        meta.is_event() && meta.target().starts_with("openraft") && *meta.level() <= Level::WARN
    }

    /// Whether an event of `meta`'s call site may be logged at `now`.
    pub fn admit(&self, meta: &Metadata<'_>, now: Instant) -> bool {
        if !Self::noisy(meta) {
            return true;
        }
        let mut last = self.last.lock();
        match last.get(&meta.callsite()) {
            Some(at) if now.saturating_duration_since(*at) < self.every => false,
            _ => {
                last.insert(meta.callsite(), now);
                true
            }
        }
    }
}

impl<S> Filter<S> for RateLimit {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        self.admit(meta, Instant::now())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // Noisy call sites are decided per event, others once and for all.
        if Self::noisy(meta) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }
}

/// Installs the global subscriber once.
pub fn init(default_level: &str) {
    let env = EnvFilter::try_from_env("RUSTYDB_LOG")
        .or_else(|_| EnvFilter::try_new(default_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let max_level = env.max_level_hint();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(env.and(RateLimit::new(OPENRAFT_EVERY)));
    let _ = tracing_subscriber::registry().with(layer).try_init();
    // Crates that use `log` (sqlparser logs every parse step at debug) are
    // bridged into tracing; without a level set here each such call pays
    // for the bridge before the filter drops it.
    log::set_max_level(log_level(max_level));
}

/// The `log` crate's level for the filter's most verbose one.
fn log_level(hint: Option<tracing_subscriber::filter::LevelFilter>) -> log::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    match hint {
        Some(LevelFilter::OFF) => log::LevelFilter::Off,
        Some(LevelFilter::ERROR) => log::LevelFilter::Error,
        Some(LevelFilter::WARN) => log::LevelFilter::Warn,
        Some(LevelFilter::INFO) => log::LevelFilter::Info,
        Some(LevelFilter::DEBUG) => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn openraft_errors_are_rate_limited_per_call_site() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(EnvFilter::new("info").and(RateLimit::new(Duration::from_secs(60))));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..20 {
                tracing::error!(target: "openraft::replication", "RPCError peer down");
                tracing::warn!(target: "openraft::replication", "error replication to target");
                tracing::warn!(target: "rustydb_manager::raft", "ours");
                tracing::info!(target: "openraft::core", "info passes");
            }
        });
        let text = String::from_utf8_lossy(&buffer.0.lock()).into_owned();
        let count = |needle: &str| text.lines().filter(|l| l.contains(needle)).count();
        assert_eq!(count("RPCError peer down"), 1, "{text}");
        assert_eq!(count("error replication to target"), 1, "{text}");
        assert_eq!(count("ours"), 20, "{text}");
        assert_eq!(count("info passes"), 20, "{text}");
    }
}
