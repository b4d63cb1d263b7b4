//! Token-level classification: the pre-check and the no-parse fallback.
//!
//! The pre-check reads the statements whose meaning is all in their
//! leading keywords — SET, RESET, BEGIN/START, COMMIT/END, ROLLBACK/ABORT,
//! SAVEPOINT, RELEASE, PREPARE, LISTEN/UNLISTEN/NOTIFY, DISCARD,
//! DEALLOCATE, SHOW, LOAD, CHECKPOINT — straight from the tokens. It is
//! faster than parsing and covers PostgreSQL forms sqlparser rejects
//! (`BEGIN … DEFERRABLE`, `PREPARE TRANSACTION`, `COMMIT PREPARED`,
//! `SET LOCAL SESSION AUTHORIZATION`, …). A form it does not recognize
//! returns `None` and goes on to sqlparser.
//!
//! The fallback runs when sqlparser fails. For SELECT-like text it scans
//! the tokens conservatively: any write keyword (INSERT, UPDATE, DELETE,
//! MERGE, INTO, …), any `FOR UPDATE/SHARE/NO KEY/KEY SHARE`, or any call
//! of a listed function sends it to the primary; otherwise it is a read
//! (psql's catalog queries and the like). Text starting with a known
//! write or utility keyword is understood as a primary statement;
//! anything else is not understood (primary, `parsed = false`).

use super::lex::{Kind, Stmt, Token};
use super::{FunctionEffect, Part, PrimaryFunctions, SessionEffect, Target, TxnControl};

fn is(t: &[Token<'_>], i: usize, kw: &str) -> bool {
    t.get(i).is_some_and(|tok| tok.is(kw))
}

/// Skips an optional `WORK` / `TRANSACTION` noise word.
fn noise(t: &[Token<'_>], i: usize) -> usize {
    if is(t, i, "work") || is(t, i, "transaction") {
        i + 1
    } else {
        i
    }
}

/// Classifies the statements recognizable from their keywords.
pub(super) fn precheck(stmt: &Stmt<'_>) -> Option<Part> {
    let t = &stmt.tokens[..];
    let first = t.first()?;
    if first.kind != Kind::Word {
        return None;
    }
    let other = || Some(Part::txn(TxnControl::Other, Target::Primary));
    match first.text.to_ascii_lowercase().as_str() {
        "set" => set(stmt),
        "reset" => reset(t),
        "begin" => begin(t, noise(t, 1)),
        "start" if is(t, 1, "transaction") => begin(t, 2),
        "commit" | "end" if is(t, 1, "prepared") => other(),
        "commit" | "end" => {
            chain_end(t, noise(t, 1)).then(|| Part::txn(TxnControl::Commit, Target::Primary))
        }
        "rollback" | "abort" if is(t, 1, "prepared") => other(),
        "rollback" | "abort" => {
            let i = noise(t, 1);
            if is(t, i, "to") {
                other()
            } else {
                chain_end(t, i).then(|| Part::txn(TxnControl::Rollback, Target::Primary))
            }
        }
        "savepoint" | "release" => other(),
        "prepare" if is(t, 1, "transaction") => other(),
        // SQL-level PREPARE: EXECUTE must find it on the same backend.
        "prepare" | "listen" | "load" => Some(Part::session(SessionEffect::Pin)),
        "unlisten" | "notify" | "deallocate" | "checkpoint" => Some(Part::primary()),
        "discard" => match t.get(1).map(|w| w.text.to_ascii_lowercase()).as_deref() {
            Some("all") if t.len() == 2 => Some(Part::session(SessionEffect::Reset { name: None })),
            Some("plans" | "sequences" | "temp" | "temporary") if t.len() == 2 => {
                Some(Part::primary())
            }
            _ => None,
        },
        "show" if t.len() > 1 => Some(Part::replica()),
        _ => None,
    }
}

/// `[AND [NO] CHAIN]` and nothing else after COMMIT/ROLLBACK.
fn chain_end(t: &[Token<'_>], i: usize) -> bool {
    match t.len() - i.min(t.len()) {
        0 => true,
        2 => is(t, i, "and") && is(t, i + 1, "chain"),
        3 => is(t, i, "and") && is(t, i + 1, "no") && is(t, i + 2, "chain"),
        _ => false,
    }
}

/// Transaction modes, as `BEGIN` and `SET TRANSACTION` take them.
#[derive(Default)]
struct Modes {
    read_only: Option<bool>,
    serializable: Option<bool>,
    deferrable: bool,
}

impl Modes {
    fn kinds(&self) -> usize {
        usize::from(self.read_only.is_some())
            + usize::from(self.serializable.is_some())
            + usize::from(self.deferrable)
    }
}

/// Reads `mode [[,] mode …]` to the end of the statement.
fn modes(t: &[Token<'_>], mut i: usize) -> Option<Modes> {
    let mut m = Modes::default();
    while i < t.len() {
        if t.get(i).is_some_and(|tok| tok.is_punct(b',')) {
            i += 1;
            continue;
        }
        if is(t, i, "read") && is(t, i + 1, "only") {
            m.read_only = Some(true);
            i += 2;
        } else if is(t, i, "read") && is(t, i + 1, "write") {
            m.read_only = Some(false);
            i += 2;
        } else if is(t, i, "deferrable") {
            m.deferrable = true;
            i += 1;
        } else if is(t, i, "not") && is(t, i + 1, "deferrable") {
            m.deferrable = true;
            i += 2;
        } else if is(t, i, "isolation") && is(t, i + 1, "level") {
            i += 2;
            let (serializable, n) = if is(t, i, "serializable") {
                (true, 1)
            } else if (is(t, i, "repeatable") && is(t, i + 1, "read"))
                || (is(t, i, "read") && (is(t, i + 1, "committed") || is(t, i + 1, "uncommitted")))
            {
                (false, 2)
            } else {
                return None;
            };
            m.serializable = Some(serializable);
            i += n;
        } else {
            return None;
        }
    }
    Some(m)
}

fn begin(t: &[Token<'_>], i: usize) -> Option<Part> {
    let m = modes(t, i)?;
    let read_only = m.read_only == Some(true);
    // A hot standby refuses SERIALIZABLE, read-only or not.
    let target = if read_only && m.serializable != Some(true) {
        Target::Replica
    } else {
        Target::Primary
    };
    Some(Part::txn(TxnControl::Begin { read_only }, target))
}

fn set(stmt: &Stmt<'_>) -> Option<Part> {
    let t = &stmt.tokens[..];
    let mut i = 1;
    let mut local = false;
    if is(t, i, "local") {
        local = true;
        i += 1;
    } else if is(t, i, "session")
        && !is(t, i + 1, "authorization")
        && !is(t, i + 1, "characteristics")
    {
        i += 1;
    }
    if is(t, i, "session") && is(t, i + 1, "characteristics") {
        if local || !is(t, i + 2, "as") || !is(t, i + 3, "transaction") {
            return None;
        }
        let m = modes(t, i + 4)?;
        // Replaying is only exact for one setting; a serializable default
        // cannot run on a standby at all.
        let name = match (m.kinds(), m.read_only, m.serializable) {
            (_, _, Some(true)) => return Some(Part::session(SessionEffect::Pin)),
            (1, Some(_), _) => "default_transaction_read_only",
            (1, _, Some(_)) => "default_transaction_isolation",
            (1, _, _) => "default_transaction_deferrable",
            _ => return Some(Part::session(SessionEffect::Pin)),
        };
        return Some(set_effect(name, stmt));
    }
    if is(t, i, "transaction") {
        // Concerns the current transaction only (also SNAPSHOT).
        let read_only = modes(t, i + 1)
            .is_some_and(|m| m.read_only == Some(true) && m.serializable != Some(true));
        return Some(if read_only && !local {
            Part::replica()
        } else {
            Part::primary()
        });
    }
    if is(t, i, "role") || (is(t, i, "session") && is(t, i + 1, "authorization")) {
        return Some(if local {
            Part::primary()
        } else {
            Part::session(SessionEffect::Pin)
        });
    }
    let (name, value_at) = if is(t, i, "time") && is(t, i + 1, "zone") {
        ("timezone".to_string(), i + 2)
    } else if is(t, i, "names") {
        ("client_encoding".to_string(), i + 1)
    } else if is(t, i, "schema") {
        ("search_path".to_string(), i + 1)
    } else if is(t, i, "xml") && is(t, i + 1, "option") {
        ("xmloption".to_string(), i + 2)
    } else {
        // A parameter name, maybe dotted (`rustydb.parallel_degree`);
        // PostgreSQL compares them case-insensitively, quoted or not.
        let mut name = t.get(i)?.ident()?.to_lowercase();
        i += 1;
        while t.get(i).is_some_and(|tok| tok.is_punct(b'.')) {
            name.push('.');
            name.push_str(&t.get(i + 1)?.ident()?.to_lowercase());
            i += 2;
        }
        if !(t.get(i).is_some_and(|tok| tok.is_punct(b'=')) || is(t, i, "to")) {
            return None;
        }
        (name, i + 1)
    };
    if value_at >= t.len() {
        return None;
    }
    if local {
        // Lasts until the end of the transaction: nothing to carry over.
        return Some(Part::replica());
    }
    let serializable = t
        .get(value_at..)
        .unwrap_or_default()
        .iter()
        .any(|tok| tok.text.to_ascii_lowercase().contains("serializable"));
    Some(match name.as_str() {
        "role" | "session_authorization" => Part::session(SessionEffect::Pin),
        "default_transaction_isolation" if serializable => Part::session(SessionEffect::Pin),
        "transaction_read_only" | "transaction_isolation" | "transaction_deferrable" => {
            Part::primary()
        }
        _ => set_effect(&name, stmt),
    })
}

fn set_effect(name: &str, stmt: &Stmt<'_>) -> Part {
    Part::session(SessionEffect::Set {
        name: name.to_string(),
        sql: stmt.text.to_string(),
    })
}

fn reset(t: &[Token<'_>]) -> Option<Part> {
    let name = match t.len() {
        2 if is(t, 1, "all") => None,
        2 if is(t, 1, "role") => Some("role".to_string()),
        3 if is(t, 1, "time") && is(t, 2, "zone") => Some("timezone".to_string()),
        3 if is(t, 1, "session") && is(t, 2, "authorization") => {
            Some("session_authorization".to_string())
        }
        3 if is(t, 1, "transaction") => return None,
        _ => {
            let mut name = t.get(1)?.ident()?.to_lowercase();
            let mut i = 2;
            while t.get(i).is_some_and(|tok| tok.is_punct(b'.')) {
                name.push('.');
                name.push_str(&t.get(i + 1)?.ident()?.to_lowercase());
                i += 2;
            }
            if i != t.len() {
                return None;
            }
            Some(name)
        }
    };
    Some(Part::session(SessionEffect::Reset { name }))
}

/// Leading keywords of statements that always run on the primary.
const PRIMARY_KEYWORDS: &[&str] = &[
    "insert", "update", "delete", "merge", "drop", "alter", "truncate", "grant", "revoke",
    "comment", "vacuum", "analyze", "analyse", "cluster", "reindex", "refresh", "do", "call",
    "lock", "copy", "security", "import", "reassign", "execute", "fetch", "move", "close",
    "create", "declare",
];

/// Words that make a SELECT-like text a write (or a lock).
const WRITE_WORDS: &[&str] = &[
    "insert", "update", "delete", "merge", "into", "truncate", "copy", "call", "create", "drop",
    "alter", "grant", "revoke", "lock", "notify", "listen",
];

/// Classifies a statement sqlparser could not parse.
pub(super) fn fallback(stmt: &Stmt<'_>, functions: &PrimaryFunctions) -> Part {
    let t = &stmt.tokens[..];
    let Some(first) = t.first() else {
        return Part::replica();
    };
    let word = first.text.to_ascii_lowercase();
    if first.kind == Kind::Word && ["select", "with", "values", "table"].contains(&word.as_str())
        || first.is_punct(b'(')
    {
        return scan_read(t, functions);
    }
    if first.kind != Kind::Word || !PRIMARY_KEYWORDS.contains(&word.as_str()) {
        return Part::unknown();
    }
    let head = |n: usize| t.iter().take(n);
    let pin = match word.as_str() {
        // CREATE [GLOBAL|LOCAL] TEMP[ORARY] … (unless ON COMMIT DROP).
        "create" => {
            head(4).any(|tok| tok.is("temp") || tok.is("temporary"))
                && !t
                    .windows(3)
                    .any(|w| w[0].is("on") && w[1].is("commit") && w[2].is("drop"))
        }
        "declare" => t.windows(2).any(|w| w[0].is("with") && w[1].is("hold")),
        _ => false,
    };
    if pin {
        Part::session(SessionEffect::Pin)
    } else {
        Part::primary()
    }
}

/// The conservative token scan of a SELECT-like statement.
fn scan_read(t: &[Token<'_>], functions: &PrimaryFunctions) -> Part {
    let mut part = Part::replica();
    let mut pin = false;
    for (i, tok) in t.iter().enumerate() {
        let next = t.get(i + 1);
        if tok.kind == Kind::Word {
            let w = tok.text.to_ascii_lowercase();
            if WRITE_WORDS.contains(&w.as_str()) {
                part.target = Target::Primary;
                if w == "into"
                    && t.get(i + 1..i + 3)
                        .is_some_and(|n| n.iter().any(|x| x.is("temp") || x.is("temporary")))
                {
                    pin = true;
                }
            }
            if w == "for"
                && next
                    .is_some_and(|n| n.is("update") || n.is("share") || n.is("no") || n.is("key"))
            {
                part.target = Target::Primary;
            }
        }
        if matches!(tok.kind, Kind::Word | Kind::Quoted) && next.is_some_and(|n| n.is_punct(b'(')) {
            match functions.lookup(&dotted_name(t, i)) {
                None => {}
                Some(FunctionEffect::Primary) => part.target = Target::Primary,
                Some(FunctionEffect::Pin | FunctionEffect::SetConfig) => pin = true,
            }
        }
    }
    if pin {
        return Part::session(SessionEffect::Pin);
    }
    part
}

/// The (maybe schema-qualified) name ending at token `i`.
fn dotted_name(t: &[Token<'_>], i: usize) -> Vec<String> {
    let mut parts = vec![t.get(i).and_then(Token::ident).unwrap_or_default()];
    let mut j = i;
    while j >= 2 && t.get(j - 1).is_some_and(|d| d.is_punct(b'.')) {
        match t.get(j - 2).and_then(Token::ident) {
            Some(p) => parts.insert(0, p),
            None => break,
        }
        j -= 2;
    }
    parts
}
