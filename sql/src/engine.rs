//! The engine: what one node's SQL layer shares across sessions.
//!
//! An `Engine` owns the storage handle, the decoded-catalog cache, the
//! sequence allocator and the node's read-only server settings.
//! `Engine::new` bootstraps the `postgres` database on an empty store (but
//! not on a replica, which is read-only: the database arrives by
//! replication); `connect` opens a `Session` on a database.
//!
//! Server settings (`set_server_setting`) are values the node publishes to
//! every session, such as `rustydb.replication_endpoint`: `SHOW` and
//! `current_setting` read them live, so a change is seen at once by sessions
//! that are already open, and no session can `SET` them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

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
    /// Read-only settings published by the node (names lower-case).
    server_settings: RwLock<HashMap<String, String>>,
    /// Which replication slots this node is streaming (logical decoding).
    pub slot_activity: crate::publication::slots::SlotActivity,
    /// The node's subscription workers (see `subscription`), once registered.
    subscriptions: RwLock<Option<Arc<dyn crate::subscription::SubscriptionControl>>>,
}

impl Engine {
    /// Opens the engine, creating the `postgres` database on first start.
    /// A replica (`storage.in_recovery()`) writes nothing: its databases
    /// arrive by replication.
    pub fn new(storage: Arc<dyn Storage>) -> Result<Arc<Engine>> {
        let engine = Arc::new(Engine {
            storage,
            catalog_cache: CatalogCache::default(),
            sequences: Sequences::default(),
            next_pid: AtomicI32::new(1000),
            server_settings: RwLock::new(HashMap::new()),
            slot_activity: Default::default(),
            subscriptions: RwLock::new(None),
        });
        if engine.storage.in_recovery() {
            return Ok(engine);
        }
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

    /// Publishes a read-only server setting (e.g.
    /// `rustydb.replication_endpoint`) to every session, open or future.
    /// Setting it again replaces the value.
    pub fn set_server_setting(&self, name: &str, value: &str) {
        self.server_settings
            .write()
            .insert(name.to_lowercase(), value.to_string());
    }

    /// Registers the node's subscription machinery (apply workers, slots).
    pub fn set_subscription_control(
        &self,
        control: Arc<dyn crate::subscription::SubscriptionControl>,
    ) {
        *self.subscriptions.write() = Some(control);
    }

    /// The registered subscription machinery, if any.
    pub fn subscription_control(
        &self,
    ) -> Option<Arc<dyn crate::subscription::SubscriptionControl>> {
        self.subscriptions.read().clone()
    }

    /// A server setting's current value.
    pub fn server_setting(&self, name: &str) -> Option<String> {
        self.server_settings
            .read()
            .get(&name.to_lowercase())
            .cloned()
    }

    /// Whether `name` is a server setting (sessions may not change it).
    pub(crate) fn is_server_setting(&self, name: &str) -> bool {
        self.server_settings
            .read()
            .contains_key(&name.to_lowercase())
    }

    /// All server settings, for `SHOW ALL` and `pg_settings`.
    pub(crate) fn server_settings(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .server_settings
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort();
        v
    }

    /// Forgets in-memory state derived from storage: cached sequence
    /// positions and hidden row-id counters. The node calls it when the
    /// storage's content changed under the engine (promotion, rewind,
    /// re-clone), so they reload from storage. (The catalog cache needs no
    /// reset: it is checked against the stored bytes on every read.)
    pub fn reset_volatile_state(&self) {
        self.sequences.reset();
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
        ("timezone", crate::types::zone::system_default().1.as_str()),
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
            | "default_transaction_read_only"
    )
}
