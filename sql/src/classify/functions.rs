//! Functions whose call sends a statement to the primary.
//!
//! A hot standby refuses anything that assigns a transaction id or writes
//! WAL (`nextval`, `setval`, `txid_current`, large objects, replication
//! slots, `pg_notify`), some functions only make sense on the primary
//! (`pg_current_wal_lsn`), and some change session state on the backend
//! that runs them (`pg_advisory_lock` holds a lock until the session
//! ends, `set_config(…, false)` is a session `SET`): those pin the client
//! to that backend. `currval`/`lastval` read session state that only the
//! backend which ran `nextval` has, so they go where `nextval` went.
//!
//! Patterns are lower-case names, or prefixes ending in `*`. A pattern
//! with a dot (`app.audit`) matches the schema-qualified name; one without
//! matches the function's own name whatever its schema. Exact names win
//! over prefixes, so `pg_advisory_lock` (pin) beats `pg_advisory_*`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// What calling a listed function means for routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionEffect {
    /// The statement must run on the primary.
    Primary,
    /// The primary, and the client stays on that backend.
    Pin,
    /// `set_config(name, value, is_local)`: pins unless `is_local` is
    /// the literal `true` (a transaction-local setting).
    SetConfig,
}

/// The built-in list (see the module docs).
const BUILTIN: &[(&str, FunctionEffect)] = {
    use FunctionEffect::{Pin, Primary, SetConfig};
    &[
        ("nextval", Primary),
        ("setval", Primary),
        ("currval", Primary),
        ("lastval", Primary),
        ("pg_advisory_lock", Pin),
        ("pg_advisory_lock_shared", Pin),
        ("pg_try_advisory_lock", Pin),
        ("pg_try_advisory_lock_shared", Pin),
        ("pg_advisory_*", Primary),
        ("pg_try_advisory_*", Primary),
        ("txid_current", Primary),
        ("txid_current_if_assigned", Primary),
        ("pg_current_xact_id", Primary),
        ("pg_current_xact_id_if_assigned", Primary),
        ("pg_current_wal_*", Primary),
        ("pg_current_xlog_*", Primary),
        ("pg_switch_wal", Primary),
        ("pg_switch_xlog", Primary),
        ("pg_create_*", Primary),
        ("pg_drop_*", Primary),
        ("pg_copy_*", Primary),
        ("pg_replication_slot_advance", Primary),
        ("pg_replication_origin_*", Primary),
        ("pg_logical_*", Primary),
        ("pg_export_snapshot", Primary),
        ("pg_notify", Primary),
        ("pg_terminate_backend", Primary),
        ("pg_cancel_backend", Primary),
        ("pg_import_system_collations", Primary),
        ("set_config", SetConfig),
        ("lo_*", Primary),
        ("loread", Primary),
        ("lowrite", Primary),
        ("dblink*", Primary),
    ]
};

/// A set of function-name patterns that force the primary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrimaryFunctions {
    exact: HashMap<String, FunctionEffect>,
    /// Longest prefix first, so the most specific pattern decides.
    prefixes: Vec<(String, FunctionEffect)>,
}

impl PrimaryFunctions {
    /// The built-in list, shared.
    pub fn builtin() -> &'static PrimaryFunctions {
        static BUILT: OnceLock<PrimaryFunctions> = OnceLock::new();
        BUILT.get_or_init(|| PrimaryFunctions::with_extra(std::iter::empty::<&str>()))
    }

    /// The built-in list plus `extra` patterns (each forcing the primary;
    /// e.g. the proxy's `routing.primary_functions`). Empty patterns are
    /// ignored; names are compared in lower case.
    pub fn with_extra<I, S>(extra: I) -> PrimaryFunctions
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = PrimaryFunctions::default();
        for (pattern, effect) in BUILTIN {
            out.add(pattern, *effect);
        }
        for pattern in extra {
            let pattern = pattern.as_ref().trim().to_ascii_lowercase();
            if !pattern.is_empty() && out.lookup_pattern(&pattern).is_none() {
                out.add(&pattern, FunctionEffect::Primary);
            }
        }
        out.prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        out
    }

    fn add(&mut self, pattern: &str, effect: FunctionEffect) {
        match pattern.strip_suffix('*') {
            Some(prefix) => self.prefixes.push((prefix.to_string(), effect)),
            None => {
                self.exact.insert(pattern.to_string(), effect);
            }
        }
    }

    /// An exact duplicate of an existing pattern keeps the built-in effect.
    fn lookup_pattern(&self, pattern: &str) -> Option<FunctionEffect> {
        match pattern.strip_suffix('*') {
            Some(p) => self
                .prefixes
                .iter()
                .find(|(q, _)| q == p)
                .map(|(_, effect)| *effect),
            None => self.exact.get(pattern).copied(),
        }
    }

    /// The effect of calling the function named by `parts` (schema and
    /// name as written, any case), if it is listed.
    pub fn lookup<S: AsRef<str>>(&self, parts: &[S]) -> Option<FunctionEffect> {
        let last = parts.last()?.as_ref().to_ascii_lowercase();
        let full = parts
            .iter()
            .map(|p| p.as_ref().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(".");
        for name in [&full, &last] {
            if let Some(effect) = self.exact.get(name.as_str()) {
                return Some(*effect);
            }
        }
        for name in [&full, &last] {
            if let Some((_, effect)) = self.prefixes.iter().find(|(p, _)| name.starts_with(p)) {
                return Some(*effect);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_prefix_and_schemas_are_seen_through() {
        let f = PrimaryFunctions::builtin();
        assert_eq!(f.lookup(&["pg_advisory_lock"]), Some(FunctionEffect::Pin));
        assert_eq!(
            f.lookup(&["pg_catalog", "PG_ADVISORY_XACT_LOCK"]),
            Some(FunctionEffect::Primary)
        );
        assert_eq!(
            f.lookup(&["pg_catalog", "nextval"]),
            Some(FunctionEffect::Primary)
        );
        assert_eq!(f.lookup(&["lo_import"]), Some(FunctionEffect::Primary));
        assert_eq!(f.lookup(&["dblink_exec"]), Some(FunctionEffect::Primary));
        assert_eq!(f.lookup(&["set_config"]), Some(FunctionEffect::SetConfig));
        assert_eq!(f.lookup(&["now"]), None);
        assert_eq!(f.lookup(&["lower"]), None);
        assert_eq!(f.lookup::<&str>(&[]), None);
    }

    #[test]
    fn extra_patterns() {
        let f = PrimaryFunctions::with_extra(["audit_*", "App.Touch", "  ", "nextval"]);
        assert_eq!(f.lookup(&["audit_log"]), Some(FunctionEffect::Primary));
        assert_eq!(f.lookup(&["app", "touch"]), Some(FunctionEffect::Primary));
        assert_eq!(f.lookup(&["other", "touch"]), None);
        assert_eq!(f.lookup(&["touch"]), None);
        assert_eq!(f.lookup(&["nextval"]), Some(FunctionEffect::Primary));
        assert_eq!(PrimaryFunctions::builtin().lookup(&["audit_log"]), None);
    }
}
