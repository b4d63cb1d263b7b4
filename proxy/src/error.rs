//! The proxy's one error type, and its mapping to SQLSTATE.
//!
//! Every failure a client can see leaves the proxy through
//! [`ProxyError::sqlstate`] and [`ProxyError::is_fatal`]: the session code
//! turns it into an `ErrorResponse` (FATAL closes the socket afterwards).
//! Errors relayed from a backend are not `ProxyError`s at all: their bytes
//! pass through unchanged.

/// What went wrong, by what the caller must do about it.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// An error to show the client as is (SQLSTATE and message chosen where
    /// it was raised). `fatal` closes the connection after sending it.
    #[error("{message}")]
    Client {
        sqlstate: &'static str,
        message: String,
        fatal: bool,
    },
    /// A backend refused the proxy's connection for this client (no such
    /// database, role, ...): the backend's own SQLSTATE and message,
    /// reported to the client as FATAL.
    #[error("{message}")]
    Refused { sqlstate: String, message: String },
    /// The client broke the protocol (bad framing, unknown message,
    /// oversized message). Always fatal.
    #[error("{0}")]
    Protocol(String),
    /// Authentication failed; the message is the one PostgreSQL uses.
    #[error("{0}")]
    Auth(String),
    /// A backend could not be reached or broke mid-conversation.
    #[error("backend {addr}: {message}")]
    Backend { addr: String, message: String },
    /// A configuration file or value is invalid.
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Shorthand used across the crate.
pub type Result<T, E = ProxyError> = std::result::Result<T, E>;

impl ProxyError {
    /// A client-visible error that keeps the session open.
    pub fn client(sqlstate: &'static str, message: impl Into<String>) -> Self {
        ProxyError::Client {
            sqlstate,
            message: message.into(),
            fatal: false,
        }
    }

    /// A client-visible error after which the connection is closed.
    pub fn fatal(sqlstate: &'static str, message: impl Into<String>) -> Self {
        ProxyError::Client {
            sqlstate,
            message: message.into(),
            fatal: true,
        }
    }

    /// The SQLSTATE a client sees for this error.
    pub fn sqlstate(&self) -> &str {
        match self {
            ProxyError::Client { sqlstate, .. } => sqlstate,
            ProxyError::Refused { sqlstate, .. } => sqlstate,
            ProxyError::Protocol(_) => "08P01",
            ProxyError::Auth(_) => "28P01",
            // connection_failure: drivers treat it as "reconnect and retry".
            ProxyError::Backend { .. } => "08006",
            ProxyError::Config(_) => "F0000",
            ProxyError::Io(_) => "08006",
        }
    }

    /// Whether the client connection must be closed after reporting it.
    pub fn is_fatal(&self) -> bool {
        match self {
            ProxyError::Client { fatal, .. } => *fatal,
            ProxyError::Backend { .. } => false,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_errors_are_fatal_backend_errors_are_not() {
        assert!(ProxyError::Protocol("x".into()).is_fatal());
        let backend = ProxyError::Backend {
            addr: "a".into(),
            message: "b".into(),
        };
        assert!(!backend.is_fatal());
        assert_eq!(backend.sqlstate(), "08006");
        assert_eq!(ProxyError::fatal("53300", "too many").sqlstate(), "53300");
    }
}
