//! Messages the proxy writes itself, as ready-to-send bytes.
//!
//! Everything a backend says is relayed as received; these builders cover
//! what only the proxy can say: its own errors and notices, the startup
//! reply (AuthenticationOk, ParameterStatus, BackendKeyData,
//! ReadyForQuery), and the admin console's result sets.

use bytes::{BufMut, Bytes, BytesMut};

fn message(tag: u8, body: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut out = BytesMut::with_capacity(64);
    out.put_u8(tag);
    out.put_u32(0);
    body(&mut out);
    let len = (out.len() - 1) as u32;
    out[1..5].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

fn put_cstr(out: &mut BytesMut, s: &str) {
    // A NUL inside would end the field early and desynchronise the client.
    out.put_slice(s.replace('\0', "").as_bytes());
    out.put_u8(0);
}

/// `ErrorResponse` with severity (`ERROR`/`FATAL`), SQLSTATE and message.
pub fn error_response(severity: &str, sqlstate: &str, message: &str) -> Bytes {
    fields_message(b'E', severity, sqlstate, message)
}

/// `ErrorResponse` (severity `ERROR`/`FATAL`) with a `HINT` line.
pub fn error_with_hint(severity: &str, sqlstate: &str, message: &str, hint: &str) -> Bytes {
    self::message(b'E', |out| {
        for (field, value) in [
            (b'S', severity),
            (b'V', severity),
            (b'C', sqlstate),
            (b'M', message),
            (b'H', hint),
        ] {
            out.put_u8(field);
            put_cstr(out, value);
        }
        out.put_u8(0);
    })
}

/// `NoticeResponse` (severity `WARNING`, `NOTICE`, ...).
pub fn notice_response(severity: &str, sqlstate: &str, message: &str) -> Bytes {
    fields_message(b'N', severity, sqlstate, message)
}

fn fields_message(tag: u8, severity: &str, sqlstate: &str, text: &str) -> Bytes {
    message(tag, |out| {
        out.put_u8(b'S');
        put_cstr(out, severity);
        out.put_u8(b'V');
        put_cstr(out, severity);
        out.put_u8(b'C');
        put_cstr(out, sqlstate);
        out.put_u8(b'M');
        put_cstr(out, text);
        out.put_u8(0);
    })
}

/// `ReadyForQuery` with the transaction status (`I`, `T` or `E`).
pub fn ready_for_query(status: u8) -> Bytes {
    message(b'Z', |out| out.put_u8(status))
}

/// `AuthenticationOk`.
pub fn auth_ok() -> Bytes {
    message(b'R', |out| out.put_i32(0))
}

/// `AuthenticationCleartextPassword`.
pub fn auth_cleartext() -> Bytes {
    message(b'R', |out| out.put_i32(3))
}

/// `AuthenticationMD5Password` with its salt.
pub fn auth_md5(salt: [u8; 4]) -> Bytes {
    message(b'R', |out| {
        out.put_i32(5);
        out.put_slice(&salt);
    })
}

/// `AuthenticationSASL` listing mechanisms.
pub fn auth_sasl(mechanisms: &[&str]) -> Bytes {
    message(b'R', |out| {
        out.put_i32(10);
        for m in mechanisms {
            put_cstr(out, m);
        }
        out.put_u8(0);
    })
}

/// `AuthenticationSASLContinue` with server data.
pub fn auth_sasl_continue(data: &[u8]) -> Bytes {
    message(b'R', |out| {
        out.put_i32(11);
        out.put_slice(data);
    })
}

/// `AuthenticationSASLFinal` with server data.
pub fn auth_sasl_final(data: &[u8]) -> Bytes {
    message(b'R', |out| {
        out.put_i32(12);
        out.put_slice(data);
    })
}

/// `ParameterStatus`.
pub fn parameter_status(name: &str, value: &str) -> Bytes {
    message(b'S', |out| {
        put_cstr(out, name);
        put_cstr(out, value);
    })
}

/// `BackendKeyData`: what the client will send in a CancelRequest.
pub fn backend_key_data(pid: i32, secret: i32) -> Bytes {
    message(b'K', |out| {
        out.put_i32(pid);
        out.put_i32(secret);
    })
}

/// `RowDescription` of text columns (type `text`, format text).
pub fn row_description(columns: &[&str]) -> Bytes {
    message(b'T', |out| {
        out.put_i16(columns.len() as i16);
        for c in columns {
            put_cstr(out, c);
            out.put_i32(0); // table oid
            out.put_i16(0); // column number
            out.put_i32(25); // text
            out.put_i16(-1); // variable length
            out.put_i32(-1); // no typmod
            out.put_i16(0); // text format
        }
    })
}

/// `DataRow` of text values (`None` is NULL).
pub fn data_row(values: &[Option<&str>]) -> Bytes {
    message(b'D', |out| {
        out.put_i16(values.len() as i16);
        for v in values {
            match v {
                Some(v) => {
                    out.put_i32(v.len() as i32);
                    out.put_slice(v.as_bytes());
                }
                None => out.put_i32(-1),
            }
        }
    })
}

/// `CommandComplete` with its tag (`SELECT 3`, `SHOW`, ...).
pub fn command_complete(tag: &str) -> Bytes {
    message(b'C', |out| put_cstr(out, tag))
}

/// `EmptyQueryResponse`.
pub fn empty_query() -> Bytes {
    message(b'I', |_| {})
}

/// A simple-query result set of text columns, ending with CommandComplete
/// (`SELECT n`), as the admin console sends it (ReadyForQuery not included).
pub fn result_set(columns: &[&str], rows: &[Vec<Option<String>>]) -> BytesMut {
    let mut out = BytesMut::new();
    out.extend_from_slice(&row_description(columns));
    for row in rows {
        let vals: Vec<Option<&str>> = row.iter().map(|v| v.as_deref()).collect();
        out.extend_from_slice(&data_row(&vals));
    }
    out.extend_from_slice(&command_complete(&format!("SELECT {}", rows.len())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_cover_everything_after_the_tag() {
        let e = error_response("FATAL", "53300", "too many");
        let len = u32::from_be_bytes([e[1], e[2], e[3], e[4]]) as usize;
        assert_eq!(len + 1, e.len());
        assert_eq!(ready_for_query(b'I').as_ref(), &[b'Z', 0, 0, 0, 5, b'I']);
        let rs = result_set(&["a"], &[vec![Some("x".into())], vec![None]]);
        assert!(rs.ends_with(&command_complete("SELECT 2")));
    }
}
