//! The manager's Raft group over real TCP on loopback.
//!
//! Each test starts members of one group in this process, each with its own
//! temp data dir and its own 127.0.0.1 port, and drives them only through
//! the public `RaftMember` API (plus raw HTTP for the RPC listener's error
//! answers). Every wait is bounded: a test that cannot reach its condition
//! fails with what it was waiting for instead of hanging.

mod raft_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use raft_support::*;
use rustydb_manager::raft::{ClusterCommand, CommandResult, RaftError, RaftMember};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_members_elect_replicate_and_redirect() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut group = Group::start(3, dir.path(), |_| {}).await;
    let leader = group.leader().await;
    eprintln!("leader {leader} elected after {:?}", started.elapsed());

    let (index, result) = propose(&group, register("n1")).await;
    assert_eq!(result, CommandResult::Applied);
    group.applied_everywhere(index).await;
    for member in group.running() {
        let (applied, state) = member.state();
        assert!(applied >= index);
        assert!(state.nodes.contains_key("n1"), "member {}", member.id());
    }

    // A command that does not fit the state is answered, not failed.
    let set = ClusterCommand::SetPrimary {
        name: "nobody".into(),
        timeline: 1,
        start_lsn: 0,
        reason: "test".into(),
        time_ms: 1,
    };
    let (_, result) = propose(&group, set).await;
    assert!(matches!(result, CommandResult::Rejected { .. }));

    let leader = group.leader().await;
    group
        .member(leader)
        .confirm_leadership()
        .await
        .expect("leader confirms");
    let leader_addr = group.configs[&leader].raft_listen.to_string();
    let follower = *group
        .configs
        .keys()
        .find(|id| **id != leader)
        .expect("a follower");
    let err = group
        .member(follower)
        .propose(register("n2"))
        .await
        .expect_err("a follower refuses proposals");
    assert_eq!(
        err,
        RaftError::NotLeader {
            leader: Some((leader, leader_addr.clone()))
        }
    );
    let err = group
        .member(follower)
        .confirm_leadership()
        .await
        .expect_err("a follower is not leader");
    assert!(matches!(err, RaftError::NotLeader { leader: Some((l, _)) } if l == leader));
    assert_eq!(group.member(follower).members().len(), 3);
    assert!(group.member(follower).term() >= 1);
    group.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_leader_after_leader_stops_and_state_is_kept() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = Group::start(3, dir.path(), |_| {}).await;
    let (index, _) = propose(&group, register("before")).await;
    group.applied_everywhere(index).await;

    let old = group.leader().await;
    let old_term = group.member(old).term();
    let stopped_at = Instant::now();
    group.stop(old).await;
    let new = group.leader().await;
    let failover = stopped_at.elapsed();
    eprintln!("leader {old} stopped; {new} elected after {failover:?}");
    assert_ne!(new, old);
    assert!(group.member(new).term() > old_term);
    assert!(failover < Duration::from_secs(5), "took {failover:?}");

    let (index, result) = propose(&group, register("after")).await;
    assert_eq!(result, CommandResult::Applied);
    group.applied_everywhere(index).await;
    for member in group.running() {
        let (_, state) = member.state();
        assert!(state.nodes.contains_key("before") && state.nodes.contains_key("after"));
    }

    // The old leader comes back as a follower and catches up.
    group.restart(old).await;
    wait_applied(group.member(old), index).await;
    assert!(group.member(old).state().1.nodes.contains_key("after"));
    group.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_of_all_members_keeps_state_and_log() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = Group::start(3, dir.path(), |_| {}).await;
    let mut last = 0;
    for i in 0..5 {
        last = propose(&group, register(&format!("n{i}"))).await.0;
    }
    group.applied_everywhere(last).await;
    let before = group.member(group.leader().await).state().1;
    let logs: BTreeMap<u64, Option<u64>> = group
        .running()
        .iter()
        .map(|m| (m.id(), m.status().last_log_index))
        .collect();
    group.stop_all().await;

    let ids: Vec<u64> = group.configs.keys().copied().collect();
    for id in &ids {
        group.restart(*id).await;
    }
    for member in group.running() {
        // Applied state is back before any election.
        let (applied, state) = member.state();
        assert!(applied >= last, "member {} at {applied}", member.id());
        assert_eq!(state, before);
        let status = member.status();
        assert!(
            status.last_log_index >= logs[&member.id()],
            "log of {} shrank: {status:?}",
            member.id()
        );
        // Already initialised: initialize is a no-op.
        member.initialize().await.expect("initialize again");
    }
    let (index, result) = propose(&group, register("after-restart")).await;
    assert_eq!(result, CommandResult::Applied);
    assert!(index > last);
    group.applied_everywhere(index).await;
    group.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_are_added_and_removed_through_joint_consensus() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = Group::start(3, dir.path(), |_| {}).await;
    let (index, _) = propose(&group, register("n1")).await;
    group.applied_everywhere(index).await;

    // A fourth member starts empty (no leader, no membership) and is
    // added by the leader.
    let leader = group.leader().await;
    let port = free_port();
    let peers: BTreeMap<u64, String> = [(4, format!("127.0.0.1:{port}"))].into_iter().collect();
    group
        .configs
        .insert(4, config_for(4, port, dir.path(), &peers));
    group.restart(4).await;
    assert_eq!(group.member(4).leader(), None);
    assert!(group.member(4).members().is_empty());
    group
        .member(leader)
        .add_member(4, format!("127.0.0.1:{port}"))
        .await
        .expect("add member 4");
    let members = group.member(leader).members();
    assert_eq!(
        members.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(members[&4], format!("127.0.0.1:{port}"));
    wait_applied(group.member(4), index).await;
    let (index, _) = propose(&group, register("n2")).await;
    group.applied_everywhere(index).await;
    assert!(group.member(4).state().1.nodes.contains_key("n2"));

    // Remove a follower that is not the new member.
    let leader = group.leader().await;
    let victim = [1, 2, 3]
        .into_iter()
        .find(|id| *id != leader)
        .expect("a follower");
    group
        .member(leader)
        .remove_member(victim)
        .await
        .expect("remove member");
    group.stop(victim).await;
    let members = group.member(group.leader().await).members();
    assert_eq!(members.len(), 3);
    assert!(!members.contains_key(&victim));

    // The group of three (including member 4) keeps working, and still
    // has a quorum with one more member down.
    let (index, result) = propose(&group, register("n3")).await;
    assert_eq!(result, CommandResult::Applied);
    group.applied_everywhere(index).await;
    let leader = group.leader().await;
    let other = *members
        .keys()
        .find(|id| **id != leader)
        .expect("another member");
    group.stop(other).await;
    group
        .member(leader)
        .confirm_leadership()
        .await
        .expect("2 of 3 is a quorum");
    group.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_can_remove_itself() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = Group::start(3, dir.path(), |_| {}).await;
    let (index, _) = propose(&group, register("n1")).await;
    group.applied_everywhere(index).await;
    let old = group.leader().await;
    group
        .member(old)
        .remove_member(old)
        .await
        .expect("leader removes itself");
    group.stop(old).await;
    let new = group.leader().await;
    assert_ne!(new, old);
    let members = group.member(new).members();
    assert_eq!(members.len(), 2);
    assert!(!members.contains_key(&old));
    let (index, result) = propose(&group, register("n2")).await;
    assert_eq!(result, CommandResult::Applied);
    group.applied_everywhere(index).await;
    group.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pre_vote_keeps_an_isolated_member_from_raising_its_term() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = Group::start(3, dir.path(), |_| {}).await;
    let (index, _) = propose(&group, register("n1")).await;
    group.applied_everywhere(index).await;
    let leader = group.leader().await;
    let term = group.member(leader).term();
    let ids: Vec<u64> = group.configs.keys().copied().collect();
    let lonely = *ids.iter().find(|id| **id != leader).expect("a follower");
    let other = *ids
        .iter()
        .find(|id| **id != leader && **id != lonely)
        .expect("another follower");
    group.stop(leader).await;
    group.stop(other).await;

    // Alone, the member keeps asking (several election timeouts pass) but
    // never wins a pre-vote, so it never starts an election: its term and
    // vote stay as they were. Without pre-vote it would bump the term on
    // every timeout.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let status = group.member(lonely).status();
    assert_eq!(status.term, term, "{status:?}");
    assert_ne!(status.server_state, "candidate");

    // With a second member back there is a majority: an election happens,
    // one term later.
    group.restart(other).await;
    let new = group.leader().await;
    assert!(new == lonely || new == other);
    let new_term = group.member(new).term();
    assert!(
        new_term > term && new_term <= term + 2,
        "{term} -> {new_term}"
    );

    // The old leader rejoins as a follower without disturbing the leader.
    group.restart(leader).await;
    wait_applied(group.member(leader), index).await;
    let (index, _) = propose(&group, register("n2")).await;
    group.applied_everywhere(index).await;
    assert_eq!(group.leader().await, new);
    assert_eq!(group.member(new).term(), new_term);
    group.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_that_was_down_catches_up_from_a_snapshot() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    // Snapshot every 10 entries, keep 5: a member that misses 40 entries
    // can only be caught up by a snapshot.
    let mut group = Group::start(3, dir.path(), |c| c.snapshot_every = 10).await;
    let leader = group.leader().await;
    let lagging = *group
        .configs
        .keys()
        .find(|id| **id != leader)
        .expect("a follower");
    let (index, _) = propose(&group, register("early")).await;
    group.applied_everywhere(index).await;
    let lagging_last = group.member(lagging).status().last_log_index.unwrap_or(0);
    group.stop(lagging).await;

    let mut last = 0;
    for i in 0..40 {
        last = propose(&group, register(&format!("n{i}"))).await.0;
    }
    group.applied_everywhere(last).await;
    // Wait for the leader to have purged past what the lagging member has.
    let deadline = Instant::now() + WAIT;
    loop {
        let status = group.member(group.leader().await).status();
        if status.purged_index.unwrap_or(0) > lagging_last {
            break;
        }
        assert!(Instant::now() < deadline, "leader never purged: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Instant::now();
    group.restart(lagging).await;
    wait_applied(group.member(lagging), last).await;
    eprintln!("member {lagging} caught up in {:?}", started.elapsed());
    let status = group.member(lagging).status();
    assert!(
        status.snapshot_index.unwrap_or(0) > lagging_last,
        "caught up without a snapshot: {status:?}"
    );
    let (_, caught_up) = group.member(lagging).state();
    let (_, reference) = group.member(group.leader().await).state();
    assert_eq!(caught_up, reference);
    assert!(caught_up.nodes.contains_key("n39"));
    group.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_minority_cannot_commit_nor_confirm_leadership() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = Group::start(3, dir.path(), |c| c.request_timeout_ms = 1500).await;
    let leader = group.leader().await;
    for id in [1, 2, 3] {
        if id != leader {
            group.stop(id).await;
        }
    }
    let member = group.member(leader).clone();
    // Peers are unreachable: errors, bounded by request_timeout_ms, and
    // the member keeps running.
    let started = Instant::now();
    let err = member
        .confirm_leadership()
        .await
        .expect_err("no quorum to confirm with");
    assert!(
        matches!(err, RaftError::NoQuorum(_) | RaftError::Timeout { .. }),
        "{err:?}"
    );
    let err = member
        .propose(register("lost"))
        .await
        .expect_err("no quorum to commit with");
    assert!(
        matches!(err, RaftError::Timeout { .. } | RaftError::NotLeader { .. }),
        "{err:?}"
    );
    let limit = Duration::from_millis(2 * group.configs[&leader].request_timeout_ms + 1000);
    assert!(started.elapsed() < limit, "took {:?}", started.elapsed());
    assert!(!member.state().1.nodes.contains_key("lost"));
    group.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rpc_listener_rejects_bad_requests() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut group = Group::start(1, dir.path(), |_| {}).await;
    let leader = group.leader().await;
    assert_eq!(leader, 1);
    let addr = group.configs[&1].raft_listen;

    assert_eq!(
        raw_status(addr, post("/raft/append", "{not json")).await,
        400
    );
    assert_eq!(
        raw_status(addr, post("/raft/vote", "{\"vote\": 7}")).await,
        400
    );
    assert_eq!(raw_status(addr, post("/raft/snapshot", "[]")).await, 400);
    assert_eq!(raw_status(addr, post("/nowhere", "{}")).await, 404);
    let get = "GET /raft/vote HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_string();
    assert_eq!(raw_status(addr, get).await, 405);

    // The member is unharmed.
    let (_, result) = propose(&group, register("n1")).await;
    assert_eq!(result, CommandResult::Applied);
    group.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn start_refuses_bad_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let peers: BTreeMap<u64, String> = [(1, "127.0.0.1:1".to_string())].into_iter().collect();
    let mut config = config_for(1, free_port(), dir.path(), &peers);
    config.election_timeout_ms = (600, 300);
    assert!(matches!(
        RaftMember::start(config).await.err(),
        Some(RaftError::Config(_))
    ));

    // Initialising with peers that do not include this member is refused.
    let other: BTreeMap<u64, String> = [(2, "127.0.0.1:1".to_string())].into_iter().collect();
    let member = RaftMember::start(config_for(1, free_port(), dir.path(), &other))
        .await
        .expect("start");
    assert!(matches!(
        member.initialize().await,
        Err(RaftError::Config(_))
    ));
    member.shutdown().await;
}
