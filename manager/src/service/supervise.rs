//! Supervision of a local node process (`[supervise]` in manager.toml).
//!
//! The member starts `rustydb node ARGS` (or the configured program) as a
//! child, restarts it after it exits (instance recovery happens inside the
//! node at start), with a one-second back-off so a node that cannot start
//! does not spin. `POST /restart` stops the child; the loop starts it
//! again. Stopping means SIGTERM (the node shuts down in order: sessions
//! rolled back, storage flushed), then SIGKILL after [`STOP_GRACE`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::{watch, Notify};

use super::config::SuperviseEntry;

/// How long a node gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// SIGTERM, a bounded wait, then SIGKILL; reaps the child.
async fn stop_child(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

/// Handle on the supervision loop.
#[derive(Clone)]
pub struct Supervisor {
    pub node: String,
    restart: Arc<Notify>,
    task: Arc<parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Supervisor {
    /// Starts the loop; it runs until `stop` turns true.
    pub fn start(entry: &SuperviseEntry, stop: watch::Receiver<bool>) -> Supervisor {
        let restart = Arc::new(Notify::new());
        let program = entry
            .program
            .clone()
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("rustydb"));
        let mut args = Vec::new();
        if entry.program.is_none() {
            args.push("node".to_string());
        }
        args.extend(entry.args.iter().cloned());
        let task = tokio::spawn(supervise(program, args, Arc::clone(&restart), stop));
        Supervisor {
            node: entry.node.clone(),
            restart,
            task: Arc::new(parking_lot::Mutex::new(Some(task))),
        }
    }

    /// Waits for the loop to end (after the stop signal), so the child is
    /// stopped before the runtime goes away.
    pub async fn join(&self) {
        let task = self.task.lock().take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(STOP_GRACE + Duration::from_secs(2), task).await;
        }
    }

    /// Kills the child; the loop starts it again.
    pub fn restart(&self) {
        self.restart.notify_one();
    }
}

async fn supervise(
    program: PathBuf,
    args: Vec<String>,
    restart: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let mut child = match Command::new(&program)
            .args(&args)
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(program = %program.display(), error = %e, "cannot start the node");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        tracing::info!(pid = ?child.id(), "supervised node started");
        tokio::select! {
            status = child.wait() => {
                tracing::warn!(?status, "supervised node exited; restarting");
            }
            _ = restart.notified() => {
                tracing::info!("restarting the supervised node");
                stop_child(&mut child).await;
            }
            _ = stop.changed() => {
                stop_child(&mut child).await;
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
