//! The HTTP side of `rustydb-cli`: one blocking request per command.
//!
//! Every call goes to the configured API URL (any manager member answers;
//! the service forwards mutations to the Raft leader). Mutations carry the
//! bearer token when one is given. A non-2xx answer becomes
//! [`CliError::Api`] carrying the status and the service's `{"error": ...}`
//! text, so the operator sees what the manager said, verbatim; a transport
//! failure becomes [`CliError::Unreachable`] naming the URL that failed.
//!
//! Invariant: nothing here blocks without a bound (global timeout), so a
//! hung member turns into an error message, never a hung terminal.

use std::time::Duration;

use serde_json::Value;

use super::CliError;

/// How long one request may take in total. Switchover and failover wait on
/// the service's own bounded drain/promote, so this is generous.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A blocking client for the manager's HTTP API.
pub struct ApiClient {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A successful answer: its status (200, 202, ...) and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl ApiClient {
    pub fn new(base: &str, token: Option<String>) -> ApiClient {
        ApiClient::with_timeout(base, token, REQUEST_TIMEOUT)
    }

    /// Like [`ApiClient::new`] with another bound on each request (a
    /// backup runs for as long as its database takes to copy).
    pub fn with_timeout(base: &str, token: Option<String>, timeout: Duration) -> ApiClient {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // 4xx/5xx carry a JSON error we want to show, so read them.
            .http_status_as_error(false)
            .build();
        ApiClient {
            base: base.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.is_empty()),
            agent: ureq::Agent::new_with_config(config),
        }
    }

    pub fn get(&self, path: &str) -> Result<Reply, CliError> {
        let url = self.url(path);
        let mut req = self.agent.get(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        finish(&url, req.call())
    }

    /// POST, PATCH or DELETE with an optional JSON body.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, CliError> {
        let url = self.url(path);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let result = match method {
            Method::Delete => {
                let mut req = self.agent.delete(&url);
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.call()
            }
            Method::Post | Method::Patch => {
                let mut req = match method {
                    Method::Patch => self.agent.patch(&url),
                    _ => self.agent.post(&url),
                };
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                let text = body.map(Value::to_string).unwrap_or_default();
                req.header("Content-Type", "application/json").send(text)
            }
        };
        finish(&url, result)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The same API and token with another request bound.
    pub fn retimed(&self, timeout: Duration) -> ApiClient {
        ApiClient::with_timeout(&self.base, self.token.clone(), timeout)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Method {
    Post,
    Patch,
    Delete,
}

fn finish(
    url: &str,
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, CliError> {
    let mut response = result.map_err(|e| CliError::Unreachable {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| CliError::Unreachable {
            url: url.to_string(),
            reason: format!("reading the answer: {e}"),
        })?;
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
    };
    if (200..300).contains(&status) {
        return Ok(Reply { status, body });
    }
    let message = match &body {
        Value::Object(map) => match map.get("error") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => body.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Null => String::from("(no body)"),
        other => other.to_string(),
    };
    Err(CliError::Api {
        status,
        message,
        body,
    })
}
