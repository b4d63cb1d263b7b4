//! Client authentication (and the proxy's own login to backends).
//!
//! Flow for one client, after the caller has read its StartupMessage (and,
//! on an SSLRequest, wrapped the socket in [`Authenticator::tls_acceptor`]):
//!
//! ```text
//! authenticate(stream, peer, user, database, tls)
//!   ├─ hba::find: first rule matching (type vs tls, address, user, db)
//!   │    none  → FATAL 28000 no pg_hba.conf entry for host "…", …
//!   │    reject→ FATAL 28000 pg_hba.conf rejects connection for host "…", …
//!   ├─ method + the user's secret (users file) pick the exchange:
//!   │    trust           → AuthenticationOk
//!   │    password        → cleartext request; compare against any secret kind
//!   │    md5             → md5 salt challenge; but a SCRAM secret upgrades to SCRAM
//!   │    scram-sha-256   → SASL (pgwire's server state machine, see scram.rs)
//!   └─ success: AuthenticationOk written, Ok(()).
//!      failure: FATAL ErrorResponse written, Err (the caller closes).
//! ```
//!
//! Invariants:
//! - Reads are exactly one message at a time (tag, length, body bounded by
//!   `max_message_bytes`): the caller keeps reading the same stream after
//!   authentication, so not one byte past the client's password messages
//!   is consumed here.
//! - A failed password, a missing user and a user whose secret cannot
//!   serve the method all end the same way, `28P01 password
//!   authentication failed for user "…"`, after the same exchange (a mock
//!   SCRAM verifier or md5 salt for unknown users), as PostgreSQL does;
//!   the real reason goes to the log only.
//! - A client that hangs up mid-exchange (psql does, to prompt for a
//!   password) gets no error written and an `Io` error returned.
//! - Malformed SASL messages are FATAL `08P01`.
//!
//! As in PostgreSQL, the `md5` method with a stored SCRAM verifier runs
//! SCRAM instead (md5 cannot be computed from a verifier), and the
//! `scram-sha-256` method with a stored md5 hash fails (a SCRAM proof
//! cannot be checked against md5). A plain password in the users file
//! serves every method. SCRAM-SHA-256-PLUS (channel binding
//! `tls-server-end-point`) is offered on TLS connections when TLS is
//! configured here; plain SCRAM-SHA-256 always.
//!
//! The users file and TLS files are read when the `Authenticator` is built;
//! a reload builds a new one.

pub mod backend;
pub mod hba;
pub mod md5;
pub mod scram;
pub mod tls;
pub mod users;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_clients;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use pgwire::api::auth::sasl::scram::ScramServerAuth;
use pgwire::error::PgWireError;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use crate::config::ProxyConfig;
use crate::error::{ProxyError, Result};
use crate::wire::frame::{read_cstr, read_i32};
use crate::wire::messages;
use hba::{Method, Rule};
use scram::Verifier;
use users::Secret;

pub use backend::backend_authenticate;
pub use scram::scram_verifier;

const SCRAM: &str = "SCRAM-SHA-256";
const SCRAM_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// Everything needed to authenticate clients; built from the config (the
/// users file is read now; rebuilt on reload).
pub struct Authenticator {
    rules: Vec<Rule>,
    users: HashMap<String, Secret>,
    backend_passwords: BTreeMap<String, String>,
    tls: Option<TlsAcceptor>,
    scram_plain: ScramServerAuth,
    /// With the certificate configured: offers SCRAM-SHA-256-PLUS on TLS.
    scram_tls: Option<ScramServerAuth>,
    /// Derives mock salts for unknown users (stable within the process).
    mock_key: [u8; 32],
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("rules", &self.rules.len())
            .field("users", &self.users.len())
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// How a failed authentication ends, before it becomes a `ProxyError`.
fn password_failed(user: &str) -> ProxyError {
    ProxyError::fatal(
        "28P01",
        format!("password authentication failed for user \"{user}\""),
    )
}

fn protocol(message: impl Into<String>) -> ProxyError {
    ProxyError::fatal("08P01", message)
}

impl Authenticator {
    /// Compiles HBA rules, reads the users file and the TLS files.
    pub fn new(config: &ProxyConfig) -> Result<Self> {
        let rules = hba::compile(&config.auth.hba)?;
        let users = match &config.auth.users_file {
            Some(path) => users::load(path)?,
            None => HashMap::new(),
        };
        let (tls, scram_tls) = match &config.tls {
            Some(t) => {
                let loaded = tls::load(t)?;
                let mut with_binding = ScramServerAuth::new();
                // A certificate whose signature algorithm pgwire cannot map
                // only loses channel binding, not TLS.
                let scram_tls = match with_binding.configure_certificate(&loaded.cert_pem) {
                    Ok(()) => Some(with_binding),
                    Err(e) => {
                        tracing::warn!(error = %e, "SCRAM channel binding disabled for this certificate");
                        None
                    }
                };
                (Some(loaded.acceptor), scram_tls)
            }
            None => (None, None),
        };
        Ok(Authenticator {
            rules,
            users,
            backend_passwords: config.auth.backend_passwords.clone(),
            tls,
            scram_plain: ScramServerAuth::new(),
            scram_tls,
            mock_key: rand::random(),
        })
    }

    /// rustls acceptor when `[tls]` is configured.
    pub fn tls_acceptor(&self) -> Option<TlsAcceptor> {
        self.tls.clone()
    }

    /// The password to log in to backends as `user`, if any:
    /// `auth.backend_passwords`, else a plain password from the users file.
    pub fn backend_password(&self, user: &str) -> Option<String> {
        if let Some(pw) = self.backend_passwords.get(user) {
            return Some(pw.clone());
        }
        match self.users.get(user) {
            Some(Secret::Plain(pw)) => Some(pw.clone()),
            _ => None,
        }
    }

    /// After the StartupMessage: picks the HBA rule and runs its exchange.
    /// Success writes AuthenticationOk; failure writes a FATAL
    /// ErrorResponse (unless the client already hung up) and returns Err.
    pub async fn authenticate<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        stream: &mut S,
        peer: IpAddr,
        user: &str,
        database: &str,
        tls: bool,
        max_message_bytes: usize,
    ) -> Result<()> {
        let result = self
            .exchange(stream, peer, user, database, tls, max_message_bytes)
            .await;
        match result {
            Ok(()) => {
                stream.write_all(&messages::auth_ok()).await?;
                stream.flush().await?;
                tracing::debug!(%peer, user, database, tls, "client authenticated");
                Ok(())
            }
            Err(ProxyError::Io(e)) => {
                tracing::debug!(%peer, user, error = %e, "client left during authentication");
                Err(ProxyError::Io(e))
            }
            Err(e) => {
                tracing::info!(%peer, user, database, tls, error = %e, "authentication failed");
                let msg = messages::error_response("FATAL", e.sqlstate(), &e.to_string());
                // The client may be gone already; the error is what matters.
                if stream.write_all(&msg).await.is_ok() {
                    let _ = stream.flush().await;
                }
                Err(e)
            }
        }
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        stream: &mut S,
        peer: IpAddr,
        user: &str,
        database: &str,
        tls: bool,
        max: usize,
    ) -> Result<()> {
        let encryption = if tls {
            "SSL encryption"
        } else {
            "no encryption"
        };
        let Some(rule) = hba::find(&self.rules, peer, user, database, tls) else {
            return Err(ProxyError::fatal(
                "28000",
                format!("no pg_hba.conf entry for host \"{peer}\", user \"{user}\", database \"{database}\", {encryption}"),
            ));
        };
        let secret = self.users.get(user);
        match rule.method {
            Method::Trust => Ok(()),
            Method::Reject => Err(ProxyError::fatal(
                "28000",
                format!("pg_hba.conf rejects connection for host \"{peer}\", user \"{user}\", database \"{database}\", {encryption}"),
            )),
            Method::Password => self.cleartext(stream, user, secret, max).await,
            Method::Md5 => match secret {
                Some(Secret::Scram(v)) => self.scram(stream, user, Some(v.clone()), tls, max).await,
                Some(Secret::Md5(hash)) => md5_exchange(stream, user, Some(hash.clone()), max).await,
                Some(Secret::Plain(pw)) => {
                    md5_exchange(stream, user, Some(md5::stored_hash(pw, user)), max).await
                }
                None => md5_exchange(stream, user, None, max).await,
            },
            Method::ScramSha256 => {
                let verifier = match secret {
                    Some(Secret::Scram(v)) => Some(v.clone()),
                    // Derived per attempt: a fresh salt costs one PBKDF2,
                    // which the client pays too.
                    Some(Secret::Plain(pw)) => {
                        let pw = pw.clone();
                        Some(off_runtime(move || Verifier::from_password(&pw)).await?)
                    }
                    Some(Secret::Md5(_)) => {
                        tracing::info!(user, "user has an md5 secret, cannot use scram-sha-256");
                        None
                    }
                    None => None,
                };
                self.scram(stream, user, verifier, tls, max).await
            }
        }
    }

    async fn cleartext<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        stream: &mut S,
        user: &str,
        secret: Option<&Secret>,
        max: usize,
    ) -> Result<()> {
        send(stream, &messages::auth_cleartext()).await?;
        let body = read_password_message(stream, max).await?;
        let mut b = &body[..];
        let password = read_cstr(&mut b).map_err(|_| protocol("invalid password packet size"))?;
        if password.is_empty() {
            tracing::info!(user, "empty password");
            return Err(password_failed(user));
        }
        let ok = match secret {
            Some(Secret::Plain(pw)) => bool::from(subtle::ConstantTimeEq::ct_eq(
                pw.as_bytes(),
                password.as_bytes(),
            )),
            Some(Secret::Md5(hash)) => bool::from(subtle::ConstantTimeEq::ct_eq(
                hash.as_bytes(),
                md5::stored_hash(&password, user).as_bytes(),
            )),
            Some(Secret::Scram(v)) => {
                let v = v.clone();
                off_runtime(move || v.matches_password(&password)).await?
            }
            None => false,
        };
        if ok {
            Ok(())
        } else {
            Err(password_failed(user))
        }
    }

    async fn scram<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        stream: &mut S,
        user: &str,
        verifier: Option<Verifier>,
        tls: bool,
        max: usize,
    ) -> Result<()> {
        let known = verifier.is_some();
        let verifier = verifier.unwrap_or_else(|| Verifier::mock(&self.mock_key, user));
        let (server, mechanisms): (&ScramServerAuth, &[&str]) = match (&self.scram_tls, tls) {
            (Some(with_binding), true) => (with_binding, &[SCRAM_PLUS, SCRAM]),
            _ => (&self.scram_plain, &[SCRAM]),
        };
        send(stream, &messages::auth_sasl(mechanisms)).await?;

        // SASLInitialResponse: mechanism, length of data (-1: none), data.
        let body = read_password_message(stream, max).await?;
        let mut b = &body[..];
        let malformed = || protocol("malformed SASL message");
        let mechanism = read_cstr(&mut b).map_err(|_| malformed())?;
        if !mechanisms.contains(&mechanism.as_str()) {
            return Err(protocol(
                "client selected an invalid SASL authentication mechanism",
            ));
        }
        let len = read_i32(&mut b).map_err(|_| malformed())?;
        if len < 0 || len as usize != b.len() {
            return Err(malformed());
        }
        // The gs2 flag must agree with the mechanism picked: "p=" only
        // with -PLUS, and -PLUS only with "p=".
        if (mechanism == SCRAM_PLUS) != b.starts_with(b"p=") {
            return Err(protocol("malformed SCRAM message (channel binding flag does not match the selected mechanism)"));
        }
        let (server_first, waiting) = server
            .on_client_first_message_with_secret(b, verifier.to_secret())
            .map_err(scram_error(user))?;
        send(
            stream,
            &messages::auth_sasl_continue(server_first.as_bytes()),
        )
        .await?;

        let client_final = read_password_message(stream, max).await?;
        let server_final = waiting
            .on_client_final_message(&client_final)
            .map_err(scram_error(user))?;
        if !known {
            // Unreachable in practice (random keys), but never let a mock in.
            return Err(password_failed(user));
        }
        send(stream, &messages::auth_sasl_final(server_final.as_bytes())).await
    }
}

fn scram_error(user: &str) -> impl Fn(PgWireError) -> ProxyError + '_ {
    move |e| match e {
        PgWireError::InvalidPassword(_) => password_failed(user),
        other => protocol(format!("malformed SCRAM message: {other}")),
    }
}

async fn md5_exchange<S: AsyncRead + AsyncWrite + Unpin + Send>(
    stream: &mut S,
    user: &str,
    stored: Option<String>,
    max: usize,
) -> Result<()> {
    let salt: [u8; 4] = rand::random();
    send(stream, &messages::auth_md5(salt)).await?;
    let body = read_password_message(stream, max).await?;
    let mut b = &body[..];
    let response = read_cstr(&mut b).map_err(|_| protocol("invalid password packet size"))?;
    match stored {
        Some(hash) if md5::verify(&hash, salt, &response) => Ok(()),
        Some(_) => Err(password_failed(user)),
        None => {
            tracing::info!(user, "no such user in the users file");
            Err(password_failed(user))
        }
    }
}

/// PBKDF2 (thousands of HMACs, more if a verifier says so) runs on the
/// blocking pool, not on a runtime thread other clients share.
async fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ProxyError::fatal("XX000", format!("authentication task failed: {e}")))
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, msg: &[u8]) -> Result<()> {
    stream.write_all(msg).await?;
    stream.flush().await?;
    Ok(())
}

/// Reads one `PasswordMessage`-family message ('p') and returns its body.
async fn read_password_message<S: AsyncRead + Unpin>(
    stream: &mut S,
    max: usize,
) -> Result<Vec<u8>> {
    let (tag, body) = match backend::read_message(stream, max).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(protocol(format!("invalid message: {e}")))
        }
        Err(e) => return Err(ProxyError::Io(e)),
    };
    if tag != b'p' {
        return Err(protocol(format!(
            "expected password response, got message type {tag}"
        )));
    }
    Ok(body)
}
