//! Backups, the WAL archive and point-in-time recovery, end to end with
//! `rustydb node` processes and `rustydb-cli backup …`.
//!
//! - `backups_under_load_restore_exactly`: a primary (archiving its WAL)
//!   and a replica; pgbench plus a sequential writer run on the primary
//!   while a full and then an incremental backup are taken from the
//!   replica. Each restored backup starts as a node at exactly the
//!   manifest's LSN, holds a consistent snapshot (the writer's ids are a
//!   prefix 1..n; TPC-B's balance sums agree) and the same content as a
//!   PITR to that LSN from the previous base (checkpoint vs WAL replay, two
//!   independent paths). After the load, a quiesced incremental backup and
//!   a PITR to the final LSN both equal the live cluster's checksums, and a
//!   restored data dir joins the cluster as a replica and catches up.
//! - `pitr_brings_back_a_dropped_table`: rows, a recorded time, more rows,
//!   `DROP TABLE`; restoring to the recorded time brings back the table
//!   with exactly the rows committed before it.
//! - `verify_catches_damage`: a flipped byte in any stored backup file and
//!   a deleted WAL segment both fail `backup verify` (exit 1, naming the
//!   damage); the intact repository verifies.
//! - `encrypted_repository_needs_its_key`: no key → refused, wrong key →
//!   authentication error, right key → restores the same content.
//!
//! Waits are bounded; nothing asserts speed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustydb_tests::cluster::{
    pgbench, table_checksums, wait_caught_up, wait_until, ClusterNode, TableChecksum,
    PGBENCH_TABLES,
};
use rustydb_tests::tools::{rustydb_cli as cli, rustydb_cli_json as cli_json};
use serde_json::Value;

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rdb-backup-")
        .tempdir()
        .expect("tempdir")
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Takes a backup of `node` into `repo`; returns its manifest summary.
fn backup(node: &ClusterNode, repo: &Path, kind: &str, extra: &[&str], scratch: &Path) -> Value {
    let url = format!("http://127.0.0.1:{}", node.admin_port());
    let repo = s(repo);
    let mut args = vec![
        "backup",
        "create",
        "--type",
        kind,
        "--node-url",
        &url,
        "--repo",
        &repo,
    ];
    args.extend_from_slice(extra);
    let m = cli_json(&args, scratch);
    println!(
        "backup {} ({kind}) at LSN {}: {} of {} bytes stored",
        m["id"], m["lsn"], m["stored_bytes"], m["total_bytes"]
    );
    m
}

/// Starts a node named `name` whose data directory is what
/// `rustydb-cli backup restore <restore args>` produced. (The harness owns
/// the data directory path, so the node is started once, stopped, and its
/// data directory replaced by the restore.)
fn restored_node(name: &str, restore: &[&str], node_args: &[&str], scratch: &Path) -> ClusterNode {
    let mut node = ClusterNode::start(name, &[]);
    node.kill9();
    let data = node.server().data_dir();
    std::fs::remove_dir_all(&data).expect("remove data dir");
    let target = s(&data);
    let mut args = vec!["backup", "restore"];
    args.extend_from_slice(restore);
    args.extend_from_slice(&["--target", &target]);
    let out = cli(&args, scratch);
    out.assert_success(&format!("restore {restore:?}"));
    println!("{}", out.stdout.trim());
    node.restart_with(node_args);
    node
}

fn checksums(node: &ClusterNode, tables: &[&str]) -> Vec<TableChecksum> {
    let mut c = node.connect();
    table_checksums(&mut c, tables).unwrap_or_else(|e| panic!("{}: {e}", node.name()))
}

fn scalar(node: &ClusterNode, sql: &str) -> String {
    node.connect().scalar(sql).unwrap_or_default()
}

/// The restored node must be a consistent snapshot: the writer's ids are
/// 1..n without a hole, and TPC-B's four sums agree.
fn assert_consistent(node: &ClusterNode) {
    let count: i64 = scalar(node, "SELECT count(*) FROM seq")
        .parse()
        .unwrap_or(-1);
    let max: i64 = scalar(node, "SELECT coalesce(max(id), 0) FROM seq")
        .parse()
        .unwrap_or(-2);
    assert_eq!(count, max, "{}: writer ids are not a prefix", node.name());
    let sums: Vec<String> = [
        "SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts",
        "SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers",
        "SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches",
        "SELECT coalesce(sum(delta), 0) FROM pgbench_history",
    ]
    .iter()
    .map(|q| scalar(node, q))
    .collect();
    assert!(
        sums.iter().all(|x| x == &sums[0]),
        "{}: TPC-B sums disagree: {sums:?}",
        node.name()
    );
}

/// A writer inserting 1, 2, 3, ... into `seq`, one autocommit each.
struct SeqWriter {
    stop: Arc<AtomicBool>,
    last: Arc<AtomicI64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl SeqWriter {
    fn start(node: &ClusterNode, from: i64) -> SeqWriter {
        let stop = Arc::new(AtomicBool::new(false));
        let last = Arc::new(AtomicI64::new(from - 1));
        let mut client = node.connect();
        let (stop2, last2) = (stop.clone(), last.clone());
        let handle = thread::spawn(move || {
            let mut id = from;
            while !stop2.load(Ordering::Acquire) {
                let out = client.simple(&format!("INSERT INTO seq VALUES ({id})"));
                assert!(out.is_ok(), "insert {id}: {out}");
                last2.store(id, Ordering::Release);
                id += 1;
                thread::sleep(Duration::from_millis(2));
            }
        });
        SeqWriter {
            stop,
            last,
            handle: Some(handle),
        }
    }

    fn stop(mut self) -> i64 {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            h.join().expect("writer thread");
        }
        self.last.load(Ordering::Acquire)
    }
}

/// Runs pgbench on `node` for `secs` in the background.
fn load(node: &ClusterNode, secs: u32, scratch: &Path) -> thread::JoinHandle<()> {
    let port = node.port();
    let dir = scratch.to_path_buf();
    thread::spawn(move || {
        let t = secs.to_string();
        pgbench(port, &["-n", "-c", "2", "-T", &t], &dir).assert_success("pgbench load");
    })
}

/// Waits until the archive holds everything up to the node's LSN.
fn wait_archived(node: &ClusterNode) -> u64 {
    let lsn = node.lsn().expect("lsn");
    wait_until(
        "the WAL archive to catch up",
        Duration::from_secs(60),
        || {
            let archived = node.status_field("wal_archive")["archived_lsn"].as_u64();
            match archived {
                Some(a) if a >= lsn => Ok(a),
                other => Err(format!("archived {other:?} of {lsn}")),
            }
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", node.describe()))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).expect("copy");
        }
    }
}

const TABLES: [&str; 5] = [
    "pgbench_accounts",
    "pgbench_branches",
    "pgbench_tellers",
    "pgbench_history",
    "seq",
];

#[test]
fn backups_under_load_restore_exactly() {
    let dir = scratch();
    let repo = dir.path().join("repo");
    let repo_s = s(&repo);
    let p = ClusterNode::primary("p", &["--wal-archive", &repo_s]);
    let r = ClusterNode::replica("r", &p, &[]);
    pgbench(p.port(), &["-i", "-s", "1"], dir.path()).assert_success("pgbench -i");
    p.connect().must("CREATE TABLE seq (id int PRIMARY KEY)");
    wait_caught_up(&p, &[&r]);

    // Full backup under load, from the replica.
    let writer = SeqWriter::start(&p, 1);
    let bench = load(&p, 6, dir.path());
    thread::sleep(Duration::from_secs(2));
    let full = backup(&r, &repo, "full", &[], dir.path());
    bench.join().expect("load");

    // More load, incremental under load.
    let bench = load(&p, 6, dir.path());
    thread::sleep(Duration::from_secs(2));
    let incr = backup(&r, &repo, "incremental", &[], dir.path());
    bench.join().expect("load");
    let last_id = writer.stop();
    assert_eq!(incr["parent"], full["id"]);
    assert!(
        incr["stored_bytes"].as_u64() < incr["total_bytes"].as_u64(),
        "an incremental backup stores less than the whole database: {incr}"
    );

    // Quiesced: the cluster's content at its final LSN.
    let final_lsn = wait_caught_up(&p, &[&r]);
    let live = checksums(&p, &TABLES);
    wait_archived(&p);
    let quiet = backup(&r, &repo, "incremental", &[], dir.path());
    assert_eq!(quiet["lsn"].as_u64(), Some(final_lsn));
    println!("writer wrote ids 1..{last_id}; final LSN {final_lsn}");

    // Each backup restores at exactly its LSN, consistently.
    for (m, name) in [(&full, "rf"), (&incr, "ri")] {
        let id = m["id"].as_str().expect("id");
        let node = restored_node(name, &[id, "--repo", &repo_s], &[], dir.path());
        assert_eq!(
            node.lsn().ok(),
            m["lsn"].as_u64(),
            "{name} starts at the backup's LSN"
        );
        assert_consistent(&node);
    }

    // The incremental's content equals a PITR to its LSN from the full
    // backup plus archived WAL (a repository copy without the incremental).
    let lsn = incr["lsn"].as_u64().expect("lsn").to_string();
    let incr_node = restored_node(
        "ri2",
        &[incr["id"].as_str().expect("id"), "--repo", &repo_s],
        &[],
        dir.path(),
    );
    let from_checkpoint = checksums(&incr_node, &TABLES);
    drop(incr_node);
    let repo2 = dir.path().join("repo-without-incrementals");
    copy_dir(&repo, &repo2);
    for m in [&incr, &quiet] {
        let id = m["id"].as_str().expect("id");
        std::fs::remove_dir_all(repo2.join("backups").join(id)).expect("remove backup");
    }
    let pitr = restored_node(
        "rp",
        &["--to-lsn", &lsn, "--repo", &s(&repo2)],
        &[],
        dir.path(),
    );
    assert_eq!(
        checksums(&pitr, &TABLES),
        from_checkpoint,
        "checkpoint and WAL replay disagree at LSN {lsn}"
    );
    drop(pitr);

    // Quiesced incremental and PITR to the final LSN equal the live cluster.
    let q = restored_node(
        "rq",
        &[quiet["id"].as_str().expect("id"), "--repo", &repo_s],
        &[],
        dir.path(),
    );
    assert_eq!(
        checksums(&q, &TABLES),
        live,
        "quiesced backup = live cluster"
    );
    drop(q);
    let final_s = final_lsn.to_string();
    let pf = restored_node(
        "rpf",
        &["--to-lsn", &final_s, "--repo", &s(&repo2)],
        &[],
        dir.path(),
    );
    assert_eq!(
        checksums(&pf, &TABLES),
        live,
        "PITR to the final LSN = live cluster"
    );
    drop(pf);

    // A restored data dir joins the cluster as a replica.
    let follow = p.addr();
    let joined = restored_node(
        "rj",
        &[quiet["id"].as_str().expect("id"), "--repo", &repo_s],
        &["--follow", &follow],
        dir.path(),
    );
    p.connect().must("INSERT INTO seq VALUES (-1)");
    wait_caught_up(&p, &[&joined]);
    assert_eq!(checksums(&joined, &TABLES), checksums(&p, &TABLES));
}

#[test]
fn pitr_brings_back_a_dropped_table() {
    let dir = scratch();
    let repo = dir.path().join("repo");
    let repo_s = s(&repo);
    let p = ClusterNode::primary("p", &["--wal-archive", &repo_s]);
    let mut c = p.connect();
    c.must("CREATE TABLE keep_me (id int PRIMARY KEY, v text)");
    for i in 1..=50 {
        c.must(&format!("INSERT INTO keep_me VALUES ({i}, 'before-{i}')"));
    }
    backup(&p, &repo, "full", &[], dir.path());
    for i in 51..=100 {
        c.must(&format!("INSERT INTO keep_me VALUES ({i}, 'before-{i}')"));
    }
    thread::sleep(Duration::from_millis(50));
    let recorded = rfc3339_now();
    thread::sleep(Duration::from_millis(50));
    for i in 101..=120 {
        c.must(&format!("INSERT INTO keep_me VALUES ({i}, 'after-{i}')"));
    }
    c.must("DROP TABLE keep_me");
    wait_archived(&p);
    println!("recorded time {recorded}");

    let node = restored_node(
        "pitr",
        &["--to-time", &recorded, "--repo", &repo_s],
        &[],
        dir.path(),
    );
    let count = scalar(&node, "SELECT count(*) FROM keep_me");
    let max = scalar(&node, "SELECT max(id) FROM keep_me");
    let after = scalar(&node, "SELECT count(*) FROM keep_me WHERE v LIKE 'after-%'");
    assert_eq!(
        (count.as_str(), max.as_str(), after.as_str()),
        ("100", "100", "0")
    );
    // The restored node is on a new timeline and writable.
    node.connect()
        .must("INSERT INTO keep_me VALUES (1000, 'new')");
    assert!(node.status_field("timeline").as_u64() > Some(1));
}

/// Now (this machine's clock, which the nodes share) as RFC 3339 with
/// microseconds.
fn rfc3339_now() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", micros / 1_000_000),
            "+%Y-%m-%dT%H:%M:%S",
        ])
        .output()
        .expect("date");
    format!(
        "{}.{:06}Z",
        String::from_utf8_lossy(&out.stdout).trim(),
        micros % 1_000_000
    )
}

#[test]
fn verify_catches_damage() {
    let dir = scratch();
    let repo = dir.path().join("repo");
    let repo_s = s(&repo);
    let p = ClusterNode::primary("p", &["--wal-archive", &repo_s]);
    pgbench(p.port(), &["-i", "-s", "1"], dir.path()).assert_success("pgbench -i");
    let full = backup(&p, &repo, "full", &[], dir.path());
    let id = full["id"].as_str().expect("id").to_string();
    pgbench(p.port(), &["-n", "-c", "1", "-t", "300"], dir.path()).assert_success("pgbench");
    wait_archived(&p);

    let ok = cli_json(&["backup", "verify", &id, "--repo", &repo_s], dir.path());
    assert_eq!(
        ok["ok"],
        Value::Bool(true),
        "intact repository verifies: {ok}"
    );
    assert!(ok["archive"]["segments"].as_u64() > Some(0), "{ok}");

    // A flipped byte in every stored file is caught, one at a time.
    let files: Vec<PathBuf> = std::fs::read_dir(repo.join("backups").join(&id).join("files"))
        .expect("files")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(files.len() >= 4, "{files:?}");
    for f in &files {
        let original = std::fs::read(f).expect("read");
        if original.is_empty() {
            continue;
        }
        let mut bad = original.clone();
        let i = bad.len() / 2;
        bad[i] ^= 0x20;
        std::fs::write(f, &bad).expect("write");
        let out = cli(&["backup", "verify", &id, "--repo", &repo_s], dir.path());
        assert!(
            !out.success,
            "a flipped byte in {} must fail verify",
            f.display()
        );
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            out.stdout.contains(&name),
            "verify names {name}: {}",
            out.stdout
        );
        std::fs::write(f, &original).expect("restore");
    }

    // A missing WAL segment is caught.
    let index = std::fs::read_to_string(repo.join("wal/index.jsonl")).expect("index");
    let entries: Vec<Value> = index
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(entries.len() >= 2, "several segments: {index}");
    let victim = &entries[entries.len() / 2];
    let path = repo.join(format!(
        "wal/{}/{:020}-{:020}.wal.lz4",
        victim["timeline"],
        victim["first_lsn"].as_u64().expect("first"),
        victim["last_lsn"].as_u64().expect("last")
    ));
    std::fs::remove_file(&path).expect("remove segment");
    let out = cli(&["backup", "verify", &id, "--repo", &repo_s], dir.path());
    assert!(!out.success, "a missing segment must fail verify");
    assert!(out.stdout.contains("missing"), "{}", out.stdout);
    let out = cli(&["backup", "verify", "--repo", &repo_s], dir.path());
    assert!(
        !out.success,
        "archive-only verify fails too: {}",
        out.stdout
    );
}

#[test]
fn encrypted_repository_needs_its_key() {
    let dir = scratch();
    let repo = dir.path().join("repo");
    let repo_s = s(&repo);
    let key = dir.path().join("key");
    let wrong = dir.path().join("wrong");
    std::fs::write(&key, "11".repeat(32)).expect("key");
    std::fs::write(&wrong, "22".repeat(32)).expect("key");
    let (key_s, wrong_s) = (s(&key), s(&wrong));
    let p = ClusterNode::primary("p", &[]);
    pgbench(p.port(), &["-i", "-s", "1"], dir.path()).assert_success("pgbench -i");
    let expected = checksums(&p, &PGBENCH_TABLES);
    let m = backup(&p, &repo, "full", &["--key-file", &key_s], dir.path());
    let id = m["id"].as_str().expect("id").to_string();

    let target = dir.path().join("no-key");
    let out = cli(
        &[
            "backup",
            "restore",
            &id,
            "--repo",
            &repo_s,
            "--target",
            &s(&target),
        ],
        dir.path(),
    );
    assert!(
        !out.success && out.stderr.contains("key file is required"),
        "{}",
        out.stderr
    );
    let out = cli(
        &[
            "backup",
            "restore",
            &id,
            "--repo",
            &repo_s,
            "--key-file",
            &wrong_s,
            "--target",
            &s(&target),
        ],
        dir.path(),
    );
    assert!(
        !out.success && out.stderr.contains("authentication failed"),
        "{}",
        out.stderr
    );

    let node = restored_node(
        "enc",
        &[&id, "--repo", &repo_s, "--key-file", &key_s],
        &[],
        dir.path(),
    );
    assert_eq!(checksums(&node, &PGBENCH_TABLES), expected);
}
