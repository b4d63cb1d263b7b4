//! Consistency levels: the statement parser, the proxy's site, and the
//! router's choice per level over a hand-built three-site topology:
//!
//! ```text
//!  p  primary  dc1 / r1   lsn 1000
//!  a  replica  dc1 / r1   lsn 1000
//!  b  replica  dc2 / r1   lsn  900
//!  c  replica  dc3 / r2   lsn 1000
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use rustydb_sql::classify::classify;

use super::ConsistencyCommand as C;
use super::*;
use crate::config::ReadPolicy;
use crate::routing::{Route, RouteRequest, RouteTarget, Router};
use crate::topology::Role;

fn backend(id: &str, role: Role, dc: &str, region: &str, lsn: u64) -> BackendInfo {
    BackendInfo {
        id: id.to_string(),
        addr: format!("{id}.local:5432"),
        role,
        datacenter: dc.to_string(),
        region: region.to_string(),
        tags: Vec::new(),
        noloadbalance: false,
        healthy: true,
        banned: false,
        replay_lsn: Some(lsn),
        lag_bytes: Some(0),
        lag_ms: Some(0.0),
        sync: false,
    }
}

fn three_sites() -> TopologySnapshot {
    TopologySnapshot {
        version: 1,
        backends: vec![
            backend("p", Role::Primary, "dc1", "r1", 1000),
            backend("a", Role::Replica, "dc1", "r1", 1000),
            backend("b", Role::Replica, "dc2", "r1", 900),
            backend("c", Role::Replica, "dc3", "r2", 1000),
        ],
    }
}

fn router(dc: &str, region: &str, edit: impl FnOnce(&mut ProxyConfig)) -> Router {
    let mut c = ProxyConfig {
        backends: vec!["p.local:5432".into()],
        datacenter: dc.to_string(),
        region: region.to_string(),
        ..ProxyConfig::default()
    };
    edit(&mut c);
    Router::new(Arc::new(c))
}

fn route(
    r: &Router,
    t: &TopologySnapshot,
    level: Consistency,
    min_lsn: Option<u64>,
    sql: &str,
) -> Route {
    let class = classify(sql);
    let req = RouteRequest {
        service: "oltp",
        class: &class,
        client_ip: "192.0.2.1".parse().unwrap(),
        min_lsn,
        consistency: level,
    };
    r.route(&req, t, &()).unwrap()
}

/// Every backend `level` sends a read to, over enough picks to see them all.
fn targets(
    r: &Router,
    t: &TopologySnapshot,
    level: Consistency,
    min_lsn: Option<u64>,
) -> BTreeSet<String> {
    (0..12)
        .map(|_| match route(r, t, level, min_lsn, "SELECT 1").target {
            RouteTarget::Primary => "p".to_string(),
            RouteTarget::Replica(id) => id,
        })
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_level_picks_its_replicas() {
    let t = three_sites();
    // The proxy in dc2 (region r1 given).
    let r = router("dc2", "r1", |_| {});
    assert_eq!(targets(&r, &t, Consistency::Local, None), set(&["b"]));
    assert_eq!(
        targets(&r, &t, Consistency::Regional, None),
        set(&["a", "b"])
    );
    assert_eq!(
        targets(&r, &t, Consistency::Global, None),
        set(&["a", "b", "c"])
    );
    assert_eq!(
        targets(&r, &t, Consistency::Strong, None),
        set(&["a", "b", "c"]),
        "no commit yet: every replica has applied it"
    );
    // The proxy in dc3: local and regional are c alone.
    let r = router("dc3", "r2", |_| {});
    assert_eq!(targets(&r, &t, Consistency::Local, None), set(&["c"]));
    assert_eq!(targets(&r, &t, Consistency::Regional, None), set(&["c"]));
}

#[test]
fn strong_reads_only_where_the_last_commit_is() {
    let t = three_sites();
    // read_your_writes off: only `strong` applies the floor.
    let r = router("dc2", "r1", |c| c.routing.read_your_writes = false);
    assert_eq!(
        targets(&r, &t, Consistency::Strong, Some(950)),
        set(&["a", "c"]),
        "b (lsn 900) has not applied 950"
    );
    assert_eq!(
        targets(&r, &t, Consistency::Global, Some(950)),
        set(&["a", "b", "c"])
    );
    // Nobody has applied 2000: the primary, labelled read_your_writes.
    let got = route(&r, &t, Consistency::Strong, Some(2000), "SELECT 1");
    assert_eq!(got.target, RouteTarget::Primary);
    assert_eq!(got.reason, "read_your_writes");
    // Writes go to the primary at every level.
    for level in Consistency::ALL {
        let got = route(&r, &t, level, None, "INSERT INTO t VALUES (1)");
        assert_eq!((got.target, got.reason), (RouteTarget::Primary, "write"));
    }
}

#[test]
fn no_replica_at_the_level_falls_back_to_the_primary() {
    let t = three_sites();
    // A proxy in a datacenter with no node: local has nothing.
    let r = router("dc9", "r2", |_| {});
    let got = route(&r, &t, Consistency::Local, None, "SELECT 1");
    assert_eq!(
        (got.target, got.reason),
        (RouteTarget::Primary, "consistency")
    );
    assert_eq!(targets(&r, &t, Consistency::Regional, None), set(&["c"]));
    // Local plus the service's read-your-writes floor: a local replica
    // behind the floor sends the read to the primary too.
    let r = router("dc2", "r1", |_| {});
    let got = route(&r, &t, Consistency::Local, Some(950), "SELECT 1");
    assert_eq!(
        (got.target, got.reason),
        (RouteTarget::Primary, "read_your_writes")
    );
    // Without primary fallback, a level with no replica is 57P03.
    let r = router("dc9", "", |c| {
        c.routing.primary_reads_when_no_replica = false
    });
    let class = classify("SELECT 1");
    let req = RouteRequest {
        service: "oltp",
        class: &class,
        client_ip: "192.0.2.1".parse().unwrap(),
        min_lsn: None,
        consistency: Consistency::Local,
    };
    assert_eq!(r.route(&req, &t, &()).unwrap_err().sqlstate(), "57P03");
}

#[test]
fn policy_any_adds_the_primary_only_where_the_level_allows() {
    let t = three_sites();
    let any = |c: &mut ProxyConfig| c.routing.read_policy = ReadPolicy::Any;
    let r = router("dc2", "r1", any);
    assert_eq!(targets(&r, &t, Consistency::Local, None), set(&["b"]));
    assert_eq!(
        targets(&r, &t, Consistency::Regional, None),
        set(&["a", "b", "p"])
    );
    let r = router("dc1", "r1", any);
    assert_eq!(targets(&r, &t, Consistency::Local, None), set(&["a", "p"]));
}

#[test]
fn region_is_learned_from_the_topology_and_labels_match_exactly() {
    let t = three_sites();
    let config = |dc: &str, region: &str| ProxyConfig {
        datacenter: dc.into(),
        region: region.into(),
        ..ProxyConfig::default()
    };
    assert_eq!(Site::of(&config("dc2", ""), &t).region, "r1");
    assert_eq!(Site::of(&config("dc2", "eu"), &t).region, "eu");
    assert_eq!(Site::of(&config("dc9", ""), &t).region, "");
    // Region learned: regional works with only `datacenter` configured.
    let r = router("dc3", "", |_| {});
    assert_eq!(targets(&r, &t, Consistency::Regional, None), set(&["c"]));
    // Static mode: unlabelled backends are local to an unlabelled proxy,
    // and to no labelled one.
    let mut unlabelled = three_sites();
    for b in &mut unlabelled.backends {
        b.datacenter.clear();
        b.region.clear();
    }
    let r = router("", "", |_| {});
    for level in [Consistency::Local, Consistency::Regional] {
        assert_eq!(targets(&r, &unlabelled, level, None), set(&["a", "b", "c"]));
    }
    let r = router("dc1", "r1", |_| {});
    assert_eq!(
        targets(&r, &unlabelled, Consistency::Local, None),
        set(&["p"])
    );
    assert_eq!(
        targets(&r, &unlabelled, Consistency::Regional, None),
        set(&["p"])
    );
    assert_eq!(
        targets(&r, &unlabelled, Consistency::Global, None),
        set(&["a", "b", "c"])
    );
}

#[test]
fn levels_parse_and_print() {
    for level in Consistency::ALL {
        assert_eq!(level.to_string().parse::<Consistency>(), Ok(level));
    }
    assert_eq!("STRONG".parse::<Consistency>(), Ok(Consistency::Strong));
    assert!("eventual".parse::<Consistency>().is_err());
    assert_eq!(Consistency::default(), Consistency::Global);
    let t: toml::Value = toml::from_str("a = \"regional\"").unwrap();
    let a: Consistency = t["a"].clone().try_into().unwrap();
    assert_eq!(a, Consistency::Regional);
    assert_eq!(
        invalid_value_message("x"),
        "invalid value for parameter \"rustydb.consistency\": \"x\""
    );
    assert_eq!(
        available_values_hint(),
        "Available values: local, regional, global, strong."
    );
}

#[test]
fn set_show_reset_are_recognised() {
    let strong = C::Set(Some(Consistency::Strong));
    for sql in [
        "SET rustydb.consistency = strong",
        "set rustydb.consistency to 'strong';",
        "SET rustydb.consistency='strong'",
        "SET rustydb.consistency =strong",
        "SET SESSION rustydb.consistency TO STRONG",
        "SET \"rustydb.consistency\" = \"strong\"",
        "  SET   RustyDB.Consistency   =   strong ;  ",
    ] {
        assert_eq!(consistency_command(sql), Some(strong.clone()), "{sql}");
    }
    assert_eq!(
        consistency_command("SET rustydb.consistency TO DEFAULT"),
        Some(C::Set(None))
    );
    assert_eq!(
        consistency_command("SET rustydb.consistency = 'default'"),
        Some(C::Invalid("default".into()))
    );
    assert_eq!(
        consistency_command("SET rustydb.consistency = Eventual"),
        Some(C::Invalid("eventual".into())),
        "unquoted words fold to lower case, as in PostgreSQL"
    );
    assert_eq!(
        consistency_command("SET rustydb.consistency = 'Eventual'"),
        Some(C::Invalid("Eventual".into()))
    );
    assert_eq!(
        consistency_command("RESET rustydb.consistency"),
        Some(C::Reset)
    );
    assert_eq!(
        consistency_command("show RUSTYDB.CONSISTENCY;"),
        Some(C::Show)
    );
    for other in [
        "SET LOCAL rustydb.consistency = strong",
        "SET rustydb.consistency = strong; SELECT 1",
        "SET rustydb.service = olap",
        "SHOW rustydb.consistency, x",
        "SELECT 1",
        "SET rustydb.consistency",
        "RESET",
    ] {
        assert_eq!(consistency_command(other), None, "{other}");
    }
}

#[test]
fn startup_packets_choose_a_level() {
    use std::collections::HashMap;
    let params = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        startup_consistency(&params(&[("user", "u")])).unwrap(),
        None
    );
    for options in [
        "-c rustydb.consistency=strong",
        "-crustydb.consistency=Strong",
        "--rustydb.consistency=strong",
        "-c rustydb.consistency=local -c rustydb.service=olap -c RUSTYDB.CONSISTENCY=strong",
    ] {
        let got = startup_consistency(&params(&[("options", options)])).unwrap();
        assert_eq!(got, Some(Consistency::Strong), "{options}");
    }
    let got = startup_consistency(&params(&[("rustydb.consistency", "regional")])).unwrap();
    assert_eq!(got, Some(Consistency::Regional));
    let err =
        startup_consistency(&params(&[("options", "-c rustydb.consistency=fast")])).unwrap_err();
    assert_eq!(err.sqlstate(), "22023");
    assert!(err.is_fatal());
    assert_eq!(
        err.to_string(),
        "invalid value for parameter \"rustydb.consistency\": \"fast\""
    );
}

#[test]
fn services_and_the_top_level_set_the_default() {
    let c = ProxyConfig::parse(
        "backends = [\"a:1\"]\ndatacenter = \"dc1\"\nregion = \"eu\"\n\
         [routing]\nconsistency = \"regional\"\n\
         [services.near]\nconsistency = \"local\"\n\
         [services.olap]\nconsistency = \"strong\"",
    )
    .unwrap();
    assert_eq!((c.datacenter.as_str(), c.region.as_str()), ("dc1", "eu"));
    assert_eq!(c.consistency_of("near"), Consistency::Local);
    assert_eq!(c.consistency_of("olap"), Consistency::Strong);
    assert_eq!(c.consistency_of("oltp"), Consistency::Regional);
    assert_eq!(
        c.services["olap"].max_lag_ms,
        Some(60_000),
        "built-in keys kept"
    );
    assert!(
        ProxyConfig::parse("backends = [\"a:1\"]\n[routing]\nconsistency = \"eventual\"").is_err()
    );
    let d = ProxyConfig::parse("backends = [\"a:1\"]").unwrap();
    assert_eq!(d.consistency_of("oltp"), Consistency::Global);
    assert_eq!(d.consistency_of("batch"), Consistency::Global);
}
