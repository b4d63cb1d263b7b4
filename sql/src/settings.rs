//! SET, RESET and DISCARD: session settings.

use std::sync::Arc;

use sqlparser::ast::{self, Statement};

use crate::error::{Error, Result};
use crate::session::{QueryResult, Session, SettingChange};
use crate::storage::{Lsn, SyncCommit, Transaction};
use crate::SqlState;

/// Commits `txn`, telling it how long to wait for replicas.
pub(crate) fn commit_with(mut txn: Box<dyn Transaction>, level: SyncCommit) -> Result<Option<Lsn>> {
    txn.set_synchronous_commit(level);
    txn.commit()
}

/// Whether a boolean setting is on.
pub(crate) fn is_on(settings: &std::collections::HashMap<String, String>, name: &str) -> bool {
    settings.get(name).is_some_and(|v| v == "on")
}

/// PostgreSQL's boolean setting syntax (`on`, `true`, `yes`, `1` and
/// unambiguous prefixes), case-insensitive.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim().to_ascii_lowercase();
    let prefix_of = |word: &str| !v.is_empty() && word.starts_with(v.as_str());
    match v.as_str() {
        "1" | "on" => Some(true),
        "0" | "of" | "off" => Some(false),
        _ if prefix_of("true") || prefix_of("yes") => Some(true),
        _ if prefix_of("false") || prefix_of("no") => Some(false),
        _ => None,
    }
}

/// Validates `synchronous_commit` as PostgreSQL does: its five levels plus
/// the hidden boolean spellings, case-insensitive and exact.
fn sync_commit_value(value: &str) -> Result<String> {
    let v = value.to_ascii_lowercase();
    Ok(match v.as_str() {
        "local" | "remote_write" | "remote_apply" | "on" | "off" => v,
        "true" | "yes" | "1" => "on".into(),
        "false" | "no" | "0" => "off".into(),
        _ => {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("invalid value for parameter \"synchronous_commit\": \"{value}\""),
            )
            .with_hint("Available values: local, remote_write, remote_apply, on, off."))
        }
    })
}

/// A boolean setting normalised to `on` / `off`.
fn bool_value(name: &str, value: &str) -> Result<bool> {
    parse_bool(value).ok_or_else(|| {
        Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("parameter \"{name}\" requires a Boolean value"),
        )
    })
}

/// A `SET TimeZone` value as `SHOW` prints it: an IANA name, a number of
/// hours (`-7`), `INTERVAL '+05:30' HOUR TO MINUTE`, `LOCAL` / `DEFAULT`
/// (the server's zone); anything else is PostgreSQL's `22023`.
fn time_zone_setting(value: &str) -> Result<String> {
    use crate::types::zone;
    let v = value.trim();
    if v.eq_ignore_ascii_case("local") || v.eq_ignore_ascii_case("default") {
        return Ok(zone::system_default().1.clone());
    }
    let interval = v
        .get(..8)
        .filter(|w| w.eq_ignore_ascii_case("interval"))
        .and_then(|_| v.split('\'').nth(1))
        .and_then(|text| crate::types::Interval::parse(text).ok())
        .filter(|i| i.months == 0 && i.days == 0);
    if let Some(i) = interval {
        return Ok(zone::fixed_setting((i.micros / 1_000_000) as i32).1);
    }
    zone::parse_setting(v).map(|(_, name)| name).ok_or_else(|| {
        Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"TimeZone\": \"{value}\""),
        )
    })
}

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
        crate::readonly::check_isolation(level, self.engine.storage.in_recovery())?;
        let Some(b) = &mut self.block else {
            return Ok(());
        };
        if b.used {
            return Err(Error::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
            ));
        }
        b.isolation_name = level.to_string().to_lowercase();
        self.restart_block_txn()
    }

    /// The `synchronous_commit` level in force now.
    pub(crate) fn sync_commit(&self) -> SyncCommit {
        match self.settings.get("synchronous_commit").map(String::as_str) {
            Some("off") => SyncCommit::Off,
            Some("local") => SyncCommit::Local,
            Some("remote_write") => SyncCommit::RemoteWrite,
            Some("remote_apply") => SyncCommit::RemoteApply,
            _ => SyncCommit::On,
        }
    }

    /// Commits a user transaction at the session's `synchronous_commit`.
    pub(crate) fn commit_txn(&self, txn: Box<dyn Transaction>) -> Result<Option<Lsn>> {
        commit_with(txn, self.sync_commit())
    }

    /// Applies a setting changed by set_config().
    pub(crate) fn apply_setting(&mut self, name: &str, value: String) -> Result<()> {
        self.set_setting(name, value)
    }

    fn set_setting(&mut self, name: &str, value: String) -> Result<()> {
        let name = name.to_lowercase();
        if name == "in_hot_standby" || self.engine.is_server_setting(&name) {
            return Err(Error::new(
                SqlState::CANT_CHANGE_RUNTIME_PARAM,
                format!("parameter \"{name}\" cannot be changed"),
            ));
        }
        if !is_known(&name) && !name.contains('.') {
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{name}\""),
            ));
        }
        let value = match name.as_str() {
            "transaction_read_only" => {
                // Not a session setting: it is the block's access mode.
                let read_only = bool_value(&name, &value)?;
                return self.set_transaction_read_only(read_only);
            }
            "default_transaction_read_only" => if bool_value(&name, &value)? {
                "on"
            } else {
                "off"
            }
            .to_string(),
            "synchronous_commit" => sync_commit_value(&value)?,
            crate::fanout::READ_LSN => {
                let v = self.check_read_lsn(&value)?;
                Arc::make_mut(&mut self.settings).insert(name.clone(), v.clone());
                self.restart_block_at_read_lsn()?;
                return Ok(());
            }
            "timezone" => time_zone_setting(&value)?,
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
        let old = self.settings.get(&name).cloned();
        if let Some(b) = &mut self.block {
            b.setting_log.push(SettingChange {
                name: name.clone(),
                old,
                local: false,
            });
        }
        Arc::make_mut(&mut self.settings).insert(name, value);
        Ok(())
    }

    /// `SET LOCAL`: like SET, undone when the block ends. Outside a block
    /// it has no effect (PostgreSQL only warns).
    fn set_local(&mut self, name: &str, value: String) -> Result<()> {
        let name = name.to_lowercase();
        if self.block.is_none() {
            return Ok(());
        }
        if value.eq_ignore_ascii_case("default") {
            self.reset_setting(&name)?;
        } else {
            self.set_setting(&name, value)?;
        }
        // The change just logged is a local one (transaction_read_only
        // ends with its block anyway).
        if let Some(b) = &mut self.block {
            if let Some(last) = b.setting_log.last_mut() {
                if last.name == name && name != "transaction_read_only" {
                    last.local = true;
                }
            }
        }
        Ok(())
    }

    fn reset_setting(&mut self, name: &str) -> Result<()> {
        let name = name.to_lowercase();
        match crate::engine::default_settings().remove(&name) {
            Some(v) => self.set_setting(&name, v),
            None if name.contains('.') => {
                let old = Arc::make_mut(&mut self.settings).remove(&name);
                if let Some(b) = &mut self.block {
                    b.setting_log.push(SettingChange {
                        name,
                        old,
                        local: false,
                    });
                }
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
                    variable,
                    values,
                    scope,
                    ..
                } => {
                    let name = variable.to_string().trim_matches('"').to_string();
                    let value = values.iter().map(value_text).collect::<Vec<_>>().join(", ");
                    if matches!(scope, Some(ast::ContextModifier::Local)) {
                        self.set_local(&name, value)?;
                    } else if value.eq_ignore_ascii_case("default") {
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
                            ast::TransactionMode::AccessMode(a) => self.set_transaction_read_only(
                                matches!(a, ast::TransactionAccessMode::ReadOnly),
                            )?,
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
            Statement::Prepare {
                name,
                data_types,
                statement,
            } => self.sql_prepare(name, data_types, statement).map(Some),
            Statement::Execute {
                name, parameters, ..
            } => self.sql_execute(name.as_ref(), parameters).map(Some),
            Statement::Deallocate { name, .. } => {
                if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
                    self.prepared.clear();
                    self.deallocations.push(super::session::Deallocation::All);
                    return done("DEALLOCATE ALL");
                }
                self.prepared.remove(&name.value);
                self.deallocations
                    .push(super::session::Deallocation::Named(name.value.clone()));
                done("DEALLOCATE")
            }
            Statement::Discard { .. } => {
                self.prepared.clear();
                self.deallocations.push(super::session::Deallocation::All);
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
