//! A unit of work: what a client sends up to the point it waits.
//!
//! A simple Query is a unit by itself. Extended-protocol messages (Parse,
//! Bind, Describe, Execute, Close) collect until Sync or Flush, the points
//! where a client waits for answers. A unit is routed as a whole (all its
//! statements' classifications combined: one write sends it to the
//! primary) and then encoded for the chosen connection:
//!
//! * named statements are renamed to a server name derived from their
//!   text and parameter types (`rdb_<hash>`), so clients preparing the same
//!   query share one server-side statement, and a client's statement
//!   works on any backend: when the connection lacks it, a Parse is
//!   injected before the Bind or Describe that needs it, and its
//!   ParseComplete is swallowed;
//! * a Parse of a statement the connection already has is not sent: the
//!   client gets a synthetic ParseComplete in its place;
//! * Close of a named statement only forgets the client's name (the server
//!   statement stays cached for others) and answers CloseComplete;
//! * protocol errors PostgreSQL would raise (`26000` unknown statement,
//!   `42P05` duplicate name) are answered by the proxy in the same position,
//!   and the rest of the unit up to Sync is skipped, as a server would.
//!
//! The result is the bytes to send plus an [`Expect`] queue: one entry per
//! message that produces a response, telling the relay which responses to
//! forward, swallow or synthesise, in order.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rustydb_sql::classify::{Classification, SessionEffect, Target, TxnControl};

use crate::error::{ProxyError, Result};
use crate::pool::ServerConn;
use crate::routing::ClassifyCache;
use crate::wire::extended::{query_text, BindNames, ParseMessage, Target as NameTarget};
use crate::wire::messages::error_response;
use crate::wire::Frame;

/// One response the relay expects, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// ParseComplete. `swallow`: injected by the proxy. `prepared`: the
    /// server name recorded on the connection, undone if Parse fails.
    Parse {
        swallow: bool,
        prepared: Option<String>,
        client_name: Option<String>,
    },
    Bind,
    /// RowDescription or NoData (after ParameterDescription for statements).
    Describe,
    /// CommandComplete, EmptyQueryResponse or PortalSuspended.
    Execute,
    Close,
    /// ReadyForQuery.
    Sync,
    /// Bytes the proxy answers itself at this position.
    Synthetic(Bytes),
}

/// A client's prepared statement.
#[derive(Debug, Clone)]
struct Statement {
    parse: ParseMessage,
    server_name: String,
    class: Arc<Classification>,
}

/// The client's statements, by the client's names.
#[derive(Debug, Default)]
pub struct Statements {
    named: HashMap<String, Statement>,
    /// The last unnamed Parse and the connection (id) it was sent to.
    unnamed: Option<(ParseMessage, Arc<Classification>, u64)>,
}

/// How a unit must be routed.
#[derive(Debug, Clone, Default)]
pub struct UnitClass {
    /// Some statement needs the primary.
    pub needs_primary: bool,
    /// A statement carries a `rustydb:primary` hint or did not parse.
    pub forced_primary: bool,
    /// The unit holds a data-changing statement (read-your-writes).
    pub writes: bool,
    /// Session effects to record when the unit succeeds.
    pub effects: Vec<SessionEffect>,
    /// The unit begins a transaction (`BEGIN`, `START TRANSACTION`).
    pub begins: Option<TxnControl>,
    /// Representative classification (first statement) for the router.
    pub first: Option<Arc<Classification>>,
}

impl UnitClass {
    fn add(&mut self, class: Arc<Classification>) {
        if class.target == Target::Primary {
            self.needs_primary = true;
            if class.txn.is_none() && class.session.is_none() {
                self.writes = true;
            }
        }
        if !class.parsed || class.hint == Some(rustydb_sql::classify::Hint::Primary) {
            self.forced_primary = true;
        }
        if let Some(effect) = &class.session {
            self.effects.push(effect.clone());
        }
        if let Some(txn @ TxnControl::Begin { .. }) = &class.txn {
            self.begins.get_or_insert(*txn);
        }
        if self.first.is_none() {
            self.first = Some(class);
        }
    }
}

/// The encoded unit for one connection.
#[derive(Debug, Default)]
pub struct Encoded {
    pub bytes: BytesMut,
    pub expect: VecDeque<Expect>,
    /// Ends with Sync: the relay reads up to ReadyForQuery.
    pub synced: bool,
}

impl Statements {
    /// Combines the classifications of a unit's statements.
    pub fn classify(&self, unit: &[Frame], cache: &ClassifyCache) -> Result<UnitClass> {
        let mut class = UnitClass::default();
        for frame in unit {
            match frame.tag() {
                b'Q' => class.add(cache.classify(query_text(frame.body())?)),
                b'P' => class.add(cache.classify(&ParseMessage::decode(frame.body())?.query)),
                b'B' => {
                    let names = BindNames::decode(frame.body())?;
                    if let Some(c) = self.class_of(&names.statement) {
                        class.add(c);
                    }
                }
                // Function calls can do anything.
                b'F' => {
                    class.needs_primary = true;
                    class.writes = true;
                }
                _ => {}
            }
        }
        Ok(class)
    }

    fn class_of(&self, name: &str) -> Option<Arc<Classification>> {
        if name.is_empty() {
            self.unnamed.as_ref().map(|(_, c, _)| c.clone())
        } else {
            self.named.get(name).map(|s| s.class.clone())
        }
    }

    /// Encodes an extended-protocol unit for `conn` (see the module essay).
    pub fn encode(
        &mut self,
        unit: &[Frame],
        conn: &mut ServerConn,
        cache: &ClassifyCache,
    ) -> Result<Encoded> {
        let mut out = Encoded::default();
        let mut skipping = false;
        for frame in unit {
            let tag = frame.tag();
            if skipping && tag != b'S' {
                continue;
            }
            match tag {
                b'P' => skipping = self.encode_parse(frame, conn, cache, &mut out)?,
                b'B' => {
                    let names = BindNames::decode(frame.body())?;
                    match self.ensure_prepared(&names.statement, conn, &mut out) {
                        Some(server_name) => {
                            if server_name.is_empty() {
                                out.bytes.extend_from_slice(frame.raw());
                            } else {
                                out.bytes
                                    .extend_from_slice(names.rewrite(frame, &server_name).raw());
                            }
                            out.expect.push_back(Expect::Bind);
                        }
                        None => skipping = missing(&names.statement, &mut out),
                    }
                }
                b'D' | b'C' => {
                    let target = NameTarget::decode(frame.body())?;
                    if target.kind == b'P' || target.name.is_empty() {
                        if target.kind == b'S' && tag == b'D' {
                            self.ensure_prepared("", conn, &mut out);
                        }
                        out.bytes.extend_from_slice(frame.raw());
                        out.expect.push_back(if tag == b'D' {
                            Expect::Describe
                        } else {
                            Expect::Close
                        });
                    } else if tag == b'C' {
                        // The server statement stays cached for other clients.
                        self.named.remove(&target.name);
                        out.expect.push_back(Expect::Synthetic(close_complete()));
                    } else {
                        match self.ensure_prepared(&target.name, conn, &mut out) {
                            Some(server_name) => {
                                out.bytes
                                    .extend_from_slice(target.encode_as(b'D', &server_name).raw());
                                out.expect.push_back(Expect::Describe);
                            }
                            None => skipping = missing(&target.name, &mut out),
                        }
                    }
                }
                b'E' => {
                    out.bytes.extend_from_slice(frame.raw());
                    out.expect.push_back(Expect::Execute);
                }
                b'S' => {
                    out.bytes.extend_from_slice(frame.raw());
                    out.expect.push_back(Expect::Sync);
                    out.synced = true;
                    skipping = false;
                }
                b'H' => out.bytes.extend_from_slice(frame.raw()),
                other => {
                    return Err(ProxyError::Protocol(format!(
                        "unexpected message type {:?} in an extended-protocol batch",
                        other as char
                    )))
                }
            }
        }
        Ok(out)
    }

    /// Returns true when the unit must skip to Sync (a synthetic error).
    fn encode_parse(
        &mut self,
        frame: &Frame,
        conn: &mut ServerConn,
        cache: &ClassifyCache,
        out: &mut Encoded,
    ) -> Result<bool> {
        let parse = ParseMessage::decode(frame.body())?;
        let class = cache.classify(&parse.query);
        if parse.name.is_empty() {
            out.bytes.extend_from_slice(frame.raw());
            out.expect.push_back(Expect::Parse {
                swallow: false,
                prepared: None,
                client_name: None,
            });
            self.unnamed = Some((parse, class, conn.id));
            return Ok(false);
        }
        if self.named.contains_key(&parse.name) {
            let msg = format!("prepared statement \"{}\" already exists", parse.name);
            out.expect
                .push_back(Expect::Synthetic(error_response("ERROR", "42P05", &msg)));
            return Ok(true);
        }
        let server_name = server_name(&parse);
        let client_name = parse.name.clone();
        if conn.prepared.contains(&server_name) {
            out.expect.push_back(Expect::Synthetic(parse_complete()));
        } else {
            out.bytes
                .extend_from_slice(parse.encode_as(&server_name).raw());
            conn.prepared.insert(server_name.clone());
            out.expect.push_back(Expect::Parse {
                swallow: false,
                prepared: Some(server_name.clone()),
                client_name: Some(client_name.clone()),
            });
        }
        self.named.insert(
            client_name,
            Statement {
                parse,
                server_name,
                class,
            },
        );
        Ok(false)
    }

    /// Makes statement `name` exist on `conn` (injecting a swallowed
    /// Parse if needed) and returns its server name; `None` if the client
    /// has no such statement.
    fn ensure_prepared(
        &mut self,
        name: &str,
        conn: &mut ServerConn,
        out: &mut Encoded,
    ) -> Option<String> {
        if name.is_empty() {
            if let Some((parse, _, on)) = &mut self.unnamed {
                if *on != conn.id {
                    out.bytes.extend_from_slice(parse.encode_as("").raw());
                    out.expect.push_back(Expect::Parse {
                        swallow: true,
                        prepared: None,
                        client_name: None,
                    });
                    *on = conn.id;
                }
            }
            return Some(String::new());
        }
        let statement = self.named.get(name)?;
        if !conn.prepared.contains(&statement.server_name) {
            out.bytes
                .extend_from_slice(statement.parse.encode_as(&statement.server_name).raw());
            conn.prepared.insert(statement.server_name.clone());
            out.expect.push_back(Expect::Parse {
                swallow: true,
                prepared: Some(statement.server_name.clone()),
                client_name: None,
            });
        }
        Some(statement.server_name.clone())
    }

    /// A Parse failed on the server: the client's name does not exist.
    pub fn parse_failed(&mut self, client_name: Option<&str>) {
        if let Some(name) = client_name {
            self.named.remove(name);
        }
    }

    /// `DEALLOCATE ALL` / `DISCARD ALL` by the client: forget its names.
    pub fn forget_all(&mut self) {
        self.named.clear();
        self.unnamed = None;
    }
}

fn missing(name: &str, out: &mut Encoded) -> bool {
    let msg = format!("prepared statement \"{name}\" does not exist");
    out.expect
        .push_back(Expect::Synthetic(error_response("ERROR", "26000", &msg)));
    true
}

/// A server-side name for a statement: same text and types, same name.
/// 128 bits of SHA-256, so two different statements never meet under
/// one name in practice.
fn server_name(parse: &ParseMessage) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(parse.query.as_bytes());
    for t in &parse.param_types {
        h.update(t.to_be_bytes());
    }
    let digest = h.finalize();
    let mut name = String::with_capacity(36);
    name.push_str("rdb_");
    for b in &digest[..16] {
        name.push_str(&format!("{b:02x}"));
    }
    name
}

fn parse_complete() -> Bytes {
    Frame::new(b'1', &[]).into_raw()
}

fn close_complete() -> Bytes {
    Frame::new(b'3', &[]).into_raw()
}
