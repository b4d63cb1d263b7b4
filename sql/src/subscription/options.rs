//! The WITH (...) options of CREATE / ALTER SUBSCRIPTION, read and checked
//! as PostgreSQL 15's `parse_subscription_options` does: each statement
//! names the options it allows (others are `42601 unrecognized
//! subscription parameter`), an option given twice is `conflicting or
//! redundant options`, booleans follow `defGetBoolean`, slot names
//! `ReplicationSlotValidateName`. What the options *mean* is `exec`'s.

use super::parse::{Opt, OptValue};
use crate::error::{Error, Result};
use crate::SqlState;

/// `defGetBoolean`: no value means true.
fn boolean(o: &Opt) -> Result<bool> {
    let Some(v) = &o.value else { return Ok(true) };
    match v.text().to_lowercase().as_str() {
        "true" | "on" | "1" | "yes" | "t" | "y" => Ok(true),
        "false" | "off" | "0" | "no" | "f" | "n" => Ok(false),
        _ => Err(Error::syntax(format!(
            "{} requires a Boolean value",
            o.name
        ))),
    }
}

/// The options of CREATE / ALTER ... SET, each `Some` when given.
#[derive(Default)]
pub(super) struct Options {
    pub(super) connect: Option<bool>,
    pub(super) enabled: Option<bool>,
    pub(super) create_slot: Option<bool>,
    pub(super) copy_data: Option<bool>,
    pub(super) refresh: Option<bool>,
    /// `Some(None)` is `slot_name = NONE`.
    pub(super) slot_name: Option<Option<String>>,
    pub(super) disable_on_error: Option<bool>,
    pub(super) lsn: Option<Option<u64>>,
}

/// Reads options, refusing those `allowed` does not list (`42601`).
pub(super) fn options(list: &[Opt], allowed: &[&str]) -> Result<Options> {
    let mut out = Options::default();
    for o in list {
        if !allowed.contains(&o.name.as_str()) {
            return Err(Error::syntax(format!(
                "unrecognized subscription parameter: \"{}\"",
                o.name
            )));
        }
        let conflict = |set: bool| -> Result<()> {
            if set {
                Err(Error::syntax("conflicting or redundant options"))
            } else {
                Ok(())
            }
        };
        match o.name.as_str() {
            "connect" => {
                conflict(out.connect.is_some())?;
                out.connect = Some(boolean(o)?)
            }
            "enabled" => {
                conflict(out.enabled.is_some())?;
                out.enabled = Some(boolean(o)?)
            }
            "create_slot" => {
                conflict(out.create_slot.is_some())?;
                out.create_slot = Some(boolean(o)?)
            }
            "copy_data" => {
                conflict(out.copy_data.is_some())?;
                out.copy_data = Some(boolean(o)?)
            }
            "refresh" => {
                conflict(out.refresh.is_some())?;
                out.refresh = Some(boolean(o)?)
            }
            "disable_on_error" => {
                conflict(out.disable_on_error.is_some())?;
                out.disable_on_error = Some(boolean(o)?)
            }
            "slot_name" => {
                conflict(out.slot_name.is_some())?;
                let v = o.value.as_ref().map(OptValue::text).unwrap_or("");
                out.slot_name = Some(match &o.value {
                    Some(OptValue::Word(w)) if w == "none" => None,
                    _ => {
                        check_slot_name(v)?;
                        Some(v.to_string())
                    }
                });
            }
            "lsn" => {
                conflict(out.lsn.is_some())?;
                out.lsn = Some(match &o.value {
                    Some(OptValue::Word(w)) if w == "none" => None,
                    Some(v) => {
                        let lsn = super::parse_lsn(v.text())?;
                        if lsn == 0 {
                            return Err(Error::new(
                                SqlState::INVALID_PARAMETER_VALUE,
                                "invalid WAL location (LSN): 0/0",
                            ));
                        }
                        Some(lsn)
                    }
                    None => return Err(Error::syntax("lsn requires a parameter")),
                });
            }
            // Accepted for compatibility; the stream has one format.
            _ => {
                boolean(o).or_else(|_| {
                    o.value
                        .as_ref()
                        .map(|_| true)
                        .ok_or_else(|| Error::syntax(format!("{} requires a parameter", o.name)))
                })?;
            }
        }
    }
    Ok(out)
}

/// PostgreSQL's `ReplicationSlotValidateName`.
fn check_slot_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("replication slot name \"{name}\" is too short"),
        ));
    }
    if name.len() >= 64 {
        return Err(Error::new(
            SqlState("42622"),
            format!("replication slot name \"{name}\" is too long"),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("replication slot name \"{name}\" contains invalid character"),
        )
        .with_hint("Replication slot names may only contain lower case letters, numbers, and the underscore character."));
    }
    Ok(())
}

pub(super) fn exclusive(a: &str, b: &str) -> Error {
    Error::syntax(format!("{a} and {b} are mutually exclusive options"))
}
