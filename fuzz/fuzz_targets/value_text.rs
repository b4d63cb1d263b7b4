//! Fuzzes the value codecs the protocol edge feeds client bytes into:
//! `types::text::parse` (text-format parameters, literals, COPY fields) and
//! `types::binary::decode` (binary-format Bind parameters).
//!
//! Input layout: byte 0 picks the `DataType` (incl. typmods and arrays),
//! the rest is the value. Text input is lossy UTF-8 (the server rejects
//! invalid UTF-8 before parsing). Beyond "no panic", two properties of
//! PostgreSQL's I/O functions are checked on every value that parses:
//! its text output parses again, and its binary encoding decodes again.
//! Every accepted value is also cast to every type (errors fine, panics not).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustydb_sql::types::{binary, cast, text};
use rustydb_sql::DataType;

fn types() -> Vec<DataType> {
    use DataType::*;
    let scalars = vec![
        Bool,
        Int2,
        Int4,
        Int8,
        Float4,
        Float8,
        Numeric(None),
        Numeric(Some((5, 2))),
        Numeric(Some((1, 0))),
        Numeric(Some((38, 20))),
        Text,
        Varchar(None),
        Varchar(Some(3)),
        Char(4),
        Name,
        Bytea,
        Date,
        Time,
        Timestamp,
        TimestampTz,
        Interval,
        Uuid,
        Json,
        Jsonb,
        Oid,
        RegClass,
        RegType,
        RegProc,
        InternalChar,
        Unknown,
    ];
    let mut all = scalars.clone();
    all.extend(scalars.into_iter().map(|t| Array(Box::new(t))));
    all
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let all = types();
    let ty = &all[pick as usize % all.len()];

    let input = String::from_utf8_lossy(rest);
    if let Ok(v) = text::parse(&input, ty) {
        let out = text::format(&v);
        if let Err(e) = text::parse(&out, ty) {
            panic!("text output {out:?} of {v:?} ({ty:?}) does not parse back: {e:?}");
        }
        if let Ok(bin) = binary::encode(&v, ty) {
            if let Err(e) = binary::decode(&bin, ty) {
                panic!("binary encoding {bin:02x?} of {v:?} ({ty:?}) does not decode: {e:?}");
            }
        }
        for to in &all {
            let _ = cast::cast(v.clone(), to);
        }
    }

    if let Ok(v) = binary::decode(rest, ty) {
        let _ = text::format(&v);
        let _ = binary::encode(&v, ty);
    }
});
