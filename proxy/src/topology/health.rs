//! One backend's health check: liveness, role and WAL position.
//!
//! A [`Checker`] keeps one tokio-postgres connection to its backend (made
//! lazily, dropped on any failure so the next check reconnects) and runs
//! one simple-protocol query per check:
//!
//! ```sql
//! SELECT pg_is_in_recovery(),
//!        CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
//!             ELSE pg_current_wal_lsn() END::text
//! ```
//!
//! which PostgreSQL 15 and RustyDB nodes both answer. The simple protocol
//! keeps the check independent of a server's prepared-statement support
//! and gives text values, parsed here (`X/Y` hex halves into one `u64`).
//! Connect and query together are bounded by `health.timeout_ms`: a server
//! that accepts and then hangs counts as failed, not as "still checking".

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::config::HealthConfig;

/// The query every check runs (see the module comment).
pub(crate) const CHECK_SQL: &str = "SELECT pg_is_in_recovery(), \
     CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
     ELSE pg_current_wal_lsn() END::text";

/// What one successful check learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probe {
    /// `pg_is_in_recovery()`: a standby (or a node still replaying).
    pub in_recovery: bool,
    /// Replay LSN on a standby, current WAL insert LSN on a primary.
    pub lsn: Option<u64>,
}

/// Parses a PostgreSQL LSN (`16/B374D848`) into its 64-bit position.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    if hi.is_empty() || lo.is_empty() || hi.len() > 8 || lo.len() > 8 {
        return None;
    }
    let hi = u32::from_str_radix(hi, 16).ok()?;
    let lo = u32::from_str_radix(lo, 16).ok()?;
    Some((u64::from(hi) << 32) | u64::from(lo))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "t" | "true" | "on" => Some(true),
        "f" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Reads the check's one row out of a simple-query answer.
pub(crate) fn parse_probe(messages: &[SimpleQueryMessage]) -> Result<Probe, String> {
    let row = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .ok_or_else(|| "health check returned no row".to_string())?;
    let recovery = row
        .try_get(0)
        .map_err(|e| format!("health check: {e}"))?
        .ok_or_else(|| "pg_is_in_recovery() is NULL".to_string())?;
    let in_recovery =
        parse_bool(recovery).ok_or_else(|| format!("pg_is_in_recovery() returned {recovery:?}"))?;
    // NULL is legitimate (a standby that has replayed nothing yet).
    let lsn = match row.try_get(1).map_err(|e| format!("health check: {e}"))? {
        None => None,
        Some(text) => Some(parse_lsn(text).ok_or_else(|| format!("unreadable LSN {text:?}"))?),
    };
    Ok(Probe { in_recovery, lsn })
}

/// Splits `host:port` (`[v6]:port` too) for tokio-postgres.
pub(crate) fn split_addr(addr: &str) -> Result<(String, u16), String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("backend address {addr:?} has no port"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("backend address {addr:?} has a bad port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("backend address {addr:?} has no host"));
    }
    Ok((host.to_string(), port))
}

/// The checker of one backend, with its kept connection.
pub(crate) struct Checker {
    addr: String,
    client: Option<tokio_postgres::Client>,
    connection: Option<JoinHandle<()>>,
}

impl Checker {
    pub(crate) fn new(addr: String) -> Self {
        Checker {
            addr,
            client: None,
            connection: None,
        }
    }

    /// One check, bounded by `health.timeout_ms`. Any failure drops the
    /// connection so the next check starts from a fresh one.
    pub(crate) async fn check(&mut self, health: &HealthConfig) -> Result<Probe, String> {
        let timeout = Duration::from_millis(health.timeout_ms.max(1));
        let result = match tokio::time::timeout(timeout, self.check_inner(health)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} ms", health.timeout_ms)),
        };
        if result.is_err() {
            self.disconnect();
        }
        result
    }

    async fn check_inner(&mut self, health: &HealthConfig) -> Result<Probe, String> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            self.connect(health).await?;
        }
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| "not connected".to_string())?;
        let messages = client
            .simple_query(CHECK_SQL)
            .await
            .map_err(|e| e.to_string())?;
        parse_probe(&messages)
    }

    async fn connect(&mut self, health: &HealthConfig) -> Result<(), String> {
        self.disconnect();
        let (host, port) = split_addr(&self.addr)?;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&host)
            .port(port)
            .user(&health.user)
            .dbname(&health.database)
            .application_name("rustydb-proxy-health")
            .connect_timeout(Duration::from_millis(health.timeout_ms.max(1)));
        if let Some(password) = &health.password {
            config.password(password);
        }
        let (client, connection) = config.connect(NoTls).await.map_err(|e| {
            // The server is up but refuses the checker: say which setting.
            match e.as_db_error().map(|d| d.code().code()) {
                Some(code) if code.starts_with("28") || code.starts_with("3D") => {
                    format!("{e} (check health.user / health.password / health.database)")
                }
                _ => e.to_string(),
            }
        })?;
        let addr = self.addr.clone();
        self.connection = Some(tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(backend = %addr, error = %e, "health connection ended");
            }
        }));
        self.client = Some(client);
        Ok(())
    }

    fn disconnect(&mut self) {
        self.client = None;
        if let Some(task) = self.connection.take() {
            task.abort();
        }
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.disconnect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_round_trips_postgres_format() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("FFFFFFFF/FFFFFFFF"), Some(u64::MAX));
        assert_eq!(parse_lsn(" 0/3000060 "), Some(0x300_0060));
        for bad in ["", "0", "/1", "1/", "x/1", "1/2/3", "100000000/0", "-1/0"] {
            assert_eq!(parse_lsn(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn addresses_split_with_ipv6_brackets() {
        assert_eq!(
            split_addr("127.0.0.1:5432").unwrap(),
            ("127.0.0.1".into(), 5432)
        );
        assert_eq!(split_addr("[::1]:6000").unwrap(), ("::1".into(), 6000));
        assert!(split_addr("localhost").is_err());
        assert!(split_addr("h:99999").is_err());
        assert!(split_addr(":5432").is_err());
    }
}
