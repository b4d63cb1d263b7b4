//! Running a fan-out: nodes, one snapshot, fragments in parallel, retry.
//!
//! ```text
//!  candidates (healthy replicas first, then the primary; service policy)
//!    └─ one pooled connection per fragment (client's user/db, settings)
//!         ├─ rustydb_snapshot_range() on each node  ─► N = min(newest) >= max(oldest)
//!         ├─ split points + key column (cached per table, see FanoutCache)
//!         └─ "SET rustydb.read_lsn = N; <fragment>; RESET rustydb.read_lsn"
//!              in parallel; a node that fails is replaced by another that
//!              still holds N, else the client gets 08006 — never a partial
//!              answer
//!  merge (concatenate, or the final query on a backend) ─► client bytes
//! ```
//!
//! Anything that goes wrong before a fragment ran — no node has the
//! snapshot functions (plain PostgreSQL), no common LSN, no split points,
//! a SQL error in a fragment, a type with no exact merge — ends in
//! [`Outcome::Single`]: the session runs the statement unchanged on one
//! node, so the client sees exactly what a node says. Nothing is written to
//! the client until the whole answer is built.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use parking_lot::Mutex;

use super::analyze::{FanoutPlan, PlanKind, Reason};
use super::degree::ParallelDegree;
use super::merge;
use super::rewrite::{self, ScanMerge, Split};
use crate::config::ReadPolicy;
use crate::error::ProxyError;
use crate::pool::{PoolKey, PooledConn, ServerConn};
use crate::state::Shared;
use crate::topology::{BackendInfo, Role};
use crate::wire::Frame;

/// Split points are re-read after this long.
const SPLIT_TTL: Duration = Duration::from_secs(30);
/// A backend without the snapshot functions is not asked again for this long.
const UNSUPPORTED_TTL: Duration = Duration::from_secs(60);
/// Partial rows buffered at most (all fragments); more runs on one node.
pub(super) const MAX_PARTIAL_BYTES: usize = 256 << 20;

/// (database, table, degree) → when read, and the split (`None`: none).
type SplitCache = HashMap<(String, String, u32), (Instant, Option<Split>)>;

/// Per-process caches of the fan-out (in [`Shared`]).
#[derive(Debug, Default)]
pub struct FanoutCache {
    splits: Mutex<SplitCache>,
    unsupported: Mutex<HashMap<String, Instant>>,
}

impl FanoutCache {
    fn split(&self, key: &(String, String, u32)) -> Option<Option<Split>> {
        let splits = self.splits.lock();
        let (at, split) = splits.get(key)?;
        (at.elapsed() < SPLIT_TTL).then(|| split.clone())
    }

    fn unsupported(&self, addr: &str) -> bool {
        self.unsupported
            .lock()
            .get(addr)
            .is_some_and(|at| at.elapsed() < UNSUPPORTED_TTL)
    }
}

/// Who asks, as the session knows it.
pub struct FanoutCtx<'a> {
    pub shared: &'a Shared,
    pub user: &'a str,
    pub database: &'a str,
    pub service: &'a str,
    pub password: Option<&'a str>,
    pub settings_hash: u64,
    pub settings_sql: String,
    /// Read-your-writes floor: replicas behind it are not used.
    pub min_lsn: Option<u64>,
    /// The session's consistency level: replicas where it does not allow
    /// reads are not used (`crate::routing::consistency`).
    pub consistency: crate::routing::Consistency,
}

/// What the session does next.
#[derive(Debug)]
pub enum Outcome {
    /// The complete answer (without ReadyForQuery).
    Answer(BytesMut),
    /// Run the statement unchanged on one node.
    Single(Reason),
}

/// One fragment's answer.
#[derive(Debug, Default)]
pub(super) struct Answer {
    pub desc: Option<Frame>,
    pub rows: Vec<Frame>,
    pub error: Option<(String, String)>,
    pub bytes: usize,
}

/// The nodes a fan-out may use, best first.
pub(super) fn candidates(ctx: &FanoutCtx<'_>) -> Vec<BackendInfo> {
    let config = ctx.shared.config();
    let service = config.services.get(ctx.service);
    let policy = service
        .and_then(|s| s.read_policy)
        .unwrap_or(config.routing.read_policy);
    let topo = ctx.shared.topology.snapshot();
    let cache = &ctx.shared.fanout;
    let usable = |b: &&BackendInfo| b.healthy && !b.banned && !cache.unsupported(&b.addr);
    let primary_only = policy == ReadPolicy::PrimaryOnly || !config.routing.read_write_split;
    let site = crate::routing::Site::of(&config, &topo);
    let mut out: Vec<BackendInfo> = Vec::new();
    if !primary_only {
        out.extend(
            topo.backends
                .iter()
                .filter(usable)
                .filter(|b| b.role == Role::Replica && !b.noloadbalance)
                .filter(|b| site.admits(ctx.consistency, b))
                .filter(|b| match ctx.min_lsn {
                    Some(floor) => b.replay_lsn.is_some_and(|l| l >= floor),
                    None => true,
                })
                .cloned(),
        );
    }
    if policy != ReadPolicy::ReplicaOnly || primary_only {
        out.extend(
            topo.backends
                .iter()
                .filter(usable)
                .filter(|b| b.role == Role::Primary)
                .cloned(),
        );
    }
    out
}

/// A connection to `backend` with the client's settings applied.
pub(super) async fn connect(
    ctx: &FanoutCtx<'_>,
    backend: &BackendInfo,
) -> Result<PooledConn, ProxyError> {
    let key = PoolKey {
        user: ctx.user.to_string(),
        database: ctx.database.to_string(),
        backend: backend.id.clone(),
    };
    let pool = ctx.shared.pools.pool(&key);
    let mut conn = match ctx
        .shared
        .pools
        .acquire_in(&pool, &backend.addr, ctx.password)
        .await
    {
        Ok(c) => c,
        Err(e @ ProxyError::Backend { .. }) => {
            ctx.shared
                .topology
                .report_failure(&backend.id, &e.to_string());
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let server = conn.conn();
    if server.settings_hash != ctx.settings_hash {
        if let Some(error) = server.run_discarding(&ctx.settings_sql).await? {
            tracing::warn!(%error, "a client setting was refused by the backend");
        }
        server.settings_hash = ctx.settings_hash;
    }
    Ok(conn)
}

/// Runs a simple query and collects its rows (the first result set).
pub(super) async fn simple(conn: &mut ServerConn, sql: &[u8]) -> Result<Answer, ProxyError> {
    let mut body = Vec::with_capacity(sql.len() + 1);
    body.extend_from_slice(sql);
    body.push(0);
    conn.send(Frame::new(b'Q', &body).raw()).await?;
    collect(conn, 1).await
}

/// Reads the answer of a query already sent, up to its ReadyForQuery.
pub(super) async fn collect_rest(conn: &mut ServerConn) -> Result<Answer, ProxyError> {
    collect(conn, 1).await
}

/// Reads responses up to the `syncs`-th ReadyForQuery.
async fn collect(conn: &mut ServerConn, mut syncs: usize) -> Result<Answer, ProxyError> {
    let mut answer = Answer::default();
    loop {
        let frame = conn.recv().await?;
        match frame.tag() {
            b'T' if answer.desc.is_none() => answer.desc = Some(frame),
            b'D' => {
                answer.bytes += frame.raw().len();
                if answer.bytes <= MAX_PARTIAL_BYTES {
                    answer.rows.push(frame);
                }
            }
            b'E' if answer.error.is_none() => {
                let code = crate::pool::server_conn::error_field(&frame, b'C')
                    .unwrap_or_else(|| "XX000".into());
                answer.error = Some((code, crate::pool::server_conn::error_text(&frame)));
            }
            b'Z' => {
                conn.status = frame.body().first().copied().unwrap_or(b'I');
                syncs -= 1;
                if syncs == 0 {
                    if answer.error.is_some() {
                        // Settings of a failed statement may linger: close it.
                        conn.broken = true;
                    }
                    return Ok(answer);
                }
            }
            // COPY cannot come from a SELECT; refuse it like run_discarding.
            b'G' | b'H' | b'W' => {
                conn.broken = true;
                return Err(ProxyError::Backend {
                    addr: conn.addr.clone(),
                    message: "unexpected COPY in a fan-out fragment".into(),
                });
            }
            _ => {}
        }
    }
}

/// `(oldest, newest)` LSNs a node can read at.
pub(super) async fn snapshot_range(
    conn: &mut ServerConn,
) -> Result<Option<(u64, u64)>, ProxyError> {
    let answer = simple(conn, b"SELECT * FROM rustydb_snapshot_range()").await?;
    if answer.error.is_some() {
        return Ok(None);
    }
    let Some(row) = answer.rows.first() else {
        return Ok(None);
    };
    let values = merge::data_row_values(row.body()).unwrap_or_default();
    let num = |i: usize| -> Option<u64> {
        let v = values.get(i).copied().flatten()?;
        std::str::from_utf8(v).ok()?.trim().parse().ok()
    };
    Ok(num(0).zip(num(1)))
}

/// Everything known before the fragments run (also what EXPLAIN shows).
pub(super) struct Prepared {
    pub conns: Vec<PooledConn>,
    pub nodes: Vec<BackendInfo>,
    pub candidates: Vec<BackendInfo>,
    pub split: Split,
    pub lsn: u64,
    pub fragments: Vec<String>,
}

/// Nodes, connections, snapshot LSN and split points.
pub(super) async fn prepare(
    ctx: &FanoutCtx<'_>,
    plan: &FanoutPlan,
    degree: ParallelDegree,
) -> Result<Result<Prepared, Reason>, ProxyError> {
    let candidates = candidates(ctx);
    if candidates.is_empty() {
        return Ok(Err("no_nodes"));
    }
    let degree = degree.resolve(candidates.len());
    if degree < 2 {
        return Ok(Err("degree_1"));
    }
    let key = (
        ctx.database.to_string(),
        plan.driving.relname.clone(),
        degree,
    );
    let cached = ctx.shared.fanout.split(&key);
    if matches!(cached, Some(None)) {
        // Known not to split (no key, too small): skip the round trips.
        return Ok(Err("no_split_points"));
    }
    let nodes: Vec<BackendInfo> = (0..degree as usize)
        .map(|i| candidates[i % candidates.len()].clone())
        .collect();
    let acquired = futures::future::join_all(nodes.iter().map(|n| connect(ctx, n))).await;
    let mut conns = Vec::with_capacity(acquired.len());
    for c in acquired {
        match c {
            Ok(c) => conns.push(c),
            Err(ProxyError::Backend { .. }) => return Ok(Err("connect_failed")),
            Err(e) => return Err(e),
        }
    }
    // One range per distinct node, read on its first connection.
    let mut lsn = u64::MAX;
    let mut floor = 0u64;
    let mut seen: Vec<&str> = Vec::new();
    for (node, conn) in nodes.iter().zip(conns.iter_mut()) {
        if seen.contains(&node.id.as_str()) {
            continue;
        }
        seen.push(&node.id);
        match snapshot_range(conn.conn()).await {
            Ok(Some((oldest, newest))) => {
                lsn = lsn.min(newest);
                floor = floor.max(oldest);
            }
            Ok(None) => {
                ctx.shared
                    .fanout
                    .unsupported
                    .lock()
                    .insert(node.addr.clone(), Instant::now());
                return Ok(Err("no_snapshot"));
            }
            Err(_) => return Ok(Err("connect_failed")),
        }
    }
    if lsn < floor || lsn == u64::MAX {
        return Ok(Err("no_common_lsn"));
    }
    let split = match cached {
        Some(s) => s,
        None => {
            let Some(first) = conns.first_mut() else {
                return Ok(Err("no_nodes"));
            };
            let s =
                match super::probe::read_split(first.conn(), &plan.driving.relname, degree).await {
                    Ok(s) => s,
                    Err(_) => return Ok(Err("connect_failed")),
                };
            ctx.shared
                .fanout
                .splits
                .lock()
                .insert(key, (Instant::now(), s.clone()));
            s
        }
    };
    let Some(split) = split else {
        return Ok(Err("no_split_points"));
    };
    let fragments = match rewrite::fragments(plan, &split) {
        Ok(f) => f,
        Err(r) => return Ok(Err(r)),
    };
    conns.truncate(fragments.len());
    let mut nodes = nodes;
    nodes.truncate(fragments.len());
    Ok(Ok(Prepared {
        conns,
        nodes,
        candidates,
        split,
        lsn,
        fragments,
    }))
}

/// Runs one fragment at `lsn`.
async fn run_fragment(
    mut conn: PooledConn,
    sql: String,
    lsn: u64,
) -> (PooledConn, Result<Answer, ProxyError>) {
    let text = format!("SET rustydb.read_lsn = {lsn}; {sql}; RESET rustydb.read_lsn");
    let result = simple(conn.conn(), text.as_bytes()).await;
    (conn, result)
}

/// Errors that belong to the node, not the statement: another node may
/// serve the fragment at the same LSN.
fn node_specific(code: &str) -> bool {
    matches!(
        code,
        "55000" | "72000" | "57P01" | "57P02" | "57P03" | "53300"
    ) || code.starts_with("08")
}

/// The fan-out of one statement.
pub async fn run(
    ctx: &FanoutCtx<'_>,
    plan: &FanoutPlan,
    degree: ParallelDegree,
) -> Result<Outcome, ProxyError> {
    let prepared = match prepare(ctx, plan, degree).await? {
        Ok(p) => p,
        Err(reason) => return Ok(Outcome::Single(reason)),
    };
    if plan.explain {
        return Ok(Outcome::Answer(super::explain::render(plan, &prepared)));
    }
    let metrics = &ctx.shared.metrics;
    metrics
        .fanout_queries
        .with_label_values(&[ctx.service])
        .inc();
    metrics
        .fanout_fragments
        .inc_by(prepared.fragments.len() as u64);
    let Prepared {
        conns,
        nodes,
        candidates,
        lsn,
        fragments,
        split,
    } = prepared;
    let scan = scan_merge_of(plan, &split);
    let runs = conns
        .into_iter()
        .zip(fragments.iter().cloned())
        .map(|(c, sql)| run_fragment(c, sql, lsn));
    let results = futures::future::join_all(runs).await;
    let mut answers: Vec<Answer> = Vec::with_capacity(results.len());
    let mut spare: Option<PooledConn> = None;
    for (i, (conn, result)) in results.into_iter().enumerate() {
        let failed_node = nodes.get(i).map(|n| n.id.clone()).unwrap_or_default();
        let answer = match result {
            Ok(a) if a.error.as_ref().is_some_and(|(c, _)| !node_specific(c)) => {
                return Ok(Outcome::Single("fragment_error"));
            }
            Ok(a) if a.error.is_none() => {
                if spare.is_none() {
                    spare = Some(conn);
                }
                a
            }
            Ok(a) => {
                let why = a
                    .error
                    .map(|(c, m)| format!("{c}: {m}"))
                    .unwrap_or_default();
                drop(conn);
                retry(ctx, &candidates, &failed_node, &fragments[i], lsn, i, &why).await?
            }
            Err(e) => {
                ctx.shared
                    .topology
                    .report_failure(&failed_node, &e.to_string());
                drop(conn);
                retry(
                    ctx,
                    &candidates,
                    &failed_node,
                    &fragments[i],
                    lsn,
                    i,
                    &e.to_string(),
                )
                .await?
            }
        };
        answers.push(answer);
    }
    if answers.iter().map(|a| a.bytes).sum::<usize>() > MAX_PARTIAL_BYTES {
        return Ok(Outcome::Single("too_large"));
    }
    let Some(spare) = spare else {
        // Every fragment was retried: use a fresh connection for the merge.
        let Some(node) = candidates.first() else {
            return Ok(Outcome::Single("no_nodes"));
        };
        let c = connect(ctx, node).await?;
        return merge_with(ctx, plan, answers, c, scan).await;
    };
    merge_with(ctx, plan, answers, spare, scan).await
}

/// Re-runs fragment `i` on another node holding `lsn`, or fails cleanly.
async fn retry(
    ctx: &FanoutCtx<'_>,
    candidates: &[BackendInfo],
    failed: &str,
    sql: &str,
    lsn: u64,
    i: usize,
    why: &str,
) -> Result<Answer, ProxyError> {
    tracing::info!(
        fragment = i,
        node = failed,
        error = why,
        "retrying a fan-out fragment"
    );
    for node in candidates.iter().filter(|n| n.id != failed) {
        ctx.shared.metrics.fanout_retries.inc();
        let Ok(mut conn) = connect(ctx, node).await else {
            continue;
        };
        match snapshot_range(conn.conn()).await {
            Ok(Some((oldest, _))) if oldest <= lsn => {}
            _ => continue,
        }
        let (_conn, result) = run_fragment(conn, sql.to_string(), lsn).await;
        match result {
            Ok(a) if a.error.is_none() => return Ok(a),
            Ok(a) if a.error.as_ref().is_some_and(|(c, _)| node_specific(c)) => continue,
            Ok(a) => {
                let (code, message) = a.error.unwrap_or_default();
                return Err(ProxyError::client(
                    "58000",
                    format!(
                        "fan-out fragment {} failed on retry: {code}: {message}",
                        i + 1
                    ),
                ));
            }
            Err(_) => continue,
        }
    }
    Err(ProxyError::client(
        "08006",
        format!(
            "fan-out fragment {} failed on {failed} ({why}) and no other node could read LSN {lsn}",
            i + 1
        ),
    ))
}

/// Merges the fragments' answers (see [`merge`] and [`rewrite`]).
async fn merge_with(
    ctx: &FanoutCtx<'_>,
    plan: &FanoutPlan,
    answers: Vec<Answer>,
    mut conn: PooledConn,
    scan: Option<ScanMerge>,
) -> Result<Outcome, ProxyError> {
    let started = Instant::now();
    let outcome = super::finish::finish(plan, answers, conn.conn(), scan).await;
    ctx.shared
        .metrics
        .fanout_merge_seconds
        .observe(started.elapsed().as_secs_f64());
    outcome
}

/// The scan merge of a plan (for the finisher and EXPLAIN).
pub(super) fn scan_merge_of(plan: &FanoutPlan, split: &Split) -> Option<ScanMerge> {
    match &plan.kind {
        PlanKind::Scan(scan) => Some(rewrite::scan_merge(
            scan,
            &plan.driving.qualifier,
            &split.pk,
        )),
        PlanKind::Aggregate(_) => None,
    }
}
