//! `rustydb-cli`: the operator's command line for a RustyDB cluster.
//!
//! It is a thin client of the manager's HTTP API: each subcommand is one
//! (occasionally two) requests to `--api` (any manager member; mutations are
//! forwarded to the Raft leader by the service), then a rendering of the
//! answer. Nothing is decided here: the manager owns every safety check
//! (candidate lag, leases, pause), and the CLI shows what it answered.
//!
//! ```text
//!   args (clap) ──► command ──► ApiClient (ureq, bearer token) ──► manager API
//!                                         │
//!                  stdout ◄── render (table) | JSON (--format json)
//! ```
//!
//! Exit status: 0 on success, 1 when the API answered with an error (the
//! status and the service's `{"error"}` text go to stderr), 2 when no
//! member could be reached or the arguments are invalid. Scripts use
//! `--format json`, which prints the API's JSON unchanged.
//!
//! Request bodies are the `rustydb-manager-api` types; answers are read
//! leniently (see `wire`) so the CLI renders any member's JSON.
//!
//! `node drain|stop|start` map to `POST /drain`, `/stop`, `/start` with
//! `{"node": NAME}` (the same shape as `/restart` and `/reinitialize`);
//! `node rebuild` is `POST /reinitialize`.

mod backup;
mod dr;
mod http;
mod render;
mod wire;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use rustydb_manager_api as api;
use serde_json::{json, Map, Value};

pub use http::{ApiClient, Method, Reply};

/// Everything that can go wrong in one CLI invocation.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot reach the manager API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the manager answered {status}: {message}")]
    Api {
        status: u16,
        message: String,
        body: Value,
    },
    #[error("{0}")]
    Usage(String),
    /// A local operation (backup verbs) failed; exit status 1.
    #[error("{0}")]
    Failed(String),
}

#[derive(Debug, Parser)]
#[command(
    name = "rustydb-cli",
    version,
    about = "Operate a RustyDB cluster through its manager API"
)]
pub struct CliArgs {
    /// Manager API URL (any member).
    #[arg(
        long,
        alias = "manager",
        global = true,
        env = "RUSTYDB_API",
        default_value = "http://127.0.0.1:8008"
    )]
    pub api: String,
    /// Bearer token for mutations (when the cluster has `api_token` set).
    #[arg(long, global = true, env = "RUSTYDB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cluster-wide views.
    #[command(subcommand)]
    Cluster(ClusterCmd),
    /// Planned, zero-loss move of the primary role.
    Switchover {
        /// Candidate node (default: the manager picks the best replica).
        #[arg(long)]
        to: Option<String>,
        /// Expected current primary (refused if it is not the primary).
        #[arg(long)]
        from: Option<String>,
        /// Run at this time (RFC 3339, e.g. 2026-11-22T08:00:00Z).
        #[arg(long)]
        at: Option<String>,
        /// Cancel a scheduled switchover instead.
        #[arg(long, conflicts_with_all = ["to", "from", "at"])]
        cancel: bool,
    },
    /// Manual failover to a named node.
    Failover {
        #[arg(long)]
        to: String,
        /// Promote even when the candidate is behind (loses those bytes).
        #[arg(long)]
        force: bool,
    },
    /// Stop automatic actions (maintenance mode).
    Pause,
    /// Resume automatic actions.
    Resume,
    /// Act on one storage node.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Replication views.
    #[command(subcommand)]
    Replication(ReplicationCmd),
    /// Dynamic cluster configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Backups, WAL archive, restore and point-in-time recovery.
    #[command(subcommand)]
    Backup(backup::BackupCmd),
    /// Disaster recovery: standby cluster status, drills, failover.
    #[command(subcommand)]
    Dr(dr::DrCmd),
}

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Nodes, roles, lag and managers (like `patronictl list`).
    Status,
    /// Failover and switchover history.
    History,
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// Stop sending new work to the node (switch the primary role away first).
    Drain { node: String },
    /// Stop the node (switch the primary role away first); it stays down.
    Stop { node: String },
    /// Return a stopped or drained node to service (rejoins as a replica).
    Start { node: String },
    /// Re-clone the node from the primary.
    Rebuild { node: String },
}

#[derive(Debug, Subcommand)]
pub enum ReplicationCmd {
    /// Each node's LSN and lag behind the primary.
    Lag,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// The dynamic configuration.
    Show,
    /// Change keys: `config set replication_mode=sync lease_ttl_ms=2000`.
    Set {
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
}

/// Runs one invocation and prints its outcome; returns the exit code.
pub fn main_with(args: CliArgs) -> ExitCode {
    let client = ApiClient::new(&args.api, args.token.clone());
    match run(&client, &args) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(CliError::Api {
            status,
            message,
            body,
        }) => {
            if args.format == Format::Json && !body.is_null() {
                println!("{body}");
            }
            eprintln!("rustydb-cli: error {status}: {message}");
            ExitCode::from(1)
        }
        Err(CliError::Failed(e)) => {
            eprintln!("rustydb-cli: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("rustydb-cli: {e}");
            ExitCode::from(2)
        }
    }
}

/// Performs the command and returns what to print on stdout.
pub fn run(client: &ApiClient, args: &CliArgs) -> Result<String, CliError> {
    let json_out = args.format == Format::Json;
    let show = |reply: Reply, table: &dyn Fn(&Value) -> String| {
        if json_out {
            pretty(&reply.body)
        } else {
            table(&reply.body)
        }
    };
    let mutate = |method: Method, path: &str, body: Option<Value>| {
        client
            .send(method, path, body.as_ref())
            .map(|r| show(r, &render::result))
    };
    match &args.command {
        Command::Cluster(ClusterCmd::Status) => {
            let r = client.get("/cluster")?;
            Ok(show(r, &|b| render::cluster(&cluster_view(b))))
        }
        Command::Cluster(ClusterCmd::History) => {
            Ok(show(client.get("/history")?, &render::history))
        }
        Command::Replication(ReplicationCmd::Lag) => {
            let r = client.get("/cluster")?;
            Ok(show(r, &|b| render::lag(&cluster_view(b))))
        }
        Command::Config(ConfigCmd::Show) => Ok(show(client.get("/config")?, &render::config)),
        Command::Config(ConfigCmd::Set { pairs }) => {
            let patch = parse_pairs(pairs)?;
            client
                .send(Method::Patch, "/config", Some(&patch))
                .map(|r| show(r, &render::config))
        }
        Command::Switchover { cancel: true, .. } => mutate(Method::Delete, "/switchover", None),
        Command::Switchover { to, from, at, .. } => {
            let scheduled_at = match at {
                Some(at) => Some(
                    chrono::DateTime::parse_from_rfc3339(at)
                        .map_err(|e| {
                            CliError::Usage(format!("--at {at}: not an RFC 3339 time ({e})"))
                        })?
                        .to_rfc3339(),
                ),
                None => None,
            };
            let body = api::SwitchoverRequest {
                leader: from.clone(),
                candidate: to.clone(),
                scheduled_at,
            };
            mutate(Method::Post, "/switchover", Some(to_json(&body)?))
        }
        Command::Failover { to, force } => {
            let body = api::FailoverRequest {
                candidate: to.clone(),
                force: *force,
            };
            mutate(Method::Post, "/failover", Some(to_json(&body)?))
        }
        Command::Backup(cmd) => backup::run(client, cmd, json_out),
        Command::Dr(cmd) => dr::run(client, cmd, json_out),
        Command::Pause => mutate(Method::Post, "/pause", None),
        Command::Resume => mutate(Method::Post, "/resume", None),
        Command::Node(cmd) => {
            let (path, node) = match cmd {
                NodeCmd::Drain { node } => ("/drain", node),
                NodeCmd::Stop { node } => ("/stop", node),
                NodeCmd::Start { node } => ("/start", node),
                NodeCmd::Rebuild { node } => ("/reinitialize", node),
            };
            let body = api::NodeRequest { node: node.clone() };
            mutate(Method::Post, path, Some(to_json(&body)?))
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, CliError> {
    serde_json::to_value(v).map_err(|e| CliError::Usage(format!("cannot encode the request: {e}")))
}

fn cluster_view(body: &Value) -> wire::ClusterView {
    serde_json::from_value(body.clone()).unwrap_or_default()
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// `KEY=VALUE` pairs into a JSON patch. A value that parses as JSON
/// (`2000`, `true`, `"x"`) keeps its type; anything else is a string, so
/// `replication_mode=sync` needs no quoting. Dotted keys nest.
pub fn parse_pairs(pairs: &[String]) -> Result<Value, CliError> {
    let mut root = Map::new();
    for pair in pairs {
        let (key, raw) = pair
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("expected KEY=VALUE, got {pair:?}")))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(CliError::Usage(format!("empty key in {pair:?}")));
        }
        let value = serde_json::from_str(raw.trim()).unwrap_or_else(|_| json!(raw.trim()));
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().unwrap_or(key);
        let mut map = &mut root;
        for p in parts {
            let entry = map.entry(p.to_string()).or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            map = match entry {
                Value::Object(m) => m,
                _ => return Err(CliError::Usage(format!("{key}: conflicting keys"))),
            };
        }
        map.insert(last.to_string(), value);
    }
    Ok(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_keep_json_types_and_nest() {
        let v = parse_pairs(&[
            "replication_mode=sync".into(),
            "lease_ttl_ms=2000".into(),
            "pause=true".into(),
            "tags.n1.nofailover=false".into(),
        ])
        .unwrap_or_default();
        assert_eq!(
            v,
            json!({"replication_mode": "sync", "lease_ttl_ms": 2000, "pause": true,
                   "tags": {"n1": {"nofailover": false}}})
        );
    }

    #[test]
    fn pairs_without_equals_are_rejected() {
        assert!(matches!(
            parse_pairs(&["nope".into()]),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            parse_pairs(&["=1".into()]),
            Err(CliError::Usage(_))
        ));
    }

    #[test]
    fn unreachable_api_is_a_clear_error() {
        // Port 9 (discard) on loopback is closed on test machines.
        let client = ApiClient::new("http://127.0.0.1:9", None);
        match client.get("/cluster") {
            Err(CliError::Unreachable { url, .. }) => assert_eq!(url, "http://127.0.0.1:9/cluster"),
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }
}
