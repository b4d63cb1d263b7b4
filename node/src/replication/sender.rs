//! The WAL sender: the replication listener and one task per replica.
//!
//! A connection starts with the replica's `Hello`. For a stream, the sender
//! compares timeline histories (see `wal::TimelineHistory::fork_point`) and
//! answers `Welcome` (then streams from the replica's next LSN),
//! `Diverged` (the replica must rewind first) or `NeedClone` (the WAL it
//! needs is gone). Streaming reads raw records from the `wal` column family
//! in batches of up to `batch_max_bytes`, compresses them as configured and
//! sends them; when there is nothing new it waits on the storage's LSN watch
//! and sends a keepalive every second. A second task reads the replica's
//! acknowledgements and feeds them to the `ReplicaSet`, which is what wakes
//! synchronous commits.
//!
//! A stream ends on any I/O error, on an acknowledgement timeout, when the
//! node's role or log changes (`Replication::epoch`), or when the WAL it
//! needs was trimmed (the replica is told to re-clone).
//!
//! Latency (every sync commit waits for this path): the committer's LSN
//! watch wakes the sender as soon as a group is durable, and a caught-up
//! sender takes those records from the storage's in-memory WAL tail
//! (`read_wal_recent`), so nothing waits on a poll interval or a blocking
//! read; the socket has TCP_NODELAY and each frame goes out in one write.

use std::sync::Arc;
use std::time::Duration;

use rustydb_sql::storage::Lsn;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::proto::{self, Ack, Diverged, Hello, Keepalive, Message, Purpose, Welcome};
use super::tls::Stream;
use super::Replication;
use crate::error::{NodeError, Result};
use crate::storage::{now_micros, Access, RocksStorage};

/// How long a replica may stay silent before its stream is dropped.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle keepalive period.
const KEEPALIVE: Duration = Duration::from_secs(1);
/// Most records per batch (besides the byte cap).
const BATCH_RECORDS: usize = 10_000;

/// Binds the replication listener and records its address.
pub async fn bind(
    repl: &Arc<Replication>,
    addr: std::net::SocketAddr,
) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let _ = repl.endpoint.set(bound);
    tracing::info!(%bound, "replication listener bound");
    Ok(listener)
}

/// Accepts replica connections until the node stops.
pub async fn serve(repl: Arc<Replication>, listener: TcpListener) {
    let mut stop = repl.stop.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "replication accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let repl = repl.clone();
        tokio::spawn(async move {
            let stream: Box<dyn Stream> = match &repl.tls {
                Some(tls) => match tls.accept(tcp).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "replication TLS handshake failed");
                        return;
                    }
                },
                None => Box::new(tcp),
            };
            if let Err(e) = handle(repl, stream, peer.to_string()).await {
                tracing::info!(%peer, error = %e, "replication connection ended");
            }
        });
    }
}

async fn handle(repl: Arc<Replication>, mut stream: Box<dyn Stream>, peer: String) -> Result<()> {
    let (tag, payload) =
        tokio::time::timeout(Duration::from_secs(10), proto::read_frame(&mut stream))
            .await
            .map_err(|_| proto::protocol("no hello within 10 s".into()))??;
    if tag != proto::TAG_HELLO {
        return Err(proto::protocol(format!("expected hello, got tag {tag}")));
    }
    let hello: Hello = proto::parse_json(&payload, "hello")?;
    let rocks = repl.rocks();
    if rocks.access() == Access::Fenced {
        return refuse(
            &mut stream,
            "this node is not serving yet (checking its timeline)",
        )
        .await;
    }
    match hello.purpose {
        Purpose::Clone => super::clone::send(&repl, &rocks, &mut stream, &hello.name).await,
        Purpose::Stream => {
            let Some(from) = handshake(&rocks, &mut stream, &hello).await? else {
                return Ok(());
            };
            stream_records(&repl, rocks, stream, &hello.name, &peer, from).await
        }
    }
}

async fn refuse(stream: &mut Box<dyn Stream>, message: &str) -> Result<()> {
    proto::write_json(
        stream,
        proto::TAG_REFUSED,
        &Message {
            message: message.to_string(),
        },
    )
    .await
}

/// Answers the hello; returns the LSN to stream from when it is a welcome.
async fn handshake(
    rocks: &Arc<RocksStorage>,
    stream: &mut Box<dyn Stream>,
    hello: &Hello,
) -> Result<Option<u64>> {
    let history = rocks.history();
    let last = rocks.last_lsn().0;
    let system_id = rocks.system_id()?;
    if hello.last_lsn > 0 && hello.system_id != 0 && hello.system_id != system_id {
        refuse(
            stream,
            &format!(
                "replica {} belongs to another database system ({} != {system_id}); re-create it",
                hello.name, hello.system_id
            ),
        )
        .await?;
        return Ok(None);
    }
    let fork = history
        .fork_point(&hello.history)
        .unwrap_or(u64::MAX)
        .min(last);
    if hello.last_lsn > fork {
        tracing::info!(replica = %hello.name, replica_lsn = hello.last_lsn, fork, "replica diverged");
        proto::write_json(
            stream,
            proto::TAG_DIVERGED,
            &Diverged {
                fork_lsn: fork,
                history,
            },
        )
        .await?;
        return Ok(None);
    }
    let from = hello.last_lsn + 1;
    if from <= last {
        if let Err(NodeError::WalGone { oldest, .. }) = rocks.read_wal_raw(Lsn(from), 1, 1) {
            let message = format!("WAL from LSN {from} is gone (oldest kept: {oldest}); re-clone");
            tracing::info!(replica = %hello.name, from, oldest, "replica needs a re-clone");
            proto::write_json(stream, proto::TAG_NEED_CLONE, &Message { message }).await?;
            return Ok(None);
        }
    }
    proto::write_json(
        stream,
        proto::TAG_WELCOME,
        &Welcome {
            system_id,
            history,
            primary_lsn: last,
        },
    )
    .await?;
    Ok(Some(from))
}

async fn stream_records(
    repl: &Arc<Replication>,
    rocks: Arc<RocksStorage>,
    stream: Box<dyn Stream>,
    name: &str,
    peer: &str,
    from: u64,
) -> Result<()> {
    let id = repl.replicas.register(name, peer, from);
    let (reader, mut writer) = tokio::io::split(stream);
    let acks = tokio::spawn(read_acks(repl.clone(), rocks.clone(), reader, id));
    let result = send_loop(repl, &rocks, &mut writer, id, from, &acks).await;
    acks.abort();
    let _ = writer.shutdown().await;
    let why = match &result {
        Ok(()) => "stream closed".to_string(),
        Err(e) => e.to_string(),
    };
    repl.replicas.unregister(id, &why);
    result
}

async fn send_loop(
    repl: &Arc<Replication>,
    rocks: &Arc<RocksStorage>,
    writer: &mut tokio::io::WriteHalf<Box<dyn Stream>>,
    id: u64,
    from: u64,
    acks: &tokio::task::JoinHandle<Result<()>>,
) -> Result<()> {
    let mut lsn_rx = rocks.subscribe_lsn();
    let mut epoch = repl.epoch.subscribe();
    let mut stop = repl.stop.subscribe();
    let config = &repl.config;
    let delay = Duration::from_millis(config.batch_delay_ms);
    let mut pos = from;
    loop {
        if epoch.has_changed().unwrap_or(true) || *stop.borrow() || acks.is_finished() {
            return Ok(());
        }
        // Caught up: the records just committed are in memory, ship them
        // without a blocking read (this is on every sync commit's path).
        let batch = match rocks.read_wal_recent(Lsn(pos), BATCH_RECORDS, config.batch_max_bytes) {
            Some(recent) => Ok(recent),
            None => {
                let rocks = rocks.clone();
                let max = config.batch_max_bytes;
                tokio::task::spawn_blocking(move || {
                    rocks.read_wal_raw(Lsn(pos), BATCH_RECORDS, max).map(|v| {
                        v.into_iter()
                            .map(|(lsn, r)| (lsn, std::sync::Arc::<[u8]>::from(r)))
                            .collect::<Vec<_>>()
                    })
                })
                .await
                .map_err(|e| NodeError::Replication(format!("WAL read task: {e}")))?
            }
        };
        let batch = match batch {
            Ok(b) => b,
            Err(NodeError::WalGone { oldest, .. }) => {
                let message =
                    format!("WAL from LSN {pos} was trimmed (oldest: {oldest}); re-clone");
                proto::write_json(writer, proto::TAG_NEED_CLONE, &Message { message }).await?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if batch.is_empty() {
            lsn_rx.borrow_and_update();
            if rocks.last_lsn().0 >= pos {
                continue;
            }
            tokio::select! {
                _ = lsn_rx.changed() => {}
                _ = epoch.changed() => return Ok(()),
                _ = stop.changed() => return Ok(()),
                _ = tokio::time::sleep(KEEPALIVE) => {
                    let ka = Keepalive { primary_lsn: rocks.last_lsn().0, time_micros: now_micros() };
                    proto::write_frame(writer, proto::TAG_KEEPALIVE, &ka.encode()).await?;
                }
            }
            continue;
        }
        let last = batch.last().map_or(pos, |(lsn, _)| lsn.0);
        let records: Vec<std::sync::Arc<[u8]>> = batch.into_iter().map(|(_, r)| r).collect();
        let payload = proto::encode_records(&records, config.compression)?;
        proto::write_frame(writer, proto::TAG_RECORDS, &payload).await?;
        repl.replicas.sent(id, last);
        pos = last + 1;
        if !delay.is_zero() {
            // WAN batching: let more commits accumulate before the next read.
            tokio::time::sleep(delay).await;
        }
    }
}

async fn read_acks(
    repl: Arc<Replication>,
    rocks: Arc<RocksStorage>,
    mut reader: tokio::io::ReadHalf<Box<dyn Stream>>,
    id: u64,
) -> Result<()> {
    loop {
        let (tag, payload) = tokio::time::timeout(ACK_TIMEOUT, proto::read_frame(&mut reader))
            .await
            .map_err(|_| proto::protocol("replica silent for 30 s".into()))??;
        if tag != proto::TAG_ACK {
            return Err(proto::protocol(format!("expected ack, got tag {tag}")));
        }
        let ack = Ack::decode(&payload)?;
        repl.replicas.ack(
            id,
            ack.flushed,
            ack.applied,
            ack.oldest_commit_micros,
            rocks.last_lsn().0,
        );
    }
}
