//! Logging setup: `tracing` to stderr, filtered by `RUSTYDB_LOG`
//! (e.g. `RUSTYDB_LOG=debug` or `RUSTYDB_LOG=rustydb_node=trace`), else by
//! the configured default level.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once.
pub fn init(default_level: &str) {
    let filter = EnvFilter::try_from_env("RUSTYDB_LOG")
        .or_else(|_| EnvFilter::try_new(default_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
