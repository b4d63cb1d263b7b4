//! The engine: what one node's SQL layer shares across sessions.
//!
//! An `Engine` owns the storage handle, the decoded-catalog cache and the
//! sequence allocator. `Engine::new` bootstraps the `postgres` database on
//! an empty store; `connect` opens a `Session` on a database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use crate::catalog::{self, CatalogCache, DatabaseDef};
use crate::error::{Error, Result};
use crate::sequence::Sequences;
use crate::session::Session;
use crate::storage::{Lsn, Storage, TxnOptions};
use crate::SqlState;

/// What `version()` returns. Drivers parse the leading "PostgreSQL 15.x".
pub const VERSION_STRING: &str =
    "PostgreSQL 15.0 (RustyDB 0.1.0) on x86_64-pc-linux-gnu, compiled by rustc, 64-bit";

/// The SQL engine over one storage.
pub struct Engine {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) catalog_cache: CatalogCache,
    pub(crate) sequences: Sequences,
    next_pid: AtomicI32,
}

impl Engine {
    /// Opens the engine, creating the `postgres` database on first start.
    pub fn new(storage: Arc<dyn Storage>) -> Result<Arc<Engine>> {
        let engine = Arc::new(Engine {
            storage,
            catalog_cache: CatalogCache::default(),
            sequences: Sequences::default(),
            next_pid: AtomicI32::new(1000),
        });
        let mut txn = engine.storage.begin(TxnOptions::default())?;
        if catalog::database(&mut *txn, "postgres")?.is_none() {
            let id = catalog::allocate_oid(&mut *txn)?;
            catalog::put_database(
                &mut *txn,
                &DatabaseDef {
                    id,
                    name: "postgres".into(),
                    owner: "postgres".into(),
                },
            )?;
            txn.commit()?;
        } else {
            txn.rollback();
        }
        Ok(engine)
    }

    /// Opens a session for `user` on `database` (`3D000` if it does not exist).
    pub fn connect(self: &Arc<Self>, user: &str, database: &str) -> Result<Session> {
        let mut txn = self.storage.begin(TxnOptions {
            read_only: true,
            ..Default::default()
        })?;
        let db = catalog::database(&mut *txn, database)?;
        txn.rollback();
        let db = db.ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_DATABASE,
                format!("database \"{database}\" does not exist"),
            )
        })?;
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        Ok(Session::new(self.clone(), user, db, pid))
    }

    /// The LSN of the last durable commit.
    pub fn current_lsn(&self) -> Lsn {
        self.storage.current_lsn()
    }

    /// The storage under the engine.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }
}

/// Default values of the settings `SHOW` and `current_setting` know.
pub fn default_settings() -> HashMap<String, String> {
    [
        ("server_version", "15.0"),
        ("server_version_num", "150000"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("datestyle", "ISO, MDY"),
        ("intervalstyle", "postgres"),
        ("timezone", "UTC"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
        ("search_path", "\"$user\", public"),
        ("application_name", ""),
        ("transaction_isolation", "read committed"),
        ("default_transaction_isolation", "read committed"),
        ("transaction_read_only", "off"),
        ("default_transaction_read_only", "off"),
        ("statement_timeout", "0"),
        ("lock_timeout", "0"),
        ("idle_in_transaction_session_timeout", "0"),
        ("work_mem", "4MB"),
        ("maintenance_work_mem", "64MB"),
        ("shared_buffers", "128MB"),
        ("max_connections", "100"),
        ("extra_float_digits", "1"),
        ("synchronous_commit", "on"),
        ("is_superuser", "on"),
        ("lc_collate", "C"),
        ("lc_ctype", "C"),
        ("lc_messages", "C"),
        ("lc_monetary", "C"),
        ("lc_numeric", "C"),
        ("lc_time", "C"),
        ("bytea_output", "hex"),
        ("client_min_messages", "notice"),
        ("default_text_search_config", "pg_catalog.english"),
        ("max_identifier_length", "63"),
        ("block_size", "8192"),
        ("enable_seqscan", "on"),
        ("enable_indexscan", "on"),
        ("enable_hashjoin", "on"),
        ("jit", "off"),
        ("row_security", "on"),
        ("xmloption", "content"),
        ("array_nulls", "on"),
        ("escape_string_warning", "on"),
        ("check_function_bodies", "on"),
        ("default_tablespace", ""),
        ("temp_tablespaces", ""),
        ("wal_level", "replica"),
        ("fsync", "on"),
        ("session_replication_role", "origin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The value of a setting (names are case-insensitive).
pub fn setting_value(settings: &HashMap<String, String>, name: &str) -> Option<String> {
    settings.get(&name.to_lowercase()).cloned()
}

/// The spelling PostgreSQL reports a setting under (ParameterStatus, SHOW).
pub fn reported_name(name: &str) -> &str {
    match name {
        "datestyle" => "DateStyle",
        "intervalstyle" => "IntervalStyle",
        "timezone" => "TimeZone",
        other => other,
    }
}

/// Settings whose changes are reported to the client with ParameterStatus.
pub fn is_reported(name: &str) -> bool {
    matches!(
        name,
        "application_name"
            | "client_encoding"
            | "datestyle"
            | "intervalstyle"
            | "timezone"
            | "standard_conforming_strings"
            | "integer_datetimes"
            | "is_superuser"
            | "server_version"
    )
}
