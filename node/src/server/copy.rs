//! The COPY sub-protocols.
//!
//! COPY TO STDOUT: the engine has already formatted every line, so we send
//! CopyOutResponse, one CopyData per line, CopyDone, CommandComplete.
//!
//! COPY FROM STDIN: after CopyInResponse the client streams CopyData in any
//! chunking and ends with CopyDone (commit the copy: `copy_in_done` gives
//! the `COPY n` tag) or CopyFail (`copy_in_fail`). Flush and Sync are
//! ignored while copying (clients pipeline a Sync right after the Execute
//! that started it). If the engine rejects a chunk, PostgreSQL keeps
//! reading and discarding until the client's CopyDone/CopyFail and only
//! then reports the error; we do the same, so the client is never left
//! writing into a connection that stopped listening. The engine is
//! expected to have ended the copy itself when it returns that error.
//! A client that vanishes mid-copy gets `copy_in_fail`, then the
//! connection's normal close rolls the transaction back.

use bytes::Bytes;
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use rustydb_sql::{CopyFormat, Error, SqlState};

use super::conn::ConnError;
use super::connection::Connection;
use super::simple::command_complete;

fn column_count(columns: usize) -> Result<i16, ConnError> {
    i16::try_from(columns)
        .map_err(|_| ConnError::Fatal("54011", "too many columns for COPY".to_string()))
}

/// Streams a COPY TO STDOUT result.
pub(crate) async fn copy_out(
    c: &mut Connection,
    columns: usize,
    format: CopyFormat,
    lines: Vec<Vec<u8>>,
    tag: String,
) -> Result<(), ConnError> {
    let n = column_count(columns)?;
    let code = format.wire_code();
    c.conn
        .send(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            code,
            n,
            vec![code.into(); columns],
        )))?;
    for line in lines {
        c.conn
            .send_streaming(PgWireBackendMessage::CopyData(CopyData::new(Bytes::from(
                line,
            ))))
            .await?;
    }
    c.conn
        .send(PgWireBackendMessage::CopyDone(CopyDone::new()))?;
    c.conn.send(command_complete(tag))?;
    Ok(())
}

/// How much COPY data to gather before handing it to the session.
const COPY_CHUNK_BYTES: usize = 256 * 1024;

/// Runs COPY FROM STDIN; returns the `COPY n` tag or the statement error.
pub(crate) async fn copy_in(
    c: &mut Connection,
    columns: usize,
    format: CopyFormat,
) -> Result<Result<String, Error>, ConnError> {
    let n = column_count(columns)?;
    let code = format.wire_code();
    c.conn
        .send(PgWireBackendMessage::CopyInResponse(CopyInResponse::new(
            code,
            n,
            vec![code.into(); columns],
        )))?;
    c.conn.flush().await?;
    let mut failed: Option<Error> = None;
    // Clients often send one CopyData per row; hand the session large
    // chunks so a bulk load is not one thread hop per row.
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let message = match c.conn.read_message().await {
            Ok(m) => m,
            Err(e) => {
                if failed.is_none() {
                    let _ = c
                        .session
                        .call(|s| s.copy_in_fail("client connection lost"))
                        .await;
                }
                return Err(e);
            }
        };
        match message {
            PgWireFrontendMessage::CopyData(data) => {
                if failed.is_none() {
                    pending.extend_from_slice(&data.data);
                    if pending.len() >= COPY_CHUNK_BYTES {
                        let chunk = std::mem::take(&mut pending);
                        if let Err(e) = c.session.call(move |s| s.copy_in_data(&chunk)).await? {
                            failed = Some(e);
                        }
                    }
                }
            }
            PgWireFrontendMessage::CopyDone(_) => {
                return match failed {
                    Some(e) => Ok(Err(e)),
                    None => {
                        let chunk = std::mem::take(&mut pending);
                        c.session
                            .call(move |s| s.copy_in_data(&chunk).and_then(|_| s.copy_in_done()))
                            .await
                    }
                };
            }
            PgWireFrontendMessage::CopyFail(fail) => {
                return match failed {
                    Some(e) => Ok(Err(e)),
                    None => {
                        let reason = fail.message;
                        Ok(Err(c
                            .session
                            .call(move |s| s.copy_in_fail(&reason))
                            .await?))
                    }
                };
            }
            PgWireFrontendMessage::Flush(_) | PgWireFrontendMessage::Sync(_) => {}
            PgWireFrontendMessage::Terminate(_) => {
                if failed.is_none() {
                    let _ = c
                        .session
                        .call(|s| s.copy_in_fail("client terminated the connection"))
                        .await;
                }
                return Err(ConnError::Eof);
            }
            _ => {
                if failed.is_none() {
                    let _ = c
                        .session
                        .call(|s| s.copy_in_fail("protocol violation"))
                        .await?;
                }
                return Ok(Err(Error::new(
                    SqlState("08P01"),
                    "unexpected message type during COPY from stdin",
                )));
            }
        }
    }
}
