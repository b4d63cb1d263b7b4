//! A small synchronous SQL client with hard time bounds.
//!
//! Built on `tokio-postgres` (the engine under the sync `postgres` crate)
//! driven by a private current-thread runtime, because the sync crate offers
//! no per-statement timeout: here every statement runs under
//! `tokio::time::timeout`. When a statement times out we try a
//! CancelRequest, and if the server still does not answer the connection is
//! dropped and the client reports [`Outcome::Broken`] from then on. A
//! crashed node therefore yields `Broken` results, never a hang.
//!
//! Results use the simple query protocol so every value arrives as text,
//! exactly as psql would show it; NULL stays distinct from `''`.

use std::fmt;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

/// Default per-statement bound.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// What one statement produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Success. `columns` is `None` for commands without a row description
    /// (DDL, INSERT without RETURNING, ...). `affected` is the row count from
    /// CommandComplete (rows inserted/updated/deleted/selected).
    Ok {
        columns: Option<Vec<String>>,
        rows: Vec<Vec<Option<String>>>,
        affected: Option<u64>,
    },
    /// The server answered with an ErrorResponse.
    Error { code: String, message: String },
    /// No answer: connection lost, protocol error or timeout.
    Broken(String),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok { .. })
    }

    /// SQLSTATE of an error outcome.
    pub fn code(&self) -> Option<&str> {
        match self {
            Outcome::Error { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Rows of a successful outcome (empty otherwise).
    pub fn rows(&self) -> &[Vec<Option<String>>] {
        match self {
            Outcome::Ok { rows, .. } => rows,
            _ => &[],
        }
    }

    /// First column of the first row, if any and not NULL.
    pub fn scalar(&self) -> Option<&str> {
        self.rows().first()?.first()?.as_deref()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok {
                columns,
                rows,
                affected,
            } => {
                write!(f, "OK")?;
                if let Some(n) = affected {
                    write!(f, " ({n})")?;
                }
                if let Some(cols) = columns {
                    write!(f, " [{}]", cols.join(" | "))?;
                }
                for (i, r) in rows.iter().enumerate() {
                    if i == 20 {
                        write!(f, "\n    ... {} more rows", rows.len() - 20)?;
                        break;
                    }
                    let cells: Vec<String> = r
                        .iter()
                        .map(|c| match c {
                            None => "NULL".to_string(),
                            Some(s) => format!("{s:?}"),
                        })
                        .collect();
                    write!(f, "\n    {}", cells.join(" | "))?;
                }
                Ok(())
            }
            Outcome::Error { code, message } => write!(f, "ERROR {code}: {message}"),
            Outcome::Broken(why) => write!(f, "BROKEN: {why}"),
        }
    }
}

/// Sends a CancelRequest for whatever its session is running; usable from
/// another thread while the session blocks.
pub struct CancelHandle(tokio_postgres::CancelToken);

impl CancelHandle {
    /// Opens the cancel connection and sends the request (5 s bound).
    pub fn cancel(&self) -> Result<(), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), self.0.cancel_query(NoTls)).await
        })
        .map_err(|_| "cancel request timed out".to_string())?
        .map_err(|e| format!("cancel request: {}", describe(&e)))
    }
}

/// A connection with its own runtime; `None` client once broken.
pub struct SqlClient {
    pub(crate) rt: Runtime,
    pub(crate) client: Option<Client>,
    pub(crate) timeout: Duration,
}

impl SqlClient {
    /// Connects as `postgres` to 127.0.0.1:`port`/`db` (10 s bound).
    pub fn connect(port: u16, db: &str) -> Result<SqlClient, String> {
        SqlClient::connect_with_timeout(port, db, Duration::from_secs(10))
    }

    pub fn connect_with_timeout(
        port: u16,
        db: &str,
        timeout: Duration,
    ) -> Result<SqlClient, String> {
        let mut cfg = Config::new();
        cfg.host("127.0.0.1")
            .port(port)
            .user("postgres")
            .dbname(db)
            .connect_timeout(timeout);
        SqlClient::connect_config(&cfg, timeout)
    }

    /// Connects with a full tokio-postgres configuration (user, password,
    /// `options`, application name...), bounded by `timeout`.
    pub fn connect_config(cfg: &Config, timeout: Duration) -> Result<SqlClient, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let client = rt.block_on(async {
            let (client, conn) = tokio::time::timeout(timeout, cfg.connect(NoTls))
                .await
                .map_err(|_| format!("connect timed out after {timeout:?}"))?
                .map_err(|e| match e.as_db_error() {
                    // The SQLSTATE in a fixed form, so callers can match it.
                    Some(db) => {
                        format!("connect: {} [SQLSTATE {}]", describe(&e), db.code().code())
                    }
                    None => format!("connect: {}", describe(&e)),
                })?;
            // The connection future does the socket I/O; it runs whenever
            // the runtime is driven by one of our `block_on` calls.
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok::<_, String>(client)
        })?;
        Ok(SqlClient {
            rt,
            client: Some(client),
            timeout: STATEMENT_TIMEOUT,
        })
    }

    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// A handle that cancels this session's running statement.
    pub fn cancel_handle(&self) -> Option<CancelHandle> {
        self.client.as_ref().map(|c| CancelHandle(c.cancel_token()))
    }

    /// False once the connection is known to be gone.
    pub fn is_alive(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// Runs one statement with the simple query protocol.
    pub fn simple(&mut self, sql: &str) -> Outcome {
        let Some(client) = self.client.as_ref() else {
            return Outcome::Broken("connection already lost".into());
        };
        let timeout = self.timeout;
        let result = self
            .rt
            .block_on(async { tokio::time::timeout(timeout, client.simple_query(sql)).await });
        match result {
            Ok(Ok(msgs)) => collect(msgs),
            Ok(Err(e)) => match e.as_db_error() {
                Some(db) => Outcome::Error {
                    code: db.code().code().to_string(),
                    message: db.message().to_string(),
                },
                None => {
                    let why = describe(&e);
                    if client.is_closed() {
                        self.client = None;
                    }
                    Outcome::Broken(why)
                }
            },
            Err(_) => {
                // Ask the server to cancel, give it a moment, then give up on
                // this connection entirely.
                let token = client.cancel_token();
                let _ = self.rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(5), token.cancel_query(NoTls)).await
                });
                self.client = None;
                Outcome::Broken(format!("statement timed out after {timeout:?}"))
            }
        }
    }

    /// Runs a statement that must succeed; panics with the outcome otherwise.
    pub fn must(&mut self, sql: &str) -> Outcome {
        let out = self.simple(sql);
        assert!(out.is_ok(), "statement failed: {sql}\n  {out}");
        out
    }

    /// First value of the first row of a statement that must succeed.
    pub fn scalar(&mut self, sql: &str) -> Option<String> {
        self.must(sql).scalar().map(str::to_string)
    }
}

fn collect(msgs: Vec<SimpleQueryMessage>) -> Outcome {
    let mut columns = None;
    let mut rows = Vec::new();
    let mut affected = None;
    for m in msgs {
        match m {
            SimpleQueryMessage::RowDescription(cols) => {
                columns = Some(cols.iter().map(|c| c.name().to_string()).collect());
            }
            SimpleQueryMessage::Row(row) => {
                if columns.is_none() {
                    columns = Some(row.columns().iter().map(|c| c.name().to_string()).collect());
                }
                rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                );
            }
            SimpleQueryMessage::CommandComplete(n) => affected = Some(n),
            _ => {}
        }
    }
    Outcome::Ok {
        columns,
        rows,
        affected,
    }
}

/// Error text including the source chain (tokio-postgres hides the cause).
fn describe(e: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
