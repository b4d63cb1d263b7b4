//! Operating `rustydb proxy` in front of a PostgreSQL 15 primary + hot
//! standby:
//!
//! - the admin database `rustydb` answers `SHOW POOLS|CLIENTS|SERVERS|
//!   STATS|SERVICES|VERSION` (psql and tokio-postgres), an unknown command
//!   gets `42601` and the admin session goes on; `PAUSE` holds new queries
//!   until `RESUME`;
//! - HTTP `/metrics` (Prometheus text with the proxy's families) and
//!   `/health`;
//! - config reload: SIGHUP and the admin `RELOAD` switch the read/write
//!   split off and on again, observed by which backend answers reads;
//! - LISTEN/NOTIFY through a session-mode proxy;
//! - a CancelRequest from an idle client never cancels another client's
//!   statement on the shared backend connection.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rustydb_tests::cluster::wait_until;
use rustydb_tests::fleet::{wait_replicas, Failures, Fleet};
use rustydb_tests::proxy::{ConnectOpts, ProxyProc, ProxySpec};
use tokio_postgres::{AsyncMessage, NoTls};

fn admin_psql(proxy: &ProxyProc, sql: &str) -> Result<String, String> {
    let conninfo = format!(
        "host=127.0.0.1 port={} user=postgres dbname=rustydb",
        proxy.port()
    );
    let out = proxy.psql(&conninfo, sql, None);
    if out.success {
        Ok(out.stdout)
    } else {
        Err(format!("{sql}: {out:?}"))
    }
}

/// The backend answering reads through a fresh client.
fn reader(fleet: &Fleet, proxy: &ProxyProc) -> Result<String, String> {
    let mut c = proxy.try_connect(&ConnectOpts::default())?;
    fleet.ask(&mut c, "SELECT {who}")
}

#[test]
fn admin_console_metrics_pause_and_reload() {
    let fleet = Fleet::postgres(1);
    let proxy = ProxyProc::start(ProxySpec::static_(&fleet.addrs()));
    if let Err(e) = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 1) {
        panic!("{e}\nproxy log:\n{}", proxy.log_tail(4000));
    }
    let mut f = Failures::default();
    // Some traffic for the pools and counters to show.
    let mut c = proxy.client();
    for _ in 0..5 {
        c.must("SELECT 1");
    }
    for cmd in [
        "SHOW POOLS",
        "SHOW CLIENTS",
        "SHOW SERVERS",
        "SHOW STATS",
        "SHOW VERSION",
    ] {
        f.check(cmd, admin_psql(&proxy, cmd).map(drop));
    }
    f.check(
        "SHOW SERVICES lists the built-in services",
        admin_psql(&proxy, "SHOW SERVICES").and_then(|out| {
            if ["oltp", "olap", "batch"].iter().all(|s| out.contains(s)) {
                Ok(())
            } else {
                Err(format!("SHOW SERVICES: {out}"))
            }
        }),
    );
    let r = proxy
        .try_connect(&ConnectOpts::database("rustydb"))
        .and_then(|mut a| {
            let bad = a.simple("SHOW NONSENSE");
            if bad.code() != Some("42601") {
                return Err(format!("SHOW NONSENSE: {bad}"));
            }
            let ok = a.simple("SHOW POOLS");
            if ok.is_ok() {
                Ok(())
            } else {
                Err(format!("SHOW POOLS after an error: {ok}"))
            }
        });
    f.check("unknown admin command: 42601, session goes on", r);

    let r = proxy.metrics().and_then(|m| {
        let want = [
            "rustydb_proxy_queries_total",
            "rustydb_proxy_client_connections",
        ];
        match want.iter().find(|w| !m.contains(*w)) {
            None => Ok(()),
            Some(w) => Err(format!("/metrics lacks {w}")),
        }
    });
    f.check("/metrics", r);
    let r = rustydb_tests::cluster::Admin::new(proxy.admin_port())
        .get("/health")
        .and_then(|h| {
            if h.status == 200 {
                Ok(())
            } else {
                Err(format!("{} {}", h.status, h.text))
            }
        });
    f.check("/health", r);

    // PAUSE holds a new query; RESUME lets it finish.
    let r = (|| {
        admin_psql(&proxy, "PAUSE")?;
        let port = proxy.port();
        let started = Instant::now();
        let waiter = std::thread::spawn(move || {
            let mut c = rustydb_tests::SqlClient::connect(port, "postgres")?;
            let o = c.simple("SELECT 1");
            if o.is_ok() {
                Ok(started.elapsed())
            } else {
                Err(o.to_string())
            }
        });
        std::thread::sleep(Duration::from_millis(1500));
        let early = waiter.is_finished();
        admin_psql(&proxy, "RESUME")?;
        let took = waiter.join().map_err(|_| "waiter panicked".to_string())??;
        if early {
            Err(format!("query finished during PAUSE ({took:?})"))
        } else if took > Duration::from_secs(10) {
            Err(format!(
                "query finished {took:?} after the start, long after RESUME"
            ))
        } else {
            Ok(())
        }
    })();
    f.check("PAUSE holds new queries until RESUME", r);

    // SIGHUP: read/write split off -> reads on the primary.
    let primary = fleet.primary_name();
    let config = std::fs::read_to_string(proxy.config_path()).expect("read proxy.toml");
    std::fs::write(
        proxy.config_path(),
        format!("routing.read_write_split = false\n{config}"),
    )
    .expect("write proxy.toml");
    proxy.reload();
    let r = wait_until(
        "reads on the primary after SIGHUP",
        Duration::from_secs(15),
        || match reader(&fleet, &proxy)? {
            n if n == primary => Ok(()),
            n => Err(format!("answered by {n}")),
        },
    );
    f.check("SIGHUP reload (read_write_split = false)", r);
    std::fs::write(proxy.config_path(), &config).expect("write proxy.toml");
    let r = admin_psql(&proxy, "RELOAD").and_then(|_| {
        wait_until(
            "reads on the replica after RELOAD",
            Duration::from_secs(15),
            || match reader(&fleet, &proxy)? {
                n if n != primary => Ok(()),
                n => Err(format!("answered by {n}")),
            },
        )
    });
    f.check("admin RELOAD (split back on)", r);
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}

#[test]
fn listen_notify_in_session_mode() {
    let fleet = Fleet::postgres(0);
    let proxy = ProxyProc::start(ProxySpec::static_(&fleet.addrs()).pool_mode("session"));
    let cfg = ConnectOpts::default().config(proxy.port());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let r: Result<(), String> = rt.block_on(async {
        let (listener, mut conn) = cfg
            .connect(NoTls)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(Ok(m)) = messages.next().await {
                if let AsyncMessage::Notification(n) = m {
                    let _ = tx.send((n.channel().to_string(), n.payload().to_string()));
                }
            }
        });
        listener
            .batch_execute("LISTEN ptest_ch")
            .await
            .map_err(|e| format!("LISTEN: {e}"))?;
        let (notifier, conn2) = cfg
            .connect(NoTls)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        tokio::spawn(async move {
            let _ = conn2.await;
        });
        notifier
            .batch_execute("NOTIFY ptest_ch, 'hello'")
            .await
            .map_err(|e| format!("NOTIFY: {e}"))?;
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some((ch, payload))) if ch == "ptest_ch" && payload == "hello" => Ok(()),
            Ok(other) => Err(format!("notification: {other:?}")),
            Err(_) => Err("no notification within 10 s".into()),
        }
    });
    if let Err(e) = r {
        panic!("{e}\nproxy log:\n{}", proxy.log_tail(4000));
    }
}

#[test]
fn a_cancel_never_reaches_another_clients_statement() {
    // One backend connection shared by two clients (transaction pooling,
    // pool of 1). Client A is idle and keeps sending CancelRequests with
    // its key while client B's statements run on that same backend
    // connection: none of B's statements may be cancelled.
    let fleet = Fleet::postgres(0);
    let proxy = ProxyProc::start(ProxySpec::static_(&fleet.addrs()).set("pool.max_size", "1"));
    let mut a = proxy.client();
    a.must("SELECT 1");
    let cancel = a.cancel_handle().expect("cancel handle");
    let port = proxy.port();
    let b = std::thread::spawn(move || {
        let mut c = rustydb_tests::SqlClient::connect(port, "postgres")?;
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            outcomes.push(c.simple("SELECT pg_sleep(1)").to_string());
        }
        Ok::<_, String>(outcomes)
    });
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..10 {
        if let Err(e) = cancel.cancel() {
            println!("cancel request: {e}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let outcomes = b.join().expect("client B panicked");
    match outcomes {
        Ok(o) if o.iter().all(|s| s.starts_with("OK")) => {}
        other => panic!(
            "client B's statements under client A's cancels: {other:?}\nproxy log:\n{}",
            proxy.log_tail(4000)
        ),
    }
    assert!(a.simple("SELECT 2").is_ok(), "client A still works");
}
