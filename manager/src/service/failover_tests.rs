//! Candidate choice without a cluster.

use std::time::{Duration, Instant};

use super::*;
use crate::raft::{NodeInfo, Role};
use crate::service::client::NodeStatus;
use crate::service::health::HealthTable;

fn node(name: &str, prio: i32, nofailover: bool) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        region: String::new(),
        pgwire_addr: format!("{name}:5433"),
        admin_addr: format!("{name}:8433"),
        datacenter: String::new(),
        nofailover,
        noloadbalance: false,
        failover_priority: prio,
        role: Role::Replica,
        drained: false,
        stopped: false,
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

fn set_timeline(health: &mut HealthTable, name: &str, timeline: u64) {
    if let Some(s) = health.nodes.get_mut(name).and_then(|o| o.status.as_mut()) {
        s.timeline = Some(timeline);
    }
}

#[test]
fn a_node_on_an_old_timeline_never_wins_on_lsn() {
    // a is far ahead by LSN but still on timeline 2 (a dead branch, e.g.
    // the pre-failover primary that has not been rewound); b is on the
    // cluster's timeline 3.
    let (mut state, mut health, now) = setup(&[("a", 500, 9, false), ("b", 100, 0, false)]);
    state.timeline = 3;
    state.config.maximum_lag_on_failover = u64::MAX;
    set_timeline(&mut health, "a", 2);
    set_timeline(&mut health, "b", 3);
    let c = choose_candidate(&state, &health, Some(100), now);
    assert_eq!(c.map(|c| c.name), Ok("b".to_string()));
    // Alone, a is refused rather than promoted with a dead branch.
    state.nodes.remove("b");
    health.nodes.remove("b");
    let why = choose_candidate(&state, &health, Some(100), now);
    assert!(
        why.as_ref().is_err_and(|w| w.contains("timeline 2")),
        "{why:?}"
    );
}

#[test]
fn timeline_ranks_before_lsn_and_the_node_reported_timeline_rules() {
    let (mut state, mut health, now) = setup(&[("a", 500, 0, false), ("b", 100, 0, false)]);
    state.config.maximum_lag_on_failover = u64::MAX;
    // Recorded timeline 5, but the primary's node opened timeline 4 (it
    // was promoted from timeline 3): its replicas run on 4.
    state.timeline = 5;
    state.node_timeline = 4;
    assert_eq!(state.current_timeline(), 4);
    set_timeline(&mut health, "a", 3);
    set_timeline(&mut health, "b", 4);
    let c = choose_candidate(&state, &health, None, now);
    assert_eq!(c.map(|c| c.name), Ok("b".to_string()));
    // A node on a later timeline than the primary's beats LSN too.
    set_timeline(&mut health, "a", 4);
    set_timeline(&mut health, "b", 5);
    let c = choose_candidate(&state, &health, None, now);
    assert_eq!(c.map(|c| c.name), Ok("b".to_string()));
    // Both on the current timeline: LSN decides again.
    set_timeline(&mut health, "b", 4);
    let c = choose_candidate(&state, &health, None, now);
    assert_eq!(c.map(|c| c.name), Ok("a".to_string()));
    // Nothing reported: the recorded timeline is the reference.
    state.node_timeline = 0;
    assert!(choose_candidate(&state, &health, None, now).is_err());
}

#[test]
fn drained_and_stopped_nodes_are_not_chosen() {
    let (mut state, health, now) = setup(&[("a", 50, 0, false), ("b", 40, 0, false)]);
    state.config.maximum_lag_on_failover = u64::MAX;
    if let Some(a) = state.nodes.get_mut("a") {
        a.drained = true;
    }
    let c = choose_candidate(&state, &health, Some(50), now);
    assert_eq!(c.map(|c| c.name), Ok("b".to_string()));
    if let Some(b) = state.nodes.get_mut("b") {
        b.stopped = true;
    }
    let why = choose_candidate(&state, &health, Some(50), now);
    assert!(
        why.as_ref()
            .is_err_and(|w| w.contains("a: drained") && w.contains("b: stopped")),
        "{why:?}"
    );
}
