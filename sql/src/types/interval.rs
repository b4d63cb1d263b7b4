//! The `interval` type: months, days and microseconds kept apart, as in
//! PostgreSQL (a month is not a fixed number of days).

use serde::{Deserialize, Serialize};

/// An interval value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}
