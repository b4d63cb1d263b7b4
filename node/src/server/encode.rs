//! Values to and from the wire, and the shapes of response messages.
//!
//! The SQL crate owns the formats themselves (`types::text`,
//! `types::binary`, `types::oid`); this module only arranges them into
//! pgwire messages: RowDescription from result columns, DataRow from a row
//! and its per-column format codes, bound parameters from Bind, and
//! ErrorResponse/NoticeResponse from a `rustydb_sql::Error`.
//!
//! Format codes follow the protocol: zero codes mean "all text", one code
//! applies to every column or parameter, otherwise there is one per item.

use bytes::{BufMut, BytesMut};
use pgwire::messages::data::{DataRow, FieldDescription, ParameterDescription, RowDescription};
use pgwire::messages::response::ErrorResponse;
use pgwire::messages::PgWireBackendMessage;
use rustydb_sql::types::{binary, oid, text};
use rustydb_sql::{Column, DataType, Error, SqlState, Value};

/// Text format code.
pub(crate) const TEXT: i16 = 0;
/// Binary format code.
pub(crate) const BINARY: i16 = 1;

/// The format code that applies to item `i` given the codes from Bind.
pub(crate) fn format_at(codes: &[i16], i: usize) -> i16 {
    match codes {
        [] => TEXT,
        [one] => *one,
        many => many.get(i).copied().unwrap_or(TEXT),
    }
}

/// Checks Bind's format codes against the number of items they describe.
pub(crate) fn check_formats(codes: &[i16], n: usize, what: &str) -> Result<(), Error> {
    if codes.len() > 1 && codes.len() != n {
        return Err(Error::new(
            SqlState("08P01"),
            format!(
                "bind message has {} {what} formats but query has {n} {what}s",
                codes.len()
            ),
        ));
    }
    if let Some(bad) = codes.iter().find(|c| **c != TEXT && **c != BINARY) {
        return Err(Error::new(
            SqlState("22023"),
            format!("unsupported format code: {bad}"),
        ));
    }
    Ok(())
}

/// RowDescription for result columns with the given format codes.
pub(crate) fn row_description(columns: &[Column], codes: &[i16]) -> PgWireBackendMessage {
    let fields = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            FieldDescription::new(
                c.name.clone(),
                c.table_oid as i32,
                c.column_id,
                oid::type_oid(&c.data_type),
                oid::type_len(&c.data_type),
                oid::type_modifier(&c.data_type),
                format_at(codes, i),
            )
        })
        .collect();
    PgWireBackendMessage::RowDescription(RowDescription::new(fields))
}

/// ParameterDescription for a prepared statement's parameter types.
pub(crate) fn parameter_description(types: &[DataType]) -> PgWireBackendMessage {
    PgWireBackendMessage::ParameterDescription(ParameterDescription::new(
        types.iter().map(oid::type_oid).collect(),
    ))
}

/// One DataRow. Fails when a value has no binary encoding for its column type.
pub(crate) fn data_row(
    row: &[Value],
    columns: &[Column],
    codes: &[i16],
) -> Result<PgWireBackendMessage, Error> {
    let count = i16::try_from(row.len())
        .map_err(|_| Error::new(SqlState("54011"), "too many columns in a row"))?;
    let mut data = BytesMut::with_capacity(row.len() * 8);
    for (i, value) in row.iter().enumerate() {
        if value.is_null() {
            data.put_i32(-1);
            continue;
        }
        let bytes = if format_at(codes, i) == BINARY {
            let ty = columns
                .get(i)
                .map(|c| c.data_type.clone())
                .unwrap_or_else(|| value.natural_type());
            binary::encode(value, &ty)?
        } else {
            text::format(value).into_bytes()
        };
        let len = i32::try_from(bytes.len())
            .map_err(|_| Error::new(SqlState("54000"), "field value too large to send"))?;
        data.put_i32(len);
        data.put_slice(&bytes);
    }
    Ok(PgWireBackendMessage::DataRow(DataRow::new(data, count)))
}

/// Decodes one Bind parameter for its (declared or inferred) type.
pub(crate) fn decode_param(
    bytes: Option<&[u8]>,
    format: i16,
    ty: &DataType,
) -> Result<Value, Error> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    if format == BINARY {
        return binary::decode(bytes, ty);
    }
    let s = std::str::from_utf8(bytes).map_err(|_| {
        Error::new(
            SqlState("22021"),
            "invalid byte sequence for encoding \"UTF8\"",
        )
    })?;
    match ty {
        // A parameter nobody typed is a string literal; the statement coerces it.
        DataType::Unknown => Ok(Value::Text(s.to_string())),
        _ => text::parse(s, ty),
    }
}

/// ErrorResponse fields for a SQL error at the given severity.
pub(crate) fn error_response(severity: &str, e: &Error) -> PgWireBackendMessage {
    let mut fields = vec![
        (b'S', severity.to_string()),
        (b'V', severity.to_string()),
        (b'C', e.state().0.to_string()),
        (b'M', e.message()),
    ];
    if let Some(detail) = e.detail() {
        fields.push((b'D', detail.to_string()));
    }
    if let Some(hint) = e.hint() {
        fields.push((b'H', hint.to_string()));
    }
    PgWireBackendMessage::ErrorResponse(ErrorResponse::new(fields))
}

/// A FATAL ErrorResponse with a code and message (connection-level failures).
pub(crate) fn fatal(code: &str, message: &str) -> PgWireBackendMessage {
    PgWireBackendMessage::ErrorResponse(ErrorResponse::new(vec![
        (b'S', "FATAL".to_string()),
        (b'V', "FATAL".to_string()),
        (b'C', code.to_string()),
        (b'M', message.to_string()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_codes_expand_like_the_protocol_says() {
        assert_eq!(format_at(&[], 3), TEXT);
        assert_eq!(format_at(&[BINARY], 3), BINARY);
        assert_eq!(format_at(&[TEXT, BINARY], 1), BINARY);
        assert!(check_formats(&[TEXT, BINARY], 3, "column").is_err());
        assert!(check_formats(&[7], 1, "column").is_err());
        assert!(check_formats(&[BINARY], 5, "column").is_ok());
    }

    #[test]
    fn nulls_are_minus_one_and_text_is_utf8() {
        let columns = [
            Column::new("a", DataType::Int4),
            Column::new("b", DataType::Text),
        ];
        let row = [Value::Null, Value::Text("hi".into())];
        let PgWireBackendMessage::DataRow(dr) = data_row(&row, &columns, &[]).expect("encodes")
        else {
            panic!("not a DataRow")
        };
        assert_eq!(dr.field_count, 2);
        assert_eq!(
            &dr.data[..],
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, b'h', b'i'][..]
        );
    }

    #[test]
    fn params_decode_null_text_and_reject_bad_utf8() {
        assert_eq!(
            decode_param(None, TEXT, &DataType::Int4).ok(),
            Some(Value::Null)
        );
        assert_eq!(
            decode_param(Some(b"x"), TEXT, &DataType::Unknown).ok(),
            Some(Value::Text("x".into()))
        );
        let err = decode_param(Some(&[0xff]), TEXT, &DataType::Text).expect_err("bad utf8");
        assert_eq!(err.state().0, "22021");
    }
}
