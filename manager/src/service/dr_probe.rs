//! Probing the remote (primary) site of a standby cluster over pgwire.
//!
//! Every member of a standby cluster probes the configured
//! `primary_hosts` every `[dr] probe_interval_ms` (followers too, so any
//! member answers `GET /dr/status`). A probe opens one short connection
//! per host, concurrently, and asks `SELECT pg_is_in_recovery(),
//! rustydb_current_lsn()`; the host answering "not in recovery" is the
//! primary site's current primary. On it, `rustydb_stat_replication`
//! gives the primary's own view of our standby leader (records and bytes
//! behind, replay lag), which is the most accurate lag figure there is:
//! it is measured where the records are produced.
//!
//! Everything here is read-only on the remote site and bounded by
//! timeouts; a site that does not answer is an error value, never a hang.

use std::time::Duration;

use tokio_postgres::SimpleQueryMessage;

/// What one probe of the primary site found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemotePrimary {
    /// The `primary_hosts` entry that answered as a primary.
    pub host: String,
    /// Its last durable LSN (integer form).
    pub lsn: u64,
    /// Its view of each replica streaming from it, by name.
    pub replicas: Vec<RemoteReplica>,
}

/// One row of the remote primary's `rustydb_stat_replication`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemoteReplica {
    pub name: String,
    pub lag_records: u64,
    pub lag_bytes: u64,
    /// `replay_lag` in seconds (None: NULL, i.e. caught up or never acked).
    pub replay_lag_s: Option<f64>,
}

/// Parses a `pg_lsn` text (`hi/lo` in hex) into its integer form.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    Some((hi << 32) | lo)
}

/// Parses an interval as PostgreSQL prints it (`[N day[s] ]HH:MM:SS[.f]`)
/// into seconds; anything else is None.
pub fn parse_interval_s(text: &str) -> Option<f64> {
    let mut days = 0.0;
    let mut rest = text.trim();
    if let Some((d, tail)) = rest.split_once(' ') {
        if tail.starts_with("day") {
            days = d.parse::<f64>().ok()?;
            rest = tail.split_once(' ').map_or("", |(_, t)| t).trim();
        }
    }
    if rest.is_empty() {
        return Some(days * 86_400.0);
    }
    let (neg, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let mut parts = rest.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let t = h * 3600.0 + m * 60.0 + s;
    Some(days * 86_400.0 + if neg { -t } else { t })
}

/// Runs simple queries on `host` (pgwire `host:port`) as `postgres`.
pub async fn simple(
    host: &str,
    sql: &str,
    timeout: Duration,
) -> Result<Vec<Vec<Option<String>>>, String> {
    let (h, port) = match host.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("bad port in {host}"))?,
        ),
        None => return Err(format!("{host}: expected host:port")),
    };
    let mut conf = tokio_postgres::Config::new();
    conf.host(h)
        .port(port)
        .user("postgres")
        .dbname("postgres")
        .application_name("rustydb-manager-dr")
        .connect_timeout(timeout);
    let work = async {
        let (client, connection) = conf
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("{host}: {e}"))?;
        let conn = tokio::spawn(connection);
        let rows = client.simple_query(sql).await.map_err(|e| {
            let detail = e
                .as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string());
            format!("{host}: {detail}")
        });
        drop(client);
        conn.abort();
        let rows = rows?
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        Ok(rows)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("{host}: timed out")),
    }
}

/// Probes one host: Some(lsn) when it is a primary, None when a replica.
async fn probe_host(host: &str, timeout: Duration) -> Result<Option<u64>, String> {
    let rows = simple(
        host,
        "SELECT pg_is_in_recovery(), rustydb_current_lsn()",
        timeout,
    )
    .await?;
    let row = rows
        .first()
        .ok_or_else(|| format!("{host}: no answer row"))?;
    let in_recovery = row.first().cloned().flatten();
    let lsn = row.get(1).cloned().flatten().as_deref().and_then(parse_lsn);
    match (in_recovery.as_deref(), lsn) {
        (Some("f"), Some(lsn)) => Ok(Some(lsn)),
        (Some("t"), _) => Ok(None),
        _ => Err(format!("{host}: unreadable answer")),
    }
}

/// Probes every host and answers the primary among them (the one with
/// the highest LSN if, mid-failover, two claim it).
pub async fn find_primary(hosts: &[String], timeout: Duration) -> Result<RemotePrimary, String> {
    let answers = futures::future::join_all(hosts.iter().map(|h| probe_host(h, timeout))).await;
    let mut errors = Vec::new();
    let mut best: Option<(String, u64)> = None;
    for (host, answer) in hosts.iter().zip(answers) {
        match answer {
            Ok(Some(lsn)) if best.as_ref().is_none_or(|(_, b)| lsn > *b) => {
                best = Some((host.clone(), lsn))
            }
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    let Some((host, lsn)) = best else {
        return Err(if errors.is_empty() {
            "no primary among the primary hosts".to_string()
        } else {
            format!("no primary found ({})", errors.join("; "))
        });
    };
    let replicas = simple(
        &host,
        "SELECT application_name, lag_records, lag_bytes, replay_lag FROM rustydb_stat_replication",
        timeout,
    )
    .await
    .unwrap_or_default()
    .into_iter()
    .filter_map(|r| {
        let get = |i: usize| r.get(i).cloned().flatten();
        Some(RemoteReplica {
            name: get(0)?,
            lag_records: get(1).and_then(|v| v.parse().ok()).unwrap_or(0),
            lag_bytes: get(2).and_then(|v| v.parse().ok()).unwrap_or(0),
            replay_lag_s: get(3).as_deref().and_then(parse_interval_s),
        })
    })
    .collect();
    Ok(RemotePrimary {
        host,
        lsn,
        replicas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lsn_and_interval() {
        assert_eq!(parse_lsn("0/2A"), Some(42));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(parse_lsn("zz"), None);
        assert_eq!(parse_interval_s("00:00:00.25"), Some(0.25));
        assert_eq!(parse_interval_s("01:02:03"), Some(3723.0));
        assert_eq!(parse_interval_s("2 days 00:00:01"), Some(172_801.0));
        assert_eq!(parse_interval_s("1 day"), Some(86_400.0));
        assert_eq!(parse_interval_s("soon"), None);
    }
}
