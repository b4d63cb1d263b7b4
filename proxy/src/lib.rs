//! The RustyDB proxy: one pgwire address in front of a replicated cluster.
//!
//! A client connects here as it would to PostgreSQL. The proxy
//! authenticates it, works out its service, and then, statement by
//! statement, decides which backend runs what and relays the protocol
//! frames without decoding rows:
//!
//! ```text
//!  client ──► server (accept, limits, TLS) ──► auth (HBA, SCRAM/md5/trust)
//!                                                │
//!                       session: one task per client, a state machine
//!                       │  classify (rustydb-sql, cached by text)
//!                       │  routing: Route { target, reason, ... }
//!                       │  pool: a checked-out backend guard (RAII)
//!                       ▼
//!                 backend ◄── topology (static role detection or the
//!                              manager's /topology long-poll; health, bans)
//! ```
//!
//! Invariants: a transaction never changes backend; a statement that might
//! write never reaches a replica (when in doubt, the primary); bytes from a
//! client never reach a backend before the client is authenticated; and no
//! input a client sends can take the process down — it gets an
//! `ErrorResponse` with the right SQLSTATE or a closed socket.

pub mod admin;
pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod pool;
pub mod routing;
pub mod server;
pub mod session;
pub mod state;
pub mod topology;
pub mod wire;

pub use config::ProxyConfig;
pub use error::{ProxyError, Result};
pub use server::run;

/// The admin console (the `rustydb` database) — wired to `admin::` later.
pub(crate) async fn admin_console<S>(
    _shared: std::sync::Arc<state::Shared>,
    mut stream: S,
    _cancel: pool::cancel::CancelHandle,
) -> Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    use tokio::io::AsyncWriteExt;
    let msg = wire::messages::error_response("FATAL", "0A000", "admin console not built yet");
    stream.write_all(&msg).await?;
    Ok(())
}
