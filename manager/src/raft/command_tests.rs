//! Unit tests of `ClusterState::apply`: each rule of the state machine.

use super::*;
use crate::raft::state::ClusterConfig;

fn node(name: &str) -> NodeInfo {
    NodeInfo {
        name: name.to_string(),
        pgwire_addr: format!("{name}:5433"),
        admin_addr: format!("{name}:8080"),
        datacenter: "dc1".to_string(),
        nofailover: false,
        noloadbalance: false,
        failover_priority: 0,
        role: Role::Unknown,
    }
}

fn ep(index: u64) -> Epoch {
    Epoch { term: 1, index }
}

fn with_nodes(names: &[&str]) -> ClusterState {
    let mut s = ClusterState::default();
    for (i, n) in names.iter().enumerate() {
        let r = s.apply(
            &ClusterCommand::RegisterNode { node: node(n) },
            ep(i as u64),
        );
        assert_eq!(r, CommandResult::Applied);
    }
    s
}

fn set_primary(name: &str, timeline: u64) -> ClusterCommand {
    ClusterCommand::SetPrimary {
        name: name.to_string(),
        timeline,
        start_lsn: timeline * 100,
        reason: "test".to_string(),
        time_ms: 42,
    }
}

#[test]
fn set_primary_opens_a_timeline_and_demotes_the_old_one() {
    let mut s = with_nodes(&["a", "b"]);
    assert!(s.apply(&set_primary("a", 1), ep(10)).is_applied());
    assert_eq!(s.primary.as_deref(), Some("a"));
    assert_eq!(s.nodes["a"].role, Role::Primary);
    assert_eq!(s.primary_epoch, ep(10));

    // Same primary, same timeline: idempotent, epoch unchanged.
    assert!(s.apply(&set_primary("a", 1), ep(11)).is_applied());
    assert_eq!(s.timeline_history.len(), 1);
    assert_eq!(s.primary_epoch, ep(10));

    // Another node on the same timeline is refused.
    let r = s.apply(&set_primary("b", 1), ep(12));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    assert_eq!(s.primary.as_deref(), Some("a"));

    assert!(s.apply(&set_primary("b", 2), ep(13)).is_applied());
    assert_eq!(s.primary.as_deref(), Some("b"));
    assert_eq!(s.nodes["a"].role, Role::Unknown);
    assert_eq!(s.nodes["b"].role, Role::Primary);
    assert_eq!(s.timeline, 2);
    let timelines: Vec<u64> = s.timeline_history.iter().map(|t| t.timeline).collect();
    assert_eq!(timelines, vec![1, 2]);
    assert_eq!(s.timeline_history[1].start_lsn, 200);
}

#[test]
fn unknown_primary_is_rejected() {
    let mut s = with_nodes(&["a"]);
    let r = s.apply(&set_primary("zz", 1), ep(5));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    assert_eq!(s.primary, None);
    assert_eq!(s.timeline, 0);
}

#[test]
fn primary_cannot_be_removed_and_removal_cleans_sync_set() {
    let mut s = with_nodes(&["a", "b", "c"]);
    assert!(s.apply(&set_primary("a", 1), ep(3)).is_applied());
    let sync = ClusterCommand::SetSyncSet {
        names: vec!["b".into(), "c".into(), "b".into()],
    };
    assert!(s.apply(&sync, ep(4)).is_applied());
    assert_eq!(s.sync_set, vec!["b".to_string(), "c".to_string()]);
    let r = s.apply(&ClusterCommand::RemoveNode { name: "a".into() }, ep(5));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    let r = s.apply(&ClusterCommand::RemoveNode { name: "b".into() }, ep(6));
    assert!(r.is_applied());
    assert_eq!(s.sync_set, vec!["c".to_string()]);
    assert!(!s.nodes.contains_key("b"));
}

#[test]
fn sync_set_never_holds_the_primary() {
    let mut s = with_nodes(&["a", "b"]);
    assert!(s.apply(&set_primary("a", 1), ep(3)).is_applied());
    let r = s.apply(
        &ClusterCommand::SetSyncSet {
            names: vec!["a".into()],
        },
        ep(4),
    );
    assert!(matches!(r, CommandResult::Rejected { .. }));
    assert!(s
        .apply(
            &ClusterCommand::SetSyncSet {
                names: vec!["b".into()]
            },
            ep(5)
        )
        .is_applied());
    // Promoting a sync standby takes it out of the set.
    assert!(s.apply(&set_primary("b", 2), ep(6)).is_applied());
    assert!(s.sync_set.is_empty());
}

#[test]
fn roles_cannot_create_or_remove_a_primary() {
    let mut s = with_nodes(&["a", "b"]);
    assert!(s.apply(&set_primary("a", 1), ep(3)).is_applied());
    let mut roles = BTreeMap::new();
    roles.insert("b".to_string(), Role::Primary);
    let r = s.apply(&ClusterCommand::SetRoles { roles }, ep(4));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    let mut roles = BTreeMap::new();
    roles.insert("a".to_string(), Role::Replica);
    let r = s.apply(&ClusterCommand::SetRoles { roles }, ep(5));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    let mut roles = BTreeMap::new();
    roles.insert("b".to_string(), Role::Replica);
    assert!(s
        .apply(&ClusterCommand::SetRoles { roles }, ep(6))
        .is_applied());
    assert_eq!(s.nodes["b"].role, Role::Replica);

    let clear = ClusterCommand::ClearPrimary {
        reason: "gone".into(),
    };
    assert!(s.apply(&clear, ep(7)).is_applied());
    assert_eq!(s.primary, None);
    assert_eq!(s.nodes["a"].role, Role::Unknown);
}

#[test]
fn reregistering_keeps_the_role() {
    let mut s = with_nodes(&["a"]);
    assert!(s.apply(&set_primary("a", 1), ep(3)).is_applied());
    let mut changed = node("a");
    changed.pgwire_addr = "elsewhere:1".into();
    assert!(s
        .apply(&ClusterCommand::RegisterNode { node: changed }, ep(4))
        .is_applied());
    assert_eq!(s.nodes["a"].role, Role::Primary);
    assert_eq!(s.nodes["a"].pgwire_addr, "elsewhere:1");

    let mut sneaky = node("b");
    sneaky.role = Role::Primary;
    assert!(s
        .apply(&ClusterCommand::RegisterNode { node: sneaky }, ep(5))
        .is_applied());
    assert_eq!(s.nodes["b"].role, Role::Unknown);
}

#[test]
fn config_patch_validates_before_changing_anything() {
    let mut s = ClusterState::default();
    let bad = ConfigPatch {
        num_sync_replicas: Some(2),
        lease_ttl_ms: Some(0),
        ..ConfigPatch::default()
    };
    let r = s.apply(&ClusterCommand::UpdateConfig { patch: bad }, ep(1));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    assert_eq!(s.config, ClusterConfig::default());

    let nan = ConfigPatch {
        failure_threshold: Some(f64::NAN),
        ..ConfigPatch::default()
    };
    let r = s.apply(&ClusterCommand::UpdateConfig { patch: nan }, ep(2));
    assert!(matches!(r, CommandResult::Rejected { .. }));

    let good = ConfigPatch {
        num_sync_replicas: Some(2),
        failure_threshold: Some(10.5),
        ..ConfigPatch::default()
    };
    assert!(s
        .apply(&ClusterCommand::UpdateConfig { patch: good }, ep(3))
        .is_applied());
    assert_eq!(s.config.num_sync_replicas, 2);
    assert_eq!(s.config.failure_threshold, 10.5);
    assert_eq!(s.config.lease_ttl_ms, 700);
}

#[test]
fn failover_history_is_capped_oldest_first() {
    let mut s = ClusterState::default();
    for i in 0..(FAILOVER_HISTORY_CAP as u64 + 7) {
        let record = FailoverRecord {
            time_ms: i,
            from: Some("a".into()),
            to: Some("b".into()),
            reason: "t".into(),
            success: true,
            duration_ms: 1,
        };
        assert!(s
            .apply(&ClusterCommand::RecordFailover { record }, ep(i))
            .is_applied());
    }
    assert_eq!(s.failover_history.len(), FAILOVER_HISTORY_CAP);
    assert_eq!(s.failover_history[0].time_ms, 7);
}

#[test]
fn pause_and_json_round_trip() {
    let mut s = with_nodes(&["a"]);
    assert!(s
        .apply(&ClusterCommand::Pause { paused: true }, ep(2))
        .is_applied());
    assert!(s.paused);
    let json = serde_json::to_string(&s).unwrap_or_default();
    let back: ClusterState = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, s);
    let cmd = set_primary("a", 3);
    let json = serde_json::to_string(&cmd).unwrap_or_default();
    assert!(json.contains("\"type\":\"set_primary\""), "{json}");
}
