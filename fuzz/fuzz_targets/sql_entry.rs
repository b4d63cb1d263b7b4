//! Fuzzes the SQL front door: arbitrary text through the simple-query and
//! extended-protocol `prepare` paths of one long-lived session.
//!
//! One engine over `MemoryStorage` is built per process (`OnceLock`) with a
//! seeded table `t` covering the common types, so inputs reach the planner
//! and executor instead of stopping at "relation does not exist". Results
//! are ignored: only panics, aborts and hangs (libFuzzer `-timeout`) count.
//! After each input an open transaction block is rolled back, so one input
//! cannot leave the session in an aborted block for every later input.
//! Committed DDL/DML does persist between inputs (like a real server); the
//! seed is re-created if an input dropped it.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use rustydb_sql::memory::MemoryStorage;
use rustydb_sql::session::Session;
use rustydb_sql::Engine;

/// Inputs above this are skipped: long inputs only slow the search down.
const MAX_INPUT: usize = 4096;

const SEED: &str = "CREATE TABLE t (a int primary key, b text, c numeric, d timestamp, e jsonb); \
    INSERT INTO t VALUES \
    (1, 'one', 1.5, '2024-01-02 03:04:05', '{\"k\": [1, 2, {\"x\": null}]}'), \
    (2, NULL, -0.001, '1999-12-31 23:59:59.999999', '[]'), \
    (3, 'three', 12345678901234567890.123, NULL, '\"s\"'), \
    (4, '', NULL, '2000-02-29 00:00:00', 'null')";

struct State {
    // Kept alive for the session's lifetime.
    _engine: Arc<Engine>,
    session: Session,
}

fn state() -> &'static Mutex<State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE.get_or_init(|| {
        let storage = MemoryStorage::new();
        let engine = Engine::new(storage).expect("engine over memory storage");
        let mut session = engine
            .connect("postgres", "postgres")
            .expect("connect postgres/postgres");
        for r in session.simple_query(SEED) {
            r.expect("seed statement");
        }
        Mutex::new(State {
            _engine: engine,
            session,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let sql = String::from_utf8_lossy(data);
    let mut guard = match state().lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    let session = &mut guard.session;

    let _ = session.simple_query(&sql);
    let _ = session.simple_query("ROLLBACK");
    let _ = session.prepare(&sql, &[]);
    let _ = session.simple_query("ROLLBACK");

    // Re-seed if an input dropped or altered `t` away (cheap check).
    let ok = session
        .simple_query("SELECT a, b, c, d, e FROM t LIMIT 0")
        .iter()
        .all(|r| r.is_ok());
    if !ok {
        let _ = session.simple_query("DROP TABLE IF EXISTS t CASCADE");
        let _ = session.simple_query(SEED);
        let _ = session.simple_query("ROLLBACK");
    }
});
