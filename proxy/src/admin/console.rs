//! The `rustydb` admin database: a pgwire session answered by the proxy.
//!
//! [`run_console`] takes over a client stream after authentication and the
//! startup reply (the caller has already sent `ReadyForQuery`), and loops:
//!
//! ```text
//!  Query 'Q'   → split on ';' → each command: result set / CommandComplete,
//!                first error: ErrorResponse (ERROR, the rest skipped)
//!                → ReadyForQuery 'I'
//!  Parse/Bind/Describe/Execute/Close  → ErrorResponse 0A000 once, then
//!                everything up to Sync is discarded → ReadyForQuery 'I'
//!  FunctionCall 'F'  → ErrorResponse 0A000 → ReadyForQuery 'I'
//!  Flush 'H', CopyData/Done/Fail → ignored (as PostgreSQL outside COPY)
//!  Terminate 'X' or end of stream  → Ok(())
//!  anything else, an oversized or malformed frame → FATAL 08P01, Err
//! ```
//!
//! Every read is bounded by `max_message_bytes` (the frame reader refuses a
//! longer length before allocating). The console holds no locks: it asks
//! [`AdminState`] for owned rows and writes them afterwards.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::commands;
use super::AdminState;
use crate::error::{ProxyError, Result};
use crate::wire::frame::read_cstr;
use crate::wire::{messages, FrameReader};

/// Serves admin commands until the client terminates or disconnects.
pub async fn run_console<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    state: &dyn AdminState,
    max_message_bytes: usize,
) -> Result<()> {
    run_console_buffered(stream, BytesMut::new(), state, max_message_bytes).await
}

/// As [`run_console`], starting with bytes the caller's reader already
/// took off the stream (a client that pipelined its first query behind
/// the startup packet).
pub async fn run_console_buffered<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buffered: BytesMut,
    state: &dyn AdminState,
    max_message_bytes: usize,
) -> Result<()> {
    let mut reader = FrameReader::with_buffer(stream, max_message_bytes, buffered);
    // After an extended-protocol message: skip until Sync (as PostgreSQL
    // does after an error in an extended-protocol batch).
    let mut skipping = false;
    loop {
        let out = match step(&mut reader, state, &mut skipping).await {
            Ok(Step::Reply(out)) => out,
            Ok(Step::Skip) => continue,
            Ok(Step::End) => return Ok(()),
            Err(e @ ProxyError::Protocol(_)) => {
                let fatal = messages::error_response("FATAL", e.sqlstate(), &e.to_string());
                // The client may be gone already; the error is what matters.
                let _ = reader.get_mut().write_all(&fatal).await;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let stream = reader.get_mut();
        stream.write_all(&out).await?;
        stream.flush().await?;
    }
}

enum Step {
    Reply(BytesMut),
    Skip,
    End,
}

const SIMPLE_ONLY: &str = "the rustydb admin console supports only the simple query protocol";

/// Reads one message and works out the answer.
async fn step<S: AsyncRead + Unpin>(
    reader: &mut FrameReader<S>,
    state: &dyn AdminState,
    skipping: &mut bool,
) -> Result<Step> {
    let Some(frame) = reader.next().await? else {
        return Ok(Step::End);
    };
    Ok(match frame.tag() {
        b'X' => Step::End,
        b'Q' => {
            let mut body = frame.body();
            let text = read_cstr(&mut body)?;
            let mut out = run_query(state, &text);
            out.extend_from_slice(&messages::ready_for_query(b'I'));
            Step::Reply(out)
        }
        b'P' | b'B' | b'D' | b'E' | b'C' => {
            if *skipping {
                return Ok(Step::Skip);
            }
            *skipping = true;
            Step::Reply(BytesMut::from(
                &messages::error_response("ERROR", "0A000", SIMPLE_ONLY)[..],
            ))
        }
        b'S' => {
            *skipping = false;
            Step::Reply(BytesMut::from(&messages::ready_for_query(b'I')[..]))
        }
        // FunctionCall is answered on its own, like a Query.
        b'F' => {
            let mut out =
                BytesMut::from(&messages::error_response("ERROR", "0A000", SIMPLE_ONLY)[..]);
            out.extend_from_slice(&messages::ready_for_query(b'I'));
            Step::Reply(out)
        }
        b'H' | b'd' | b'c' | b'f' => Step::Skip,
        other => {
            return Err(ProxyError::Protocol(format!(
                "invalid frontend message type {other}"
            )))
        }
    })
}

/// One simple Query: its commands in order, stopping at the first error.
fn run_query(state: &dyn AdminState, text: &str) -> BytesMut {
    let mut out = BytesMut::new();
    let commands: Vec<&str> = text
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    if commands.is_empty() {
        out.extend_from_slice(&commands::empty());
        return out;
    }
    for command in commands {
        tracing::debug!(command, "admin console");
        match commands::execute(state, command) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(e) => {
                out.extend_from_slice(&messages::error_response(
                    "ERROR",
                    e.sqlstate(),
                    &e.to_string(),
                ));
                break;
            }
        }
    }
    out
}
