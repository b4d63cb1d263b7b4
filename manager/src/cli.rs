//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rustydb",
    version,
    about = "RustyDB: a PostgreSQL-compatible database"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one storage node.
    Node(Box<NodeArgs>),
    /// Start a local playground node with built-in defaults.
    Up(UpArgs),
    /// Run one manager member (Raft group, health, failover, HTTP API).
    Manager(ManagerArgs),
}

#[derive(Debug, Args)]
pub struct ManagerArgs {
    /// The member's TOML configuration (see deploy/manager.toml).
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// TOML configuration file (every key optional; see docs/configuration.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory (overrides `data_dir` from the config).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:5433 (overrides `listen`).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Admin HTTP API address, e.g. 127.0.0.1:8433 (overrides `admin_listen`).
    #[arg(long)]
    pub admin_listen: Option<SocketAddr>,
    /// This node's name (replicas report it; `--sync-standbys` lists these).
    #[arg(long)]
    pub node_name: Option<String>,
    /// WAL stream listener (default: the listen IP, a free port).
    #[arg(long)]
    pub replication_listen: Option<SocketAddr>,
    /// Start as a replica of the node at this pgwire address (HOST:PORT).
    #[arg(long, value_name = "PRIMARY_ADDR")]
    pub follow: Option<String>,
    /// When commits return: async, sync or semi-sync.
    #[arg(long)]
    pub commit_mode: Option<String>,
    /// Replicas that must confirm a commit in sync mode.
    #[arg(long)]
    pub num_sync: Option<usize>,
    /// Eligible synchronous standbys by name, in priority order (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub sync_standbys: Option<Vec<String>>,
    /// How sync standbys are counted: any (quorum) or first (priority).
    #[arg(long)]
    pub sync_quorum: Option<String>,
    /// Sync mode: fail a commit not confirmed within this many ms.
    #[arg(long)]
    pub sync_timeout_ms: Option<u64>,
    /// Semi-sync: degrade to async after this many ms without a confirmation.
    #[arg(long)]
    pub semi_sync_timeout_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 5433)]
    pub port: u16,
    /// Where the playground keeps its data.
    #[arg(long, default_value = ".rustydb/node1")]
    pub data_dir: PathBuf,
}
