//! The classification cache: statement text → `Arc<Classification>`.
//!
//! Applications send the same few hundred texts over and over (prepared
//! statements, ORMs, pgbench), so each distinct text is lexed and parsed
//! once. The cache is bounded (`routing.classify_cache_size` entries) and
//! approximately LRU, built as two generations per shard: hits and new
//! entries go to the young generation; when it fills, the old generation
//! is dropped and the young one becomes old. A text used at least once
//! per generation therefore stays; a burst of one-off texts (literals
//! inlined by a client) evicts only what was not used since. Shards
//! (by text hash) keep lock hold times and contention small.
//!
//! Clients that inline literals (the simple protocol: pgbench `-M simple`,
//! most ORMs' logging modes) send a new text for every statement. The
//! cache therefore also keys by the text with its numeric and string
//! literals replaced by `?` ([`literal_shape`]): routing never depends on
//! a literal's value, except in `set_config(…)` calls (whose third argument
//! decides whether a setting outlives the transaction) and in statements
//! with session effects (whose recorded `SET` carries the value); those
//! are cached by exact text only.
//!
//! Texts longer than [`MAX_CACHED_TEXT`] are classified every time and
//! never stored: they are almost always unique (bulk INSERTs) and would
//! make the cache's memory unbounded in practice.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use parking_lot::Mutex;
use rustydb_sql::classify::{classify_with, Classification, PrimaryFunctions};

use crate::config::RoutingConfig;

/// Longest text kept in the cache (bytes).
pub const MAX_CACHED_TEXT: usize = 16 * 1024;

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    young: HashMap<Arc<str>, Arc<Classification>>,
    old: HashMap<Arc<str>, Arc<Classification>>,
}

/// A bounded map from statement text to its classification.
pub struct ClassifyCache {
    shards: [Mutex<Shard>; SHARDS],
    /// Entries per generation per shard (total at most ~2 × cap).
    per_generation: usize,
    functions: PrimaryFunctions,
    hasher: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for ClassifyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassifyCache")
            .field("len", &self.len())
            .field("per_generation", &self.per_generation)
            .finish()
    }
}

impl ClassifyCache {
    /// A cache of about `cap` texts with the built-in function list
    /// (`cap` 0 disables caching).
    pub fn new(cap: usize) -> Self {
        Self::with_functions(cap, PrimaryFunctions::builtin().clone())
    }

    /// As [`ClassifyCache::new`] with the functions that force the primary.
    pub fn with_functions(cap: usize, functions: PrimaryFunctions) -> Self {
        ClassifyCache {
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            // Two generations: each holds half of the budget.
            per_generation: cap.div_ceil(2 * SHARDS),
            functions,
            hasher: Default::default(),
        }
    }

    /// From `[routing]`: `classify_cache_size` and `primary_functions`.
    pub fn from_config(routing: &RoutingConfig) -> Self {
        Self::with_functions(
            routing.classify_cache_size,
            PrimaryFunctions::with_extra(&routing.primary_functions),
        )
    }

    /// The classification of `sql`, from the cache or computed now.
    pub fn classify(&self, sql: &str) -> Arc<Classification> {
        if self.per_generation == 0 || sql.len() > MAX_CACHED_TEXT {
            return Arc::new(classify_with(sql, &self.functions));
        }
        if let Some(shape) = literal_shape(sql) {
            if let Some(c) = self.lookup(&shape) {
                if c.session.is_none() {
                    return c;
                }
            }
            let c = Arc::new(classify_with(sql, &self.functions));
            let key = if c.session.is_none() {
                shape.as_str()
            } else {
                sql
            };
            let mut s = self.shard(key).lock();
            Self::insert_young(&mut s, self.per_generation, Arc::from(key), c.clone());
            return c;
        }
        if let Some(c) = self.lookup(sql) {
            return c;
        }
        // Classify outside the lock: parsing is the slow part, and two
        // sessions racing on a new text only do the work twice.
        let c = Arc::new(classify_with(sql, &self.functions));
        let mut s = self.shard(sql).lock();
        Self::insert_young(&mut s, self.per_generation, Arc::from(sql), c.clone());
        c
    }

    fn lookup(&self, key: &str) -> Option<Arc<Classification>> {
        let mut s = self.shard(key).lock();
        if let Some(c) = s.young.get(key) {
            return Some(c.clone());
        }
        let (k, c) = s.old.remove_entry(key)?;
        Self::insert_young(&mut s, self.per_generation, k, c.clone());
        Some(c)
    }

    fn insert_young(
        s: &mut Shard,
        per_generation: usize,
        key: Arc<str>,
        value: Arc<Classification>,
    ) {
        if s.young.len() >= per_generation {
            s.old = std::mem::take(&mut s.young);
        }
        s.young.insert(key, value);
    }

    fn shard(&self, sql: &str) -> &Mutex<Shard> {
        &self.shards[(self.hasher.hash_one(sql) % SHARDS as u64) as usize]
    }

    /// Texts currently cached.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock();
                s.young.len() + s.old.len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `sql` with numeric and string literals replaced by `?`, prefixed with
/// a NUL (which no statement text contains) so shapes and exact texts
/// never collide. `None` when there is nothing to replace, or when the
/// text holds something this scan does not model exactly (dollar quotes,
/// backslashes in strings, `set_config`): those are keyed by exact text.
pub fn literal_shape(sql: &str) -> Option<String> {
    let b = sql.as_bytes();
    if b.windows(10).any(|w| w.eq_ignore_ascii_case(b"set_config")) {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(b.len() + 1);
    out.push(0);
    let mut changed = false;
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'-' && next == Some(b'-') {
            let end = b[i..]
                .iter()
                .position(|&x| x == b'\n')
                .map_or(b.len(), |p| i + p + 1);
            out.extend_from_slice(&b[i..end]);
            i = end;
        } else if c == b'/' && next == Some(b'*') {
            // PostgreSQL block comments nest.
            let start = i;
            let mut depth = 0usize;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.extend_from_slice(&b[start..i.min(b.len())]);
        } else if c == b'\'' {
            let mut j = i + 1;
            loop {
                match b.get(j) {
                    None => return None,
                    Some(b'\\') => return None,
                    Some(b'\'') if b.get(j + 1) == Some(&b'\'') => j += 2,
                    Some(b'\'') => break,
                    Some(_) => j += 1,
                }
            }
            out.push(b'?');
            changed = true;
            i = j + 1;
        } else if c == b'"' {
            let mut j = i + 1;
            loop {
                match b.get(j) {
                    None => return None,
                    Some(b'"') if b.get(j + 1) == Some(&b'"') => j += 2,
                    Some(b'"') => break,
                    Some(_) => j += 1,
                }
            }
            out.extend_from_slice(&b[i..=j]);
            i = j + 1;
        } else if c == b'$' && !next.is_some_and(|n| n.is_ascii_digit()) {
            // `$tag$` or `$$`: a dollar-quoted string.
            if i == 0 || !ident(b[i - 1]) {
                return None;
            }
            out.push(c);
            i += 1;
        } else if (c.is_ascii_digit() || (c == b'.' && next.is_some_and(|n| n.is_ascii_digit())))
            && (i == 0 || !ident(b[i - 1]))
        {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
                let mut k = j + 1;
                if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
                    k += 1;
                }
                if k < b.len() && b[k].is_ascii_digit() {
                    while k < b.len() && b[k].is_ascii_digit() {
                        k += 1;
                    }
                    j = k;
                }
            }
            out.push(b'?');
            changed = true;
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    if !changed {
        return None;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn shapes_replace_literals_only() {
        let s = |q: &str| literal_shape(q).map(|x| x[1..].to_string());
        assert_eq!(
            s("SELECT abalance FROM pgbench_accounts WHERE aid = 1234;").as_deref(),
            Some("SELECT abalance FROM pgbench_accounts WHERE aid = ?;")
        );
        assert_eq!(
            s("select t1.\"a'b\", 'it''s', 1.5e-3 from t1 /* 'x' /* 2 */ */ -- 'y'\nwhere $1 = x")
                .as_deref(),
            Some("select t1.\"a'b\", ?, ? from t1 /* 'x' /* 2 */ */ -- 'y'\nwhere $1 = x")
        );
        assert_eq!(
            s("SELECT 1 FROM t /* rustydb:primary */").as_deref(),
            Some("SELECT ? FROM t /* rustydb:primary */")
        );
        assert_eq!(s("SELECT a FROM t"), None, "nothing to replace");
        assert_eq!(s("SELECT $$x$$"), None);
        assert_eq!(s("SELECT E'\\n'"), None);
        assert_eq!(s("SELECT set_config('a', 'b', false)"), None);
        assert_eq!(s("SELECT 'unterminated"), None);
    }

    #[test]
    fn shapes_share_classifications_but_not_session_effects() {
        let cache = ClassifyCache::new(64);
        let a = cache.classify("SELECT * FROM t WHERE id = 1");
        let b = cache.classify("SELECT * FROM t WHERE id = 2");
        assert!(Arc::ptr_eq(&a, &b), "same shape, one classification");
        let one = cache.classify("SET statement_timeout = 1000");
        let two = cache.classify("SET statement_timeout = 2000");
        assert_ne!(one.session, two.session, "each SET keeps its own value");
        let w = cache.classify("UPDATE t SET x = 1 WHERE id = 3");
        assert_eq!(w.target, Target::Primary);
    }

    use super::*;
    use rustydb_sql::classify::Target;

    #[test]
    fn caches_by_text_and_stays_bounded() {
        let cache = ClassifyCache::new(64);
        let a = cache.classify("SELECT 1");
        let b = cache.classify("SELECT 1");
        assert!(Arc::ptr_eq(&a, &b), "second lookup is a hit");
        assert_eq!(a.target, Target::Replica);
        assert_eq!(cache.classify("DELETE FROM t").target, Target::Primary);
        for i in 0..10_000 {
            cache.classify(&format!("SELECT {i}"));
        }
        assert!(cache.len() <= 2 * 64 + SHARDS, "len {}", cache.len());
    }

    #[test]
    fn hot_texts_survive_a_flood() {
        let cache = ClassifyCache::new(320);
        let hot = cache.classify("SELECT abalance FROM pgbench_accounts WHERE aid = $1");
        for i in 0..5_000 {
            cache.classify(&format!("SELECT {i}"));
            if i % 50 == 0 {
                let again = cache.classify("SELECT abalance FROM pgbench_accounts WHERE aid = $1");
                assert!(Arc::ptr_eq(&hot, &again), "evicted at {i}");
            }
        }
    }

    #[test]
    fn disabled_and_oversized_texts_are_not_stored() {
        let off = ClassifyCache::new(0);
        assert_eq!(off.classify("SELECT 1").target, Target::Replica);
        assert!(off.is_empty());
        let cache = ClassifyCache::new(100);
        let big = format!("SELECT '{}'", "x".repeat(MAX_CACHED_TEXT));
        assert_eq!(cache.classify(&big).target, Target::Replica);
        assert!(cache.is_empty());
    }

    #[test]
    fn configured_functions_apply() {
        let routing = RoutingConfig {
            primary_functions: vec!["audit_*".into()],
            ..RoutingConfig::default()
        };
        let cache = ClassifyCache::from_config(&routing);
        assert_eq!(cache.classify("SELECT audit_x()").target, Target::Primary);
        assert_eq!(
            ClassifyCache::new(10).classify("SELECT audit_x()").target,
            Target::Replica
        );
    }
}
