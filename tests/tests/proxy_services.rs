//! Services and replica balancing through `rustydb proxy`, proven by which
//! backend answered (`inet_server_port()` on PostgreSQL 15,
//! `rustydb.node_name` on RustyDB).
//!
//! - Services are selected all three ways (decision 6): the startup option
//!   `-c rustydb.service=NAME` (also `--rustydb.service=NAME` and
//!   `-crustydb.service=NAME`), the database alias `db@NAME`, and a
//!   per-service listen port; with tokio-postgres and with psql. `batch`
//!   (read policy primary_only) and a configured `reports` service read on
//!   the primary, `oltp`/`olap` on the replica; an unknown service is a FATAL
//!   `08004` naming it.
//! - Balancing over two streaming replicas: `round_robin` spreads one
//!   client's reads over both; `least_connections` sends reads away from a
//!   replica holding an open transaction; `weighted_round_robin` 3:1 gives
//!   3:1; `ip_hash` keeps each client address (127.0.0.X sources) on one
//!   replica and spreads addresses over both. The primary gets no reads.

use std::net::{IpAddr, Ipv4Addr};

use rustydb_tests::fleet::{tally, wait_replicas, Failures, Fleet};
use rustydb_tests::proxy::{toml_str, ConnectOpts, ProxyProc, ProxySpec};

fn opts_with(options: &str) -> ConnectOpts {
    ConnectOpts {
        options: Some(options.to_string()),
        ..ConnectOpts::default()
    }
}

/// The backend that answers `SELECT {who}` for a client made by `opts`.
fn who_for(fleet: &Fleet, proxy: &ProxyProc, opts: &ConnectOpts) -> Result<String, String> {
    let mut c = proxy.try_connect(opts)?;
    fleet.ask(&mut c, "SELECT {who}")
}

fn expect(
    fleet: &Fleet,
    proxy: &ProxyProc,
    opts: &ConnectOpts,
    primary: bool,
) -> Result<(), String> {
    let who = who_for(fleet, proxy, opts)?;
    let ok = if primary {
        who == fleet.primary_name()
    } else {
        fleet.replica_names().contains(&who)
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "answered by {who}, wanted the {}",
            if primary { "primary" } else { "replica" }
        ))
    }
}

/// An unknown service must be refused at connect with 08004 naming it.
fn expect_unknown(proxy: &ProxyProc, opts: &ConnectOpts) -> Result<(), String> {
    match proxy.try_connect(opts) {
        Ok(_) => Err("connected".into()),
        Err(e) if e.contains("SQLSTATE 08004") && e.contains("nosuch") => Ok(()),
        Err(e) => Err(format!("wrong refusal: {e}")),
    }
}

fn services_checks(fleet: &Fleet, proxy: &ProxyProc, f: &mut Failures) {
    let k = fleet.kind();
    f.check(
        &format!("{k}: no service (oltp default) reads the replica"),
        expect(fleet, proxy, &ConnectOpts::default(), false),
    );
    f.check(
        &format!("{k}: -c rustydb.service=oltp"),
        expect(fleet, proxy, &ConnectOpts::service("oltp"), false),
    );
    f.check(
        &format!("{k}: -c rustydb.service=olap"),
        expect(fleet, proxy, &ConnectOpts::service("olap"), false),
    );
    f.check(
        &format!("{k}: -c rustydb.service=batch"),
        expect(fleet, proxy, &ConnectOpts::service("batch"), true),
    );
    f.check(
        &format!("{k}: --rustydb.service=batch"),
        expect(fleet, proxy, &opts_with("--rustydb.service=batch"), true),
    );
    f.check(
        &format!("{k}: -crustydb.service=batch"),
        expect(fleet, proxy, &opts_with("-crustydb.service=batch"), true),
    );
    f.check(
        &format!("{k}: configured service reports"),
        expect(fleet, proxy, &ConnectOpts::service("reports"), true),
    );
    f.check(
        &format!("{k}: database alias postgres@batch"),
        (|| {
            expect(fleet, proxy, &ConnectOpts::database("postgres@batch"), true)?;
            let mut c = proxy.try_connect(&ConnectOpts::database("postgres@batch"))?;
            match c.simple("SELECT current_database()").scalar() {
                Some("postgres") => Ok(()),
                other => Err(format!("current_database() = {other:?}")),
            }
        })(),
    );
    f.check(
        &format!("{k}: database alias postgres@olap"),
        expect(fleet, proxy, &ConnectOpts::database("postgres@olap"), false),
    );
    let batch_port = ConnectOpts {
        port: Some(proxy.service_port("batch")),
        ..ConnectOpts::default()
    };
    f.check(
        &format!("{k}: batch's own listen port"),
        expect(fleet, proxy, &batch_port, true),
    );
    f.check(
        &format!("{k}: unknown service in options"),
        expect_unknown(proxy, &ConnectOpts::service("nosuch")),
    );
    f.check(
        &format!("{k}: unknown service in the database alias"),
        expect_unknown(proxy, &ConnectOpts::database("postgres@nosuch")),
    );
}

fn services_spec(fleet: &Fleet) -> ProxySpec {
    ProxySpec::static_(&fleet.addrs())
        .service_listen("batch")
        // A file that names `batch` replaces the built-in entry as a whole
        // (config.rs merges services by name), so restate its read policy.
        .set("services.batch.read_policy", &toml_str("primary_only"))
        .set("services.reports.read_policy", &toml_str("primary_only"))
}

#[test]
fn services_three_ways_postgres() {
    let fleet = Fleet::postgres(1);
    let proxy = ProxyProc::start(services_spec(&fleet));
    if let Err(e) = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 1) {
        panic!("{e}\nproxy log:\n{}", proxy.log_tail(4000));
    }
    let mut f = Failures::default();
    services_checks(&fleet, &proxy, &mut f);
    // The same with psql (libpq's options and dbname handling).
    let primary_port = fleet
        .addr_of(&fleet.primary_name())
        .rsplit(':')
        .next()
        .unwrap_or("")
        .to_string();
    let p = proxy.port();
    for (what, conninfo) in [
        ("psql options", format!("host=127.0.0.1 port={p} user=postgres dbname=postgres options='-c rustydb.service=batch'")),
        ("psql database alias", format!("host=127.0.0.1 port={p} user=postgres dbname=postgres@batch")),
        ("psql URI options", format!("postgresql://postgres@127.0.0.1:{p}/postgres?options=-c%20rustydb.service%3Dbatch")),
    ] {
        let out = proxy.psql(&conninfo, "SELECT inet_server_port()", None);
        let r = if out.success && out.stdout.trim() == primary_port {
            Ok(())
        } else {
            Err(format!("{out:?}"))
        };
        f.check(what, r);
    }
    let out = proxy.psql(
        &format!("host=127.0.0.1 port={p} user=postgres dbname=postgres options='-c rustydb.service=nosuch'"),
        "SELECT 1",
        None,
    );
    let r =
        if !out.success && out.stderr.contains("FATAL") && out.stderr.contains("unknown service") {
            Ok(())
        } else {
            Err(format!("{out:?}"))
        };
    f.check("psql unknown service: FATAL", r);
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}

/// `n` reads on one client through `proxy`, as backend names.
fn reads(fleet: &Fleet, proxy: &ProxyProc, n: usize) -> Result<Vec<String>, String> {
    let mut c = proxy.try_connect(&ConnectOpts::default())?;
    (0..n).map(|_| fleet.ask(&mut c, "SELECT {who}")).collect()
}

fn within(count: usize, lo: usize, hi: usize) -> bool {
    (lo..=hi).contains(&count)
}

fn count_of(answers: &[String], name: &str) -> usize {
    answers.iter().filter(|a| *a == name).count()
}

fn round_robin(fleet: &Fleet, f: &mut Failures) {
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs()).set("routing.balance", &toml_str("round_robin")),
    );
    let r = wait_replicas(fleet, &proxy, &ConnectOpts::default(), 2).and_then(|_| {
        let answers = reads(fleet, &proxy, 20)?;
        let rs = fleet.replica_names();
        if rs.iter().all(|r| within(count_of(&answers, r), 7, 13)) {
            Ok(())
        } else {
            Err(format!("20 reads: {:?}", tally(&answers)))
        }
    });
    f.check(
        &format!("{}: round_robin spreads reads evenly", fleet.kind()),
        r,
    );
}

#[test]
fn balancing_postgres() {
    let fleet = Fleet::postgres(2);
    let rs = fleet.replica_names();
    let mut f = Failures::default();
    round_robin(&fleet, &mut f);

    // least_connections: a replica busy with an open transaction gets no reads.
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs()).set("routing.balance", &toml_str("least_connections")),
    );
    let r = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 1).and_then(|_| {
        let mut h1 = proxy.client();
        h1.must("BEGIN READ ONLY");
        let x = fleet.ask(&mut h1, "SELECT {who}")?;
        let busy_x = reads(&fleet, &proxy, 8)?;
        if busy_x.iter().any(|n| *n == x || !rs.contains(n)) {
            return Err(format!("{x} busy, reads went to {:?}", tally(&busy_x)));
        }
        let mut h2 = proxy.client();
        h2.must("BEGIN READ ONLY");
        let y = fleet.ask(&mut h2, "SELECT {who}")?;
        if y == x {
            return Err(format!("second holder joined the busy {x}"));
        }
        h1.must("COMMIT");
        let busy_y = reads(&fleet, &proxy, 8)?;
        if busy_y.iter().any(|n| *n != x) {
            return Err(format!("{y} busy, reads went to {:?}", tally(&busy_y)));
        }
        h2.must("COMMIT");
        Ok(())
    });
    f.check("postgres: least_connections avoids the busy replica", r);
    drop(proxy);

    // weighted_round_robin 3:1 by backend address.
    let (a, b) = (fleet.addr_of(&rs[0]), fleet.addr_of(&rs[1]));
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs())
            .set("routing.balance", &toml_str("weighted_round_robin"))
            .set(&format!("routing.weights.{}", toml_str(&a)), "3")
            .set(&format!("routing.weights.{}", toml_str(&b)), "1"),
    );
    let r = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 2).and_then(|_| {
        let answers = reads(&fleet, &proxy, 40)?;
        if within(count_of(&answers, &rs[0]), 26, 34) && within(count_of(&answers, &rs[1]), 6, 14) {
            Ok(())
        } else {
            Err(format!(
                "40 reads with weights {a}=3 {b}=1: {:?}",
                tally(&answers)
            ))
        }
    });
    f.check("postgres: weighted_round_robin 3:1", r);
    drop(proxy);

    // ip_hash: one replica per client address, both replicas used.
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs()).set("routing.balance", &toml_str("ip_hash")),
    );
    let r = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 1).and_then(|_| {
        let mut per_ip = Vec::new();
        for last in 11..=26u8 {
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
            let mut answers = Vec::new();
            for _ in 0..2 {
                let mut c = proxy.connect_from(ip, &ConnectOpts::default())?;
                for _ in 0..2 {
                    answers.push(fleet.ask(&mut c, "SELECT {who}")?);
                }
            }
            let t = tally(&answers);
            if t.len() != 1 || !rs.contains(&t[0].0) {
                return Err(format!("client {ip} answered by {t:?}"));
            }
            per_ip.push(t[0].0.clone());
        }
        let t = tally(&per_ip);
        if t.len() == 2 {
            Ok(())
        } else {
            Err(format!("16 client addresses all on {t:?}"))
        }
    });
    f.check(
        "postgres: ip_hash is sticky per address and spreads addresses",
        r,
    );
    f.assert_none(&fleet.describe());
}

#[test]
fn balancing_and_services_rustydb() {
    let fleet = Fleet::rustydb(2);
    let mut f = Failures::default();
    round_robin(&fleet, &mut f);
    let proxy = ProxyProc::start(services_spec(&fleet));
    match wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 1) {
        Ok(()) => services_checks(&fleet, &proxy, &mut f),
        Err(e) => f.check("rustydb: proxy finds a replica", Err(e)),
    }
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}
