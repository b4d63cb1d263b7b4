//! Extended query protocol probes, rendered so two servers can be compared.
//!
//! tokio-postgres drives the extended protocol: `prepare` sends a named
//! Parse + Describe, `query` with a prepared statement Binds and Executes
//! it, `query_typed` uses the unnamed statement with given parameter types,
//! and concurrent futures on one client are pipelined. Results come back in
//! *binary* format, so comparing the raw column bytes between PostgreSQL
//! and the node checks the binary encodings of every type, not just text.
//!
//! [`ExtOutcome`] captures what a client sees: parameter type OIDs from
//! Describe, column names and type OIDs, rows as hex of the binary values,
//! or the SQLSTATE of an error. All calls are bounded by the client's
//! statement timeout.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::Row;

use crate::client::SqlClient;

/// The raw binary bytes of any column value.
struct RawValue(Vec<u8>);

impl<'a> FromSql<'a> for RawValue {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(RawValue(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// What one extended-protocol call produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtOutcome {
    Ok {
        params: Vec<u32>,
        columns: Vec<(String, u32)>,
        /// Each value as lowercase hex of its binary encoding; NULL is None.
        rows: Vec<Vec<Option<String>>>,
    },
    Error(String),
    Broken(String),
}

impl fmt::Display for ExtOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtOutcome::Ok {
                params,
                columns,
                rows,
            } => write!(f, "OK params={params:?} columns={columns:?} rows={rows:?}"),
            ExtOutcome::Error(code) => write!(f, "ERROR {code}"),
            ExtOutcome::Broken(why) => write!(f, "BROKEN {why}"),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn render(rows: &[Row]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.try_get::<_, Option<RawValue>>(i) {
                    Ok(v) => v.map(|v| hex(&v.0)),
                    Err(e) => Some(format!("<undecodable: {e}>")),
                })
                .collect()
        })
        .collect()
}

fn failure(e: &tokio_postgres::Error) -> ExtOutcome {
    match e.as_db_error() {
        Some(db) => ExtOutcome::Error(db.code().code().to_string()),
        None => ExtOutcome::Broken(e.to_string()),
    }
}

impl SqlClient {
    /// Named prepared statement (Parse/Describe), then Bind/Execute.
    pub fn prepared(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> ExtOutcome {
        let Some(client) = self.client.as_ref() else {
            return ExtOutcome::Broken("connection already lost".into());
        };
        let timeout = self.timeout;
        let fut = async {
            let stmt = client.prepare(sql).await?;
            let rows = client.query(&stmt, params).await?;
            Ok::<_, tokio_postgres::Error>((stmt, rows))
        };
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, fut).await })
        {
            Ok(Ok((stmt, rows))) => ExtOutcome::Ok {
                params: stmt.params().iter().map(Type::oid).collect(),
                columns: stmt
                    .columns()
                    .iter()
                    .map(|c| (c.name().to_string(), c.type_().oid()))
                    .collect(),
                rows: render(&rows),
            },
            Ok(Err(e)) => failure(&e),
            Err(_) => {
                self.client = None;
                ExtOutcome::Broken(format!("timed out after {timeout:?}"))
            }
        }
    }

    /// Unnamed statement with explicit parameter types, in one round trip.
    pub fn typed(&mut self, sql: &str, params: &[(&(dyn ToSql + Sync), Type)]) -> ExtOutcome {
        let Some(client) = self.client.as_ref() else {
            return ExtOutcome::Broken("connection already lost".into());
        };
        let timeout = self.timeout;
        let fut = client.query_typed(sql, params);
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, fut).await })
        {
            Ok(Ok(rows)) => ExtOutcome::Ok {
                params: params.iter().map(|(_, t)| t.oid()).collect(),
                columns: rows
                    .first()
                    .map(|r| {
                        r.columns()
                            .iter()
                            .map(|c| (c.name().to_string(), c.type_().oid()))
                            .collect()
                    })
                    .unwrap_or_default(),
                rows: render(&rows),
            },
            Ok(Err(e)) => failure(&e),
            Err(_) => {
                self.client = None;
                ExtOutcome::Broken(format!("timed out after {timeout:?}"))
            }
        }
    }

    /// Sends several parameterless prepared queries at once (pipelined on
    /// one connection) and returns their outcomes in order.
    pub fn pipelined(&mut self, sqls: &[&str]) -> Vec<ExtOutcome> {
        let Some(client) = self.client.as_ref() else {
            return vec![ExtOutcome::Broken("connection already lost".into()); sqls.len()];
        };
        let timeout = self.timeout.max(Duration::from_secs(1));
        let futs = sqls.iter().map(|sql| async move {
            match client.query(*sql, &[]).await {
                Ok(rows) => ExtOutcome::Ok {
                    params: vec![],
                    columns: vec![],
                    rows: render(&rows),
                },
                Err(e) => failure(&e),
            }
        });
        let all = futures::future::join_all(futs);
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, all).await })
        {
            Ok(v) => v,
            Err(_) => {
                self.client = None;
                vec![ExtOutcome::Broken("pipeline timed out".into()); sqls.len()]
            }
        }
    }
}

impl SqlClient {
    /// `COPY ... FROM STDIN` with `data` as the whole payload; returns the
    /// row count, or the SQLSTATE (`Err`) of a failure.
    pub fn copy_in(&mut self, sql: &str, data: &[u8]) -> Result<u64, String> {
        use futures::SinkExt;
        let Some(client) = self.client.as_ref() else {
            return Err("BROKEN connection already lost".into());
        };
        let timeout = self.timeout;
        let payload = bytes::Bytes::copy_from_slice(data);
        let fut = async {
            let sink = client.copy_in::<_, bytes::Bytes>(sql).await?;
            futures::pin_mut!(sink);
            sink.send(payload).await?;
            sink.as_mut().finish().await
        };
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, fut).await })
        {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(failure(&e).to_string()),
            Err(_) => {
                self.client = None;
                Err("BROKEN timed out".into())
            }
        }
    }

    /// `COPY ... TO STDOUT`; returns the bytes, or the SQLSTATE (`Err`).
    pub fn copy_out(&mut self, sql: &str) -> Result<Vec<u8>, String> {
        use futures::TryStreamExt;
        let Some(client) = self.client.as_ref() else {
            return Err("BROKEN connection already lost".into());
        };
        let timeout = self.timeout;
        let fut = async {
            let stream = client.copy_out(sql).await?;
            let chunks: Vec<bytes::Bytes> = stream.try_collect().await?;
            Ok::<_, tokio_postgres::Error>(chunks.concat())
        };
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, fut).await })
        {
            Ok(Ok(b)) => Ok(b),
            Ok(Err(e)) => Err(failure(&e).to_string()),
            Err(_) => {
                self.client = None;
                Err("BROKEN timed out".into())
            }
        }
    }
}
