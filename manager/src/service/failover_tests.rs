//! Candidate choice without a cluster.

use std::time::{Duration, Instant};

use super::*;
use crate::raft::{NodeInfo, Role};
use crate::service::client::NodeStatus;
use crate::service::health::HealthTable;

fn node(name: &str, prio: i32, nofailover: bool) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        pgwire_addr: format!("{name}:5433"),
        admin_addr: format!("{name}:8433"),
        datacenter: String::new(),
        nofailover,
        noloadbalance: false,
        failover_priority: prio,
        role: Role::Replica,
    }
}

fn setup(lsns: &[(&str, u64, i32, bool)]) -> (ClusterState, HealthTable, Instant) {
    let now = Instant::now();
    let mut state = ClusterState::default();
    let mut health = HealthTable::default();
    state.nodes.insert("p".into(), node("p", 0, false));
    state.primary = Some("p".into());
    for (name, lsn, prio, nofail) in lsns {
        state
            .nodes
            .insert((*name).into(), node(name, *prio, *nofail));
        let obs = health.entry(name, now, Duration::from_millis(100));
        obs.status = Some(NodeStatus {
            role: Some("replica".into()),
            lsn_number: Some(*lsn),
            ..NodeStatus::default()
        });
    }
    (state, health, now)
}

#[test]
fn highest_lsn_wins_then_priority_then_name() {
    let (state, health, now) = setup(&[
        ("a", 10, 0, false),
        ("b", 12, 0, false),
        ("c", 12, 5, false),
    ]);
    let c = choose_candidate(&state, &health, Some(12), now);
    assert_eq!(c.map(|c| c.name), Ok("c".to_string()));
    let (state, health, now) = setup(&[("b", 12, 0, false), ("a", 12, 0, false)]);
    let c = choose_candidate(&state, &health, Some(12), now);
    assert_eq!(c.map(|c| c.name), Ok("a".to_string()));
}

#[test]
fn nofailover_and_lag_exclude() {
    let (mut state, health, now) = setup(&[("a", 100, 0, true), ("b", 1, 0, false)]);
    state.config.maximum_lag_on_failover = 10 * RECORD_BYTES;
    // a is excluded by nofailover, b by lag (99 records behind).
    assert!(choose_candidate(&state, &health, Some(100), now).is_err());
    state.config.maximum_lag_on_failover = 1000 * RECORD_BYTES;
    let c = choose_candidate(&state, &health, Some(100), now);
    assert_eq!(c.map(|c| c.name), Ok("b".to_string()));
}

#[test]
fn sync_mode_needs_sync_set_or_caught_up() {
    let (mut state, health, now) = setup(&[("a", 50, 0, false), ("b", 40, 0, false)]);
    state.config.replication_mode = CommitMode::Sync;
    state.sync_set = vec!["b".into()];
    // a is ahead of b but neither in the set nor caught up with 60.
    let c = choose_candidate(&state, &health, Some(60), now);
    assert_eq!(c.map(|c| c.name), Ok("b".to_string()));
    state.sync_set.clear();
    assert!(choose_candidate(&state, &health, Some(60), now).is_err());
    let c = choose_candidate(&state, &health, Some(50), now);
    assert_eq!(c.map(|c| c.name), Ok("a".to_string()));
}
