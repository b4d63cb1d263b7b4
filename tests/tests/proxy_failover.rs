//! `rustydb proxy` follows failovers:
//!
//! - static mode in front of PostgreSQL 15: the primary is shut down
//!   (immediate) and its hot standby promoted by hand; the proxy's health
//!   checks see the new roles (`pg_is_in_recovery()`) and new write
//!   transactions reach the promoted server, through the old session (or a
//!   reconnect, at once) and through new ones;
//! - dynamic mode with three `rustydb manager` members and three nodes
//!   (`rustydb_tests::manager`): after `kill -9` of the primary, once the
//!   managers elected another, new transactions through the proxy reach the
//!   node the managers name, within the bound.
//!
//! Which server answered comes from the server itself
//! (`inet_server_port()`, `rustydb.node_name`).

use std::time::{Duration, Instant};

use rustydb_tests::cluster::wait_until;
use rustydb_tests::fleet::{wait_replicas, Fleet};
use rustydb_tests::manager::ManagedCluster;
use rustydb_tests::proxy::{ConnectOpts, ProxyProc, ProxySpec};
use rustydb_tests::Outcome;

const FOLLOW_BOUND: Duration = Duration::from_secs(30);

#[test]
fn static_mode_follows_a_promoted_postgres_standby() {
    let mut fleet = Fleet::postgres(1);
    fleet
        .primary_client()
        .must("CREATE TABLE fo (id int PRIMARY KEY)");
    fleet.wait_replayed();
    let proxy = ProxyProc::start(ProxySpec::static_(&fleet.addrs()));
    if let Err(e) = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 1) {
        panic!("{e}\nproxy log:\n{}", proxy.log_tail(4000));
    }
    let (old, new) = (fleet.primary_name(), fleet.replica_names().remove(0));
    let mut session = proxy.client();
    let who = fleet.ask(&mut session, "INSERT INTO fo VALUES (1) RETURNING {who}");
    assert_eq!(who.as_deref(), Ok(old.as_str()), "first write");
    // A session inside a write transaction holds the primary's connection.
    let mut in_txn = proxy.client();
    in_txn.must("BEGIN");
    in_txn.must("INSERT INTO fo VALUES (2)");
    let Fleet::Pg(cluster) = &mut fleet else {
        unreachable!()
    };
    cluster.kill(0);
    // It gets a clean error (or its connection is closed), never a hang
    // or a success on another server; reconnecting works at once (reads go
    // to the standby that is still up).
    let out = in_txn.simple("INSERT INTO fo VALUES (3)");
    println!("statement on the dead primary: {out}");
    match &out {
        Outcome::Error { code, .. }
            if ["57P01", "08006", "57P03", "08003"].contains(&code.as_str()) => {}
        Outcome::Broken(why) if !why.contains("timed out") => {}
        other => panic!(
            "statement in a transaction on the dead primary: {other}\nproxy log:\n{}",
            proxy.log_tail(4000)
        ),
    }
    let reconnect = proxy
        .try_connect(&ConnectOpts::default())
        .map(|mut c| c.simple("SELECT 1"));
    match reconnect {
        Ok(o) if o.is_ok() => {}
        other => panic!(
            "reconnect right after the primary died: {other:?}\nproxy log:\n{}",
            proxy.log_tail(4000)
        ),
    }
    cluster.promote(1);
    let promoted = Instant::now();
    // The old session: a clean error at most once, then (or after an
    // immediate reconnect) writes reach the promoted server.
    let mut id = 3;
    let r = wait_until("writes reach the promoted standby", FOLLOW_BOUND, || {
        id += 1;
        let out =
            session.simple(&fleet.sql(&format!("INSERT INTO fo VALUES ({id}) RETURNING {{who}}")));
        if let Outcome::Broken(_) = out {
            session = proxy.try_connect(&ConnectOpts::default())?;
        }
        match fleet.answered(&out)?.first() {
            Some(n) if *n == new => Ok(()),
            other => Err(format!("answered by {other:?}")),
        }
    });
    if let Err(e) = r {
        panic!(
            "{e}\nproxy log:\n{}\n{}",
            proxy.log_tail(6000),
            fleet.describe()
        );
    }
    println!(
        "writes on the promoted standby {:?} after the promotion",
        promoted.elapsed()
    );
    let mut fresh = proxy.client();
    assert_eq!(
        fleet
            .ask(&mut fresh, "INSERT INTO fo VALUES (1000) RETURNING {who}")
            .as_deref(),
        Ok(new.as_str()),
        "a new session's write"
    );
    assert_eq!(
        fleet.ask(&mut fresh, "SELECT {who}").as_deref(),
        Ok(new.as_str()),
        "reads: only the new primary is up"
    );
}

const WHO: &str = "current_setting('rustydb.node_name')";

fn write_through(
    proxy: &ProxyProc,
    c: &mut Option<rustydb_tests::SqlClient>,
    id: i64,
) -> Result<String, String> {
    if c.as_ref().is_none_or(|c| !c.is_alive()) {
        *c = Some(proxy.try_connect(&ConnectOpts::default())?);
    }
    let Some(client) = c.as_mut() else {
        unreachable!()
    };
    let out = client.simple(&format!("INSERT INTO fo VALUES ({id}, 0) RETURNING {WHO}"));
    match out.scalar() {
        Some(name) => Ok(name.to_string()),
        None => Err(out.to_string()),
    }
}

#[test]
fn dynamic_mode_follows_the_managers_failover() {
    let mut cluster =
        ManagedCluster::start("sync", "CREATE TABLE fo (id bigint PRIMARY KEY, w int)");
    let managers: Vec<String> = cluster
        .managers
        .iter()
        .map(|m| format!("http://127.0.0.1:{}", m.api_port))
        .collect();
    let proxy = ProxyProc::start(ProxySpec::dynamic(&managers));
    let old = cluster
        .wait_primary(|_| true, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.describe()));
    let mut session = None;
    let r = wait_until(
        "the proxy writes on the managers' primary",
        FOLLOW_BOUND,
        || match write_through(&proxy, &mut session, 1)? {
            n if n == old => Ok(()),
            n => Err(format!("answered by {n}")),
        },
    );
    if let Err(e) = r {
        panic!(
            "{e}\nproxy log:\n{}\n{}",
            proxy.log_tail(6000),
            cluster.describe()
        );
    }
    cluster.node_mut(&old).kill9();
    let killed = Instant::now();
    let new = cluster
        .wait_primary(|n| n != old, FOLLOW_BOUND)
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.describe()));
    let elected = killed.elapsed();
    let mut id = 10;
    let r = wait_until(
        "writes through the proxy reach the new primary",
        FOLLOW_BOUND,
        || {
            id += 1;
            match write_through(&proxy, &mut session, id)? {
                n if n == new => Ok(()),
                n => Err(format!("answered by {n}")),
            }
        },
    );
    if let Err(e) = r {
        panic!(
            "{e}\nproxy log:\n{}\n{}",
            proxy.log_tail(6000),
            cluster.describe()
        );
    }
    println!(
        "{old} killed; managers elected {new} after {elected:?}; proxy writes there after {:?}",
        killed.elapsed()
    );
}

#[test]
fn reads_survive_a_dead_replica() {
    // Two standbys behind a round-robin proxy; one dies without warning.
    // Reads keep succeeding: one that reached the dead replica before it
    // was banned is retried on another backend (it had sent no rows).
    let mut fleet = Fleet::postgres(2);
    let proxy = ProxyProc::start(ProxySpec::static_(&fleet.addrs()));
    if let Err(e) = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 2) {
        panic!("{e}\nproxy log:\n{}", proxy.log_tail(4000));
    }
    let dead = fleet.replica_names().remove(1);
    let mut session = proxy.client();
    let Fleet::Pg(cluster) = &mut fleet else {
        unreachable!()
    };
    cluster.kill(2);
    let mut answers = Vec::new();
    let mut proxy = proxy;
    for i in 0..30 {
        let mut fresh = proxy.client();
        for (which, c) in [("old session", &mut session), ("new session", &mut fresh)] {
            match fleet.ask(c, "SELECT {who}") {
                Ok(n) if n != dead => answers.push(n),
                other => {
                    let running = proxy.is_running();
                    let after = proxy
                        .try_connect(&ConnectOpts::default())
                        .map(|mut c| c.simple("SELECT 1").to_string());
                    panic!(
                        "read {i} ({which}) after {dead} died: {other:?}\n\
                         proxy running: {running}; a new client then: {after:?}\nproxy log:\n{}",
                        proxy.log_tail(6000)
                    )
                }
            }
        }
    }
    println!(
        "reads after {dead} died: {:?}",
        rustydb_tests::fleet::tally(&answers)
    );
}
