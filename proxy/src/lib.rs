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
pub mod fanout;
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

/// The admin console (the `rustydb` database): the caller has
/// authenticated the client; this sends the startup reply (a fixed set of
/// ParameterStatus values — the console has no backend to learn them from —
/// the client's cancel key, and ReadyForQuery) and then serves
/// [`admin::run_console`] over the proxy's live state until the client
/// leaves.
pub(crate) async fn admin_console<S>(
    shared: std::sync::Arc<state::Shared>,
    mut stream: S,
    cancel: pool::cancel::CancelHandle,
) -> Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    use tokio::io::AsyncWriteExt;
    use wire::messages::{backend_key_data, parameter_status, ready_for_query};
    let mut reply = bytes::BytesMut::new();
    for (name, value) in [
        ("server_version", "15.0"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
        ("application_name", ""),
    ] {
        reply.extend_from_slice(&parameter_status(name, value));
    }
    reply.extend_from_slice(&backend_key_data(cancel.pid, cancel.secret));
    reply.extend_from_slice(&ready_for_query(b'I'));
    stream.write_all(&reply).await?;
    stream.flush().await?;
    let max_message = shared.config().limits.max_message_bytes;
    let result = admin::run_console(&mut stream, shared.as_ref(), max_message).await;
    // The key stays registered (so a cancel for it is a quiet no-op) until
    // the console ends.
    drop(cancel);
    result
}
