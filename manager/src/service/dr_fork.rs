//! Test-mode DR drills: promote a *fork* of the standby, not the standby.
//!
//! `dr failover --test-mode` starts a new node process next to this
//! manager member (`rustydb node --data-dir <data_dir>/dr-fork-<ms>
//! --follow <standby leader>`): it clones the standby leader's data over
//! the normal replication stream, and once it has caught up with the LSN
//! the standby leader had when the drill started, it is promoted alone on
//! a new timeline. The standby cluster keeps following production and the
//! primary site never hears of the fork; the drill's RTO is measured on
//! the fork by `dr_ops.rs` like a real failover's.
//!
//! The fork is recorded in Raft (`DrState::fork`, one at a time) with the
//! member that owns its process; `dr discard-test` stops the process
//! (SIGTERM, then SIGKILL), removes its data directory and forgets it.
//! The fork is never registered as a cluster node, so reconcile never
//! re-points it.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::client::NodeApi;
use super::error::ServiceError;
use super::http::{json, Answer};
use super::Service;
use crate::raft::{ClusterCommand, CommandResult, DrCommand, DrFork, NodeInfo};

/// How long the fork gets to clone and catch up.
const CATCH_UP_FOR: Duration = Duration::from_secs(40);

fn free_port(ip: std::net::IpAddr) -> Result<u16, ServiceError> {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| ServiceError::Failed(format!("no free port: {e}")))
}

/// Starts, catches up and promotes a fork of `leader`; answers (name,
/// pgwire address, timeline).
pub async fn start_fork(
    service: &Service,
    leader: &NodeInfo,
    time_ms: u64,
) -> Result<(String, String, Option<u64>), ServiceError> {
    if let Some(f) = &service.raft.state().1.dr.fork {
        return Err(ServiceError::conflict(format!(
            "a test-mode fork ({}) already runs; dr discard-test first",
            f.name
        )));
    }
    let target_lsn = service.health.lock().lsn(&leader.name).unwrap_or(0);
    let ip = service.config.api_listen.ip();
    let pgwire = format!("{ip}:{}", free_port(ip)?);
    let admin = format!("{ip}:{}", free_port(ip)?);
    let name = format!("fork-{time_ms}");
    let data_dir = service.config.data_dir.join(format!("dr-{name}"));
    let program = match service
        .config
        .supervise
        .as_ref()
        .and_then(|s| s.program.clone())
    {
        Some(p) => p,
        None => std::env::current_exe()
            .map_err(|e| ServiceError::Failed(format!("cannot find my executable: {e}")))?,
    };
    let log = std::fs::File::create(service.config.data_dir.join(format!("{name}.log")))
        .map_err(|e| ServiceError::Failed(format!("fork log: {e}")))?;
    let log2 = log
        .try_clone()
        .map_err(|e| ServiceError::Failed(format!("fork log: {e}")))?;
    let child = tokio::process::Command::new(&program)
        .arg("node")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--listen", &pgwire, "--admin-listen", &admin])
        .args(["--node-name", &name, "--follow", &leader.pgwire_addr])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ServiceError::Failed(format!("cannot start the fork: {e}")))?;
    service.dr.lock().fork_child = Some(child);
    let fork = DrFork {
        name: name.clone(),
        pgwire_addr: pgwire.clone(),
        admin_addr: admin.clone(),
        data_dir: data_dir.display().to_string(),
        member: service.config.id,
    };
    let record = ClusterCommand::Dr {
        command: DrCommand::SetFork { fork: Some(fork) },
    };
    if let CommandResult::Rejected { reason } = service.raft.propose(record).await? {
        stop_local(service).await;
        return Err(ServiceError::conflict(reason));
    }
    let api = NodeApi {
        client: &service.client,
        admin: &admin,
        timeout: Duration::from_secs(2),
    };
    let deadline = Instant::now() + CATCH_UP_FOR;
    loop {
        if let Ok(s) = api.status().await {
            let streaming = s.stream_state.as_deref() == Some("streaming");
            if streaming && s.lsn_number.unwrap_or(0) >= target_lsn {
                break;
            }
        }
        if Instant::now() >= deadline {
            return Err(ServiceError::Failed(format!(
                "the fork {name} did not catch up with LSN {target_lsn} within {CATCH_UP_FOR:?} (dr discard-test removes it)"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = api
        .promote()
        .await
        .map_err(|e| ServiceError::Failed(format!("cannot promote the fork: {e}")))?;
    let timeline = answer.get("timeline").and_then(|t| t.as_u64());
    tracing::warn!(fork = %name, %pgwire, ?timeline, "test-mode fork promoted");
    Ok((name, pgwire, timeline))
}

async fn stop_local(service: &Service) -> bool {
    let child = service.dr.lock().fork_child.take();
    match child {
        Some(mut c) => {
            super::supervise::stop_child(&mut c).await;
            true
        }
        None => false,
    }
}

/// `POST /dr/discard-test`.
pub async fn discard(service: &Service) -> Result<Answer, ServiceError> {
    let _guard = service.op.lock().await;
    let Some(fork) = service.raft.state().1.dr.fork.clone() else {
        return Err(ServiceError::NotFound("no test-mode fork".into()));
    };
    let stopped = if fork.member == service.config.id {
        stop_local(service).await
    } else {
        false
    };
    let removed = stopped && std::fs::remove_dir_all(&fork.data_dir).is_ok();
    let clear = ClusterCommand::Dr {
        command: DrCommand::SetFork { fork: None },
    };
    service.raft.propose(clear).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "discarded": fork.name,
            "process_stopped": stopped,
            "data_removed": removed,
            "owner_member": fork.member,
        }),
    ))
}
