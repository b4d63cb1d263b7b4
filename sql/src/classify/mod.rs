//! Statement classification for the proxy's read/write split.
//!
//! The proxy sends a statement to a replica only when it is certain a hot
//! standby would run it and that running it there changes nothing the
//! client could observe later; everything else goes to the primary. This
//! module answers, for one query text: where may it run ([`Target`]),
//! does it open or end a transaction ([`TxnControl`]), does it change
//! session state the proxy must carry over to other backends or that ties
//! the client to one backend ([`SessionEffect`]), and did the client ask
//! for a place in a comment ([`Hint`]).
//!
//! How a text flows through it:
//!
//! ```text
//!  text ──lex──► statements (split at top-level `;`) + hint from comments
//!                  │
//!                  ├─ keyword pre-check: SET/RESET/BEGIN/COMMIT/…/SHOW/LISTEN/
//!                  │  DISCARD/DEALLOCATE/LOAD are read from their tokens
//!                  │  (sqlparser misses several PostgreSQL forms of these)
//!                  ├─ else sqlparser (PostgreSQL dialect, `crate::parse`) and
//!                  │  an AST walk: statement kind, then a Visitor over every
//!                  │  query, expression and table factor for locking clauses,
//!                  │  SELECT INTO, data-modifying CTEs and listed functions
//!                  └─ else (no parse) a conservative token scan for
//!                     SELECT-like text and known write keywords
//!                  ▼
//!  combine: Primary if any statement needs it; txn from the first that
//!  has one; session effect from the only one that has one (two or more
//!  become `Pin`, since replaying only the first would lose the others)
//! ```
//!
//! Invariants:
//! - `parsed == false` implies `target == Primary`. `parsed` means "the
//!   classifier understood the text", by sqlparser or by the keyword
//!   recognizer; an unterminated literal or comment is never understood.
//! - `session == Some(Pin)` implies `target == Primary`: a client pinned
//!   to a replica could never write again in that session.
//! - Only statements on an allow-list reach `Replica`: queries without
//!   locking clauses, `SELECT INTO`, writing CTEs or listed functions;
//!   `SHOW`; `EXPLAIN` without `ANALYZE` (or `ANALYZE` of such a query);
//!   `COPY … TO`; `BEGIN READ ONLY` (not `SERIALIZABLE`, which a hot
//!   standby refuses); `SET LOCAL`. Any statement kind not on the list
//!   goes to the primary.
//!
//! A user function called in a query may write; only functions named in
//! [`PrimaryFunctions`] (built-ins plus the proxy's configured list) are
//! recognized. Classification is pure and fast; the proxy caches results
//! by text, so each distinct text is lexed and parsed once.

mod ast;
mod functions;
mod keyword;
mod lex;
#[cfg(test)]
mod tests;

pub use functions::{FunctionEffect, PrimaryFunctions};

/// Where a statement may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Primary,
    /// Read-only and safe on a hot standby.
    Replica,
}

/// Transaction control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnControl {
    /// `BEGIN` / `START TRANSACTION` (`read_only` from `READ ONLY`).
    Begin { read_only: bool },
    /// `COMMIT` / `END` (also `AND CHAIN`).
    Commit,
    /// `ROLLBACK` / `ABORT` (also `AND CHAIN`).
    Rollback,
    /// `SAVEPOINT`, `RELEASE`, `ROLLBACK TO`, `PREPARE TRANSACTION`,
    /// `COMMIT PREPARED`, `ROLLBACK PREPARED`.
    Other,
}

/// Session state a statement changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionEffect {
    /// Session-level `SET name = value` / `SET name TO value` / `SET SESSION ...`
    /// (NOT `SET LOCAL`): the proxy replays `sql` on other backends of this
    /// client. `name` is the lower-case parameter name (`SET TIME ZONE` is
    /// `timezone`, `SET NAMES` `client_encoding`, `SET SCHEMA` `search_path`,
    /// `SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`
    /// `default_transaction_read_only`, …); `sql` the statement's own text.
    Set { name: String, sql: String },
    /// `RESET name` / `RESET ALL` (name None) / `DISCARD ALL` (treated as reset all).
    Reset { name: Option<String> },
    /// Ties the client to one backend (the primary) for the rest of the
    /// session: CREATE TEMP TABLE/VIEW/SEQUENCE (not `ON COMMIT DROP`),
    /// `SELECT INTO TEMP`, LISTEN, session advisory locks
    /// (`pg_advisory_lock`, `pg_try_advisory_lock`, shared too),
    /// `set_config(…, false)`, SQL-level PREPARE, DECLARE ... WITH HOLD,
    /// `SET ROLE` / `SET SESSION AUTHORIZATION`, LOAD, a serializable
    /// session default (a hot standby refuses serializable), and texts with
    /// several session effects.
    Pin,
}

/// A routing hint: a comment `/* rustydb:primary */` or `/* rustydb:replica */`
/// (or `--` comment) anywhere in the text; primary wins when both appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hint {
    Primary,
    Replica,
}

/// The classifier's verdict on one query text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Classification {
    pub target: Target,
    pub txn: Option<TxnControl>,
    pub session: Option<SessionEffect>,
    pub hint: Option<Hint>,
    /// false: the text was not understood, and `target` is Primary.
    pub parsed: bool,
}

/// What one statement needs (before texts are combined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub target: Target,
    pub txn: Option<TxnControl>,
    pub session: Option<SessionEffect>,
    pub understood: bool,
}

impl Part {
    pub fn primary() -> Part {
        Part {
            target: Target::Primary,
            txn: None,
            session: None,
            understood: true,
        }
    }

    pub fn replica() -> Part {
        Part {
            target: Target::Replica,
            ..Part::primary()
        }
    }

    /// Not understood: the primary, flagged.
    pub fn unknown() -> Part {
        Part {
            understood: false,
            ..Part::primary()
        }
    }

    pub fn txn(txn: TxnControl, target: Target) -> Part {
        Part {
            target,
            txn: Some(txn),
            ..Part::primary()
        }
    }

    /// Session effects always run on the primary (see the invariants).
    pub fn session(effect: SessionEffect) -> Part {
        Part {
            session: Some(effect),
            ..Part::primary()
        }
    }
}

/// Classifies a query text with the built-in function list.
pub fn classify(sql: &str) -> Classification {
    classify_with(sql, PrimaryFunctions::builtin())
}

/// Classifies a query text; `functions` names the functions that force the
/// primary (see [`PrimaryFunctions::with_extra`]).
pub fn classify_with(sql: &str, functions: &PrimaryFunctions) -> Classification {
    let Ok(lexed) = lex::lex(sql) else {
        // The server rejects it too; the primary gives the real error.
        return Classification {
            target: Target::Primary,
            txn: None,
            session: None,
            hint: None,
            parsed: false,
        };
    };
    let parts: Vec<Part> = lexed
        .statements
        .iter()
        .map(|stmt| classify_statement(stmt, functions))
        .collect();
    let part = combine(parts);
    Classification {
        target: part.target,
        txn: part.txn,
        session: part.session,
        hint: lexed.hint,
        parsed: part.understood,
    }
}

fn classify_statement(stmt: &lex::Stmt<'_>, functions: &PrimaryFunctions) -> Part {
    if let Some(part) = keyword::precheck(stmt) {
        return part;
    }
    match crate::parse::parse(stmt.text) {
        Ok(parsed) if !parsed.is_empty() => {
            combine(parsed.iter().map(|s| ast::classify(s, functions)).collect())
        }
        _ => keyword::fallback(stmt, functions),
    }
}

/// Merges statements of one text (see the module docs). No statements at
/// all (an empty query) may run anywhere.
fn combine(parts: Vec<Part>) -> Part {
    let mut out = Part::replica();
    let mut effects = 0;
    for part in parts {
        if part.target == Target::Primary {
            out.target = Target::Primary;
        }
        out.understood &= part.understood;
        if out.txn.is_none() {
            out.txn = part.txn;
        }
        if let Some(effect) = part.session {
            effects += 1;
            out.session = Some(if effects > 1 {
                SessionEffect::Pin
            } else {
                effect
            });
        }
    }
    if !out.understood || out.session.is_some() {
        out.target = Target::Primary;
    }
    out
}
