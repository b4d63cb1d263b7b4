//! The repair verdict without a cluster.

use std::time::{Duration, Instant};

use super::*;
use crate::raft::{NodeInfo, Role};
use crate::service::client::NodeStatus;

fn node(name: &str) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        region: String::new(),
        pgwire_addr: format!("{name}:5433"),
        admin_addr: format!("{name}:8433"),
        datacenter: String::new(),
        nofailover: false,
        noloadbalance: false,
        failover_priority: 0,
        role: Role::Replica,
        drained: false,
        stopped: false,
    }
}

fn status(role: &str, timeline: u64, lsn: u64) -> NodeStatus {
    NodeStatus {
        role: Some(role.into()),
        timeline: Some(timeline),
        lsn_number: Some(lsn),
        ..NodeStatus::default()
    }
}

/// p recorded primary on timeline 3; p, a and b answer with `statuses`.
fn setup(statuses: &[(&str, &str, u64, u64)]) -> (ClusterState, HealthTable, Instant) {
    let now = Instant::now();
    let mut state = ClusterState::default();
    for n in ["p", "a", "b"] {
        state.nodes.insert(n.into(), node(n));
    }
    state.primary = Some("p".into());
    state.timeline = 3;
    let mut health = HealthTable::default();
    for (name, role, tl, lsn) in statuses {
        let obs = health.entry(name, now, Duration::from_millis(100));
        obs.status = Some(status(role, *tl, *lsn));
    }
    (state, health, now)
}

fn verdict(state: &ClusterState, health: &HealthTable, now: Instant, leases_over: bool) -> Verdict {
    check(state, health, "p", &|_| Some(leases_over), now)
}

#[test]
fn a_restarted_primary_holding_the_newest_records_is_promoted_again() {
    let (state, health, now) = setup(&[
        ("p", "replica", 3, 120),
        ("a", "replica", 3, 120),
        ("b", "replica", 3, 90),
    ]);
    assert_eq!(verdict(&state, &health, now, false), Verdict::Repromote);
}

#[test]
fn another_primary_or_newer_records_mean_failover() {
    let (state, health, now) = setup(&[
        ("p", "replica", 3, 120),
        ("a", "primary", 3, 100),
        ("b", "replica", 3, 90),
    ]);
    assert!(matches!(
        verdict(&state, &health, now, true),
        Verdict::FailOver(_)
    ));
    // a is ahead of p on p's timeline: p lost acknowledged records.
    let (state, health, now) = setup(&[
        ("p", "replica", 3, 100),
        ("a", "replica", 3, 150),
        ("b", "replica", 3, 90),
    ]);
    assert!(matches!(
        verdict(&state, &health, now, true),
        Verdict::FailOver(_)
    ));
    // p was re-cloned onto an older timeline; a holds timeline 3.
    let (state, health, now) = setup(&[
        ("p", "replica", 2, 500),
        ("a", "replica", 3, 100),
        ("b", "replica", 3, 90),
    ]);
    assert!(matches!(
        verdict(&state, &health, now, true),
        Verdict::FailOver(_)
    ));
}

#[test]
fn a_silent_node_makes_it_wait_until_its_lease_is_over() {
    // b never answered this leader.
    let (state, health, now) = setup(&[("p", "replica", 3, 120), ("a", "replica", 3, 100)]);
    assert!(matches!(
        verdict(&state, &health, now, false),
        Verdict::Wait(_)
    ));
    assert_eq!(verdict(&state, &health, now, true), Verdict::Repromote);
    // An administratively stopped node holds no lease.
    let mut state = state;
    if let Some(b) = state.nodes.get_mut("b") {
        b.stopped = true;
    }
    assert_eq!(verdict(&state, &health, now, false), Verdict::Repromote);
}

#[test]
fn below_the_recorded_timeline_every_node_must_have_answered() {
    // The promotion to timeline 3 never took effect: p and a are on 2.
    let (state, health, now) = setup(&[("p", "replica", 2, 120), ("a", "replica", 2, 100)]);
    // b is silent and might hold timeline 3: wait, even with leases over.
    assert!(matches!(
        verdict(&state, &health, now, true),
        Verdict::Wait(_)
    ));
    let (state, health, now) = setup(&[
        ("p", "replica", 2, 120),
        ("a", "replica", 2, 100),
        ("b", "replica", 2, 110),
    ]);
    assert_eq!(verdict(&state, &health, now, true), Verdict::Repromote);
}

#[test]
fn a_fenced_or_silent_primary_is_left_alone() {
    let (state, mut health, now) = setup(&[
        ("p", "replica", 3, 120),
        ("a", "replica", 3, 100),
        ("b", "replica", 3, 90),
    ]);
    if let Some(s) = health.nodes.get_mut("p").and_then(|o| o.status.as_mut()) {
        s.fenced = Some(true);
    }
    assert!(matches!(
        verdict(&state, &health, now, true),
        Verdict::Wait(_)
    ));
    health.nodes.remove("p");
    assert!(matches!(
        verdict(&state, &health, now, true),
        Verdict::Wait(_)
    ));
}

#[test]
fn a_silent_node_that_ran_as_an_unleased_primary_blocks_the_repromotion() {
    let now = Instant::now();
    let (state, mut health, _) = setup(&[("p", "replica", 3, 120), ("a", "replica", 3, 100)]);
    // b answered long ago as a primary, then went silent.
    let long_ago = now.checked_sub(Duration::from_secs(30)).unwrap_or(now);
    let obs = health.entry("b", long_ago, Duration::from_millis(100));
    obs.status = Some(status("primary", 3, 90));
    // We renewed b's lease once and it is over: b stopped committing.
    let over = check(&state, &health, "p", &|_| Some(true), now);
    assert_eq!(over, Verdict::Repromote);
    // No lease of ours ever bound b: wait.
    let unleased = check(
        &state,
        &health,
        "p",
        &|n| if n == "b" { None } else { Some(true) },
        now,
    );
    assert!(matches!(unleased, Verdict::Wait(_)), "{unleased:?}");
}
