//! The node's PostgreSQL wire-protocol server.
//!
//! Clients (psql, pgbench, drivers) talk to a node exactly as to
//! PostgreSQL 15. Each connection is served by a thread of its own running
//! a small current-thread runtime, and engine calls run inline on it (see
//! `worker` for why). A connection flows through these stages, one module
//! each:
//!
//! ```text
//!  accept (mod) ─► startup: TLS (tls), startup packet, CancelRequest (cancel),
//!                  authentication (auth) ─► connection: message loop
//!                    ├─ simple:   Query
//!                    ├─ extended: Parse/Bind/Describe/Execute/Close/Sync/Flush
//!                    └─ copy:     COPY FROM STDIN / TO STDOUT
//!  framing and buffering: conn;  values ↔ wire: encode
//! ```
//!
//! Invariants:
//! - Nothing a client sends can take the process down: frames are bounded
//!   (`max_message_bytes`, `08P01`), decoding is panic-contained, and a
//!   panicking session closes only its own connection (`XX000`).
//! - A connection that ends for any reason closes its session first, so an
//!   open transaction is rolled back and its row locks released.
//! - Shutdown stops accepting, tells idle clients `57P01`, and waits
//!   (bounded) for connection tasks, cancelling running statements, so the
//!   engine and storage are dropped only after every session is closed.

mod auth;
mod cancel;
mod conn;
mod connection;
mod copy;
mod encode;
mod extended;
mod simple;
mod startup;
pub mod tls;
mod worker;

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use rustydb_sql::Engine;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::NodeConfig;
use cancel::CancelRegistry;
use startup::{Started, StartupError};

/// How long shutdown waits for connections to finish closing.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("authentication setup: {0}")]
    Auth(String),
    #[error("storage: {0}")]
    Storage(String),
    #[error("{0}")]
    Sql(#[from] rustydb_sql::Error),
}

/// State shared by all connections of one server.
pub(crate) struct Shared {
    pub(crate) engine: Arc<Engine>,
    pub(crate) auth: auth::Authenticator,
    pub(crate) tls: Option<tls::TlsSetup>,
    pub(crate) cancel: Arc<CancelRegistry>,
    pub(crate) max_connections: usize,
    pub(crate) active: AtomicUsize,
    pub(crate) max_message: usize,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// A bound, not yet serving, pgwire server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

/// Live counters of a server (for the admin API).
#[derive(Clone)]
pub struct ServerStats(Arc<Shared>);

impl ServerStats {
    /// Connections currently counted against `max_connections`.
    pub fn active_connections(&self) -> usize {
        self.0.active.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The configured connection limit.
    pub fn max_connections(&self) -> usize {
        self.0.max_connections
    }
}

/// Stops a running server.
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    /// Asks the server to stop: no new connections, idle ones get `57P01`.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Server {
    /// Binds the listen address and prepares TLS and authentication.
    pub async fn bind(config: &NodeConfig, engine: Arc<Engine>) -> Result<Server, ServerError> {
        config.validate()?;
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(tls::load(cert, key).map_err(ServerError::Tls)?),
            _ => None,
        };
        let auth = auth::Authenticator::new(config, tls.as_ref().map(|t| &t.cert_pem[..]))
            .map_err(ServerError::Auth)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let (stop, shutdown) = watch::channel(false);
        let shared = Arc::new(Shared {
            engine,
            auth,
            tls,
            cancel: Arc::new(CancelRegistry::new()),
            max_connections: config.max_connections,
            active: AtomicUsize::new(0),
            max_message: config.max_message_bytes,
            shutdown,
        });
        Ok(Server {
            listener,
            shared,
            stop,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Live counters (shared with the running server).
    pub fn stats(&self) -> ServerStats {
        ServerStats(self.shared.clone())
    }

    /// A receiver that turns true when the server is asked to stop.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.shared.shutdown.clone()
    }

    /// A handle that stops `serve`.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.stop.clone())
    }

    /// Accepts and serves connections until shut down, then waits (bounded)
    /// for the connections to close their sessions.
    pub async fn serve(self) {
        let Server {
            listener,
            shared,
            stop,
        } = self;
        let mut shutdown = shared.shutdown.clone();
        let mut tasks = JoinSet::new();
        tracing::info!(addr = ?listener.local_addr().ok(), "accepting connections");
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let _ = tcp.set_nodelay(true);
                        let shared = shared.clone();
                        match dedicated_thread(tcp, peer, shared) {
                            // The task only waits for the thread, so that
                            // shutdown can wait for every connection.
                            Some(done) => tasks.spawn(async move {
                                let _ = done.await;
                            }),
                            None => continue,
                        };
                    }
                    Err(e) => {
                        // Typically EMFILE: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = stopped(&mut shutdown) => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        drop(listener);
        let _ = stop.send(true);
        // Statements blocked on locks or scanning would hold their
        // connections (and the engine) past the grace period: cancel them.
        shared.cancel.cancel_all();
        tracing::info!(
            connections = tasks.len(),
            "shutting down: closing connections"
        );
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            // Their threads cannot be aborted from here; they end when
            // their statements notice the cancel or the process exits.
            tracing::warn!("connections still busy after the grace period; not waiting for them");
            tasks.shutdown().await;
        }
    }
}

/// Resolves once `rx` turns true (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Stack of a connection thread: as big as a main thread's, since the
/// parser, binder and executor recurse (bounded by their own limits).
const CONNECTION_STACK: usize = 8 << 20;

/// Starts the thread that serves one accepted socket. The returned receiver
/// completes (with an error: the sender is dropped) when the thread ends,
/// however it ends. `None` when the socket or the thread could not be set
/// up; the socket is then closed.
fn dedicated_thread(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
) -> Option<tokio::sync::oneshot::Receiver<()>> {
    // The socket is registered with the accepting runtime's reactor; it
    // moves to the connection thread's own.
    let tcp = match tcp.into_std() {
        Ok(tcp) => tcp,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "cannot detach an accepted socket");
            return None;
        }
    };
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("rustydb-conn".into())
        .stack_size(CONNECTION_STACK)
        .spawn(move || {
            let _done = done;
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "cannot start a connection runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                worker::mark_dedicated();
                match tokio::net::TcpStream::from_std(tcp) {
                    Ok(tcp) => serve_socket(tcp, peer, shared).await,
                    Err(e) => tracing::warn!(%peer, error = %e, "cannot register a socket"),
                }
            });
        });
    match spawned {
        Ok(_) => Some(finished),
        Err(e) => {
            // Typically the thread limit: the socket (moved into the
            // closure) is closed; the client sees the connection drop.
            tracing::warn!(%peer, error = %e, "cannot start a connection thread");
            None
        }
    }
}

/// Serves one accepted socket from startup to close.
async fn serve_socket(tcp: tokio::net::TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    match startup::start_with_timeout(tcp, peer, &shared).await {
        Ok(Started::Session(connection)) => connection.run().await,
        Ok(Started::Cancel) => {}
        Err(StartupError { conn, error }) => {
            let (code, message) = match error {
                conn::ConnError::Eof => return,
                conn::ConnError::Io(e) => {
                    tracing::debug!(%peer, error = %e, "connection failed during startup");
                    return;
                }
                conn::ConnError::Protocol(m) => ("08P01", m),
                conn::ConnError::Fatal(code, m) => (code, m),
            };
            tracing::debug!(%peer, code, %message, "startup refused");
            if let Some(mut conn) = conn {
                let _ = conn.send(encode::fatal(code, &message));
                conn.shutdown().await;
            }
        }
    }
}
