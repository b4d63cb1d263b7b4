//! The session's side of read consistency levels
//! (see [`crate::routing::consistency`]).
//!
//! The level a session reads at is, strongest first: its own `SET
//! rustydb.consistency`, the `rustydb.consistency` of its startup packet
//! (`options=-c rustydb.consistency=strong`, or a startup parameter of
//! that name), its service's `consistency`, `[routing] consistency`.
//! `RESET` (and `RESET ALL`, `DISCARD ALL`) drops the session's own
//! choice, back to the startup value or the service's, as PostgreSQL's
//! `RESET` returns to the value the session started with.
//!
//! The proxy answers `SET`, `RESET` and `SHOW` of the setting itself:
//! it decides routing, so it lives in the session and never reaches a
//! backend. An invalid value gets PostgreSQL's `22023` error with the
//! list of values, and the session carries on with its previous level.
//! The same statements sent through the extended protocol or inside a
//! multi-statement text reach the backend (which keeps them as a custom
//! setting) and, once they succeed there, set the session's level too
//! ([`Session::note_consistency_effect`]); an invalid value is then
//! ignored rather than refused. The change takes effect at once, also inside a transaction block
//! (whose backend is already chosen; the level applies from the next
//! routed transaction); it is not undone by `ROLLBACK`.

use rustydb_sql::classify::SessionEffect;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::Session;
use crate::error::Result;
use crate::routing::consistency::{
    available_values_hint, consistency_command, invalid_value_message, ConsistencyCommand,
    CONSISTENCY_GUC,
};
use crate::routing::Consistency;
use crate::wire::extended::query_text;
use crate::wire::messages::{
    command_complete, error_response, error_with_hint, ready_for_query, result_set,
};
use crate::wire::Frame;

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// The level this session's next read is routed at.
    pub(super) fn consistency(&self) -> Consistency {
        self.consistency
            .or(self.ctx.consistency)
            .unwrap_or_else(|| self.shared.config().consistency_of(&self.ctx.service))
    }

    /// Counts a read routed at the session's level (`route`: `primary`
    /// or `replica`), for `rustydb_proxy_consistency_reads_total`.
    /// The counter handles are resolved once per (level, route) and
    /// session: a label lookup hashes every label on each call.
    pub(super) fn count_consistency_read(&mut self, level: Consistency, route: &'static str) {
        let cached = self
            .consistency_reads
            .iter()
            .find(|(l, r, _)| *l == level && *r == route);
        if let Some((_, _, counter)) = cached {
            counter.inc();
            return;
        }
        let counter = self.shared.metrics.consistency_reads.with_label_values(&[
            self.ctx.service.as_str(),
            level.as_str(),
            route,
        ]);
        counter.inc();
        self.consistency_reads.push((level, route, counter));
    }

    /// A `SET`/`RESET` of the setting that reached a backend (extended
    /// protocol, a multi-statement text) and succeeded there: the backend
    /// kept it as a custom setting, the session takes the level from it.
    /// A value the level does not take is ignored (the backend accepted it
    /// as text; the session keeps its level).
    pub(super) fn note_consistency_effect(&mut self, effect: &SessionEffect) {
        match effect {
            SessionEffect::Set { name, sql } if name.eq_ignore_ascii_case(CONSISTENCY_GUC) => {
                match consistency_command(sql) {
                    Some(ConsistencyCommand::Set(level)) => self.consistency = level,
                    Some(ConsistencyCommand::Invalid(value)) => {
                        tracing::debug!(value, "ignored an invalid rustydb.consistency");
                    }
                    _ => {}
                }
            }
            SessionEffect::Reset { name: Some(name) }
                if name.eq_ignore_ascii_case(CONSISTENCY_GUC) =>
            {
                self.consistency = None;
            }
            _ => {}
        }
    }

    /// Answers `frame` (a simple Query) when it is a `SET`, `RESET` or
    /// `SHOW` of `rustydb.consistency`; returns whether it did.
    pub(super) async fn try_consistency_command(&mut self, frame: &Frame) -> Result<bool> {
        let Ok(text) = query_text(frame.body()) else {
            return Ok(false);
        };
        let Some(command) = consistency_command(text) else {
            return Ok(false);
        };
        let mut out = bytes::BytesMut::new();
        if self.status == b'E' {
            // As PostgreSQL: nothing but the end of the block runs now.
            out.extend_from_slice(&error_response(
                "ERROR",
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        } else {
            match command {
                ConsistencyCommand::Set(level) => {
                    self.consistency = level;
                    out.extend_from_slice(&command_complete("SET"));
                }
                ConsistencyCommand::Reset => {
                    self.consistency = None;
                    out.extend_from_slice(&command_complete("RESET"));
                }
                ConsistencyCommand::Show => {
                    let value = self.consistency().to_string();
                    out.extend_from_slice(&result_set(&[CONSISTENCY_GUC], &[vec![Some(value)]]));
                    // SHOW's tag is "SHOW", not "SELECT 1".
                    let select = command_complete("SELECT 1");
                    out.truncate(out.len() - select.len());
                    out.extend_from_slice(&command_complete("SHOW"));
                }
                ConsistencyCommand::Invalid(value) => {
                    self.shared
                        .metrics
                        .errors
                        .with_label_values(&["client"])
                        .inc();
                    out.extend_from_slice(&error_with_hint(
                        "ERROR",
                        "22023",
                        &invalid_value_message(&value),
                        &available_values_hint(),
                    ));
                }
            }
        }
        out.extend_from_slice(&ready_for_query(self.status));
        self.writer.write_all(&out).await?;
        Ok(true)
    }
}
