//! The playground's proxy: `rustydb proxy` as a child of `rustydb up`.
//!
//! [`proxy_args`] picks the mode: with a manager group over several nodes
//! the proxy follows `GET /topology` on every member (dynamic mode), so a
//! failover moves it to the new primary; with one node, or a build without
//! managers, it lists the nodes (static mode) and detects roles itself.
//! [`wait_proxy`] gives it a bounded time to accept connections, so the
//! banner only advertises a proxy that is really listening (a taken port
//! shows up as "the proxy did not start" plus its log). The `--nodes 1`
//! shape runs the node inside `rustydb up` (run.rs); the `single_node_*`
//! functions give it the same proxy child and banner.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{spawn, stop_all, NodeSpec, Running, API_PORT, MANAGERS};
use crate::cli::UpArgs;

/// `rustydb proxy` arguments: dynamic mode over every manager member's API
/// when there is a manager group of three or more nodes, else static mode
/// over every node (roles detected by `pg_is_in_recovery()`).
pub(super) fn proxy_args(managed: bool, nodes: &[NodeSpec], port: u16, admin: u16) -> Vec<String> {
    let mut args = vec![
        "proxy".to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--admin-listen".into(),
        format!("127.0.0.1:{admin}"),
    ];
    if managed && nodes.len() > 1 {
        let members: Vec<String> = (0..MANAGERS.min(nodes.len()))
            .map(|i| {
                let off = u16::try_from(i).unwrap_or(0);
                format!("http://127.0.0.1:{}", API_PORT + off)
            })
            .collect();
        args.extend(["--manager".into(), members.join(",")]);
    } else {
        let backends: Vec<String> = nodes.iter().map(NodeSpec::pgwire).collect();
        args.extend(["--backends".into(), backends.join(",")]);
    }
    args
}

/// True once the proxy accepts connections on `port` (bounded); false when
/// it exited (port taken, bad flags: its log says why) or never listened.
pub(super) async fn wait_proxy(proxy: &mut Running, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = proxy.child.try_wait() {
            proxy.reported = true;
            eprintln!("rustydb: the proxy exited ({status}); see logs/proxy.log");
            return false;
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// `--nodes 1` (the node runs inside `rustydb up`, see run.rs): a
/// static-mode proxy child in front of it, logging to
/// `<data-dir>/logs/proxy.log`. None when `--proxy-port 0` or when it did
/// not come up (the reason is printed).
pub(crate) async fn single_node_proxy(args: &UpArgs, node_port: u16) -> Option<Running> {
    if args.proxy_port == 0 {
        return None;
    }
    let started = async {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find my executable: {e}"))?;
        let logs = args.data_dir.join("logs");
        std::fs::create_dir_all(&logs)
            .map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        let node = NodeSpec::new(&args.data_dir, 0, node_port);
        let pargs = proxy_args(false, &[node], args.proxy_port, args.proxy_admin_port);
        spawn(&exe, "proxy", &pargs, &logs)
    };
    match started.await {
        Ok(mut proxy) => {
            if wait_proxy(&mut proxy, args.proxy_port).await {
                Some(proxy)
            } else {
                stop_proxy(Some(&mut proxy)).await;
                None
            }
        }
        Err(e) => {
            eprintln!("rustydb: no proxy: {e}");
            None
        }
    }
}

/// The `--nodes 1` banner.
pub(crate) fn single_node_banner(data_dir: &Path, node_port: u16, args: &UpArgs, proxy: bool) {
    println!(
        "RustyDB is up (data in {}). Connect with:",
        data_dir.display()
    );
    println!();
    if proxy {
        let (port, admin) = (args.proxy_port, args.proxy_admin_port);
        println!("    psql -h 127.0.0.1 -p {port} -U postgres postgres");
        println!();
        println!("(through the proxy; the node directly: psql -h 127.0.0.1 -p {node_port} -U postgres postgres)");
        println!(
            "Proxy console: psql -h 127.0.0.1 -p {port} -U postgres rustydb -c 'SHOW BACKENDS'"
        );
        println!("Proxy metrics: http://127.0.0.1:{admin}/metrics");
    } else {
        println!("    psql -h 127.0.0.1 -p {node_port} -U postgres postgres");
        if args.proxy_port != 0 {
            println!();
            println!(
                "The proxy did not start; see {}/logs/proxy.log.",
                args.data_dir.display()
            );
        }
    }
    println!();
    println!("Press Ctrl-C to stop.");
}

/// Stops a proxy child (SIGTERM, bounded wait, SIGKILL).
pub(crate) async fn stop_proxy(proxy: Option<&mut Running>) {
    if let Some(proxy) = proxy {
        stop_all(std::slice::from_mut(proxy)).await;
    }
}
