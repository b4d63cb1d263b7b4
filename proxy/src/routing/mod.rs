//! Routing: which service a client belongs to, and which backend runs
//! each statement.
//!
//! Two decisions live here. At connect time, [`select_service`] turns the
//! startup parameters into a service and the real database name
//! (`options=-c rustydb.service=NAME`, then `mydb@NAME`, then the listen
//! port's service, then the default). Per statement — or per transaction:
//! the session asks only for the first statement of a transaction and then
//! keeps that backend — [`Router::route`] turns the statement's
//! classification (from [`ClassifyCache`], which classifies each distinct
//! text once) plus the current [`TopologySnapshot`] into a [`Route`]:
//!
//! ```text
//!  text ──ClassifyCache──► Classification ─┐
//!  service config (policy, lag limits, prefs)├─► Router::route ──► Route
//!  TopologySnapshot (roles, health, bans, LSN)┤     │               { Primary | Replica(id),
//!  BackendLoad (pool's active counts)  ───────┘     │                 reason, read_only }
//!  read-your-writes floor (min_lsn) ────────────────┤
//!  consistency level + the proxy's Site ────────────┘
//! ```
//!
//! Routing a read: the eligible replicas are the healthy, unbanned,
//! load-balanced ones within the service's lag limits, where the
//! session's consistency level allows ([`consistency`]: the proxy's
//! datacenter, its region, anywhere) and, when the client must read its
//! own writes (read-your-writes, or level `strong`), with a replay LSN
//! at or past the floor. Preferred nodes/tags narrow that set when enough of them are
//! eligible (`min_instances`); policy `any` adds the primary. The
//! balancer then picks one ([`balance`]): round robin, least
//! connections, smooth weighted round robin, or rendezvous hashing of
//! the client IP. With no candidate the primary serves the read when
//! allowed, else `57P03`.
//!
//! Invariants: a statement the classifier sends to the primary never
//! gets a replica (unless the client's own `rustydb:replica` hint asks
//! for it on a statement without session effects); a returned
//! `RouteTarget::Primary` means the snapshot had a healthy, unbanned
//! primary; routing never blocks and never touches the network: it reads
//! a snapshot and a few counters under a short lock.

mod balance;
mod cache;
pub mod consistency;
mod route;
mod services;
pub mod setting_stmt;

pub use cache::ClassifyCache;
pub use consistency::{Consistency, Site};
pub use route::Router;
pub use services::{backend_options, option_settings, select_service};

use std::net::IpAddr;

use rustydb_sql::classify::Classification;

use crate::topology::BackendId;

/// Where one statement (or transaction) runs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub target: RouteTarget,
    /// A short fixed label (`write`, `read`, `hint`, `split_off`,
    /// `primary_only`, `no_replica`, `read_your_writes`, `primary_read`,
    /// `consistency`),
    /// fit for a metrics label.
    pub reason: &'static str,
    /// The statement itself is read-only (the classifier would run it on
    /// a standby), so it may be retried on another backend if it fails
    /// before sending any rows.
    pub read_only: bool,
}

/// The backend a route names. Pinned sessions are handled by the session
/// and never ask the router.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteTarget {
    /// The snapshot's primary.
    Primary,
    Replica(BackendId),
}

/// What the session knows about the statement to route.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    pub service: &'a str,
    pub class: &'a Classification,
    pub client_ip: IpAddr,
    /// Read-your-writes floor: `Some(L)` after this client committed at `L`.
    pub min_lsn: Option<u64>,
    /// The session's read consistency level.
    pub consistency: Consistency,
}

/// Per-backend load, for `least_connections` (the pool implements it).
pub trait BackendLoad {
    /// Server connections of this backend currently checked out.
    fn active(&self, backend: &BackendId) -> usize;
}

/// No load information: every backend counts as idle.
impl BackendLoad for () {
    fn active(&self, _backend: &BackendId) -> usize {
        0
    }
}

/// A fixed table, handy in tests and for the admin console.
impl BackendLoad for std::collections::HashMap<BackendId, usize> {
    fn active(&self, backend: &BackendId) -> usize {
        self.get(backend).copied().unwrap_or(0)
    }
}
