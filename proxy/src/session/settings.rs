//! A client's session settings, replayed on whichever backend serves it.
//!
//! In transaction pooling (and for reads sent to replicas in session
//! pooling) a client's statements run on many backend connections, but its
//! `SET`s must hold on all of them. The session keeps every session-level
//! setting the client made — from its startup packet (`application_name`,
//! `DateStyle`, `-c` options, ...) and from successful `SET` statements —
//! as an ordered list of `SET` statements. A connection remembers the hash
//! of the list it last received; before a client uses a connection whose
//! hash differs, the session sends `RESET ALL` plus the list in one round
//! trip. Clients with the same settings (the common case: every pgbench or
//! application client) share connections without any replay.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// Startup parameters that are protocol fields, not settings.
const NOT_SETTINGS: &[&str] = &["user", "database", "options", "replication"];

/// The client's settings as `SET` statements, in the order made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    entries: Vec<(String, String)>,
    hash: u64,
}

impl Settings {
    /// Settings from a startup packet (`options` parsed for `-c k=v`);
    /// `skip` names settings the proxy consumes itself (as parameters or
    /// in `options`, any case).
    pub fn from_startup(params: &HashMap<String, String>, skip: &[&str]) -> Settings {
        let mut s = Settings::default();
        let mut names: Vec<&String> = params.keys().collect();
        names.sort();
        for name in names {
            if NOT_SETTINGS.contains(&name.as_str()) || skipped(skip, name) {
                continue;
            }
            if let Some(value) = params.get(name) {
                s.set_value(name, value);
            }
        }
        if let Some(options) = params.get("options") {
            for (name, value) in crate::routing::option_settings(options) {
                if !skipped(skip, &name) {
                    s.set_value(&name, &value);
                }
            }
        }
        s
    }

    /// Records `SET name = value` given as a literal value.
    pub fn set_value(&mut self, name: &str, value: &str) {
        if !valid_name(name) {
            return;
        }
        let sql = format!("SET {name} = '{}'", value.replace('\'', "''"));
        self.set_sql(name, sql);
    }

    /// Records a `SET` statement exactly as the client wrote it.
    pub fn set_sql(&mut self, name: &str, sql: String) {
        let key = name.to_ascii_lowercase();
        self.entries.retain(|(n, _)| *n != key);
        self.entries.push((key, sql));
        self.rehash();
    }

    /// `RESET name`, or `RESET ALL` / `DISCARD ALL` with `None`.
    pub fn reset(&mut self, name: Option<&str>) {
        match name {
            Some(name) => {
                let key = name.to_ascii_lowercase();
                self.entries.retain(|(n, _)| *n != key);
            }
            None => self.entries.clear(),
        }
        self.rehash();
    }

    /// Identifies this list; 0 when empty (a fresh connection's state).
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The value the client set for `name` through startup or `set_value`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What to run on a connection holding other settings.
    pub fn replay_sql(&self) -> String {
        let mut sql = String::from("RESET ALL");
        for (_, set) in &self.entries {
            sql.push_str("; ");
            sql.push_str(set.trim_end_matches(';'));
        }
        sql
    }

    fn rehash(&mut self) {
        if self.entries.is_empty() {
            self.hash = 0;
            return;
        }
        let mut h = DefaultHasher::new();
        self.entries.hash(&mut h);
        self.hash = h.finish().max(1);
    }
}

fn skipped(skip: &[&str], name: &str) -> bool {
    skip.iter().any(|s| s.eq_ignore_ascii_case(name))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_parameters_and_options_become_sets() {
        let mut p = HashMap::new();
        p.insert("user".to_string(), "u".to_string());
        p.insert("application_name".to_string(), "it's".to_string());
        p.insert(
            "options".to_string(),
            "-c rustydb.service=olap -cstatement_timeout=5s --search_path=a\\ b".to_string(),
        );
        let s = Settings::from_startup(&p, &["rustydb.service"]);
        assert_eq!(
            s.replay_sql(),
            "RESET ALL; SET application_name = 'it''s'; SET statement_timeout = '5s'; SET search_path = 'a b'"
        );
        assert_ne!(s.hash(), 0);
        let mut t = s.clone();
        t.reset(Some("STATEMENT_TIMEOUT"));
        assert_ne!(t.hash(), s.hash());
        t.reset(None);
        assert_eq!(t.hash(), 0);
        t.set_value("bad name; drop", "x");
        assert!(t.is_empty());
    }
}
