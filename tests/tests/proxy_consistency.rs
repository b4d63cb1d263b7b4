//! Read consistency levels through `rustydb proxy`
//! (`SET rustydb.consistency = local|regional|global|strong`), each rule
//! proven by *which node answered* (`current_setting('rustydb.node_name')`
//! on RustyDB, `inet_server_port()` on PostgreSQL) and by read-your-writes.
//!
//! ```text
//!  dynamic mode (ManagedCluster, managers relabelled):
//!    n1 primary dc1/r1    n2 replica dc2/r1    n3 replica dc3/r2
//!    proxy A: datacenter dc1 (region learned: r1)
//!      local    -> n1 (no replica in dc1: the primary)
//!      regional -> n2          global -> n2 and n3
//!    proxy B: datacenter dc3, region r2: local -> n3, regional -> n3
//!    strong: every read after a write sees it
//!  static mode (PostgreSQL primary + standby applying 2 s late):
//!    SET / SET SESSION / RESET / SHOW, 22023 for a bad value (the session
//!    goes on), startup options, the service default; read_your_writes off:
//!    under `global` the writer reads the stale standby, under `strong` it
//!    reads its write on the primary and returns to the standby once the
//!    standby applied it; unlabelled backends: local = global for a proxy
//!    without a datacenter, the primary for one in dc1; metrics by level.
//! ```
//!
//! Every wait is bounded; failures are collected so one run lists all.

use std::collections::BTreeSet;
use std::time::Duration;

use rustydb_tests::cluster::wait_until;
use rustydb_tests::fleet::{wait_replicas, Failures, Fleet, CONVERGE};
use rustydb_tests::manager::ManagedCluster;
use rustydb_tests::proxy::{toml_str, ConnectOpts, ProxyProc, ProxySpec};
use rustydb_tests::{Outcome, SqlClient};

const BOUND: Duration = Duration::from_secs(90);
const WHO: &str = "current_setting('rustydb.node_name')";
/// The primary the test expects (the harness starts n1 as primary).
const PRIMARY: &str = "n1";

/// Node labels of the dynamic test: (name, datacenter, region).
const LABELS: &[(&str, &str, &str)] = &[
    ("n1", "dc1", "r1"),
    ("n2", "dc2", "r1"),
    ("n3", "dc3", "r2"),
];

/// Rewrites every manager's `[[nodes]]` labels and restarts the members
/// one at a time (followers first), so the leader registers the new
/// labels; waits until `/topology` shows them.
fn relabel(cluster: &mut ManagedCluster) {
    let leader = cluster.manager_leader().unwrap_or(0);
    let mut order: Vec<usize> = (0..cluster.managers.len())
        .filter(|i| *i != leader)
        .collect();
    order.push(leader);
    for i in order {
        let m = &mut cluster.managers[i];
        let path = m.log().with_file_name("manager.toml");
        let text = std::fs::read_to_string(&path).expect("read manager.toml");
        std::fs::write(&path, labelled(&text)).expect("write manager.toml");
        m.start();
        let api = m.api();
        wait_until("restarted manager answers", BOUND, || {
            api.get_json("/health")
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.describe()));
        cluster
            .wait_primary(|_| true, BOUND)
            .unwrap_or_else(|e| panic!("{e}\n{}", cluster.describe()));
    }
    let api = cluster.managers[0].api();
    wait_until("/topology shows the new labels", BOUND, || {
        let t = api.get_json("/topology")?;
        let mut seen = Vec::new();
        if let Some(p) = t.get("primary").filter(|p| !p.is_null()) {
            seen.push(p.clone());
        }
        seen.extend(t["replicas"].as_array().cloned().unwrap_or_default());
        let ok = LABELS.iter().all(|(name, dc, region)| {
            seen.iter()
                .any(|b| b["name"] == *name && b["datacenter"] == *dc && b["region"] == *region)
        });
        if ok {
            Ok(())
        } else {
            Err(format!("topology: {t}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.describe()));
}

/// `manager.toml` with each `[[nodes]]` block's datacenter from LABELS
/// and a region line added.
fn labelled(text: &str) -> String {
    let mut out = String::new();
    let mut node: Option<&(&str, &str, &str)> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            node = None;
        }
        if let Some(name) = t.strip_prefix("name = ") {
            node = LABELS.iter().find(|(n, _, _)| toml_str(n) == name.trim());
        }
        match node {
            Some((_, dc, region)) if t.starts_with("datacenter = ") => {
                out.push_str(&format!(
                    "datacenter = {}\nregion = {}\n",
                    toml_str(dc),
                    toml_str(region)
                ));
            }
            Some(_) if t.starts_with("region = ") => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// The node that answered one read.
fn who(c: &mut SqlClient) -> Result<String, String> {
    let out = c.simple(&format!("SELECT {WHO}"));
    out.scalar()
        .map(str::to_string)
        .ok_or_else(|| out.to_string())
}

/// Nodes answering `n` reads of a fresh session at `level`.
fn answers(proxy: &ProxyProc, level: &str, n: usize) -> Result<BTreeSet<String>, String> {
    let mut c = proxy.try_connect(&ConnectOpts::default())?;
    let set = c.simple(&format!("SET rustydb.consistency = {level}"));
    if !set.is_ok() {
        return Err(format!("SET: {set}"));
    }
    (0..n).map(|_| who(&mut c)).collect()
}

/// No read at `level` lands on a replica outside `want` (the primary may
/// serve one while a replica is briefly banned on this shared machine),
/// and eventually the answers are exactly `want`.
fn check_level(proxy: &ProxyProc, level: &str, want: &[&str]) -> Result<(), String> {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    let mut allowed = want.clone();
    allowed.insert(PRIMARY.to_string());
    wait_until(
        &format!("{level} reads answered by {want:?}"),
        CONVERGE,
        || {
            let got = answers(proxy, level, 12)?;
            if !got.is_subset(&allowed) {
                // Never tolerated: a replica the level excludes answered.
                return Ok(Err(format!(
                    "{level}: answered by {got:?}, allowed {want:?}"
                )));
            }
            if got == want {
                Ok(Ok(()))
            } else {
                Err(format!("answered by {got:?}"))
            }
        },
    )?
}

#[test]
fn levels_route_by_datacenter_and_region() {
    let mut cluster = ManagedCluster::start("async", "CREATE TABLE c (id bigint PRIMARY KEY)");
    relabel(&mut cluster);
    let primary = cluster
        .wait_primary(|_| true, BOUND)
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.describe()));
    assert_eq!(
        primary, PRIMARY,
        "the managers moved the primary while relabelling"
    );
    let managers: Vec<String> = cluster
        .managers
        .iter()
        .map(|m| format!("http://127.0.0.1:{}", m.api_port))
        .collect();
    // A: datacenter only (its region comes from the topology).
    let a = ProxyProc::start(ProxySpec::dynamic(&managers).set("datacenter", "\"dc1\""));
    let b = ProxyProc::start(
        ProxySpec::dynamic(&managers)
            .set("datacenter", "\"dc3\"")
            .set("region", "\"r2\""),
    );
    let mut f = Failures::default();
    // Both replicas serving reads through A before anything is asserted.
    f.check("global on A", check_level(&a, "global", &["n2", "n3"]));
    f.check(
        "local on A: no replica in dc1, the primary",
        check_level(&a, "local", &[PRIMARY]),
    );
    f.check(
        "regional on A: r1's replica",
        check_level(&a, "regional", &["n2"]),
    );
    f.check("local on B", check_level(&b, "local", &["n3"]));
    f.check("regional on B", check_level(&b, "regional", &["n3"]));
    f.check("global on B", check_level(&b, "global", &["n2", "n3"]));

    // strong: a session reads its own writes wherever the read runs.
    let r = (|| {
        let mut w = a.try_connect(&ConnectOpts {
            options: Some("-c rustydb.consistency=strong".into()),
            ..ConnectOpts::default()
        })?;
        let level = w.simple("SHOW rustydb.consistency");
        if level.scalar() != Some("strong") {
            return Err(format!("SHOW after startup option: {level}"));
        }
        let mut by = BTreeSet::new();
        for id in 1..=30 {
            let ins = w.simple(&format!("INSERT INTO c VALUES ({id})"));
            if !ins.is_ok() {
                return Err(format!("INSERT {id}: {ins}"));
            }
            let out = w.simple(&format!("SELECT {WHO}, count(*) FROM c WHERE id = {id}"));
            let row = out.rows().first().cloned().ok_or_else(|| out.to_string())?;
            let node = row.first().cloned().flatten().unwrap_or_default();
            if row.get(1).cloned().flatten().as_deref() != Some("1") {
                return Err(format!(
                    "write {id} not visible to the next read on {node}: {out}"
                ));
            }
            by.insert(node);
        }
        eprintln!("strong reads right after each write answered by {by:?}");
        // Not just "always the primary": once a replica has applied the
        // last commit (the proxy's probe sees it), strong reads use it.
        wait_until("a strong read on a replica", CONVERGE, || {
            let out = w.simple(&format!("SELECT {WHO}, count(*) FROM c WHERE id = 30"));
            let row = out.rows().first().cloned().ok_or_else(|| out.to_string())?;
            let node = row.first().cloned().flatten().unwrap_or_default();
            let n = row.get(1).cloned().flatten().unwrap_or_default();
            if n != "1" {
                return Ok(Err(format!("stale strong read on {node}: {out}")));
            }
            if node == PRIMARY {
                return Err("still on the primary".to_string());
            }
            Ok(Ok(()))
        })?
    })();
    f.check("strong reads its writes across sites", r);
    f.assert_none(&format!(
        "proxy A log:\n{}\nproxy B log:\n{}",
        a.log_tail(3000),
        b.log_tail(3000)
    ));
}

fn show(c: &mut SqlClient) -> String {
    let out = c.simple("SHOW rustydb.consistency");
    out.scalar()
        .map(str::to_string)
        .unwrap_or_else(|| out.to_string())
}

fn expect(what: &str, got: &str, want: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// SET / SHOW / RESET / errors / startup / service default.
fn session_commands(proxy: &ProxyProc, f: &mut Failures) {
    let mut c = proxy.client();
    let r = (|| {
        expect("default", &show(&mut c), "global")?;
        c.must("SET rustydb.consistency = strong");
        expect("after SET", &show(&mut c), "strong")?;
        c.must("SET SESSION rustydb.consistency TO 'local'");
        expect("after SET SESSION", &show(&mut c), "local")?;
        match c.simple("SET rustydb.consistency = 'eventual'") {
            Outcome::Error { code, message } if code == "22023" => expect(
                "error message",
                &message,
                "invalid value for parameter \"rustydb.consistency\": \"eventual\"",
            )?,
            other => return Err(format!("bad value: {other}")),
        }
        expect("after a bad value the level stays", &show(&mut c), "local")?;
        c.must("RESET rustydb.consistency");
        expect("after RESET", &show(&mut c), "global")?;
        c.must("SET rustydb.consistency = regional");
        c.must("RESET ALL");
        expect("after RESET ALL", &show(&mut c), "global")?;
        Ok(())
    })();
    f.check("SET, SHOW, RESET and 22023", r);

    // Through a backend: the extended protocol (drivers) and a
    // multi-statement text.
    let mut c = proxy.client();
    let r = (|| {
        match c.prepared("SET rustydb.consistency = strong", &[]) {
            rustydb_tests::extended::ExtOutcome::Ok { .. } => {}
            other => return Err(format!("extended SET: {other}")),
        }
        expect("after an extended-protocol SET", &show(&mut c), "strong")?;
        c.must("SET rustydb.consistency = regional; SELECT 1");
        expect("after a multi-statement SET", &show(&mut c), "regional")?;
        match c.prepared("RESET rustydb.consistency", &[]) {
            rustydb_tests::extended::ExtOutcome::Ok { .. } => {}
            other => return Err(format!("extended RESET: {other}")),
        }
        expect("after an extended-protocol RESET", &show(&mut c), "global")
    })();
    f.check("SET and RESET through the backend", r);

    let r = (|| {
        let opts = ConnectOpts {
            options: Some("-c rustydb.consistency=strong -c application_name=cons".into()),
            ..ConnectOpts::default()
        };
        let mut c = proxy.try_connect(&opts)?;
        expect("startup option", &show(&mut c), "strong")?;
        c.must("SET rustydb.consistency = local");
        c.must("RESET rustydb.consistency");
        expect(
            "RESET returns to the startup value",
            &show(&mut c),
            "strong",
        )?;
        let bad = ConnectOpts {
            options: Some("-c rustydb.consistency=fast".into()),
            ..ConnectOpts::default()
        };
        match proxy.try_connect(&bad) {
            Err(e) if e.contains("22023") && e.contains("\"fast\"") => Ok(()),
            Err(e) => Err(format!("bad startup value: {e}")),
            Ok(_) => Err("bad startup value accepted".into()),
        }
    })();
    f.check("startup option and its FATAL 22023", r);

    let r = (|| {
        let mut c = proxy.try_connect(&ConnectOpts::service("olap"))?;
        expect("service olap's default", &show(&mut c), "strong")?;
        let conninfo = format!(
            "host=127.0.0.1 port={} user=postgres dbname=rustydb",
            proxy.port()
        );
        let out = proxy.psql(&conninfo, "SHOW SERVICES", None);
        let olap = out.stdout.lines().find(|l| l.starts_with("olap|"));
        match olap {
            Some(row) if out.success && row.split('|').any(|c| c == "strong") => Ok(()),
            _ => Err(format!("SHOW SERVICES: {out:?}")),
        }
    })();
    f.check("service default and SHOW SERVICES", r);
}

#[test]
fn session_levels_and_strong_read_your_writes_postgres() {
    // The standby applies commits 2 s late (see `postgres_lagging_ryw`).
    let (fleet, primary, replica) = Fleet::postgres_lagging_ryw();
    // read_your_writes off: only `strong` keeps the writer fresh.
    let proxy = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs())
            .set("routing.read_your_writes", "false")
            .raw("[services.olap]\nconsistency = \"strong\""),
    );
    let dc1 = ProxyProc::start(ProxySpec::static_(&fleet.addrs()).set("datacenter", "\"dc1\""));
    for p in [&proxy, &dc1] {
        if let Err(e) = wait_replicas(&fleet, p, &ConnectOpts::default(), 1) {
            panic!("{e}\nproxy log:\n{}", p.log_tail(4000));
        }
    }
    let mut f = Failures::default();
    session_commands(&proxy, &mut f);

    let mut strong = proxy.client();
    strong.must("SET rustydb.consistency = strong");
    let mut global = proxy.client();
    for round in 1..=3 {
        let r = (|| {
            strong.must(&format!("INSERT INTO ryw VALUES ({round})"));
            let (who, n) = fleet.read_ryw_row(&mut strong, round)?;
            if n != "1" || who != primary {
                return Err(format!("strong read answered by {who} with count {n}"));
            }
            let id = 100 + round;
            global.must(&format!("INSERT INTO ryw VALUES ({id})"));
            let (who, n) = fleet.read_ryw_row(&mut global, id)?;
            if who != replica || n != "0" {
                return Err(format!("global read answered by {who} with count {n}"));
            }
            Ok(())
        })();
        f.check(
            &format!("round {round}: strong on the primary, global stale"),
            r,
        );
    }
    let r = wait_until("strong reads back on the standby", CONVERGE, || match fleet
        .read_ryw_row(&mut strong, 3)?
    {
        (who, n) if who == replica && n == "1" => Ok(()),
        other => Err(format!("{other:?}")),
    });
    f.check(
        "strong returns to the standby once it applied the commit",
        r,
    );

    // Unlabelled backends: everything is local to an unlabelled proxy,
    // nothing to a proxy in dc1.
    for (p, level, want) in [
        (&proxy, "local", &replica),
        (&proxy, "regional", &replica),
        (&dc1, "local", &primary),
        (&dc1, "regional", &primary),
        (&dc1, "global", &replica),
    ] {
        let r = (|| {
            let mut c = p.client();
            c.must(&format!("SET rustydb.consistency = {level}"));
            for _ in 0..4 {
                let who = fleet.ask(&mut c, "SELECT {who}")?;
                if who != *want {
                    return Err(format!("answered by {who}"));
                }
            }
            Ok(())
        })();
        let which = if std::ptr::eq(p, &dc1) {
            "dc1"
        } else {
            "unlabelled"
        };
        f.check(&format!("{level} on the {which} proxy reads {want}"), r);
    }

    let r = proxy.metrics().and_then(|m| {
        let line = m
            .lines()
            .find(|l| {
                l.starts_with("rustydb_proxy_consistency_reads_total")
                    && l.contains("level=\"strong\"")
                    && l.contains("route=\"primary\"")
            })
            .ok_or_else(|| "no strong/primary series".to_string())?;
        let n: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if n >= 3.0 {
            Ok(())
        } else {
            Err(line.to_string())
        }
    });
    f.check("metrics count reads by level", r);
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}
