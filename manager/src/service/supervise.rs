//! Supervision of a local node process (`[supervise]` in manager.toml).
//!
//! The member starts `rustydb node ARGS` (or the configured program) as a
//! child, restarts it after it exits (instance recovery happens inside the
//! node at start), with a one-second back-off so a node that cannot start
//! does not spin. `POST /restart` kills the child; the loop starts it
//! again. On shutdown the child gets SIGKILL through tokio's
//! `kill_on_drop`-style kill and is reaped.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::{watch, Notify};

use super::config::SuperviseEntry;

/// Handle on the supervision loop.
#[derive(Clone)]
pub struct Supervisor {
    pub node: String,
    restart: Arc<Notify>,
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
        tokio::spawn(supervise(program, args, Arc::clone(&restart), stop));
        Supervisor {
            node: entry.node.clone(),
            restart,
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
                let _ = child.kill().await;
            }
            _ = stop.changed() => {
                let _ = child.kill().await;
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
