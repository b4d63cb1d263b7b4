//! Authentication: which method a user gets, and running it.
//!
//! The methods are PostgreSQL's `trust`, `password` (cleartext, meant for
//! TLS connections) and `scram-sha-256`. The exchanges themselves are
//! pgwire's: a per-connection `AuthMechanism` created from a factory
//! (`CleartextPasswordAuth`, or `ScramAuth` inside `SaslMechanisms`), which
//! we step with the client's password messages until it says Ok or Failed.
//! We only decide the method and look up the secret.
//!
//! Method choice: a user listed in the config uses its own `method` (or the
//! node default `auth`); an unlisted user uses the default, and with a
//! password method an unlisted user simply fails with `28P01`, like a role
//! without a password in PostgreSQL. Under `trust`, any user name is
//! accepted, which is what `initdb -A trust` gives and what lets `psql`
//! with the OS user name connect to a fresh playground.
//!
//! SCRAM secrets are derived once at startup (salted password with a random
//! salt per user), so a connection costs one SCRAM exchange and no PBKDF2.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::auth::cleartext::CleartextPasswordAuth;
use pgwire::api::auth::mechanism::{AuthMechanism, AuthMechanismFactory};
use pgwire::api::auth::sasl::scram::{gen_salted_password, ScramAuth};
use pgwire::api::auth::sasl::SaslMechanisms;
use pgwire::api::auth::{AuthSource, LoginInfo, Password};
use pgwire::error::{PgWireError, PgWireResult};

use crate::config::{AuthMethod, NodeConfig};

const SCRAM_ITERATIONS: usize = 4096;

#[derive(Debug)]
struct UserEntry {
    method: AuthMethod,
    password: Option<String>,
    /// (salt, SaltedPassword) for SCRAM.
    scram: Option<(Vec<u8>, Vec<u8>)>,
}

/// The configured users and their secrets.
#[derive(Debug)]
struct Users {
    default_method: AuthMethod,
    entries: HashMap<String, UserEntry>,
}

/// Cleartext passwords, for the `password` method.
#[derive(Debug)]
struct CleartextSource(Arc<Users>);

#[async_trait]
impl AuthSource for CleartextSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        match self.0.entries.get(user).and_then(|e| e.password.as_ref()) {
            Some(pw) => Ok(Password::new(None, pw.as_bytes().to_vec())),
            None => Err(PgWireError::InvalidPassword(user.to_string())),
        }
    }
}

/// Salted passwords, for SCRAM-SHA-256.
#[derive(Debug)]
struct ScramSource(Arc<Users>);

#[async_trait]
impl AuthSource for ScramSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        match self.0.entries.get(user).and_then(|e| e.scram.as_ref()) {
            Some((salt, salted)) => Ok(Password::new(Some(salt.clone()), salted.clone())),
            None => Err(PgWireError::InvalidPassword(user.to_string())),
        }
    }
}

/// Everything needed to authenticate connections, built once per server.
pub(crate) struct Authenticator {
    users: Arc<Users>,
    cleartext: CleartextPasswordAuth<CleartextSource>,
    scram_plain: SaslMechanisms,
    /// SCRAM offered on TLS connections: also SCRAM-SHA-256-PLUS.
    scram_tls: Option<SaslMechanisms>,
}

impl Authenticator {
    /// Builds the user table from the config; `tls_cert_pem` enables
    /// channel binding on TLS connections.
    pub(crate) fn new(
        config: &NodeConfig,
        tls_cert_pem: Option<&[u8]>,
    ) -> Result<Authenticator, String> {
        let mut entries = HashMap::new();
        for user in &config.users {
            let method = user.method.unwrap_or(config.auth);
            let scram = user.password.as_ref().map(|pw| {
                let salt: [u8; 16] = rand::random();
                (
                    salt.to_vec(),
                    gen_salted_password(pw, &salt, SCRAM_ITERATIONS),
                )
            });
            entries.insert(
                user.name.clone(),
                UserEntry {
                    method,
                    password: user.password.clone(),
                    scram,
                },
            );
        }
        let users = Arc::new(Users {
            default_method: config.auth,
            entries,
        });
        let cleartext = CleartextPasswordAuth::new(Arc::new(CleartextSource(users.clone())));
        let mut scram = ScramAuth::new(Arc::new(ScramSource(users.clone())));
        scram.set_iterations(SCRAM_ITERATIONS);
        let scram_plain = SaslMechanisms::new(vec![Arc::new(scram.clone())]);
        let scram_tls = match tls_cert_pem {
            Some(pem) => {
                let mut with_binding = scram;
                with_binding
                    .configure_certificate(pem)
                    .map_err(|e| format!("SCRAM channel binding setup: {e}"))?;
                Some(SaslMechanisms::new(vec![Arc::new(with_binding)]))
            }
            None => None,
        };
        Ok(Authenticator {
            users,
            cleartext,
            scram_plain,
            scram_tls,
        })
    }

    /// The method `user` must pass.
    pub(crate) fn method_for(&self, user: &str) -> AuthMethod {
        self.users
            .entries
            .get(user)
            .map(|e| e.method)
            .unwrap_or(self.users.default_method)
    }

    /// A fresh mechanism for one connection, or `None` for trust.
    pub(crate) fn mechanism(
        &self,
        method: AuthMethod,
        secure: bool,
    ) -> Option<Box<dyn AuthMechanism>> {
        match method {
            AuthMethod::Trust => None,
            AuthMethod::Password => Some(self.cleartext.create()),
            AuthMethod::ScramSha256 => Some(match (&self.scram_tls, secure) {
                (Some(tls), true) => tls.create(),
                _ => self.scram_plain.create(),
            }),
        }
    }
}
