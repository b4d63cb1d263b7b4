//! `rustydb up --geo [--wan-latency-ms 50]`: two sites on loopback.
//!
//! ```text
//!  dc1 (region r1, primary cluster)          dc2 (region r2, standby cluster)
//!   n1..n3  pgwire 5433-5435                   s1..s3  pgwire 5443-5445
//!           admin 8433-8435, WAL 7433-7435             admin 8443-8445, WAL 7443-7445
//!   m1..m3  API 8008-8010, raft 9008-9010       m11..m13 API 8018-8020, raft 9018-9020
//!   proxy   6432 (/metrics 6480)                proxy   6442 (/metrics 6490)
//!
//!   rustydb wan-relay (dc2 -> dc1; RTT --wan-latency-ms; control 127.0.0.1:7999)
//!     15433-15435 -> dc1 pgwire, 17433-17435 -> dc1 WAL senders
//! ```
//!
//! dc2's managers run with `[standby_cluster] primary_hosts` = the relay's
//! pgwire ports, so the standby leader streams dc1's WAL through the relay
//! (its nodes map dc1's WAL endpoints onto the relay's with
//! `--replication-endpoint-map`); dc1's senders compress batches (lz4)
//! and wait up to 5 ms to fill them, as a WAN link wants. Every child is
//! this executable; Ctrl-C stops them all. Data under `<data-dir>/geo`.

use std::path::Path;

use super::{path_str, spawn, stop_all, wait_or_child_exit, write_file, Running};
use crate::cli::UpArgs;

const RELAY_CONTROL: u16 = 7999;

struct Site {
    dc: &'static str,
    region: &'static str,
    prefix: &'static str,
    pgwire: u16,
    admin: u16,
    wal: u16,
    api: u16,
    raft: u16,
    member_base: u64,
    proxy: u16,
    proxy_admin: u16,
}

const DC1: Site = Site {
    dc: "dc1",
    region: "r1",
    prefix: "n",
    pgwire: 5433,
    admin: 8433,
    wal: 7433,
    api: 8008,
    raft: 9008,
    member_base: 1,
    proxy: 6432,
    proxy_admin: 6480,
};

const DC2: Site = Site {
    dc: "dc2",
    region: "r2",
    prefix: "s",
    pgwire: 5443,
    admin: 8443,
    wal: 7443,
    api: 8018,
    raft: 9018,
    member_base: 11,
    proxy: 6442,
    proxy_admin: 6490,
};

/// The relay's pgwire and WAL port for dc1 node `i`.
fn relay_ports(i: u16) -> (u16, u16) {
    (15433 + i, 17433 + i)
}

fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn node_args(site: &Site, i: u16, dir: &Path, toml: &Path, wan_map: &str) -> Vec<String> {
    let mut a = vec![
        "--config".to_string(),
        path_str(toml),
        "--data-dir".into(),
        path_str(&dir.join(format!("{}{}", site.prefix, i + 1))),
        "--listen".into(),
        format!("127.0.0.1:{}", site.pgwire + i),
        "--admin-listen".into(),
        format!("127.0.0.1:{}", site.admin + i),
        "--replication-listen".into(),
        format!("127.0.0.1:{}", site.wal + i),
        "--node-name".into(),
        format!("{}{}", site.prefix, i + 1),
        "--datacenter".into(),
        site.dc.into(),
        "--region".into(),
        site.region.into(),
    ];
    let follow = match (site.dc, i) {
        ("dc1", 0) => None,
        ("dc1", _) => Some(format!("127.0.0.1:{}", site.pgwire)),
        (_, 0) => Some(format!("127.0.0.1:{}", relay_ports(0).0)),
        _ => Some(format!("127.0.0.1:{}", site.pgwire)),
    };
    if let Some(f) = follow {
        a.extend(["--follow".into(), f]);
    }
    if site.dc == "dc2" {
        a.extend(["--replication-endpoint-map".into(), wan_map.to_string()]);
    }
    a
}

fn manager_toml(site: &Site, m: u16, dir: &Path, args: &[String], standby: bool) -> String {
    let id = site.member_base + u64::from(m);
    let mut s = format!(
        "id = {id}\nname = \"m{id}\"\napi_listen = \"127.0.0.1:{}\"\nraft_listen = \"127.0.0.1:{}\"\n\
         data_dir = {}\ndatacenter = \"{}\"\nregion = \"{}\"\n",
        site.api + m,
        site.raft + m,
        q(&path_str(&dir.join(format!("m{id}")))),
        site.dc,
        site.region
    );
    for k in 0..3u16 {
        s.push_str(&format!(
            "[[members]]\nid = {}\nraft = \"127.0.0.1:{}\"\napi = \"http://127.0.0.1:{}\"\n\
             datacenter = \"{}\"\nregion = \"{}\"\n",
            site.member_base + u64::from(k),
            site.raft + k,
            site.api + k,
            site.dc,
            site.region
        ));
    }
    for k in 0..3u16 {
        s.push_str(&format!(
            "[[nodes]]\nname = \"{}{}\"\npgwire = \"127.0.0.1:{}\"\nadmin = \"127.0.0.1:{}\"\n\
             datacenter = \"{}\"\nregion = \"{}\"\n",
            site.prefix,
            k + 1,
            site.pgwire + k,
            site.admin + k,
            site.dc,
            site.region
        ));
    }
    let args: Vec<String> = args.iter().map(|a| q(a)).collect();
    s.push_str(&format!(
        "[supervise]\nnode = \"{}{}\"\nargs = [{}]\n[cluster]\nlease_ttl_ms = 700\nheartbeat_ms = 100\n",
        site.prefix,
        m + 1,
        args.join(", ")
    ));
    if standby {
        let hosts: Vec<String> = (0..3u16)
            .map(|i| q(&format!("127.0.0.1:{}", relay_ports(i).0)))
            .collect();
        s.push_str(&format!(
            "[standby_cluster]\nprimary_hosts = [{}]\n[dr]\nprobe_interval_ms = 500\n",
            hosts.join(", ")
        ));
    }
    s
}

/// Runs both sites and the relay until Ctrl-C / SIGTERM.
pub async fn up(args: UpArgs) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my executable: {e}"))?;
    let dir = args.data_dir.join("geo");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let (cert, key) = crate::tls::playground_cert(&dir)?;
    let mut children: Vec<Running> = Vec::new();
    let result = async {
        let wan_map: Vec<String> = (0..3u16)
            .map(|i| format!("127.0.0.1:{}=127.0.0.1:{}", DC1.wal + i, relay_ports(i).1))
            .collect();
        let wan_map = wan_map.join(",");
        let mut relay = vec![
            "wan-relay".to_string(),
            "--latency-ms".into(),
            args.wan_latency_ms.to_string(),
            "--control".into(),
            format!("127.0.0.1:{RELAY_CONTROL}"),
        ];
        for i in 0..3u16 {
            let (pg, wal) = relay_ports(i);
            relay.extend([
                "--route".into(),
                format!("127.0.0.1:{pg}=127.0.0.1:{}", DC1.pgwire + i),
                "--route".into(),
                format!("127.0.0.1:{wal}=127.0.0.1:{}", DC1.wal + i),
            ]);
        }
        children.push(spawn(&exe, "wan-relay", &relay, &logs)?);
        for (site, standby) in [(&DC1, false), (&DC2, true)] {
            let toml = dir.join(format!("{}-node.toml", site.dc));
            // The primary site's senders batch and compress for the WAN.
            let compression = if standby {
                ""
            } else {
                "[replication]\ncompression = \"lz4\"\nbatch_delay_ms = 5\n"
            };
            write_file(
                &toml,
                &format!(
                    "tls_cert = {}\ntls_key = {}\n{compression}",
                    q(&path_str(&cert)),
                    q(&path_str(&key))
                ),
            )?;
            for m in 0..3u16 {
                let nargs = node_args(site, m, &dir, &toml, &wan_map);
                let mut full = vec!["node".to_string()];
                full.extend(nargs.clone());
                let text = manager_toml(site, m, &dir, &full[1..], standby);
                let id = site.member_base + u64::from(m);
                let mdir = dir.join(format!("m{id}"));
                std::fs::create_dir_all(&mdir)
                    .map_err(|e| format!("cannot create {}: {e}", mdir.display()))?;
                let path = mdir.join("manager.toml");
                write_file(&path, &text)?;
                let margs = vec!["manager".to_string(), "--config".into(), path_str(&path)];
                children.push(spawn(&exe, &format!("m{id}"), &margs, &logs)?);
            }
            let members: Vec<String> = (0..3u16)
                .map(|k| format!("http://127.0.0.1:{}", site.api + k))
                .collect();
            let pargs = vec![
                "proxy".to_string(),
                "--listen".into(),
                format!("127.0.0.1:{}", site.proxy),
                "--admin-listen".into(),
                format!("127.0.0.1:{}", site.proxy_admin),
                "--manager".into(),
                members.join(","),
                "--datacenter".into(),
                site.dc.into(),
                "--region".into(),
                site.region.into(),
            ];
            children.push(spawn(&exe, &format!("proxy-{}", site.dc), &pargs, &logs)?);
        }
        println!(
            "RustyDB geo playground: dc1 (primary) and dc2 (standby), WAN RTT {} ms (data and logs in {}).",
            args.wan_latency_ms,
            dir.display()
        );
        println!();
        println!("    psql -h 127.0.0.1 -p {} -U postgres postgres    # dc1 (writes)", DC1.proxy);
        println!("    psql -h 127.0.0.1 -p {} -U postgres postgres    # dc2 (read-only standby)", DC2.proxy);
        println!();
        println!("    rustydb-cli --manager http://127.0.0.1:{} dr status", DC2.api);
        println!("    rustydb-cli --manager http://127.0.0.1:{} dr failover --test-mode", DC2.api);
        println!("    curl -XPOST http://127.0.0.1:{RELAY_CONTROL}/partition   # cut the WAN (/heal)");
        println!();
        println!("Press Ctrl-C to stop.");
        wait_or_child_exit(&mut children, None).await;
        Ok::<(), String>(())
    }
    .await;
    println!("Stopping RustyDB...");
    stop_all(&mut children).await;
    println!("Stopped.");
    result
}
