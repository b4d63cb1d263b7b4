//! The scenario with tokio-postgres: extended protocol with binary results
//! for typed queries, `simple_query` for text results, COPY both ways,
//! cancel through `CancelToken`.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::{out, Target};

fn conninfo(t: &Target, sslmode: &str, extra: &str) -> String {
    format!(
        "host={} port={} user={} password={} dbname={} sslmode={sslmode} {extra}",
        t.host, t.port, t.user, t.password, t.db
    )
}

fn err_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("ERROR {}", db.code().code()),
        None => format!("ERROR {e}"),
    }
}

async fn connect(t: &Target, sslmode: &str, extra: &str) -> Result<Client, String> {
    let info = conninfo(t, sslmode, extra);
    if sslmode == "disable" {
        let (client, conn) = tokio_postgres::connect(&info, NoTls)
            .await
            .map_err(|e| err_text(&e))?;
        tokio::spawn(conn);
        Ok(client)
    } else {
        let tls = native_tls::TlsConnector::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| format!("ERROR tls {e}"))?;
        let (client, conn) =
            tokio_postgres::connect(&info, postgres_native_tls::MakeTlsConnector::new(tls))
                .await
                .map_err(|e| err_text(&e))?;
        tokio::spawn(conn);
        Ok(client)
    }
}

/// Runs a statement, printing `key: <rows affected>` or the error.
async fn exec(c: &Client, key: &str, sql: &str, params: &[&(dyn ToSql + Sync)]) {
    match c.execute(sql, params).await {
        Ok(n) => out(key, n),
        Err(e) => out(key, err_text(&e)),
    }
}

/// Runs a query, printing its rows in text form (simple protocol).
async fn simple(c: &Client, key: &str, sql: &str) {
    match c.simple_query(sql).await {
        Ok(msgs) => {
            let mut rows = Vec::new();
            for m in msgs {
                if let SimpleQueryMessage::Row(r) = m {
                    let cells: Vec<String> = (0..r.len())
                        .map(|i| r.get(i).unwrap_or("NULL").to_string())
                        .collect();
                    rows.push(cells.join("|"));
                }
            }
            out(key, rows.join(","))
        }
        Err(e) => out(key, err_text(&e)),
    }
}

pub async fn run(t: &Target) {
    match connect(t, "require", "").await {
        Ok(c) => {
            out("connect.tls", "ok");
            drop(c);
        }
        Err(e) => out("connect.tls", e),
    }
    let c = match connect(t, "disable", "").await {
        Ok(c) => {
            out("connect.scram", "ok");
            c
        }
        Err(e) => {
            out("connect.scram", e);
            return;
        }
    };
    let _ = c.batch_execute("DROP TABLE IF EXISTS tp_items").await;
    exec(
        &c,
        "ddl.create",
        "CREATE TABLE tp_items (id int PRIMARY KEY, name text, qty int)",
        &[],
    )
    .await;

    // CRUD with bound parameters.
    let mut inserted = 0;
    for (id, name, qty) in [
        (1, Some("a"), Some(10)),
        (2, Some("b"), None),
        (3, None, Some(30)),
    ] {
        match c
            .execute(
                "INSERT INTO tp_items (id, name, qty) VALUES ($1, $2, $3)",
                &[&id, &name, &qty],
            )
            .await
        {
            Ok(n) => inserted += n,
            Err(e) => out("crud.insert_error", err_text(&e)),
        }
    }
    out("crud.insert", inserted);
    exec(
        &c,
        "crud.update",
        "UPDATE tp_items SET qty = qty + $1 WHERE id = $2",
        &[&5i32, &1i32],
    )
    .await;
    match c
        .query(
            "SELECT id, name, qty FROM tp_items WHERE id >= $1 ORDER BY id",
            &[&1i32],
        )
        .await
    {
        Ok(rows) => {
            let v: Vec<String> = rows
                .iter()
                .map(|r| {
                    let id: i32 = r.get(0);
                    let name: Option<String> = r.get(1);
                    let qty: Option<i32> = r.get(2);
                    format!(
                        "{id}|{}|{}",
                        name.unwrap_or_else(|| "NULL".into()),
                        qty.map_or("NULL".into(), |q| q.to_string())
                    )
                })
                .collect();
            out("crud.select", v.join(","));
        }
        Err(e) => out("crud.select", err_text(&e)),
    }
    exec(
        &c,
        "crud.delete",
        "DELETE FROM tp_items WHERE id = $1",
        &[&3i32],
    )
    .await;
    exec(
        &c,
        "nulls.is_null",
        "SELECT 1 FROM tp_items WHERE qty IS NULL",
        &[],
    )
    .await;
    match c.query_one("SELECT NULL::int, NULL::text", &[]).await {
        Ok(r) => {
            let a: Option<i32> = r.get(0);
            let b: Option<String> = r.get(1);
            out("nulls.select", format!("{:?}|{:?}", a, b));
        }
        Err(e) => out("nulls.select", err_text(&e)),
    }

    // Transactions and savepoints.
    let _ = c
        .batch_execute("BEGIN; INSERT INTO tp_items VALUES (10, 'x', 1); ROLLBACK")
        .await;
    simple(&c, "txn.rollback", "SELECT count(*) FROM tp_items").await;
    let _ = c
        .batch_execute("BEGIN; INSERT INTO tp_items VALUES (11, 'y', 1); COMMIT")
        .await;
    simple(&c, "txn.commit", "SELECT count(*) FROM tp_items").await;
    let sp = c
        .batch_execute(
            "BEGIN; INSERT INTO tp_items VALUES (12, 'z', 1); SAVEPOINT s1; \
             INSERT INTO tp_items VALUES (13, 'w', 1); ROLLBACK TO SAVEPOINT s1; \
             RELEASE SAVEPOINT s1; COMMIT",
        )
        .await;
    if let Err(e) = sp {
        out("savepoint.batch", err_text(&e));
    }
    simple(
        &c,
        "savepoint.rows",
        "SELECT id FROM tp_items WHERE id >= 10 ORDER BY id",
    )
    .await;
    // An error inside a transaction: 25P02 until ROLLBACK TO SAVEPOINT.
    let _ = c.batch_execute("BEGIN; SAVEPOINT a").await;
    if let Err(e) = c.batch_execute("SELECT 1/0").await {
        out("savepoint.error", err_text(&e));
    }
    if let Err(e) = c.batch_execute("SELECT 1").await {
        out("savepoint.aborted", err_text(&e));
    }
    exec(&c, "savepoint.recovered", "ROLLBACK TO SAVEPOINT a", &[]).await;
    let _ = c.batch_execute("COMMIT").await;

    // One prepared statement reused many times.
    match c.prepare("SELECT $1::int * 2").await {
        Ok(st) => {
            let mut sum: i64 = 0;
            let mut err = None;
            for i in 0..200i32 {
                match c.query_one(&st, &[&i]).await {
                    Ok(r) => sum += i64::from(r.get::<_, i32>(0)),
                    Err(e) => {
                        err = Some(err_text(&e));
                        break;
                    }
                }
            }
            out("prepared.reuse", err.unwrap_or_else(|| sum.to_string()));
        }
        Err(e) => out("prepared.reuse", err_text(&e)),
    }

    types(&c).await;
    errors(&c).await;
    cancel(t, &c).await;
    match connect(t, "disable", "options='-c rustydb.service=olap'").await {
        Ok(s) => simple(&s, "service.options", "SELECT 1").await,
        Err(e) => out("service.options", e),
    }
    // COPY last and bounded: a server or proxy that never answers would
    // otherwise wedge the connection and hide the checks after it.
    if tokio::time::timeout(Duration::from_secs(10), copy(&c))
        .await
        .is_err()
    {
        out("copy.timeout", "no answer within 10 s");
        return;
    }
    let _ = c.batch_execute("DROP TABLE IF EXISTS tp_items").await;
}

async fn types(c: &Client) {
    macro_rules! rt {
        ($key:expr, $sql:expr, $ty:ty, $val:expr) => {{
            let v: $ty = $val;
            match c.query_one($sql, &[&v]).await {
                Ok(r) => {
                    let back: $ty = r.get(0);
                    out(&format!("types.{}.binary", $key), format!("{:?}", back));
                }
                Err(e) => out(&format!("types.{}.binary", $key), err_text(&e)),
            }
        }};
    }
    rt!("int", "SELECT $1::int4", i32, -42);
    rt!("bigint", "SELECT $1::int8", i64, 9_007_199_254_740_993);
    rt!("float", "SELECT $1::float8", f64, 1.5e-3);
    rt!("bool", "SELECT $1::bool", bool, true);
    rt!("text", "SELECT $1::text", String, "héllo 'q'".to_string());
    rt!("bytea", "SELECT $1::bytea", Vec<u8>, vec![0u8, 255, 16]);
    rt!(
        "date",
        "SELECT $1::date",
        chrono::NaiveDate,
        chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default()
    );
    rt!(
        "timestamptz",
        "SELECT $1::timestamptz",
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime::from_timestamp(1_709_210_096, 789_000_000).unwrap_or_default()
    );
    rt!(
        "uuid",
        "SELECT $1::uuid",
        uuid::Uuid,
        uuid::Uuid::from_u128(0xa0eebc99_9c0b_4ef8_bb6d_6bb9bd380a11)
    );
    rt!(
        "jsonb",
        "SELECT $1::jsonb",
        serde_json::Value,
        serde_json::json!({"a": [1, 2, null], "b": "x"})
    );
    rt!(
        "json",
        "SELECT $1::json",
        serde_json::Value,
        serde_json::json!({"k": true})
    );
    rt!(
        "int_array",
        "SELECT $1::int4[]",
        Vec<Option<i32>>,
        vec![Some(1), None, Some(3)]
    );
    rt!(
        "text_array",
        "SELECT $1::text[]",
        Vec<String>,
        vec!["a".into(), "b c".into()]
    );
    // numeric and interval: no built-in Rust type in tokio-postgres; text.
    simple(
        c,
        "types.text_format",
        "SELECT 42::int4, 12345.6789::numeric, 1.5::float8, true, 'héllo'::text, '\\x00ff10'::bytea, \
         '2024-02-29'::date, '2024-02-29 12:34:56.789+00'::timestamptz, '1 day 02:03:04'::interval, \
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{\"a\": [1, 2]}'::jsonb, ARRAY[1,NULL,3]",
    )
    .await;
    match c
        .query_one(
            "SELECT 12345.6789::numeric::text, '1 day 02:03:04'::interval::text",
            &[],
        )
        .await
    {
        Ok(r) => out(
            "types.numeric_interval.binary",
            format!("{}|{}", r.get::<_, String>(0), r.get::<_, String>(1)),
        ),
        Err(e) => out("types.numeric_interval.binary", err_text(&e)),
    }
}

async fn errors(c: &Client) {
    let _ = c
        .batch_execute("INSERT INTO tp_items VALUES (1, 'dup', 0)")
        .await
        .map_err(|e| out("errors.unique", err_text(&e)));
    exec(c, "errors.syntax", "SELEC 1", &[]).await;
    exec(c, "errors.undefined_table", "SELECT * FROM tp_missing", &[]).await;
    exec(
        c,
        "errors.undefined_column",
        "SELECT nope FROM tp_items",
        &[],
    )
    .await;
    exec(c, "errors.division_by_zero", "SELECT 1/$1::int", &[&0i32]).await;
    exec(c, "errors.invalid_text", "SELECT $1::text::int", &[&"abc"]).await;
    exec(
        c,
        "errors.not_null",
        "INSERT INTO tp_items (id) VALUES (NULL)",
        &[],
    )
    .await;
    simple(c, "errors.after_error", "SELECT 'alive'").await;
}

async fn copy(c: &Client) {
    let _ = c
        .batch_execute("DROP TABLE IF EXISTS tp_copy; CREATE TABLE tp_copy (id int, t text)")
        .await;
    match c.copy_in::<_, Bytes>("COPY tp_copy FROM STDIN").await {
        Ok(sink) => {
            let mut sink = Box::pin(sink);
            let data = Bytes::from_static(b"1\tone\n2\t\\N\n3\tthree\n");
            let r = async {
                sink.as_mut().send(data).await?;
                sink.as_mut().finish().await
            }
            .await;
            match r {
                Ok(n) => out("copy.in", n),
                Err(e) => out("copy.in", err_text(&e)),
            }
        }
        Err(e) => out("copy.in", err_text(&e)),
    }
    match c
        .copy_out("COPY (SELECT * FROM tp_copy ORDER BY id) TO STDOUT")
        .await
    {
        Ok(stream) => {
            let chunks: Vec<_> = stream.collect().await;
            let mut text = Vec::new();
            for ch in chunks {
                match ch {
                    Ok(b) => text.extend_from_slice(&b),
                    Err(e) => {
                        out("copy.out", err_text(&e));
                        return;
                    }
                }
            }
            out(
                "copy.out",
                String::from_utf8_lossy(&text).replace('\n', "\\n"),
            );
        }
        Err(e) => out("copy.out", err_text(&e)),
    }
    let _ = c.batch_execute("DROP TABLE IF EXISTS tp_copy").await;
}

async fn cancel(t: &Target, c: &Client) {
    let _ = t;
    let token = c.cancel_token();
    let sleeper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel_query(NoTls).await
    });
    match c.simple_query("SELECT pg_sleep(5)").await {
        Ok(_) => out("cancel.query", "not cancelled"),
        Err(e) => out("cancel.query", err_text(&e)),
    }
    if let Ok(Err(e)) = sleeper.await {
        out("cancel.request", format!("ERROR {e}"));
    }
    simple(c, "cancel.after", "SELECT 'alive'").await;
}
