//! Shared helpers of the Raft integration tests: a group of members in
//! one process on 127.0.0.1 ports, bounded waits, raw HTTP.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use rustydb_manager::raft::{
    ClusterCommand, CommandResult, MemberConfig, NodeInfo, RaftMember, Role,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const WAIT: Duration = Duration::from_secs(20);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_test_writer()
        .try_init();
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// A group of members in this process; `None` marks a stopped member.
pub struct Group {
    pub configs: BTreeMap<u64, MemberConfig>,
    pub members: BTreeMap<u64, Option<RaftMember>>,
}

pub fn config_for(id: u64, port: u16, dir: &Path, peers: &BTreeMap<u64, String>) -> MemberConfig {
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    MemberConfig::new(id, listen, dir.join(format!("m{id}")), peers.clone())
}

impl Group {
    /// Starts `n` members (ids 1..=n), each config adjusted by `tweak`,
    /// and initialises the group.
    pub async fn start(n: u64, dir: &Path, tweak: impl Fn(&mut MemberConfig)) -> Group {
        let ports: BTreeMap<u64, u16> = (1..=n).map(|id| (id, free_port())).collect();
        let peers: BTreeMap<u64, String> = ports
            .iter()
            .map(|(id, port)| (*id, format!("127.0.0.1:{port}")))
            .collect();
        let mut group = Group {
            configs: BTreeMap::new(),
            members: BTreeMap::new(),
        };
        for (id, port) in &ports {
            let mut config = config_for(*id, *port, dir, &peers);
            tweak(&mut config);
            group.configs.insert(*id, config);
            group.restart(*id).await;
        }
        for member in group.running() {
            member.initialize().await.expect("initialize");
        }
        group
    }

    pub async fn restart(&mut self, id: u64) {
        let config = self.configs[&id].clone();
        let member = RaftMember::start(config).await.expect("start member");
        self.members.insert(id, Some(member));
    }

    pub async fn stop(&mut self, id: u64) {
        if let Some(Some(member)) = self.members.insert(id, None) {
            member.shutdown().await;
        }
    }

    pub async fn stop_all(&mut self) {
        let ids: Vec<u64> = self.members.keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }

    pub fn member(&self, id: u64) -> &RaftMember {
        match self.members.get(&id) {
            Some(Some(m)) => m,
            _ => panic!("member {id} is not running"),
        }
    }

    pub fn running(&self) -> Vec<RaftMember> {
        self.members.values().flatten().cloned().collect()
    }

    /// Waits until every running member names the same leader, and that
    /// leader (running) considers itself leader.
    pub async fn leader(&self) -> u64 {
        let deadline = Instant::now() + WAIT;
        loop {
            let running = self.running();
            let views: Vec<Option<u64>> = running.iter().map(|m| m.leader()).collect();
            if let Some(Some(first)) = views.first() {
                let agreed = views.iter().all(|v| *v == Some(*first));
                let alive = matches!(self.members.get(first), Some(Some(m)) if m.is_leader());
                if agreed && alive {
                    return *first;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader within {WAIT:?}: {views:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every running member has applied at least `index`.
    pub async fn applied_everywhere(&self, index: u64) {
        for member in self.running() {
            wait_applied(&member, index).await;
        }
    }
}

pub async fn wait_applied(member: &RaftMember, index: u64) {
    let mut watch = member.watch();
    let waited = tokio::time::timeout(WAIT, watch.wait_for(|applied| *applied >= index)).await;
    assert!(
        matches!(waited, Ok(Ok(_))),
        "member {} did not apply index {index} within {WAIT:?} (at {})",
        member.id(),
        member.state().0
    );
}

pub fn node(name: &str) -> NodeInfo {
    NodeInfo {
        name: name.to_string(),
        region: String::new(),
        pgwire_addr: format!("127.0.0.1:{}", 5433),
        admin_addr: format!("127.0.0.1:{}", 8080),
        datacenter: "dc1".to_string(),
        nofailover: false,
        noloadbalance: false,
        failover_priority: 0,
        role: Role::Unknown,
        drained: false,
        stopped: false,
    }
}

pub fn register(name: &str) -> ClusterCommand {
    ClusterCommand::RegisterNode { node: node(name) }
}

/// Proposes on the current leader, retrying once if leadership moved.
pub async fn propose(group: &Group, command: ClusterCommand) -> (u64, CommandResult) {
    let deadline = Instant::now() + WAIT;
    loop {
        let leader = group.leader().await;
        match group.member(leader).propose_indexed(command.clone()).await {
            Ok(done) => return done,
            Err(e) => {
                assert!(Instant::now() < deadline, "proposal failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Sends one raw HTTP/1.1 request and returns the status code.
pub async fn raw_status(addr: SocketAddr, request: String) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "no answer from {addr}");
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"))
}

pub fn post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
