//! The engine: shared state of one node's SQL layer, and the sessions on it.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::session::{CancelFlag, Prepared, QueryResult, TxnStatus};
use crate::storage::{Lsn, Storage};
use crate::types::{DataType, Value};

/// The SQL engine over one storage.
pub struct Engine {
    storage: Arc<dyn Storage>,
}

impl Engine {
    /// Opens the engine, creating the `postgres` database on first start.
    pub fn new(storage: Arc<dyn Storage>) -> Result<Arc<Engine>> {
        Ok(Arc::new(Engine { storage }))
    }

    /// Opens a session for `user` on `database` (`3D000` if it does not exist).
    pub fn connect(self: &Arc<Self>, user: &str, database: &str) -> Result<Session> {
        Ok(Session {
            engine: self.clone(),
            user: user.to_string(),
            database: database.to_string(),
            cancel: Arc::new(AtomicBool::new(false)),
            reported_changes: Vec::new(),
            prepared: HashMap::new(),
        })
    }

    /// The LSN of the last durable commit.
    pub fn current_lsn(&self) -> Lsn {
        self.storage.current_lsn()
    }
}

/// One client connection's state.
pub struct Session {
    engine: Arc<Engine>,
    user: String,
    database: String,
    pub(crate) cancel: CancelFlag,
    pub(crate) reported_changes: Vec<(String, String)>,
    prepared: HashMap<String, Arc<Prepared>>,
}

impl Session {
    pub(crate) fn run_simple(&mut self, _sql: &str) -> Vec<Result<QueryResult>> {
        vec![Err(Error::unsupported("not yet"))]
    }

    pub(crate) fn prepare_statement(&mut self, _sql: &str, _types: &[Option<DataType>]) -> Result<Arc<Prepared>> {
        Err(Error::unsupported("not yet"))
    }

    pub(crate) fn execute_prepared(&mut self, _p: &Prepared, _params: Vec<Value>) -> Result<QueryResult> {
        Err(Error::unsupported("not yet"))
    }

    pub(crate) fn copy_data(&mut self, _data: &[u8]) -> Result<()> {
        Err(Error::unsupported("not yet"))
    }

    pub(crate) fn copy_done(&mut self) -> Result<String> {
        Err(Error::unsupported("not yet"))
    }

    pub(crate) fn copy_fail(&mut self, reason: &str) -> Error {
        Error::new(crate::SqlState::QUERY_CANCELED, format!("COPY from stdin failed: {reason}"))
    }

    pub(crate) fn txn_status(&self) -> TxnStatus {
        TxnStatus::Idle
    }

    pub(crate) fn abort_transaction(&mut self) {}

    /// The connected user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The connected database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Initial ParameterStatus values sent after authentication.
    pub fn startup_parameters(&self) -> Vec<(String, String)> {
        let _ = (&self.engine, &self.prepared);
        vec![
            ("server_version".into(), "15.0 (RustyDB 0.1.0)".into()),
            ("server_encoding".into(), "UTF8".into()),
            ("client_encoding".into(), "UTF8".into()),
            ("DateStyle".into(), "ISO, MDY".into()),
            ("IntervalStyle".into(), "postgres".into()),
            ("TimeZone".into(), "UTC".into()),
            ("integer_datetimes".into(), "on".into()),
            ("standard_conforming_strings".into(), "on".into()),
            ("is_superuser".into(), "on".into()),
            ("session_authorization".into(), self.user.clone()),
            ("application_name".into(), String::new()),
        ]
    }
}
