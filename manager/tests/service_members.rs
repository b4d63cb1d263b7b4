//! A manager member added at run time: its API URL is recorded in Raft,
//! so every member (and any later leader) knows it, not only the leader
//! that handled `POST /members`; `DELETE /members/ID` forgets it.

mod service_common;

use std::time::Duration;

use rustydb_tests::cluster::wait_until;
use serde_json::Value;
use service_common::{call, Cluster, TOKEN};

/// The API URL manager `id` has in `/cluster` as seen on `port`.
fn api_url_of(port: u16, id: u64) -> Result<String, String> {
    let r = call(port, "GET", "/cluster", None, None)?;
    r.json["managers"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["id"] == id))
        .and_then(|m| m["api_url"].as_str().map(str::to_string))
        .ok_or(r.text)
}

#[test]
fn a_member_added_at_run_time_is_known_to_every_member() {
    let mut cluster = Cluster::start("async");
    cluster.wait_cluster(0, "n1", Duration::from_secs(60));
    let (raft, api) = cluster.add_manager(4);
    let leader = call(cluster.managers[0].api_port, "GET", "/health", None, None)
        .ok()
        .and_then(|r| r.json["leader"].as_u64())
        .unwrap_or_else(|| panic!("no leader\n{}", cluster.logs()));
    // Through a follower: forwarded to the leader.
    let follower = cluster.managers[..3]
        .iter()
        .find(|m| m.id != leader)
        .map(|m| m.api_port)
        .unwrap_or(0);
    let body = format!(r#"{{"id":4,"raft":"{raft}","api":"{api}"}}"#);
    let r = call(follower, "POST", "/members", Some(TOKEN), Some(&body))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    assert!(r.json["voters"].get("4").is_some(), "{}", r.text);
    // Every member, the new one included, shows its URL.
    for m in &cluster.managers {
        let port = m.api_port;
        wait_until(
            "the new member's URL",
            Duration::from_secs(20),
            || match api_url_of(port, 4)? {
                url if url == api => Ok(()),
                other => Err(format!("member {} shows {other:?}", m.id)),
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    }
    // Removed: gone from the voters and from the recorded URLs.
    let r =
        call(follower, "DELETE", "/members/4", Some(TOKEN), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    assert_eq!(r.json["voters"].get("4"), None, "{}", r.text);
    let port = cluster.managers[0].api_port;
    wait_until("member 4 gone", Duration::from_secs(20), || {
        let r = call(port, "GET", "/cluster", None, None)?;
        let listed = r.json["managers"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["id"] == 4));
        if listed {
            Err(r.text)
        } else {
            Ok(())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    let r = call(port, "GET", "/members", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.json["voters"].get("4"), None::<&Value>, "{}", r.text);
}
