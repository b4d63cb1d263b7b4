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

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::error::{Error, Result};
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
        Column { name: name.into(), data_type, table_oid: 0, column_id: 0 }
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
    CopyOut { columns: usize, format: CopyFormat, lines: Vec<Vec<u8>>, tag: String },
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
}

/// The flag a CancelRequest sets to stop a session's running statement.
pub type CancelFlag = Arc<AtomicBool>;

/// The session-facing API the protocol edge calls. The state and the
/// statement execution live in `crate::engine`; this block is the contract.
impl crate::engine::Session {
    /// Runs a simple-protocol query string (possibly several statements).
    /// Stops at the first error, which is the last element. A `CopyIn`
    /// result also stops it: the server runs the copy sub-protocol next.
    pub fn simple_query(&mut self, sql: &str) -> Vec<Result<QueryResult>> {
        self.run_simple(sql)
    }

    /// Parses and plans a statement for the extended protocol. `param_types`
    /// holds the types the client gave (`None` for "infer").
    pub fn prepare(&mut self, sql: &str, param_types: &[Option<DataType>]) -> Result<Arc<Prepared>> {
        self.prepare_statement(sql, param_types)
    }

    /// Executes a prepared statement with bound parameter values.
    pub fn execute(&mut self, prepared: &Prepared, params: Vec<Value>) -> Result<QueryResult> {
        self.execute_prepared(prepared, params)
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
        self.txn_status()
    }

    /// Parameters to report with ParameterStatus after startup and whenever
    /// `SET` changes one (drained by the server after each statement).
    pub fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.reported_changes)
    }

    /// Ends the session: an open transaction is rolled back, locks released.
    pub fn close(&mut self) {
        self.abort_transaction();
    }
}
