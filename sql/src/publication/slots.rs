//! Replication slot definitions, as stored.
//!
//! A slot is a subscriber's durable position in one publication's stream:
//! the highest LSN it confirmed. Slots are rows of a system keyspace
//! (`0x06 "slot/" <name>` → JSON), written with ordinary transactions on
//! the primary, so they are in the WAL and every replica holds them: after
//! a failover the new primary has each slot at its last confirmed LSN (the
//! failover slots PostgreSQL only gained in version 17).
//!
//! The node owns the slot *behaviour* (creation over HTTP, confirmation,
//! WAL retention, invalidation); this module only defines the record and
//! reads and writes it, so the SQL view `rustydb_replication_slots` and the
//! node agree on one format. Which slots are being streamed right now is
//! not stored (it is per node): the node reports it in `SlotActivity`.

use std::collections::HashSet;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::encoding::keycode::prefix_end;
use crate::error::{Error, Result};
use crate::storage::Transaction;

/// A slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotDef {
    pub name: String,
    pub publication: String,
    /// The database the publication lives in.
    pub database: String,
    /// Everything up to and including this LSN was confirmed.
    pub confirmed_lsn: u64,
    /// LSN when the slot was made.
    pub created_lsn: u64,
    /// Set when WAL the slot needed was removed past the retention limit;
    /// an invalidated slot can no longer stream.
    #[serde(default)]
    pub invalidated: Option<String>,
}

const PREFIX: &[u8] = b"\x06slot/";

/// The key of a slot.
pub fn slot_key(name: &str) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

fn decode(raw: &[u8]) -> Result<SlotDef> {
    serde_json::from_slice(raw).map_err(|e| Error::Storage(format!("corrupt slot: {e}")))
}

/// Reads a slot.
pub fn get(txn: &mut dyn Transaction, name: &str) -> Result<Option<SlotDef>> {
    txn.get(&slot_key(name))?.map(|r| decode(&r)).transpose()
}

/// Reads a slot with its key locked until the transaction ends.
pub fn lock(txn: &mut dyn Transaction, name: &str) -> Result<Option<SlotDef>> {
    txn.lock(&slot_key(name))?.map(|r| decode(&r)).transpose()
}

/// Every slot, by name.
pub fn list(txn: &mut dyn Transaction) -> Result<Vec<SlotDef>> {
    let end = prefix_end(PREFIX);
    let mut from = PREFIX.to_vec();
    let mut out = Vec::new();
    loop {
        let page = txn.scan(&from, &end, 256)?;
        let done = page.len() < 256;
        for (k, v) in page {
            out.push(decode(&v)?);
            from = k;
            from.push(0);
        }
        if done {
            return Ok(out);
        }
    }
}

/// Writes a slot.
pub fn put(txn: &mut dyn Transaction, slot: &SlotDef) -> Result<()> {
    let raw = serde_json::to_vec(slot).map_err(|e| Error::internal(e.to_string()))?;
    txn.put(&slot_key(&slot.name), &raw)
}

/// Removes a slot.
pub fn delete(txn: &mut dyn Transaction, name: &str) -> Result<()> {
    txn.delete(&slot_key(name))
}

/// Whether `key` is a slot record (the decoder skips them: they are
/// bookkeeping, not data).
pub fn is_slot_key(key: &[u8]) -> bool {
    key.starts_with(PREFIX)
}

/// Which slots this node is streaming right now (for the `active` column).
#[derive(Default)]
pub struct SlotActivity {
    active: Mutex<HashSet<String>>,
}

impl SlotActivity {
    /// Marks a slot streamed; `false` if it already was (one stream per slot).
    pub fn acquire(&self, name: &str) -> bool {
        self.active.lock().insert(name.to_string())
    }

    /// Marks a slot no longer streamed.
    pub fn release(&self, name: &str) {
        self.active.lock().remove(name);
    }

    /// Whether a slot is being streamed.
    pub fn is_active(&self, name: &str) -> bool {
        self.active.lock().contains(name)
    }
}
