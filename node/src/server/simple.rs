//! The simple query protocol: one Query message, possibly several
//! statements, each answered in turn, then one ReadyForQuery.
//!
//! ```text
//!  Query ─► session.simple_query ─► per result:
//!      Rows     → RowDescription, DataRow*, CommandComplete
//!      Command  → CommandComplete
//!      Empty    → EmptyQueryResponse
//!      CopyOut  → CopyOutResponse, CopyData*, CopyDone, CommandComplete
//!      CopyIn   → CopyInResponse, (client streams) → CommandComplete | Error
//!      Err      → ErrorResponse (and the engine stopped there)
//!  ─► ParameterStatus* (SET changes) ─► ReadyForQuery(I/T/E)
//! ```
//!
//! The simple protocol always sends text format.

use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use pgwire::messages::PgWireBackendMessage;
use rustydb_sql::QueryResult;

use super::conn::ConnError;
use super::connection::Connection;
use super::{copy, encode};

/// Handles one Query message.
pub(crate) async fn query(c: &mut Connection, sql: String) -> Result<(), ConnError> {
    let results = c.session.statement(move |s| s.simple_query(&sql)).await?;
    // Rows are formatted here, in the session's TimeZone.
    c.session.with(|s| s.enter_zone())?;
    if results.is_empty() {
        c.conn.send(PgWireBackendMessage::EmptyQueryResponse(
            EmptyQueryResponse::new(),
        ))?;
    }
    for result in results {
        match result {
            Ok(result) => {
                if let Err(e) = send_result(c, result).await? {
                    c.conn.send(encode::error_response("ERROR", &e))?;
                    break;
                }
            }
            Err(e) => {
                c.conn.send(encode::error_response("ERROR", &e))?;
                break;
            }
        }
    }
    c.report_parameters()?;
    c.ready_for_query().await
}

/// Sends one statement's result in the simple protocol.
async fn send_result(
    c: &mut Connection,
    result: QueryResult,
) -> Result<Result<(), rustydb_sql::Error>, ConnError> {
    match result {
        QueryResult::Rows { columns, rows, tag } => {
            c.conn.send(encode::row_description(&columns, &[]))?;
            for row in &rows {
                match encode::data_row(row, &columns, &[]) {
                    Ok(m) => c.conn.send_streaming(m).await?,
                    Err(e) => return Ok(Err(e)),
                }
            }
            c.conn.send(command_complete(tag))?;
        }
        QueryResult::Command { tag } => c.conn.send(command_complete(tag))?,
        QueryResult::Empty => c.conn.send(PgWireBackendMessage::EmptyQueryResponse(
            EmptyQueryResponse::new(),
        ))?,
        QueryResult::CopyOut {
            columns,
            format,
            lines,
            tag,
        } => copy::copy_out(c, columns, format, lines, tag).await?,
        QueryResult::CopyIn { columns, format } => match copy::copy_in(c, columns, format).await? {
            Ok(tag) => c.conn.send(command_complete(tag))?,
            Err(e) => return Ok(Err(e)),
        },
    }
    Ok(Ok(()))
}

/// CommandComplete with a tag.
pub(crate) fn command_complete(tag: String) -> PgWireBackendMessage {
    PgWireBackendMessage::CommandComplete(CommandComplete::new(tag))
}
