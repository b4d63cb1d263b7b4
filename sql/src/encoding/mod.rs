//! Byte encodings of SQL data for the key-value store.
//!
//! - `keycode`: order-preserving encoding of values, used for primary keys
//!   and index entries, so that a byte-wise range scan in storage is a range
//!   scan in SQL order (NULLs last, like PostgreSQL's default ASC order).
//! - `row`: the compact encoding of a whole row, used for table values.
//! - `keys`: the layout of the key space (catalog, rows, indexes, sequences).

pub mod keycode;
pub mod keys;
pub mod row;
