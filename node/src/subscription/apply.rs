//! Applying what the stream delivers: units → local transactions.
//!
//! The worker (`worker.rs`) hands over remote transactions that arrived
//! together; `apply_pending` merges runs of them into one local transaction
//! (one commit and fsync per run, with the last LSN as progress), keeps the
//! transaction named by `ALTER SUBSCRIPTION ... SKIP` on its own, and on a
//! failed run re-applies one by one so the error names the exact remote
//! transaction. `keep_synced` drops changes of tables the subscription has
//! not synchronised (PostgreSQL's `pg_subscription_rel` rule), and `apply`
//! runs one unit on a blocking thread through `Session::apply_remote_sync`
//! (rows, progress and the table sync state in one local transaction: the
//! no-loss / no-duplicate invariant).

use std::sync::Arc;

use rustydb_sql::subscription::{Progress, RemoteChange, RemoteTxn, SubscriptionDef, SyncState};
use rustydb_sql::Session;

use super::worker::{now_micros, on_dedicated_thread, Failure};
use super::Shared;

/// Most remote transactions merged into one local transaction.
const MERGE_TXNS: usize = 1000;
/// Most row changes in one merged local transaction.
const MERGE_CHANGES: usize = 20_000;

/// Applies one unit on a blocking thread, handing the session back. The
/// progress stored with it is `progress_lsn` (default: the unit's LSN; a
/// REFRESH copy keeps the stream's position), and `sync` the table sync
/// state when it changed.
#[allow(clippy::too_many_arguments)] // the unit and where its progress goes
pub(super) async fn apply(
    shared: &Shared,
    session: Session,
    def: &SubscriptionDef,
    publication: &str,
    txn: RemoteTxn,
    copied: bool,
    progress_lsn: Option<u64>,
    sync: Option<SyncState>,
) -> (Option<Session>, Result<u64, Failure>) {
    let (name, publication) = (def.name.clone(), publication.to_string());
    let skip = def.skip_lsn != 0 && def.skip_lsn == txn.lsn && !copied;
    let lsn = txn.lsn;
    let started = std::time::Instant::now();
    let work = move || {
        let mut session = session;
        let unit = if skip {
            RemoteTxn {
                lsn,
                commit_micros: txn.commit_micros,
                changes: vec![],
            }
        } else {
            txn
        };
        let progress = Progress {
            lsn: progress_lsn.unwrap_or(lsn),
            copied: true,
        };
        let r =
            session.apply_remote_sync(&name, &publication, &unit, progress, skip, sync.as_ref());
        (session, r)
    };
    // On the worker's own thread the call runs inline (no hand-off);
    // elsewhere it must stay off the runtime's worker threads.
    let joined = if on_dedicated_thread() {
        Ok(work())
    } else {
        tokio::task::spawn_blocking(work).await
    };
    shared
        .metrics
        .apply_seconds
        .observe(started.elapsed().as_secs_f64());
    match joined {
        Ok((session, Ok(rows))) => {
            if skip {
                tracing::info!(
                    lsn,
                    "skipped remote transaction as asked by ALTER SUBSCRIPTION ... SKIP"
                );
            }
            (Some(session), Ok(rows))
        }
        Ok((session, Err(e)))
            if e.state() == rustydb_sql::SqlState::UNDEFINED_OBJECT
                && e.message().starts_with("subscription") =>
        {
            (Some(session), Err(Failure::Stop))
        }
        Ok((session, Err(e))) => (
            Some(session),
            Err(Failure::Apply {
                message: e.message(),
                lsn,
            }),
        ),
        Err(e) => (
            None,
            Err(Failure::Connect(format!("apply task failed: {e}"))),
        ),
    }
}

/// Records an applied unit in the metrics and the live state: `commits`
/// are the remote commit times of the transactions it held, the last one
/// last.
pub(super) fn applied_metrics(
    shared: &Shared,
    def: &SubscriptionDef,
    lsn: u64,
    commits: &[Option<i64>],
    rows: u64,
) {
    let now = now_micros();
    let applied = shared.metrics.delay.with_label_values(&["applied"]);
    for c in commits.iter().flatten() {
        applied.observe((now - c).max(0) as f64 / 1e6);
    }
    let commit_micros = commits.last().copied().flatten();
    let lag = commit_micros.map(|c| (now - c) as f64 / 1000.0);
    shared
        .metrics
        .rows
        .with_label_values(&[&def.name])
        .inc_by(rows);
    if let Some(l) = lag {
        shared
            .metrics
            .lag_ms
            .with_label_values(&[&def.name])
            .set(l.max(0.0) as i64);
    }
    shared
        .metrics
        .applied_lsn
        .with_label_values(&[&def.name])
        .set(i64::try_from(lsn).unwrap_or(i64::MAX));
    shared.update(&def.name, |s| {
        s.status = "streaming".into();
        s.applied_lsn = s.applied_lsn.max(lsn);
        s.rows_applied += rows;
        if commit_micros.is_some() {
            s.latest_end_micros = commit_micros;
        }
        s.apply_lag_ms = lag.or(s.apply_lag_ms);
    });
}

/// Applies remote transactions received together (in LSN order, all above
/// `applied`). Runs of them become one local transaction (rows of all, the
/// last LSN as progress): one commit, one fsync, instead of one each,
/// which is what lets the apply keep up with a busy publisher. The
/// transaction named by `ALTER SUBSCRIPTION ... SKIP` is applied on its
/// own; when a merged run fails, its transactions are applied one by one
/// so the error names the exact remote transaction (what SKIP takes).
pub(super) async fn apply_pending(
    shared: &Arc<Shared>,
    def: &SubscriptionDef,
    publication: &str,
    session: &mut Option<Session>,
    applied: &mut u64,
    pending: Vec<RemoteTxn>,
    (sync, dirty): (&mut Option<SyncState>, &mut bool),
) -> Result<(), Failure> {
    let mut runs: Vec<Vec<RemoteTxn>> = Vec::new();
    let mut changes = 0usize;
    for t in pending {
        let alone = def.skip_lsn != 0 && def.skip_lsn == t.lsn;
        let fits = !alone
            && runs.last().is_some_and(|r| {
                r.len() < MERGE_TXNS
                    && changes + t.changes.len() <= MERGE_CHANGES
                    && !r.iter().any(|x| def.skip_lsn != 0 && def.skip_lsn == x.lsn)
            });
        if fits {
            changes += t.changes.len();
            if let Some(r) = runs.last_mut() {
                r.push(t);
            }
        } else {
            changes = t.changes.len();
            runs.push(vec![t]);
        }
    }
    for run in runs {
        let commits: Vec<Option<i64>> = run.iter().map(|t| t.commit_micros).collect();
        let merged = if run.len() == 1 {
            None
        } else {
            let last = run.last().map(|t| (t.lsn, t.commit_micros));
            let (lsn, commit_micros) = last.unwrap_or((0, None));
            Some(RemoteTxn {
                lsn,
                commit_micros,
                changes: run.iter().flat_map(|t| t.changes.iter().cloned()).collect(),
            })
        };
        if let Some(m) = merged {
            let Some(sess) = session.take() else {
                return Err(Failure::Connect("apply session lost".into()));
            };
            let lsn = m.lsn;
            let state = dirty.then(|| sync.clone()).flatten();
            let (back, result) = apply(shared, sess, def, publication, m, false, None, state).await;
            *session = back;
            match result {
                Ok(rows) => {
                    *dirty = false;
                    *applied = (*applied).max(lsn);
                    applied_metrics(shared, def, lsn, &commits, rows);
                    continue;
                }
                Err(Failure::Apply { .. }) => {
                    // Find the culprit: one by one below.
                }
                Err(f) => return Err(f),
            }
        }
        for t in run {
            let Some(sess) = session.take() else {
                return Err(Failure::Connect("apply session lost".into()));
            };
            let (lsn, commit_micros) = (t.lsn, t.commit_micros);
            let state = dirty.then(|| sync.clone()).flatten();
            let (back, result) = apply(shared, sess, def, publication, t, false, None, state).await;
            *session = back;
            let rows = result?;
            *dirty = false;
            *applied = (*applied).max(lsn);
            applied_metrics(shared, def, lsn, &[commit_micros], rows);
        }
    }
    Ok(())
}

/// Drops the changes of tables the subscription has not synchronised (or
/// whose copy already holds them), as PostgreSQL's apply worker ignores
/// relations not ready in `pg_subscription_rel`. A table created by
/// replicated DDL starts empty on both sides, so it is synchronised from
/// its creation on. Returns whether `state` changed.
pub(super) fn keep_synced(state: &mut SyncState, txn: &mut RemoteTxn) -> bool {
    let mut changed = false;
    let lsn = txn.lsn;
    txn.changes.retain(|c| match c {
        RemoteChange::Ddl(sql) => {
            if let Some(name) = created_table(sql) {
                state.tables.insert(name, lsn.saturating_sub(1));
                changed = true;
            }
            true
        }
        RemoteChange::Row { table, .. } => state.applies(table, lsn),
    });
    changed
}

/// The table a replicated `CREATE TABLE public.<name> (...)` creates, named
/// as change lines name it (`public.<name>`, unquoted).
fn created_table(sql: &str) -> Option<String> {
    let rest = sql.strip_prefix("CREATE TABLE public.")?;
    let name = match rest.strip_prefix('"') {
        Some(quoted) => {
            let mut out = String::new();
            let mut chars = quoted.chars().peekable();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        out.push('"');
                    }
                    '"' => break,
                    c => out.push(c),
                }
            }
            out
        }
        None => rest.split([' ', '(']).next()?.to_string(),
    };
    Some(format!("public.{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustydb_sql::subscription::RemoteOp;

    #[test]
    fn unsynchronised_tables_are_skipped() {
        let row = |t: &str| RemoteChange::Row {
            table: t.into(),
            op: RemoteOp::Insert,
            key: vec![],
            new: Some(vec![]),
        };
        let mut state = SyncState::default();
        state.tables.insert("public.a".into(), 0);
        state.tables.insert("public.b".into(), 10);
        let mut t = RemoteTxn {
            lsn: 10,
            commit_micros: None,
            changes: vec![
                row("public.a"),
                row("public.b"),
                row("public.c"),
                RemoteChange::Ddl("CREATE TABLE public.\"N \"\"x\" (id int)".into()),
                row("public.N \"x"),
            ],
        };
        assert!(keep_synced(&mut state, &mut t));
        assert_eq!(t.changes.len(), 3, "{:?}", t.changes);
        assert_eq!(state.tables.get("public.N \"x"), Some(&9));
        assert_eq!(
            created_table("CREATE TABLE public.t (id int4)").as_deref(),
            Some("public.t")
        );
        assert_eq!(created_table("ALTER TABLE public.t ADD c int"), None);
    }
}
