//! Protocol paths through `rustydb proxy` in transaction pooling mode:
//!
//! - named prepared statements keep working when the backend changes under
//!   them: `pgbench -i` (DDL + COPY), `pgbench -M prepared` TPC-B and `-S`,
//!   `-M extended`, with a pool smaller than the client count, on
//!   PostgreSQL 15 (+ hot standby) and on RustyDB nodes; TPC-B's balance
//!   invariant holds afterwards; tokio-postgres clients prepare once and
//!   reuse the statements across autocommit and explicit transactions;
//! - a CancelRequest sent to the proxy (tokio-postgres cancel token)
//!   cancels `pg_sleep` on whichever backend runs it (`57014`), and the
//!   session goes on;
//! - COPY FROM STDIN / TO STDOUT pass through (20,000 rows, byte-identical
//!   to a direct COPY), a bad COPY row fails with `22P02` and the session
//!   goes on;
//! - malformed and oversized input (garbage, a 2 GiB startup length, a bad
//!   protocol version, a startup without a user, a huge Query length, a real
//!   2 MB Query over `limits.max_message_bytes`, an unknown message, a
//!   truncated message) gets a FATAL error or a closed socket, while other
//!   sessions and the proxy keep working; SSLRequest without TLS gets `N`;
//! - multiplexed reads (`pool.multiplex_lanes = 2`): 12 clients' pipelined
//!   simple reads each get their own answer and their own settings, an
//!   error in one does not disturb the others, a lane's read can be
//!   cancelled, pgbench -S and TPC-B pass;
//! - connection limits: `limits.max_client_conn` and a service's
//!   `max_connections` answer `53300`; a client waiting longer than
//!   `pool.acquire_timeout_ms` for a backend gets `53300`.

use std::time::{Duration, Instant};

use rustydb_tests::fleet::{wait_replicas, Failures, Fleet};
use rustydb_tests::proxy::{ConnectOpts, ProxyProc, ProxySpec};
use rustydb_tests::tools::parse_pgbench;
use rustydb_tests::wire::{startup_packet, RawConn};
use rustydb_tests::SqlClient;
use tokio_postgres::NoTls;

fn pgbench_ok(proxy: &ProxyProc, args: &[&str], expect_tx: u64) -> Result<(), String> {
    let out = proxy.pgbench(args);
    let s = parse_pgbench(&out.stdout);
    match s {
        Some(s) if out.success && s.failed == 0 && s.processed == expect_tx => Ok(()),
        _ => Err(format!(
            "pgbench {args:?}: {} timed_out={}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            out.timed_out,
            out.stdout,
            out.stderr.chars().take(3000).collect::<String>()
        )),
    }
}

fn balances_agree(fleet: &Fleet) -> Result<(), String> {
    let mut p = fleet.primary_client();
    let sums: Vec<Option<String>> = [
        "pgbench_accounts(abalance)",
        "pgbench_branches(bbalance)",
        "pgbench_tellers(tbalance)",
    ]
    .iter()
    .map(|t| {
        let (table, col) = t.split_once('(').unwrap_or((t, ""));
        p.scalar(&format!(
            "SELECT sum({}) FROM {table}",
            col.trim_end_matches(')')
        ))
    })
    .collect();
    if sums.windows(2).all(|w| w[0] == w[1]) {
        Ok(())
    } else {
        Err(format!("balance sums differ: {sums:?}"))
    }
}

/// Four tokio-postgres clients, each preparing two statements once and
/// running them 50 times, a fifth of them inside explicit transactions.
fn prepared_reuse(proxy: &ProxyProc) -> Result<(), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let cfg = ConnectOpts::default().config(proxy.port());
    rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..4i32 {
            let cfg = cfg.clone();
            tasks.push(tokio::spawn(async move {
                let (client, conn) = cfg
                    .connect(NoTls)
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                let read = client
                    .prepare("SELECT $1::int + 1")
                    .await
                    .map_err(|e| format!("prepare: {e}"))?;
                let write = client
                    .prepare("INSERT INTO pp (c, i) VALUES ($1, $2)")
                    .await
                    .map_err(|e| format!("prepare: {e}"))?;
                for i in 0..50i32 {
                    let explicit = i % 5 == 0;
                    if explicit {
                        client
                            .batch_execute("BEGIN")
                            .await
                            .map_err(|e| format!("BEGIN: {e}"))?;
                    }
                    client
                        .execute(&write, &[&c, &i])
                        .await
                        .map_err(|e| format!("client {c} insert {i}: {e:?}"))?;
                    let row = client
                        .query_one(&read, &[&i])
                        .await
                        .map_err(|e| format!("client {c} read {i}: {e:?}"))?;
                    let got: i32 = row.get(0);
                    if got != i + 1 {
                        return Err(format!("client {c}: {i} + 1 = {got}"));
                    }
                    if explicit {
                        client
                            .batch_execute("COMMIT")
                            .await
                            .map_err(|e| format!("COMMIT: {e}"))?;
                    }
                }
                Ok::<(), String>(())
            }));
        }
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(120), t)
                .await
                .map_err(|_| "prepared clients timed out".to_string())?
                .map_err(|e| format!("task: {e}"))??;
        }
        Ok(())
    })
}

fn prepared_statements(fleet: Fleet) {
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs())
            .pool_mode("transaction")
            .set("pool.max_size", "2"),
    );
    let mut f = Failures::default();
    let k = fleet.kind();
    // -i prints no summary: success is the exit status.
    let init = proxy.pgbench(&["-i", "-s", "1", "-q"]);
    f.check(
        &format!("{k}: pgbench -i -s 1 through the proxy"),
        if init.success {
            Ok(())
        } else {
            Err(format!("{init:?}"))
        },
    );
    fleet.wait_replayed();
    f.check(
        &format!("{k}: pgbench -M prepared TPC-B"),
        pgbench_ok(
            &proxy,
            &["-M", "prepared", "-c", "4", "-j", "2", "-t", "200"],
            800,
        ),
    );
    f.check(&format!("{k}: balances agree"), balances_agree(&fleet));
    f.check(
        &format!("{k}: pgbench -M prepared -S"),
        pgbench_ok(
            &proxy,
            &["-M", "prepared", "-S", "-c", "4", "-j", "2", "-t", "200"],
            800,
        ),
    );
    f.check(
        &format!("{k}: pgbench -M extended"),
        pgbench_ok(
            &proxy,
            &["-M", "extended", "-c", "4", "-j", "2", "-t", "100"],
            400,
        ),
    );
    fleet
        .primary_client()
        .must("CREATE TABLE pp (c int, i int)");
    f.check(
        &format!("{k}: tokio-postgres prepared reuse"),
        prepared_reuse(&proxy).and_then(|_| {
            match fleet
                .primary_client()
                .scalar("SELECT count(*) FROM pp")
                .as_deref()
            {
                Some("200") => Ok(()),
                other => Err(format!("pp has {other:?} rows, want 200")),
            }
        }),
    );
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}

#[test]
fn prepared_statements_transaction_mode_postgres() {
    prepared_statements(Fleet::postgres(1));
}

#[test]
fn prepared_statements_transaction_mode_rustydb() {
    prepared_statements(Fleet::rustydb(1));
}

/// `pg_sleep(30)` after `before` (statements), cancelled through the proxy.
async fn cancel_once(cfg: &tokio_postgres::Config, before: &[&str]) -> Result<(), String> {
    let (client, conn) = cfg
        .connect(NoTls)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    for s in before {
        client
            .batch_execute(s)
            .await
            .map_err(|e| format!("{s}: {e}"))?;
    }
    let token = client.cancel_token();
    let started = Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        token.cancel_query(NoTls).await
    });
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        client.simple_query("SELECT pg_sleep(30)"),
    )
    .await;
    let sent = canceller.await.map_err(|e| e.to_string())?;
    sent.map_err(|e| format!("cancel request: {e}"))?;
    match r {
        Err(_) => return Err("pg_sleep(30) was not cancelled within 20 s".into()),
        Ok(Ok(_)) => return Err("pg_sleep(30) finished".into()),
        Ok(Err(e)) => match e.as_db_error() {
            Some(db) if db.code().code() == "57014" => {}
            _ => return Err(format!("wrong error: {e:?}")),
        },
    }
    if started.elapsed() > Duration::from_secs(15) {
        return Err(format!("cancel took {:?}", started.elapsed()));
    }
    if !before.is_empty() {
        client
            .batch_execute("ROLLBACK")
            .await
            .map_err(|e| format!("ROLLBACK: {e}"))?;
    }
    let row = client
        .query_one("SELECT 41 + 1", &[])
        .await
        .map_err(|e| format!("after cancel: {e}"))?;
    let v: i32 = row.get(0);
    if v == 42 {
        Ok(())
    } else {
        Err(format!("after cancel: {v}"))
    }
}

#[test]
fn cancel_and_copy_postgres() {
    let fleet = Fleet::postgres(1);
    let mut p = fleet.primary_client();
    for t in ["ct", "ct2", "co"] {
        p.must(&format!("CREATE TABLE {t} (id int PRIMARY KEY, v text)"));
    }
    fleet.wait_replayed();
    let proxy = ProxyProc::start(ProxySpec::static_(&fleet.addrs()));
    if let Err(e) = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 1) {
        panic!("{e}\nproxy log:\n{}", proxy.log_tail(4000));
    }
    let mut f = Failures::default();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cfg = ConnectOpts::default().config(proxy.port());
    f.check(
        "cancel a read (replica)",
        rt.block_on(cancel_once(&cfg, &[])),
    );
    f.check(
        "cancel inside a write transaction (primary)",
        rt.block_on(cancel_once(
            &cfg,
            &["BEGIN", "INSERT INTO ct VALUES (0, 'x')"],
        )),
    );

    // COPY in and out, 20,000 rows.
    let data: String = (1..=20_000).map(|i| format!("{i}\trow {i}\n")).collect();
    let mut c = proxy.client();
    f.check(
        "COPY FROM STDIN",
        match c.copy_in("COPY ct FROM STDIN", data.as_bytes()) {
            Ok(20_000) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    // The same through psql's \copy (COPY FROM STDIN, simple protocol).
    let file = proxy.dir().join("ct2.tsv");
    std::fs::write(&file, &data).expect("write copy file");
    let out = proxy.psql(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            proxy.port()
        ),
        &format!("\\copy ct2 FROM '{}'", file.display()),
        None,
    );
    let copied = fleet.primary_client().scalar("SELECT count(*) FROM ct2");
    f.check(
        "psql \\copy FROM (simple protocol)",
        if out.success && copied.as_deref() == Some("20000") {
            Ok(())
        } else {
            Err(format!("primary has {copied:?} rows: {out:?}"))
        },
    );
    // COPY TO of rows written directly on the primary.
    fleet
        .primary_client()
        .must("INSERT INTO co SELECT i, 'row ' || i FROM generate_series(1, 20000) i");
    fleet.wait_replayed();
    let direct = fleet.primary_client().copy_out("COPY co TO STDOUT");
    let mut c = proxy.client();
    let through = c.copy_out("COPY co TO STDOUT");
    f.check(
        "COPY TO STDOUT equals a direct COPY",
        match (&direct, &through) {
            (Ok(d), Ok(t)) if d == t && d.len() == data.len() => Ok(()),
            (d, t) => Err(format!(
                "direct {} bytes, through the proxy {:?}",
                d.as_ref().map_or(0, Vec::len),
                t.as_ref().map(Vec::len)
            )),
        },
    );
    let csv =
        c.copy_out("COPY (SELECT id, v FROM co WHERE id <= 3 ORDER BY id) TO STDOUT (FORMAT csv)");
    f.check(
        "COPY (SELECT) TO STDOUT csv",
        match csv.as_deref() {
            Ok(b"1,row 1\n2,row 2\n3,row 3\n") => Ok(()),
            other => Err(format!("{:?}", other.map(String::from_utf8_lossy))),
        },
    );
    let mut c = proxy.client();
    let bad = c.copy_in("COPY ct FROM STDIN", b"30001\tok\nnot-a-number\tbad\n");
    f.check(
        "bad COPY row: 22P02, session goes on",
        match bad {
            Err(e) if e.contains("22P02") => match c
                .simple("SELECT count(*) FROM ct WHERE id = 30001")
                .scalar()
            {
                Some("0") => Ok(()),
                other => Err(format!("after the failed COPY: {other:?}")),
            },
            other => Err(format!("{other:?}")),
        },
    );
    let out = proxy.psql(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            proxy.port()
        ),
        "COPY (SELECT id FROM co WHERE id <= 1000) TO STDOUT",
        None,
    );
    f.check(
        "psql COPY TO STDOUT",
        if out.success && out.stdout.lines().count() == 1000 {
            Ok(())
        } else {
            Err(format!("{out:?}"))
        },
    );
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}

fn serving(proxy: &mut ProxyProc, observer: &mut SqlClient) -> Result<(), String> {
    if !proxy.is_running() {
        return Err("the proxy process exited".into());
    }
    let o = observer.simple("SELECT 1");
    if !o.is_ok() {
        return Err(format!("observer session: {o}"));
    }
    let mut fresh = proxy.try_connect(&ConnectOpts::default())?;
    let o = fresh.simple("SELECT 2");
    if o.is_ok() {
        Ok(())
    } else {
        Err(format!("new session: {o}"))
    }
}

#[test]
fn malformed_and_oversized_input() {
    let fleet = Fleet::postgres(0);
    let mut proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs()).set("limits.max_message_bytes", "1048576"),
    );
    let port = proxy.port();
    let mut observer = proxy.client();
    let mut f = Failures::default();
    let send = |bytes: &[u8]| -> Result<RawConn, String> {
        let mut c = RawConn::connect(port).map_err(|e| e.to_string())?;
        c.send(bytes).map_err(|e| e.to_string())?;
        Ok(c)
    };
    let after_startup = |bytes: &[u8]| -> Result<RawConn, String> {
        let mut c = RawConn::startup(port).map_err(|e| e.to_string())?;
        // The proxy may refuse and close while we are still writing (the
        // 2 MB case): a failed write is a refusal too, read what came back.
        if let Err(e) = c.send(bytes) {
            println!("write failed: {e}");
        }
        Ok(c)
    };
    let mut huge_len = 0x7fff_ffffu32.to_be_bytes().to_vec();
    huge_len.extend_from_slice(&196608u32.to_be_bytes());
    let mut huge_query = vec![b'Q'];
    huge_query.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
    huge_query.extend_from_slice(b"SELECT 1");
    let big_sql = format!("SELECT '{}'", "x".repeat(2 << 20));
    let big_query = rustydb_tests::wire::query_message(&big_sql);
    let cases: Vec<(&str, Result<RawConn, String>, bool)> = vec![
        (
            "garbage bytes",
            send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            false,
        ),
        ("2 GiB startup length", send(&huge_len), false),
        (
            "protocol version 9.0",
            send(&startup_packet(0x0009_0000, &[("user", "postgres")])),
            false,
        ),
        (
            "startup without a user",
            send(&startup_packet(196608, &[("database", "postgres")])),
            true,
        ),
        ("Query claiming 2 GiB", after_startup(&huge_query), false),
        (
            "2 MB Query over max_message_bytes",
            after_startup(&big_query),
            // Closing with the body unread may reset the connection and
            // lose the FATAL in flight: a close is accepted.
            false,
        ),
        (
            "unknown message type",
            after_startup(&[b'@', 0, 0, 0, 4]),
            false,
        ),
    ];
    for (what, conn, must_error) in cases {
        let r = conn.and_then(RawConn::rejection).and_then(|how| {
            println!("{what}: {how}");
            if must_error && !how.starts_with("error") {
                Err(format!("wanted a FATAL error, got: {how}"))
            } else {
                Ok(())
            }
        });
        f.check(what, r.and_then(|_| serving(&mut proxy, &mut observer)));
    }
    // A truncated message, then the client vanishes.
    let r = after_startup(&[b'Q', 0, 0, 0, 100, b'S']).map(drop);
    f.check(
        "truncated message then disconnect",
        r.and_then(|_| serving(&mut proxy, &mut observer)),
    );
    // SSLRequest without TLS configured: 'N', then a normal startup.
    let r = (|| {
        let mut c = RawConn::connect(port).map_err(|e| e.to_string())?;
        c.send(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
            .map_err(|e| e.to_string())?;
        let mut b = [0u8; 1];
        std::io::Read::read_exact(&mut c.stream, &mut b).map_err(|e| e.to_string())?;
        if b[0] != b'N' {
            return Err(format!("SSLRequest answered {:?}", b[0] as char));
        }
        c.send(&startup_packet(
            196608,
            &[("user", "postgres"), ("database", "postgres")],
        ))
        .map_err(|e| e.to_string())?;
        let msgs = c.read_until_ready().map_err(|e| e.to_string())?;
        match msgs.last() {
            Some(m) if m.tag == b'Z' => Ok(()),
            other => Err(format!("startup after N: {other:?}")),
        }
    })();
    f.check("SSLRequest without TLS: N, then startup", r);
    // A CancelRequest with a key nobody holds is ignored.
    let mut cancel = vec![0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e];
    cancel.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    f.check(
        "bogus CancelRequest",
        send(&cancel)
            .and_then(RawConn::rejection)
            .and_then(|_| serving(&mut proxy, &mut observer)),
    );
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}

fn refused_53300(proxy: &ProxyProc, opts: &ConnectOpts) -> Result<(), String> {
    match proxy.try_connect(opts) {
        Ok(mut c) => {
            // The refusal may come with the first query instead.
            let o = c.simple("SELECT 1");
            if o.code() == Some("53300") {
                Ok(())
            } else {
                Err(format!("connected, SELECT 1: {o}"))
            }
        }
        Err(e) if e.contains("SQLSTATE 53300") => Ok(()),
        Err(e) => Err(format!("wrong refusal: {e}")),
    }
}

#[test]
fn connection_limits() {
    let fleet = Fleet::postgres(0);
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs())
            .set("limits.max_client_conn", "4")
            .set("services.olap.max_connections", "1")
            .set("pool.max_size", "1")
            .set("pool.acquire_timeout_ms", "500"),
    );
    let mut f = Failures::default();
    let r = (|| {
        let held: Vec<SqlClient> = (0..4)
            .map(|_| proxy.try_connect(&ConnectOpts::default()))
            .collect::<Result<_, _>>()?;
        refused_53300(&proxy, &ConnectOpts::default())?;
        drop(held);
        rustydb_tests::cluster::wait_until("a slot frees up", Duration::from_secs(10), || {
            proxy.try_connect(&ConnectOpts::default()).map(drop)
        })
    })();
    f.check(
        "max_client_conn = 4: the 5th gets 53300, a closed one frees a slot",
        r,
    );
    let r = (|| {
        let _one = proxy.try_connect(&ConnectOpts::service("olap"))?;
        refused_53300(&proxy, &ConnectOpts::service("olap"))?;
        let mut other = proxy.try_connect(&ConnectOpts::default())?;
        let o = other.simple("SELECT 1");
        if o.is_ok() {
            Ok(())
        } else {
            Err(format!("oltp client beside a full olap: {o}"))
        }
    })();
    f.check("service max_connections = 1", r);
    let r = (|| {
        let mut holder = proxy.try_connect(&ConnectOpts::default())?;
        holder.must("BEGIN");
        holder.must("SELECT 1");
        let mut waiter = proxy.try_connect(&ConnectOpts::default())?;
        let started = Instant::now();
        let o = waiter.simple("SELECT 1");
        holder.must("COMMIT");
        match o.code() {
            Some("53300") if started.elapsed() < Duration::from_secs(8) => Ok(()),
            _ => Err(format!("waiter after {:?}: {o}", started.elapsed())),
        }
    })();
    f.check("pool exhausted past acquire_timeout_ms: 53300", r);
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}

/// 12 clients, each running 60 distinct reads concurrently through
/// multiplexing lanes (`pool.multiplex_lanes`), check every answer is
/// their own: pipelined answers must never be handed to the wrong client.
/// Client `c` also sets its own `application_name`, which the lane must
/// apply before that client's reads, and every fifth read of client 0
/// fails (`22012`) without disturbing the others.
async fn multiplexed_clients(cfg: &tokio_postgres::Config) -> Result<(), String> {
    let mut tasks = Vec::new();
    for c in 0..12i64 {
        let cfg = cfg.clone();
        tasks.push(tokio::spawn(async move {
            let (client, conn) = cfg
                .connect(NoTls)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            if c % 3 == 1 {
                client
                    .batch_execute(&format!("SET application_name = 'mux{c}'"))
                    .await
                    .map_err(|e| format!("SET: {e}"))?;
            }
            for i in 0..60i64 {
                if c == 0 && i % 5 == 0 {
                    match client.simple_query("SELECT 1/0").await {
                        Err(e) if e.as_db_error().map(|d| d.code().code()) == Some("22012") => {}
                        other => return Err(format!("client 0: 1/0 gave {other:?}")),
                    }
                    continue;
                }
                let sql = format!("SELECT {c} * 1000 + {i}, current_setting('application_name')");
                let rows = client
                    .simple_query(&sql)
                    .await
                    .map_err(|e| format!("client {c} read {i}: {e}"))?;
                let row = rows
                    .iter()
                    .find_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
                        _ => None,
                    })
                    .ok_or_else(|| format!("client {c} read {i}: no row"))?;
                let want = (c * 1000 + i).to_string();
                if row.get(0) != Some(want.as_str()) {
                    return Err(format!("client {c} read {i}: got {:?}", row.get(0)));
                }
                let app = row.get(1).unwrap_or_default();
                if c % 3 == 1 && app != format!("mux{c}") {
                    return Err(format!("client {c}: application_name {app:?}"));
                }
                if c % 3 != 1 && app.starts_with("mux") {
                    return Err(format!("client {c} sees another client's setting {app:?}"));
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

#[test]
fn multiplexed_reads_postgres() {
    let fleet = Fleet::postgres(0);
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs())
            .pool_mode("transaction")
            .set("pool.max_size", "4")
            .set("pool.multiplex_lanes", "2"),
    );
    let mut f = Failures::default();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cfg = ConnectOpts::default().config(proxy.port());
    f.check(
        "12 clients' pipelined reads each get their own answer",
        rt.block_on(multiplexed_clients(&cfg)),
    );
    f.check(
        "cancel a multiplexed read",
        rt.block_on(cancel_once(&cfg, &[])),
    );
    f.check(
        "cancel inside a transaction next to multiplexed reads",
        rt.block_on(cancel_once(&cfg, &["BEGIN"])),
    );
    let init = proxy.pgbench(&["-i", "-s", "1", "-q"]);
    f.check(
        "pgbench -i through the proxy",
        if init.success {
            Ok(())
        } else {
            Err(format!("{init:?}"))
        },
    );
    f.check(
        "pgbench -S, 8 clients",
        pgbench_ok(&proxy, &["-S", "-c", "8", "-j", "2", "-t", "300"], 2400),
    );
    f.check(
        "pgbench TPC-B next to nothing multiplexed",
        pgbench_ok(&proxy, &["-c", "4", "-j", "2", "-t", "100"], 400),
    );
    f.check("balances agree", balances_agree(&fleet));
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}
