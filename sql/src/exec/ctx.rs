//! The execution context shared by a statement's iterators.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::catalog::Catalog;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::expr::{Row, SessionFn};
use crate::plan::Plan;
use crate::session::CancelFlag;
use crate::storage::Transaction;
use crate::types::{cast, DataType, Value};
use crate::SqlState;

/// Session facts a statement may read.
#[derive(Debug)]
pub struct SessionFacts {
    pub user: String,
    pub database: String,
    pub backend_pid: i32,
    pub txn_start: DateTime<Utc>,
    pub statement_start: DateTime<Utc>,
    pub settings: Arc<HashMap<String, String>>,
    /// Last value nextval() returned per sequence in this session.
    pub currvals: Arc<Mutex<HashMap<String, i64>>>,
    /// Settings changed by set_config(), applied when the statement ends.
    pub pending_settings: Arc<Mutex<Vec<(String, String)>>>,
    /// The transaction is read-only (or the node is a replica): nextval()
    /// and setval() are refused.
    pub read_only: bool,
}

/// `statement_timeout` as a duration; `None` when 0 (off) or unreadable.
/// The setting is stored normalised (`300ms`, `5s`, `2min`, ...).
fn statement_timeout(settings: &HashMap<String, String>) -> Option<std::time::Duration> {
    let v = settings.get("statement_timeout")?.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(digits);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.checked_mul(1000)?,
        "min" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    (ms > 0).then(|| std::time::Duration::from_millis(ms))
}

/// A stack frame of outer rows for correlated subqueries.
#[derive(Debug)]
pub struct OuterFrame {
    row: Row,
    parent: Option<Arc<OuterFrame>>,
}

type SubqueryCache = HashMap<usize, Option<Arc<Vec<Row>>>>;

/// What every iterator of a statement shares.
#[derive(Clone)]
pub struct ExecCtx {
    pub txn: Arc<Mutex<Box<dyn Transaction>>>,
    pub engine: Arc<Engine>,
    pub db: u32,
    pub params: Arc<Vec<Value>>,
    pub facts: Arc<SessionFacts>,
    pub cancel: Option<CancelFlag>,
    /// When `statement_timeout` (if set) cancels this statement.
    deadline: Option<std::time::Instant>,
    outer: Option<Arc<OuterFrame>>,
    ctes: Arc<Mutex<HashMap<usize, Arc<Vec<Row>>>>>,
    subqueries: Arc<Mutex<SubqueryCache>>,
}

impl ExecCtx {
    /// A context for one statement.
    pub fn new(
        txn: Arc<Mutex<Box<dyn Transaction>>>,
        engine: Arc<Engine>,
        db: u32,
        params: Vec<Value>,
        facts: Arc<SessionFacts>,
        cancel: Option<CancelFlag>,
    ) -> Self {
        let deadline = statement_timeout(&facts.settings)
            .and_then(|t| std::time::Instant::now().checked_add(t));
        ExecCtx {
            txn,
            engine,
            db,
            params: Arc::new(params),
            facts,
            cancel,
            deadline,
            outer: None,
            ctes: Arc::default(),
            subqueries: Arc::default(),
        }
    }

    /// Fails with `57014` once the statement has been cancelled or has
    /// run past `statement_timeout`.
    pub fn check_cancel(&self) -> Result<()> {
        if let Some(c) = &self.cancel {
            if c.load(Ordering::Relaxed) {
                return Err(Error::new(
                    SqlState::QUERY_CANCELED,
                    "canceling statement due to user request",
                ));
            }
        }
        if self
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            return Err(Error::new(
                SqlState::QUERY_CANCELED,
                "canceling statement due to statement timeout",
            ));
        }
        Ok(())
    }

    /// `pg_sleep(seconds)`: sleeps in short slices so that a cancel or the
    /// statement timeout ends it promptly, as in PostgreSQL.
    pub fn sleep(&self, seconds: f64) -> Result<()> {
        if !seconds.is_finite() || seconds <= 0.0 {
            return self.check_cancel();
        }
        let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds.min(1e7));
        loop {
            self.check_cancel()?;
            let now = std::time::Instant::now();
            if now >= end {
                return Ok(());
            }
            std::thread::sleep((end - now).min(std::time::Duration::from_millis(10)));
        }
    }

    /// A context with `row` pushed as the innermost outer row.
    pub fn with_outer(&self, row: &[Value]) -> ExecCtx {
        let mut c = self.clone();
        c.outer = Some(Arc::new(OuterFrame {
            row: row.to_vec(),
            parent: self.outer.clone(),
        }));
        c
    }

    /// Reads column `i` of the outer row `depth` levels up.
    pub fn outer_value(&self, depth: usize, i: usize) -> Result<Value> {
        let mut frame = self.outer.as_ref();
        for _ in 1..depth {
            frame = frame.and_then(|f| f.parent.as_ref());
        }
        frame
            .and_then(|f| f.row.get(i))
            .cloned()
            .ok_or_else(|| Error::internal("outer reference out of range"))
    }

    /// The value of parameter `$i+1`.
    pub fn param(&self, i: usize) -> Result<Value> {
        self.params.get(i).cloned().ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_PARAMETER,
                format!("there is no parameter ${}", i + 1),
            )
        })
    }

    /// Rows of a materialised CTE.
    pub fn cte(&self, id: usize) -> Result<Arc<Vec<Row>>> {
        self.ctes
            .lock()
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::internal("CTE not materialised"))
    }

    /// Stores a CTE's rows.
    pub fn set_cte(&self, id: usize, rows: Vec<Row>) {
        self.ctes.lock().insert(id, Arc::new(rows));
    }

    /// Runs a subquery for the current row. Uncorrelated subqueries run once.
    pub fn run_subquery(&self, plan: &Arc<Plan>, row: &[Value]) -> Result<Arc<Vec<Row>>> {
        let key = Arc::as_ptr(plan) as usize;
        let cached = self.subqueries.lock().get(&key).cloned();
        match cached {
            Some(Some(rows)) => return Ok(rows),
            Some(None) => {}
            None => {
                let correlated = format!("{plan:?}").contains("Outer(");
                if !correlated {
                    let rows = Arc::new(super::collect(plan, &self.with_outer(row))?);
                    self.subqueries.lock().insert(key, Some(rows.clone()));
                    return Ok(rows);
                }
                self.subqueries.lock().insert(key, None);
            }
        }
        Ok(Arc::new(super::collect(plan, &self.with_outer(row))?))
    }

    /// Whether a subquery returns any row (stops at the first).
    pub fn subquery_has_rows(&self, plan: &Arc<Plan>, row: &[Value]) -> Result<bool> {
        match super::open(plan, &self.with_outer(row))?.next() {
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(e),
            None => Ok(false),
        }
    }

    /// Runs `f` with catalog access through the statement's transaction.
    pub fn with_catalog<T>(&self, f: impl FnOnce(&mut Catalog) -> Result<T>) -> Result<T> {
        let mut txn = self.txn.lock();
        let mut catalog = Catalog {
            txn: &mut **txn,
            cache: &self.engine.catalog_cache,
            db: self.db,
        };
        f(&mut catalog)
    }

    /// Evaluates a function that needs the session or the engine.
    pub fn session_function(&self, f: &SessionFn, args: Vec<Value>) -> Result<Value> {
        let text_arg = |i: usize| -> Result<String> {
            match args.get(i) {
                Some(Value::Text(s)) => Ok(s.clone()),
                Some(Value::Null) | None => Err(Error::new(
                    SqlState::NULL_VALUE_NOT_ALLOWED,
                    "argument must not be null",
                )),
                Some(other) => Ok(crate::types::text::format(other)),
            }
        };
        Ok(match f {
            SessionFn::Now => Value::TimestampTz(self.facts.txn_start),
            SessionFn::StatementTimestamp => Value::TimestampTz(self.facts.statement_start),
            SessionFn::ClockTimestamp => Value::TimestampTz(Utc::now()),
            SessionFn::CurrentDate => Value::Date(self.facts.txn_start.date_naive()),
            SessionFn::CurrentTime => Value::Time(self.facts.txn_start.time()),
            SessionFn::CurrentUser => Value::Text(self.facts.user.clone()),
            SessionFn::CurrentDatabase => Value::Text(self.facts.database.clone()),
            SessionFn::CurrentSchema => Value::Text("public".into()),
            SessionFn::CurrentSchemas => match args.first() {
                Some(Value::Bool(true)) => Value::Array(vec![
                    Value::Text("pg_catalog".into()),
                    Value::Text("public".into()),
                ]),
                _ => Value::Array(vec![Value::Text("public".into())]),
            },
            SessionFn::Version => Value::Text(crate::engine::VERSION_STRING.into()),
            SessionFn::BackendPid => Value::Int4(self.facts.backend_pid),
            SessionFn::TxidCurrent => {
                if self.engine.storage.in_recovery() {
                    // PostgreSQL names the function txid_current() calls.
                    return Err(crate::readonly::recovery_error("pg_current_xact_id()"));
                }
                Value::Int8(self.engine.current_lsn().0 as i64 + 1)
            }
            SessionFn::PgTypeof(t) => Value::Text(crate::types::oid::type_name(t)),
            SessionFn::Catalog(name) => super::catalog_fn::call(self, name, &args)?,
            SessionFn::Wal(f) => super::replication_fn::call(self, *f, &args)?,
            SessionFn::SetConfig => {
                let name = text_arg(0)?.to_lowercase();
                let value = match args.get(1) {
                    Some(Value::Null) | None => String::new(),
                    Some(v) => crate::types::text::format(v),
                };
                if !name.contains('.')
                    && crate::engine::setting_value(&self.facts.settings, &name).is_none()
                {
                    return Err(Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("unrecognized configuration parameter \"{name}\""),
                    ));
                }
                self.facts
                    .pending_settings
                    .lock()
                    .push((name, value.clone()));
                Value::Text(value)
            }
            SessionFn::CurrentSetting => {
                let name = text_arg(0)?.to_lowercase();
                let missing_ok = matches!(args.get(1), Some(Value::Bool(true)));
                let on_off = |b: bool| Some(if b { "on" } else { "off" }.to_string());
                let value = match name.as_str() {
                    "transaction_read_only" => on_off(self.facts.read_only),
                    "in_hot_standby" => on_off(self.engine.storage.in_recovery()),
                    _ => crate::engine::setting_value(&self.facts.settings, &name)
                        .or_else(|| self.engine.server_setting(&name)),
                };
                match value {
                    Some(v) => Value::Text(v),
                    None if missing_ok => Value::Null,
                    None => {
                        return Err(Error::new(
                            SqlState::UNDEFINED_OBJECT,
                            format!("unrecognized configuration parameter \"{name}\""),
                        ))
                    }
                }
            }
            SessionFn::NextVal => {
                let name = sequence_name(&text_arg(0)?);
                let def = self.with_catalog(|c| c.sequence(&name))?;
                if self.facts.read_only {
                    return Err(crate::readonly::read_only_error("nextval()"));
                }
                let v = self.engine.sequences.next(&self.engine, &def)?;
                self.facts.currvals.lock().insert(name, v);
                Value::Int8(v)
            }
            SessionFn::CurrVal => {
                let name = sequence_name(&text_arg(0)?);
                self.with_catalog(|c| c.sequence(&name))?;
                match self.facts.currvals.lock().get(&name) {
                    Some(v) => Value::Int8(*v),
                    None => {
                        return Err(Error::new(
                            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                            format!(
                                "currval of sequence \"{name}\" is not yet defined in this session"
                            ),
                        ))
                    }
                }
            }
            SessionFn::SetVal => {
                let name = sequence_name(&text_arg(0)?);
                let def = self.with_catalog(|c| c.sequence(&name))?;
                if self.facts.read_only {
                    return Err(crate::readonly::read_only_error("setval()"));
                }
                let value =
                    match cast::cast(args.get(1).cloned().unwrap_or(Value::Null), &DataType::Int8)?
                    {
                        Value::Int8(v) => v,
                        _ => return Ok(Value::Null),
                    };
                let is_called = !matches!(args.get(2), Some(Value::Bool(false)));
                if value < def.min || value > def.max {
                    return Err(Error::new(
                        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                        format!("setval: value {value} is out of bounds for sequence \"{name}\" ({}..{})", def.min, def.max),
                    ));
                }
                self.engine
                    .sequences
                    .set(&self.engine, &def, value, is_called)?;
                if is_called {
                    self.facts.currvals.lock().insert(name, value);
                }
                Value::Int8(value)
            }
        })
    }
}

/// A sequence named by a run-time text value (`nextval(pg_get_serial_sequence(...))`),
/// without its `public.` schema and quotes. Not lower-cased: the binder
/// already normalised literal names (a quoted mixed-case name arrives as
/// written), and pg_get_serial_sequence returns the stored name.
fn sequence_name(raw: &str) -> String {
    let name = raw.strip_prefix("public.").unwrap_or(raw);
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_string(),
    }
}
