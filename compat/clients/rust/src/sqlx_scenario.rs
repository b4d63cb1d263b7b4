//! The scenario with sqlx (Postgres driver, binary results, statement
//! cache on by default, so a repeated query reuses its prepared statement).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{Connection, Executor, Row};

use crate::{out, Target};

fn opts(t: &Target, ssl: PgSslMode) -> PgConnectOptions {
    PgConnectOptions::new()
        .host(&t.host)
        .port(t.port)
        .username(&t.user)
        .password(&t.password)
        .database(&t.db)
        .ssl_mode(ssl)
}

fn err_text(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => format!("ERROR {}", db.code().unwrap_or_default()),
        other => format!("ERROR {other}"),
    }
}

async fn exec(
    c: &mut PgConnection,
    key: &str,
    q: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) {
    match q.execute(&mut *c).await {
        Ok(r) => out(key, r.rows_affected()),
        Err(e) => out(key, err_text(&e)),
    }
}

async fn scalar_text(c: &mut PgConnection, key: &str, sql: &str) {
    match sqlx::query_scalar::<_, String>(sql)
        .fetch_one(&mut *c)
        .await
    {
        Ok(v) => out(key, v),
        Err(e) => out(key, err_text(&e)),
    }
}

pub async fn run(t: &Target) {
    match PgConnection::connect_with(&opts(t, PgSslMode::Require)).await {
        Ok(c) => {
            out("connect.tls", "ok");
            let _ = c.close().await;
        }
        Err(e) => out("connect.tls", err_text(&e)),
    }
    let mut c = match PgConnection::connect_with(&opts(t, PgSslMode::Disable)).await {
        Ok(c) => {
            out("connect.scram", "ok");
            c
        }
        Err(e) => {
            out("connect.scram", err_text(&e));
            return;
        }
    };
    let _ = c.execute("DROP TABLE IF EXISTS sx_items").await;
    exec(
        &mut c,
        "ddl.create",
        sqlx::query("CREATE TABLE sx_items (id int PRIMARY KEY, name text, qty int)"),
    )
    .await;
    let mut n = 0;
    for (id, name, qty) in [
        (1, Some("a"), Some(10)),
        (2, Some("b"), None),
        (3, None, Some(30)),
    ] {
        match sqlx::query("INSERT INTO sx_items (id, name, qty) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(qty)
            .execute(&mut c)
            .await
        {
            Ok(r) => n += r.rows_affected(),
            Err(e) => out("crud.insert_error", err_text(&e)),
        }
    }
    out("crud.insert", n);
    exec(
        &mut c,
        "crud.update",
        sqlx::query("UPDATE sx_items SET qty = qty + $1 WHERE id = $2")
            .bind(5i32)
            .bind(1i32),
    )
    .await;
    match sqlx::query("SELECT id, name, qty FROM sx_items ORDER BY id")
        .fetch_all(&mut c)
        .await
    {
        Ok(rows) => {
            let v: Vec<String> = rows
                .iter()
                .map(|r| {
                    let id: i32 = r.get(0);
                    let name: Option<String> = r.get(1);
                    let qty: Option<i32> = r.get(2);
                    format!("{id}|{name:?}|{qty:?}")
                })
                .collect();
            out("crud.select", v.join(","));
        }
        Err(e) => out("crud.select", err_text(&e)),
    }
    exec(
        &mut c,
        "crud.delete",
        sqlx::query("DELETE FROM sx_items WHERE id = $1").bind(3i32),
    )
    .await;
    match sqlx::query("SELECT NULL::int, NULL::text")
        .fetch_one(&mut c)
        .await
    {
        Ok(r) => {
            let a: Option<i32> = r.get(0);
            let b: Option<String> = r.get(1);
            out("nulls.select", format!("{a:?}|{b:?}"));
        }
        Err(e) => out("nulls.select", err_text(&e)),
    }

    // Transactions through sqlx's Transaction (BEGIN/ROLLBACK/SAVEPOINT).
    match c.begin().await {
        Ok(mut tx) => {
            let _ = sqlx::query("INSERT INTO sx_items VALUES (10, 'x', 1)")
                .execute(&mut *tx)
                .await;
            let _ = tx.rollback().await;
        }
        Err(e) => out("txn.begin", err_text(&e)),
    }
    scalar_text(
        &mut c,
        "txn.rollback",
        "SELECT count(*)::text FROM sx_items",
    )
    .await;
    match c.begin().await {
        Ok(mut tx) => {
            let _ = sqlx::query("INSERT INTO sx_items VALUES (11, 'y', 1)")
                .execute(&mut *tx)
                .await;
            // A nested transaction is a savepoint in sqlx.
            match tx.begin().await {
                Ok(mut sp) => {
                    let _ = sqlx::query("INSERT INTO sx_items VALUES (12, 'z', 1)")
                        .execute(&mut *sp)
                        .await;
                    if let Err(e) = sqlx::query("SELECT 1/0").execute(&mut *sp).await {
                        out("savepoint.error", err_text(&e));
                    }
                    let _ = sp.rollback().await;
                }
                Err(e) => out("savepoint.begin", err_text(&e)),
            }
            if let Err(e) = tx.commit().await {
                out("txn.commit_error", err_text(&e));
            }
        }
        Err(e) => out("txn.begin", err_text(&e)),
    }
    scalar_text(
        &mut c,
        "savepoint.rows",
        "SELECT string_agg(id::text, ',' ORDER BY id) FROM sx_items",
    )
    .await;

    let mut sum: i64 = 0;
    let mut err = None;
    for i in 0..200i32 {
        match sqlx::query_scalar::<_, i32>("SELECT $1::int * 2")
            .bind(i)
            .fetch_one(&mut c)
            .await
        {
            Ok(v) => sum += i64::from(v),
            Err(e) => {
                err = Some(err_text(&e));
                break;
            }
        }
    }
    out("prepared.reuse", err.unwrap_or_else(|| sum.to_string()));

    types(&mut c).await;

    match sqlx::query("INSERT INTO sx_items VALUES (1, 'dup', 0)")
        .execute(&mut c)
        .await
    {
        Ok(_) => out("errors.unique", "no error"),
        Err(e) => out("errors.unique", err_text(&e)),
    }
    exec(&mut c, "errors.syntax", sqlx::query("SELEC 1")).await;
    exec(
        &mut c,
        "errors.undefined_table",
        sqlx::query("SELECT * FROM sx_missing"),
    )
    .await;
    exec(
        &mut c,
        "errors.division_by_zero",
        sqlx::query("SELECT 1/$1::int").bind(0i32),
    )
    .await;
    exec(
        &mut c,
        "errors.invalid_text",
        sqlx::query("SELECT $1::text::int").bind("abc"),
    )
    .await;

    // COPY through the raw connection API.
    let _ = c
        .execute("DROP TABLE IF EXISTS sx_copy; CREATE TABLE sx_copy (id int, t text)")
        .await;
    match c.copy_in_raw("COPY sx_copy FROM STDIN").await {
        Ok(mut cp) => {
            let r = async {
                cp.send(b"1\tone\n2\t\\N\n".as_slice()).await?;
                cp.finish().await
            }
            .await;
            match r {
                Ok(n) => out("copy.in", n),
                Err(e) => out("copy.in", err_text(&e)),
            }
        }
        Err(e) => out("copy.in", err_text(&e)),
    }
    scalar_text(
        &mut c,
        "copy.check",
        "SELECT string_agg(id || ':' || coalesce(t, 'NULL'), ',' ORDER BY id) FROM sx_copy",
    )
    .await;

    // Cancel: sqlx has no cancel API; a statement_timeout cancels server-side.
    let _ = c.execute("SET statement_timeout = 300").await;
    match sqlx::query("SELECT pg_sleep(5)").execute(&mut c).await {
        Ok(_) => out("cancel.timeout", "not cancelled"),
        Err(e) => out("cancel.timeout", err_text(&e)),
    }
    let _ = c.execute("RESET statement_timeout").await;

    let svc = opts(t, PgSslMode::Disable).options([("rustydb.service", "olap")]);
    match PgConnection::connect_with(&svc).await {
        Ok(mut s) => scalar_text(&mut s, "service.options", "SELECT 'ok'").await,
        Err(e) => out("service.options", err_text(&e)),
    }
    let _ = c
        .execute("DROP TABLE IF EXISTS sx_items; DROP TABLE IF EXISTS sx_copy")
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(2), c.close()).await;
}

async fn types(c: &mut PgConnection) {
    macro_rules! rt {
        ($key:expr, $sql:expr, $ty:ty, $val:expr) => {{
            let v: $ty = $val;
            match sqlx::query_scalar::<_, $ty>($sql)
                .bind(v)
                .fetch_one(&mut *c)
                .await
            {
                Ok(back) => out(&format!("types.{}.binary", $key), format!("{back:?}")),
                Err(e) => out(&format!("types.{}.binary", $key), err_text(&e)),
            }
        }};
    }
    rt!("int", "SELECT $1::int4", i32, -42);
    rt!("bigint", "SELECT $1::int8", i64, 9_007_199_254_740_993);
    rt!(
        "numeric",
        "SELECT $1::numeric",
        rust_decimal::Decimal,
        rust_decimal::Decimal::new(123_456_789, 4)
    );
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
        "interval",
        "SELECT $1::interval",
        sqlx::postgres::types::PgInterval,
        sqlx::postgres::types::PgInterval {
            months: 1,
            days: 2,
            microseconds: 3_723_000_004
        }
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
    rt!("int_array", "SELECT $1::int4[]", Vec<i32>, vec![1, 2, 3]);
    rt!(
        "text_array",
        "SELECT $1::text[]",
        Vec<String>,
        vec!["a".into(), "b c".into()]
    );
}
