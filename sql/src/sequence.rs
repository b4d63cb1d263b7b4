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
const RESERVE: i64 = 64;

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

impl Sequences {
    fn load(&self, engine: &Engine, id: u32, start: i64) -> Result<SeqState> {
        let mut txn = engine.storage.begin(TxnOptions::default())?;
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
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
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
    pub fn next_row_id(&self, engine: &Engine, table_id: u32) -> Result<i64> {
        let def = SequenceDef {
            id: table_id,
            name: String::new(),
            data_type: crate::types::DataType::Int8,
            start: 1,
            increment: 1,
            min: 1,
            max: i64::MAX,
            cycle: false,
            owned_by: None,
        };
        self.next(engine, &def)
    }

    /// Forgets a dropped sequence (or a truncated table's row ids).
    pub fn forget(&self, engine: &Engine, id: u32, restart: Option<i64>) -> Result<()> {
        let mut states = self.states.lock();
        states.remove(&id);
        let mut txn = engine.storage.begin(TxnOptions::default())?;
        match restart {
            Some(v) => txn.put(&keys::sequence_state(id), &encode(v, false))?,
            None => txn.delete(&keys::sequence_state(id))?,
        }
        txn.commit()?;
        Ok(())
    }
}
