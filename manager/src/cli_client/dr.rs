//! `rustydb-cli dr …`: disaster-recovery verbs (the manager's `/dr/*`).
//!
//! | verb | request |
//! |---|---|
//! | `dr status` | `GET /dr/status` (with the site quorum's view) |
//! | `dr check-standby` | `GET /dr/check` (exit 1 when unhealthy) |
//! | `dr failover [--force] [--test-mode]` | `POST /dr/failover` |
//! | `dr discard-test` | `POST /dr/discard-test` |
//! | `dr report` | `GET /dr/report` |
//! | `dr failback --peer URL --hosts H,… [--switch-back]` | see below |
//!
//! `dr failback` runs against the promoted site (`--api`) and drives the
//! old primary site (`--peer`, its manager API): the old site becomes a
//! standby of `--hosts` (the promoted site's nodes as the old site reaches
//! them), so its nodes rewind and stream rather than re-clone. With
//! `--switch-back`, once the old site has caught up, the promoted site is
//! drained and made a standby of the old site (`POST /dr/standby` answers
//! the final LSN), the old site's standby leader is waited for until it
//! reached that LSN, and the old site is promoted (`dr failover`): the
//! original layout is back with nothing lost.

use std::time::{Duration, Instant};

use clap::Subcommand;
use serde_json::{json, Value};

use super::http::{ApiClient, Method};
use super::{pretty, CliError};

#[derive(Debug, Subcommand)]
pub enum DrCmd {
    /// Standby cluster status: standby leader, remote primary, lag.
    Status,
    /// Exit 0 when the standby is healthy and within max_lag_tolerance_s.
    CheckStandby,
    /// Promote the standby cluster (or, with --test-mode, a fork of it).
    Failover {
        /// Promote even when the lag exceeds max_lag_tolerance_s.
        #[arg(long)]
        force: bool,
        /// Drill: promote a fork; the standby keeps following production.
        #[arg(long)]
        test_mode: bool,
    },
    /// Stop and remove the fork of a test-mode drill.
    DiscardTest,
    /// Drill history with RTO / RPO against the targets.
    Report,
    /// Make the old primary site a standby of this (promoted) site.
    Failback {
        /// The old primary site's manager API URL.
        #[arg(long)]
        peer: String,
        /// pgwire addresses of this site's nodes, as the old site reaches them.
        #[arg(long, value_delimiter = ',', required = true)]
        hosts: Vec<String>,
        /// Then switch back: the old site becomes primary again.
        #[arg(long)]
        switch_back: bool,
    },
}

pub fn run(client: &ApiClient, cmd: &DrCmd, json_out: bool) -> Result<String, CliError> {
    let out = |v: &Value, table: fn(&Value) -> String| {
        if json_out {
            pretty(v)
        } else {
            table(v)
        }
    };
    match cmd {
        DrCmd::Status => Ok(out(&client.get("/dr/status")?.body, status_table)),
        DrCmd::CheckStandby => {
            let r = client.get("/dr/check")?;
            Ok(out(&r.body, |b| {
                format!("standby healthy: {}\n", b["status"]["standby_leader"])
            }))
        }
        DrCmd::Failover { force, test_mode } => {
            let body = json!({"force": force, "test_mode": test_mode});
            let r = client.send(Method::Post, "/dr/failover", Some(&body))?;
            Ok(out(&r.body, failover_table))
        }
        DrCmd::DiscardTest => Ok(pretty(
            &client.send(Method::Post, "/dr/discard-test", None)?.body,
        )),
        DrCmd::Report => Ok(out(&client.get("/dr/report")?.body, report_table)),
        DrCmd::Failback {
            peer,
            hosts,
            switch_back,
        } => failback(client, peer, hosts, *switch_back),
    }
}

fn failback(
    client: &ApiClient,
    peer: &str,
    hosts: &[String],
    switch_back: bool,
) -> Result<String, CliError> {
    let peer_client = ApiClient::new(peer, None);
    let here = client.get("/dr/status")?.body;
    if here["standby_cluster"] == json!(true) {
        return Err(CliError::Usage(
            "--api is a standby cluster: run failback against the promoted site".into(),
        ));
    }
    let mut log = String::new();
    let r = peer_client.send(
        Method::Post,
        "/dr/standby",
        Some(&json!({"primary_hosts": hosts})),
    )?;
    log.push_str(&format!("old site is now a standby: {}\n", r.body));
    // Wait for the old site to catch up (lag 0 on a live standby leader).
    wait(Duration::from_secs(120), || {
        let s = peer_client.get("/dr/status").ok()?.body;
        (s["lag"]["records"] == json!(0) && s["primary_reachable"] == json!(true)).then_some(())
    })
    .ok_or_else(|| CliError::Usage("the old site did not catch up within 120 s".into()))?;
    log.push_str("old site caught up\n");
    if !switch_back {
        return Ok(log);
    }
    let back_hosts = here["primary_hosts"].clone();
    let r = client.send(
        Method::Post,
        "/dr/standby",
        Some(&json!({"primary_hosts": back_hosts})),
    )?;
    let final_lsn = r.body["final_lsn"].as_u64();
    log.push_str(&format!("this site drained: {}\n", r.body));
    if let Some(lsn) = final_lsn {
        wait(Duration::from_secs(60), || {
            let s = peer_client.get("/dr/status").ok()?.body;
            (s["standby_leader_lsn"].as_u64()? >= lsn).then_some(())
        })
        .ok_or_else(|| {
            CliError::Usage(format!("the old site did not reach the final LSN {lsn}"))
        })?;
    }
    // Forced: the final LSN was checked above, which is a stronger
    // guarantee than the lag tolerance (the lag figure may be stale while
    // this site drains).
    let r = peer_client.send(Method::Post, "/dr/failover", Some(&json!({"force": true})))?;
    log.push_str(&format!("old site promoted: {}\n", r.body));
    Ok(log)
}

fn wait(limit: Duration, mut ready: impl FnMut() -> Option<()>) -> Option<()> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready().is_some() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

fn status_table(b: &Value) -> String {
    let f = |v: &Value| super::wire::cell(v);
    let mut s = String::new();
    s.push_str(&format!(
        "standby cluster: {}  (dc {} region {})\n",
        f(&b["standby_cluster"]),
        f(&b["datacenter"]),
        f(&b["region"])
    ));
    s.push_str(&format!(
        "standby leader:  {} (LSN {})\n",
        f(&b["standby_leader"]),
        f(&b["standby_leader_lsn"])
    ));
    s.push_str(&format!(
        "remote primary:  {} (LSN {}, reachable {})\n",
        f(&b["remote_primary"]),
        f(&b["remote_lsn"]),
        f(&b["primary_reachable"])
    ));
    s.push_str(&format!(
        "lag:             {} records, {} bytes, {} s  [{}]\n",
        f(&b["lag"]["records"]),
        f(&b["lag"]["bytes"]),
        f(&b["lag"]["seconds"]),
        f(&b["level"])
    ));
    let q = &b["site_quorum"];
    if q["auto_failover"] == json!(true) {
        s.push_str(&format!(
            "site quorum:     site {} epoch {} holder {} (this site holds: {}, lease left {} ms)\n",
            f(&q["site"]),
            f(&q["epoch"]),
            f(&q["holder"]),
            f(&q["holds"]),
            f(&q["lease_remaining_ms"])
        ));
        s.push_str(&format!(
            "                 holder silent {} ms, promised {} ms more, candidate {}; {}\n",
            f(&q["holder_silent_ms"]),
            f(&q["promised_for_ms"]),
            f(&q["candidate"]),
            f(&q["last_decision"])
        ));
        for p in q["peers"].as_array().into_iter().flatten() {
            let view = match &p["answer"] {
                Value::Null => format!("error: {}", f(&p["error"])),
                a => format!(
                    "{} granted {} (epoch {}, holder {}): {}",
                    f(&a["voter"]),
                    f(&a["granted"]),
                    f(&a["epoch"]),
                    f(&a["holder"]),
                    f(&a["reason"])
                ),
            };
            s.push_str(&format!("  voter {}: {view}\n", f(&p["url"])));
        }
    } else {
        s.push_str("site quorum:     automatic DR failover off\n");
    }
    if let Some(events) = b["events"].as_array() {
        for e in events.iter().rev().take(5) {
            s.push_str(&format!(
                "  event: [{}] {}\n",
                f(&e["level"]),
                f(&e["message"])
            ));
        }
    }
    s
}

fn failover_table(b: &Value) -> String {
    let f = |v: &Value| super::wire::cell(v);
    let lost = match (&b["rpo"]["records"], b["rpo"]["exact"].as_bool()) {
        (Value::Null, _) => "unknown".to_string(),
        (r, Some(true)) => format!("{} records, {} s", f(r), f(&b["rpo"]["seconds"])),
        (r, _) => format!(
            "unknown (primary unreachable; last observed lag {} records, {} s)",
            f(r),
            f(&b["rpo"]["seconds"])
        ),
    };
    format!(
        "promoted {} ({}) on timeline {}{}\nRTO: {} ms\nRPO: {}\n",
        f(&b["promoted"]),
        f(&b["pgwire"]),
        f(&b["timeline"]),
        if b["test_mode"] == json!(true) {
            " [test mode fork]"
        } else {
            ""
        },
        f(&b["rto_ms"]),
        lost
    )
}

fn report_table(b: &Value) -> String {
    let f = |v: &Value| super::wire::cell(v);
    let mut s = format!(
        "targets: RTO {} s, RPO {} s\n",
        f(&b["rto_target_seconds"]),
        f(&b["rpo_target_seconds"])
    );
    if let Some(drills) = b["drills"].as_array() {
        for d in drills {
            let x = &d["drill"];
            s.push_str(&format!(
                "{} {:8} {:20} rto {} ms ({}) rpo {} records / {} s ({}) success {}\n",
                f(&x["time_ms"]),
                f(&x["kind"]),
                f(&x["promoted"]),
                f(&x["rto_ms"]),
                if d["rto_met"] == json!(true) {
                    "met"
                } else {
                    "missed"
                },
                f(&x["rpo_records"]),
                f(&x["rpo_seconds"]),
                if d["rpo_met"] == json!(true) {
                    "met"
                } else {
                    "missed"
                },
                f(&x["success"]),
            ));
        }
    }
    s
}
