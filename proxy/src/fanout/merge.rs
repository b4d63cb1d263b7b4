//! Combining the fragments' rows.
//!
//! Fragments answer in the text format, so a DataRow is a list of
//! optional byte strings and a RowDescription names each column's type
//! OID. Two merges:
//!
//! * [`concat`]: the rows as they came, fragment after fragment (reversed
//!   for a descending key), OFFSET and LIMIT cut in the proxy. The frames
//!   are forwarded untouched, so the bytes are the backend's own;
//! * [`values_relation`]: the partial rows as a typed relation
//!   `(VALUES ('1'::int8, NULL::numeric), ...) AS p(c0, c1)` for the final
//!   query a backend evaluates. Every value is a quoted literal cast to its
//!   column's type (text output of a type always reads back as the same
//!   value in the same session settings); no rows becomes an empty
//!   `SELECT ... LIMIT 0` of the same types. A type we cannot name refuses
//!   the merge (the statement then runs on one node).

use bytes::{BufMut, Bytes, BytesMut};

use super::analyze::Reason;
use super::lower::SumType;
use crate::wire::Frame;

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: Vec<u8>,
    pub table_oid: i32,
    pub attnum: i16,
    pub type_oid: u32,
    pub type_len: i16,
    pub type_mod: i32,
    pub format: i16,
}

/// Parses a RowDescription body.
pub fn parse_row_description(body: &[u8]) -> Result<Vec<Field>, Reason> {
    let mut rest = body;
    let count = take_i16(&mut rest)?;
    let mut fields = Vec::with_capacity(count.max(0) as usize);
    for _ in 0..count {
        let end = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or("bad_row_description")?;
        let name = rest[..end].to_vec();
        rest = &rest[end + 1..];
        fields.push(Field {
            name,
            table_oid: take_i32(&mut rest)?,
            attnum: take_i16(&mut rest)?,
            type_oid: take_i32(&mut rest)? as u32,
            type_len: take_i16(&mut rest)?,
            type_mod: take_i32(&mut rest)?,
            format: take_i16(&mut rest)?,
        });
    }
    Ok(fields)
}

/// Encodes a RowDescription frame.
pub fn row_description(fields: &[Field]) -> Bytes {
    let mut body = BytesMut::new();
    body.put_i16(fields.len() as i16);
    for f in fields {
        body.put_slice(&f.name);
        body.put_u8(0);
        body.put_i32(f.table_oid);
        body.put_i16(f.attnum);
        body.put_i32(f.type_oid as i32);
        body.put_i16(f.type_len);
        body.put_i32(f.type_mod);
        body.put_i16(f.format);
    }
    Frame::new(b'T', &body).into_raw()
}

fn take_i16(rest: &mut &[u8]) -> Result<i16, Reason> {
    let (head, tail) = rest.split_at_checked(2).ok_or("bad_row")?;
    *rest = tail;
    Ok(i16::from_be_bytes([head[0], head[1]]))
}

fn take_i32(rest: &mut &[u8]) -> Result<i32, Reason> {
    let (head, tail) = rest.split_at_checked(4).ok_or("bad_row")?;
    *rest = tail;
    Ok(i32::from_be_bytes([head[0], head[1], head[2], head[3]]))
}

/// The values of a DataRow body (`None` = NULL).
pub fn data_row_values(body: &[u8]) -> Result<Vec<Option<&[u8]>>, Reason> {
    let mut rest = body;
    let count = take_i16(&mut rest)?;
    let mut values = Vec::with_capacity(count.max(0) as usize);
    for _ in 0..count {
        let len = take_i32(&mut rest)?;
        if len < 0 {
            values.push(None);
            continue;
        }
        let (value, tail) = rest.split_at_checked(len as usize).ok_or("bad_row")?;
        rest = tail;
        values.push(Some(value));
    }
    Ok(values)
}

/// The SQL name of a type OID (built-in types the merge supports).
pub fn type_name(oid: u32) -> Option<&'static str> {
    Some(match oid {
        16 => "bool",
        17 => "bytea",
        18 => "\"char\"",
        19 => "name",
        20 => "int8",
        21 => "int2",
        23 => "int4",
        25 => "text",
        26 => "oid",
        114 => "json",
        700 => "float4",
        701 => "float8",
        790 => "money",
        1042 => "bpchar",
        1043 => "varchar",
        1082 => "date",
        1083 => "time",
        1114 => "timestamp",
        1184 => "timestamptz",
        1186 => "interval",
        1266 => "timetz",
        1700 => "numeric",
        2950 => "uuid",
        3802 => "jsonb",
        1000 => "bool[]",
        1005 => "int2[]",
        1007 => "int4[]",
        1016 => "int8[]",
        1009 => "text[]",
        1015 => "varchar[]",
        1021 => "float4[]",
        1022 => "float8[]",
        1231 => "numeric[]",
        1182 => "date[]",
        1115 => "timestamp[]",
        _ => return None,
    })
}

/// How a partial column's type merges in a sum.
pub fn sum_type(oid: u32) -> SumType {
    match oid {
        20 => SumType::Int8,
        1700 => SumType::Numeric,
        // int2/int4 partials appear for distinct-aggregate arguments.
        21 | 23 => SumType::Int8,
        _ => SumType::Other,
    }
}

/// `(VALUES ...) AS p(c0, ...)` over `rows` (DataRow bodies), or an empty
/// relation of the same column types.
pub fn values_relation<'a>(
    fields: &[Field],
    rows: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, Reason> {
    let types: Vec<&str> = fields
        .iter()
        .map(|f| type_name(f.type_oid).ok_or("unknown_type"))
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = (0..fields.len()).map(|c| format!("c{c}")).collect();
    let mut sql = b"(VALUES ".to_vec();
    let mut any = false;
    for body in rows {
        let values = data_row_values(body)?;
        if values.len() != types.len() {
            return Err("bad_row");
        }
        if any {
            sql.push(b',');
        }
        any = true;
        sql.push(b'(');
        for (i, (v, t)) in values.iter().zip(&types).enumerate() {
            if i > 0 {
                sql.push(b',');
            }
            match v {
                None => sql.extend_from_slice(b"NULL"),
                Some(bytes) => {
                    sql.push(b'\'');
                    for b in *bytes {
                        if *b == b'\'' {
                            sql.push(b'\'');
                        }
                        sql.push(*b);
                    }
                    sql.push(b'\'');
                }
            }
            sql.extend_from_slice(b"::");
            sql.extend_from_slice(t.as_bytes());
        }
        sql.push(b')');
    }
    if !any {
        let cols: Vec<String> = types
            .iter()
            .zip(&names)
            .map(|(t, n)| format!("NULL::{t} AS {n}"))
            .collect();
        return Ok(format!("(SELECT {} LIMIT 0) AS p", cols.join(", ")).into_bytes());
    }
    sql.extend_from_slice(format!(") AS p({})", names.join(", ")).as_bytes());
    Ok(sql)
}

/// Concatenates fragments' DataRows in key order and cuts OFFSET/LIMIT.
pub fn concat(
    fragments: &[Vec<Frame>],
    reverse: bool,
    offset: Option<u64>,
    limit: Option<u64>,
) -> Vec<Frame> {
    let skip = offset.unwrap_or(0) as usize;
    let take = limit.map_or(usize::MAX, |l| l as usize);
    let ordered: Box<dyn Iterator<Item = &Vec<Frame>>> = if reverse {
        Box::new(fragments.iter().rev())
    } else {
        Box::new(fragments.iter())
    };
    ordered.flatten().skip(skip).take(take).cloned().collect()
}

/// A CommandComplete for a SELECT of `n` rows.
pub fn select_complete(n: usize) -> Bytes {
    crate::wire::messages::command_complete(&format!("SELECT {n}"))
}
