//! The `node` and `up` subcommands (`up --nodes N>1` is in `playground`).

use std::net::SocketAddr;

use rustydb_node::server::ServerError;
use rustydb_node::{Node, NodeConfig};

use crate::cli::{ManagerArgs, NodeArgs, UpArgs};
use crate::logging;

/// `rustydb node`: config file, then flags on top.
pub async fn node(args: NodeArgs) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => NodeConfig::load(path).map_err(|e| e.to_string())?,
        None => NodeConfig::default(),
    };
    apply_replication_flags(&mut config, &args)?;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(admin) = args.admin_listen {
        config.admin_listen = Some(admin);
    }
    if let Some(dir) = args.wal_archive {
        config.backup.archive_dir = Some(dir);
    }
    if let Some(key) = args.backup_key_file {
        config.backup.key_file = Some(key);
    }
    logging::init(&config.log_level);
    let node = Node::start(config).await.map_err(explain)?;
    wait_for_signal().await;
    node.shutdown().await;
    Ok(())
}

/// Replication flags override the `[replication]` section.
fn apply_replication_flags(config: &mut NodeConfig, args: &NodeArgs) -> Result<(), String> {
    if let Some(dc) = &args.datacenter {
        config.datacenter = Some(dc.clone());
    }
    if let Some(region) = &args.region {
        config.region = Some(region.clone());
    }
    let r = &mut config.replication;
    for pair in &args.replication_endpoint_map {
        let (seen, to) = pair
            .split_once('=')
            .ok_or_else(|| format!("--replication-endpoint-map {pair}: expected SEEN=USE"))?;
        r.endpoint_map.insert(seen.to_string(), to.to_string());
    }
    if let Some(name) = &args.node_name {
        config.node_name = Some(name.clone());
    }
    if let Some(addr) = args.replication_listen {
        r.listen = Some(addr);
    }
    if let Some(follow) = &args.follow {
        r.follow = Some(follow.clone());
    }
    if let Some(mode) = &args.commit_mode {
        r.commit_mode = mode.parse()?;
    }
    if let Some(n) = args.num_sync {
        r.num_sync = n;
    }
    if let Some(list) = &args.sync_standbys {
        r.sync_standbys = list.iter().filter(|s| !s.is_empty()).cloned().collect();
    }
    if let Some(q) = &args.sync_quorum {
        r.sync_quorum = match q.as_str() {
            "any" => rustydb_node::replication::config::SyncQuorum::Any,
            "first" => rustydb_node::replication::config::SyncQuorum::First,
            other => return Err(format!("--sync-quorum must be any or first, not {other}")),
        };
    }
    if let Some(ms) = args.sync_timeout_ms {
        r.sync_timeout_ms = ms;
    }
    if let Some(ms) = args.semi_sync_timeout_ms {
        r.semi_sync_timeout_ms = ms;
    }
    Ok(())
}

/// `rustydb up`: `--nodes 1` runs one node in this process (as before);
/// more nodes are child processes, see [`crate::playground`].
pub async fn up(args: UpArgs) -> Result<(), String> {
    if args.nodes > 1 {
        logging::init("info");
        return crate::playground::up(args).await;
    }
    let mut config = NodeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], args.port)),
        // The single node keeps the directory earlier versions used.
        data_dir: args.data_dir.join("node1"),
        ..NodeConfig::default()
    };
    logging::init(&config.log_level);
    let (cert, key) = crate::tls::playground_cert(&config.data_dir)?;
    config.tls_cert = Some(cert);
    config.tls_key = Some(key);
    let data_dir = config.data_dir.clone();
    let node = Node::start(config).await.map_err(explain)?;
    let port = node.local_addr().port();
    // A static-mode proxy child in front of the node (see playground.rs).
    let mut proxy = crate::playground::single_node_proxy(&args, port).await;
    crate::playground::single_node_banner(&data_dir, port, &args, proxy.is_some());
    wait_for_signal().await;
    println!("Stopping RustyDB...");
    crate::playground::stop_proxy(proxy.as_mut()).await;
    node.shutdown().await;
    println!("Stopped.");
    Ok(())
}

/// Turns a start failure into a message a person can act on.
fn explain(e: ServerError) -> String {
    match &e {
        ServerError::Bind { addr, source } if source.kind() == std::io::ErrorKind::AddrInUse => {
            format!(
                "port {} on {} is already in use (another `rustydb up`, a node or PostgreSQL?). \
             Stop it, or pick another port (`rustydb up --port N`, `rustydb node --listen ADDR`).",
                addr.port(),
                addr.ip()
            )
        }
        _ => e.to_string(),
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `rustydb manager --config FILE`: one manager member until Ctrl-C.
pub fn proxy(args: crate::cli::ProxyArgs) -> Result<(), String> {
    if args.hash_password {
        let mut password = String::new();
        std::io::stdin()
            .read_line(&mut password)
            .map_err(|e| format!("reading the password: {e}"))?;
        let password = password.trim_end_matches(['\n', '\r']);
        println!("{}", rustydb_proxy::auth::scram_verifier(password));
        return Ok(());
    }
    let mut config = match &args.config {
        Some(path) => rustydb_proxy::ProxyConfig::read(path).map_err(|e| e.to_string())?,
        None => rustydb_proxy::ProxyConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if !args.backends.is_empty() {
        config.backends = args.backends;
        config.manager.clear();
    }
    if !args.manager.is_empty() {
        config.manager = args.manager;
        config.backends.clear();
    }
    if let Some(mode) = args.pool_mode {
        config.pool_mode = match mode.as_str() {
            "session" => rustydb_proxy::config::PoolMode::Session,
            "transaction" => rustydb_proxy::config::PoolMode::Transaction,
            other => {
                return Err(format!(
                    "--pool-mode {other}: expected session or transaction"
                ))
            }
        };
    }
    if let Some(admin) = args.admin_listen {
        config.admin_listen = admin;
    }
    if let Some(dc) = args.datacenter {
        config.datacenter = dc;
    }
    if let Some(region) = args.region {
        config.region = region;
    }
    if let Some(threads) = args.threads {
        config.threads = threads;
    }
    logging::init("info");
    // One worker: a current-thread runtime. Its run queue is FIFO, so the
    // sessions woken by one epoll round all queue their reads before a
    // multiplexing lane runs and sends them in one write (the
    // multi-thread scheduler would run the lane right after the first).
    let threads = config.worker_threads();
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime
        .block_on(rustydb_proxy::run(config, args.config, wait_for_signal()))
        .map_err(|e| e.to_string())
}

pub async fn manager(args: ManagerArgs) -> Result<(), String> {
    let config = rustydb_manager::service::ManagerConfig::load(&args.config)?;
    logging::init(config.log_level.as_deref().unwrap_or("info"));
    rustydb_manager::service::run(config).await
}

/// `rustydb wan-relay`.
pub async fn wan_relay(args: crate::cli::WanRelayArgs) -> Result<(), String> {
    use rustydb_manager::wan_relay;
    crate::logging::init("info");
    let mut routes = Vec::new();
    match (args.listen, args.target) {
        (Some(listen), Some(target)) => routes.push(wan_relay::Route { listen, target }),
        (None, None) => {}
        _ => return Err("--listen and --target go together".into()),
    }
    for r in &args.routes {
        routes.push(wan_relay::parse_route(r)?);
    }
    let link = wan_relay::LinkState {
        latency_ms: args.latency_ms,
        bandwidth_kbps: args.bandwidth_kbps,
        loss_pct: args.loss_pct.clamp(0.0, 100.0),
        partitioned: false,
    };
    wan_relay::run(routes, link, args.control).await
}
