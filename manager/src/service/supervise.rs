//! Supervision of a local node process (`[supervise]` in manager.toml).
//!
//! The member starts `rustydb node ARGS` (or the configured program) as a
//! child, restarts it after it exits (instance recovery happens inside the
//! node at start), with a one-second back-off so a node that cannot start
//! does not spin. `POST /restart` stops the child; the loop starts it
//! again. Stopping means SIGTERM (the node shuts down in order: sessions
//! rolled back, storage flushed), then SIGKILL after [`STOP_GRACE`].
//!
//! Administrative stop (`POST /stop`, `POST /start`) is declarative: the
//! leader records the node's `stopped` flag in Raft, and every member
//! that supervises a node follows that flag ([`follow_state`] feeds it to
//! the loop through the `held` watch). While held, the child is stopped
//! and not restarted, whatever else happens (a crash, `/restart`, a
//! restart of this member: the flag is read from the replicated state,
//! which survives on disk). Clearing the flag starts the node again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::{watch, Notify};

use super::config::SuperviseEntry;
use super::Service;

/// How long a node gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// SIGTERM, a bounded wait, then SIGKILL; reaps the child.
pub(crate) async fn stop_child(child: &mut tokio::process::Child) {
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
    held: Arc<watch::Sender<bool>>,
    task: Arc<parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Supervisor {
    /// Starts the loop; it runs until `stop` turns true. `held`: whether
    /// the node starts administratively stopped.
    pub fn start(entry: &SuperviseEntry, stop: watch::Receiver<bool>, held: bool) -> Supervisor {
        let restart = Arc::new(Notify::new());
        let (held_tx, held_rx) = watch::channel(held);
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
        let task = tokio::spawn(supervise(
            program,
            args,
            Arc::clone(&restart),
            held_rx,
            stop,
        ));
        Supervisor {
            node: entry.node.clone(),
            restart,
            held: Arc::new(held_tx),
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

    /// Whether the node is held down (administratively stopped).
    pub fn is_held(&self) -> bool {
        *self.held.borrow()
    }

    /// Holds the node down (`true`) or lets it run (`false`).
    pub fn hold(&self, held: bool) {
        self.held.send_if_modified(|h| {
            let changed = *h != held;
            *h = held;
            changed
        });
    }
}

/// Keeps the supervisor's `held` flag equal to the supervised node's
/// `stopped` flag in the replicated state, until the service stops.
pub async fn follow_state(service: Arc<Service>) {
    let Some(supervisor) = service.supervisor.clone() else {
        return;
    };
    let mut stop = service.stop.subscribe();
    let mut applied = service.raft.watch();
    loop {
        let stopped = service
            .raft
            .state()
            .1
            .nodes
            .get(&supervisor.node)
            .is_some_and(|n| n.stopped);
        if stopped != supervisor.is_held() {
            tracing::info!(node = %supervisor.node, stopped, "administrative state changed");
            supervisor.hold(stopped);
        }
        tokio::select! {
            changed = applied.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}

/// Resolves once `held` is true.
async fn until_held(held: &mut watch::Receiver<bool>) {
    while !*held.borrow_and_update() {
        if held.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn supervise(
    program: PathBuf,
    args: Vec<String>,
    restart: Arc<Notify>,
    mut held: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        if *held.borrow_and_update() {
            tracing::info!("supervised node is administratively stopped; waiting for /start");
            tokio::select! {
                changed = held.changed() => if changed.is_err() { return },
                _ = stop.changed() => return,
            }
            continue;
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
            _ = until_held(&mut held) => {
                tracing::info!("stopping the supervised node (administrative stop)");
                stop_child(&mut child).await;
                continue;
            }
            _ = stop.changed() => {
                stop_child(&mut child).await;
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A supervised "node" that appends its pid to `file` at each start.
    fn entry(file: &std::path::Path) -> SuperviseEntry {
        SuperviseEntry {
            node: "n1".into(),
            program: Some(PathBuf::from("/bin/sh")),
            args: vec![
                "-c".into(),
                format!("echo $$ >> {}; exec sleep 30", file.display()),
            ],
        }
    }

    fn starts(file: &std::path::Path) -> usize {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .count()
    }

    async fn wait_starts(file: &std::path::Path, n: usize) {
        for _ in 0..100 {
            if starts(file) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} starts, saw {}", starts(file));
    }

    #[tokio::test]
    async fn a_held_node_is_stopped_and_not_restarted_until_released() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("starts");
        let (stop, stop_rx) = watch::channel(false);
        let s = Supervisor::start(&entry(&file), stop_rx, false);
        wait_starts(&file, 1).await;
        let pid = std::fs::read_to_string(&file).unwrap_or_default();
        let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
        assert!(proc_dir.exists(), "{}", proc_dir.display());
        s.hold(true);
        // Stopped (SIGTERM ends `sleep`; the loop reaps it), and not
        // started again.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!proc_dir.exists(), "{} still runs", proc_dir.display());
        assert_eq!(starts(&file), 1);
        // A restart request while held does not start it either.
        s.restart();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(starts(&file), 1);
        s.hold(false);
        wait_starts(&file, 2).await;
        let _ = stop.send(true);
        s.join().await;
    }

    #[tokio::test]
    async fn a_node_held_at_start_is_never_started() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("starts");
        let (stop, stop_rx) = watch::channel(false);
        let s = Supervisor::start(&entry(&file), stop_rx, true);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(starts(&file), 0);
        s.hold(false);
        wait_starts(&file, 1).await;
        let _ = stop.send(true);
        s.join().await;
    }
}
