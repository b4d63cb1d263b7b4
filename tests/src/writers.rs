//! Writers for failover tests: threads that insert unique ids and record
//! every acknowledged one, with when and where it was acknowledged.
//!
//! ```text
//!   Writers::routed(api_ports, nodes, n)   each thread asks GET /cluster for the
//!                                          primary, writes there, re-resolves on error
//!   Writers::pinned(node, port)            one thread, always the same node
//!        │
//!        └─ stop() ──► Vec<Ack> (id, node, start, end), error count
//! ```
//!
//! Invariants: an id is recorded only when the server answered
//! CommandComplete for its INSERT (autocommit, so that is the commit
//! acknowledgement); `start` is taken before sending, `end` after the
//! answer, so `[start, end]` contains the moment the commit happened. Ids
//! are unique across writers (writer number * 10^9 + sequence).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::{Outcome, SqlClient};
use crate::cluster::Admin;

/// One acknowledged insert.
#[derive(Debug, Clone)]
pub struct Ack {
    pub id: i64,
    pub node: String,
    pub start: Instant,
    pub end: Instant,
}

/// Running writer threads.
pub struct Writers {
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<Ack>>>,
    errors: Arc<Mutex<Vec<String>>>,
    handles: Vec<JoinHandle<()>>,
}

/// Where a writer sends its inserts.
#[derive(Clone)]
enum Route {
    /// Ask the managers (any of these API ports) who the primary is.
    Managers {
        api: Vec<u16>,
        nodes: Vec<(String, u16)>,
    },
    /// Always this node.
    Pinned { name: String, port: u16 },
}

impl Writers {
    /// `n` writers that follow the primary `GET /cluster` reports.
    /// `nodes` maps node names to pgwire ports.
    pub fn routed(table: &str, api: Vec<u16>, nodes: Vec<(String, u16)>, n: usize) -> Writers {
        let route = Route::Managers { api, nodes };
        Writers::spawn(table, (0..n).map(|_| route.clone()).collect(), 0)
    }

    /// One writer per (name, port), each always writing to that node.
    /// `first_id` keeps ids distinct from other writer groups.
    pub fn pinned(table: &str, nodes: &[(String, u16)], first_writer: i64) -> Writers {
        let routes = nodes
            .iter()
            .map(|(name, port)| Route::Pinned {
                name: name.clone(),
                port: *port,
            })
            .collect();
        Writers::spawn(table, routes, first_writer)
    }

    fn spawn(table: &str, routes: Vec<Route>, first_writer: i64) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let handles = routes
            .into_iter()
            .enumerate()
            .map(|(i, route)| {
                let (stop, acks, errors) = (stop.clone(), acks.clone(), errors.clone());
                let table = table.to_string();
                let writer = first_writer + i as i64 + 1;
                thread::spawn(move || run(writer, &table, route, &stop, &acks, &errors))
            })
            .collect();
        Writers {
            stop,
            acks,
            errors,
            handles,
        }
    }

    /// Acknowledgements so far.
    pub fn acks(&self) -> Vec<Ack> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops the threads; returns every ack and every error text.
    pub fn stop(self) -> (Vec<Ack>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.handles {
            let _ = h.join();
        }
        let acks = self.acks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let errors = self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (acks, errors)
    }

    /// Waits until some write acknowledged by `node` ended after `after`;
    /// returns that ack's end.
    pub fn wait_ack_on(&self, node: &str, after: Instant, bound: Duration) -> Option<Instant> {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            let found = self
                .acks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|a| a.node == node && a.start >= after)
                .map(|a| a.end)
                .min();
            if found.is_some() {
                return found;
            }
            thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

fn run(
    writer: i64,
    table: &str,
    route: Route,
    stop: &AtomicBool,
    acks: &Mutex<Vec<Ack>>,
    errors: &Mutex<Vec<String>>,
) {
    let mut seq = 0i64;
    let mut conn: Option<(String, SqlClient)> = None;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            let target = match &route {
                Route::Pinned { name, port } => Some((name.clone(), *port)),
                Route::Managers { api, nodes } => primary_of(api, nodes),
            };
            let Some((name, port)) = target else {
                thread::sleep(Duration::from_millis(20));
                continue;
            };
            match SqlClient::connect_with_timeout(port, "postgres", Duration::from_secs(2)) {
                Ok(mut c) => {
                    c.set_timeout(Duration::from_secs(10));
                    conn = Some((name, c));
                }
                Err(_) => {
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
            }
        }
        let Some((name, client)) = conn.as_mut() else {
            continue;
        };
        seq += 1;
        let id = writer * 1_000_000_000 + seq;
        let start = Instant::now();
        let outcome = client.simple(&format!(
            "INSERT INTO {table} (id, w) VALUES ({id}, {writer})"
        ));
        let end = Instant::now();
        match outcome {
            Outcome::Ok { .. } => acks.lock().unwrap_or_else(|e| e.into_inner()).push(Ack {
                id,
                node: name.clone(),
                start,
                end,
            }),
            other => {
                errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{name}: {other}"));
                conn = None;
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The primary's (name, pgwire port) per `GET /cluster` of any member.
pub fn primary_of(api: &[u16], nodes: &[(String, u16)]) -> Option<(String, u16)> {
    for port in api {
        let Ok(reply) = Admin::new(*port).get("/cluster") else {
            continue;
        };
        let name = reply
            .json
            .get("members")
            .and_then(Value::as_array)
            .and_then(|ms| {
                ms.iter()
                    .find(|m| m.get("role").and_then(Value::as_str) == Some("leader"))
            })
            .and_then(|m| m.get("name").and_then(Value::as_str))
            .map(str::to_string);
        if let Some(name) = name {
            return nodes
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(n, p)| (n.clone(), *p));
        }
    }
    None
}
