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
    Node(NodeArgs),
    /// Start a local playground node with built-in defaults.
    Up(UpArgs),
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
