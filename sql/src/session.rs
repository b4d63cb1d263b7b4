//! Sessions: one client connection's view of the engine.
//!
//! The protocol edge (the node's pgwire server) owns one `Session` per
//! connection and drives it with three calls: `simple_query` for the simple
//! protocol, `prepare` + `execute` for the extended protocol, and the
//! `copy_in_*` calls while a `COPY ... FROM STDIN` is streaming. The session
//! keeps what PostgreSQL keeps per backend: the open transaction (and whether
//! it failed, so later statements get `25P02` until ROLLBACK), savepoints,
//! `SET` parameters, and named prepared statements made with SQL `PREPARE`.
//!
//! Statements run synchronously: they may block on row locks, so the server
//! calls them from a blocking thread, never from an async task directly.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::catalog::DatabaseDef;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::storage::{SavepointId, Transaction};
use crate::types::zone::{self, Zone};
use crate::types::{DataType, Value};

/// A result column as described to the client (RowDescription).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    /// The OID of the table the column comes from, or 0.
    pub table_oid: u32,
    /// The column's attribute number in that table, or 0.
    pub column_id: i16,
}

impl Column {
    /// A computed column (not from a table).
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        Column {
            name: name.into(),
            data_type,
            table_oid: 0,
            column_id: 0,
        }
    }
}

/// The transaction status reported in ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnStatus {
    /// `I`: not in a transaction block.
    Idle,
    /// `T`: in a transaction block.
    InBlock,
    /// `E`: in a failed transaction block.
    Failed,
}

/// The format of a COPY stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
    Binary,
}

impl CopyFormat {
    /// The format code CopyIn/CopyOutResponse carry (0 text, 1 binary).
    pub fn wire_code(self) -> i8 {
        match self {
            CopyFormat::Binary => 1,
            CopyFormat::Text | CopyFormat::Csv => 0,
        }
    }
}

/// What one statement produced.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// A statement that returns rows (SELECT, SHOW, ... RETURNING).
    Rows {
        columns: Arc<[Column]>,
        rows: Vec<Vec<Value>>,
        /// The command tag, e.g. `SELECT 3` or `INSERT 0 2`.
        tag: String,
    },
    /// A statement without rows, with its command tag (`CREATE TABLE`, `UPDATE 5`).
    Command { tag: String },
    /// `COPY ... FROM STDIN`: the server must now run the copy-in
    /// sub-protocol, feeding `copy_in_data` and finishing with
    /// `copy_in_done` (or `copy_in_fail`).
    CopyIn { columns: usize, format: CopyFormat },
    /// `COPY ... TO STDOUT`: the rows, already formatted, one line each.
    CopyOut {
        columns: usize,
        format: CopyFormat,
        lines: Vec<Vec<u8>>,
        tag: String,
    },
    /// An empty query string.
    Empty,
}

/// A parsed and planned statement, ready to be bound and executed.
#[derive(Debug)]
pub struct Prepared {
    /// The statement text as given.
    pub sql: String,
    /// The type of each `$n` parameter (inferred where the client gave 0).
    pub param_types: Vec<DataType>,
    /// The columns it returns, or `None` when it returns no rows.
    pub columns: Option<Arc<[Column]>>,
    pub(crate) statement: Option<crate::parse::Statement>,
    /// Bound once at prepare time: the types the parameters resolved to.
    pub(crate) bound_types: Vec<Option<DataType>>,
}

/// The flag a CancelRequest sets to stop a session's running statement.
pub type CancelFlag = Arc<AtomicBool>;

/// An explicit transaction block (BEGIN ... COMMIT).
pub(crate) struct OpenTxn {
    /// `None` once a failed block has released its transaction.
    pub txn: Option<Arc<Mutex<Box<dyn Transaction>>>>,
    pub failed: bool,
    /// Savepoints: name, storage savepoint, `setting_log` length when taken.
    pub savepoints: Vec<(String, SavepointId, usize)>,
    pub start: DateTime<Utc>,
    /// As SHOW transaction_isolation reports it.
    pub isolation_name: String,
    /// Whether a statement has run in the block (SET TRANSACTION must come first).
    pub used: bool,
    /// `BEGIN READ ONLY` / `SET TRANSACTION READ ONLY` (a replica's blocks
    /// are read-only whatever this says).
    pub read_only: bool,
    /// Every setting change in the block, oldest first: undone on
    /// rollback, by `ROLLBACK TO SAVEPOINT` back to its mark, and for
    /// `SET LOCAL` at commit.
    pub setting_log: Vec<SettingChange>,
}

/// One change of a setting inside a transaction block.
#[derive(Debug, Clone)]
pub struct SettingChange {
    pub name: String,
    /// The value before the change (`None`: the setting did not exist).
    pub old: Option<String>,
    /// Made by `SET LOCAL`.
    pub local: bool,
}

/// A prepared-statement removal the server must apply to its statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deallocation {
    /// `DEALLOCATE ALL` or `DISCARD ALL`.
    All,
    /// `DEALLOCATE name`.
    Named(String),
}

/// One client connection's state.
pub struct Session {
    pub(crate) engine: Arc<Engine>,
    pub(crate) user: String,
    pub(crate) db: DatabaseDef,
    pub(crate) pid: i32,
    pub(crate) block: Option<OpenTxn>,
    pub(crate) cancel: CancelFlag,
    /// Shared with running statements; copied only when a SET changes it.
    pub(crate) settings: Arc<HashMap<String, String>>,
    pub(crate) reported_changes: Vec<(String, String)>,
    pub(crate) prepared: HashMap<String, Arc<Prepared>>,
    /// `DEALLOCATE` / `DISCARD ALL` effects on the server's protocol-level
    /// prepared statements (which the server, not the engine, holds);
    /// drained by the server after each statement.
    pub(crate) deallocations: Vec<Deallocation>,
    pub(crate) currvals: Arc<Mutex<HashMap<String, i64>>>,
    pub(crate) copy: Option<crate::copy::CopyIn>,
    /// set_config() results waiting to be applied after the statement.
    pub(crate) pending_settings: Arc<Mutex<Vec<(String, String)>>>,
    /// The `in_hot_standby` value last reported to the client, so a
    /// promotion is reported with ParameterStatus as PostgreSQL does.
    pub(crate) reported_hot_standby: bool,
    /// The TimeZone setting last resolved, and its zone.
    zone_cache: (String, Zone),
}

impl Session {
    pub(crate) fn new(engine: Arc<Engine>, user: &str, db: DatabaseDef, pid: i32) -> Session {
        Session {
            engine,
            user: user.to_string(),
            db,
            pid,
            block: None,
            cancel: Arc::new(AtomicBool::new(false)),
            settings: Arc::new(crate::engine::default_settings()),
            reported_changes: Vec::new(),
            prepared: HashMap::new(),
            deallocations: Vec::new(),
            currvals: Arc::default(),
            copy: None,
            pending_settings: Arc::default(),
            reported_hot_standby: false,
            zone_cache: (String::new(), Zone::UTC),
        }
    }

    /// The session's TimeZone (see `types::zone`).
    pub fn time_zone(&mut self) -> Zone {
        let name = self
            .settings
            .get("timezone")
            .map(String::as_str)
            .unwrap_or("UTC");
        if self.zone_cache.0 != name {
            let zone = zone::parse_setting(name).map_or(Zone::UTC, |(z, _)| z);
            self.zone_cache = (name.to_string(), zone);
        }
        self.zone_cache.1
    }

    /// Makes the session's TimeZone the zone this thread reads and shows
    /// `timestamptz` values in: the engine calls it around each statement,
    /// the server before it encodes rows.
    pub fn enter_zone(&mut self) {
        zone::set_current(self.time_zone());
    }

    /// The connected user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The connected database.
    pub fn database(&self) -> &str {
        &self.db.name
    }

    /// The backend process id reported in BackendKeyData.
    pub fn backend_pid(&self) -> i32 {
        self.pid
    }

    /// Applies a startup `options` setting (`-c name=value`).
    pub fn set_startup_option(&mut self, name: &str, value: &str) {
        let name = name.to_lowercase();
        let value = match name.as_str() {
            // Drivers send their own zone (JDBC: the JVM's); keep the
            // server's when it is not one we know.
            "timezone" => match zone::parse_setting(value) {
                Some((_, canonical)) => canonical,
                None => return,
            },
            // Fixed by the server (RustyDB speaks UTF8 and ISO dates only).
            "datestyle"
            | "client_encoding"
            | "server_version"
            | "server_encoding"
            | "integer_datetimes"
            | "is_superuser"
            | "in_hot_standby"
            | "session_authorization" => return,
            _ => value.to_string(),
        };
        Arc::make_mut(&mut self.settings).insert(name, value);
    }

    /// Initial ParameterStatus values sent after authentication.
    pub fn startup_parameters(&mut self) -> Vec<(String, String)> {
        self.reported_hot_standby = self.engine.storage.in_recovery();
        let mut out: Vec<(String, String)> = [
            "server_version",
            "server_encoding",
            "client_encoding",
            "datestyle",
            "intervalstyle",
            "timezone",
            "integer_datetimes",
            "standard_conforming_strings",
            "is_superuser",
            "application_name",
            "default_transaction_read_only",
            "in_hot_standby",
        ]
        .iter()
        .map(|n| {
            (
                crate::engine::reported_name(n).to_string(),
                self.setting(n).unwrap_or_default(),
            )
        })
        .collect();
        out.push(("session_authorization".into(), self.user.clone()));
        out
    }

    /// Parses and plans a statement for the extended protocol. `param_types`
    /// holds the types the client gave (`None` for "infer").
    pub fn prepare(
        &mut self,
        sql: &str,
        param_types: &[Option<DataType>],
    ) -> Result<Arc<Prepared>> {
        self.prepare_statement(sql, param_types)
    }

    /// Executes a prepared statement with bound parameter values.
    pub fn execute(&mut self, prepared: &Prepared, params: Vec<Value>) -> Result<QueryResult> {
        self.execute_prepared(prepared, params)
    }

    /// Runs a simple-protocol query string (possibly several statements).
    /// Stops at the first error, which is the last element. A `CopyIn`
    /// result also stops it: the server runs the copy sub-protocol next.
    pub fn simple_query(&mut self, sql: &str) -> Vec<Result<QueryResult>> {
        self.run_simple(sql)
    }

    /// Feeds raw COPY data (any chunking) while a `CopyIn` is open.
    pub fn copy_in_data(&mut self, data: &[u8]) -> Result<()> {
        self.copy_data(data)
    }

    /// Ends a COPY FROM STDIN successfully; returns the tag (`COPY n`).
    pub fn copy_in_done(&mut self) -> Result<String> {
        self.copy_done()
    }

    /// Aborts a COPY FROM STDIN (client sent CopyFail or vanished).
    pub fn copy_in_fail(&mut self, reason: &str) -> Error {
        self.copy_fail(reason)
    }

    /// The flag a CancelRequest sets to stop the running statement.
    pub fn cancel_flag(&self) -> CancelFlag {
        self.cancel.clone()
    }

    /// The transaction status for ReadyForQuery.
    pub fn status(&self) -> TxnStatus {
        match &self.block {
            None => TxnStatus::Idle,
            Some(b) if b.failed => TxnStatus::Failed,
            Some(_) => TxnStatus::InBlock,
        }
    }

    /// Parameters to report with ParameterStatus after startup and whenever
    /// `SET` changes one (drained by the server after each statement).
    pub fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        let hot_standby = self.engine.storage.in_recovery();
        if hot_standby != self.reported_hot_standby {
            self.reported_hot_standby = hot_standby;
            let value = if hot_standby { "on" } else { "off" };
            self.reported_changes
                .push(("in_hot_standby".into(), value.into()));
        }
        std::mem::take(&mut self.reported_changes)
    }

    /// Prepared statements that `DEALLOCATE` or `DISCARD ALL` removed since
    /// the last call: the server drops them from its own name space.
    pub fn take_deallocations(&mut self) -> Vec<Deallocation> {
        std::mem::take(&mut self.deallocations)
    }

    /// A setting's value as `SHOW` reports it: the transaction's own state
    /// for `transaction_isolation` / `transaction_read_only`, the node's
    /// state for `in_hot_standby`, then the session's settings, then the
    /// node's server settings.
    pub fn setting(&self, name: &str) -> Option<String> {
        let name = name.to_lowercase();
        let on_off = |b: bool| Some(if b { "on" } else { "off" }.to_string());
        match name.as_str() {
            "transaction_isolation" => {
                if let Some(b) = &self.block {
                    return Some(b.isolation_name.clone());
                }
            }
            "transaction_read_only" => return on_off(self.access().read_only),
            "in_hot_standby" => return on_off(self.engine.storage.in_recovery()),
            _ => {}
        }
        crate::engine::setting_value(&self.settings, &name)
            .or_else(|| self.engine.server_setting(&name))
    }

    /// Ends the session: an open transaction is rolled back, locks released.
    pub fn close(&mut self) {
        self.copy = None;
        if let Some(block) = self.end_block(false) {
            if let Some(Ok(m)) = block.txn.map(Arc::try_unwrap) {
                m.into_inner().rollback();
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}
