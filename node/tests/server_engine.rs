//! Protocol paths that need a working SQL engine and storage: extended
//! query with typed and inferred parameters in binary and text, NULLs,
//! portals with a row limit (PortalSuspended), pipelining, COPY in both
//! directions, cancelling a statement blocked on a row lock (57014), and a
//! client vanishing mid-transaction (its locks are released).
//!
//! These were verified against the engine under development with an
//! real storage.

mod common;

use std::time::Duration;

use common::*;
use futures::SinkExt;
use tokio_postgres::NoTls;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_params_portals_pipelining_and_copy() {
    let node = TestNode::start().await;
    let mut client = node.connect("postgres", None).await.expect("connect");
    bounded(
        "create",
        client.batch_execute(
            "create table t (id int primary key, name text, big bigint, f float8, b bool)",
        ),
    )
    .await
    .expect("create table");

    // Parameter types inferred by the server (tokio-postgres sends OID 0),
    // values sent in binary.
    let insert = bounded(
        "prepare",
        client.prepare("insert into t values ($1, $2, $3, $4, $5)"),
    )
    .await
    .expect("prepare");
    assert_eq!(insert.params().len(), 5);
    for i in 0..10i32 {
        let args: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
            &i,
            &format!("n{i}"),
            &(i64::from(i) * 1000),
            &(f64::from(i) / 2.0),
            &(i % 2 == 0),
        ];
        bounded("insert", client.execute(&insert, &args))
            .await
            .expect("insert");
    }
    // Results come back in binary (tokio-postgres asks for it).
    let rows = bounded(
        "select",
        client.query(
            "select id, name, big, f, b from t where id >= $1 order by id",
            &[&5i32],
        ),
    )
    .await
    .expect("select");
    assert_eq!(rows.len(), 5);
    let first: (i32, String, i64, f64, bool) = (
        rows[0].get(0),
        rows[0].get(1),
        rows[0].get(2),
        rows[0].get(3),
        rows[0].get(4),
    );
    assert_eq!(first, (5, "n5".to_string(), 5000, 2.5, false));

    // NULL parameters and results.
    let none: Option<String> = None;
    bounded(
        "insert null",
        client.execute(
            "insert into t (id, name) values ($1, $2)",
            &[&100i32, &none],
        ),
    )
    .await
    .expect("insert");
    let row = bounded(
        "select null",
        client.query_one("select name from t where id = $1", &[&100i32]),
    )
    .await
    .expect("row");
    assert_eq!(row.get::<_, Option<String>>(0), None);

    // A portal read 3 rows at a time.
    let tx = bounded("begin", client.transaction()).await.expect("begin");
    let st = bounded("prepare", tx.prepare("select id from t order by id"))
        .await
        .expect("prepare");
    let portal = bounded("bind", tx.bind(&st, &[])).await.expect("bind");
    let mut seen = Vec::new();
    loop {
        let chunk = bounded("fetch", tx.query_portal(&portal, 3))
            .await
            .expect("fetch");
        let n = chunk.len();
        seen.extend(chunk.iter().map(|r| r.get::<_, i32>(0)));
        if n < 3 {
            break;
        }
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
    bounded("commit", tx.commit()).await.expect("commit");

    // Pipelined: an error in the first query does not disturb the second.
    let (bad, good) = bounded("pipeline", async {
        tokio::join!(
            client.query("select * from nosuch", &[]),
            client.query("select 1::int4", &[])
        )
    })
    .await;
    assert_eq!(
        bad.err().as_ref().and_then(sqlstate).as_deref(),
        Some("42P01")
    );
    assert_eq!(good.expect("second query").len(), 1);

    // COPY FROM STDIN through the extended protocol, then TO STDOUT.
    let sink = bounded("copy in", client.copy_in("copy t (id, name) from stdin"))
        .await
        .expect("copy in");
    let mut sink = Box::pin(sink);
    bounded(
        "copy data",
        sink.send(bytes::Bytes::from_static(b"200\tx\n201\ty\n")),
    )
    .await
    .expect("send");
    assert_eq!(
        bounded("copy done", sink.as_mut().finish())
            .await
            .expect("finish"),
        2
    );
    // COPY TO STDOUT, read raw (CopyOutResponse, CopyData per line, CopyDone).
    let mut s = raw_session(node.addr).await;
    let mut q = vec![b'Q'];
    let sql = b"copy (select id, name from t where id >= 200 order by id) to stdout\0";
    q.extend_from_slice(&((sql.len() + 4) as u32).to_be_bytes());
    q.extend_from_slice(sql);
    send_raw(&mut s, &q).await;
    let mut data = Vec::new();
    loop {
        let (tag, body) = bounded("copy out reply", read_backend_message(&mut s))
            .await
            .expect("message");
        match tag {
            b'd' => data.extend(body),
            b'Z' => break,
            b'E' => panic!("copy out failed: {}", String::from_utf8_lossy(&body)),
            _ => {}
        }
    }
    assert_eq!(data, b"200\tx\n201\ty\n");

    // Multi-statement simple query keeps the transaction status right.
    let msgs = bounded("simple", client.simple_query("begin; select 1"))
        .await
        .expect("simple");
    assert!(!msgs.is_empty());
    bounded("commit", client.simple_query("commit"))
        .await
        .expect("commit");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_lock_wait_and_a_vanished_client_releases_its_locks() {
    let node = TestNode::start().await;
    let a = node.connect("postgres", None).await.expect("connect a");
    let b = node.connect("postgres", None).await.expect("connect b");
    bounded(
        "setup",
        a.batch_execute("create table t (id int primary key, v int); insert into t values (1, 0)"),
    )
    .await
    .expect("setup");
    bounded(
        "lock",
        a.batch_execute("begin; update t set v = 1 where id = 1"),
    )
    .await
    .expect("a locks the row");

    // B blocks on A's row lock; a CancelRequest stops it with 57014.
    let token = b.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await
    });
    let err = bounded(
        "blocked update",
        b.execute("update t set v = 2 where id = 1", &[]),
    )
    .await
    .expect_err("cancelled");
    assert_eq!(sqlstate(&err).as_deref(), Some("57014"), "{err}");
    bounded("canceller", canceller)
        .await
        .expect("join")
        .expect("cancel sent");

    // B waits again; A's client vanishes: its transaction is rolled back and
    // the lock released, so B goes through.
    let waiter = tokio::spawn(async move {
        let r = b
            .execute("update t set v = 3 where id = 1", &[])
            .await
            .map_err(|e| e.to_string());
        (r, b)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(a);
    let (r, b) = bounded("waiter", waiter).await.expect("join");
    assert_eq!(r, Ok(1));
    let v: i32 = bounded("read", b.query_one("select v from t where id = 1", &[]))
        .await
        .expect("row")
        .get(0);
    assert_eq!(v, 3, "A's uncommitted update was rolled back");
    node.stop().await;
}
