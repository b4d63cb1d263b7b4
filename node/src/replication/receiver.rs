//! The replica's follow loop.
//!
//! ```text
//! loop:
//!   discover: pgwire to the upstream, SHOW rustydb.replication_endpoint
//!   connect (TCP or mutual TLS), send Hello {history, last LSN}
//!   Welcome   → adopt the upstream's history, lift the fence, stream:
//!                 a reader task queues frames; the applier takes every
//!                 queued Records frame at once → storage.apply (ONE atomic,
//!                 fsynced batch) → one Ack right after that fsync
//!                 Keepalive → Ack
//!   Diverged  → rewind to the fork point (or re-clone if the WAL to undo
//!               is gone), then reconnect
//!   NeedClone → re-clone from a checkpoint, then reconnect
//!   error     → report it in the status, back off (100 ms .. 2 s), retry
//! ```
//!
//! Nothing is ever skipped: a gap or a timeline mismatch makes `apply` fail,
//! the stream ends with that error in the status, and the next handshake
//! decides again from the histories.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;

use super::proto::{self, Ack, Diverged, Hello, Keepalive, Message, Purpose, Welcome};
use super::tls::Stream;
use super::Replication;
use crate::error::{NodeError, Result};
use crate::storage::Access;

/// The upstream must send something (records or keepalives) this often.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Follows `upstream` until `stop` turns true.
pub async fn run(repl: Arc<Replication>, upstream: String, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(100);
    set_upstream(&repl, &upstream);
    loop {
        if *stop.borrow() {
            break;
        }
        set_state(&repl, "connecting", None);
        let outcome = tokio::select! {
            r = follow_once(&repl, &upstream) => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        match outcome {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(%upstream, error = %e, "replication stream failed");
                set_state(&repl, "error", Some(e.to_string()));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    set_state(&repl, "stopped", None);
}

fn set_upstream(repl: &Replication, upstream: &str) {
    repl.storage.receiver.lock().upstream = Some(upstream.to_string());
}

fn set_state(repl: &Replication, state: &'static str, error: Option<String>) {
    let mut status = repl.storage.receiver.lock();
    status.state = state;
    if error.is_some() || state == "streaming" {
        status.last_error = error;
    }
}

/// Splits `host:port` (IPv6 as `[::1]:5433`).
fn split_host_port(addr: &str) -> Result<(String, u16)> {
    let bad =
        || NodeError::Replication(format!("bad upstream address \"{addr}\" (want HOST:PORT)"));
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Asks the upstream's pgwire server where its WAL sender listens.
async fn discover(repl: &Replication, upstream: &str) -> Result<(String, SocketAddr)> {
    let (host, port) = split_host_port(upstream)?;
    let mut conf = tokio_postgres::Config::new();
    conf.host(&host)
        .port(port)
        .user(&repl.config.follow_user)
        .dbname("postgres")
        .application_name(&repl.node_name)
        .connect_timeout(Duration::from_secs(5));
    if let Some(pw) = &repl.config.follow_password {
        conf.password(pw);
    }
    let fail = |e: tokio_postgres::Error| {
        let detail = match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => e.to_string(),
        };
        NodeError::Replication(format!(
            "cannot ask {upstream} for its replication endpoint: {detail}"
        ))
    };
    let (client, connection) = conf.connect(tokio_postgres::NoTls).await.map_err(fail)?;
    let conn = tokio::spawn(connection);
    let rows = client
        .simple_query("SHOW rustydb.replication_endpoint")
        .await
        .map_err(fail);
    drop(client);
    conn.abort();
    let text = rows?
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| NodeError::Replication(format!("{upstream} has no replication endpoint")))?;
    let mut addr: SocketAddr = text.trim().parse().map_err(|_| {
        NodeError::Replication(format!(
            "{upstream} reported a bad replication endpoint \"{text}\""
        ))
    })?;
    if addr.ip().is_unspecified() {
        // Listening on every interface: reach it where we reached pgwire.
        if let Ok(ip) = host.parse() {
            addr.set_ip(ip);
        } else if let Some(resolved) = tokio::net::lookup_host((host.as_str(), addr.port()))
            .await?
            .next()
        {
            addr = resolved;
        }
    }
    if let Some(mapped) = repl.config.endpoint_map.get(&addr.to_string()) {
        addr = mapped.parse().map_err(|_| {
            NodeError::Replication(format!("endpoint_map: bad address \"{mapped}\""))
        })?;
    }
    Ok((host, addr))
}

/// Opens a connection to the upstream's WAL sender.
pub(crate) async fn connect(repl: &Replication, upstream: &str) -> Result<Box<dyn Stream>> {
    let (host, endpoint) = discover(repl, upstream).await?;
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(endpoint))
        .await
        .map_err(|_| NodeError::Replication(format!("connecting to {endpoint} timed out")))??;
    let _ = tcp.set_nodelay(true);
    Ok(match &repl.tls {
        Some(tls) => tls.connect(&host, tcp).await?,
        None => Box::new(tcp),
    })
}

/// Sends our hello for `purpose`.
pub(crate) async fn hello(
    repl: &Replication,
    stream: &mut Box<dyn Stream>,
    purpose: Purpose,
) -> Result<()> {
    let rocks = repl.rocks();
    let hello = Hello {
        name: repl.node_name.clone(),
        system_id: rocks.system_id()?,
        history: rocks.history(),
        last_lsn: rocks.last_lsn().0,
        purpose,
    };
    proto::write_json(stream, proto::TAG_HELLO, &hello).await
}

/// One connection: handshake, then stream until it ends.
async fn follow_once(repl: &Arc<Replication>, upstream: &str) -> Result<()> {
    let mut stream = connect(repl, upstream).await?;
    hello(repl, &mut stream, Purpose::Stream).await?;
    let (tag, payload) = tokio::time::timeout(UPSTREAM_TIMEOUT, proto::read_frame(&mut stream))
        .await
        .map_err(|_| proto::protocol("no handshake answer within 10 s".into()))??;
    match tag {
        proto::TAG_WELCOME => {
            let welcome: Welcome = proto::parse_json(&payload, "welcome")?;
            adopt(repl, welcome).await?;
            set_state(repl, "streaming", None);
            stream_from(repl, stream).await
        }
        proto::TAG_DIVERGED => {
            let diverged: Diverged = proto::parse_json(&payload, "diverged")?;
            drop(stream);
            rewind(repl, upstream, diverged.fork_lsn).await
        }
        proto::TAG_NEED_CLONE => {
            let why: Message = proto::parse_json(&payload, "need-clone")?;
            tracing::warn!(%upstream, reason = %why.message, "re-cloning from the upstream");
            drop(stream);
            set_state(repl, "cloning", None);
            super::clone::receive(repl, upstream).await
        }
        proto::TAG_REFUSED => {
            let why: Message = proto::parse_json(&payload, "refused")?;
            Err(NodeError::Replication(format!(
                "{upstream} refused: {}",
                why.message
            )))
        }
        other => Err(proto::protocol(format!(
            "unexpected handshake answer tag {other}"
        ))),
    }
}

/// Takes the upstream's history and identity, then lifts the fence.
async fn adopt(repl: &Arc<Replication>, welcome: Welcome) -> Result<()> {
    let rocks = repl.rocks();
    let history_changed = rocks.history() != welcome.history;
    let rocks2 = rocks.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        if rocks2.system_id()? != welcome.system_id {
            rocks2.set_system_id(welcome.system_id)?;
        }
        if history_changed {
            rocks2.set_history(welcome.history)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| NodeError::Replication(format!("adopt task: {e}")))??;
    if history_changed {
        repl.kick_senders();
    }
    repl.metrics
        .timeline
        .set(i64::try_from(rocks.timeline()).unwrap_or(i64::MAX));
    if rocks.access() == Access::Fenced {
        rocks.set_access(Access::ReadOnly);
        tracing::info!("timeline verified with the upstream; serving reads");
    }
    Ok(())
}

/// Undoes our records past `fork`; re-clones when they cannot be undone.
async fn rewind(repl: &Arc<Replication>, upstream: &str, fork: u64) -> Result<()> {
    set_state(repl, "rewinding", None);
    let rocks = repl.rocks();
    let result = tokio::task::spawn_blocking(move || rocks.rewind_to(rustydb_sql::Lsn(fork)))
        .await
        .map_err(|e| NodeError::Replication(format!("rewind task: {e}")))?;
    match result {
        Ok(()) => {
            repl.metrics.rewinds.inc();
            repl.reset_engine_caches();
            repl.kick_senders();
            repl.replicas.event(
                "rewound",
                format!("rewound to LSN {fork} to follow {upstream}"),
            );
            Ok(())
        }
        Err(NodeError::WalGone { .. }) => {
            tracing::warn!(fork, "records past the fork point are gone; re-cloning");
            set_state(repl, "cloning", None);
            super::clone::receive(repl, upstream).await
        }
        Err(e) => Err(e),
    }
}

/// Frames buffered between the socket reader and the applier.
const FRAME_QUEUE: usize = 256;
/// Most records one apply (one fsync) takes from the queue.
const APPLY_MAX_RECORDS: usize = 20_000;

/// Reads frames off the socket into `tx` until the socket or the channel
/// closes. Runs apart from the applier so records keep arriving (and
/// queueing) while a batch is being fsynced.
async fn read_frames(
    mut reader: tokio::io::ReadHalf<Box<dyn Stream>>,
    tx: tokio::sync::mpsc::Sender<Result<(u8, Vec<u8>)>>,
) {
    loop {
        let frame = tokio::time::timeout(UPSTREAM_TIMEOUT, proto::read_frame(&mut reader))
            .await
            .map_err(|_| proto::protocol("upstream silent for 10 s".into()))
            .and_then(|r| r);
        let failed = frame.is_err();
        if tx.send(frame).await.is_err() || failed {
            return;
        }
    }
}

/// Applies records as they arrive and acknowledges them.
///
/// Group flush: a reader task queues frames while the applier fsyncs, and
/// the applier then takes *every* queued record batch at once, writes them
/// in one fsynced batch and sends one acknowledgement. Under load the
/// replica thus needs one fsync per round, not one per primary group, and
/// a commit waiting in sync mode is acknowledged by the first fsync that
/// covers it. The acknowledgement goes out right after that fsync (flushed
/// and applied are the same step here: the data and the records are one
/// RocksDB batch).
async fn stream_from(repl: &Arc<Replication>, stream: Box<dyn Stream>) -> Result<()> {
    let (reader, mut writer) = tokio::io::split(stream);
    let (tx, mut rx) = tokio::sync::mpsc::channel(FRAME_QUEUE);
    let reader_task = tokio::spawn(read_frames(reader, tx));
    let result = apply_loop(repl, &mut writer, &mut rx).await;
    reader_task.abort();
    match result {
        Ok(ApplyEnd::NeedClone) => {
            drop(writer);
            let upstream = repl.upstream().unwrap_or_default();
            set_state(repl, "cloning", None);
            super::clone::receive(repl, &upstream).await
        }
        Ok(ApplyEnd::Closed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// How the apply loop ended without an error.
enum ApplyEnd {
    /// The upstream no longer has the WAL we need.
    NeedClone,
    /// The frame reader stopped without an error (cannot normally happen).
    Closed,
}

/// The applier: takes all queued frames, applies their records in one
/// batch, acknowledges. See `stream_from`.
async fn apply_loop(
    repl: &Arc<Replication>,
    writer: &mut tokio::io::WriteHalf<Box<dyn Stream>>,
    rx: &mut tokio::sync::mpsc::Receiver<Result<(u8, Vec<u8>)>>,
) -> Result<ApplyEnd> {
    let rocks = repl.rocks();
    loop {
        let Some(first) = rx.recv().await else {
            return Ok(ApplyEnd::Closed);
        };
        let mut records = Vec::new();
        let mut keepalive = false;
        let mut need_clone = false;
        let mut failure = None;
        let mut next = Some(first);
        while let Some(frame) = next.take() {
            let (tag, payload) = match frame {
                Ok(f) => f,
                Err(e) => {
                    // Apply what arrived intact first, then report.
                    failure = Some(e);
                    break;
                }
            };
            match tag {
                proto::TAG_RECORDS => records.extend(proto::decode_records(&payload)?),
                proto::TAG_KEEPALIVE => {
                    let ka = Keepalive::decode(&payload)?;
                    let mut status = repl.storage.receiver.lock();
                    status.upstream_lsn = ka.primary_lsn;
                    keepalive = true;
                }
                proto::TAG_NEED_CLONE => {
                    need_clone = true;
                    break;
                }
                other => return Err(proto::protocol(format!("unexpected message tag {other}"))),
            }
            if records.len() < APPLY_MAX_RECORDS {
                next = rx.try_recv().ok();
            }
        }
        let ack = if records.is_empty() {
            if !keepalive {
                // Only an error or a clone request arrived.
                match failure {
                    Some(e) => return Err(e),
                    None => return Ok(ApplyEnd::NeedClone),
                }
            }
            let lsn = rocks.last_lsn().0;
            Ack {
                flushed: lsn,
                applied: lsn,
                oldest_commit_micros: 0,
            }
        } else {
            apply_batch(repl, &rocks, records).await?
        };
        proto::write_frame(writer, proto::TAG_ACK, &ack.encode()).await?;
        if let Some(e) = failure {
            return Err(e);
        }
        if need_clone {
            return Ok(ApplyEnd::NeedClone);
        }
    }
}

/// Writes `records` (one fsynced batch) and returns the acknowledgement.
async fn apply_batch(
    repl: &Arc<Replication>,
    rocks: &Arc<crate::storage::RocksStorage>,
    records: Vec<crate::wal::WalRecord>,
) -> Result<Ack> {
    let count = records.len() as u64;
    let oldest = records
        .iter()
        .map(|r| r.commit_time_micros)
        .min()
        .unwrap_or(0);
    let newest = records.last().map(|r| r.commit_time_micros);
    let last = records.last().map_or(0, |r| r.lsn.0);
    // Straight to the committer thread, whose answer wakes this task.
    let lsn = rocks.apply_async(records).await?;
    repl.metrics.received_records.inc_by(count);
    {
        let mut status = repl.storage.receiver.lock();
        status.last_replay_micros = newest;
        status.upstream_lsn = status.upstream_lsn.max(last);
    }
    Ok(Ack {
        flushed: lsn.0,
        applied: lsn.0,
        oldest_commit_micros: oldest,
    })
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn upstream_addresses_parse() {
        assert_eq!(
            split_host_port("127.0.0.1:5433").ok(),
            Some(("127.0.0.1".into(), 5433))
        );
        assert_eq!(
            split_host_port("[::1]:6000").ok(),
            Some(("::1".into(), 6000))
        );
        assert_eq!(
            split_host_port("db.example:1").ok(),
            Some(("db.example".into(), 1))
        );
        assert!(split_host_port("nohost").is_err());
        assert!(split_host_port(":5433").is_err());
        assert!(split_host_port("h:99999").is_err());
    }
}
