//! The extended query protocol: Parse, Bind, Describe, Execute, Close.
//!
//! State per connection is two name spaces, as in PostgreSQL: prepared
//! statements (from Parse; `""` is the unnamed one, replaced by each new
//! unnamed Parse) and portals (from Bind: a statement plus its decoded
//! parameter values and result format codes).
//!
//! A portal runs at its first Execute. The engine returns the whole result,
//! so a row limit (`max_rows > 0`) is served from the buffered rows: send
//! that many DataRows, then PortalSuspended; the next Execute continues;
//! the one that sends the last row ends with CommandComplete, whose count
//! is the rows sent by that Execute, as PostgreSQL reports it. Execute
//! never sends RowDescription (that is Describe's job).
//!
//! Every handler returns `Ok(Err(sql_error))` for a statement-level error;
//! the connection reports it and discards messages until Sync. Portals
//! are dropped when the transaction ends (at Sync with status Idle).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use pgwire::messages::data::NoData;
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete,
    PortalSuspended,
};
use pgwire::messages::response::EmptyQueryResponse;
use pgwire::messages::PgWireBackendMessage;
use rustydb_sql::types::oid;
use rustydb_sql::{Column, Error, Prepared, QueryResult, SqlState, Value};

use super::conn::ConnError;
use super::connection::Connection;
use super::simple::command_complete;
use super::{copy, encode};

type Step = Result<Result<(), Error>, ConnError>;

/// Prepared statements and portals of one connection.
#[derive(Default)]
pub(crate) struct Extended {
    statements: HashMap<String, Arc<Prepared>>,
    portals: HashMap<String, Portal>,
}

struct Portal {
    statement: Arc<Prepared>,
    result_formats: Vec<i16>,
    state: PortalState,
}

enum PortalState {
    /// Bound, not yet executed.
    Ready(Vec<Value>),
    /// Executed; rows left to send.
    Suspended {
        columns: Arc<[Column]>,
        rows: VecDeque<Vec<Value>>,
        tag: String,
    },
    /// Ran to completion.
    Done,
}

impl Extended {
    /// Drops portals at the end of a transaction.
    pub(crate) fn end_of_transaction(&mut self) {
        self.portals.clear();
    }

    /// `DEALLOCATE name|ALL` and `DISCARD ALL`: the statements go, as in
    /// PostgreSQL, where SQL `PREPARE` and protocol Parse share one name
    /// space; portals already bound keep their statement.
    pub(crate) fn deallocate(&mut self, d: rustydb_sql::Deallocation) {
        match d {
            rustydb_sql::Deallocation::All => self.statements.clear(),
            rustydb_sql::Deallocation::Named(name) => {
                self.statements.remove(&name);
            }
        }
    }
}

fn name(n: Option<String>) -> String {
    n.unwrap_or_default()
}

fn protocol_error(message: String) -> Error {
    Error::new(SqlState("08P01"), message)
}

impl Connection {
    pub(crate) async fn parse(&mut self, m: Parse) -> Step {
        let stmt_name = name(m.name);
        if !stmt_name.is_empty() && self.extended.statements.contains_key(&stmt_name) {
            return Ok(Err(Error::new(
                SqlState("42P05"),
                format!("prepared statement \"{stmt_name}\" already exists"),
            )));
        }
        // OID 0 (or one we do not know) means "infer the type".
        let types: Vec<_> = m
            .type_oids
            .iter()
            .map(|o| if *o == 0 { None } else { oid::from_oid(*o) })
            .collect();
        let sql = m.query;
        match self
            .session
            .statement(move |s| s.prepare(&sql, &types))
            .await?
        {
            Ok(prepared) => {
                self.extended.statements.insert(stmt_name, prepared);
                self.conn
                    .send(PgWireBackendMessage::ParseComplete(ParseComplete::new()))?;
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    pub(crate) async fn bind(&mut self, m: Bind) -> Step {
        let stmt_name = name(m.statement_name);
        let portal_name = name(m.portal_name);
        let Some(statement) = self.extended.statements.get(&stmt_name).cloned() else {
            return Ok(Err(Error::new(
                SqlState("26000"),
                format!("prepared statement \"{stmt_name}\" does not exist"),
            )));
        };
        if !portal_name.is_empty() && self.extended.portals.contains_key(&portal_name) {
            return Ok(Err(Error::new(
                SqlState("42P03"),
                format!("portal \"{portal_name}\" already exists"),
            )));
        }
        let expected = statement.param_types.len();
        if m.parameters.len() != expected {
            return Ok(Err(protocol_error(format!(
                "bind message supplies {} parameters, but prepared statement \"{stmt_name}\" requires {expected}",
                m.parameters.len()
            ))));
        }
        if let Err(e) = encode::check_formats(&m.parameter_format_codes, expected, "parameter") {
            return Ok(Err(e));
        }
        let columns = statement.columns.as_ref().map(|c| c.len()).unwrap_or(0);
        if let Err(e) = encode::check_formats(&m.result_column_format_codes, columns, "column") {
            return Ok(Err(e));
        }
        let mut params = Vec::with_capacity(expected);
        for (i, (raw, ty)) in m.parameters.iter().zip(&statement.param_types).enumerate() {
            let format = encode::format_at(&m.parameter_format_codes, i);
            match encode::decode_param(raw.as_deref(), format, ty) {
                Ok(v) => params.push(v),
                Err(e) => return Ok(Err(e)),
            }
        }
        let portal = Portal {
            statement,
            result_formats: m.result_column_format_codes,
            state: PortalState::Ready(params),
        };
        self.extended.portals.insert(portal_name, portal);
        self.conn
            .send(PgWireBackendMessage::BindComplete(BindComplete::new()))?;
        Ok(Ok(()))
    }

    pub(crate) async fn describe(&mut self, m: Describe) -> Step {
        let target = name(m.name);
        match m.target_type {
            b'S' => {
                let Some(statement) = self.extended.statements.get(&target) else {
                    return Ok(Err(Error::new(
                        SqlState("26000"),
                        format!("prepared statement \"{target}\" does not exist"),
                    )));
                };
                let params = encode::parameter_description(&statement.param_types);
                let rows = match &statement.columns {
                    Some(columns) => encode::row_description(columns, &[]),
                    None => PgWireBackendMessage::NoData(NoData::new()),
                };
                self.conn.send(params)?;
                self.conn.send(rows)?;
            }
            b'P' => {
                let Some(portal) = self.extended.portals.get(&target) else {
                    return Ok(Err(Error::new(
                        SqlState("34000"),
                        format!("portal \"{target}\" does not exist"),
                    )));
                };
                let rows = match &portal.statement.columns {
                    Some(columns) => encode::row_description(columns, &portal.result_formats),
                    None => PgWireBackendMessage::NoData(NoData::new()),
                };
                self.conn.send(rows)?;
            }
            other => {
                return Ok(Err(protocol_error(format!(
                    "invalid DESCRIBE message subtype {other}"
                ))))
            }
        }
        Ok(Ok(()))
    }

    pub(crate) async fn execute(&mut self, m: Execute) -> Step {
        let portal_name = name(m.name);
        let Some(portal) = self.extended.portals.get_mut(&portal_name) else {
            return Ok(Err(Error::new(
                SqlState("34000"),
                format!("portal \"{portal_name}\" does not exist"),
            )));
        };
        let formats = portal.result_formats.clone();
        match std::mem::replace(&mut portal.state, PortalState::Done) {
            PortalState::Ready(params) => {
                let statement = portal.statement.clone();
                let result = self
                    .session
                    .statement(move |s| s.execute(&statement, params))
                    .await?;
                let outcome = match result {
                    Ok(r) => {
                        self.first_execute(&portal_name, r, formats, m.max_rows)
                            .await?
                    }
                    Err(e) => Err(e),
                };
                self.report_parameters()?;
                Ok(outcome)
            }
            PortalState::Suspended { columns, rows, tag } => {
                self.send_rows(&portal_name, columns, rows, tag, formats, m.max_rows)
                    .await
            }
            PortalState::Done => {
                // Re-executing a finished portal returns nothing more.
                self.conn.send(command_complete("SELECT 0".to_string()))?;
                Ok(Ok(()))
            }
        }
    }

    async fn first_execute(
        &mut self,
        portal: &str,
        result: QueryResult,
        formats: Vec<i16>,
        max_rows: i32,
    ) -> Step {
        match result {
            QueryResult::Rows { columns, rows, tag } => {
                return self
                    .send_rows(portal, columns, rows.into(), tag, formats, max_rows)
                    .await;
            }
            QueryResult::Command { tag } => self.conn.send(command_complete(tag))?,
            QueryResult::Empty => self.conn.send(PgWireBackendMessage::EmptyQueryResponse(
                EmptyQueryResponse::new(),
            ))?,
            QueryResult::CopyOut {
                columns,
                format,
                lines,
                tag,
            } => copy::copy_out(self, columns, format, lines, tag).await?,
            QueryResult::CopyIn { columns, format } => {
                match copy::copy_in(self, columns, format).await? {
                    Ok(tag) => self.conn.send(command_complete(tag))?,
                    Err(e) => return Ok(Err(e)),
                }
            }
        }
        Ok(Ok(()))
    }

    /// Sends up to `max_rows` rows (all when 0) and suspends or completes.
    async fn send_rows(
        &mut self,
        portal: &str,
        columns: Arc<[Column]>,
        mut rows: VecDeque<Vec<Value>>,
        tag: String,
        formats: Vec<i16>,
        max_rows: i32,
    ) -> Step {
        let limit = if max_rows > 0 {
            max_rows as usize
        } else {
            usize::MAX
        };
        let mut sent = 0usize;
        // Rows are formatted here, in the session's TimeZone.
        self.session.with(|s| s.enter_zone())?;
        while sent < limit {
            let Some(row) = rows.pop_front() else { break };
            match encode::data_row(&row, &columns, &formats) {
                Ok(m) => self.conn.send_streaming(m).await?,
                Err(e) => return Ok(Err(e)),
            }
            sent += 1;
        }
        let suspended_before = !tag_is_whole(&tag, sent);
        if !rows.is_empty() {
            self.conn
                .send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))?;
            if let Some(p) = self.extended.portals.get_mut(portal) {
                p.state = PortalState::Suspended { columns, rows, tag };
            }
        } else if suspended_before && tag.starts_with("SELECT") {
            self.conn.send(command_complete(format!("SELECT {sent}")))?;
        } else {
            self.conn.send(command_complete(tag))?;
        }
        Ok(Ok(()))
    }

    pub(crate) async fn close(&mut self, m: Close) -> Step {
        let target = name(m.name);
        match m.target_type {
            b'S' => {
                self.extended.statements.remove(&target);
            }
            b'P' => {
                self.extended.portals.remove(&target);
            }
            other => {
                return Ok(Err(protocol_error(format!(
                    "invalid CLOSE message subtype {other}"
                ))))
            }
        }
        self.conn
            .send(PgWireBackendMessage::CloseComplete(CloseComplete::new()))?;
        Ok(Ok(()))
    }
}

/// Whether a `SELECT n` tag already counts exactly the rows of this
/// Execute (i.e. the portal was not split across Executes).
fn tag_is_whole(tag: &str, sent: usize) -> bool {
    match tag.strip_prefix("SELECT ") {
        Some(n) => n.parse::<usize>().map(|n| n == sent).unwrap_or(true),
        None => true,
    }
}
