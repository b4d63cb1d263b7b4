//! Asking a node where to split the driving table.
//!
//! The node contract gives `rustydb_split_points('t', n)`: up to `n-1`
//! increasing values of the table's first primary-key column that cut it
//! into similar-size ranges. Which column that is, and its type (to cast
//! the bounds), comes from the catalog (`pg_index.indkey`'s first entry,
//! `pg_attribute`), in one query that both PostgreSQL and RustyDB answer.
//! Any error or an empty answer means "do not split" (`None`).

use super::execute::simple;
use super::merge;
use super::rewrite::{self, Split};
use crate::error::ProxyError;
use crate::pool::ServerConn;

/// The driving table's first key column and split points (`None`: no key,
/// or too small to split).
pub(super) async fn read_split(
    conn: &mut ServerConn,
    relname: &str,
    degree: u32,
) -> Result<Option<Split>, ProxyError> {
    let lit = rewrite::literal(relname);
    let key_sql = format!(
        "SELECT a.attnum::int4, a.attname::text, a.atttypid::int8, i.indkey::text \
         FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid \
         JOIN pg_attribute a ON a.attrelid = c.oid \
         WHERE c.relname = {lit} AND i.indisprimary AND a.attnum > 0"
    );
    let keys = simple(conn, key_sql.as_bytes()).await?;
    if keys.error.is_some() {
        return Ok(None);
    }
    let mut first_key: Option<i64> = None;
    let mut columns = Vec::new();
    for row in &keys.rows {
        let v = merge::data_row_values(row.body()).unwrap_or_default();
        let text = |i: usize| {
            v.get(i)
                .copied()
                .flatten()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        if let (Some(num), Some(name), Some(ty), Some(indkey)) =
            (text(0), text(1), text(2), text(3))
        {
            first_key = indkey
                .split_whitespace()
                .next()
                .and_then(|k| k.parse().ok());
            if let (Ok(num), Ok(ty)) = (num.parse::<i64>(), ty.parse::<u32>()) {
                columns.push((num, name, ty));
            }
        }
    }
    let Some((_, pk, ty)) = first_key.and_then(|k| columns.into_iter().find(|c| c.0 == k)) else {
        return Ok(None);
    };
    let sql = format!("SELECT bound FROM rustydb_split_points({lit}, {degree})");
    let points = simple(conn, sql.as_bytes()).await?;
    if points.error.is_some() {
        return Ok(None);
    }
    let mut bounds = Vec::new();
    for row in &points.rows {
        let v = merge::data_row_values(row.body()).unwrap_or_default();
        if let Some(Some(b)) = v.first() {
            bounds.push(String::from_utf8_lossy(b).into_owned());
        }
    }
    if bounds.is_empty() {
        return Ok(None);
    }
    Ok(Some(Split {
        pk,
        pk_type: merge::type_name(ty).map(str::to_string),
        bounds,
    }))
}
