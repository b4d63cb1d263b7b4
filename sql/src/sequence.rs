//! Sequences: non-transactional counters (nextval, serial, hidden row ids).
//!
//! Like PostgreSQL, a sequence does not roll back with the transaction that
//! advanced it, and it does not write to the log on every call. The state
//! kept in storage is a *reservation*: the highest value that may already
//! have been handed out. Values come from memory until the reservation runs
//! out; then a small autonomous transaction durably moves the reservation
//! `RESERVE` steps ahead. After a crash a sequence resumes past the
//! reservation, so values can jump (as in PostgreSQL) but never repeat.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::catalog::SequenceDef;
use crate::encoding::keys;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::storage::TxnOptions;
use crate::SqlState;

/// How many values one durable reservation covers.
const RESERVE: i64 = 1000;

#[derive(Debug, Clone, Copy)]
struct SeqState {
    /// The last value handed out (meaningful when `called`).
    last: i64,
    called: bool,
    /// The durable reservation: values up to here may be handed out.
    reserved: i64,
}

/// All sequences' in-memory state.
#[derive(Default)]
pub struct Sequences {
    states: Mutex<HashMap<u32, SeqState>>,
    /// Hidden row id counters per table: the last id handed out.
    row_ids: Mutex<HashMap<u32, i64>>,
}

fn encode(last: i64, called: bool) -> Vec<u8> {
    let mut v = last.to_be_bytes().to_vec();
    v.push(u8::from(called));
    v
}

fn decode(raw: &[u8]) -> Result<(i64, bool)> {
    if raw.len() != 9 {
        return Err(Error::Storage("corrupt sequence state".into()));
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&raw[..8]);
    Ok((i64::from_be_bytes(b), raw[8] == 1))
}

/// A read-only transaction: loading state must work on a replica too.
fn read_only() -> TxnOptions {
    TxnOptions {
        read_only: true,
        ..Default::default()
    }
}

impl Sequences {
    /// Forgets every cached sequence position and row-id counter; they
    /// reload from storage on next use. Safe at any time: the stored
    /// reservation is never below a value already handed out.
    pub fn reset(&self) {
        let mut states = self.states.lock();
        let mut ids = self.row_ids.lock();
        states.clear();
        ids.clear();
    }

    fn load(&self, engine: &Engine, id: u32, start: i64) -> Result<SeqState> {
        let mut txn = engine.storage.begin(read_only())?;
        let raw = txn.get(&keys::sequence_state(id))?;
        txn.rollback();
        Ok(match raw {
            Some(raw) => {
                let (last, called) = decode(&raw)?;
                SeqState {
                    last,
                    called,
                    reserved: last,
                }
            }
            None => SeqState {
                last: start,
                called: false,
                reserved: start,
            },
        })
    }

    fn persist(engine: &Engine, id: u32, value: i64, called: bool) -> Result<()> {
        let mut txn = engine.storage.begin(TxnOptions::default())?;
        txn.put(&keys::sequence_state(id), &encode(value, called))?;
        txn.commit()?;
        Ok(())
    }

    /// `nextval`.
    pub fn next(&self, engine: &Engine, def: &SequenceDef) -> Result<i64> {
        let mut states = self.states.lock();
        let state = match states.get(&def.id) {
            Some(s) => *s,
            None => self.load(engine, def.id, def.start)?,
        };
        let mut next = if state.called {
            state.last.checked_add(def.increment)
        } else {
            Some(state.last)
        };
        if let Some(n) = next {
            if n > def.max || n < def.min {
                next = None;
            }
        }
        let next = match next {
            Some(n) => n,
            None if def.cycle => {
                if def.increment > 0 {
                    def.min
                } else {
                    def.max
                }
            }
            None => {
                let bound = if def.increment > 0 {
                    "maximum"
                } else {
                    "minimum"
                };
                let v = if def.increment > 0 { def.max } else { def.min };
                return Err(Error::new(
                    SqlState("2200H"),
                    format!(
                        "nextval: reached {bound} value of sequence \"{}\" ({v})",
                        def.name
                    ),
                ));
            }
        };
        let mut reserved = state.reserved;
        let beyond = if def.increment > 0 {
            next > reserved || !state.called && next >= reserved
        } else {
            next < reserved || !state.called && next <= reserved
        };
        if beyond {
            let ahead = next.saturating_add(def.increment.saturating_mul(RESERVE));
            let ahead = ahead.clamp(def.min, def.max);
            Self::persist(engine, def.id, ahead, true)?;
            reserved = ahead;
        }
        states.insert(
            def.id,
            SeqState {
                last: next,
                called: true,
                reserved,
            },
        );
        Ok(next)
    }

    /// `setval`.
    pub fn set(&self, engine: &Engine, def: &SequenceDef, value: i64, called: bool) -> Result<()> {
        let mut states = self.states.lock();
        Self::persist(engine, def.id, value, called)?;
        states.insert(
            def.id,
            SeqState {
                last: value,
                called,
                reserved: value,
            },
        );
        Ok(())
    }

    /// (last_value, is_called) as `SELECT * FROM seq` shows it.
    pub fn peek(&self, engine: &Engine, def: &SequenceDef) -> Result<(i64, bool)> {
        let states = self.states.lock();
        let s = match states.get(&def.id) {
            Some(s) => *s,
            None => self.load(engine, def.id, def.start)?,
        };
        Ok((s.last, s.called))
    }

    /// A fresh hidden row id for a table without a primary key.
    ///
    /// Row ids need only be unique within the table, so nothing is logged:
    /// after a restart the counter resumes past the table's largest stored
    /// id (ids of rows never committed may be reused, which is harmless).
    pub fn next_row_id(&self, engine: &Engine, db: u32, table_id: u32) -> Result<i64> {
        let mut ids = self.row_ids.lock();
        let last = match ids.get(&table_id) {
            Some(v) => *v,
            None => {
                let prefix = keys::object_prefix(db, table_id);
                let end = crate::encoding::keycode::prefix_end(&prefix);
                let mut txn = engine.storage.begin(read_only())?;
                let page = txn.scan_rev(&prefix, &end, 1)?;
                txn.rollback();
                match page.first() {
                    Some((k, _)) => decode_row_id(k.get(prefix.len()..).unwrap_or_default())?,
                    None => 0,
                }
            }
        };
        let next = last.checked_add(1).ok_or_else(|| {
            Error::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "row id space exhausted")
        })?;
        ids.insert(table_id, next);
        Ok(next)
    }

    /// Sets the last hidden row id handed out for a table (after its rows
    /// were rewritten under ids `1..=last`).
    pub fn set_last_row_id(&self, table_id: u32, last: i64) {
        self.row_ids.lock().insert(table_id, last);
    }

    /// Forgets a dropped sequence (or a truncated table's row ids).
    pub fn forget(&self, engine: &Engine, id: u32, restart: Option<i64>) -> Result<()> {
        let mut states = self.states.lock();
        states.remove(&id);
        self.row_ids.lock().remove(&id);
        let mut txn = engine.storage.begin(TxnOptions::default())?;
        match restart {
            Some(v) => txn.put(&keys::sequence_state(id), &encode(v, false))?,
            None => txn.delete(&keys::sequence_state(id))?,
        }
        txn.commit()?;
        Ok(())
    }
}

/// Decodes a hidden row id key (an order-preserving i64).
fn decode_row_id(key: &[u8]) -> Result<i64> {
    // keycode: marker byte 0x01, then the i64 with its sign bit flipped.
    match key {
        [0x01, rest @ ..] if rest.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(rest);
            Ok((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
        }
        _ => Err(Error::Storage("corrupt row id key".into())),
    }
}
