//! Shared harness of the manager service tests: three `rustydb node`
//! processes (n1 primary, n2 and n3 following it) and three `rustydb
//! manager` processes on free loopback ports, plus a small blocking client
//! for the manager API (with or without the bearer token).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rustydb_tests::cluster::{wait_until, ClusterNode};
use rustydb_tests::process::{free_port, log_tail, rustydb_bin};
use serde_json::Value;

pub const TOKEN: &str = "s3cret";

/// One manager member process.
pub struct Manager {
    pub id: u64,
    pub api_port: u16,
    child: Option<Child>,
    pub log: PathBuf,
    config: PathBuf,
}

impl Manager {
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("log {}: {e}", self.log.display()));
        let child = Command::new(rustydb_bin())
            .arg("manager")
            .arg("--config")
            .arg(&self.config)
            .env("RUSTYDB_LOG", "info,openraft=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start manager {}: {e}", self.id));
        self.child = Some(child);
    }

    pub fn log_tail(&self) -> String {
        log_tail(&self.log, 3000)
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub text: String,
}

/// Calls the manager API on `port`.
pub fn call(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<Reply, String> {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let url = format!("http://127.0.0.1:{port}{path}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let reply = match method {
        "GET" => {
            let mut r = agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        "DELETE" => {
            let mut r = agent.delete(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        m => {
            let mut r = match m {
                "PATCH" => agent.patch(&url),
                _ => agent.post(&url),
            };
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r = r.header("Content-Type", "application/json");
            r.send(body.unwrap_or("").to_string())
        }
    };
    let mut resp = reply.map_err(|e| format!("{method} {path}: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply { status, json, text })
}

/// Three nodes and three managers.
pub struct Cluster {
    pub nodes: Vec<ClusterNode>,
    pub managers: Vec<Manager>,
    /// `[[members]]` and `[[nodes]]` of the configs (for `add_manager`).
    members_text: String,
    node_text: String,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start(mode: &str) -> Cluster {
        Cluster::start_supervising(mode, &[])
    }

    /// Like `start`, but manager `i + 1` supervises node `i` for each `i`
    /// in `supervised`: the test's own process of that node is killed and
    /// the manager starts it again with the same arguments (`rustydb node
    /// ...` from the manager's executable).
    pub fn start_supervising(mode: &str, supervised: &[usize]) -> Cluster {
        let n1 = ClusterNode::primary("n1", &[]);
        let n2 = ClusterNode::replica("n2", &n1, &[]);
        let n3 = ClusterNode::replica("n3", &n1, &[]);
        let mut nodes = vec![n1, n2, n3];
        let mut supervise = vec![String::new(); nodes.len()];
        for &i in supervised {
            let n = &mut nodes[i];
            let name = n.name().to_string();
            let port = n.port();
            let admin = n.admin_port();
            let server = n.server();
            let mut args = vec![
                "--data-dir".to_string(),
                server.data_dir().display().to_string(),
                "--listen".to_string(),
                format!("127.0.0.1:{port}"),
                "--admin-listen".to_string(),
                format!("127.0.0.1:{admin}"),
            ];
            args.extend(server.args().iter().cloned());
            server.kill9();
            let quoted: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
            supervise[i] = format!(
                "[supervise]\nnode = \"{name}\"\nargs = [{}]\n",
                quoted.join(", ")
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("rdb-mgr-")
            .tempdir()
            .unwrap_or_else(|e| panic!("{e}"));
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let mut members = String::new();
        for (i, (api, raft)) in ports.iter().enumerate() {
            members.push_str(&format!(
                "[[members]]\nid = {}\nraft = \"127.0.0.1:{raft}\"\napi = \"http://127.0.0.1:{api}\"\n",
                i + 1
            ));
        }
        let mut node_text = String::new();
        for n in &mut nodes {
            let admin = n.server().admin_port().unwrap_or(0);
            node_text.push_str(&format!(
                "[[nodes]]\nname = \"{}\"\npgwire = \"{}\"\nadmin = \"127.0.0.1:{}\"\n",
                n.name(),
                n.addr(),
                admin
            ));
        }
        let mut managers = Vec::new();
        for (i, (api, raft)) in ports.iter().enumerate() {
            let id = (i + 1) as u64;
            let data = dir.path().join(format!("m{id}"));
            let text = format!(
                "id = {id}\napi_listen = \"127.0.0.1:{api}\"\nraft_listen = \"127.0.0.1:{raft}\"\ndata_dir = \"{}\"\napi_token = \"{TOKEN}\"\n{members}{node_text}{}[cluster]\nreplication_mode = \"{mode}\"\nlease_ttl_ms = 1000\nheartbeat_ms = 100\n",
                data.display(),
                supervise.get(i).map(String::as_str).unwrap_or("")
            );
            let config = dir.path().join(format!("m{id}.toml"));
            std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
            let mut m = Manager {
                id,
                api_port: *api,
                child: None,
                log: dir.path().join(format!("m{id}.log")),
                config,
            };
            m.start();
            managers.push(m);
        }
        Cluster {
            nodes,
            managers,
            members_text: members,
            node_text,
            _dir: dir,
        }
    }

    /// Starts manager `id` on fresh ports, configured with the existing
    /// members and itself, not yet part of the group (`POST /members`
    /// adds it). Answers its Raft address and API URL.
    pub fn add_manager(&mut self, id: u64) -> (String, String) {
        let (api, raft) = (free_port(), free_port());
        let dir = self._dir.path();
        let data = dir.join(format!("m{id}"));
        let me = format!(
            "[[members]]\nid = {id}\nraft = \"127.0.0.1:{raft}\"\napi = \"http://127.0.0.1:{api}\"\n"
        );
        let text = format!(
            "id = {id}\napi_listen = \"127.0.0.1:{api}\"\nraft_listen = \"127.0.0.1:{raft}\"\ndata_dir = \"{}\"\napi_token = \"{TOKEN}\"\n{}{me}{}",
            data.display(),
            self.members_text,
            self.node_text
        );
        let config = dir.join(format!("m{id}.toml"));
        std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
        let mut m = Manager {
            id,
            api_port: api,
            child: None,
            log: dir.join(format!("m{id}.log")),
            config,
        };
        m.start();
        self.managers.push(m);
        (
            format!("127.0.0.1:{raft}"),
            format!("http://127.0.0.1:{api}"),
        )
    }

    pub fn logs(&self) -> String {
        let mut s = String::new();
        for m in &self.managers {
            s.push_str(&format!("--- manager {} ---\n{}\n", m.id, m.log_tail()));
        }
        s
    }

    /// Waits until `/cluster` (on member `via`) shows `primary` as leader
    /// and every other node as a streaming replica.
    pub fn wait_cluster(&self, via: usize, primary: &str, bound: Duration) -> Value {
        let port = self.managers[via].api_port;
        wait_until("cluster converged", bound, || {
            let r = call(port, "GET", "/cluster", None, None)?;
            let members = r
                .json
                .get("members")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let ok = members.len() == 3
                && members.iter().all(|m| {
                    let name = m.get("name").and_then(Value::as_str).unwrap_or("");
                    let role = m.get("role").and_then(Value::as_str).unwrap_or("");
                    let state = m.get("state").and_then(Value::as_str).unwrap_or("");
                    if name == primary {
                        role == "leader" && state == "running"
                    } else {
                        (role == "replica" || role == "sync_standby") && state == "streaming"
                    }
                });
            if ok {
                Ok(r.json)
            } else {
                Err(r.text)
            }
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()))
    }
}
