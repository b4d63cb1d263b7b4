//! Unit tests of `ClusterState::apply`: each rule of the state machine.

use super::*;
use crate::raft::state::ClusterConfig;

fn node(name: &str) -> NodeInfo {
    NodeInfo {
        name: name.to_string(),
        region: String::new(),
        pgwire_addr: format!("{name}:5433"),
        admin_addr: format!("{name}:8080"),
        datacenter: "dc1".to_string(),
        nofailover: false,
        noloadbalance: false,
        failover_priority: 0,
        role: Role::Unknown,
        drained: false,
        stopped: false,
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

fn admin(name: &str, drained: Option<bool>, stopped: Option<bool>) -> ClusterCommand {
    ClusterCommand::SetNodeAdmin {
        name: name.to_string(),
        drained,
        stopped,
    }
}

#[test]
fn operator_flags_never_touch_the_primary_and_survive_reregistration() {
    let mut s = with_nodes(&["a", "b", "c"]);
    assert!(s.apply(&set_primary("a", 1), ep(10)).is_applied());
    assert!(s
        .apply(
            &ClusterCommand::SetSyncSet {
                names: vec!["b".into(), "c".into()]
            },
            ep(11)
        )
        .is_applied());
    for cmd in [admin("a", Some(true), None), admin("a", None, Some(true))] {
        let r = s.apply(&cmd, ep(12));
        assert!(matches!(r, CommandResult::Rejected { .. }), "{cmd:?}");
    }
    assert!(!s.nodes["a"].drained && !s.nodes["a"].stopped);
    let r = s.apply(&admin("zz", Some(true), None), ep(13));
    assert!(matches!(r, CommandResult::Rejected { .. }));

    // Stopping b takes it out of the sync set; a stopped node is never
    // made primary nor put back in the set.
    assert!(s.apply(&admin("b", None, Some(true)), ep(14)).is_applied());
    assert!(s.nodes["b"].stopped);
    assert_eq!(s.sync_set, vec!["c".to_string()]);
    let r = s.apply(&set_primary("b", 2), ep(15));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    let r = s.apply(
        &ClusterCommand::SetSyncSet {
            names: vec!["b".into()],
        },
        ep(16),
    );
    assert!(matches!(r, CommandResult::Rejected { .. }));

    // Re-registering (what reconcile does from manager.toml) keeps flags.
    assert!(s.apply(&admin("c", Some(true), None), ep(17)).is_applied());
    let mut again = node("b");
    again.datacenter = "dc2".into();
    assert!(s
        .apply(&ClusterCommand::RegisterNode { node: again }, ep(18))
        .is_applied());
    assert!(s.nodes["b"].stopped && s.nodes["b"].datacenter == "dc2");
    assert!(s
        .apply(&ClusterCommand::RegisterNode { node: node("c") }, ep(19))
        .is_applied());
    assert!(s.nodes["c"].drained);

    // Clearing works; a drained node made primary is no longer drained.
    assert!(s
        .apply(&admin("b", Some(false), Some(false)), ep(20))
        .is_applied());
    assert!(!s.nodes["b"].stopped);
    assert!(s.apply(&set_primary("c", 2), ep(21)).is_applied());
    assert!(!s.nodes["c"].drained);
}

#[test]
fn scheduled_switchover_is_named_by_its_log_index() {
    let mut s = with_nodes(&["a"]);
    let schedule = |at_ms: u64| ClusterCommand::ScheduleSwitchover {
        at_ms,
        scheduled_at: "2026-11-22T10:00:00Z".into(),
        leader: None,
        candidate: Some("a".into()),
    };
    assert!(s.apply(&schedule(1000), ep(30)).is_applied());
    assert_eq!(s.scheduled_switchover.as_ref().map(|x| x.id), Some(30));
    // One at a time.
    let r = s.apply(&schedule(2000), ep(31));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    assert_eq!(s.scheduled_switchover.as_ref().map(|x| x.at_ms), Some(1000));
    // A consumer holding a stale id does not remove a newer schedule.
    assert!(s
        .apply(&ClusterCommand::CancelSwitchover { id: None }, ep(32))
        .is_applied());
    assert!(s.apply(&schedule(3000), ep(33)).is_applied());
    let r = s.apply(&ClusterCommand::CancelSwitchover { id: Some(30) }, ep(34));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    assert!(s.scheduled_switchover.is_some());
    assert!(s
        .apply(&ClusterCommand::CancelSwitchover { id: Some(33) }, ep(35))
        .is_applied());
    assert_eq!(s.scheduled_switchover, None);
    let r = s.apply(&ClusterCommand::CancelSwitchover { id: None }, ep(36));
    assert!(matches!(r, CommandResult::Rejected { .. }));
}

#[test]
fn member_apis_are_recorded_and_forgotten() {
    let mut s = ClusterState::default();
    let set = |id: u64, api: Option<&str>| ClusterCommand::SetMemberApi {
        id,
        api: api.map(str::to_string),
    };
    assert!(s.apply(&set(4, Some("http://h:8011")), ep(1)).is_applied());
    assert_eq!(
        s.member_apis.get(&4).map(String::as_str),
        Some("http://h:8011")
    );
    // Survives a snapshot (JSON with integer map keys).
    let json = serde_json::to_string(&s).unwrap_or_default();
    let back: Result<ClusterState, _> = serde_json::from_str(&json);
    assert_eq!(back.ok().as_ref(), Some(&s));
    assert!(s.apply(&set(4, None), ep(2)).is_applied());
    assert!(s.member_apis.is_empty());
}

#[test]
fn snapshots_from_before_the_operator_fields_still_decode() {
    // A state as the previous version wrote it: no drained / stopped on
    // nodes, no scheduled_switchover, no member_apis.
    let old = r#"{"nodes":{"a":{"name":"a","pgwire_addr":"a:5433","admin_addr":"a:8080",
        "datacenter":"dc1","nofailover":false,"noloadbalance":false,"failover_priority":0,
        "role":"primary"}},"primary":"a","timeline":3,"timeline_history":[],"sync_set":[],
        "paused":false,"failover_history":[],"primary_epoch":{"term":2,"index":9}}"#;
    let s: Result<ClusterState, _> = serde_json::from_str(old);
    let s = s.unwrap_or_else(|e| panic!("old snapshot: {e}"));
    assert_eq!(s.primary.as_deref(), Some("a"));
    assert!(!s.nodes["a"].drained && !s.nodes["a"].stopped);
    assert_eq!(s.scheduled_switchover, None);
    assert!(s.member_apis.is_empty());
    // And an old log entry still decodes as a command.
    let cmd: Result<ClusterCommand, _> = serde_json::from_str(r#"{"type":"pause","paused":true}"#);
    assert!(cmd.is_ok());
}

#[test]
fn node_timeline_belongs_to_the_primary_and_resets_with_it() {
    let mut s = with_nodes(&["a", "b"]);
    assert!(s.apply(&set_primary("a", 5), ep(1)).is_applied());
    assert_eq!(s.current_timeline(), 5);
    let set = |name: &str, timeline: u64| ClusterCommand::SetNodeTimeline {
        name: name.into(),
        timeline,
    };
    let r = s.apply(&set("b", 4), ep(2));
    assert!(matches!(r, CommandResult::Rejected { .. }));
    assert!(s.apply(&set("a", 4), ep(3)).is_applied());
    assert_eq!((s.timeline, s.current_timeline()), (5, 4));
    assert!(s.apply(&set_primary("b", 6), ep(4)).is_applied());
    assert_eq!(s.node_timeline, 0);
    assert_eq!(s.current_timeline(), 6);
}
