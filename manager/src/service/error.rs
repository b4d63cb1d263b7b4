//! `ServiceError`: what an API call or a manager action can fail with, and
//! the HTTP status each maps to (`{"error": ...}` bodies, see `http.rs`).

use hyper::StatusCode;

use crate::raft::RaftError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServiceError {
    /// Malformed or invalid request (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such node, member or route (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the cluster's state (409), with details.
    #[error("{message}")]
    Conflict {
        message: String,
        detail: Option<serde_json::Value>,
    },
    /// No manager leader, no quorum, or a dependency unreachable (503).
    #[error("{0}")]
    Unavailable(String),
    /// Something failed half-way (500); the message says what state is left.
    #[error("{0}")]
    Failed(String),
}

impl ServiceError {
    pub fn status(&self) -> StatusCode {
        match self {
            ServiceError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict { .. } => StatusCode::CONFLICT,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn conflict(message: impl Into<String>) -> ServiceError {
        ServiceError::Conflict {
            message: message.into(),
            detail: None,
        }
    }
}

impl From<RaftError> for ServiceError {
    fn from(e: RaftError) -> ServiceError {
        match e {
            RaftError::NotLeader { .. } | RaftError::NoQuorum(_) | RaftError::Timeout { .. } => {
                ServiceError::Unavailable(e.to_string())
            }
            RaftError::Membership(m) => ServiceError::Conflict {
                message: m,
                detail: None,
            },
            other => ServiceError::Failed(other.to_string()),
        }
    }
}
