//! The session's side of parallel fan-out (see [`crate::fanout`]).
//!
//! Before a simple Query is routed the session gives it here: `SET`,
//! `RESET` and `SHOW parallel_degree` are answered by the proxy (the
//! setting lives in the session, never on a backend), and an eligible
//! SELECT outside a transaction with a degree above 1 fans out. A
//! statement the fan-out declines returns `false` and takes the normal
//! path, unchanged; so does everything inside a transaction or a pinned
//! session (temporary tables live on one connection).

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::Session;
use crate::error::{ProxyError, Result};
use crate::fanout::{self, DegreeCommand, FanoutCtx, Outcome, ParallelDegree};
use crate::wire::extended::query_text;
use crate::wire::messages::{command_complete, error_response, ready_for_query, result_set};
use crate::wire::Frame;

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// Handles `frame` (a simple Query) if it is a degree command or fans
    /// out; returns whether the client has been answered.
    pub(super) async fn try_fanout(&mut self, frame: &Frame) -> Result<bool> {
        let Ok(text) = query_text(frame.body()) else {
            return Ok(false);
        };
        if let Some(command) = fanout::degree_command(text) {
            self.answer_degree_command(command).await?;
            return Ok(true);
        }
        if self.held.is_some() || self.status != b'I' || self.pinned {
            return Ok(false);
        }
        let config = self.shared.config();
        let degree = fanout::hint_degree(text)
            .map(ParallelDegree::Fixed)
            .or(self.parallel)
            .unwrap_or_else(|| config.parallel_degree_of(&self.ctx.service));
        if !degree.may_split() || !fanout::looks_like_select(text) {
            return Ok(false);
        }
        let text = text.to_string();
        let fallback = |shared: &crate::state::Shared, reason: &str| {
            shared
                .metrics
                .fanout_fallbacks
                .with_label_values(&[reason])
                .inc();
            tracing::debug!(reason, "fan-out declined; one node runs the statement");
        };
        let plan = match fanout::analyze(&text) {
            Ok(plan) => plan,
            Err(reason) => {
                fallback(&self.shared, reason);
                return Ok(false);
            }
        };
        self.wait_while_paused().await;
        let ctx = FanoutCtx {
            shared: &self.shared,
            user: &self.ctx.user,
            database: &self.ctx.database,
            service: &self.ctx.service,
            password: self.backend_password.as_deref(),
            settings_hash: self.settings.hash(),
            settings_sql: self.settings.replay_sql(),
            min_lsn: self.min_lsn,
            consistency: self.consistency(),
        };
        match fanout::run(&ctx, &plan, degree).await {
            Ok(Outcome::Answer(mut bytes)) => {
                bytes.extend_from_slice(&ready_for_query(self.status));
                self.writer.write_all(&bytes).await?;
                Ok(true)
            }
            Ok(Outcome::Single(reason)) => {
                fallback(&self.shared, reason);
                Ok(false)
            }
            Err(e) if !e.is_fatal() => {
                self.shared
                    .metrics
                    .errors
                    .with_label_values(&["backend"])
                    .inc();
                let msg = error_response("ERROR", e.sqlstate(), &e.to_string());
                self.writer.write_all(&msg).await?;
                self.writer.write_all(&ready_for_query(self.status)).await?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    async fn answer_degree_command(&mut self, command: DegreeCommand) -> Result<()> {
        let mut out = bytes::BytesMut::new();
        match command {
            DegreeCommand::Set(value) => {
                self.parallel = value;
                out.extend_from_slice(&command_complete("SET"));
            }
            DegreeCommand::Reset => {
                self.parallel = None;
                out.extend_from_slice(&command_complete("RESET"));
            }
            DegreeCommand::Show => {
                let value = self
                    .parallel
                    .unwrap_or_else(|| self.shared.config().parallel_degree_of(&self.ctx.service));
                out.extend_from_slice(&result_set(
                    &["parallel_degree"],
                    &[vec![Some(value.to_string())]],
                ));
                // SHOW's tag is "SHOW", not "SELECT 1".
                let select = command_complete("SELECT 1");
                out.truncate(out.len() - select.len());
                out.extend_from_slice(&command_complete("SHOW"));
            }
            DegreeCommand::Invalid(value) => {
                let e = ProxyError::client(
                    "22023",
                    format!(
                        "invalid value for parameter \"parallel_degree\": \"{value}\" (1..{} or auto)",
                        fanout::MAX_DEGREE
                    ),
                );
                out.extend_from_slice(&error_response("ERROR", e.sqlstate(), &e.to_string()));
            }
        }
        out.extend_from_slice(&ready_for_query(self.status));
        self.writer.write_all(&out).await?;
        Ok(())
    }
}
