//! Backups through the manager: `POST /backups` (via `rustydb-cli backup
//! create` without `--node-url`), `GET /backups`, and the `[backup]`
//! schedule, against three managed nodes (see `rustydb_tests::manager`).
//!
//! - `manager_backup_comes_from_a_replica_and_restores`: a full backup
//!   asked of a *follower* manager member (so the request is forwarded to
//!   the leader) is taken on a replica, not the primary: the answer, the
//!   manifest the node wrote and the nodes' own logs all name the same
//!   replica, and the primary's log has no backup in it. An incremental
//!   follows (default node again), then one with `--node <primary>`.
//!   `GET /backups` on every member lists them (and `GET
//!   /backups/progress` shows nothing running once it is done); `backup verify` passes
//!   for each; the full and the incremental restore into data dirs that
//!   start as standalone nodes holding exactly the rows committed before
//!   each backup. Bad requests (unknown node, unknown type) are refused
//!   with a message and exit status 1.
//! - `manager_schedule_takes_full_then_incremental`: with
//!   `full_every_hours = 1`, `incremental_every_hours = 0.001` (3.6 s)
//!   and `check_every_seconds = 0.5`, the leader takes a full backup and
//!   then incrementals (never a second full within the hour), each from a
//!   replica, each the child of the previous one; the newest verifies.
//!
//! Waits are bounded; nothing asserts speed.

use std::path::Path;
use std::time::Duration;

use rustydb_tests::cluster::{
    table_checksums, wait_caught_up, wait_until, ClusterNode, TableChecksum,
};
use rustydb_tests::manager::ManagedCluster;
use rustydb_tests::tools::{rustydb_cli as cli, rustydb_cli_json as cli_json};
use serde_json::Value;

const TABLE: &str = "CREATE TABLE bk (id bigint PRIMARY KEY, v text)";

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rdb-bkmgr-")
        .tempdir()
        .expect("tempdir")
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn backup_toml(repo: &Path, full_hours: f64, incr_hours: f64, check_s: f64) -> String {
    format!(
        "[backup]\nrepo = {}\nfull_every_hours = {full_hours}\n\
         incremental_every_hours = {incr_hours}\ncheck_every_seconds = {check_s}\n",
        serde_json::json!(s(repo))
    )
}

fn insert(node: &ClusterNode, from: i64, to: i64) {
    node.connect().must(&format!(
        "INSERT INTO bk SELECT g, 'row ' || g FROM generate_series({from}, {to}) AS g"
    ));
}

fn checksum(node: &ClusterNode) -> Vec<TableChecksum> {
    let mut c = node.connect();
    table_checksums(&mut c, &["bk"]).unwrap_or_else(|e| panic!("{}: {e}", node.name()))
}

/// Index of a manager member that is not the Raft leader.
fn follower_member(c: &ManagedCluster) -> usize {
    let leader = c
        .manager_leader()
        .unwrap_or_else(|e| panic!("{e}\n{}", c.describe()));
    (0..c.managers.len())
        .find(|i| *i != leader)
        .unwrap_or(leader)
}

fn api_url(c: &ManagedCluster, idx: usize) -> String {
    format!("http://127.0.0.1:{}", c.managers[idx].api_port)
}

/// `GET /backups` on member `idx`, as an array.
fn listed(c: &ManagedCluster, idx: usize) -> Vec<Value> {
    let reply = c.managers[idx]
        .api()
        .get("/backups")
        .unwrap_or_else(|e| panic!("GET /backups on m{}: {e}", idx + 1));
    assert_eq!(reply.status, 200, "GET /backups: {}", reply.text);
    reply.json.as_array().cloned().unwrap_or_default()
}

/// Starts a standalone node on what `backup restore ID` produced.
fn restored_node(name: &str, repo: &Path, id: &str, scratch: &Path) -> ClusterNode {
    let mut node = ClusterNode::start(name, &[]);
    node.kill9();
    let data = node.server().data_dir();
    std::fs::remove_dir_all(&data).expect("remove data dir");
    let (repo, target) = (s(repo), s(&data));
    let out = cli(
        &[
            "backup", "restore", id, "--repo", &repo, "--target", &target,
        ],
        scratch,
    );
    out.assert_success(&format!("restore {id}"));
    node.restart_with(&[]);
    node
}

fn verify(repo: &Path, id: &str, scratch: &Path) {
    let repo = s(repo);
    let out = cli(&["backup", "verify", id, "--repo", &repo], scratch);
    out.assert_success(&format!("verify {id}"));
    assert!(out.stdout.contains("OK"), "verify {id}: {}", out.stdout);
}

#[test]
fn manager_backup_comes_from_a_replica_and_restores() {
    let dir = scratch();
    let repo = dir.path().join("repo");
    // Periods 0: no scheduled backup interferes with the ones asked for.
    let c =
        ManagedCluster::start_configured("async", TABLE, "", &backup_toml(&repo, 0.0, 0.0, 60.0));
    let primary_name = c
        .wait_primary(|_| true, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.describe()));
    let primary = c.node(&primary_name).expect("primary");
    let replicas: Vec<&ClusterNode> = c
        .nodes
        .iter()
        .filter(|n| n.name() != primary_name)
        .collect();
    insert(primary, 1, 500);
    wait_caught_up(primary, &replicas);
    let full_sum = checksum(primary);
    let log_offsets: Vec<usize> = c.nodes.iter().map(|n| n.log_len()).collect();

    // A follower member forwards the mutation to the leader.
    let api = api_url(&c, follower_member(&c));
    let full = cli_json(
        &["--api", &api, "backup", "create", "--type", "full"],
        dir.path(),
    );
    let full_id = full["id"].as_str().expect("id").to_string();
    let taker = full["node"].as_str().expect("node").to_string();
    assert_ne!(
        taker, primary_name,
        "the backup was taken on the primary: {full}"
    );
    assert!(
        replicas.iter().any(|r| r.name() == taker),
        "{taker} is no replica: {full}"
    );
    assert_eq!(full["type"], "full");
    assert_eq!(full["repo"].as_str(), Some(s(&repo).as_str()));

    // No backup runs now: every member says so (the CLI polls this while
    // the manager runs one).
    for (i, m) in c.managers.iter().enumerate() {
        let reply = m
            .api()
            .get("/backups/progress")
            .unwrap_or_else(|e| panic!("GET /backups/progress on m{}: {e}", i + 1));
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.json["running"],
            serde_json::json!([]),
            "{}",
            reply.text
        );
    }

    // The manifest is written by the node itself, with its own name.
    let repo_s = s(&repo);
    let all = cli_json(&["backup", "list", "--repo", &repo_s], dir.path());
    let manifest = all
        .as_array()
        .and_then(|a| a.iter().find(|m| m["id"] == full_id.as_str()))
        .unwrap_or_else(|| panic!("{full_id} not in backup list: {all}"));
    assert_eq!(
        manifest["node"].as_str(),
        Some(taker.as_str()),
        "{manifest}"
    );
    // And only that node's log has a backup in it.
    for (n, offset) in c.nodes.iter().zip(&log_offsets) {
        let log = n.log_since(*offset);
        let took = log.contains("backup complete") && log.contains(&full_id);
        assert_eq!(
            took,
            n.name() == taker,
            "{}'s log since the request (taker {taker}):\n{log}",
            n.name()
        );
    }

    // An incremental (default node) after more rows.
    insert(primary, 501, 800);
    wait_caught_up(primary, &replicas);
    let incr_sum = checksum(primary);
    let incr = cli_json(
        &["--api", &api, "backup", "create", "--type", "incremental"],
        dir.path(),
    );
    let incr_id = incr["id"].as_str().expect("id").to_string();
    assert_ne!(incr["node"].as_str(), Some(primary_name.as_str()), "{incr}");
    assert_eq!(incr["type"], "incremental");
    assert_eq!(incr["parent"].as_str(), Some(full_id.as_str()), "{incr}");
    assert!(
        incr["stored_bytes"].as_u64() < incr["total_bytes"].as_u64(),
        "an incremental stores less than the database: {incr}"
    );

    // `--node` names the node: here the primary itself.
    let named = cli_json(
        &[
            "--api",
            &api,
            "backup",
            "create",
            "--type",
            "incremental",
            "--node",
            &primary_name,
        ],
        dir.path(),
    );
    assert_eq!(
        named["node"].as_str(),
        Some(primary_name.as_str()),
        "{named}"
    );
    let named_id = named["id"].as_str().expect("id").to_string();

    // Refusals: an unknown node, an unknown type.
    let out = cli(
        &["--api", &api, "backup", "create", "--node", "nosuch"],
        dir.path(),
    );
    assert!(
        !out.success && out.stderr.contains("no node nosuch"),
        "{out:?}"
    );
    let reply = c
        .post(0, "/backups", &serde_json::json!({"type": "weekly"}))
        .expect("POST /backups");
    assert_eq!(reply.status, 400, "{}", reply.text);

    // Every member lists the same backups.
    for idx in 0..c.managers.len() {
        let ids: Vec<String> = listed(&c, idx)
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect();
        assert_eq!(
            ids,
            vec![full_id.clone(), incr_id.clone(), named_id.clone()],
            "m{}",
            idx + 1
        );
    }
    let first = listed(&c, 0);
    assert_eq!(first[0]["node"].as_str(), Some(taker.as_str()));
    assert_eq!(first[1]["type"], "incremental");

    for id in [&full_id, &incr_id, &named_id] {
        verify(&repo, id, dir.path());
    }
    let r_full = restored_node("rfull", &repo, &full_id, dir.path());
    assert_eq!(checksum(&r_full), full_sum, "restored full backup");
    let r_incr = restored_node("rincr", &repo, &incr_id, dir.path());
    assert_eq!(checksum(&r_incr), incr_sum, "restored incremental backup");
}

#[test]
fn manager_schedule_takes_full_then_incremental() {
    let dir = scratch();
    let repo = dir.path().join("repo");
    let c =
        ManagedCluster::start_configured("async", TABLE, "", &backup_toml(&repo, 1.0, 0.001, 0.5));
    let primary_name = c
        .wait_primary(|_| true, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", c.describe()));
    let primary = c.node(&primary_name).expect("primary");
    // Rows keep arriving, so each incremental has something to store.
    let mut next = 1;
    let backups = wait_until(
        "a scheduled full and two incrementals",
        Duration::from_secs(120),
        || {
            insert(primary, next, next + 99);
            next += 100;
            let all = listed(&c, 0);
            if all.len() >= 3 {
                Ok(all)
            } else {
                Err(format!("{} backups so far: {all:?}", all.len()))
            }
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", c.describe()));
    assert_eq!(backups[0]["type"], "full", "{backups:?}");
    for (i, b) in backups.iter().enumerate() {
        assert_ne!(
            b["node"].as_str(),
            Some(primary_name.as_str()),
            "taken on the primary: {b}"
        );
        if i > 0 {
            assert_eq!(
                b["type"], "incremental",
                "a second full within the hour: {backups:?}"
            );
            assert_eq!(b["parent"], backups[i - 1]["id"], "{backups:?}");
            assert!(
                b["lsn"].as_u64() >= backups[i - 1]["lsn"].as_u64(),
                "{backups:?}"
            );
        }
    }
    let newest = backups
        .last()
        .and_then(|b| b["id"].as_str())
        .expect("id")
        .to_string();
    verify(&repo, &newest, dir.path());
}
