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
    /// Start a local playground: nodes (and manager members) with built-in defaults.
    Up(UpArgs),
    /// Run one manager member (Raft group, health, failover, HTTP API).
    Manager(ManagerArgs),
    /// Run the pgwire proxy (pooling, read/write split, services, failover following).
    Proxy(ProxyArgs),
    /// A TCP relay that simulates a WAN link (latency, bandwidth, loss, partition).
    WanRelay(WanRelayArgs),
    /// The third site's voter for automatic DR failover (see docs/geo-dr.md).
    Witness(WitnessArgs),
}

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// HTTP address the sites' managers reach.
    #[arg(long, default_value = "127.0.0.1:8030")]
    pub listen: SocketAddr,
    /// Where the ballot is kept (witness.json).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// This site's name.
    #[arg(long, default_value = "witness")]
    pub site: String,
}

#[derive(Debug, Args)]
pub struct WanRelayArgs {
    /// Listen address (with --target; for one route).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Where --listen forwards (HOST:PORT).
    #[arg(long)]
    pub target: Option<String>,
    /// More routes, LISTEN=TARGET (repeatable).
    #[arg(long = "route")]
    pub routes: Vec<String>,
    /// Added round-trip time in ms (half each way).
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
    /// Bandwidth cap per direction and connection (0: none).
    #[arg(long, default_value_t = 0)]
    pub bandwidth_kbps: u64,
    /// Percent of chunks delayed by a simulated retransmission.
    #[arg(long, default_value_t = 0.0)]
    pub loss_pct: f64,
    /// HTTP control: POST /partition, /heal, /latency?ms=N; GET /status.
    #[arg(long)]
    pub control: Option<SocketAddr>,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// TOML configuration (see deploy/proxy.toml); flags override its keys.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Client-facing address [default: 127.0.0.1:6432].
    #[arg(long)]
    pub listen: Option<String>,
    /// Static mode: PostgreSQL-protocol servers (roles detected).
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT,...")]
    pub backends: Vec<String>,
    /// Dynamic mode: manager API URL(s), following `GET /topology`.
    #[arg(long, value_delimiter = ',', value_name = "URL,...")]
    pub manager: Vec<String>,
    /// `session` or `transaction` [default: transaction].
    #[arg(long)]
    pub pool_mode: Option<String>,
    /// HTTP address for `/metrics`.
    #[arg(long)]
    pub admin_listen: Option<String>,
    /// The proxy's own datacenter, for `rustydb.consistency = local`.
    #[arg(long)]
    pub datacenter: Option<String>,
    /// The proxy's own region, for `rustydb.consistency = regional`.
    #[arg(long)]
    pub region: Option<String>,
    /// Runtime worker threads [default: one per two cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print a SCRAM-SHA-256 verifier for a users file line and exit
    /// (reads the password from standard input).
    #[arg(long)]
    pub hash_password: bool,
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
    /// Datacenter label (`SHOW rustydb.datacenter`).
    #[arg(long)]
    pub datacenter: Option<String>,
    /// Region label (`SHOW rustydb.region`).
    #[arg(long)]
    pub region: Option<String>,
    /// Reach discovered WAL sender endpoints elsewhere: SEEN=USE,... (WAN relays, NAT).
    #[arg(long, value_delimiter = ',', value_name = "SEEN=USE,...")]
    pub replication_endpoint_map: Vec<String>,
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
    /// Archive WAL continuously into this backup repository (`backup.archive_dir`).
    #[arg(long, value_name = "DIR")]
    pub wal_archive: Option<PathBuf>,
    /// Key file of an encrypted backup repository (`backup.key_file`).
    #[arg(long, value_name = "FILE")]
    pub backup_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Number of storage nodes (1 = a single node, no managers).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=9))]
    pub nodes: u16,
    /// How commits wait for replicas: sync, semi-sync or async.
    #[arg(long, value_enum, default_value_t = Replication::Async)]
    pub replication: Replication,
    /// Where the playground keeps its data (one subdirectory per node/member).
    #[arg(long, default_value = ".rustydb")]
    pub data_dir: PathBuf,
    /// pgwire port of the first node (127.0.0.1); the others follow it.
    #[arg(long, default_value_t = 5433)]
    pub port: u16,
    /// Port of the playground's proxy (127.0.0.1); 0 runs no proxy.
    #[arg(long, default_value_t = 6432)]
    pub proxy_port: u16,
    /// HTTP port of the proxy's `/metrics` (127.0.0.1).
    #[arg(long, default_value_t = 6480)]
    pub proxy_admin_port: u16,
    /// Two sites: a primary cluster (dc1) and a standby cluster (dc2)
    /// with a WAN relay between them (see docs/geo-dr.md).
    #[arg(long)]
    pub geo: bool,
    /// Round-trip time the WAN relay adds between the sites (--geo).
    #[arg(long, default_value_t = 50)]
    pub wan_latency_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Replication {
    Sync,
    SemiSync,
    Async,
}

impl Replication {
    /// The spelling nodes and manager.toml use.
    pub fn as_str(self) -> &'static str {
        match self {
            Replication::Sync => "sync",
            Replication::SemiSync => "semi-sync",
            Replication::Async => "async",
        }
    }
}
