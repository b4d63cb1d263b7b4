//! SET, RESET and DISCARD: session settings.

use std::sync::Arc;

use sqlparser::ast::{self, Statement};

use crate::error::{Error, Result};
use crate::session::{QueryResult, Session};
use crate::SqlState;

/// Settings a client may change, beyond any `prefix.name` custom setting.
fn is_known(name: &str) -> bool {
    crate::engine::default_settings().contains_key(name)
}

fn value_text(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
            ast::Value::Number(n, _) => n.clone(),
            ast::Value::Boolean(b) => if *b { "on" } else { "off" }.into(),
            other => other.to_string(),
        },
        ast::Expr::Identifier(id) if id.quote_style.is_some() => format!("\"{}\"", id.value),
        ast::Expr::Identifier(id) => id.value.clone(),
        other => other.to_string().trim_matches('\'').to_string(),
    }
}

impl Session {
    /// SET TRANSACTION ISOLATION LEVEL: restarts the block's (still unused)
    /// transaction at the new level. Outside a block it has no effect, as in
    /// PostgreSQL (which only warns).
    fn set_block_isolation(&mut self, level: &ast::TransactionIsolationLevel) -> Result<()> {
        let storage = self.engine.storage.clone();
        let cancel = self.cancel.clone();
        let Some(b) = &mut self.block else {
            return Ok(());
        };
        if b.used {
            return Err(Error::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
            ));
        }
        let isolation = match level {
            ast::TransactionIsolationLevel::RepeatableRead
            | ast::TransactionIsolationLevel::Serializable
            | ast::TransactionIsolationLevel::Snapshot => crate::storage::Isolation::RepeatableRead,
            _ => crate::storage::Isolation::ReadCommitted,
        };
        let read_only = b.txn.as_ref().is_some_and(|_| {
            self.settings
                .get("transaction_read_only")
                .is_some_and(|v| v == "on")
        });
        let fresh = storage.begin(crate::storage::TxnOptions {
            isolation,
            read_only,
            cancel: Some(cancel),
        })?;
        if let Some(old) = b.txn.replace(Arc::new(parking_lot::Mutex::new(fresh))) {
            if let Ok(m) = Arc::try_unwrap(old) {
                m.into_inner().rollback();
            }
        }
        b.isolation_name = level.to_string().to_lowercase();
        Ok(())
    }

    /// Applies a setting changed by set_config().
    pub(crate) fn apply_setting(&mut self, name: &str, value: String) -> Result<()> {
        self.set_setting(name, value)
    }

    fn set_setting(&mut self, name: &str, value: String) -> Result<()> {
        let name = name.to_lowercase();
        if !is_known(&name) && !name.contains('.') {
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{name}\""),
            ));
        }
        let value = match name.as_str() {
            "timezone" => {
                if !matches!(
                    value.to_lowercase().as_str(),
                    "utc" | "gmt" | "etc/utc" | "z" | "zulu" | "universal"
                ) {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("invalid value for parameter \"TimeZone\": \"{value}\""),
                    )
                    .with_hint("RustyDB currently supports only the UTC time zone."));
                }
                "UTC".to_string()
            }
            "client_encoding" => {
                let v = value.to_uppercase().replace('-', "");
                if v != "UTF8" && v != "UNICODE" {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("invalid value for parameter \"client_encoding\": \"{value}\""),
                    ));
                }
                "UTF8".to_string()
            }
            "transaction_isolation" | "default_transaction_isolation" => {
                let v = value.to_lowercase();
                if !matches!(
                    v.as_str(),
                    "read committed" | "repeatable read" | "serializable" | "read uncommitted"
                ) {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("invalid value for parameter \"{name}\": \"{value}\""),
                    ));
                }
                v
            }
            "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => {
                duration_setting(&name, &value)?
            }
            "datestyle" => {
                let v = value.to_uppercase();
                if !v.contains("ISO") {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("invalid value for parameter \"DateStyle\": \"{value}\""),
                    )
                    .with_hint("RustyDB currently supports only the ISO date style."));
                }
                "ISO, MDY".to_string()
            }
            _ => value,
        };
        if crate::engine::is_reported(&name) {
            self.reported_changes.push((
                crate::engine::reported_name(&name).to_string(),
                value.clone(),
            ));
        }
        Arc::make_mut(&mut self.settings).insert(name, value);
        Ok(())
    }

    fn reset_setting(&mut self, name: &str) -> Result<()> {
        let name = name.to_lowercase();
        match crate::engine::default_settings().remove(&name) {
            Some(v) => self.set_setting(&name, v),
            None if name.contains('.') => {
                Arc::make_mut(&mut self.settings).remove(&name);
                Ok(())
            }
            None => Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{name}\""),
            )),
        }
    }

    /// Statements that touch only session state. `None`: not one of them.
    pub(crate) fn session_statement(&mut self, stmt: &Statement) -> Result<Option<QueryResult>> {
        let done = |t: &str| Ok(Some(QueryResult::Command { tag: t.to_string() }));
        match stmt {
            Statement::Set(set) => match set {
                ast::Set::SingleAssignment {
                    variable, values, ..
                } => {
                    let name = variable.to_string().trim_matches('"').to_string();
                    let value = values.iter().map(value_text).collect::<Vec<_>>().join(", ");
                    if value.eq_ignore_ascii_case("default") {
                        self.reset_setting(&name)?;
                    } else {
                        self.set_setting(&name, value)?;
                    }
                    done("SET")
                }
                ast::Set::SetTimeZone { value, .. } => {
                    self.set_setting("timezone", value_text(value))?;
                    done("SET")
                }
                ast::Set::SetNames { charset_name, .. } => {
                    self.set_setting("client_encoding", charset_name.value.clone())?;
                    done("SET")
                }
                ast::Set::SetTransaction { modes, .. } => {
                    for m in modes {
                        match m {
                            ast::TransactionMode::IsolationLevel(l) => {
                                self.set_block_isolation(l)?
                            }
                            ast::TransactionMode::AccessMode(a) => {
                                let ro = matches!(a, ast::TransactionAccessMode::ReadOnly);
                                Arc::make_mut(&mut self.settings).insert(
                                    "transaction_read_only".into(),
                                    if ro { "on" } else { "off" }.into(),
                                );
                            }
                        }
                    }
                    done("SET")
                }
                ast::Set::SetSessionAuthorization(_) | ast::Set::SetRole { .. } => done("SET"),
                other => Err(Error::unsupported(format!("{other} is not supported"))),
            },
            Statement::Reset(r) => {
                match &r.reset {
                    ast::Reset::ALL => {
                        self.settings = Arc::new(crate::engine::default_settings());
                    }
                    ast::Reset::ConfigurationParameter(name) => {
                        self.reset_setting(&name.to_string())?
                    }
                    ast::Reset::SessionAuthorization => {}
                }
                done("RESET")
            }
            Statement::Discard { .. } => {
                self.prepared.clear();
                self.settings = Arc::new(crate::engine::default_settings());
                done("DISCARD ALL")
            }
            _ => Ok(None),
        }
    }
}

/// Normalises a time setting the way PostgreSQL shows it: a bare number is
/// milliseconds; the value is shown in the largest unit that divides it.
fn duration_setting(name: &str, value: &str) -> Result<String> {
    let v = value.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(digits);
    let bad = || {
        Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"{name}\": \"{value}\""),
        )
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n * 1000,
        "min" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => {
            return Err(bad().with_hint(
                "Valid units for this parameter are \"ms\", \"s\", \"min\", \"h\", and \"d\".",
            ))
        }
    };
    Ok(match ms {
        0 => "0".to_string(),
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}min", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    })
}
