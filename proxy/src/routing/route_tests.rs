//! Router tests: the decision table, eligibility, preferences, policies,
//! fallbacks and errors, over hand-built topology snapshots.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use rustydb_sql::classify::{classify, Classification};

use super::*;
use crate::topology::BackendId;

fn backend(id: &str, role: Role) -> BackendInfo {
    BackendInfo {
        id: id.to_string(),
        addr: format!("{id}.local:5432"),
        role,
        datacenter: "dc1".to_string(),
        region: "r1".to_string(),
        tags: Vec::new(),
        noloadbalance: false,
        healthy: true,
        banned: false,
        replay_lsn: Some(1_000),
        lag_bytes: Some(0),
        lag_ms: Some(0.0),
        sync: false,
    }
}

/// A primary `p` and replicas `r1..=rn`.
fn topo(replicas: usize) -> TopologySnapshot {
    let mut backends = vec![backend("p", Role::Primary)];
    for i in 1..=replicas {
        backends.push(backend(&format!("r{i}"), Role::Replica));
    }
    TopologySnapshot {
        version: 1,
        backends,
    }
}

fn config(edit: impl FnOnce(&mut ProxyConfig)) -> Arc<ProxyConfig> {
    let mut c = ProxyConfig {
        backends: vec!["p.local:5432".into()],
        ..ProxyConfig::default()
    };
    edit(&mut c);
    Arc::new(c)
}

fn ip() -> IpAddr {
    "192.0.2.7".parse().unwrap()
}

fn route_with(
    router: &Router,
    service: &str,
    sql: &str,
    min_lsn: Option<u64>,
    t: &TopologySnapshot,
) -> Result<Route> {
    let class: Classification = classify(sql);
    let req = RouteRequest {
        service,
        class: &class,
        client_ip: ip(),
        min_lsn,
        consistency: crate::routing::Consistency::Global,
    };
    router.route(&req, t, &())
}

fn target(router: &Router, sql: &str, t: &TopologySnapshot) -> RouteTarget {
    route_with(router, "oltp", sql, None, t).unwrap().target
}

fn replica(id: &str) -> RouteTarget {
    RouteTarget::Replica(id.to_string())
}

#[test]
fn writes_go_to_the_primary_reads_to_replicas() {
    let router = Router::new(config(|_| {}));
    let t = topo(2);
    for sql in [
        "INSERT INTO t VALUES (1)",
        "SELECT nextval('s')",
        "BEGIN",
        "SELECT 1 FOR UPDATE",
        "garbage !",
    ] {
        let r = route_with(&router, "oltp", sql, None, &t).unwrap();
        assert_eq!(r.target, RouteTarget::Primary, "{sql}");
        assert_eq!(r.reason, reason::WRITE);
    }
    let r = route_with(&router, "oltp", "SELECT 1", None, &t).unwrap();
    assert!(matches!(r.target, RouteTarget::Replica(_)));
    assert_eq!((r.reason, r.read_only), (reason::READ, true));
    assert!(matches!(
        target(&router, "BEGIN READ ONLY", &t),
        RouteTarget::Replica(_)
    ));
}

#[test]
fn hints() {
    let router = Router::new(config(|_| {}));
    let t = topo(1);
    let r = route_with(&router, "oltp", "/* rustydb:primary */ SELECT 1", None, &t).unwrap();
    assert_eq!(
        (r.target, r.reason, r.read_only),
        (RouteTarget::Primary, reason::HINT, true)
    );
    let r = route_with(
        &router,
        "oltp",
        "SELECT my_writer() /* rustydb:replica */ FOR UPDATE",
        None,
        &t,
    )
    .unwrap();
    assert_eq!(
        (r.target, r.reason, r.read_only),
        (replica("r1"), reason::HINT, false)
    );
    // A replica hint cannot move a session effect.
    assert_eq!(
        target(&router, "/* rustydb:replica */ LISTEN ch", &t),
        RouteTarget::Primary
    );
}

#[test]
fn round_robin_skips_ineligible_replicas() {
    let router = Router::new(config(|c| c.routing.max_lag_bytes = 1_000));
    let mut t = topo(6);
    t.backends[2].banned = true; // r2
    t.backends[3].healthy = false; // r3
    t.backends[4].noloadbalance = true; // r4
    t.backends[5].lag_bytes = Some(5_000); // r5 too far behind
    t.backends[6].lag_bytes = None; // r6 unknown lag: eligible
    t.backends.push(backend("u", Role::Unknown));
    let mut seen: BTreeMap<RouteTarget, usize> = BTreeMap::new();
    for _ in 0..100 {
        *seen.entry(target(&router, "SELECT 1", &t)).or_default() += 1;
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec![(replica("r1"), 50), (replica("r6"), 50)]
    );
}

#[test]
fn lag_limits_per_service_and_zero_disables() {
    let router = Router::new(config(|c| {
        c.routing.max_lag_ms = 100;
        c.services.get_mut("olap").unwrap().max_lag_ms = Some(60_000);
    }));
    let mut t = topo(1);
    t.backends[1].lag_ms = Some(5_000.0);
    let r = route_with(&router, "oltp", "SELECT 1", None, &t).unwrap();
    assert_eq!(
        (r.target, r.reason),
        (RouteTarget::Primary, reason::NO_REPLICA)
    );
    assert_eq!(
        route_with(&router, "olap", "SELECT 1", None, &t)
            .unwrap()
            .target,
        replica("r1")
    );
    let router = Router::new(config(|c| {
        c.routing.max_lag_ms = 0;
        c.routing.max_lag_bytes = 0;
    }));
    t.backends[1].lag_bytes = Some(u64::MAX);
    assert_eq!(target(&router, "SELECT 1", &t), replica("r1"));
}

#[test]
fn read_your_writes_floor() {
    let router = Router::new(config(|_| {}));
    let mut t = topo(2);
    t.backends[1].replay_lsn = Some(500);
    t.backends[2].replay_lsn = Some(900);
    for _ in 0..4 {
        let r = route_with(&router, "oltp", "SELECT 1", Some(900), &t).unwrap();
        assert_eq!(r.target, replica("r2"), "only r2 has replayed 900");
    }
    let r = route_with(&router, "oltp", "SELECT 1", Some(901), &t).unwrap();
    assert_eq!(
        (r.target, r.reason),
        (RouteTarget::Primary, reason::READ_YOUR_WRITES)
    );
    t.backends[2].replay_lsn = None;
    let r = route_with(&router, "oltp", "SELECT 1", Some(1), &t).unwrap();
    assert_eq!(
        r.target,
        replica("r1"),
        "unknown replay LSN cannot prove the floor"
    );
    // Even with primary reads disallowed, the floor falls back to the primary.
    let router = Router::new(config(|c| c.routing.primary_reads_when_no_replica = false));
    let r = route_with(&router, "oltp", "SELECT 1", Some(10_000), &t).unwrap();
    assert_eq!(r.reason, reason::READ_YOUR_WRITES);
    // Read-your-writes off for the service: the floor is ignored.
    let router = Router::new(config(|c| {
        c.services.get_mut("oltp").unwrap().read_your_writes = Some(false)
    }));
    assert!(matches!(
        route_with(&router, "oltp", "SELECT 1", Some(10_000), &t)
            .unwrap()
            .target,
        RouteTarget::Replica(_)
    ));
}

#[test]
fn preferences_narrow_when_enough_are_eligible() {
    let router = Router::new(config(|c| {
        let s = c.services.get_mut("olap").unwrap();
        s.preferred_tags = vec!["analytics".into(), "dc2".into()];
        s.min_instances = 2;
        s.balance = Some(BalanceAlgorithm::RoundRobin);
    }));
    let mut t = topo(4);
    t.backends[1].tags = vec!["analytics".into()]; // r1
    t.backends[2].datacenter = "dc2".into(); // r2
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..10 {
        seen.insert(
            route_with(&router, "olap", "SELECT 1", None, &t)
                .unwrap()
                .target,
        );
    }
    assert_eq!(seen, [replica("r1"), replica("r2")].into());
    // One preferred left (< min_instances): the preference is dropped.
    t.backends[2].banned = true;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..10 {
        seen.insert(
            route_with(&router, "olap", "SELECT 1", None, &t)
                .unwrap()
                .target,
        );
    }
    assert_eq!(seen, [replica("r1"), replica("r3"), replica("r4")].into());
    // By node name or address, min_instances 0 counts as 1.
    let router = Router::new(config(|c| {
        let s = c.services.get_mut("oltp").unwrap();
        s.preferred_nodes = vec!["r3.local:5432".into()];
    }));
    for _ in 0..5 {
        assert_eq!(target(&router, "SELECT 1", &t), replica("r3"));
    }
}

#[test]
fn policies() {
    let t = topo(1);
    // batch is primary_only by default.
    let router = Router::new(config(|_| {}));
    let r = route_with(&router, "batch", "SELECT 1", None, &t).unwrap();
    assert_eq!(
        (r.target, r.reason),
        (RouteTarget::Primary, reason::PRIMARY_ONLY)
    );
    // Split off: everything on the primary.
    let router = Router::new(config(|c| c.routing.read_write_split = false));
    assert_eq!(
        route_with(&router, "oltp", "SELECT 1", None, &t)
            .unwrap()
            .reason,
        reason::SPLIT_OFF
    );
    // Any: reads spread over the primary and the replica.
    let router = Router::new(config(|c| {
        c.services.get_mut("oltp").unwrap().read_policy = Some(ReadPolicy::Any)
    }));
    let mut seen: BTreeMap<RouteTarget, usize> = BTreeMap::new();
    for _ in 0..10 {
        let r = route_with(&router, "oltp", "SELECT 1", None, &t).unwrap();
        if r.target == RouteTarget::Primary {
            assert_eq!(r.reason, reason::PRIMARY_READ);
        }
        *seen.entry(r.target).or_default() += 1;
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec![(RouteTarget::Primary, 5), (replica("r1"), 5)]
    );
    // Replica only: none eligible is an error, even with primary reads allowed.
    let router = Router::new(config(|c| c.routing.read_policy = ReadPolicy::ReplicaOnly));
    let err = route_with(&router, "oltp", "SELECT 1", None, &topo(0)).unwrap_err();
    assert_eq!(err.sqlstate(), "57P03");
    assert_eq!(err.to_string(), "no replica available for service \"oltp\"");
    assert!(!err.is_fatal());
    assert!(route_with(&router, "oltp", "INSERT INTO t VALUES (1)", None, &topo(0)).is_ok());
}

#[test]
fn fallback_to_primary_and_errors() {
    let router = Router::new(config(|_| {}));
    let r = route_with(&router, "oltp", "SELECT 1", None, &topo(0)).unwrap();
    assert_eq!(
        (r.target, r.reason),
        (RouteTarget::Primary, reason::NO_REPLICA)
    );
    let router = Router::new(config(|c| c.routing.primary_reads_when_no_replica = false));
    let err = route_with(&router, "oltp", "SELECT 1", None, &topo(0)).unwrap_err();
    assert_eq!(err.sqlstate(), "57P03");
    // No usable primary: writes fail cleanly, reads still use replicas.
    let mut t = topo(1);
    t.backends[0].banned = true;
    let err = route_with(&router, "oltp", "DELETE FROM t", None, &t).unwrap_err();
    assert_eq!(
        (err.sqlstate(), err.to_string().as_str()),
        ("57P03", "no primary available")
    );
    assert_eq!(target(&router, "SELECT 1", &t), replica("r1"));
    t.backends.remove(0);
    assert!(route_with(&router, "oltp", "BEGIN", None, &t).is_err());
    // An unknown service (removed by a reload) routes with the defaults.
    assert_eq!(
        route_with(&router, "gone", "SELECT 1", None, &t)
            .unwrap()
            .target,
        replica("r1")
    );
}

#[test]
fn least_connections_uses_the_pool_load() {
    let router = Router::new(config(|_| {}));
    let t = topo(3);
    let load: HashMap<BackendId, usize> = [
        ("r1".to_string(), 4),
        ("r2".to_string(), 0),
        ("r3".to_string(), 2),
    ]
    .into();
    let class = classify("SELECT 1");
    let req = RouteRequest {
        service: "olap",
        class: &class,
        client_ip: ip(),
        min_lsn: None,
        consistency: crate::routing::Consistency::Global,
    };
    for _ in 0..3 {
        assert_eq!(router.route(&req, &t, &load).unwrap().target, replica("r2"));
    }
}

#[test]
fn weighted_and_ip_hash_through_the_router() {
    let router = Router::new(config(|c| {
        c.routing.balance = BalanceAlgorithm::WeightedRoundRobin;
        c.routing.weights = [("r1".to_string(), 3), ("r2.local:5432".to_string(), 1)].into();
    }));
    let t = topo(2);
    let mut seen: BTreeMap<RouteTarget, usize> = BTreeMap::new();
    for _ in 0..400 {
        *seen.entry(target(&router, "SELECT 1", &t)).or_default() += 1;
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec![(replica("r1"), 300), (replica("r2"), 100)]
    );

    let router = Router::new(config(|c| c.routing.balance = BalanceAlgorithm::IpHash));
    let t = topo(3);
    let first = target(&router, "SELECT 1", &t);
    for _ in 0..10 {
        assert_eq!(
            target(&router, "SELECT 1", &t),
            first,
            "same client, same replica"
        );
    }
}

#[test]
fn reload_changes_the_policy() {
    let router = Router::new(config(|_| {}));
    let t = topo(1);
    assert_eq!(target(&router, "SELECT 1", &t), replica("r1"));
    router.reload(config(|c| c.routing.read_policy = ReadPolicy::PrimaryOnly));
    assert_eq!(target(&router, "SELECT 1", &t), RouteTarget::Primary);
    assert_eq!(router.config().routing.read_policy, ReadPolicy::PrimaryOnly);
}
