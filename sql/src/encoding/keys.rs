//! The layout of the key space.
//!
//! ```text
//! 0x01 'D' <name>                          database definition (JSON)
//! 0x02 <db u32> 'R' <name>                 relation definition: table or sequence (JSON)
//! 0x03 <db u32> <object u32> <key...>      table rows (key = encoded primary key)
//!                                          and index entries (key = encoded index values [+ pk])
//! 0x04 <object u32>                        sequence state (i64, non-transactional)
//! 0x05 'next-oid'                          the object id counter
//! ```
//!
//! Object ids (tables, indexes, sequences, databases) come from one counter,
//! so a row key and an index key never collide, and they double as the OIDs
//! that pg_catalog shows.

use super::keycode::prefix_end;

/// The first object id handed out (PostgreSQL's FirstNormalObjectId).
pub const FIRST_OBJECT_ID: u32 = 16384;

/// Key of a database definition.
pub fn database(name: &str) -> Vec<u8> {
    let mut k = vec![0x01, b'D'];
    k.extend_from_slice(name.as_bytes());
    k
}

/// Range of all database definitions.
pub fn databases() -> (Vec<u8>, Vec<u8>) {
    let start = vec![0x01, b'D'];
    let end = prefix_end(&start);
    (start, end)
}

/// Key of a relation definition in a database.
pub fn relation(db: u32, name: &str) -> Vec<u8> {
    let mut k = relations_prefix(db);
    k.extend_from_slice(name.as_bytes());
    k
}

/// Prefix of every relation definition of a database.
pub fn relations_prefix(db: u32) -> Vec<u8> {
    let mut k = vec![0x02];
    k.extend_from_slice(&db.to_be_bytes());
    k.push(b'R');
    k
}

/// Prefix of an object's data (a table's rows or an index's entries).
pub fn object_prefix(db: u32, object: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + 16);
    k.push(0x03);
    k.extend_from_slice(&db.to_be_bytes());
    k.extend_from_slice(&object.to_be_bytes());
    k
}

/// Prefix of all of a database's data.
pub fn database_data_prefix(db: u32) -> Vec<u8> {
    let mut k = vec![0x03];
    k.extend_from_slice(&db.to_be_bytes());
    k
}

/// Key of a sequence's current state.
pub fn sequence_state(object: u32) -> Vec<u8> {
    let mut k = vec![0x04];
    k.extend_from_slice(&object.to_be_bytes());
    k
}

/// Key of the object id counter.
pub fn next_oid() -> Vec<u8> {
    b"\x05next-oid".to_vec()
}
