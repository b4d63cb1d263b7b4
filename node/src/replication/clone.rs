//! Re-cloning a replica from a RocksDB checkpoint of its upstream.
//!
//! Sender: RocksDB writes a checkpoint (hard links to the immutable SST
//! files plus a fresh MANIFEST; consistent by construction) into a temporary
//! directory beside the live database; each file goes out as `CloneFile
//! {name, size}` followed by its bytes in `CloneChunk`s, then `CloneDone`;
//! the checkpoint is deleted whatever happens.
//!
//! Receiver: the files land in `DATA/db-N.partial/`, are fsynced, the
//! directory is renamed to `db-N` and opened as a RocksDB (which proves it
//! is whole and yields its LSN, history and system id), recorded as live in
//! `DATA/DATABASE`, and swapped in under the SQL engine. Then streaming
//! resumes from the checkpoint's LSN. An interrupted clone leaves only a
//! `.partial` directory, removed at the next start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::proto::{self, CloneDone, CloneFile, Purpose};
use super::tls::Stream;
use super::Replication;
use crate::error::{NodeError, Result};
use crate::storage::{Access, RocksStorage};

const CHUNK: usize = 1 << 20;
const FRAME_TIMEOUT: Duration = Duration::from_secs(60);

/// Streams a fresh checkpoint of `rocks` to a replica.
pub async fn send(
    repl: &Replication,
    rocks: &Arc<RocksStorage>,
    stream: &mut Box<dyn Stream>,
    replica: &str,
) -> Result<()> {
    let dir = repl
        .data_dir
        .join(format!("checkpoint-{:016x}", rand::random::<u64>()));
    let result = send_checkpoint(rocks, stream, &dir, replica).await;
    if dir.exists() {
        let _ = tokio::fs::remove_dir_all(&dir).await;
    }
    result
}

async fn send_checkpoint(
    rocks: &Arc<RocksStorage>,
    stream: &mut Box<dyn Stream>,
    dir: &Path,
    replica: &str,
) -> Result<()> {
    let started = std::time::Instant::now();
    let lsn = {
        let rocks = rocks.clone();
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || rocks.checkpoint(&dir))
            .await
            .map_err(|e| NodeError::Replication(format!("checkpoint task: {e}")))??
    };
    let mut files = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        if entry.file_type().await?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    let mut total = 0u64;
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let data = tokio::fs::read(path).await?;
        total += data.len() as u64;
        proto::write_json(
            stream,
            proto::TAG_CLONE_FILE,
            &CloneFile {
                name,
                size: data.len() as u64,
            },
        )
        .await?;
        for chunk in data.chunks(CHUNK) {
            proto::write_frame(stream, proto::TAG_CLONE_CHUNK, chunk).await?;
        }
    }
    proto::write_json(stream, proto::TAG_CLONE_DONE, &CloneDone { lsn: lsn.0 }).await?;
    stream.flush().await?;
    tracing::info!(
        replica,
        files = files.len(),
        bytes = total,
        lsn = lsn.0,
        ms = started.elapsed().as_millis() as u64,
        "checkpoint sent"
    );
    Ok(())
}

/// Receives a checkpoint from `upstream` and makes it the live database.
pub async fn receive(repl: &Arc<Replication>, upstream: &str) -> Result<()> {
    let started = std::time::Instant::now();
    let mut stream = super::receiver::connect(repl, upstream).await?;
    super::receiver::hello(repl, &mut stream, Purpose::Clone).await?;
    let name = crate::datadir::next_db_name(&repl.data_dir);
    let partial = repl.data_dir.join(format!("{name}.partial"));
    let result = receive_files(&mut stream, &partial).await;
    let bytes = match result {
        Ok(b) => b,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&partial).await;
            return Err(e);
        }
    };
    let final_dir = repl.data_dir.join(&name);
    tokio::fs::rename(&partial, &final_dir).await?;
    let opened = {
        let dir = final_dir.clone();
        let options = repl.storage_options.clone();
        let data_dir = repl.data_dir.clone();
        let name = name.clone();
        tokio::task::spawn_blocking(move || -> Result<Arc<RocksStorage>> {
            std::fs::File::open(&data_dir)?.sync_all()?;
            let storage = RocksStorage::open(&dir, options)?;
            storage.set_access(Access::ReadOnly);
            storage.set_last_role("replica")?;
            crate::datadir::switch_to(&data_dir, &name)?;
            Ok(storage)
        })
        .await
        .map_err(|e| NodeError::Replication(format!("open clone task: {e}")))?
    };
    let storage = match opened {
        Ok(s) => s,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&final_dir).await;
            return Err(e);
        }
    };
    let lsn = storage.last_lsn().0;
    repl.install_storage(storage);
    repl.metrics.clones.inc();
    repl.replicas.event(
        "recloned",
        format!("re-cloned from {upstream} at LSN {lsn}"),
    );
    tracing::info!(
        %upstream,
        lsn,
        bytes,
        ms = started.elapsed().as_millis() as u64,
        "re-clone complete"
    );
    Ok(())
}

/// Writes the streamed files into `dir`; returns the bytes received.
async fn receive_files(stream: &mut Box<dyn Stream>, dir: &PathBuf) -> Result<u64> {
    if dir.exists() {
        tokio::fs::remove_dir_all(dir).await?;
    }
    tokio::fs::create_dir_all(dir).await?;
    let mut current: Option<(tokio::fs::File, u64, u64, String)> = None;
    let mut total = 0u64;
    loop {
        let (tag, payload) = tokio::time::timeout(FRAME_TIMEOUT, proto::read_frame(stream))
            .await
            .map_err(|_| proto::protocol("clone stalled for 60 s".into()))??;
        match tag {
            proto::TAG_CLONE_FILE => {
                finish_file(current.take()).await?;
                let file: CloneFile = proto::parse_json(&payload, "clone file")?;
                if !safe_file_name(&file.name) {
                    return Err(proto::protocol(format!("unsafe file name {:?}", file.name)));
                }
                let f = tokio::fs::File::create(dir.join(&file.name)).await?;
                current = Some((f, file.size, 0, file.name));
            }
            proto::TAG_CLONE_CHUNK => {
                let Some((f, size, written, name)) = current.as_mut() else {
                    return Err(proto::protocol("clone data before a file header".into()));
                };
                *written += payload.len() as u64;
                if *written > *size {
                    return Err(proto::protocol(format!("{name} is longer than announced")));
                }
                f.write_all(&payload).await?;
                total += payload.len() as u64;
            }
            proto::TAG_CLONE_DONE => {
                finish_file(current.take()).await?;
                let _: CloneDone = proto::parse_json(&payload, "clone done")?;
                return Ok(total);
            }
            proto::TAG_REFUSED => {
                let why: proto::Message = proto::parse_json(&payload, "refused")?;
                return Err(NodeError::Replication(format!(
                    "clone refused: {}",
                    why.message
                )));
            }
            other => {
                return Err(proto::protocol(format!(
                    "unexpected clone message tag {other}"
                )))
            }
        }
    }
}

async fn finish_file(file: Option<(tokio::fs::File, u64, u64, String)>) -> Result<()> {
    if let Some((f, size, written, name)) = file {
        if written != size {
            return Err(proto::protocol(format!(
                "{name}: received {written} of {size} bytes"
            )));
        }
        f.sync_all().await?;
    }
    Ok(())
}

/// A plain file name: no directories, no parent references.
fn safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\\')
        && !name.contains('\0')
}
