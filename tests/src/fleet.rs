//! The backends a proxy test stands in front of: a PostgreSQL 15 primary
//! with streaming replicas ([`crate::pg::PgCluster`]) or RustyDB nodes
//! (primary + replicas, [`crate::cluster::ClusterNode`]), behind one API
//! that tells *which backend answered* a query.
//!
//! ```text
//!   Fleet::postgres(2)   pg0 primary, pg1 pg2 hot standbys   who = inet_server_port()::text
//!   Fleet::rustydb(2)    p primary, r1 r2 --follow p          who = current_setting('rustydb.node_name')
//!   fleet.sql("SELECT {who} FROM t")  -> the query with the identity expression
//!   fleet.name_of("5433") / ("r1")    -> backend name (pgK / node name)
//!   fleet.answered(outcome)           -> names of the backends in every row's first column
//! ```
//!
//! Invariants:
//! - The identity comes from the backend itself (its port or its node
//!   name), never from the proxy, so a routing assertion cannot be fooled by
//!   the proxy's own bookkeeping.
//! - `wait_replayed()` is called after setup writes made directly on the
//!   primary, so a read routed to a replica sees them.

use std::time::Duration;

use crate::client::{Outcome, SqlClient};
use crate::cluster::{wait_caught_up, wait_streaming, ClusterNode};
use crate::pg::PgCluster;

/// Which kind of backends.
pub enum Fleet {
    Pg(PgCluster),
    Rdb(Vec<ClusterNode>),
}

impl Fleet {
    /// A PostgreSQL 15 primary and `replicas` streaming hot standbys.
    pub fn postgres(replicas: usize) -> Fleet {
        Fleet::Pg(PgCluster::start(replicas))
    }

    /// Like [`Fleet::postgres`] with extra replica settings
    /// (`recovery_min_apply_delay=3s` makes replicas visibly stale).
    pub fn postgres_with(replicas: usize, replica_extra: &[&str]) -> Fleet {
        Fleet::Pg(PgCluster::start_with(replicas, &[], replica_extra))
    }

    /// A PostgreSQL primary and one standby that applies commits 2 s late
    /// (a read it serves right after a write is visibly stale), with the
    /// `ryw (id bigint PRIMARY KEY)` table [`Fleet::read_ryw_row`] reads,
    /// already replayed on the standby. Returns the fleet and the names of
    /// the primary and the standby.
    pub fn postgres_lagging_ryw() -> (Fleet, String, String) {
        let fleet = Fleet::postgres_with(1, &["recovery_min_apply_delay=2s"]);
        fleet
            .primary_client()
            .must("CREATE TABLE ryw (id bigint PRIMARY KEY)");
        fleet.wait_replayed();
        let primary = fleet.primary_name();
        let replica = fleet.replica_names().remove(0);
        (fleet, primary, replica)
    }

    /// A RustyDB primary `p` and replicas `r1`.. following it.
    pub fn rustydb(replicas: usize) -> Fleet {
        let p = ClusterNode::primary("p", &[]);
        let mut nodes = vec![];
        for i in 1..=replicas {
            nodes.push(ClusterNode::replica(&format!("r{i}"), &p, &[]));
        }
        wait_streaming(&p, replicas);
        nodes.insert(0, p);
        Fleet::Rdb(nodes)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Fleet::Pg(_) => "postgres",
            Fleet::Rdb(_) => "rustydb",
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Fleet::Pg(_))
    }

    /// `host:port` of every backend, primary first (static-mode `backends`).
    pub fn addrs(&self) -> Vec<String> {
        match self {
            Fleet::Pg(c) => c.addrs(),
            Fleet::Rdb(n) => n.iter().map(ClusterNode::addr).collect(),
        }
    }

    /// Backend names, primary first.
    pub fn names(&self) -> Vec<String> {
        match self {
            Fleet::Pg(c) => c.nodes.iter().map(|n| n.name.clone()).collect(),
            Fleet::Rdb(n) => n.iter().map(|n| n.name().to_string()).collect(),
        }
    }

    /// The primary's name (the first backend: tests that fail over track
    /// the new primary themselves).
    pub fn primary_name(&self) -> String {
        self.names().remove(0)
    }

    pub fn replica_names(&self) -> Vec<String> {
        self.names().into_iter().skip(1).collect()
    }

    /// Address of backend `name`.
    pub fn addr_of(&self, name: &str) -> String {
        let i = self
            .names()
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no backend {name}"));
        self.addrs().remove(i)
    }

    /// The SQL expression (text) naming the backend that evaluates it.
    pub fn who(&self) -> &'static str {
        match self {
            Fleet::Pg(_) => "inet_server_port()::text",
            Fleet::Rdb(_) => "current_setting('rustydb.node_name')",
        }
    }

    /// `template` with `{who}` replaced by [`Fleet::who`].
    pub fn sql(&self, template: &str) -> String {
        template.replace("{who}", self.who())
    }

    /// `(backend, count)` of `SELECT {who}, count(*) FROM ryw WHERE id =
    /// id`, through `c`: which backend answered a read-your-writes probe
    /// and whether it saw the row (the proxy read-your-writes tests).
    pub fn read_ryw_row(&self, c: &mut SqlClient, id: i64) -> Result<(String, String), String> {
        let out = c.simple(&self.sql(&format!(
            "SELECT {{who}}, count(*) FROM ryw WHERE id = {id}"
        )));
        let row = out.rows().first().cloned().ok_or_else(|| out.to_string())?;
        let who = self.name_of(row.first().cloned().flatten().as_deref().unwrap_or(""));
        Ok((who, row.get(1).cloned().flatten().unwrap_or_default()))
    }

    /// Maps what the identity expression (or `SHOW rustydb.node_name`)
    /// returned to a backend name; unknown values come back unchanged.
    pub fn name_of(&self, ident: &str) -> String {
        let names = self.names();
        if names.iter().any(|n| n == ident) {
            return ident.to_string();
        }
        match self {
            Fleet::Pg(c) => c
                .nodes
                .iter()
                .find(|n| n.port.to_string() == ident)
                .map(|n| n.name.clone())
                .unwrap_or_else(|| ident.to_string()),
            Fleet::Rdb(_) => ident.to_string(),
        }
    }

    /// Backend names found in the first column of every row of `out`.
    pub fn answered(&self, out: &Outcome) -> Result<Vec<String>, String> {
        match out {
            Outcome::Ok { rows, .. } if !rows.is_empty() => Ok(rows
                .iter()
                .map(|r| {
                    let v = r.first().cloned().flatten().unwrap_or_default();
                    self.name_of(&v)
                })
                .collect()),
            other => Err(other.to_string()),
        }
    }

    /// The single backend that answered `template` (with `{who}` first).
    pub fn ask(&self, client: &mut SqlClient, template: &str) -> Result<String, String> {
        let out = client.simple(&self.sql(template));
        let names = self.answered(&out)?;
        let first = names[0].clone();
        if names.iter().all(|n| *n == first) {
            Ok(first)
        } else {
            Err(format!("rows from several backends: {names:?}"))
        }
    }

    /// A direct connection to the primary (setup statements).
    pub fn primary_client(&self) -> SqlClient {
        match self {
            Fleet::Pg(c) => c.primary().connect(),
            Fleet::Rdb(n) => n[0].connect(),
        }
    }

    /// A direct connection to backend `name`.
    pub fn client_of(&self, name: &str) -> SqlClient {
        match self {
            Fleet::Pg(c) => c
                .nodes
                .iter()
                .find(|n| n.name == name)
                .unwrap_or_else(|| panic!("no backend {name}"))
                .connect(),
            Fleet::Rdb(n) => n
                .iter()
                .find(|n| n.name() == name)
                .unwrap_or_else(|| panic!("no backend {name}"))
                .connect(),
        }
    }

    /// Waits until every replica has applied what the primary wrote.
    pub fn wait_replayed(&self) {
        match self {
            Fleet::Pg(c) => {
                for i in 1..c.nodes.len() {
                    c.wait_replayed(i, 0);
                }
            }
            Fleet::Rdb(n) => {
                let replicas: Vec<&ClusterNode> = n.iter().skip(1).collect();
                wait_caught_up(&n[0], &replicas);
            }
        }
    }

    /// Log tails of every backend.
    pub fn describe(&self) -> String {
        match self {
            Fleet::Pg(c) => c.describe(),
            Fleet::Rdb(n) => {
                let all: Vec<&ClusterNode> = n.iter().collect();
                crate::cluster::describe_all(&all)
            }
        }
    }
}

/// Counts of backend names in `answers`, sorted by name.
pub fn tally(answers: &[String]) -> Vec<(String, usize)> {
    let mut m = std::collections::BTreeMap::new();
    for a in answers {
        *m.entry(a.clone()).or_insert(0usize) += 1;
    }
    m.into_iter().collect()
}

/// Bound for the proxy to notice topology facts (roles, replay positions).
pub const CONVERGE: Duration = Duration::from_secs(30);

/// Collects independent check failures so one run reports all of them.
#[derive(Default)]
pub struct Failures(pub Vec<String>);

impl Failures {
    pub fn check(&mut self, what: &str, r: Result<(), String>) {
        match r {
            Ok(()) => println!("ok   {what}"),
            Err(e) => {
                println!("FAIL {what}: {e}");
                self.0.push(format!("{what}: {e}"));
            }
        }
    }

    /// Panics listing every failure (plus `context`) if there were any.
    pub fn assert_none(&self, context: &str) {
        assert!(
            self.0.is_empty(),
            "{} check(s) failed:\n  {}\n{context}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

/// Waits until reads through `proxy` (client `opts`) have been answered by
/// `want` distinct replicas (the proxy's health checks found them), then
/// gives the checks two more intervals so every backend is known.
pub fn wait_replicas(
    fleet: &Fleet,
    proxy: &crate::proxy::ProxyProc,
    opts: &crate::proxy::ConnectOpts,
    want: usize,
) -> Result<(), String> {
    if proxy.is_direct() {
        return Ok(());
    }
    let replicas = fleet.replica_names();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + CONVERGE;
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        match proxy.try_connect(opts) {
            Ok(mut c) => match fleet.ask(&mut c, "SELECT {who}") {
                Ok(name) if replicas.contains(&name) => {
                    seen.insert(name);
                }
                Ok(name) => last = format!("answered by {name}"),
                Err(e) => last = e,
            },
            Err(e) => last = e,
        }
        if seen.len() >= want {
            std::thread::sleep(Duration::from_millis(600));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "reads through the proxy reached replicas {seen:?} (want {want}) within {CONVERGE:?}; last: {last}"
    ))
}

/// Decodes the lowercase hex an [`crate::extended::ExtOutcome`] row holds.
pub fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
