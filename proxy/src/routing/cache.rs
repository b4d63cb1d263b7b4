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
        let shard = self.shard(sql);
        {
            let mut s = shard.lock();
            if let Some(c) = s.young.get(sql) {
                return c.clone();
            }
            if let Some((k, c)) = s.old.remove_entry(sql) {
                Self::insert_young(&mut s, self.per_generation, k, c.clone());
                return c;
            }
        }
        // Classify outside the lock: parsing is the slow part, and two
        // sessions racing on a new text only do the work twice.
        let c = Arc::new(classify_with(sql, &self.functions));
        let mut s = shard.lock();
        Self::insert_young(&mut s, self.per_generation, Arc::from(sql), c.clone());
        c
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
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
