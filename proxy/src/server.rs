//! Accepting clients: listeners, limits, TLS, startup and authentication.
//!
//! [`run`] binds the main address and every per-service `listen`
//! address, and spawns one task per client. A client task negotiates TLS
//! (SSLRequest; GSSENCRequest is declined), reads the StartupMessage,
//! enforces the connection limits (`53300`), works out the service
//! (decision 6), authenticates, sends the startup reply — the backend's
//! ParameterStatus values (learned from the first pooled connection), a
//! BackendKeyData that is the proxy's own key for this client, and
//! ReadyForQuery — and hands over to the session. A CancelRequest is
//! forwarded to the backend the client is using. The database `rustydb`
//! is the admin console.
//!
//! Background tasks: the pool reaper (idle timeouts, backends the
//! topology dropped), and SIGHUP configuration reload.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::auth::Authenticator;
use crate::config::ProxyConfig;
use crate::error::{ProxyError, Result};
use crate::metrics::ProxyMetrics;
use crate::pool::PoolKey;
use crate::routing::select_service;
use crate::session::settings::Settings;
use crate::session::{ClientContext, Session};
use crate::state::{ClientInfo, Shared};
use crate::topology::Topology;
use crate::wire::messages::{
    backend_key_data, error_response, error_with_hint, parameter_status, ready_for_query,
};
use crate::wire::startup::StartupRequest;

/// Parameters a client's own startup value overrides in the reply.
const CLIENT_REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "IntervalStyle",
    "TimeZone",
];

/// Starts the proxy and serves until `shutdown` resolves.
pub async fn run(
    config: ProxyConfig,
    config_path: Option<std::path::PathBuf>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    config.validate()?;
    let config = Arc::new(config);
    let metrics =
        Arc::new(ProxyMetrics::new().map_err(|e| ProxyError::Config(format!("metrics: {e}")))?);
    let auth = Authenticator::new(&config)?;
    let topology = Topology::start(config.clone(), metrics.clone())?;
    let shared = Arc::new(Shared::new(
        config.clone(),
        auth,
        topology,
        metrics,
        config_path,
    ));

    let mut listeners = vec![(bind(&config.listen).await?, None)];
    for (name, service) in &config.services {
        if let Some(addr) = &service.listen {
            listeners.push((bind(addr).await?, Some(name.clone())));
        }
    }
    for (listener, service) in listeners {
        tokio::spawn(accept_loop(shared.clone(), listener, service));
    }
    // The metrics endpoint: bound here so a bad `admin_listen` fails startup.
    let (stop_admin, mut admin_stopped) = tokio::sync::watch::channel(false);
    if !config.admin_listen.is_empty() {
        let listener = bind(&config.admin_listen).await?;
        let metrics = shared.metrics.clone();
        tokio::spawn(async move {
            let stop = async move {
                let _ = admin_stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = crate::admin::serve_metrics_on(listener, metrics, stop).await {
                tracing::error!(error = %e, "metrics endpoint stopped");
            }
        });
    }
    tokio::spawn(reap_pools(shared.clone()));
    tokio::spawn(reload_on_sighup(shared.clone()));
    tracing::info!(listen = %config.listen, "proxy ready");
    shutdown.await;
    tracing::info!("proxy stopping");
    let _ = stop_admin.send(true);
    Ok(())
}

async fn bind(addr: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| ProxyError::Config(format!("cannot listen on {addr}: {e}")))
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, service: Option<String>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                let service = service.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle_client(shared, stream, peer, service).await {
                        tracing::debug!(%peer, error = %e, "client ended with an error");
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One client connection from its first byte.
async fn handle_client(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    listen_service: Option<String>,
) -> Result<()> {
    let _ = stream.set_nodelay(true);
    let config = shared.config();
    let timeout = Duration::from_millis(config.limits.startup_timeout_ms);
    let auth = shared.auth();
    let mut tls_offered = false;
    loop {
        let request = match tokio::time::timeout(timeout, StartupRequest::read(&mut stream)).await {
            Ok(r) => r,
            Err(_) => return Ok(()),
        };
        let request = match request {
            Ok(r) => r,
            Err(e) => return reject(&mut stream, &shared, e, "protocol").await,
        };
        match request {
            StartupRequest::Ssl if !tls_offered => {
                tls_offered = true;
                match auth.tls_acceptor() {
                    Some(acceptor) => {
                        stream.write_all(b"S").await?;
                        let tls = tokio::time::timeout(timeout, acceptor.accept(stream))
                            .await
                            .map_err(|_| {
                                ProxyError::Protocol("TLS handshake timed out".into())
                            })??;
                        return startup_over(shared, tls, peer, listen_service, true).await;
                    }
                    None => stream.write_all(b"N").await?,
                }
            }
            StartupRequest::GssEnc if !tls_offered => stream.write_all(b"N").await?,
            StartupRequest::Cancel { pid, secret } => {
                shared.cancels.cancel(pid, secret).await;
                return Ok(());
            }
            StartupRequest::Startup(params) => {
                return serve(shared, stream, peer, listen_service, params, false).await
            }
            _ => {
                let e = ProxyError::Protocol("unexpected repeated SSL negotiation".into());
                return reject(&mut stream, &shared, e, "protocol").await;
            }
        }
    }
}

/// After TLS: the StartupMessage comes over the encrypted stream.
async fn startup_over<S: AsyncRead + AsyncWrite + Unpin + Send>(
    shared: Arc<Shared>,
    mut stream: S,
    peer: SocketAddr,
    listen_service: Option<String>,
    tls: bool,
) -> Result<()> {
    let timeout = Duration::from_millis(shared.config().limits.startup_timeout_ms);
    let request = tokio::time::timeout(timeout, StartupRequest::read(&mut stream))
        .await
        .map_err(|_| ProxyError::Protocol("startup timed out".into()))?;
    match request {
        Ok(StartupRequest::Startup(params)) => {
            serve(shared, stream, peer, listen_service, params, tls).await
        }
        Ok(StartupRequest::Cancel { pid, secret }) => {
            shared.cancels.cancel(pid, secret).await;
            Ok(())
        }
        Ok(_) => {
            let e = ProxyError::Protocol("unexpected SSL negotiation inside TLS".into());
            reject(&mut stream, &shared, e, "protocol").await
        }
        Err(e) => reject(&mut stream, &shared, e, "protocol").await,
    }
}

/// Sends a FATAL error and ends the connection.
async fn reject<S: AsyncWrite + Unpin>(
    stream: &mut S,
    shared: &Shared,
    e: ProxyError,
    reason: &str,
) -> Result<()> {
    shared
        .metrics
        .client_rejections
        .with_label_values(&[reason])
        .inc();
    let msg = error_response("FATAL", e.sqlstate(), &e.to_string());
    let _ = stream.write_all(&msg).await;
    let _ = stream.shutdown().await;
    Err(e)
}

/// Counts a client while it is connected.
struct ClientSlot<'a> {
    shared: &'a Shared,
}

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        self.shared.client_count.fetch_sub(1, Ordering::Relaxed);
        self.shared.metrics.client_connections.dec();
    }
}

/// Limits, service, authentication, startup reply, then the session.
async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
    shared: Arc<Shared>,
    mut stream: S,
    peer: SocketAddr,
    listen_service: Option<String>,
    params: HashMap<String, String>,
    tls: bool,
) -> Result<()> {
    let config = shared.config();
    let count = shared.client_count.fetch_add(1, Ordering::Relaxed) + 1;
    shared.metrics.client_connections.inc();
    let _slot = ClientSlot { shared: &shared };
    if count > config.limits.max_client_conn {
        let e = ProxyError::fatal("53300", "sorry, too many clients already");
        return reject(&mut stream, &shared, e, "limit").await;
    }
    let user = params.get("user").cloned().unwrap_or_default();
    let (service, database) = match select_service(&config, &params, listen_service.as_deref()) {
        Ok(s) => s,
        Err(e) => return reject(&mut stream, &shared, e, "service").await,
    };
    if let Some(limit) = config.services.get(&service).map(|s| s.max_connections) {
        let in_service = shared
            .clients
            .lock()
            .values()
            .filter(|c| c.service == service)
            .count();
        if limit > 0 && in_service >= limit {
            let e = ProxyError::fatal(
                "53300",
                format!("sorry, too many clients already for service \"{service}\""),
            );
            return reject(&mut stream, &shared, e, "limit").await;
        }
    }
    let max_message = config.limits.max_message_bytes;
    if let Err(e) = shared
        .auth()
        .authenticate(&mut stream, peer.ip(), &user, &database, tls, max_message)
        .await
    {
        shared
            .metrics
            .client_rejections
            .with_label_values(&["auth"])
            .inc();
        return Err(e);
    }
    // After authentication, as PostgreSQL checks startup options.
    let consistency = match crate::routing::consistency::startup_consistency(&params) {
        Ok(c) => c,
        Err(e) => {
            // PostgreSQL's FATAL for a bad startup option carries the hint.
            let hint = crate::routing::consistency::available_values_hint();
            let msg = error_with_hint("FATAL", e.sqlstate(), &e.to_string(), &hint);
            let _ = stream.write_all(&msg).await;
            let _ = stream.shutdown().await;
            shared
                .metrics
                .client_rejections
                .with_label_values(&["protocol"])
                .inc();
            return Err(e);
        }
    };
    let cancel = shared.cancels.register();
    if database == "rustydb" {
        return crate::admin_console(shared.clone(), stream, cancel).await;
    }
    let server_params = match startup_parameters(&shared, &user, &database, &config).await {
        Ok(p) => p,
        Err(e) => return reject(&mut stream, &shared, e, "backend").await,
    };
    let mut reply = bytes::BytesMut::new();
    for (name, value) in &server_params {
        let value = if CLIENT_REPORTED.contains(&name.as_str()) {
            params.get(name).unwrap_or(value)
        } else {
            value
        };
        reply.extend_from_slice(&parameter_status(name, value));
    }
    reply.extend_from_slice(&backend_key_data(cancel.pid, cancel.secret));
    reply.extend_from_slice(&ready_for_query(b'I'));
    stream.write_all(&reply).await?;

    let id = shared.add_client(ClientInfo {
        user: user.clone(),
        database: database.clone(),
        service: service.clone(),
        addr: peer.to_string(),
        connected_at: SystemTime::now(),
        backend: None,
    });
    let ctx = ClientContext {
        id,
        user,
        database,
        service,
        peer: peer.ip(),
        consistency,
    };
    let settings = Settings::from_startup(
        &params,
        &[
            "rustydb.service",
            crate::routing::consistency::CONSISTENCY_GUC,
        ],
    );
    let result = Session::new(shared.clone(), ctx, stream, cancel, settings)
        .run()
        .await;
    shared.remove_client(id);
    result
}

/// The backend's ParameterStatus values for (user, database): cached from
/// the first connection, or learned now from a connection to the primary
/// (or any backend), which also surfaces "database does not exist".
async fn startup_parameters(
    shared: &Shared,
    user: &str,
    database: &str,
    config: &ProxyConfig,
) -> Result<Vec<(String, String)>> {
    if let Some(p) = shared.pools.server_params(user, database) {
        return Ok(p);
    }
    let wait = Duration::from_millis(config.pool.acquire_timeout_ms);
    shared
        .topology
        .wait_for(|t| t.backends.iter().any(|b| b.healthy), wait)
        .await;
    let topo = shared.topology.snapshot();
    let backend = topo
        .primary()
        .or_else(|| topo.backends.iter().find(|b| b.healthy))
        .ok_or_else(|| ProxyError::fatal("57P03", "no backend is available"))?;
    let key = PoolKey {
        user: user.to_string(),
        database: database.to_string(),
        backend: backend.id.clone(),
    };
    let password = shared.auth().backend_password(user);
    let conn = shared
        .pools
        .acquire(&key, &backend.addr, password.as_deref())
        .await
        .map_err(|e| match e {
            ProxyError::Backend { .. } => ProxyError::fatal("08006", e.to_string()),
            other => other,
        })?;
    let params = conn.get().map(|c| c.params.clone()).unwrap_or_default();
    Ok(params)
}

async fn reap_pools(shared: Arc<Shared>) {
    let mut topology = shared.topology.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            changed = topology.changed() => {
                if changed.is_err() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let snapshot = shared.topology.snapshot();
        shared.pools.reap(&snapshot);
    }
}

async fn reload_on_sighup(shared: Arc<Shared>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        if let Err(e) = shared.reload() {
            tracing::error!(error = %e, "configuration reload failed; keeping the old one");
        }
    }
}
