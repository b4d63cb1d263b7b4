//! The PostgreSQL 15 streaming cluster the proxy tests stand on
//! (`rustydb_tests::pg`), proven on its own: two hot standbys made by
//! `pg_basebackup -R` stream and replay the primary's writes, refuse writes
//! (`25006`), name themselves (`rustydb.node_name`, `inet_server_port()`),
//! and a promoted standby takes writes that the other, re-pointed, replays.

use rustydb_tests::pg::PgCluster;

#[test]
fn streaming_cluster_replays_promotes_and_follows() {
    let mut c = PgCluster::start(2);
    let mut p = c.primary().connect();
    p.must("CREATE TABLE h (id int PRIMARY KEY)");
    p.must("INSERT INTO h SELECT generate_series(1, 100)");
    for i in 1..=2 {
        c.wait_replayed(i, 0);
        let mut r = c.node(i).connect();
        assert_eq!(r.scalar("SELECT count(*) FROM h").as_deref(), Some("100"));
        assert_eq!(r.scalar("SELECT pg_is_in_recovery()").as_deref(), Some("t"));
        assert_eq!(
            r.scalar("SHOW rustydb.node_name").as_deref(),
            Some(format!("pg{i}").as_str())
        );
        assert_eq!(
            r.scalar("SELECT inet_server_port()").as_deref(),
            Some(c.node(i).port.to_string().as_str())
        );
        assert_eq!(r.simple("INSERT INTO h VALUES (0)").code(), Some("25006"));
    }
    // Fail over by hand: pg1 becomes the primary, pg2 follows it.
    c.kill(0);
    c.promote(1);
    c.follow(2, 1);
    let mut p1 = c.node(1).connect();
    p1.must("INSERT INTO h VALUES (101)");
    c.wait_streaming(1, 1);
    c.wait_replayed(2, 1);
    let mut r2 = c.node(2).connect();
    assert_eq!(r2.scalar("SELECT count(*) FROM h").as_deref(), Some("101"));
}
