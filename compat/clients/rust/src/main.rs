//! Client-compatibility scenarios for tokio-postgres and sqlx.
//!
//! `compat-clients tokio-postgres|sqlx` connects to the server named by the
//! `COMPAT_*` environment variables (host, port, user, password, db) and
//! runs the suite's scenario, printing one `feature.detail: value` line per
//! check. The runner (`compat/run-clients.py`) runs the same binary against
//! PostgreSQL 15 and RustyDB and compares the lines; so every value printed
//! here must be deterministic (no OIDs, timings or backend PIDs). A failed
//! check prints `feature.detail: ERROR <sqlstate> <message>` and the
//! scenario goes on, so one failure does not hide the others.

mod sqlx_scenario;
mod tokio_scenario;

use std::env;

/// Connection parameters from the runner.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub db: String,
}

impl Target {
    fn from_env() -> Target {
        let get = |k: &str, d: &str| env::var(k).unwrap_or_else(|_| d.to_string());
        Target {
            host: get("COMPAT_HOST", "127.0.0.1"),
            port: get("COMPAT_PORT", "5432").parse().unwrap_or(5432),
            user: get("COMPAT_USER", "compat"),
            password: get("COMPAT_PASSWORD", "compat-pw"),
            db: get("COMPAT_DB", "compat"),
        }
    }
}

/// Prints one result line.
pub fn out(key: &str, value: impl std::fmt::Display) {
    println!("{key}: {value}");
}

#[tokio::main]
async fn main() {
    let target = Target::from_env();
    let which = env::args().nth(1).unwrap_or_default();
    match which.as_str() {
        "tokio-postgres" => tokio_scenario::run(&target).await,
        "sqlx" => sqlx_scenario::run(&target).await,
        other => {
            eprintln!("usage: compat-clients tokio-postgres|sqlx (got {other:?})");
            std::process::exit(2);
        }
    }
}
