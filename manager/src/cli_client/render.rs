//! Readable output for `rustydb-cli`: boxed tables in the style of
//! `patronictl list`, one row per node, manager or history record.
//!
//! The table is computed from the same JSON `--format json` prints, so the
//! two views never disagree. Column widths are measured in characters
//! (node names may be non-ASCII). Nothing here talks to the network.

use serde_json::Value;

use super::wire::{cell, ClusterView};

/// A boxed, left-aligned text table.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let rule = {
            let parts: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            format!("+{}+\n", parts.join("+"))
        };
        let line = |cells: &[String]| {
            let parts: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let c = cells.get(i).map(String::as_str).unwrap_or("");
                    format!(" {c}{} ", " ".repeat(w - c.chars().count().min(*w)))
                })
                .collect();
            format!("|{}|\n", parts.join("|"))
        };
        let mut out = rule.clone();
        out.push_str(&line(&self.header));
        out.push_str(&rule);
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out.push_str(&rule);
        out
    }
}

/// `cluster status`: nodes, then managers, then the pause banner.
pub fn cluster(view: &ClusterView) -> String {
    let scope = if view.scope.is_empty() {
        "rustydb"
    } else {
        view.scope.as_str()
    };
    let mut out = format!("+ Cluster: {scope} (timeline {}) +\n", cell(&view.timeline));
    let mut nodes = Table::new(&[
        "Member", "Host", "Role", "State", "TL", "LSN", "Lag", "DC", "Region", "Tags",
    ]);
    for m in &view.members {
        let host = match cell(&m.port).as_str() {
            "" => m.host.clone(),
            p => format!("{}:{p}", m.host),
        };
        nodes.row(vec![
            m.name.clone(),
            host,
            pretty_role(&m.role),
            m.state.clone(),
            cell(&m.timeline),
            cell(&m.lsn),
            cell(&m.lag),
            m.datacenter.clone(),
            m.region.clone(),
            tags(m),
        ]);
    }
    out.push_str(&nodes.render());
    if !view.managers.is_empty() {
        let mut managers = Table::new(&["Manager", "Id", "API", "Raft", "Role", "DC", "Region"]);
        for m in &view.managers {
            managers.row(vec![
                m.name.clone(),
                cell(&m.id),
                m.api_url.clone(),
                m.raft_addr.clone(),
                m.role.clone(),
                m.datacenter.clone(),
                m.region.clone(),
            ]);
        }
        out.push_str(&managers.render());
    }
    if view.paused {
        out.push_str(" Maintenance mode: on (no automatic failover)\n");
    }
    out
}

/// `replication lag`: one row per node with its LSN and lag.
pub fn lag(view: &ClusterView) -> String {
    let mut t = Table::new(&["Member", "Role", "State", "LSN", "Lag"]);
    for m in &view.members {
        t.row(vec![
            m.name.clone(),
            pretty_role(&m.role),
            m.state.clone(),
            cell(&m.lsn),
            cell(&m.lag),
        ]);
    }
    t.render()
}

fn pretty_role(role: &str) -> String {
    match role {
        "leader" => "Leader".into(),
        "sync_standby" => "Sync Standby".into(),
        "standby_leader" => "Standby Leader".into(),
        "replica" => "Replica".into(),
        other => other.to_string(),
    }
}

fn tags(m: &super::wire::MemberView) -> String {
    let mut t = Vec::new();
    if m.tags.nofailover {
        t.push("nofailover".to_string());
    }
    if m.tags.noloadbalance {
        t.push("noloadbalance".to_string());
    }
    match &m.tags.failover_priority {
        Value::Null => {}
        Value::Number(n) if n.as_i64() == Some(0) => {}
        p => t.push(format!("priority={}", cell(p))),
    }
    t.join(",")
}

/// `cluster history`: accepts a list of records, or an object holding
/// them under `failovers` (the service's shape), `history` or `records`.
pub fn history(body: &Value) -> String {
    let records = match body {
        Value::Array(a) => a.as_slice(),
        Value::Object(o) => match o
            .get("failovers")
            .or_else(|| o.get("history"))
            .or_else(|| o.get("records"))
        {
            Some(Value::Array(a)) => a.as_slice(),
            _ => &[],
        },
        _ => &[],
    };
    let mut t = Table::new(&["Time", "From", "To", "Reason", "Success", "Duration"]);
    for r in records {
        let get = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| r.get(*k))
                .map(cell)
                .unwrap_or_default()
        };
        let duration = match r.get("duration_ms") {
            Some(v) => format!("{} ms", cell(v)),
            None => get(&["duration"]),
        };
        let time = match r.get("time_ms").and_then(Value::as_i64) {
            Some(ms) => chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
                .unwrap_or_else(|| ms.to_string()),
            None => get(&["time", "at", "timestamp"]),
        };
        t.row(vec![
            time,
            get(&["from", "old_primary"]),
            get(&["to", "new_primary"]),
            get(&["reason"]),
            get(&["success", "ok"]),
            duration,
        ]);
    }
    t.render()
}

/// `config show`: `key = value` lines, nested objects flattened with dots.
pub fn config(body: &Value) -> String {
    let mut lines = Vec::new();
    flatten("", body, &mut lines);
    lines.sort();
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, child, out);
            }
        }
        other => out.push(format!("{prefix} = {other}")),
    }
}

/// A mutation's answer: the interesting fields as `key: value` lines.
pub fn result(body: &Value) -> String {
    match body {
        Value::Object(map) if !map.is_empty() => {
            let mut out = String::new();
            for (k, v) in map {
                out.push_str(&format!("{k}: {}\n", cell(v)));
            }
            out
        }
        Value::Null => "ok\n".to_string(),
        other => format!("{}\n", cell(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_to_the_widest_cell() {
        let mut t = Table::new(&["A", "Long header"]);
        t.row(vec!["wide cell".into(), "x".into()]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "+-----------+-------------+");
        assert_eq!(lines[1], "| A         | Long header |");
        assert_eq!(lines[3], "| wide cell | x           |");
        assert!(lines.iter().all(|l| l.chars().count() == 27));
    }

    #[test]
    fn cluster_view_renders_members_and_pause() {
        let v: ClusterView = serde_json::from_value(serde_json::json!({
            "members": [{"name": "n1", "role": "leader", "state": "running", "host": "127.0.0.1",
                         "port": 5433, "timeline": 2, "lsn": 100, "lag": 0,
                         "tags": {"nofailover": true, "failover_priority": 3}}],
            "managers": [{"id": 1, "name": "m1", "role": "leader"}],
            "paused": true, "timeline": 2, "extra": "ignored"
        }))
        .unwrap_or_default();
        let s = cluster(&v);
        assert!(s.contains("| n1 "), "{s}");
        assert!(s.contains("127.0.0.1:5433"), "{s}");
        assert!(s.contains("Leader"), "{s}");
        assert!(s.contains("nofailover,priority=3"), "{s}");
        assert!(s.contains("Maintenance mode: on"), "{s}");
        assert!(s.contains("| m1 "), "{s}");
    }

    #[test]
    fn history_accepts_a_list_or_a_wrapper() {
        let rec = serde_json::json!({"time": "t0", "from": "n1", "to": "n2", "reason": "failed",
                                     "success": true, "duration_ms": 812});
        let a = history(&serde_json::json!([rec.clone()]));
        let b = history(&serde_json::json!({"history": [rec]}));
        assert_eq!(a, b);
        assert!(a.contains("812 ms"), "{a}");
        let c = history(
            &serde_json::json!({"failovers": [{"time_ms": 0, "from": "n1",
            "to": "n2", "reason": "r", "success": true, "duration_ms": 5}], "timelines": []}),
        );
        assert!(c.contains("1970-01-01 00:00:00.000 UTC"), "{c}");
    }

    /// The service's own types render: the contract the CLI relies on.
    #[test]
    fn the_api_crate_shapes_render() {
        use rustydb_manager_api as api;
        let config = api::ClusterConfigView {
            replication_mode: "sync".into(),
            num_sync_replicas: 1,
            maximum_lag_on_failover: 1 << 20,
            lease_ttl_ms: 1000,
            heartbeat_ms: 100,
            failure_threshold: 8.0,
            pause: true,
        };
        let status = api::ClusterStatus {
            members: vec![api::ClusterMember {
                name: "n2".into(),
                role: "leader".into(),
                state: "running".into(),
                host: "127.0.0.1".into(),
                port: 5434,
                api_url: "http://127.0.0.1:8434".into(),
                timeline: Some(3),
                lsn: Some(77),
                lag: None,
                datacenter: "dc1".into(),
                region: "eu".into(),
                tags: api::NodeTags::default(),
                phi: 0.0,
            }],
            scope: "rustydb".into(),
            leader_member: Some(2),
            managers: vec![api::ManagerMember {
                id: 2,
                name: "m2".into(),
                api_url: "http://127.0.0.1:8009".into(),
                raft_addr: "127.0.0.1:9009".into(),
                role: "leader".into(),
                datacenter: "dc1".into(),
                region: "eu".into(),
            }],
            paused: true,
            timeline: 3,
            config: config.clone(),
            scheduled_switchover: None,
        };
        let view: ClusterView =
            serde_json::from_value(serde_json::to_value(&status).unwrap_or_default())
                .unwrap_or_default();
        let s = cluster(&view);
        assert!(s.contains("| n2     | 127.0.0.1:5434 | Leader |"), "{s}");
        assert!(s.contains("(timeline 3)"), "{s}");
        assert!(s.contains("| m2 "), "{s}");
        assert!(s.contains("| dc1 | eu     |"), "{s}");
        assert!(s.contains("Maintenance mode: on"), "{s}");
        let history = api::History {
            failovers: vec![api::HistoryEntry {
                time_ms: 1000,
                from: Some("n1".into()),
                to: Some("n2".into()),
                reason: "primary failed".into(),
                success: true,
                duration_ms: 640,
            }],
            timelines: vec![],
        };
        let h = super::history(&serde_json::to_value(&history).unwrap_or_default());
        assert!(
            h.contains("| 1970-01-01 00:00:01.000 UTC | n1   | n2 | primary failed |"),
            "{h}"
        );
        let c = super::config(&serde_json::to_value(&config).unwrap_or_default());
        assert!(c.contains("replication_mode = \"sync\""), "{c}");
    }

    #[test]
    fn config_is_flattened_and_sorted() {
        let s = config(&serde_json::json!({"b": 1, "a": {"x": "y"}}));
        assert_eq!(s, "a.x = \"y\"\nb = 1\n");
    }
}
