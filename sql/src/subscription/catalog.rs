//! Subscriptions in the catalog, and each one's apply progress.
//!
//! ```text
//! 0x0D 'S' <name>                         SubscriptionDef (JSON)
//! 0x0D 'P' <name> 0x00 <publication>      Progress (JSON)
//! 0x0D 'T' <name> 0x00 <publication>      SyncState: tables synchronised (JSON)
//! ```
//!
//! Like PostgreSQL's `pg_subscription` the definitions are cluster-wide
//! (one namespace of names), each remembering the database it applies into.
//! The progress key holds the last remote LSN applied for one publication's
//! stream. The apply worker writes it in the *same* local transaction as the
//! rows of that remote transaction: that is the no-loss / no-duplicate
//! invariant (after any crash the stored LSN and the applied rows agree, and
//! the stream resumes just past it). Everything here is read and written
//! through the caller's transaction, so CREATE/DROP are transactional and
//! replicate to the subscriber's own replicas with everything else.

use serde::{Deserialize, Serialize};

use crate::encoding::keycode::prefix_end;
use crate::error::{Error, Result};
use crate::storage::Transaction;

/// A subscription's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionDef {
    pub oid: u32,
    pub name: String,
    /// The local database changes are applied into.
    pub database: String,
    pub database_oid: u32,
    pub owner: String,
    pub conninfo: String,
    pub publications: Vec<String>,
    pub enabled: bool,
    /// The slot on the publisher; `None` is PostgreSQL's `slot_name = NONE`.
    pub slot_name: Option<String>,
    /// Initial copy wanted (consumed once the copy is done, per publication).
    pub copy_data: bool,
    /// The slot was created by CREATE SUBSCRIPTION (so DROP removes it).
    pub create_slot: bool,
    /// `ALTER SUBSCRIPTION ... SKIP (lsn = N)`: the remote transaction at
    /// exactly N is skipped once, then this goes back to 0.
    #[serde(default)]
    pub skip_lsn: u64,
    #[serde(default)]
    pub disable_on_error: bool,
}

impl SubscriptionDef {
    /// The publisher slot used for one of the subscription's publications:
    /// the slot name for the first, `<slot>_<publication>` for the others
    /// (one stream, hence one slot, per publication).
    pub fn slot_for(&self, publication: &str) -> Option<String> {
        let slot = self.slot_name.as_ref()?;
        if self.publications.first().map(String::as_str) == Some(publication) {
            Some(slot.clone())
        } else {
            Some(format!("{slot}_{publication}"))
        }
    }
}

/// Where one publication's stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// The last remote LSN applied (commit, keepalive-advanced or copy snapshot).
    pub lsn: u64,
    /// The initial copy is done (or was not wanted).
    pub copied: bool,
}

fn def_key(name: &str) -> Vec<u8> {
    let mut k = vec![0x0D, b'S'];
    k.extend_from_slice(name.as_bytes());
    k
}

fn progress_prefix(name: &str) -> Vec<u8> {
    let mut k = vec![0x0D, b'P'];
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k
}

fn progress_key(name: &str, publication: &str) -> Vec<u8> {
    let mut k = progress_prefix(name);
    k.extend_from_slice(publication.as_bytes());
    k
}

fn decode<T: for<'a> Deserialize<'a>>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::internal(format!("corrupt subscription catalog entry: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::internal(format!("encode subscription: {e}")))
}

/// One subscription by name.
pub fn get(txn: &mut dyn Transaction, name: &str) -> Result<Option<SubscriptionDef>> {
    txn.get(&def_key(name))?.map(|b| decode(&b)).transpose()
}

/// Every subscription, by name.
pub fn list(txn: &mut dyn Transaction) -> Result<Vec<SubscriptionDef>> {
    let start = vec![0x0D, b'S'];
    let end = prefix_end(&start);
    let mut out = vec![];
    let mut from = start;
    loop {
        let page = txn.scan(&from, &end, 256)?;
        let Some((last, _)) = page.last() else { break };
        let mut next = last.clone();
        next.push(0);
        let full = page.len() == 256;
        for (_, v) in page {
            out.push(decode(&v)?);
        }
        if !full {
            break;
        }
        from = next;
    }
    Ok(out)
}

/// Stores (creates or replaces) a definition.
pub fn put(txn: &mut dyn Transaction, def: &SubscriptionDef) -> Result<()> {
    txn.put(&def_key(&def.name), &encode(def)?)
}

/// Removes a definition and all its progress and sync states.
pub fn remove(txn: &mut dyn Transaction, name: &str) -> Result<()> {
    txn.delete(&def_key(name))?;
    let prefix = progress_prefix(name);
    let end = prefix_end(&prefix);
    for (k, _) in txn.scan(&prefix, &end, 10_000)? {
        txn.delete(&k)?;
    }
    let mut sync_prefix = vec![0x0D, b'T'];
    sync_prefix.extend_from_slice(name.as_bytes());
    sync_prefix.push(0);
    let end = prefix_end(&sync_prefix);
    for (k, _) in txn.scan(&sync_prefix, &end, 10_000)? {
        txn.delete(&k)?;
    }
    Ok(())
}

/// The stored progress of one publication's stream.
pub fn progress(
    txn: &mut dyn Transaction,
    name: &str,
    publication: &str,
) -> Result<Option<Progress>> {
    txn.get(&progress_key(name, publication))?
        .map(|b| decode(&b))
        .transpose()
}

/// Records progress (in the caller's transaction: see the module notes).
pub fn put_progress(
    txn: &mut dyn Transaction,
    name: &str,
    publication: &str,
    p: Progress,
) -> Result<()> {
    txn.put(&progress_key(name, publication), &encode(&p)?)
}

/// Forgets one publication's progress (ALTER ... SET/DROP PUBLICATION).
pub fn remove_progress(txn: &mut dyn Transaction, name: &str, publication: &str) -> Result<()> {
    txn.delete(&progress_key(name, publication))?;
    txn.delete(&sync_key(name, publication))
}

/// Which of a publication's tables the subscription has synchronised
/// (PostgreSQL's `pg_subscription_rel`).
///
/// The apply worker applies a change of table `t` only when `t` is listed
/// and the change's LSN is above the table's: a table added to the
/// publication later is ignored until `ALTER SUBSCRIPTION ... REFRESH
/// PUBLICATION` copies it (at LSN S, recorded as its LSN, so the stream's
/// changes up to S, already in the copy, are not applied again). Written in
/// the same local transaction as the rows it describes. A subscription
/// without this record (made before it existed) applies every table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncState {
    /// Remote table name (`public.t`) → changes at or below this LSN are
    /// already in the table's copy.
    pub tables: std::collections::BTreeMap<String, u64>,
    /// A pending REFRESH PUBLICATION: `Some(true)` copies the tables added
    /// to the publication since, `Some(false)` (`copy_data = false`) only
    /// starts applying their changes.
    #[serde(default)]
    pub refresh: Option<bool>,
}

impl SyncState {
    /// Whether a change of `table` at `lsn` is to be applied.
    pub fn applies(&self, table: &str, lsn: u64) -> bool {
        self.tables.get(table).is_some_and(|at| lsn > *at)
    }
}

fn sync_key(name: &str, publication: &str) -> Vec<u8> {
    let mut k = vec![0x0D, b'T'];
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k.extend_from_slice(publication.as_bytes());
    k
}

/// The table synchronisation state of one publication's stream.
pub fn sync_state(
    txn: &mut dyn Transaction,
    name: &str,
    publication: &str,
) -> Result<Option<SyncState>> {
    txn.get(&sync_key(name, publication))?
        .map(|b| decode(&b))
        .transpose()
}

/// Records the table synchronisation state.
pub fn put_sync_state(
    txn: &mut dyn Transaction,
    name: &str,
    publication: &str,
    state: &SyncState,
) -> Result<()> {
    txn.put(&sync_key(name, publication), &encode(state)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStorage;
    use crate::storage::{Storage, TxnOptions};

    fn def(name: &str) -> SubscriptionDef {
        SubscriptionDef {
            oid: 1,
            name: name.into(),
            database: "postgres".into(),
            database_oid: 5,
            owner: "postgres".into(),
            conninfo: "host=a".into(),
            publications: vec!["p".into(), "q".into()],
            enabled: true,
            slot_name: Some(name.into()),
            copy_data: true,
            create_slot: true,
            skip_lsn: 0,
            disable_on_error: false,
        }
    }

    #[test]
    fn round_trip_and_remove() {
        let storage = MemoryStorage::new();
        let mut txn = storage.begin(TxnOptions::default()).unwrap();
        put(&mut *txn, &def("a")).unwrap();
        put(&mut *txn, &def("b")).unwrap();
        put_progress(
            &mut *txn,
            "a",
            "p",
            Progress {
                lsn: 7,
                copied: true,
            },
        )
        .unwrap();
        assert_eq!(list(&mut *txn).unwrap().len(), 2);
        assert_eq!(get(&mut *txn, "a").unwrap(), Some(def("a")));
        assert_eq!(
            progress(&mut *txn, "a", "p").unwrap(),
            Some(Progress {
                lsn: 7,
                copied: true
            })
        );
        remove(&mut *txn, "a").unwrap();
        assert_eq!(get(&mut *txn, "a").unwrap(), None);
        assert_eq!(progress(&mut *txn, "a", "p").unwrap(), None);
        assert_eq!(list(&mut *txn).unwrap().len(), 1);
    }

    #[test]
    fn slots_per_publication() {
        let d = def("s");
        assert_eq!(d.slot_for("p").as_deref(), Some("s"));
        assert_eq!(d.slot_for("q").as_deref(), Some("s_q"));
    }
}
