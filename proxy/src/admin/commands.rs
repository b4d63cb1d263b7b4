//! The admin console's commands: text in, result set bytes out.
//!
//! [`execute`] parses one command (case-insensitive words, an optional
//! trailing `;` already stripped by the caller) and builds its answer from
//! [`AdminState`]: `RowDescription` + `DataRow`s + `CommandComplete` for a
//! `SHOW`, a bare `CommandComplete` for `RELOAD`/`PAUSE`/`RESUME`. Nothing
//! here writes to a socket, so every command is tested as a pure function.
//! Secrets (`health.password`, `auth.backend_passwords`) never appear in
//! `SHOW CONFIG`; they are shown as `********`.

use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use serde_json::Value;

use super::AdminState;
use crate::config::ProxyConfig;
use crate::error::ProxyError;
use crate::topology::Role;
use crate::wire::messages;

const SHOWABLE: &str = "POOLS, CLIENTS, SERVERS, STATS, SERVICES, BACKENDS, CONFIG, VERSION";

/// Runs one command; `Err` is an error for the client (session continues).
pub(crate) fn execute(state: &dyn AdminState, command: &str) -> Result<BytesMut, ProxyError> {
    let words: Vec<String> = command
        .split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["SHOW", what] => show(state, what),
        ["RELOAD"] => {
            state.reload()?;
            Ok(tag("RELOAD"))
        }
        ["PAUSE"] => {
            state.pause(true);
            Ok(tag("PAUSE"))
        }
        ["RESUME"] => {
            state.pause(false);
            Ok(tag("RESUME"))
        }
        _ => Err(ProxyError::client(
            "42601",
            format!(
                "unsupported admin command {:?}; try SHOW {SHOWABLE}, RELOAD, PAUSE or RESUME",
                truncate(command)
            ),
        )),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

fn tag(t: &str) -> BytesMut {
    BytesMut::from(&messages::command_complete(t)[..])
}

fn show(state: &dyn AdminState, what: &str) -> Result<BytesMut, ProxyError> {
    let (columns, rows): (&[&str], Vec<Vec<Option<String>>>) = match what {
        "POOLS" => (
            &[
                "user",
                "database",
                "service",
                "backend",
                "pool_mode",
                "active",
                "idle",
                "waiting",
                "max",
            ],
            state
                .pools()
                .into_iter()
                .map(|p| {
                    vec![
                        Some(p.user),
                        Some(p.database),
                        Some(p.service),
                        Some(p.backend),
                        Some(p.mode),
                        Some(p.active.to_string()),
                        Some(p.idle.to_string()),
                        Some(p.waiting.to_string()),
                        Some(p.max.to_string()),
                    ]
                })
                .collect(),
        ),
        "CLIENTS" => (
            &[
                "id",
                "user",
                "database",
                "service",
                "addr",
                "state",
                "backend",
                "connected_at",
            ],
            state
                .clients()
                .into_iter()
                .map(|c| {
                    vec![
                        Some(c.id.to_string()),
                        Some(c.user),
                        Some(c.database),
                        Some(c.service),
                        Some(c.addr),
                        Some(c.state),
                        c.backend,
                        Some(timestamp(c.connected_at)),
                    ]
                })
                .collect(),
        ),
        "SERVERS" => (
            &[
                "backend",
                "user",
                "database",
                "state",
                "pid",
                "connected_at",
            ],
            state
                .servers()
                .into_iter()
                .map(|s| {
                    vec![
                        Some(s.backend),
                        Some(s.user),
                        Some(s.database),
                        Some(s.state),
                        s.pid.map(|p| p.to_string()),
                        s.connected_at.map(timestamp),
                    ]
                })
                .collect(),
        ),
        "STATS" => (
            &[
                "service",
                "queries_primary",
                "queries_replica",
                "errors",
                "avg_us",
            ],
            state
                .stats()
                .into_iter()
                .map(|s| {
                    vec![
                        Some(s.service),
                        Some(s.queries_primary.to_string()),
                        Some(s.queries_replica.to_string()),
                        Some(s.errors.to_string()),
                        Some(s.avg_us.to_string()),
                    ]
                })
                .collect(),
        ),
        "SERVICES" => (SERVICE_COLUMNS, services(&state.config())),
        "BACKENDS" => (BACKEND_COLUMNS, backends(state)),
        "CONFIG" => (&["key", "value", "default"], config_rows(&state.config())),
        "VERSION" => (
            &["version"],
            vec![vec![Some(format!(
                "RustyDB proxy {}",
                env!("CARGO_PKG_VERSION")
            ))]],
        ),
        _ => {
            return Err(ProxyError::client(
                "42601",
                format!("unknown SHOW target {what:?}; try one of {SHOWABLE}"),
            ))
        }
    };
    Ok(messages::result_set(columns, &rows))
}

fn timestamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// An enum's configuration spelling (`round_robin`, `session`, ...).
fn spelled<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn yes(b: bool) -> Option<String> {
    Some(if b { "t" } else { "f" }.to_string())
}

const SERVICE_COLUMNS: &[&str] = &[
    "name",
    "pool_mode",
    "read_policy",
    "balance",
    "preferred_nodes",
    "preferred_tags",
    "min_instances",
    "max_connections",
    "max_lag_bytes",
    "max_lag_ms",
    "read_your_writes",
    "consistency",
    "parallel_degree",
    "listen",
];

/// Every service with its effective settings (service value, else the
/// top-level one).
fn services(config: &ProxyConfig) -> Vec<Vec<Option<String>>> {
    let r = &config.routing;
    config
        .services
        .iter()
        .map(|(name, s)| {
            vec![
                Some(name.clone()),
                Some(spelled(&config.pool_mode_of(name))),
                Some(spelled(&s.read_policy.unwrap_or(r.read_policy))),
                Some(spelled(&s.balance.unwrap_or(r.balance))),
                Some(s.preferred_nodes.join(",")),
                Some(s.preferred_tags.join(",")),
                Some(s.min_instances.to_string()),
                Some(s.max_connections.to_string()),
                Some(s.max_lag_bytes.unwrap_or(r.max_lag_bytes).to_string()),
                Some(s.max_lag_ms.unwrap_or(r.max_lag_ms).to_string()),
                yes(s.read_your_writes.unwrap_or(r.read_your_writes)),
                Some(config.consistency_of(name).to_string()),
                s.parallel_degree.map(|d| d.to_string()),
                s.listen.clone(),
            ]
        })
        .collect()
}

const BACKEND_COLUMNS: &[&str] = &[
    "id",
    "addr",
    "role",
    "datacenter",
    "region",
    "tags",
    "healthy",
    "banned",
    "noloadbalance",
    "sync",
    "replay_lsn",
    "lag_bytes",
    "lag_ms",
    "topology_version",
];

/// `X/Y`, as PostgreSQL prints an LSN.
pub(crate) fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

fn backends(state: &dyn AdminState) -> Vec<Vec<Option<String>>> {
    let topo = state.topology();
    topo.backends
        .iter()
        .map(|b| {
            vec![
                Some(b.id.clone()),
                Some(b.addr.clone()),
                Some(
                    match b.role {
                        Role::Primary => "primary",
                        Role::Replica => "replica",
                        Role::Unknown => "unknown",
                    }
                    .to_string(),
                ),
                Some(b.datacenter.clone()),
                Some(b.region.clone()),
                Some(b.tags.join(",")),
                yes(b.healthy),
                yes(b.banned),
                yes(b.noloadbalance),
                yes(b.sync),
                b.replay_lsn.map(format_lsn),
                b.lag_bytes.map(|l| l.to_string()),
                b.lag_ms.map(|l| format!("{l:.1}")),
                Some(topo.version.to_string()),
            ]
        })
        .collect()
}

/// Flattens a JSON value into dotted keys (`pool.max_size`).
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Option<String>)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Null => out.push((prefix.to_string(), None)),
        Value::String(s) => out.push((prefix.to_string(), Some(s.clone()))),
        other => out.push((prefix.to_string(), Some(other.to_string()))),
    }
}

fn is_secret(key: &str) -> bool {
    key == "health.password" || key.starts_with("auth.backend_passwords.")
}

fn flat(config: &ProxyConfig) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    if let Ok(v) = serde_json::to_value(config) {
        flatten("", &v, &mut out);
    }
    for (k, v) in &mut out {
        if is_secret(k) && v.is_some() {
            *v = Some("********".to_string());
        }
    }
    out
}

fn config_rows(config: &ProxyConfig) -> Vec<Vec<Option<String>>> {
    let defaults = flat(&ProxyConfig::default());
    flat(config)
        .into_iter()
        .map(|(key, value)| {
            let default = defaults
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v.clone());
            vec![Some(key), value, default]
        })
        .collect()
}

/// The answer to an empty query string.
pub(crate) fn empty() -> Bytes {
    messages::empty_query()
}
